"""The `Rule` contract: an optimizer's hyperparameters, its per-parameter state and its in-place update.

A rule knows nothing of modules, parameter groups or populations. It updates one tensor ``p`` from its
gradient ``g``. The same code serves three callers:

* the drop-in ``torch.optim`` classes (``optimlab.optim``), which pass hyperparameters as Python floats;
* the population engine, which passes tensors whose leading dimension indexes trials (``p[K, ...]``) and
  hyperparameters as tensors of shape ``[K]`` (one value per trial), or as floats shared by all trials;
* the 2-D surface pictures, which are a population of points.

Hyperparameters that change the algorithm's shape (``nesterov``, ``centered``, ``amsgrad`` ...) are *structural*:
they are always plain Python values, the same for every trial in one call. Most are bools; a few are an
integer (Muon's ``ns_steps``), a tuple of numbers (Muon's ``ns_coefficients``), one of named ``choices``
(Muon's ``adjust_lr_fn``) or ``None``-or-a-number (Adafactor's ``eps1``): the type of the default says which.

Most rules are elementwise and never need to know whether ``p`` carries a trial dimension. Rules that are not
(matrix rules such as Muon, SOAP and Adafactor, per-tensor norms, the cautious mask's rescaling) read
:meth:`Rule.trial_dims`: the population puts ``hp[TRIAL_DIMS] = 1`` in every call, the drop-in classes and
everything else leave it out (0). The parameter's own shape is then ``p.shape[Rule.trial_dims(hp):]``.

The evaluation point. Most rules take the gradient at the parameters they return, but some do not: Schedule-Free
takes it at an interpolation yₜ and returns the average xₜ; averaged SGD (ASGD) returns its running average.
:meth:`Rule.evaluation_point` tells every caller (the drop-in classes' ``eval()``, the population's validation
and test metrics) at which point a model trained by the rule should be evaluated; by default the parameter itself.
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

from ..errors import HyperparameterError

Scalar = float | Tensor
"""A hyperparameter value: a Python number, or a tensor with one value per trial."""

Value = float | bool | int | str | tuple[float, ...] | None
"""A hyperparameter's declared default: a number, or a structural value (see :class:`Hyper`)."""

State = MutableMapping[str, Tensor]

TRIAL_DIMS = "trial_dims"
"""Reserved ``hp`` key: how many leading dimensions of ``p`` index trials (1 in the population, else absent)."""


@dataclass(frozen=True)
class Hyper:
    """One hyperparameter: its default and its valid range, in one place.

    ``low``/``high`` bound the value (``None`` = unbounded); ``low_open``/``high_open`` exclude the bound.
    A ``structural`` hyperparameter selects a variant of the algorithm and is a plain Python value: a bool (the
    usual case), an integer in ``[low, high]``, a tuple of finite numbers as long as the default, ``None`` or a
    number in range (a ``None`` default), or one of ``choices`` when they are given.
    """

    name: str
    default: Value
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    structural: bool = False
    doc: str = ""
    choices: tuple[Value, ...] | None = None
    allows_inf: bool = False
    """Whether +∞ is a valid value ("no limit", e.g. Prodigy's ``growth_rate``). ``default=None`` likewise makes
    ``None`` valid: the rule derives the value from the others (:meth:`Rule.resolve`)."""

    def range_text(self) -> str:
        if self.structural:
            return self._structural_text()
        return self._number_text()

    def _structural_text(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(map(repr, self.choices))
        if isinstance(self.default, bool):
            return "True or False"
        if isinstance(self.default, int):
            return f"an integer {self._number_text()}"
        if isinstance(self.default, tuple):
            return f"a tuple of {len(self.default)} finite numbers"
        return f"None or a number {self._number_text()}"

    def _number_text(self) -> str:
        if self.low is not None and self.high is not None:
            left = "(" if self.low_open else "["
            right = ")" if self.high_open else "]"
            return f"in {left}{_fmt(self.low)}, {_fmt(self.high)}{right}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {_fmt(self.low)}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {_fmt(self.high)}"
        return "any finite number"

    def interval(self) -> str | None:
        """The valid range of a numeric hyperparameter as an interval (``[0, 1)``, ``(0, ∞)``); ``None`` for a
        structural one (see :meth:`range_text`)."""
        if self.structural:
            return None
        left = "(" if self.low is None or self.low_open else "["
        right = "]" if self.high is None and self.allows_inf else (")" if self.high is None or self.high_open else "]")
        low = "−∞" if self.low is None else _fmt(self.low)
        high = "∞" if self.high is None else _fmt(self.high)
        return f"{left}{low}, {high}{right}"

    def is_valid(self, value: object) -> bool:
        if self.structural:
            return self._structural_valid(value)
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
        return self._in_range(lo, hi)

    def _in_range(self, lo: float, hi: float) -> bool:
        if self.low is not None and (lo < self.low or (self.low_open and lo == self.low)):
            return False
        if self.high is not None and (hi > self.high or (self.high_open and hi == self.high)):
            return False
        return True

    def _structural_valid(self, value: object) -> bool:
        if self.choices is not None:
            return any(value is c or (type(value) is type(c) and value == c) for c in self.choices)
        if isinstance(self.default, bool):
            return isinstance(value, bool)
        if isinstance(self.default, int):
            return isinstance(value, int) and not isinstance(value, bool) and self._in_range(value, value)
        if isinstance(self.default, tuple):
            return (
                isinstance(value, (tuple, list)) and len(value) == len(self.default)
                and all(_is_finite_number(v) for v in value)
            )
        return value is None or (_is_finite_number(value) and self._in_range(float(value), float(value)))  # type: ignore[arg-type]


def _is_finite_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


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
    """The rule's hyperparameters, declared once: the schema (names, order, defaults, ranges, docs) that the drop-in
    classes' signatures follow and the presets, the population and the cards read. Their values, wherever they
    travel (``hp`` in every method), are a mapping from these names."""
    supports_sparse: ClassVar[bool] = False
    supports_complex: ClassVar[bool] = True
    """Whether complex parameters update as pairs of real coordinates (False: refused, as torch's Muon does)."""
    counts_steps: ClassVar[bool] = True
    """Whether the rule needs the step count (torch.optim keeps a ``step`` entry in its state)."""
    elementwise: ClassVar[bool] = False
    """Whether ``update`` treats every element on its own, given the step's scalars (no shapes, norms, sums or
    matrix products; the cautious mask counts per tensor and is checked separately): such a rule gives the same
    numbers on one flat buffer of all a group's tensors as tensor by tensor (:mod:`optimlab.flat`)."""
    shared_state: ClassVar[tuple[str, ...]] = ()
    """Names of the group-level state of a rule that reduces over its group's tensors (module docstring); empty
    for every rule that updates one tensor at a time."""

    @staticmethod
    def trial_dims(hp: Mapping[str, object]) -> int:
        """How many leading dimensions of ``p`` index trials in this call (0 outside the population)."""
        value = hp.get(TRIAL_DIMS, 0)
        assert isinstance(value, int)
        return value

    def structural_names(self) -> frozenset[str]:
        return frozenset(h.name for h in self.hypers if h.structural)

    def defaults(self) -> dict[str, Value]:
        return {h.name: h.default for h in self.hypers}

    def hyper(self, name: str) -> Hyper:
        for h in self.hypers:
            if h.name == name:
                return h
        raise KeyError(f"{self.name} has no hyperparameter {name!r}")

    def validate(self, hp: Mapping[str, object], owner: str, names: Mapping[str, str] | None = None) -> None:
        """Raise :class:`~optimlab.errors.HyperparameterError` (a ``ValueError``) naming the argument, its value and
        the valid range.

        ``names`` maps a hyperparameter to the argument the user typed (``beta1`` -> ``betas[0]``).
        """
        for h in self.hypers:
            if h.name in hp and not h.is_valid(hp[h.name]):
                shown = (names or {}).get(h.name, h.name)
                raise HyperparameterError(
                    f"Invalid {shown}={_show(hp[h.name])} for {owner}: must be {h.range_text()}."
                )
        self.check_combination(hp, owner)

    def check_combination(self, hp: Mapping[str, object], owner: str) -> None:
        """Constraints between hyperparameters; override where the algorithm has them."""

    def init_state(self, p: Tensor, hp: Mapping[str, Scalar]) -> dict[str, Tensor]:
        raise NotImplementedError

    def update(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Scalar], step: int) -> None:
        raise NotImplementedError

    def evaluation_point(self, p: Tensor, state: State, hp: Mapping[str, Scalar]) -> Tensor:
        """The point at which to evaluate (validate, test, save) the model whose training parameter is ``p``.

        ``p`` is the tensor :meth:`update` updates (the point the gradient is taken at) and ``state`` its state,
        possibly still empty before the first update; ``hp`` as for :meth:`update` (per-trial values broadcast).
        The default is ``p`` itself, not a copy. A rule that overrides it returns a new tensor of ``p``'s shape
        and dtype, computed from ``p`` and ``state`` alone, and changes neither (training continues at ``p``).
        """
        return p
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
