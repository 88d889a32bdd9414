"""A population: K trials trained together on parameters stacked along a leading trial dimension.

Each parameter tensor has shape ``[K, ...]``; row k belongs to trial k. Trials that share a rule and its
structural flags form a *group*, and one rule call updates the whole group per parameter tensor, with
every numeric hyperparameter given as a tensor ``[k]`` (one value per trial). The rule is the same code the
drop-in optimizers run (:mod:`optimlab.rules`), so trial k here follows the same math as trial k trained
alone with :mod:`optimlab.optim`.

Isolation: updates are elementwise, and a rule that sums over its tensors (Prodigy's step-size estimate) sums
over every dimension but the trial dimension (:mod:`optimlab.rules._base`), so no trial's numbers enter
another's. A trial whose loss is not finite (or whose gradient is not, when no losses are given or
``check_gradients=True``; that check costs a pass over every gradient) is marked diverged at that step and
frozen: its parameters keep their values from then on.
Groups keep their membership for the whole run (a frozen trial stays in its group, its rows restored after
each update), so freezing one trial never changes how the others are computed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from . import fused as _fused
from . import population_flat as _popflat
from .registry import Preset, get_preset
from .rules import TRIAL_DIMS, Rule, Scalar
from .schedules import Schedule


@dataclass(frozen=True, init=False)
class Trial:
    """One optimizer run: a preset name, hyperparameter overrides (``torch.optim`` argument names, e.g.
    ``{"lr": 0.01, "betas": (0.9, 0.99)}``), a seed (initial parameters and batch order), and optionally a batch
    size (else the preset's batch policy decides) and a learning-rate schedule.

    The overrides are validated here, once, against the rule's schema (an unknown name or an invalid value raises
    ``ValueError`` naming the argument, its value and the valid range); :attr:`rule_values` keeps the result,
    which the population reads without checking again.
    """

    optimizer: str
    overrides: Mapping[str, Any]
    seed: int
    label: str
    batch_size: int | None
    schedule: Schedule | None
    rule_values: Mapping[str, Scalar] = field(init=False, compare=False, repr=False)
    """The rule's hyperparameter values for this trial (preset defaults, settings and overrides, resolved)."""

    def __init__(
        self,
        optimizer: str,
        overrides: Mapping[str, Any] | None = None,
        seed: int = 0,
        label: str = "",
        batch_size: int | None = None,
        schedule: Schedule | None = None,
        *,
        hypers: Mapping[str, Any] | None = None,
    ) -> None:
        if hypers is not None:  # the keyword's former name
            if overrides is not None:
                raise ValueError("Give a trial's overrides once (overrides= or its former name hypers=).")
            overrides = hypers
        given = dict(overrides or {})
        preset = get_preset(optimizer)
        values = preset.rule.resolve(preset.rule_values(**given))  # a None hyperparameter: the value it derives
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"Invalid batch_size={batch_size} for trial {label or optimizer}: must be >= 1.")
        for name, value in (("optimizer", optimizer), ("overrides", given), ("seed", seed), ("label", label),
                            ("batch_size", batch_size), ("schedule", schedule), ("rule_values", values)):
            object.__setattr__(self, name, value)

    @property
    def hypers(self) -> Mapping[str, Any]:
        """The former name of :attr:`overrides`."""
        return self.overrides

    @property
    def preset(self) -> Preset:
        return get_preset(self.optimizer)

    @property
    def name(self) -> str:
        return self.label or self.optimizer


@dataclass
class _Group:
    rule: Rule
    rows: Tensor  # trial indices, ascending
    span: slice | None  # the same rows as a slice when they are contiguous (views, no copies)
    values: dict[str, Scalar]  # each hyperparameter: one tensor [k] (a value per trial), a shared 0 or a flag
    base_lr: Tensor
    states: list[dict[str, Tensor]]
    shaped: list[dict[str, Scalar] | None] = field(default_factory=list)
    shared: dict[str, Tensor] = field(default_factory=dict)  # group-level state of a reducing rule, [k] tensors


class Population:
    """Updates stacked parameters ``params[j][K, ...]`` for K trials, one rule call per group and tensor."""

    def __init__(
        self,
        trials: Sequence[Trial],
        params: Sequence[Tensor],
        *,
        check_gradients: bool = False,
        fused: bool | None = None,
    ) -> None:
        if not trials:
            raise ValueError("A population needs at least one trial.")
        k = len(trials)
        for j, p in enumerate(params):
            if p.dim() < 1 or p.shape[0] != k:
                shape = tuple(p.shape)
                raise ValueError(f"Parameter {j} has shape {shape}; expected a leading trial dimension of {k}.")
        self.trials = list(trials)
        self.params = list(params)
        self.check_gradients = check_gradients
        self.fused = fused
        """The compiled per-group update (:mod:`optimlab.fused`): ``True``, ``False``, or ``None`` for large groups.
        Groups whose rule the flat path supports (:func:`optimlab.flat.supports`) compile on flat buffers
        (:mod:`optimlab.population_flat`: one compile for every model shape and K; the parameters become views),
        the others per tensor (one compile per set of shapes)."""
        self.step_count = 0
        self.diverged_at: list[int | None] = [None] * k
        self._frozen = torch.zeros(k, dtype=torch.bool)
        self._snapshots: list[Tensor] | None = None
        self._flat: _popflat.FlatPopulation | None = None
        dtype = params[0].dtype if params else torch.get_default_dtype()
        self._groups = _make_groups(self.trials, dtype)
        for group in self._groups:
            group.states = [{} for _ in self.params]
            group.shaped = [None] * len(self.params)

    @property
    def diverged(self) -> Tensor:
        """Boolean ``[K]``: which trials have been frozen."""
        return self._frozen.clone()

    @torch.no_grad()
    def step(self, grads: Sequence[Tensor], losses: Tensor | None = None, lr_factor: Tensor | None = None) -> None:
        """One update of every live trial. ``grads`` match ``params``; ``losses`` (``[K]``) flag divergence;
        ``lr_factor`` (``[K]``) scales each trial's base learning rate for this step (a schedule)."""
        self.step_count += 1
        if lr_factor is not None:
            for group in self._groups:
                group.values["lr"] = group.base_lr * lr_factor.index_select(0, group.rows).to(group.base_lr.dtype)
                group.shaped = [None] * len(self.params)
        bad = torch.zeros_like(self._frozen)
        if losses is not None:
            bad |= ~torch.isfinite(losses.detach().reshape(len(self.trials), -1)).all(dim=1)
        if losses is None or self.check_gradients:
            for g in grads:
                bad |= ~torch.isfinite(g).all(dim=tuple(range(1, g.dim()))) if g.dim() > 1 else ~torch.isfinite(g)
        newly = bad & ~self._frozen
        if newly.any():
            self._freeze(newly)
        compiled = [
            self.step_count > 1 and _fused.wanted(self.fused, [len(group.rows) * p[0].numel() for p in self.params])
            for group in self._groups
        ]
        on_flat = [c and _popflat.supports(g.rule, g.values, len(g.rows))
                   for g, c in zip(self._groups, compiled, strict=True)]
        flat = self._flat_buffers() if any(on_flat) else None
        if flat is not None:  # one copy into the flat gradient buffer, in the parameters' layout
            grads = flat.gather_gradients(grads)
        else:
            # A gradient in another memory layout than its parameter (batched backward passes often return
            # transposed weight gradients) is copied into the parameter's layout once, so that every following
            # elementwise pass reads memory in order (measured faster). training.train stores parameters in
            # their gradients' layout, which makes this copy unnecessary.
            grads = [
                g if g.stride() == p.stride() else torch.empty_like(p).copy_(g)
                for p, g in zip(self.params, grads, strict=True)
            ]
        for index, (group, compile_it, flat_it) in enumerate(zip(self._groups, compiled, on_flat, strict=True)):
            if compile_it:
                rows = None
                if flat is not None and flat_it:
                    rows = flat.group(index, group.rule, group.rows, group.span, group.states)
                if rows is not None:
                    rows.step(flat, self._values(group), self.step_count)  # type: ignore[arg-type]
                else:
                    self._fused_update(group, grads)
                continue
            if group.rule.shared_state:
                self._reducing_update(group, grads)
                continue
            for j, (p, g) in enumerate(zip(self.params, grads, strict=True)):
                state = group.states[j]
                if group.span is not None:
                    pv, gv = p[group.span], g[group.span]
                else:
                    pv, gv = p.index_select(0, group.rows), g.index_select(0, group.rows)
                shaped = group.shaped[j]
                if shaped is None:  # per-trial values shaped [k, 1, ...] for this tensor, reused every step
                    shaped = group.shaped[j] = Rule.broadcast(group.values, pv)
                if not state:
                    state.update(group.rule.init_state(pv, shaped))
                group.rule.update(pv, gv, state, shaped, self.step_count)
                if group.span is None:
                    p.index_copy_(0, group.rows, pv)
        if self._frozen.any():
            self._restore_frozen()

    @torch.no_grad()
    def evaluation_params(self) -> list[Tensor]:
        """The parameters at which to evaluate each trial (:meth:`optimlab.rules.Rule.evaluation_point` of its
        group's rule): ``params`` itself where every rule evaluates at its training point, else a copy with the
        rows of such groups replaced. Training is not affected."""
        out = list(self.params)
        for group in self._groups:
            for j, p in enumerate(self.params):
                state = group.states[j]
                if not state:
                    continue
                pv = p[group.span] if group.span is not None else p.index_select(0, group.rows)
                point = group.rule.evaluation_point(pv, state, group.shaped[j] or Rule.broadcast(group.values, pv))
                if point is pv:
                    continue
                if out[j] is p:
                    out[j] = p.clone()
                out[j].index_copy_(0, group.rows, point)
        return out

    def _values(self, group: _Group) -> dict[str, Scalar]:
        """The group's hyperparameter values, with its group-level state (``Rule.shared_state``, ``[k]`` tensors: one
        value per trial) merged in; the state is created on the first call."""
        if not group.rule.shared_state:
            return group.values
        if not group.shared:
            like = torch.zeros(len(group.rows), dtype=group.base_lr.dtype)
            group.shared = group.rule.init_shared(group.values, like)
        return {**group.values, **group.shared}

    def _reducing_update(self, group: _Group, grads: Sequence[Tensor]) -> None:
        """The loop of :meth:`step` for a rule whose update needs sums over all the group's tensors: every
        tensor's views first, then one ``Rule.update_group`` (its sums are per trial, see rules._base)."""
        hp = self._values(group)
        views = [self._views(group, p, g) for p, g in zip(self.params, grads, strict=True)]
        hps = []
        for j, (pv, _) in enumerate(views):
            if group.shaped[j] is None:  # reused every step; the shared tensors change in place
                group.shaped[j] = Rule.broadcast(hp, pv)
            shaped = group.shaped[j]
            assert shaped is not None
            hps.append(shaped)
            if not group.states[j]:
                group.states[j].update(group.rule.init_state(pv, shaped))
        params, grad_views = [pv for pv, _ in views], [gv for _, gv in views]
        steps = [self.step_count] * len(views)
        group.rule.update_group(params, grad_views, group.states, hps, steps, group.shared, hp)
        if group.span is None:
            for p, pv in zip(self.params, params, strict=True):
                p.index_copy_(0, group.rows, pv)

    @staticmethod
    def _views(group: _Group, p: Tensor, g: Tensor) -> tuple[Tensor, Tensor]:
        """The group's rows of a parameter and its gradient (views when the rows are contiguous, else copies)."""
        if group.span is not None:
            return p[group.span], g[group.span]
        return p.index_select(0, group.rows), g.index_select(0, group.rows)

    def _flat_buffers(self) -> _popflat.FlatPopulation | None:
        """The flat buffers (:mod:`optimlab.population_flat`), made on first use (the parameters become views of
        them), or ``None`` when the parameters cannot be views of one buffer."""
        if self._flat is None or not self._flat.holds(self.params):
            if not _popflat.eligible(self.params):
                return None
            self._flat = _popflat.FlatPopulation(self.params)
        return self._flat

    def _fused_update(self, group: _Group, grads: Sequence[Tensor]) -> None:
        """The same update as the loop in :meth:`step`, compiled over all of the group's tensors at once."""
        hp = self._values(group)
        pairs = [self._views(group, p, g) for p, g in zip(self.params, grads, strict=True)]
        views, grad_views = [pv for pv, _ in pairs], [gv for _, gv in pairs]
        for pv, state in zip(views, group.states, strict=True):
            if not state:
                state.update(group.rule.init_state(pv, Rule.broadcast(hp, pv)))
        step = torch.tensor(float(self.step_count), dtype=torch.float64)
        _fused.compiled_update(group.rule.name)(group.rule, views, grad_views, group.states, hp, False, step)
        if group.span is None:
            for p, pv in zip(self.params, views, strict=True):
                p.index_copy_(0, group.rows, pv)

    def _freeze(self, newly: Tensor) -> None:
        for i in torch.nonzero(newly).flatten().tolist():
            self.diverged_at[i] = self.step_count
        if self._snapshots is None:
            self._snapshots = [p.detach().clone() for p in self.params]
        else:
            for snap, p in zip(self._snapshots, self.params, strict=True):
                snap[newly] = p[newly]
        self._frozen |= newly

    def _restore_frozen(self) -> None:
        assert self._snapshots is not None
        for snap, p in zip(self._snapshots, self.params, strict=True):
            p[self._frozen] = snap[self._frozen]


def _make_groups(trials: Sequence[Trial], dtype: torch.dtype) -> list[_Group]:
    """Group trials by rule and structural flags; numeric hyperparameters become per-trial tensors."""
    keyed: dict[tuple[Any, ...], list[tuple[int, dict[str, Scalar]]]] = {}
    for i, trial in enumerate(trials):
        rule = trial.preset.rule
        hp = dict(trial.rule_values)  # validated and resolved once, by the trial
        key = (rule.name, *((h.name, hp[h.name]) for h in rule.hypers if h.structural))
        keyed.setdefault(key, []).append((i, hp))
    groups = []
    for members in keyed.values():
        rows = [i for i, _ in members]
        rule = trials[rows[0]].preset.rule
        stacked: dict[str, Scalar] = {}
        for h in rule.hypers:
            values = [hp[h.name] for _, hp in members]
            if h.structural:
                stacked[h.name] = values[0]
            elif h.name != "lr" and all(v == 0 for v in values):
                # An optional term that no trial uses (weight decay, momentum ...) is skipped, as the drop-in
                # optimizer skips it; a per-trial zero would compute the same numbers with an extra pass.
                stacked[h.name] = 0.0
            else:
                # Other numeric hyperparameters are tensors even when equal: a trial's arithmetic must not
                # depend on which other trials share its group.
                stacked[h.name] = torch.tensor(values, dtype=dtype)
        stacked[TRIAL_DIMS] = 1  # non-elementwise rules (matrix rules, per-tensor norms) read it; see rules._base
        contiguous = rows == list(range(rows[0], rows[0] + len(rows)))
        span = slice(rows[0], rows[0] + len(rows)) if contiguous else None
        base_lr = stacked["lr"]
        assert isinstance(base_lr, Tensor)
        groups.append(_Group(rule, torch.tensor(rows), span, stacked, base_lr, []))
    return groups
