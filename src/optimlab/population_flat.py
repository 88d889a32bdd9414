"""The population's compiled update on flat buffers: one compile serves every model shape and every K.

For the groups whose rule :func:`optimlab.flat.supports`, the population's stacked parameters become views of
one ``[K, N]`` buffer (N: the elements of one trial's model; each tensor keeps its own per-trial memory layout),
a group's per-element state lives in ``[k, N]`` buffers (``group.states[j][key]`` are views of them) and its
per-trial scalar state (NAdam's running product, Schedule-Free's weights) in one ``[k, 1]`` tensor that every
tensor's entry is a view of. A step copies the gradients into a ``[K, N]`` buffer in one call, and the rule's own
``update`` runs once per group on ``[k, N]`` with its per-trial hyperparameters ``[k, 1]``
(:func:`optimlab.fused.group_update`), both sizes symbolic: one compile per rule, dtype, flags and state keys.

A group whose trials are contiguous rows works on views; other groups gather their rows with one
``index_select`` and write them back with one ``index_copy_``. The caller's parameter tensors stay the same
objects (their ``.data`` becomes the view), so code that keeps them (``training``) sees every update.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from . import flat as _flat
from . import fused as _fused
from .hoist import SMALL_ELEMENTS
from .rules import Rule, Scalar

ENABLED = True
"""``False``: every compiled population group takes the per-tensor compiled update (benchmarks compare the two)."""

MAX_TRIALS = SMALL_ELEMENTS
"""A group of more trials keeps the per-tensor compiled update: the trial count is marked dynamic up to this bound,
so that the compiler pass computes per-trial scalars once (:mod:`optimlab.hoist` treats them as small)."""


def _mark(t: Tensor, trial_dim: bool = True) -> Tensor:
    """Mark a buffer's trial and element dimensions dynamic (a size of 1 stays specialised, as Dynamo wants)."""
    if trial_dim and t.shape[0] > 1:
        torch._dynamo.mark_dynamic(t, 0, min=2, max=MAX_TRIALS)
    if t.dim() > 1 and t.shape[1] > 1:
        torch._dynamo.mark_dynamic(t, 1)
    return t


def _trial_major(p: Tensor) -> bool:
    """Whether ``p[K, ...]`` is one dense block per trial, trials one after another (any layout inside a block)."""
    if p.dim() < 1 or p[0].numel() == 0 or (p.shape[0] > 1 and p.stride(0) != p[0].numel()):
        return False
    expected = 1
    for stride, size in sorted((st, s) for s, st in zip(p.shape[1:], p.stride()[1:], strict=True) if s > 1):
        if stride != expected:
            return False
        expected *= size
    return True


def eligible(params: Sequence[Tensor]) -> bool:
    """Whether the population's parameters can be views of one ``[K, N]`` buffer (one dtype, CPU, real, dense)."""
    if not params:
        return False
    dtype = params[0].dtype
    if not dtype.is_floating_point or sum(p[0].numel() for p in params) < _flat.MIN_ELEMENTS:
        return False
    return all(p.dtype == dtype and p.device.type == "cpu" and not p.is_sparse and _trial_major(p) for p in params)


def _view(buffer: Tensor, like: Tensor, offset: int, rows: int) -> Tensor:
    """The view of ``buffer[rows, N]`` at column ``offset`` shaped ``[rows, *like.shape[1:]]`` in ``like``'s
    per-trial layout."""
    n = buffer.shape[1]
    return buffer.as_strided((rows, *like.shape[1:]), (n, *like.stride()[1:]), buffer.storage_offset() + offset)


class FlatGroupRows:
    """One group of trials on the flat buffers: its rows of the parameters and gradients, its state buffers."""

    def __init__(self, owner: FlatPopulation, rule: Rule, rows: Tensor, span: slice | None,
                 states: list[dict[str, Tensor]]) -> None:
        self.rule, self.rows, self.span = rule, rows, span
        k = len(rows)
        dtype = owner.flat.dtype
        n = owner.flat.shape[1]
        if span is not None:
            self.params = _mark(owner.flat[span])
            self.grads = _mark(owner.grad[span])
        else:  # gathered into the same buffers every step (index_select out=), so the compiled call is direct
            self.params = _mark(torch.empty(k, n, dtype=dtype))
            self.grads = _mark(torch.empty(k, n, dtype=dtype))
        self.dense_keys, self.scalar_keys = _state_keys(owner.params, states, k)
        self.walk_state: dict[str, Tensor] = {}
        for key in self.dense_keys:
            buffer = self.walk_state[key] = _mark(torch.empty(k, n, dtype=states[0][key].dtype))
            for j, (p, offset) in enumerate(zip(owner.params, owner.offsets, strict=True)):
                view = _view(buffer, p, offset, k)
                view.copy_(states[j][key])
                states[j][key] = view
        for key in self.scalar_keys:
            first = states[0][key]
            held = self.walk_state[key] = _mark(first.detach().reshape(k, 1).clone(), trial_dim=True)
            for state in states:
                state[key] = held.view(state[key].shape)
        self.states = states
        self.state_ids = self._state_ids()
        self.hp: dict[str, Scalar] = {}
        self.sources: dict[str, Tensor] = {}  # the population's value each tensor of ``hp`` was copied from
        self.direct: _fused.DirectCall | None = None

    def _state_ids(self) -> tuple[int, ...]:
        return tuple(id(state.get(key)) for state in self.states for key in (*self.dense_keys, *self.scalar_keys))

    def holds(self, states: Sequence[Mapping[str, Tensor]]) -> bool:
        """Whether the group's state entries are still the views made here (nothing replaced them)."""
        return states is self.states and self._state_ids() == self.state_ids

    def _hyper(self, values: Mapping[str, Scalar]) -> dict[str, Scalar]:
        """The group's hyperparameters for the walk: per-trial values copied into tensors kept across steps (an lr
        schedule writes new values into them, so the compiled call stays direct), the others as they are."""
        for name, value in values.items():
            if not isinstance(value, Tensor):
                self.hp[name] = value
                continue
            if self.sources.get(name) is value:
                continue  # the population replaces a changed value (lr schedules) and never writes into one
            held = self.hp.get(name)
            if not isinstance(held, Tensor) or held.shape != value.shape or held.dtype != value.dtype:
                held = self.hp[name] = _mark(value.clone())
            else:
                held.copy_(value)
            self.sources[name] = value
        return self.hp

    def step(self, owner: FlatPopulation, values: Mapping[str, Scalar], step: int) -> None:
        if self.span is None:
            torch.index_select(owner.flat, 0, self.rows, out=self.params)
            torch.index_select(owner.grad, 0, self.rows, out=self.grads)
        known = len(self.walk_state)
        args = (
            self.rule, [self.params], [self.grads], [self.walk_state], self._hyper(values), False,
            torch.tensor(float(step), dtype=torch.float64),
        )
        self.direct = _fused.run_compiled(self.rule.name, args, self.direct, flat=True)
        if len(self.walk_state) != known:  # the rule created state: hand out views, rebuild next step
            for key in [k for k in self.walk_state if k not in (*self.dense_keys, *self.scalar_keys)]:
                made = self.walk_state.pop(key)
                for j, (p, offset) in enumerate(zip(owner.params, owner.offsets, strict=True)):
                    self.states[j][key] = (_view(made, p, offset, len(self.rows)) if made.shape == self.params.shape
                                           else made.clone().view(-1, *[1] * (p.dim() - 1)))
            self.state_ids = ()
        if self.span is None:
            owner.flat.index_copy_(0, self.rows, self.params)


def _state_keys(
    params: Sequence[Tensor], states: Sequence[Mapping[str, Any]], k: int
) -> tuple[list[str], list[str]]:
    """The group's per-element state keys and its per-trial scalar keys (one value per trial, the same in every
    tensor's entry); ``ValueError`` for state the flat walk cannot hold."""
    keys = sorted(states[0])
    if any(sorted(state) != keys for state in states):
        raise ValueError("the tensors' state keys differ")
    dense, scalar = [], []
    for key in keys:
        values: list[Tensor] = [state[key] for state in states]
        if any(not isinstance(v, Tensor) or v.is_sparse for v in values):
            raise ValueError(key)
        if all(v.shape == (k, *p.shape[1:]) for v, p in zip(values, params, strict=True)):
            dense.append(key)
        elif all(v.dim() > 0 and v.shape[0] == k and v.numel() == k for v in values) and all(
            torch.equal(v.reshape(-1), values[0].reshape(-1)) for v in values
        ):
            scalar.append(key)
        else:
            raise ValueError(key)
    return dense, scalar


class FlatPopulation:
    """The population's parameters and gradients as views of ``[K, N]`` buffers, and its flat groups."""

    def __init__(self, params: Sequence[Tensor]) -> None:
        self.params = list(params)
        sizes = [p[0].numel() for p in self.params]
        self.offsets = [0, *itertools.accumulate(sizes)][:-1]
        k, n = self.params[0].shape[0], sum(sizes)
        self.flat = torch.empty(k, n, dtype=self.params[0].dtype)
        self.grad = torch.empty(k, n, dtype=self.params[0].dtype)
        self.views = [_view(self.flat, p, o, k) for p, o in zip(self.params, self.offsets, strict=True)]
        self.grad_views = [_view(self.grad, p, o, k) for p, o in zip(self.params, self.offsets, strict=True)]
        for p, view in zip(self.params, self.views, strict=True):
            view.copy_(p)
            p.data = view
        self.pointers = self._pointers()
        self.groups: dict[int, FlatGroupRows] = {}

    def _pointers(self) -> tuple[Any, ...]:
        return tuple((p.data_ptr(), p.stride()) for p in self.params)

    def holds(self, params: Sequence[Tensor]) -> bool:
        """Whether ``params`` are still the views of the buffers (nothing swapped their ``.data``)."""
        return len(params) == len(self.params) and all(
            a is b for a, b in zip(params, self.params, strict=True)
        ) and self._pointers() == self.pointers

    def gather_gradients(self, grads: Sequence[Tensor]) -> list[Tensor]:
        """Copy the step's gradients into the flat gradient buffer (one call); returns its views."""
        torch._foreach_copy_(self.grad_views, list(grads))
        return self.grad_views

    def group(self, key: int, rule: Rule, rows: Tensor, span: slice | None,
              states: list[dict[str, Tensor]]) -> FlatGroupRows | None:
        """The group's flat rows (made on first use from its current state), or ``None`` when its state cannot be
        held in flat buffers (that group keeps the per-tensor compiled update)."""
        found = self.groups.get(key)
        if found is not None and found.holds(states):
            return found
        try:
            made = FlatGroupRows(self, rule, rows, span, states)
        except ValueError:
            return None
        self.groups[key] = made
        return made


def supports(rule: Rule, values: Mapping[str, Scalar], rows: int) -> bool:
    """Whether a group of ``rows`` trials can take the flat update (the rule's flat walk is exact for it)."""
    return ENABLED and _flat.supports(rule, values) and rows <= MAX_TRIALS


__all__ = ["MAX_TRIALS", "FlatGroupRows", "FlatPopulation", "eligible", "supports"]
