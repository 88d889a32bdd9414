"""``compare()``: optimizers on a surface, with learning rates given, or tuned by one rule for all; ``lr_sweep()``."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..engine.tuning import Outcome, Selection, at_edge, best_per, lr_grid, rank, widened
from ..population import Trial
from ..problems.expression import parse_surface
from ..problems.surfaces import SURFACES, Point, Surface, get_surface, surface_from_callable
from ..registry import SET_DOCS, get_preset, resolve_set
from ._run import CompareResult, lr_text, run_surface, timed

CLASSIC = ("gd", "momentum", "adagrad", "rmsprop", "adadelta", "adam")
"""The default optimizers on a surface (sgd and minibatch equal gd there: a surface has no data)."""

TUNE_GRID: tuple[float, ...] = tuple(lr_grid(1e-4, 10.0, 21, digits=3))
"""The learning-rate grid ``--tune`` searches for every optimizer: 1e-4 ... 10, four values per decade."""

SELECTION_RULE = Selection("tuning_score", smaller_lr_wins_ties=True)
"""compare's "best": the lowest mean tuning score (:func:`tuning_scores`) over starts and seeds; a learning
rate with a diverged run ranks last; ties, and an optimizer that diverged everywhere, go to the smaller lr."""

TUNE_CRITERION = (
    "lowest mean log10(loss - f*) over the second half of the steps, averaged over starts; diverged runs excluded"
)


def resolve_surface(surface: str | Surface | Callable[..., Any], domain: Any = None) -> Surface:
    """A built-in name, a formula in x and y, a :class:`Surface`, or a Python callable ``f(x, y)``."""
    if isinstance(surface, Surface):
        return surface
    if callable(surface):
        kwargs = {"domain": domain} if domain is not None else {}
        return surface_from_callable(surface, name=getattr(surface, "__name__", "custom"), **kwargs)
    if not isinstance(surface, str):
        raise ValueError(f"Invalid surface {surface!r}: give a name, a formula in x and y, or a callable.")
    key = surface.strip().lower().replace("_", "-")
    if key in SURFACES:
        return SURFACES[key]
    if key.replace("-", "").isidentifier() and key not in ("x", "y"):
        get_surface(surface)  # raises the did-you-mean error for a misspelt name
    kwargs = {"domain": domain} if domain is not None else {}
    return parse_surface(surface, **kwargs)


def _optimizer_names(optimizers: str | Sequence[str]) -> list[str]:
    if isinstance(optimizers, str):
        return resolve_set(optimizers)
    names = [get_preset(n).name for n in optimizers]
    if not names:
        raise ValueError(f"No optimizer named: give at least one name or set ({', '.join(SET_DOCS)}).")
    return list(dict.fromkeys(names))


def _check_steps(steps: int) -> None:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"Invalid steps={steps!r}: the number of steps must be a positive integer.")


def _starts(surface: Surface, starts: Sequence[Point] | None) -> list[Point]:
    chosen = [tuple(map(float, p)) for p in starts] if starts else [surface.starts[0]]
    for p in chosen:
        surface.check_start(p)
    return [(p[0], p[1]) for p in chosen]


def compare(
    optimizers: str | Sequence[str] = CLASSIC,
    surface: str | Surface | Callable[..., Any] = "rosenbrock",
    *,
    lr: float | Mapping[str, float] | None = None,
    steps: int = 200,
    starts: Sequence[Point] | None = None,
    seeds: Sequence[int] = (0,),
    noise: float = 0.0,
    tune: bool | None = None,
    hypers: Mapping[str, Mapping[str, Any]] | None = None,
    tol: float = 1e-3,
    domain: Any = None,
    progress: bool | None = None,
) -> CompareResult:
    """Run ``optimizers`` on ``surface`` as one population and return the paths, losses and summary.

    ``lr``: one learning rate for all, a mapping ``{name: lr}`` (others keep their preset default), or ``None``
    to tune: fair by default, every optimizer gets the same log grid (:data:`TUNE_GRID`) and step budget, all
    run as one population, and the best by :data:`TUNE_CRITERION` is kept. ``starts`` are start points (default:
    the surface's customary one); ``seeds`` with ``noise > 0`` give noisy-gradient repeats. ``hypers`` adds
    per-optimizer overrides (``{"momentum": {"momentum": 0.8}}``).
    """
    names = _optimizer_names(optimizers)
    surf = resolve_surface(surface, domain)
    _check_steps(steps)
    points = _starts(surf, starts)
    seed_list = [int(s) for s in seeds] or [0]
    if noise < 0 or not math.isfinite(noise):
        raise ValueError(f"Invalid noise={noise!r}: the gradient noise must be a finite number >= 0.")
    extra = {n: dict((hypers or {}).get(n, {})) for n in names}
    if tune is None:
        tune = lr is None
    if tune and lr is not None:
        raise ValueError("Give either learning rates or tune=True, not both: tuning chooses the learning rates.")
    for n in extra:
        get_preset(n).hypers(**extra[n])  # validates names and values up front
    if tune:
        return _tuned(names, surf, points, seed_list, steps, noise, extra, tol, progress)
    chosen = _given_lrs(names, lr)
    trials, start_index, lrs = [], [], []
    for n in names:
        get_preset(n).hypers(lr=chosen[n], **extra[n])
        for i in range(len(points)):
            for s in seed_list:
                trials.append(Trial(n, {**extra[n], "lr": chosen[n]}, seed=s))
                start_index.append(i)
                lrs.append(chosen[n])
    (paths, losses, diverged), seconds = timed(
        run_surface, surf, trials, points, start_index, steps, noise=noise, progress=progress
    )
    how = "learning rates set by hand" if lr is not None else "preset default learning rates"
    settings = f"{how}: {lr_text(chosen)}; {steps} steps"
    return CompareResult(
        surf, trials, lrs, start_index, points, paths, losses, diverged,
        title=f"{surf.title}: {', '.join(names)}", settings=settings, tol=tol, seconds=seconds,
    )


def _given_lrs(names: list[str], lr: float | Mapping[str, float] | None) -> dict[str, float]:
    if isinstance(lr, Mapping):
        unknown = [k for k in lr if get_preset(k).name not in names]
        if unknown:
            raise ValueError(f"Learning rate given for {unknown[0]!r}, which is not among the optimizers compared.")
        given = {get_preset(k).name: float(v) for k, v in lr.items()}
        return {n: given.get(n, float(get_preset(n).defaults()["lr"])) for n in names}
    if lr is None:
        return {n: float(get_preset(n).defaults()["lr"]) for n in names}
    return dict.fromkeys(names, float(lr))


def _tuned(
    names: list[str],
    surf: Surface,
    points: list[Point],
    seeds: list[int],
    steps: int,
    noise: float,
    extra: dict[str, dict[str, Any]],
    tol: float,
    progress: bool | None,
) -> CompareResult:
    grids = {n: list(TUNE_GRID) for n in names}
    trials: list[Trial] = []
    start_index: list[int] = []
    lrs: list[float] = []
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    diverged: list[int | None] = []
    seconds = 0.0
    todo = dict(grids)
    while todo:  # the grid, then a decade more beyond any edge a best rate sits on (widened)
        batch: list[Trial] = []
        for n, values in todo.items():
            for lr in values:
                for i in range(len(points)):
                    for s in seeds:
                        batch.append(Trial(n, {**extra[n], "lr": lr}, seed=s))
                        start_index.append(i)
                        lrs.append(lr)
        (p, loss, div), took = timed(
            run_surface, surf, batch, points, start_index[len(trials):], steps, noise=noise, progress=progress
        )
        trials += batch
        parts.append((p, loss))
        diverged += div
        seconds += took
        best = _best(surf, trials, lrs, np.concatenate([q[1] for q in parts]), diverged, names)
        todo = {}
        for n in names:
            more = widened(grids[n], best[n])
            if more:
                grids[n] += more
                todo[n] = more
    paths = np.concatenate([q[0] for q in parts])
    losses = np.concatenate([q[1] for q in parts])
    keep = [k for n in names for k, t in enumerate(trials) if t.optimizer == n and lrs[k] == best[n]]
    wide = {n: g for n, g in grids.items() if len(g) > len(TUNE_GRID)}
    widening = "".join(f"; widened for {n} to {min(g):g}…{max(g):g}" for n, g in wide.items())
    edge = [n for n in names if at_edge(grids[n], best[n])]
    settings = (
        f"learning rates tuned, same rule for all: {lr_text(best)}; grid {TUNE_GRID[0]:g}…{TUNE_GRID[-1]:g} "
        f"({len(TUNE_GRID)} log-spaced){widening}, {steps} steps, criterion: {TUNE_CRITERION}"
        + (f"; at the edge of its grid: {', '.join(edge)}" if edge else "")
    )
    return CompareResult(
        surf, [trials[i] for i in keep], [lrs[i] for i in keep], [start_index[i] for i in keep], points,
        paths[keep], losses[keep], [diverged[i] for i in keep],
        title=f"{surf.title}: {', '.join(names)}", settings=settings, tol=tol, seconds=seconds,
    )


def _best(surf: Surface, trials: list[Trial], lrs: list[float], losses: np.ndarray, diverged: list[int | None],
          names: list[str]) -> dict[str, float]:
    score = tuning_scores(surf, losses, diverged)
    outcomes = [Outcome((t.optimizer, lrs[k]), lrs[k], {"tuning_score": float(score[k])}) for k, t in enumerate(trials)]
    chosen = best_per(outcomes, SELECTION_RULE, group=lambda config: config[0])
    return {n: float(chosen[n].lr or TUNE_GRID[0]) for n in names}


def tuning_scores(surf: Surface, losses: np.ndarray, diverged: list[int | None]) -> np.ndarray:
    """Per trial: mean of log10(loss - f*) over the second half of the steps (lower is better); diverged: ``inf``.

    The second half rewards getting to the bottom and staying there, not a lucky jump early in the run.

    f* is the surface's known minimum value, or the lowest loss any trial reached when none is known.
    """
    ok = np.array([d is None for d in diverged])
    f_star = surf.min_value
    if f_star is None:
        finite = losses[ok] if ok.any() else losses
        f_star = float(np.nanmin(finite)) if np.isfinite(finite).any() else 0.0
    gap = np.maximum(losses - f_star, 1e-12)
    score = np.log10(gap[:, gap.shape[1] // 2 :]).mean(axis=1)
    score[~ok | ~np.isfinite(score)] = np.inf
    return score


def lr_sweep(
    optimizer: str = "gd",
    surface: str | Surface | Callable[..., Any] = "bowl",
    *,
    lrs: Sequence[float] | None = None,
    steps: int = 60,
    start: Point | None = None,
    hypers: Mapping[str, Any] | None = None,
    tol: float = 1e-3,
    progress: bool | None = None,
) -> CompareResult:
    """One optimizer at several learning rates on one picture: too small, good, too large (oscillates, diverges).

    Without ``lrs`` the whole tuning grid runs as one population and four are picked from it: the best by the
    tuning criterion, one 30x smaller, the largest that still does not diverge, and the smallest that does.
    A diverging path is frozen and marked; it never stops the run or changes the other paths.
    """
    name = get_preset(optimizer).name
    surf = resolve_surface(surface)
    _check_steps(steps)
    points = _starts(surf, [start] if start is not None else None)
    extra = dict(hypers or {})
    grid = [float(v) for v in lrs] if lrs else list(TUNE_GRID)
    if not grid or any(not (v > 0 and math.isfinite(v)) for v in grid):
        raise ValueError(f"Invalid learning rates {grid}: each must be a finite number > 0.")
    trials = [Trial(name, {**extra, "lr": v}) for v in grid]
    (paths, losses, diverged), seconds = timed(
        run_surface, surf, trials, points, [0] * len(grid), steps, progress=progress
    )
    if lrs:
        keep = list(range(len(grid)))
        roles = ["" for _ in grid]
    else:
        keep, roles = _pick_sweep(surf, losses, diverged)
    notes = []
    labels = []
    for i, role in zip(keep, roles, strict=True):
        d = diverged[i]
        tail = f", diverged at step {d}" if d is not None else ""
        labels.append(f"lr={grid[i]:.3g}" + (f" ({role}{tail})" if role or tail else ""))
        if d is not None:
            notes.append(f"lr={grid[i]:.3g} diverged at step {d}: its path ends at the × marker")
    cmap = ["#0072B2", "#009E73", "#E69F00", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#882255"]
    how = "chosen from the tuning grid" if not lrs else "set by hand"
    return CompareResult(
        surf, [trials[i] for i in keep], [grid[i] for i in keep], [0] * len(keep), points, paths[keep],
        losses[keep], [diverged[i] for i in keep],
        title=f"The learning rate, visible: {name} on {surf.title.lower()}",
        settings=f"learning rates {how}; {steps} steps from ({points[0][0]:g}, {points[0][1]:g})",
        tol=tol, colors=[cmap[j % len(cmap)] for j in range(len(keep))], labels=labels, kind="lr-sweep",
        notes=notes, seconds=seconds,
    )


def _pick_sweep(surf: Surface, losses: np.ndarray, diverged: list[int | None]) -> tuple[list[int], list[str]]:
    score = tuning_scores(surf, losses, diverged)
    ranked = rank([Outcome(i, None, {"tuning_score": float(v)}) for i, v in enumerate(score)], SELECTION_RULE)
    good = int(ranked[0].config)
    small = max(0, good - 6)  # six grid steps = 10**1.5 ≈ 30x smaller
    stable = [i for i in range(len(diverged)) if diverged[i] is None]
    bad = [i for i in range(good + 1, len(diverged)) if diverged[i] is not None]
    picks = [(small, "too small: crawls"), (good, "good")]
    if bad:
        below = [i for i in stable if good < i < bad[0]]
        if below and below[-1] != good:
            picks.append((below[-1], "large: oscillates"))
        picks.append((bad[0], "too large"))
    elif stable and stable[-1] > good:
        picks.append((stable[-1], "too large: oscillates"))
    seen: dict[int, str] = {}
    for i, role in picks:
        seen.setdefault(i, role)
    return list(seen), list(seen.values())
