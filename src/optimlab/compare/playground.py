"""The playground's data: every optimizer of a picture at a grid of settings × a grid of start points, in one run.

A page slider cannot run an optimizer (no optimizer is written twice, in JavaScript), so the page looks paths up
from a grid computed here: for each optimizer, every learning rate of :data:`~optimlab.compare.TUNE_GRID` times
the values of its other knobs (momentum, β₁, β₂), each from every start of a grid over the surface.

One population runs it all. A trial is one setting; its parameter is not one point but the whole stack of
starts, ``theta[K, S, 2]``. The classic rules are elementwise, so the S points of a trial are S independent runs
with the arithmetic of a trial started at each point alone (``tests/test_compare_playground.py`` checks it
against :func:`~optimlab.compare.compare` to float64 rounding: vectorized kernels may round a last bit
differently). Building a trial costs about a millisecond here (validation against the preset's signature), a
population step about the same, while a step over S points costs what a step over one point does: settings ×
starts trials one by one would cost S times more.

Divergence is tracked per start, with the rule :func:`~optimlab.compare._run.run_surface` applies per trial (loss
not finite, or the point escaped beyond :data:`~optimlab.compare._run.ESCAPE_FACTOR` domain widths): the path
ends before the step that diverged and the point is held there, so it never overflows into its neighbours.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..population import Population, Trial
from ..problems.surfaces import Point, Surface
from ..registry import get_preset
from ._api import TUNE_GRID, widened
from ._run import ESCAPE_FACTOR

KNOBS: dict[str, tuple[tuple[str, tuple[float, ...], float], ...]] = {
    "momentum": (("momentum", (0.5, 0.8, 0.9, 0.95, 0.99), 0.9),),
    "adam": (("beta1", (0.0, 0.9, 0.99), 0.9), ("beta2", (0.99, 0.999), 0.999)),
}
"""Per preset, the knobs besides the learning rate a slider moves: (name, values, the preset's default).

Nesterov keeps its default momentum (its section is about momentum's, shown beside it): each knob value costs
11 more trials, and building a trial costs about 2 ms here (the registry validates it twice)."""

PAGE_LRS: tuple[float, ...] = TUNE_GRID[::2]
"""Learning rates kept for the page at off-default knobs: every other grid value (half decades, 1e-4 ... 10)."""


def _trial_hypers(name: str, lr: float, knobs: dict[str, float]) -> dict[str, object]:
    out: dict[str, object] = {"lr": lr}
    if "momentum" in knobs:
        out["momentum"] = knobs["momentum"]
    if "beta1" in knobs:
        out["betas"] = (knobs["beta1"], knobs["beta2"])
    return out


@dataclass
class SeriesGrid:
    """One optimizer's paths at ``settings[c]`` (``{"lr": …, knob: …}``) from every start ``s``.

    ``paths[c, s, t]`` is the point after t steps (NaN from the step that diverged on), ``losses[c, s, t]`` the
    loss there, ``diverged[c, s]`` that step or -1. ``tuned`` is the setting the tuning rule picked.
    """

    optimizer: str
    settings: list[dict[str, float]]
    paths: np.ndarray
    losses: np.ndarray
    diverged: np.ndarray
    tuned: int
    knobs: tuple[tuple[str, tuple[float, ...], float], ...] = ()
    examples_per_step: int = 0

    @property
    def lrs(self) -> list[float]:
        return sorted({s["lr"] for s in self.settings})


@dataclass
class Playground:
    """The grids of one surface: starts (the surface's customary ones first), steps and one grid per optimizer."""

    surface: Surface
    starts: list[Point]
    steps: int
    series: dict[str, SeriesGrid] = field(default_factory=dict)
    seconds: float = 0.0
    axis_labels: tuple[str, str] = ("x", "y")


def start_grid(surface: Surface, per_side: int) -> list[Point]:
    """The surface's customary starts, then ``per_side²`` points at the centres of a grid's cells."""
    (x0, x1), (y0, y1) = surface.domain
    cells = [(i + 0.5) / per_side for i in range(per_side)]
    grid = [(x0 + a * (x1 - x0), y0 + b * (y1 - y0)) for b in cells for a in cells]
    return [*surface.starts, *grid]


def settings_for(name: str, *, knobs: bool = True) -> tuple[list[dict[str, float]], tuple]:
    """Every lr of the tuning grid at the default knobs, then half-decade lrs at every other knob combination."""
    spec = KNOBS.get(name, ()) if knobs else ()
    default = {k: d for k, _, d in spec}
    out = [{"lr": lr, **default} for lr in TUNE_GRID]
    for combo in itertools.product(*(values for _, values, _ in spec)):
        chosen = dict(zip((k for k, _, _ in spec), combo, strict=True))
        if chosen != default:
            out += [{"lr": lr, **chosen} for lr in PAGE_LRS]
    return out, spec


def run_grid(
    surface: Surface, trials: Sequence[Trial], starts: Sequence[Point], steps: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``trials`` × ``starts`` as one population of ``len(trials)`` trials over ``theta[K, S, 2]``."""
    for trial in trials:
        if trial.preset.rule.shared_state:  # a reducing rule would couple the starts inside one trial
            raise ValueError(f"{trial.optimizer} sums over its parameters, so its starts cannot share a trial.")
    k, s = len(trials), len(starts)
    theta = torch.tensor(starts, dtype=torch.float64).expand(k, s, 2).clone()
    pop = Population(list(trials), [theta])
    points = torch.empty(steps + 1, k, s, 2, dtype=torch.float64)
    values = torch.empty(steps + 1, k, s, dtype=torch.float64)
    diverged = torch.full((k, s), -1, dtype=torch.int64)
    (x0, x1), (y0, y1) = surface.domain
    centre = torch.tensor([(x0 + x1) / 2, (y0 + y1) / 2], dtype=torch.float64)
    radius = ESCAPE_FACTOR * max(x1 - x0, y1 - y0)
    alive = torch.ones(k, s, 1, dtype=torch.bool)
    held = theta.clone()
    some_dead = False
    no_loss = torch.zeros(k, dtype=torch.float64)  # divergence is tracked per start below, not per trial
    last = steps
    for t in range(steps + 1):
        loss, grad = surface.loss_and_grad(theta)
        points[t], values[t] = theta, loss
        if t == steps:
            break
        # as run_surface: the point at which the loss is not finite (or which escaped) is the path's last
        bad = alive.squeeze(2) & (~torch.isfinite(loss) | ((theta - centre).norm(dim=2) > radius))
        if bad.any():
            diverged[bad] = t + 1
            alive &= ~bad.unsqueeze(2)
            some_dead = True
            if not alive.any():
                last = t
                break
        if some_dead:
            held = torch.where(alive, theta, held)
            grad = torch.where(alive, grad, 0.0)
        pop.step([grad], no_loss)
        if some_dead:
            theta.copy_(torch.where(alive, theta, held))
    order = np.arange(steps + 1)
    paths = np.full((k, s, steps + 1, 2), np.nan)
    losses = np.full((k, s, steps + 1), np.nan)
    paths[:, :, : last + 1] = points[: last + 1].permute(1, 2, 0, 3).numpy()
    losses[:, :, : last + 1] = values[: last + 1].permute(1, 2, 0).numpy()
    div = diverged.numpy()
    gone = (div[:, :, None] >= 0) & (order[None, None, :] >= div[:, :, None])
    paths[gone] = np.nan
    losses[gone] = np.nan
    return paths, losses, div


def tuned_index(surface: Surface, settings: list[dict[str, float]], losses: np.ndarray, diverged: np.ndarray,
                n_customary: int, default: dict[str, float]) -> int:
    """The setting at the default knobs with the best tuning score (:data:`~optimlab.compare.TUNE_CRITERION`)
    over the customary starts: the same rule ``compare()`` tunes by."""
    from ._api import tuning_scores

    rows = [c for c, st in enumerate(settings) if all(st[k] == v for k, v in default.items())]
    best, best_score = rows[0], math.inf
    for c in rows:
        div = [None if d < 0 else int(d) for d in diverged[c, :n_customary]]
        score = float(tuning_scores(surface, losses[c, :n_customary], div).mean())
        if score < best_score:
            best, best_score = c, score
    return best


def playground(
    surface: Surface,
    optimizers: Sequence[str],
    steps: int,
    *,
    per_side: int = 4,
    knobs: bool = True,
    marked_lr: float | None = None,
) -> Playground:
    """Every optimizer's grid on ``surface`` from :func:`start_grid`, all in one population run.

    ``marked_lr`` marks that learning rate (at the default knobs) instead of the tuned one, for pictures whose
    story is told at a fixed rate.
    """
    import time

    began = time.perf_counter()
    starts = start_grid(surface, per_side)
    names = [get_preset(n).name for n in optimizers]
    plan = {n: settings_for(n, knobs=knobs) for n in names}
    trials = [Trial(n, _trial_hypers(n, st["lr"], st)) for n in names for st in plan[n][0]]
    paths, losses, diverged = run_grid(surface, trials, starts, steps)
    grids: dict[str, tuple[list[dict[str, float]], np.ndarray, np.ndarray, np.ndarray]] = {}
    row = 0
    for n in names:
        settings = plan[n][0]
        sl = slice(row, row + len(settings))
        row += len(settings)
        grids[n] = settings, paths[sl], losses[sl], diverged[sl]
    out = Playground(surface, starts, steps, seconds=0.0)
    tuned = {n: _marked(surface, plan[n][1], grids[n], marked_lr) for n in names}
    while True:  # a tuned rate at an edge of the grid: run the next decade beyond it too (the rule of `widened`)
        more = {} if marked_lr is not None else {n: _wider(plan[n][1], grids[n], tuned[n]) for n in names}
        more = {n: lrs for n, lrs in more.items() if lrs}
        if not more:
            break
        extra = [Trial(n, _trial_hypers(n, lr, _defaults(plan[n][1]))) for n, lrs in more.items() for lr in lrs]
        p, lo, d = run_grid(surface, extra, starts, steps)
        row = 0
        for n, lrs in more.items():
            sl = slice(row, row + len(lrs))
            row += len(lrs)
            grids[n] = _merged(grids[n], plan[n][1], lrs, p[sl], lo[sl], d[sl])
            tuned[n] = _marked(surface, plan[n][1], grids[n], None)
    for n in names:
        settings, pth, loss, div = grids[n]
        out.series[n] = SeriesGrid(n, settings, pth, loss, div, tuned[n], plan[n][1])
    out.seconds = time.perf_counter() - began
    return out


def _defaults(spec: tuple) -> dict[str, float]:
    return {k: d for k, _, d in spec}


def _default_rows(settings: list[dict[str, float]], spec: tuple) -> list[int]:
    default = _defaults(spec)
    return [c for c, st in enumerate(settings) if all(st[k] == v for k, v in default.items())]


def _marked(surface: Surface, spec: tuple, grid: tuple, marked_lr: float | None) -> int:
    """The tuned setting (:func:`tuned_index`), or the default-knob one nearest to ``marked_lr``."""
    settings, _, losses, diverged = grid
    if marked_lr is not None:
        return min(_default_rows(settings, spec), key=lambda c: abs(math.log(settings[c]["lr"] / marked_lr)))
    return tuned_index(surface, settings, losses, diverged, len(surface.starts), _defaults(spec))


def _wider(spec: tuple, grid: tuple, tuned: int) -> list[float]:
    settings = grid[0]
    return widened([settings[c]["lr"] for c in _default_rows(settings, spec)], settings[tuned]["lr"])


def _merged(grid: tuple, spec: tuple, lrs: list[float], paths: np.ndarray, losses: np.ndarray,
            diverged: np.ndarray) -> tuple:
    """``grid`` with the default-knob settings at ``lrs`` added; the default-knob block stays first, sorted by lr."""
    settings = [*grid[0], *({"lr": lr, **_defaults(spec)} for lr in lrs)]
    arrays = [np.concatenate([a, b]) for a, b in zip(grid[1:], (paths, losses, diverged), strict=True)]
    block = sorted(_default_rows(settings, spec), key=lambda c: settings[c]["lr"])
    order = [*block, *(c for c in range(len(settings)) if c not in set(block))]
    return [settings[c] for c in order], *(a[order] for a in arrays)
