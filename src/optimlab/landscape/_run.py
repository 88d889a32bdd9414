"""Tune each optimizer on a small real network, train the tuned settings again recording every step's
parameters, and cut the loss along two planes through the solution with every path projected on them."""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from .._mnist1d import LESSON_SAMPLES
from .._threads import torch_threads
from ..engine import PopulationExecutor, run_trials
from ..engine.tuning import widened
from ..errors import UserError
from ..population import Trial
from ..problems.base import Params, Problem
from ._slice import filter_normalized, grid, in_plane_share, losses_at, pca_directions, plane_points, project, unflatten

if TYPE_CHECKING:
    import pandas as pd

OPTIMIZERS = ("minibatch", "momentum", "adagrad", "rmsprop", "adadelta", "adam")
"""The classic family, one batch size for all (GD and SGD are mini-batch's rule with other batch sizes)."""

LR_GRID = tuple(float(10.0 ** (k / 2 - 3)) for k in range(9))
"""Every optimizer's learning rates while tuning: 1e-3 … 10 in half-decades, widened by three decades wherever a
best rate sits at an end (:func:`~optimlab.engine.tuning.widened`; AdaDelta's reaches 10 on the full landscape)."""

LOSS_POINTS = 60
"""Points of each path at which the true loss and its shadow's loss are computed (evenly spaced steps)."""


@dataclass
class Slice:
    """The loss on a plane ``θ* + a·d₁ + b·d₂`` and every optimizer's path projected on it."""

    kind: str
    """``"pca"`` (the paths' principal directions) or ``"random"`` (filter-normalized random directions)."""
    a: np.ndarray
    b: np.ndarray
    losses: np.ndarray
    """``[len(b), len(a)]``: the loss at each grid point."""
    paths: dict[str, np.ndarray]
    """Optimizer -> ``[T + 1, 2]``: its recorded points' plane coordinates."""
    shadow_losses: dict[str, np.ndarray]
    """Optimizer -> the loss at its projected points at :attr:`LandscapeResult.loss_steps` (the loss *on the
    plane* under the path, not where the path was); empty for a random slice, whose shadows all sit near θ*."""
    in_plane: dict[str, float]
    """Optimizer -> share of its path's squared distance from ``θ*`` that the plane keeps."""
    explained: tuple[float, float] | None = None
    """For a PCA slice: the share of all paths' squared distance from ``θ*`` along d₁ and d₂."""
    grid_paths: dict[str, np.ndarray] = field(default_factory=dict)
    """Optimizer -> ``[len(lr_grid), T + 1, 2]``: the run at every learning rate of the grid projected on the plane
    (the plane is chosen from the tuned paths; the others may lie farther off it)."""


@dataclass
class LandscapeResult:
    """What :func:`landscape` measured; ``save(out_dir, lang)`` writes the figure and ``landscape.html``."""

    problem: str
    description: str
    steps: int
    batch_size: int
    seed: int
    lr_grid: tuple[float, ...]
    valid_loss: dict[str, np.ndarray]
    """Optimizer -> ``[len(lr_grid)]``: final validation loss at each learning rate (NaN if the trial diverged)."""
    chosen: dict[str, float]
    center: str
    """The optimizer whose final parameters are the slices' centre θ* (the lowest validation loss)."""
    loss_steps: np.ndarray
    """The steps at which :attr:`path_losses` and the shadows' losses are computed."""
    path_losses: dict[str, np.ndarray]
    """Optimizer -> the true loss at :attr:`loss_steps` (on the slice's examples)."""
    slices: list[Slice]
    examples: int
    parameters: int
    seconds: dict[str, float] = field(default_factory=dict)
    train_loss: dict[str, np.ndarray] = field(default_factory=dict)
    """Optimizer -> ``[len(lr_grid), T]``: each run's loss on its own mini-batch before each update."""
    step_length: dict[str, np.ndarray] = field(default_factory=dict)
    """Optimizer -> ``[len(lr_grid), T]``: ‖θₜ₊₁ − θₜ‖ over all parameters (not the projection's)."""
    diverged: dict[str, list[int]] = field(default_factory=dict)
    """Optimizer -> per learning rate, the step at which the run diverged, or -1."""
    train_examples: int = 0

    @property
    def tuning(self) -> pd.DataFrame:
        """One row per optimizer × lr: final validation loss (NaN if the trial diverged), as a DataFrame."""
        import pandas as pd

        rows = [{"optimizer": o, "lr": lr, "valid_loss": float(v[i]), "diverged": bool(np.isnan(v[i]))}
                for o, v in self.valid_loss.items() for i, lr in enumerate(self.lr_grid)]
        return pd.DataFrame(rows)

    def save(self, out_dir: str | Path = "optimlab-landscape", lang: str = "en") -> dict[str, Path]:
        """Write ``landscape.png`` and the offline page ``landscape.html`` (in ``lang``) into ``out_dir``."""
        from ..report.landscape import write_landscape

        return write_landscape(self, out_dir, lang)


class _Recording(Problem):
    """``problem`` as the engine sees it, keeping a copy of the K trials' parameters each time it is asked for their
    loss (once per step, before the update) or for an evaluation (after the last step)."""

    def __init__(self, problem: Problem, k: int) -> None:
        self.inner, self.k = problem, k
        self.name, self.data = problem.name, problem.data
        self.default_steps, self.default_batch_size = problem.default_steps, problem.default_batch_size
        self.metric_goals = problem.metric_goals
        self.frames: list[Tensor] = []
        self._starts: dict[int, Params] = {}

    def _record(self, params: Params) -> None:
        if next(iter(params.values())).shape[0] == self.k:  # calls with another K are the engine's memory probe
            self.frames.append(torch.cat([p.detach().reshape(self.k, -1) for p in params.values()], 1).clone())

    def init_params(self, seed: int) -> Params:
        # every trial here starts from the same seed: build the module once, not once per trial (each build reseeds
        # torch, which walks every device's lazy seeding: ~5 ms a trial)
        if seed not in self._starts:
            self._starts[seed] = self.inner.init_params(seed)
        return {name: p.clone() for name, p in self._starts[seed].items()}

    def losses(self, params: Params, inputs: Tensor, targets: Tensor) -> Tensor:
        self._record(params)
        return self.inner.losses(params, inputs, targets)

    def shared_losses(self, params: Params, inputs: Tensor, targets: Tensor) -> Tensor:
        self._record(params)
        return self.inner.shared_losses(params, inputs, targets)

    def evaluate(self, params: Params, split: str, max_examples: int | None = None) -> dict[str, Tensor]:
        self._record(params)
        return self.inner.evaluate(params, split, max_examples)


def default_problem() -> Problem:
    """The MNIST-1D MLP of the catalog, narrowed to 32 hidden units (2,698 parameters) so the page takes seconds."""
    from ..problems.catalog import get_problem

    return get_problem("mnist1d-mlp", hidden=32)


LESSON: dict[str, int] = {"hidden": 32, "num_samples": LESSON_SAMPLES, "n_valid": 100, "steps": 60, "batch_size": 32,
                          "points": 25, "examples": 256}
"""The lesson page's real network, small enough to train in about a second beside the surfaces: the MNIST-1D MLP
with 32 hidden units on 600 generated examples (380 to train, 100 to validate), every optimizer at every rate of
:data:`LR_GRID` for 60 steps of batch 32 as one population, and the PCA slice only, 25 × 25 points on 256
examples. `optimlab landscape` runs the full-size one (5,000 examples, 200 steps, both slices)."""


def lesson_landscape() -> LandscapeResult:
    """:func:`landscape` at the :data:`LESSON` preset (the classic optimizers, the PCA slice)."""
    from ..problems.catalog import get_problem

    p = LESSON
    problem = get_problem("mnist1d-mlp", hidden=p["hidden"], num_samples=p["num_samples"], n_valid=p["n_valid"])
    problem = dataclasses.replace(problem, loss_fn=_cross_entropy)  # type: ignore[type-var]
    return landscape(problem, steps=p["steps"], batch_size=p["batch_size"], points=p["points"],
                     examples=p["examples"], kinds=("pca",), along=False)


def _cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy as log-softmax and gather: F.cross_entropy's number (to float rounding), but under vmap
    these have batching rules of their own, while F.cross_entropy runs its Python decomposition, whose first call
    imports sympy (about a second) and every call of which costs more."""
    return -logits.log_softmax(-1).gather(-1, targets.unsqueeze(-1)).mean()


def landscape(
    problem: Problem | None = None,
    optimizers: Sequence[str] = OPTIMIZERS,
    *,
    steps: int = 200,
    batch_size: int = 128,
    seed: int = 0,
    lr_grid: Sequence[float] = LR_GRID,
    points: int = 31,
    examples: int = 512,
    kinds: Sequence[str] = ("pca", "random"),
    along: bool = True,
) -> LandscapeResult:
    """Tune, record and slice (see the module docstring); every optimizer starts from the same weights (``seed``).

    The learning rate of each optimizer is the one of ``lr_grid`` with the lowest validation loss after ``steps``
    steps; ``points`` × ``points`` grid points per slice; losses on the first ``examples`` training examples;
    ``kinds``: which slices (``"pca"``, ``"random"``); ``along``: also the loss along each path and under its shadow
    on the PCA plane (the landscape page's second figure; the lesson page does without)."""
    # One intra-op thread, as the study and the advisor: on a network this small a second thread costs more in
    # hand-offs than it computes (`optimlab landscape` here: 303 s wall with torch's two threads, 91 s with one, run
    # one after the other at a load average of 12-13 on two cores).
    if not kinds or any(k not in ("pca", "random") for k in kinds):
        raise UserError(f"Invalid slice kinds {list(kinds)}: give \"pca\", \"random\" or both.")
    with torch_threads(1):
        return _landscape(default_problem() if problem is None else problem, list(dict.fromkeys(optimizers)), steps,
                          batch_size, seed, lr_grid, points, examples, tuple(dict.fromkeys(kinds)), along)


def _landscape(problem: Problem, names: list[str], steps: int, batch_size: int, seed: int, lr_grid: Sequence[float],
               points: int, examples: int, kinds: tuple[str, ...], along: bool) -> LandscapeResult:
    if len(names) < 2 or len(lr_grid) < 2:
        raise UserError("A landscape needs at least two optimizers and at least two learning rates to tune on.")
    if steps < 2 or points < 3:
        raise UserError(f"Invalid steps={steps} or points={points}: need at least 2 steps and 3 grid points.")
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    grid_lrs = sorted({float(v) for v in lr_grid})
    per_decade = max(1, round(1 / math.log10(min(b / a for a, b in itertools.pairwise(grid_lrs)))))
    runs = _train_recorded(problem, names, grid_lrs, steps, batch_size, seed)
    while True:  # a best rate at an edge of the grid: every optimizer runs the decades beyond it too (widened)
        n = len(grid_lrs)
        valid_loss = {o: runs.final[i * n : (i + 1) * n] for i, o in enumerate(names)}
        chosen = _choose(valid_loss, grid_lrs)
        more = sorted({lr for o in names for lr in widened(grid_lrs, chosen[o], per_decade)})
        if not more:
            break
        runs = runs.merged(_train_recorded(problem, names, more, steps, batch_size, seed), names, grid_lrs, more)
        grid_lrs = sorted([*grid_lrs, *more])
    final, frames = runs.final, runs.frames
    rows = [i * n + grid_lrs.index(chosen[o]) for i, o in enumerate(names)]
    trajectory = frames[rows]
    seconds["tuning and recording"] = time.perf_counter() - started

    started = time.perf_counter()
    valid = final[rows]
    best = int(np.nanargmin(np.where(np.isfinite(valid), valid, np.inf)))
    like = problem.init_params(seed)
    center = trajectory[best, -1]
    inputs, targets = problem.data.train.take(torch.arange(min(examples, len(problem.data.train))))
    paths = {o: trajectory[k] for k, o in enumerate(names)}
    at = np.unique(np.linspace(0, steps, min(LOSS_POINTS, steps + 1)).round().astype(int))
    if not along:
        at = at[:0]
    path_losses = {o: losses_at(problem, p[at], like, inputs, targets) for o, p in paths.items()} if along else {}
    every = {o: frames[i * n : (i + 1) * n] for i, o in enumerate(names)}
    slices = []
    if "pca" in kinds:
        pca, share = pca_directions(trajectory.reshape(-1, trajectory.shape[-1]), center)
        slices.append(_slice("pca", problem, center, pca, paths, like, (inputs, targets), points,
                             at if along else None, (float(share[0]), float(share[1])), every))
    if "random" in kinds:
        generator = torch.Generator().manual_seed(seed + 1)
        center_params = {k: v[0] for k, v in unflatten(center.unsqueeze(0), like).items()}
        random = torch.stack([filter_normalized(center_params, generator) for _ in range(2)])
        slices.append(_slice("random", problem, center, random, paths, like, (inputs, targets), points, None, None,
                             every))
    seconds["slices"] = time.perf_counter() - started
    loss = runs.train_loss
    lengths = torch.linalg.vector_norm(frames.diff(dim=1), dim=2).numpy()
    div = runs.diverged
    return LandscapeResult(
        problem=problem.name, description=str(getattr(problem, "description", "")), steps=steps,
        batch_size=batch_size, seed=seed, lr_grid=tuple(grid_lrs), valid_loss=valid_loss, chosen=chosen,
        center=names[best], loss_steps=at, path_losses=path_losses, slices=slices, examples=len(inputs),
        parameters=int(center.numel()), seconds=seconds,
        train_loss={o: loss[i * n : (i + 1) * n] for i, o in enumerate(names)},
        step_length={o: lengths[i * n : (i + 1) * n] for i, o in enumerate(names)},
        diverged={o: div[i * n : (i + 1) * n] for i, o in enumerate(names)}, train_examples=len(problem.data.train),
    )


@dataclass
class _Runs:
    """Every optimizer × learning rate trained and recorded, optimizer-major (all rates of the first, then ...)."""

    final: np.ndarray
    """``[K]``: the final validation loss (NaN where the run diverged)."""
    frames: Tensor
    """``[K, T + 1, D]``: the parameters at every step."""
    train_loss: np.ndarray
    diverged: list[int]

    def merged(self, other: _Runs, names: list[str], lrs: list[float], more: list[float]) -> _Runs:
        """These runs and ``other`` (at the rates ``more``) as one set, each optimizer's rates in increasing order."""
        n, m = len(lrs), len(more)
        order = sorted(range(n + m), key=lambda j: (lrs + more)[j])
        index = [j + i * n if j < n else len(names) * n + i * m + (j - n) for i in range(len(names)) for j in order]
        return _Runs(np.concatenate([self.final, other.final])[index], torch.cat([self.frames, other.frames])[index],
                     np.concatenate([self.train_loss, other.train_loss])[index],
                     [(self.diverged + other.diverged)[k] for k in index])


def _train_recorded(problem: Problem, names: list[str], lrs: list[float], steps: int, batch_size: int,
                    seed: int) -> _Runs:
    """One population tunes and records at once: the tuned trial's path is the path of that very run."""
    trials = [Trial(o, {"lr": lr}, seed=seed, batch_size=batch_size) for o in names for lr in lrs]
    recorder = _Recording(problem, len(trials))
    tuned = run_trials(recorder, trials, steps, executor=PopulationExecutor(), eval_splits=("valid",))
    if len(recorder.frames) != steps + 1:
        raise RuntimeError(f"Recorded {len(recorder.frames)} parameter sets for {steps} steps: the executor did not "
                           "ask for every step's loss once (is the batch split into micro-batches?).")
    final = tuned.final("valid").numpy().astype(float)
    gone = np.array([d is not None for d in tuned.diverged_at])
    final[gone | ~np.isfinite(final)] = math.nan
    return _Runs(final, torch.stack(recorder.frames, 1), tuned.train_loss.numpy(),
                 [-1 if d is None else int(d) for d in tuned.diverged_at])


def _choose(valid_loss: Mapping[str, np.ndarray], lrs: Sequence[float]) -> dict[str, float]:
    chosen: dict[str, float] = {}
    for o, values in valid_loss.items():
        if not np.isfinite(values).any():
            raise UserError(f"Every learning rate tried for {o} diverged: give it a lower lr_grid.")
        chosen[o] = float(lrs[int(np.nanargmin(values))])
    return chosen


def _slice(kind: str, problem: Problem, center: Tensor, directions: Tensor, paths: Mapping[str, Tensor],
           like: Params, batch: tuple[Tensor, Tensor], points: int, shadow_at: np.ndarray | None,
           explained: tuple[float, float] | None, runs_by: Mapping[str, Tensor]) -> Slice:
    """A PCA slice spans the paths (with a margin, square); a random one ±1 along each filter-normalized direction."""
    coords = {o: project(p, center, directions) for o, p in paths.items()}
    if kind == "pca":
        every = torch.cat(list(coords.values()))
        low, high = every.min(0).values.clamp(max=0.0), every.max(0).values.clamp(min=0.0)
        # A square window (the longer extent on both axes), so the map keeps the plane's true distances.
        half = 0.5 * 1.3 * float((high - low).max())
        mid = 0.5 * (low + high)
        lows, highs = (mid - half).tolist(), (mid + half).tolist()
    else:
        lows, highs = [-1.0, -1.0], [1.0, 1.0]
    a, b, at = grid(lows, highs, points)
    values = losses_at(problem, plane_points(center, directions, at), like, *batch)
    shadows = {} if shadow_at is None else {
        o: losses_at(problem, plane_points(center, directions, c[shadow_at]), like, *batch) for o, c in coords.items()}
    return Slice(kind=kind, a=a, b=b, losses=values.reshape(len(b), len(a)),
                 paths={o: c.numpy() for o, c in coords.items()}, shadow_losses=shadows,
                 in_plane={o: in_plane_share(p, center, directions) for o, p in paths.items()}, explained=explained,
                 grid_paths={o: project(runs.reshape(-1, runs.shape[-1]), center, directions)
                             .reshape(runs.shape[0], runs.shape[1], 2).numpy() for o, runs in runs_by.items()})
