"""What every verb's tuning shares, written once: the learning-rate grid, the compute budget and the
"best configuration" selection.

The verbs differ in *how* they pick (the study needs every tuning seed finished and breaks ties on the
validation loss, the advisor ranks everything and keeps incomplete configurations at the back, the claims
take the median over seeds); those differences are the parameters of one :class:`Selection`, not copies.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import BudgetError, InvalidValueError, UserError

# ------------------------------------------------------------------------------------------ learning-rate grids


def lr_grid(lr_min: float, lr_max: float, points: int, digits: int = 4) -> list[float]:
    """``points`` learning rates evenly spaced in log scale from ``lr_min`` to ``lr_max``, rounded to ``digits``
    significant digits (``lr_grid(1e-4, 1, 5)`` is 1e-4, 1e-3, ..., 1)."""
    if isinstance(points, bool) or not isinstance(points, int) or points < 1:
        raise InvalidValueError(f"Invalid learning-rate grid: {points} points; give at least 1.")
    if not (0 < lr_min <= lr_max) or not math.isfinite(lr_max):
        raise InvalidValueError(f"Invalid learning-rate range {lr_min:g}..{lr_max:g}: need 0 < min <= max.")
    if points == 1:
        return [lr_min]
    ratio = math.log(lr_max / lr_min) / (points - 1)
    return [float(f"{lr_min * math.exp(i * ratio):.{digits}g}") for i in range(points)]


WIDEN_DECADES = 3
"""Decades :func:`widened` adds at once: one more population run instead of three (a run costs its steps, not its
trials); AdaDelta's best rate on the lesson's surfaces lies two to three decades above a 1e-4 ... 10 grid."""

WIDEN_LIMIT: tuple[float, float] = (1e-8, 1e6)
"""How far :func:`widened` may take a grid: a best rate still at an edge there is reported as at the edge."""


def widened(lrs: Sequence[float], best: float, per_decade: int = 4) -> list[float]:
    """The rule that keeps a tuned rate off its grid's edge: when ``best`` is the largest (smallest) of ``lrs``,
    the next :data:`WIDEN_DECADES` decades above (below) it, ``per_decade`` values each, to run as well (and again
    while the best stays at the edge, up to :data:`WIDEN_LIMIT`); else nothing."""
    top, bottom, n, step = max(lrs), min(lrs), per_decade * WIDEN_DECADES, 10 ** (1 / per_decade)
    if best >= top and top < WIDEN_LIMIT[1]:
        return [v for v in lr_grid(top * step, top * 10**WIDEN_DECADES, n, digits=3) if v <= WIDEN_LIMIT[1]]
    if best <= bottom and bottom > WIDEN_LIMIT[0]:
        return [v for v in lr_grid(bottom / 10**WIDEN_DECADES, bottom / step, n, digits=3) if v >= WIDEN_LIMIT[0]]
    return []


def at_edge(lrs: Sequence[float], best: float) -> bool:
    """Whether ``best`` is the largest or the smallest of ``lrs`` (after :func:`widened`: it could go no further)."""
    return best >= max(lrs) or best <= min(lrs)


def lrs_around(centre: float, count: int, decades_apart: float = 0.5, lean_up: bool = True,
               digits: int = 3) -> list[float]:
    """``count`` learning rates ``decades_apart`` decades apart centred on ``centre``, largest first; an even
    count leans up by a quarter of the spacing when ``lean_up`` (the advisor's tries around its range test)."""
    offsets = [decades_apart * ((count - 1) / 2.0 - i) for i in range(count)]
    if count % 2 == 0 and lean_up:
        offsets = [o + decades_apart / 2.0 for o in offsets]
    return [float(f"{centre * 10.0 ** o:.{digits}g}") for o in offsets]


def check_lrs(values: Iterable[float], what: str = "learning-rate grid") -> list[float]:
    """The values as floats; one clear error when the list is empty or holds a non-positive or non-finite value."""
    out = [float(v) for v in values]
    if not out or any(not (math.isfinite(v) and v > 0) for v in out):
        raise InvalidValueError(f"Invalid {what}: every learning rate must be a positive number.")
    return out


def parse_lr_grid(text: str) -> list[float]:
    """``"1e-4:1:5"`` (min:max:points, log spaced) or ``"0.001,0.01,0.1"`` (explicit list, sorted, unique)."""
    try:
        if ":" in text:
            lo, hi, n = text.split(":")
            return lr_grid(float(lo), float(hi), int(n))
        values = sorted({float(v) for v in text.split(",") if v.strip()})
    except ValueError as exc:
        if isinstance(exc, UserError):
            raise
        raise InvalidValueError(f"Invalid learning-rate grid {text!r}: use MIN:MAX:POINTS or a comma list.") from exc
    return check_lrs(values, f"learning-rate grid {text!r}")


# ------------------------------------------------------------------------------------------------- budget


@dataclass(frozen=True)
class Budget:
    """Compute a caller allows: ``kind`` is ``steps`` (trial-steps: one update of one trial; K trials for S steps
    cost K·S), ``seconds`` (wall time) or ``runs`` (multiples of one full-length run)."""

    kind: Literal["steps", "seconds", "runs"]
    value: float

    def trial_steps(self, run_steps: int) -> int | None:
        """The budget in trial-steps (``None`` for a wall-time budget: that needs a measured speed)."""
        if self.kind == "steps":
            return int(self.value)
        if self.kind == "runs":
            return int(self.value * run_steps)
        return None

    def describe(self) -> str:
        if self.kind == "steps":
            return f"{int(self.value)} trial-steps"
        if self.kind == "runs":
            return f"{self.value:g}× one training run"
        return f"{self.value:g} s of wall time"


_TIME_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_budget(budget: int | float | str | Budget | None, default: str = "x40") -> Budget:
    """``20000`` or ``"20000 steps"`` (trial-steps), ``"x40"``/``"40x"``/``"40 runs"`` (runs), ``"90s"``/``"5min"``."""
    if budget is None:
        budget = default
    if isinstance(budget, Budget):
        parsed = budget
    elif isinstance(budget, bool):
        raise BudgetError(f"Invalid budget {budget!r}: give trial-steps (20000), runs (x40) or a time (5min).")
    elif isinstance(budget, int | float):
        parsed = Budget("steps", float(budget))
    else:
        parsed = _parse_budget_text(str(budget))
    if not math.isfinite(parsed.value) or parsed.value <= 0:
        raise BudgetError(f"Invalid budget {budget!r}: it must be a positive amount.")
    return parsed


def _parse_budget_text(text: str) -> Budget:
    t = text.strip().lower()
    runs = re.fullmatch(r"x\s*([0-9.]+)|([0-9.]+)\s*(?:x|runs?)", t)
    steps = re.fullmatch(r"([0-9.]+(?:e[0-9]+)?)\s*(?:steps?|trial-steps?)?", t)
    seconds = re.fullmatch(r"([0-9.]+)\s*(s|sec|m|min|h)", t)
    try:
        if runs:
            return Budget("runs", float(runs.group(1) or runs.group(2)))
        if steps:
            return Budget("steps", float(steps.group(1)))
        if seconds:
            return Budget("seconds", float(seconds.group(1)) * _TIME_UNITS[seconds.group(2)])
    except ValueError:
        pass
    raise BudgetError(
        f"Invalid budget {text!r}: give trial-steps (20000), a multiple of one run (x40) or a time (90s, 5min)."
    )


# ---------------------------------------------------------------------------------------------- selection


@dataclass(frozen=True)
class Outcome:
    """One finished trial as selection sees it: which configuration, its learning rate, its metrics, and whether
    it finished without diverging."""

    config: Any
    lr: float | None
    metrics: Mapping[str, float]
    finished: bool = True


@dataclass(frozen=True)
class Selection:
    """How "best" is decided; each verb states its rule with these parameters.

    A configuration is *complete* when every one of its trials finished without diverging and with a finite
    ``metric`` (and finite ``tie_break`` metrics when ``tie_break_must_be_finite``). Complete configurations
    rank by the ``average`` of ``metric`` over their trials (by ``goal``), then by each ``tie_break`` metric's
    average (lower first), then by the smaller learning rate (``smaller_lr_wins_ties``) or the order the
    configurations were first seen. ``incomplete="last"`` ranks the others after every complete one (in that
    same tie order) so a "best" always exists; ``"excluded"`` leaves them out.
    """

    metric: str
    goal: Literal["min", "max"] = "min"
    average: Literal["mean", "median"] = "mean"
    tie_break: tuple[str, ...] = ()
    tie_break_must_be_finite: bool = False
    smaller_lr_wins_ties: bool = False
    incomplete: Literal["last", "excluded"] = "last"


@dataclass(frozen=True)
class Ranked:
    """One configuration's standing: ``score`` is its average metric (NaN when incomplete); ``rank`` starts at 1."""

    config: Any
    lr: float | None
    score: float
    spread: float
    """Sample standard deviation of the metric over its trials (NaN with one trial or when incomplete)."""
    trials: int
    complete: bool
    rank: int = 0
    tie_values: tuple[float, ...] = field(default=())


def rank(outcomes: Iterable[Outcome], rule: Selection) -> list[Ranked]:
    """Every configuration in ``outcomes``, best first, by ``rule``."""
    groups: dict[Hashable, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(o.config, []).append(o)
    keyed = []
    for order, (config, runs) in enumerate(groups.items()):
        values = [_number(o.metrics.get(rule.metric)) for o in runs]
        ties = [[_number(o.metrics.get(m)) for o in runs] for m in rule.tie_break]
        complete = all(o.finished for o in runs) and all(map(math.isfinite, values))
        if rule.tie_break_must_be_finite:
            complete = complete and all(math.isfinite(v) for t in ties for v in t)
        if not complete and rule.incomplete == "excluded":
            continue
        score = _average(values, rule.average) if complete else math.nan
        tie_values = tuple(_average(t, rule.average) if all(map(math.isfinite, t)) else math.inf for t in ties)
        sign = -1.0 if rule.goal == "max" else 1.0
        lr = runs[0].lr
        last = (lr if lr is not None else math.inf) if rule.smaller_lr_wins_ties else float(order)
        key = (0 if complete else 1, sign * score if complete else math.inf, *tie_values, last, order)
        spread = statistics.stdev(values) if complete and len(values) > 1 else math.nan
        keyed.append((key, Ranked(config, lr, score, spread, len(runs), complete, 0, tie_values)))
    keyed.sort(key=lambda kr: kr[0])
    return [Ranked(r.config, r.lr, r.score, r.spread, r.trials, r.complete, i + 1, r.tie_values)
            for i, (_, r) in enumerate(keyed)]


def best_per(outcomes: Iterable[Outcome], rule: Selection,
             group: Callable[[Any], Hashable] = lambda config: config) -> dict[Hashable, Ranked]:
    """The best configuration of each group (``group(config)``: e.g. its optimizer), groups in first-seen order.
    A group with no configuration left by the rule (``incomplete="excluded"``) is absent."""
    seen: dict[Hashable, None] = {}
    items = list(outcomes)
    for o in items:
        seen.setdefault(group(o.config), None)
    best: dict[Hashable, Ranked] = {}
    for r in rank(items, rule):
        best.setdefault(group(r.config), r)
    return {g: best[g] for g in seen if g in best}


def outcomes_from_rows(rows: Iterable[Mapping[str, object]], config: Sequence[str] = ("optimizer", "lr"),
                       finished_status: str = "done") -> list[Outcome]:
    """Outcomes from flat result rows (a study store's trials): ``config`` names the columns that identify a
    configuration; a row counts as finished when its ``status`` is ``finished_status``."""
    out = []
    for row in rows:
        key = tuple(row.get(c) for c in config)
        lr = row.get("lr")
        metrics = {k: _number(v) for k, v in row.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        out.append(Outcome(key, float(lr) if isinstance(lr, int | float) else None, metrics,
                           row.get("status") == finished_status))
    return out


def _average(values: Sequence[float], how: str) -> float:
    if how == "median":
        return float(statistics.median(values))
    return sum(values) / len(values)


def _number(value: object) -> float:
    try:
        return float(value) if value is not None else math.nan  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
