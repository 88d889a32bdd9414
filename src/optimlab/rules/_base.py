"""The `Rule` contract: an optimizer's hyperparameters, its per-parameter state and its in-place update.

A rule knows nothing of modules, parameter groups or populations. It updates one tensor ``p`` from its
gradient ``g``. The same code serves three callers:

* the drop-in ``torch.optim`` classes (``optimlab.optim``), which pass hyperparameters as Python floats;
* the population engine, which passes tensors whose leading dimension indexes trials (``p[K, ...]``) and
  hyperparameters as tensors of shape ``[K]`` (one value per trial), or as floats shared by all trials;
* the 2-D surface pictures, which are a population of points.

Booleans that change the algorithm's shape (``nesterov``, ``centered``, ``amsgrad`` ...) are *structural*:
they are always plain Python bools, the same for every trial in one call.

Most rules are elementwise and never need to know whether ``p`` carries a trial dimension. Rules that are not
(matrix rules such as Muon, SOAP and Adafactor, per-tensor norms, the cautious mask's rescaling) read
:meth:`Rule.trial_dims`: the population puts ``hp[TRIAL_DIMS] = 1`` in every call, the drop-in classes and
everything else leave it out (0). The parameter's own shape is then ``p.shape[Rule.trial_dims(hp):]``.

**Group reductions.** A few rules need, each step, a sum over *all* the tensors they update together (Prodigy's
step-size estimate sums ⟨g, x₀ − x⟩ and ‖s‖₁ over the whole model). Such a rule names its group-level state in
:attr:`Rule.shared_state` and implements three methods instead of one, which :meth:`Rule.update_group` runs as
one step of a group: (1) :meth:`Rule.partial` on every tensor (it may advance that tensor's own state) returns
the tensor's contribution to the sums, (2) the contributions are added and :meth:`Rule.combine` updates the
shared state in place, (3) :meth:`Rule.update` runs on every tensor. In steps (1) and (3) the shared entries are
visible in ``hp`` (the caller merges them in, broadcast like per-trial hyperparameters), so ``update`` reads
them like any other scalar. The shared state holds tensors (0-d for the drop-in classes, ``[K]`` in the
population, where every sum is taken per trial: over every dimension but the trial dimension, never across
trials), so the compiled path traces the whole step. Every caller (the drop-in classes, the compiled path, the
population) calls :meth:`Rule.update_group` for such rules; rules without shared state keep the per-tensor
loop, with no added work.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

Scalar = float | Tensor
"""A hyperparameter value: a Python number, or a tensor with one value per trial."""

State = MutableMapping[str, Tensor]

TRIAL_DIMS = "trial_dims"
"""Reserved ``hp`` key: how many leading dimensions of ``p`` index trials (1 in the population, else absent)."""


@dataclass(frozen=True)
class Hyper:
    """One hyperparameter: its default and its valid range, in one place.

    ``low``/``high`` bound the value (``None`` = unbounded); ``low_open``/``high_open`` exclude the bound.
    A ``structural`` hyperparameter is a bool that selects a variant of the algorithm.
    """

    name: str
    default: float | bool | None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    structural: bool = False
    doc: str = ""
    allows_inf: bool = False
    """Whether +∞ is a valid value ("no limit", e.g. Prodigy's ``growth_rate``). ``default=None`` likewise makes
    ``None`` valid: the rule derives the value from the others (:meth:`Rule.resolve`)."""

    def range_text(self) -> str:
        if self.structural:
            return "True or False"
        if self.low is not None and self.high is not None:
            left = "(" if self.low_open else "["
            right = ")" if self.high_open else "]"
            return f"in {left}{_fmt(self.low)}, {_fmt(self.high)}{right}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {_fmt(self.low)}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {_fmt(self.high)}"
        return "any finite number"

    def is_valid(self, value: object) -> bool:
        if self.structural:
            return isinstance(value, bool)
        if isinstance(value, bool):
            return False
        if value is None:
            return self.default is None
        if isinstance(value, Tensor):
            if value.is_complex():
                return False
            infinite = value == math.inf if self.allows_inf else torch.zeros_like(value, dtype=torch.bool)
            if not (torch.isfinite(value) | infinite).all():
                return False
            lo = value.min().item() if value.numel() else 0.0
            hi = value.max().item() if value.numel() else 0.0
        elif isinstance(value, (int, float)):
            if not (math.isfinite(value) or (self.allows_inf and value == math.inf)):
                return False
            lo = hi = float(value)
        else:
            return False
        if self.low is not None and (lo < self.low or (self.low_open and lo == self.low)):
            return False
        if self.high is not None and (hi > self.high or (self.high_open and hi == self.high)):
            return False
        return True


def _fmt(x: float) -> str:
    return f"{x:g}"


class Rule:
    """Base of every update rule. Subclasses set ``name``, ``hypers`` and implement ``init_state``/``update``.

    ``update(p, g, state, hp, step)`` changes ``p`` and ``state`` in place. ``g`` is the gradient of the loss
    to *minimize* (the caller flips its sign for maximization), ``step`` is the 1-based step count after this
    update, and ``hp`` maps every hyperparameter name to its value (see :meth:`broadcast` for trial tensors).
    """

    name: ClassVar[str]
    hypers: ClassVar[tuple[Hyper, ...]]
    supports_sparse: ClassVar[bool] = False
    counts_steps: ClassVar[bool] = True
    """Whether the rule needs the step count (torch.optim keeps a ``step`` entry in its state)."""
    shared_state: ClassVar[tuple[str, ...]] = ()
    """Names of the group-level state of a rule that reduces over its group's tensors (module docstring); empty
    for every rule that updates one tensor at a time."""

    @staticmethod
    def trial_dims(hp: Mapping[str, object]) -> int:
        """How many leading dimensions of ``p`` index trials in this call (0 outside the population)."""
        value = hp.get(TRIAL_DIMS, 0)
        assert isinstance(value, int)
        return value

    def defaults(self) -> dict[str, float | bool | None]:
        return {h.name: h.default for h in self.hypers}

    def hyper(self, name: str) -> Hyper:
        for h in self.hypers:
            if h.name == name:
                return h
        raise KeyError(f"{self.name} has no hyperparameter {name!r}")

    def validate(self, hp: Mapping[str, object], owner: str, names: Mapping[str, str] | None = None) -> None:
        """Raise ``ValueError`` naming the argument, its value and the valid range.

        ``names`` maps a hyperparameter to the argument the user typed (``beta1`` -> ``betas[0]``).
        """
        for h in self.hypers:
            if h.name in hp and not h.is_valid(hp[h.name]):
                shown = (names or {}).get(h.name, h.name)
                raise ValueError(f"Invalid {shown}={_show(hp[h.name])} for {owner}: must be {h.range_text()}.")
        self.check_combination(hp, owner)

    def check_combination(self, hp: Mapping[str, object], owner: str) -> None:
        """Constraints between hyperparameters; override where the algorithm has them."""

    def init_state(self, p: Tensor, hp: Mapping[str, Scalar]) -> dict[str, Tensor]:
        raise NotImplementedError

    def update(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Scalar], step: int) -> None:
        raise NotImplementedError

    def resolve(self, hp: Mapping[str, Any]) -> dict[str, Any]:
        """``hp`` with every hyperparameter given as ``None`` replaced by the value the rule derives for it."""
        return dict(hp)

    # -- group reductions (module docstring); only rules with ``shared_state`` implement these three ----------

    def init_shared(self, hp: Mapping[str, Scalar], like: Tensor) -> dict[str, Tensor]:
        """The group-level state before the first step, each entry shaped and typed like ``like`` (``[]`` for
        the drop-in classes, ``[K]`` in the population)."""
        raise NotImplementedError

    def partial(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Scalar], step: int) -> Tensor:
        """This tensor's contributions to the group's sums, shape ``p.shape[:trial_dims] + (n,)``."""
        raise NotImplementedError

    def combine(self, shared: State, total: Tensor, hp: Mapping[str, Scalar], step: int) -> None:
        """Update ``shared`` in place from ``total``, the sum of every tensor's :meth:`partial`."""
        raise NotImplementedError

    def update_group(
        self,
        params: Sequence[Tensor],
        grads: Sequence[Tensor],
        states: Sequence[State],
        hps: Sequence[Mapping[str, Scalar]],
        steps: Sequence[Any],
        shared: State,
        hp: Mapping[str, Scalar],
    ) -> None:
        """One step of a group of tensors: tensor i with its hyperparameters ``hps[i]`` (the shared entries merged
        in and broadcast) and step ``steps[i]``; ``hp`` (not broadcast) is what :meth:`combine` reads."""
        if not self.shared_state:
            for p, g, state, hp_i, t in zip(params, grads, states, hps, steps, strict=True):
                self.update(p, g, state, hp_i, t)
            return
        parts = [self.partial(*each) for each in zip(params, grads, states, hps, steps, strict=True)]
        if parts:
            self.combine(shared, torch.stack(parts).sum(0), hp, steps[0])
        for p, g, state, hp_i, t in zip(params, grads, states, hps, steps, strict=True):
            self.update(p, g, state, hp_i, t)

    @staticmethod
    def broadcast(hp: Mapping[str, Scalar], p: Tensor) -> dict[str, Scalar]:
        """Reshape per-trial hyperparameters ``[K]`` to ``[K, 1, ...]`` so they broadcast over ``p[K, ...]``."""
        out: dict[str, Scalar] = {}
        for key, value in hp.items():
            if isinstance(value, Tensor) and value.dim() == 1 and p.dim() > 1:
                value = value.view(-1, *([1] * (p.dim() - 1)))
            out[key] = value
        return out


def _show(value: object) -> str:
    if isinstance(value, Tensor):
        return f"tensor(min={value.min().item():g}, max={value.max().item():g})" if value.numel() else "tensor([])"
    return repr(value)
