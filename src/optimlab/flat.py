"""The flat fast path: one compiled loop serves a whole parameter group, whatever its number and shapes of tensors.

For a rule whose update is elementwise (:attr:`optimlab.rules.Rule.elementwise`), the rule's own ``update`` is
compiled once, through :func:`optimlab.fused.group_update`, for one-dimensional buffers of symbolic length: one
compile per rule, dtype, flags and state keys serves every tensor and every group (1 to any number of tensors).
The loop takes :data:`BATCH` such buffers at a time, each of its own length (a group of many, once a second
compile in a background thread is done, :data:`WIDE_BATCH`), and a group's step runs it over

* the group's *small* tensors (fewer than :data:`SEPARATE_ELEMENTS` elements), whose parameters,
  gradients and per-element state live in one flat buffer each, the user's tensors being views of them
  (``p.data``, ``p.grad``, ``state[key]``), as large-scale trainers keep contiguous gradient buffers; a gradient
  that arrives as a new tensor (``zero_grad()`` sets gradients to ``None`` and backward makes new ones) is
  copied into the flat gradient buffer, and the parameter's ``.grad`` becomes the view (with
  ``zero_grad(set_to_none=False)`` backward accumulates into the views and nothing is copied);
* each *large* tensor, in its own memory, on its gradient where backward left it: no copy, so a model's
  bulk (ResNet-50: all but 0.3M of 25.6M elements; GPT-2 small: all but 0.1M of 124M) streams through memory once,
  as in PyTorch's fused kernels.

Which layout a group gets depends on where its gradients come from (:class:`FlatPlan`): split as above while the
large tensors' gradients are new tensors each step (``zero_grad()``), and every tensor in the flat buffers (one
loop, no per-tensor calls) once they are the same tensors step after step (``zero_grad(set_to_none=False)``, which
accumulates into the views), up to :data:`MERGE_MAX_BYTES`.

Once every call of a step has been made directly (:class:`optimlab.fused.DirectCall`), the calls run from one C loop
(:mod:`optimlab.call_loop`): a step then costs one call from Python, whatever its number of tensors, instead of
about 20 us of Python per call.

Per-tensor scalar state (step counts, NAdam's running product, ASGD's η and μ) stays one 0-d tensor per parameter,
as torch.optim keeps it, held as views of one vector per key; each loop updates one tensor's value and the step
copies it to the others. While those values differ between tensors (a parameter added mid-run) the group takes the
reference path.

What is checked every step, and what happens otherwise:

* the group's parameters are the same objects, ``p.data`` and every per-element state tensor still the views or
  tensors the buffers were built from (a ``.data`` swap, a loaded ``state_dict``, an edited ``param_groups``
  entry): the buffers are rebuilt from the tensors as they are now (one copy) and the step continues on the flat
  path;
* every parameter has a gradient: otherwise the step runs the reference path, which updates the views in place
  (so both paths stay interchangeable at every step).

Numerics: the same operations in the same order as the reference path, compiled (Inductor contracts some of them
into fused multiply-adds), so float64 agrees to about 1e-15 relative and float32 as PyTorch's fused kernels agree
with its foreach ones, not bit for bit; bit-identity with ``torch.optim`` holds on the reference path
(``fused=False``).
"""

from __future__ import annotations

import itertools
import operator
import threading
import time
import weakref
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

import torch
from torch import Tensor

from . import call_loop as _call_loop
from . import fused as _fused
from . import loop_store as _loop_store
from .rules import Rule, Scalar
from .rules.nadam import scalar_dtype

MIN_ELEMENTS = 2
"""A group of fewer elements takes the reference path (a symbolic length is specialised at 0 and 1)."""


def supports(rule: Rule, hp: Mapping[str, Scalar]) -> bool:
    """Whether the flat path computes ``rule`` exactly as its per-tensor reference loop does for ``hp``."""
    return rule.elementwise and not rule.shared_state and not hp.get("cautious", False)


SEPARATE_ELEMENTS = 16_384
"""A tensor of at least this many elements keeps its own memory: the compiled flat loop runs on it where it is, on
its gradient where backward left it. Smaller tensors share the group's flat buffers, and their gradients are
copied in.

Why (measured, ``benchmarks/RESULTS.md``, section "flat, third round"): copying a gradient that arrives as a new
tensor costs about 0.3 ns per element (on ResNet-50's 25.6M parameters it made Adam's flat step 1.5x its memory
floor), while a call of the compiled loop costs 20-30 us with its code and data in cache and 80-130 us right after
a step has streamed memory, for :data:`BATCH` tensors. With four tensors to a call, Adam on 200 tensors of 50K
elements took 17.9 ms a step with them alone against 20.2 ms with them copied (torch fused: 13.1 ms); on
ResNet-50's shapes the limit made no measurable difference between 4K and 64K."""


BATCH = 4
"""How many tensors (a flat buffer or a tensor alone) one call of the compiled loop updates. The loop is compiled
for this many one-dimensional tensors, each with a symbolic length of its own, so one compile serves every call of
every group; a group's last call is filled up with stand-ins of two elements.

Why (measured, ``benchmarks/RESULTS.md``, section "flat, third round"): a direct call costs about 20 us for one
tensor and 26 us for four (Adam, code and data in cache), while the cold compile takes about as long for four as
for one (5-7 s) and grows beyond that (eight: 8.5-8.9 s for Adam, 11 s for NAdam, over the 10 s a first compile
may take; sixteen: 13.7 s for Adam). With new gradients every step, four to a call took Adam on ResNet-50's shapes
from 1.14x to 1.06x torch's fused step and on GPT-2's from 1.06x to 1.03x."""

WIDE_BATCH = 8
"""A group of at least :data:`WIDE_MIN_WALKS` walks (mostly tensors alone: a model's large tensors while their
gradients are new tensors every step) whose calls cannot run from one C loop (:mod:`optimlab.call_loop`; with it,
the number of calls costs next to nothing: 1, 4 and 8 a call measured alike) goes this many walks to a call once a
loop that wide is compiled: a second compile, in a background thread, after the group has taken the flat path with
:data:`BATCH`; no step waits for it.

Why (measured, ``benchmarks/flat_layout.py --shapes 200x50K --optimizer Adam``, ``benchmarks/RESULTS.md``, "flat,
fifth round"): with new gradients every step, 200 tensors alone took 8.99 ms a step at four a call and 8.16 ms at
eight (torch fused 7.68 ms); a cold compile of eight takes about 10 s, too long for the first one."""

WIDE_MIN_WALKS = 2 * WIDE_BATCH
"""Fewest walks for which a group gets the :data:`WIDE_BATCH` loop (fewer: the calls saved are not worth a compile)."""


class FlatGroup:
    """The flat buffers of one parameter group, the views the optimizer's tensors are, and the tensors that keep
    their own memory (module docstring, :data:`SEPARATE_ELEMENTS`; ``together``: none do)."""

    marked: bool
    """Whether the lengths are marked dynamic for Dynamo (:meth:`_mark_dynamic`)."""

    def __init__(
        self, rule: Rule, params: Sequence[Tensor], states: MutableMapping[Tensor, Any], together: bool = False,
        batch: int | None = None,
    ) -> None:
        batch = BATCH if batch is None else batch  # read at the call: benchmarks and tests set BATCH
        self.params = list(params)
        self.current = True
        """``False`` once state the rule created mid-run was handed out: the buffers are rebuilt next step."""
        state_list = [states[p] if p in states else {} for p in self.params]
        first = self.params[0]
        self.stateless = not state_list[0]  # plain SGD keeps no state (the reference loop drops empty entries)
        self.dense_keys = sorted(k for k, v in state_list[0].items() if k != "step" and v.shape == first.shape)
        self.scalar_keys = sorted(k for k, v in state_list[0].items() if k not in self.dense_keys)
        self.together = together
        separate = [not together and p.numel() >= SEPARATE_ELEMENTS for p in self.params]
        if sum(p.numel() for p, alone in zip(self.params, separate, strict=True) if not alone) < MIN_ELEMENTS:
            separate = [True] * len(self.params)  # too few shared elements for a flat buffer (see MIN_ELEMENTS)
        self.shared = [i for i, alone in enumerate(separate) if not alone]
        self.alone = [i for i, alone in enumerate(separate) if alone]
        # What the layout choice (FlatPlan) reads: how many steps in a row the tensors alone came with the gradient
        # objects of the step before (the first and the last tensor's, as weak references: holding them would keep
        # them alive; checking all costs ~0.1 ms a step on 200 tensors, and a group merged on a wrong guess splits
        # again for good on its first new large gradient), how many bytes merging them would copy, and whether a
        # large tensor in the buffers got a new gradient.
        self.kept_steps = 0
        self.last_grads: list[weakref.ref[Tensor]] = []
        self.alone_bytes = sum(
            self.params[i].numel() * self.params[i].element_size() * (2 + len(self.dense_keys)) for i in self.alone
        )
        self.fresh_large = False
        sizes = [self.params[i].numel() for i in self.shared]
        offsets = [0, *itertools.accumulate(sizes)]
        total = offsets[-1]
        self.flat = torch.empty(total, dtype=first.dtype)
        self.grad = torch.empty(total, dtype=first.dtype)
        self.slices = list(itertools.pairwise(offsets))
        self.grad_views: list[Tensor] = []
        self.dense = {k: torch.empty(total, dtype=state_list[0][k].dtype) for k in self.dense_keys}
        for i, (a, b) in zip(self.shared, self.slices, strict=True):
            p, state = self.params[i], state_list[i]
            view = self.flat[a:b].view(p.shape)
            view.copy_(p.detach())
            p.data = view
            g = self.grad[a:b].view(p.shape)
            self.grad_views.append(g)
            if p.grad is not None:
                g.copy_(p.grad)
                p.grad = g
            for key in self.dense_keys:
                dense = self.dense[key][a:b].view(p.shape)
                dense.copy_(state[key])
                state[key] = dense
        self.scalars = {k: torch.stack([s[k] for s in state_list]) for k in self.scalar_keys}
        self.scalar_versions: tuple[int, ...] | None = None
        """The scalar vectors' version counters after the last flat step (:meth:`step` checks them equal otherwise)."""
        for key, vector in self.scalars.items():
            for i, state in enumerate(state_list):
                state[key] = vector[i]
        self.state_dicts = state_list
        """Every tensor's state dict as built (held, so that an identity check is a valid check)."""
        self._note_positions(states)
        self.pointers = tuple(p.data_ptr() for p in self.params)
        # The state tensors as built, held here so that an identity check is a valid check (no id is reused while
        # the object lives): a state_dict load or an assignment to state[key] puts other objects there.
        self.state_tensors = [state[k] for state in state_list for k in (*self.dense_keys, *self.scalar_keys)]
        self.hyper_cache: dict[str, tuple[float, Tensor]] = {}
        # What each walk updates: the shared buffers with the first shared tensor's scalar state, and each tensor
        # alone with its own (torch.optim keeps scalar state per tensor); the step copies it to the others.
        self.walks: list[tuple[Tensor, int, dict[str, Tensor]]] = []
        if self.shared:
            walk = {k: self.dense[k] for k in self.dense_keys}
            self.walks.append((self.flat, -1, {**walk, **self._scalar_views(self.shared[0])}))
        for i in self.alone:
            p = self.params[i]
            walk = {k: state_list[i][k].view(-1) for k in self.dense_keys}
            self.walks.append((p.detach().view(-1), i, {**walk, **self._scalar_views(i)}))
        self.shared_params = tuple(self.params[i] for i in self.shared)
        self.rebatch(batch)

    def _mark_dynamic(self) -> None:
        """Mark every buffer's and walk's length dynamic for Dynamo, before the first call that goes through it (not
        at the build: a step served by a kept loop, :mod:`optimlab.loop_store`, never imports Dynamo, 1 s)."""
        if self.marked:
            return
        self.marked = True
        for t in (self.flat, self.grad, *self.dense.values()):
            torch._dynamo.mark_dynamic(t, 0)
        for x, *_, walk in (*self.walks, *self.padding):
            for t in (x, *(v for v in walk.values() if v.dim())):
                torch._dynamo.mark_dynamic(t, 0)
        for g in self.padding_grads:
            torch._dynamo.mark_dynamic(g, 0)

    def rebatch(self, batch: int) -> None:
        """Go ``batch`` walks to a call from now on. The last call is filled up with stand-ins (two elements each,
        updated and never read), so that every call has the same number of tensors and one compile serves them."""
        self.batch = batch
        x0, _, walk0 = self.walks[0]
        self.padding = [
            (x0[:MIN_ELEMENTS].clone(), torch.zeros(MIN_ELEMENTS, dtype=x0.dtype),
             {k: v[:MIN_ELEMENTS].clone() if v.dim() else v.clone() for k, v in walk0.items()})
            for _ in range(-len(self.walks) % batch)
        ]
        self.marked = False
        self.xs = [x for x, _, _ in self.walks] + [x for x, _, _ in self.padding]
        self.padding_grads: list[Tensor] = [g for _, g, _ in self.padding]
        self.walk_states = [walk for _, _, walk in self.walks] + [walk for _, _, walk in self.padding]
        self.directs: list[_fused.DirectCall | None] = [None] * (len(self.xs) // batch)
        self.loop: _call_loop.CallLoop | None = None
        """All calls of a step in one C loop, once every call has a direct call (:mod:`optimlab.call_loop`)."""
        self.loop_failed = False
        """Whether the current direct calls could not be looped (tried again when one of them changes)."""
        self.kept_tried = False
        """Whether a kept loop (:mod:`optimlab.loop_store`) was looked for, once per batch width."""

    def _scalar_views(self, i: int) -> dict[str, Tensor]:
        return {k: self.scalars[k][i] for k in self.scalar_keys if k != "step"}

    def holds(self, params: Sequence[Tensor], states: Mapping[Tensor, Any]) -> bool:
        """Whether ``params`` and their state are still the views of these buffers (or, for the tensors alone,
        the tensors they were)."""
        # Run every step over every tensor, so written with map() and flat lists rather than per-tensor generators.
        if len(params) != len(self.params) or not self.current or not all(map(operator.is_, params, self.params)):
            return False  # (identity, not a tuple of ids: 200 new ints cost 40 us right after a step streamed memory)
        if tuple(map(Tensor.data_ptr, params)) != self.pointers:  # a .data swap
            return False
        if self.stateless:  # an empty optimizer state (one lookup) spares a lookup of every tensor
            return not states or not any(map(states.get, params))
        state_list = self._same_dicts(params, states)
        if state_list is None:
            return False
        keys = (*self.dense_keys, *self.scalar_keys)
        if set(map(len, state_list)) != {len(keys)}:
            return False
        try:  # itemgetter of one key gives the value, of several a tuple
            got = map(operator.itemgetter(*keys), state_list)
            now = list(itertools.chain.from_iterable(got) if len(keys) > 1 else got)
        except KeyError:
            return False
        return all(map(operator.is_, now, self.state_tensors))

    def _note_positions(self, states: Mapping[Tensor, Any]) -> None:
        """Note where the group's state dicts stand among ``states.values()`` (see :meth:`_same_dicts`)."""
        where = {id(v): i for i, v in enumerate(states.values())}
        self.states_len = len(states)
        positions = [where.get(id(s), -1) for s in self.state_dicts]
        self.state_positions = None if -1 in positions else positions
        """Where each state dict stands among ``states.values()``, or ``None`` if one is not there."""

    def _same_dicts(self, params: Sequence[Tensor], states: Mapping[Tensor, Any]) -> list[Any] | None:
        """The state dicts of ``params`` if they are the very dicts the buffers were built from, else ``None``.

        Looking each parameter up hashes it through ``Tensor.__hash__``, a Python function (about 60 us for 200
        tensors, right after a step has streamed memory); reading ``states.values()`` at the positions noted hashes
        nothing. A dict's position moves only when an entry before it is removed, and its key only when it is removed
        and put back, so the same dicts at the same positions of a mapping of the same length are the same entries.
        Otherwise (another group's state created, an entry replaced) each is looked up, and the positions noted
        again if they all agree."""
        if self.state_positions is not None and len(states) == self.states_len:
            values = list(states.values())
            now = [values[i] for i in self.state_positions]
            if all(map(operator.is_, now, self.state_dicts)):
                return now
        now = list(map(states.get, params))
        if not all(map(operator.is_, now, self.state_dicts)):
            return None
        self._note_positions(states)
        return now

    def gather_gradients(self, grads: Sequence[Tensor]) -> None:
        """Make the shared tensors' ``p.grad`` the views of the flat gradient buffer, copying those that are not
        (``grads``: every parameter's ``p.grad``, as read this step)."""
        stale = [(i, view) for i, view in zip(self.shared, self.grad_views, strict=True) if grads[i] is not view]
        if not stale:
            return
        if self.together and any(self.params[i].numel() >= SEPARATE_ELEMENTS for i, _ in stale):
            self.fresh_large = True
        torch._foreach_copy_([view for _, view in stale], [grads[i] for i, _ in stale])
        for i, view in stale:
            self.params[i].grad = view

    def step(
        self, rule: Rule, group: Mapping[str, Any], hp: Mapping[str, Scalar], states: Any,
        grads: Sequence[Tensor | None] | None = None,
    ) -> bool:
        """One flat step of the group; ``False`` (nothing done) when the scalar state differs between tensors.
        ``grads``: every parameter's ``p.grad`` (none is ``None``) if the caller has read them this step."""
        step: Tensor | None = None
        # Equal across tensors after every flat step; changed in place only by something else (the reference path
        # stepping some of the tensors, a write by the user), which advances their version counter.
        if self.scalar_versions != tuple(v._version for v in self.scalars.values()):
            if any(not bool((vector == vector[0]).all()) for vector in self.scalars.values()):
                return False
        # None of them is None (FlatPlan.step checked).
        got: Sequence[Any] = read_gradients(self.params) if grads is None else grads
        given = [got[i] for i in self.alone]
        if given:  # the first and the last stand for all (see last_grads)
            ends = (given[0], given[-1])
            same = len(self.last_grads) == 2 and all(map(operator.is_, [r() for r in self.last_grads], ends))
            self.kept_steps = self.kept_steps + 1 if same else 0
            self.last_grads = list(map(weakref.ref, ends))
        self.gather_gradients(got)
        if rule.counts_steps:
            counts = self.scalars["step"]
            counts += 1
            step = counts[0].to(torch.float64)
        hyper = _fused.hyper_tensors(hp, self.hyper_cache, rule.structural_names())
        maximize = bool(group.get("maximize", False))
        walks = self.walk_states
        # The same for every call: each has self.batch tensors with the same state keys.
        batch = self.batch
        grads = [self.grad, *given] if self.shared else given
        grads += self.padding_grads
        context = _fused.call_context((rule, self.xs[:batch], grads[:batch], walks[:batch], hyper, maximize, step))
        if CALL_LOOP and self.loop is None and not self.kept_tried:  # from a process before: nothing to compile
            self.kept_tried = True
            flats = self._flat_grads(got)
            frames = [dict(zip(_fused._ARGUMENTS, (rule, self.xs[a:a + batch], flats[a:a + batch],
                                                   walks[a:a + batch], hyper, maximize, step), strict=True))
                      for a in range(0, len(flats), batch)]
            self.loop = _loop_store.load(frames, grads, self.shared_params)
        if self.loop is not None and CALL_LOOP:
            if self.loop.run(context, hyper, grads, step):
                return self._scalars_out()  # the loop advanced the version counters, the shared tensors' too
        self._mark_dynamic()
        flats = self._flat_grads(got)
        known = list(map(len, walks))
        for n, direct in enumerate(self.directs):
            part = slice(n * batch, (n + 1) * batch)
            if direct is not None and direct.run_held(context, flats[part], hyper, step):
                continue  # holds() checked the parameters and state: the call's other inputs are its own
            args = (rule, self.xs[part], flats[part], walks[part], hyper, maximize, step)
            self.directs[n] = _fused.run_compiled(
                rule.name, args, direct, flat=True, dynamic=flats[part], own_lengths=True, context=context,
            )
            if self.directs[n] is not direct:
                self.loop, self.loop_failed = None, False
        if CALL_LOOP and self.loop is None and not self.loop_failed:
            frame = dict(zip(_fused._ARGUMENTS, (rule, self.xs[:batch], flats[:batch], walks[:batch], hyper,
                                                 maximize, step), strict=True))
            self.loop = _call_loop.for_calls(self.directs, frame, grads, self.shared_params)
            self.loop_failed = self.loop is None
        if self.shared_params:  # their .data is a view of the buffer, but each keeps a version counter of its own
            _fused.bump_versions(self.shared_params)
        created = False
        for (_, i, walk), before in zip(self.walks, known, strict=False):
            if len(walk) != before:  # the rule created state (a term switched on mid-run): hand it out
                self._hand_out(walk, i, states)
                created = True
        if created:
            self.current = False  # rebuild the buffers next step
        return self._scalars_out()

    def _flat_grads(self, got: Sequence[Tensor]) -> list[Tensor]:
        """Each walk's gradient, one-dimensional (``got``: every parameter's ``p.grad``), and the padding's."""
        # flatten(): a view where it can be (as reshape, which costs 60% more a call), the tensor itself if 1-D.
        return [self.grad if i < 0 else got[i].flatten() for _, i, _ in self.walks] + self.padding_grads

    def _scalars_out(self) -> bool:
        """Copy the scalar state the step updated (the first walk's) to every tensor's; ``True``."""
        first = self.walks[0][1]
        for key in self.scalar_keys:
            if key != "step":
                vector = self.scalars[key]
                vector.copy_(vector[self.shared[0] if first < 0 else first].expand_as(vector))
        self.scalar_versions = tuple(v._version for v in self.scalars.values())
        return True

    def _hand_out(self, walk: MutableMapping[str, Tensor], i: int, states: Any) -> None:
        """Give tensors their views of the state one walk created (``i``: the tensor alone, or -1 for the shared
        ones)."""
        for key in [k for k in walk if k not in self.dense_keys and k not in self.scalar_keys]:
            made = walk.pop(key)
            if i >= 0:
                p = self.params[i]
                states[p][key] = made.view(p.shape) if made.dim() else made.clone()
                continue
            for j, (a, b) in zip(self.shared, self.slices, strict=True):
                p = self.params[j]
                states[p][key] = made[a:b].view(p.shape) if made.dim() else made.clone()


_GRAD = operator.attrgetter("grad")


def read_gradients(params: Sequence[Tensor]) -> list[Tensor | None]:
    """Every tensor's ``.grad``, read in one pass: right after a step has streamed memory each read is a cache miss
    (about 130 us for 200 tensors measured), so a flat step reads them once and hands the list on."""
    return list(map(_GRAD, params))


def eligible(
    rule: Rule, params: Sequence[Tensor], states: Mapping[Tensor, Any], hp: Mapping[str, Scalar]
) -> bool:
    """Whether a group's tensors can live in flat buffers: one dtype, CPU, dense, real, each with state."""
    if not params or sum(p.numel() for p in params) < MIN_ELEMENTS:
        return False
    dtype = params[0].dtype
    for p in params:
        if p.dim() == 0 or p.dtype != dtype or p.device.type != "cpu" or p.is_complex() or p.is_sparse:
            return False
        if not p.is_contiguous():
            return False
        if p.grad is not None and (p.grad.is_sparse or p.grad.dtype != dtype):
            return False
    state_list = [states.get(p) for p in params]
    if not any(state_list) and not rule.counts_steps and not rule.init_state(params[0][:1], hp):
        return True  # a rule that keeps no state (plain SGD)
    if any(not s for s in state_list):
        return False  # a parameter without state yet: the reference path creates it
    keys = set(state_list[0] or ())
    for p, state in zip(params, state_list, strict=True):
        assert state is not None
        if set(state) != keys:
            return False
        for key, value in state.items():
            if not isinstance(value, Tensor) or value.is_sparse:
                return False
            if value.dim() == 0:
                continue
            if value.shape != p.shape or not value.is_contiguous() or key == "step":
                return False
    if rule.counts_steps and "step" not in keys:
        return False
    return True




AUTO_MIN_REFERENCE_SECONDS = 0.002
"""``fused=None`` (the default) tries the flat path for a group when its reference step takes at least this long
(the faster of its first two steps, measured): see :class:`FlatPlan`."""

AUTO_TRIAL_STEPS = 3
"""``fused=None`` times this many flat steps of a group (after the one that builds its buffers), each followed by a
reference step timed too, and keeps the flat path only when the fastest flat step beat the fastest of those
reference steps: see :class:`FlatPlan`."""

AUTO_SETTLE_STEPS = 2
"""... counting only from this many steps after the buffers are built or laid out anew: the first steps on new
buffers run slower (measured, SGD on 10M parameters in 200 tensors, gradients kept: the two steps after the merge
into one buffer took 5.1-5.4 ms, the next ones 3.3-3.7 ms, the reference path 4.0 ms)."""

NO_COMPILER = "reference: no C++ compiler to build the flat step"
"""``fused=None``'s decision on a machine without a C++ compiler (and no kept loop for the group)."""

AUTO_MAX_REBUILDS = 2
"""``fused=None`` gives a group back to the reference path after this many rebuilds of its buffers."""

MERGE_AFTER_KEPT_STEPS = 2
"""A split group (tensors alone) is rebuilt with every tensor in the flat buffers once its tensors alone have come
with the same gradient objects this many steps in a row (``zero_grad(set_to_none=False)``): then nothing needs
copying and one loop replaces a call per large tensor. Measured on ResNet-50's shapes, Adam, gradients kept, one
thread: 18.7 ms split (42 calls), 15.4 ms in one buffer, torch fused 16.2 ms (fastest of 25 steps,
``benchmarks/flat_layout.py``; ``benchmarks/RESULTS.md``, section "flat, second round"). A group split again (new
gradients for its large tensors) stays split."""

MERGE_MAX_BYTES = 1 << 30
"""Merging copies the tensors alone (parameters, gradients, state) into new buffers once, so for a moment both
copies exist: groups whose tensors alone hold more than this (1 GiB; GPT-2 small holds 2 GB) stay split."""


class FlatPlan:
    """What one parameter group of a drop-in optimizer keeps for the flat path between steps.

    ``group["fused"]``: ``False`` never takes it; ``True`` from the second step on (the first creates the state);
    ``None`` (the default) decides from two measurements, both taken on the user's own model and training loop:

    1. the group's reference step, timed on its first two steps: from :data:`AUTO_MIN_REFERENCE_SECONDS` (2 ms) up,
       the flat path is tried. Measured with new gradients every step (``benchmarks/RESULTS.md``), the flat step of
       the stateful rules saves 40-70% of a reference step from there up (Adam on 1M parameters in 30 tensors:
       2.6 -> 1.4 ms; 10M in 200: 24 -> 14 ms), so about a millisecond a step or more, which repays a warm compile
       (about 1 s of a background thread) within about a thousand steps and a cold one (about 5 s) within a few
       thousand. Below it, the group stays on the reference path and compiles nothing;
    2. the group's flat step, timed on :data:`AUTO_TRIAL_STEPS` steps, gradient copy included, in the layout it
       keeps (a relayout starts the trial again), after the first :data:`AUTO_SETTLE_STEPS` steps on new buffers,
       each followed by one step on the reference path (on the same views, timed too: the two side by side, as
       the machine runs at that moment, and past the reference path's first steps, which create its state): the
       group keeps the flat path only when its fastest flat step beat the fastest of those. This is what
       catches a rule whose reference loop already streams memory at the floor (plain SGD on large tensors) in a
       training loop whose gradients arrive as new tensors every step (``zero_grad()`` sets them to ``None``):
       there the copy into the flat gradient buffer costs more than the fused loop saves.

    With ``fused=None`` the compile runs in a background thread (:class:`WarmUp`, on small stand-in buffers of the
    group's dtypes and state keys: the compiled loop does not depend on the length), and the group keeps taking
    the reference path until it is done: no step waits for the compiler. ``fused=True`` compiles in the step.
    :attr:`decision` says what the default decided and why (:func:`decisions`).
    """

    def __init__(self) -> None:
        self.flat: FlatGroup | None = None
        self.reference_seconds: list[float] = []
        self.flat_seconds: list[float] = []
        self.trial_reference: list[float] = []
        """The reference steps timed during the trial (rule 2), each right after a timed flat step."""
        self.reference_turn = False
        """Whether the next step is the trial's reference step (the caller runs it and :meth:`timed` notes it)."""
        self.rebuilds = 0
        self.given_up = False
        self.warm_up: WarmUp | None = None
        self.stepped = False
        self.together = False
        """The layout of the group's next buffers (see :data:`MERGE_AFTER_KEPT_STEPS`)."""
        self.split_for_good = False
        self.settling = 0
        """Flat steps still to run on the current buffers before ``fused=None`` times one (AUTO_SETTLE_STEPS)."""
        self.widening: WarmUp | None = None
        """The background compile of the :data:`WIDE_BATCH` loop for the current buffers (each build starts with
        :data:`BATCH`: a change of state keys or dtype needs a loop of its own, compiled in the background too)."""
        self.wide_failed = False
        """Whether a wide compile failed (then it is not tried again)."""
        self.decision = "undecided"
        """``fused=None``'s choice for this group, in words (``"flat: ..."``, ``"reference: ..."``)."""

    def timed(self, seconds: float) -> None:
        """Note the duration of one reference step of the group (``fused=None`` decides from the first two, and
        from those of the trial, rule 2)."""
        if len(self.reference_seconds) < 2:
            self.reference_seconds.append(seconds)
            if len(self.reference_seconds) == 2 and not self.pays():
                self.decision = (f"reference: its step takes {1e3 * min(self.reference_seconds):.2f} ms, under the "
                                 f"{1e3 * AUTO_MIN_REFERENCE_SECONDS:g} ms from which a compile pays")
        elif self.reference_turn:
            self.reference_turn = False
            self.trial_reference.append(seconds)
            if len(self.trial_reference) >= AUTO_TRIAL_STEPS:
                self._decide()

    def pays(self) -> bool:
        """Whether ``fused=None`` tries the flat path for this group (see the class docstring, rule 1)."""
        return len(self.reference_seconds) >= 2 and min(self.reference_seconds) >= AUTO_MIN_REFERENCE_SECONDS

    def step(self, rule: Rule, group: Mapping[str, Any], hp: Mapping[str, Scalar], states: Any) -> bool:
        """Update the group on the flat path and return ``True``, or return ``False`` to leave it to the caller."""
        started = time.perf_counter()
        mode = group.get("fused")
        if mode is False or self.given_up or (mode is None and not self.pays()):
            return False
        if mode is None and self.reference_turn:  # the trial's reference step (rule 2): the caller runs and times it
            return False
        params = group["params"]
        if not self.stepped:  # fused=True: the first step runs the reference path, which creates the state
            self.stepped = True
            if mode is True and not all(states.get(p) for p in params):
                return False
        grads = read_gradients(params)
        if any(map(operator.is_, grads, itertools.repeat(None))):
            return False  # the reference path skips those parameters, and updates the views of the others
        flat = self.flat
        built = flat is None or not flat.holds(params, states)
        relayout = not built and flat is not None and self._relayout(flat)
        if flat is None or built or relayout:
            if not eligible(rule, params, states, hp):
                return False  # e.g. a tensor without state yet: checked again next step
            background = mode is None and BACKGROUND  # looks for the compiler in its thread (importing Inductor)
            if not background and not (kept_for(rule, params, states, hp, group) or _fused.available()):
                if mode is None:  # (available() warns once per process)
                    self.given_up, self.decision = True, NO_COMPILER
                return False
            if background:
                if self.warm_up is None:
                    self.warm_up = WarmUp(rule, params, states, hp, group)
                if not self.warm_up.done():
                    return False
                if self.warm_up.failed:
                    self.given_up, self.decision = True, "reference: the flat step failed to compile"
                    if self.warm_up.no_compiler:
                        _fused.available()  # its one warning, from the user's thread
                        self.decision = NO_COMPILER
                    return False
            if flat is not None and not relayout:
                self.rebuilds += 1
                if mode is None and self.rebuilds > AUTO_MAX_REBUILDS:
                    self.given_up, self.flat = True, None
                    self.decision = "reference: its tensors or state kept being replaced (buffers rebuilt)"
                    return False
            flat = self.flat = FlatGroup(rule, params, states, together=self.together)
            self.settling, self.widening = AUTO_SETTLE_STEPS, None
            if relayout:  # the trial times the layout the group keeps
                self.flat_seconds.clear()
                self.trial_reference.clear()
        self._widen(flat)
        # A build or a relayout made the shared tensors' .grad views of the new buffer: read again.
        done = flat.step(rule, group, hp, states, None if built or relayout else grads)
        if done and mode is None and not (built or relayout) and len(self.flat_seconds) < AUTO_TRIAL_STEPS:
            if self.settling:
                self.settling -= 1
            else:
                self._judge(time.perf_counter() - started)
        if (done and self.widening is None and not self.wide_failed and len(flat.walks) >= WIDE_MIN_WALKS
                and (mode is True or self.decision.startswith("flat")) and (flat.loop_failed or not CALL_LOOP)):
            self.widening = WarmUp(rule, params, states, hp, group, batch=WIDE_BATCH)
        return done

    def _widen(self, flat: FlatGroup) -> None:
        """Take up the :data:`WIDE_BATCH` loop once its background compile is done."""
        if self.widening is None or flat.batch == WIDE_BATCH or not self.widening.done():
            return
        if self.widening.failed:
            self.wide_failed = True
        else:
            flat.rebatch(WIDE_BATCH)

    def _relayout(self, flat: FlatGroup) -> bool:
        """Whether to rebuild the buffers in the other layout (:data:`MERGE_AFTER_KEPT_STEPS`), noting which."""
        if flat.together:
            if not flat.fresh_large:
                return False
            self.together, self.split_for_good = False, True  # new gradients each step: copying them costs more
            return True
        if (self.split_for_good or not flat.alone or flat.kept_steps < MERGE_AFTER_KEPT_STEPS
                or flat.alone_bytes > MERGE_MAX_BYTES):
            return False
        self.together = True
        return True

    def _judge(self, seconds: float) -> None:
        """Note one timed flat step of the trial (rule 2 of the class docstring); a reference step follows it."""
        self.flat_seconds.append(seconds)
        self.reference_turn = True

    def _decide(self) -> None:
        """Rule 2 of the class docstring, once :data:`AUTO_TRIAL_STEPS` flat and reference steps are timed."""
        fast, slow = min(self.flat_seconds), min(self.trial_reference)
        measured = f"{1e3 * fast:.2f} ms a step against {1e3 * slow:.2f} ms on the reference path"
        if fast < slow:
            self.decision = f"flat: {measured}"
        else:  # the tensors stay views of the buffers (harmless); the flat gradient buffer is let go
            self.given_up, self.flat = True, None
            self.decision = f"reference: the flat step took {measured}"


def decisions(optimizer: Any) -> dict[int, str]:
    """What ``fused=None`` decided for each parameter group of a drop-in optimizer (:attr:`FlatPlan.decision`), by
    group index; groups whose rule has no flat path are left out."""
    return {i: plan.decision for i, plan in getattr(optimizer, "__dict__", {}).get("_flat_plans", {}).items()}


CALL_LOOP = True
"""Whether a flat step runs its calls from one C loop where it can (:mod:`optimlab.call_loop`; ``False``: each
from Python, as before it existed)."""

BACKGROUND = True
"""Whether ``fused=None`` compiles in a background thread (``False``: in the step, as ``fused=True`` does)."""


def stand_in_arguments(
    rule: Rule, params: Sequence[Tensor], states: Mapping[Tensor, Any], hp: Mapping[str, Scalar],
    group: Mapping[str, Any], batch: int,
) -> tuple[Any, ...]:
    """:func:`optimlab.fused.group_update`'s arguments for one flat call of ``batch`` small stand-in tensors shaped
    like the group's (its dtype, state keys and scalar state): what the compiled loop depends on, but the lengths."""
    first = params[0]
    state = dict(states.get(first) or {})
    length = 64  # any length >= 2: the compiled loop's length is symbolic
    dense = {k: torch.zeros(length, dtype=v.dtype) for k, v in state.items() if k != "step" and v.dim()}
    scalars = {k: v.detach().clone() for k, v in state.items() if k != "step" and not v.dim()}
    xs = [torch.zeros(length, dtype=first.dtype) for _ in range(batch)]
    grads = [torch.ones(length, dtype=first.dtype) for _ in range(batch)]
    walks = [{**{k: v.clone() for k, v in dense.items()}, **{k: v.clone() for k, v in scalars.items()}}
             for _ in range(batch)]
    step = torch.ones((), dtype=torch.float64) if rule.counts_steps else None
    hyper = _fused.hyper_tensors(hp, {}, rule.structural_names())
    return rule, xs, grads, walks, hyper, bool(group.get("maximize", False)), step


def kept_for(
    rule: Rule, params: Sequence[Tensor], states: Mapping[Tensor, Any], hp: Mapping[str, Scalar],
    group: Mapping[str, Any],
) -> bool:
    """Whether a kept loop (:mod:`optimlab.loop_store`) serves a build of the group's buffers: then nothing
    compiles."""
    if not CALL_LOOP:
        return False
    frame = dict(zip(_fused._ARGUMENTS, stand_in_arguments(rule, params, states, hp, group, BATCH), strict=True))
    return _loop_store.find(frame) is not None


def kept_ahead(rule: Rule, params: Sequence[Tensor], hp: Mapping[str, Scalar], group: Mapping[str, Any]) -> bool:
    """Whether a kept loop (:mod:`optimlab.loop_store`) will serve a group just added, once its first step (on the
    reference path) has made its state: that state is foreseen by one reference update of a two-element stand-in.
    Then nothing needs Inductor, and ``fused=True`` does not import it ahead
    (:func:`optimlab.fused.prepare_compiler`)."""
    if not CALL_LOOP or not params or not supports(rule, hp) or params[0].dim() == 0:
        return False  # (no kept loop: spare the stand-in's update)
    try:
        with torch.no_grad():  # as the step will run (the key holds grad mode)
            x = torch.zeros(MIN_ELEMENTS, dtype=params[0].dtype)
            state: dict[str, Any] = {"step": torch.tensor(1.0, dtype=scalar_dtype())} if rule.counts_steps else {}
            state.update(rule.init_state(x, hp))
            rule.update(x, torch.ones_like(x), state, hp, 1)
            return kept_for(rule, [x], {x: state}, hp, group)
    except Exception:  # a rule that cannot step a stand-in this way: prepare as before
        return False


class WarmUp:
    """Compiles a group's flat step in a background thread, on stand-in buffers shaped like the group's."""

    def __init__(
        self, rule: Rule, params: Sequence[Tensor], states: Mapping[Tensor, Any], hp: Mapping[str, Scalar],
        group: Mapping[str, Any], batch: int | None = None,
    ) -> None:
        self.args = stand_in_arguments(rule, params, states, hp, group, BATCH if batch is None else batch)
        self.failed = False
        self.no_compiler = False
        """Whether it failed for want of a C++ compiler (:func:`optimlab.fused.available`)."""
        # Not a daemon: a process that ends while Inductor is compiling in a daemon thread aborts in C++ ("terminate
        # called without an active exception", exit status 134, seen with the wide loop); the interpreter waits for
        # the compile instead (at most a cold compile's 5-10 s, once: the result is cached for the next run).
        self.thread = threading.Thread(target=self._compile, name=f"optimlab-flat-{rule.name}", daemon=False)
        self.thread.start()

    def _compile(self) -> None:
        frame = dict(zip(_fused._ARGUMENTS, self.args, strict=True))
        try:
            with torch.no_grad():  # as the steps run (grad mode is per thread, and Dynamo guards on it)
                if CALL_LOOP and _loop_store.find(frame) is not None:
                    return  # a kept loop serves the group: nothing to compile
                if not _fused.available(warn=False):  # (the first call imports part of Inductor: 1 s)
                    self.failed = self.no_compiler = True
                    return
                _, xs, grads, walks, *_ = self.args
                for t in (*xs, *grads, *(v for walk in walks for v in walk.values() if v.dim())):
                    torch._dynamo.mark_dynamic(t, 0)
                direct = _fused.run_compiled(self.args[0].name, self.args, None, flat=True, own_lengths=True)
        except Exception:  # the step will take the reference path; fused=True reports the error itself
            self.failed = True
            return
        if direct is not None and CALL_LOOP:  # and the C loop over its calls (recorded, checked, compiled, kept)
            _call_loop.replay_for(direct.variant, frame)

    def done(self) -> bool:
        return not self.thread.is_alive()


def wait_for_compiles(optimizer: Any, timeout: float | None = None) -> None:
    """Wait until every background compile the optimizer's groups started has finished (benchmarks, tests)."""
    for plan in getattr(optimizer, "__dict__", {}).get("_flat_plans", {}).values():
        for warm_up in (plan.warm_up, plan.widening):
            if warm_up is not None:
                warm_up.thread.join(timeout)

__all__ = [
    "MERGE_AFTER_KEPT_STEPS", "MERGE_MAX_BYTES", "MIN_ELEMENTS", "SEPARATE_ELEMENTS", "FlatGroup", "FlatPlan",
    "WarmUp", "decisions", "eligible", "supports", "wait_for_compiles",
]
