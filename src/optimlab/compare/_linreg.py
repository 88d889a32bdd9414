"""The three batch policies, visible: GD, SGD and mini-batch on a two-parameter least-squares fit.

Data: ``n`` points ``u ~ U(-1, 3)``, ``v = 2u - 1 + noise``; parameters ``θ = (w, b)``; loss the half mean
squared error of ``v ≈ w·u + b`` over a batch. Each trial's batch size comes from its preset's batch policy
in the registry (``gd``: all, ``sgd``: one example, ``minibatch``: 32). All trials run as one population;
trials with the same seed see the same shuffled order. The loss drawn is always the full-data loss.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from ..population import Population, Trial
from ..problems.surfaces import Surface, surface_from_callable
from ..registry import get_preset
from ._api import TUNE_GRID
from ._run import ESCAPE_FACTOR, CompareResult, lr_text

if TYPE_CHECKING:
    from .playground import Playground


def make_data(n: int = 1000, seed: int = 0, noise: float = 0.5) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(n, generator=g, dtype=torch.float64) * 4 - 1
    v = 2 * u - 1 + noise * torch.randn(n, generator=g, dtype=torch.float64)
    return u, v


def least_squares_surface(u: Tensor, v: Tensor) -> Surface:
    """The full-data loss as a surface over ``(w, b)``, with its exact minimum (the least-squares solution)."""
    design = torch.stack([u, torch.ones_like(u)], dim=1)
    solution = torch.linalg.lstsq(design, v.unsqueeze(1)).solution.squeeze(1)

    loss = _HalfMeanSquares(u, v)
    w0, b0 = float(solution[0]), float(solution[1])
    return surface_from_callable(
        loss, name="least-squares", domain=((w0 - 3.0, w0 + 2.0), (b0 - 2.5, b0 + 4.5)),
        minima=[(w0, b0)], starts=[(w0 - 2.5, b0 + 4.0)], formula="½·mean((w·u + b − v)²)", log_scale=True,
    )


class _HalfMeanSquares:
    """``(w, b) -> ½·mean((w·u + b − v)²)`` over all the data (a class, so results can cross processes).

    Evaluated from the data's five moments (:func:`_full_loss`), so a contour grid of 120² points costs no pass
    over the data per point (measured: 1.2 s per grid the direct way); the rounding differs from the direct mean
    by about 1e-15, far below anything drawn.
    """

    def __init__(self, u: Tensor, v: Tensor) -> None:
        self.moments = (u * u).mean(), u.mean(), (u * v).mean(), v.mean(), (v * v).mean()

    def __call__(self, w: Tensor, b: Tensor) -> Tensor:
        return _full_loss(w, b, self.moments)


class _Batches:
    """Per seed, an endless stream of shuffled example indices (one permutation per epoch)."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.gen = n, torch.Generator().manual_seed(seed)
        self.order = torch.randperm(n, generator=self.gen)
        self.pos = 0

    def take(self, size: int) -> Tensor:
        if size >= self.n:
            return torch.arange(self.n)
        if self.pos + size > self.n:
            self.order, self.pos = torch.randperm(self.n, generator=self.gen), 0
        out = self.order[self.pos : self.pos + size]
        self.pos += size
        return out


def _batch_loss(theta: Tensor, u: Tensor, v: Tensor, weights: Tensor) -> Tensor:
    r = theta[:, :1] * u + theta[:, 1:] - v
    return 0.5 * (weights * r**2).sum(dim=1)


def batch_policies(
    optimizers: Sequence[str] = ("gd", "sgd", "minibatch"),
    *,
    lr: float = 0.05,
    steps: int = 300,
    n: int = 1000,
    seed: int = 0,
) -> CompareResult:
    """GD (full batch), SGD (one example) and mini-batch paths in parameter space, as one population.

    Losses are drawn against steps, examples seen and wall time. Wall time comes from running each trial
    alone afterwards (a population of one, same math), since inside a population the trials share time.
    """
    if steps < 1:
        raise ValueError(f"Invalid steps={steps!r}: the number of steps must be a positive integer.")
    u, v = make_data(n, seed)
    surf = least_squares_surface(u, v)
    trials = [Trial(get_preset(o).name, {"lr": lr}, seed=seed) for o in optimizers]
    sizes = [t.preset.batch.batch_size(n) for t in trials]
    start = surf.starts[0]
    paths, losses = _run(trials, sizes, u, v, surf, start, steps)
    seconds = np.zeros((len(trials), steps + 1))
    for k, trial in enumerate(trials):
        _, seconds[k] = _run([trial], sizes[k : k + 1], u, v, surf, start, steps, timed=True)
    seen = np.arange(steps + 1)[None, :] * np.array(sizes)[:, None]
    labels = [f"{t.optimizer}: {t.preset.batch.describe()}  lr={lr:g}" for t in trials]
    return CompareResult(
        surf, trials, [lr] * len(trials), [0] * len(trials), [start], paths, losses, [None] * len(trials),
        title="The three batch policies: full batch, one example, mini-batches",
        settings=f"least-squares fit of v ≈ w·u + b on {n} noisy points; same learning rate for all: "
        f"{lr_text({t.optimizer: lr for t in trials})}; {steps} steps; loss drawn is the full-data loss",
        labels=labels, kind="batch", axis_labels=("w (slope)", "b (intercept)"),
        curves_x={"examples seen (log)": seen.astype(float) + 1.0, "wall time, s (log)": seconds + 1e-5},
        story="Full batch: smooth and costly per step. One example: cheap, noisy steps that reach the bottom "
        "after few examples, then jitter. Mini-batches: in between.",
    )


def _run(
    trials: list[Trial], sizes: list[int], u: Tensor, v: Tensor, surf: Surface, start: tuple[float, float],
    steps: int, timed: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    k, n = len(trials), u.numel()
    theta = torch.tensor([start] * k, dtype=torch.float64)
    pop = Population(trials, [theta])
    streams = [_Batches(n, t.seed) for t in trials]
    paths = np.empty((k, steps + 1, 2))
    full = np.empty((k, steps + 1))
    clock = np.zeros(steps + 1)
    began = time.perf_counter()
    for t in range(steps + 1):
        if not timed:
            paths[:, t] = theta.numpy()
            with torch.no_grad():
                full[:, t] = surf(theta).numpy()
        if t == steps:
            break
        with torch.enable_grad():
            leaf = theta.detach().requires_grad_(True)
            if timed:  # one trial: touch only its batch, as a real training loop would
                idx = streams[0].take(sizes[0])
                loss = 0.5 * ((leaf[:, :1] * u[idx] + leaf[:, 1:] - v[idx]) ** 2).mean(dim=1)
            else:
                weights = torch.zeros(k, n, dtype=torch.float64)
                for i, (stream, size) in enumerate(zip(streams, sizes, strict=True)):
                    weights[i, stream.take(size)] = 1.0 / size
                loss = _batch_loss(leaf, u, v, weights)
            (grad,) = torch.autograd.grad(loss.sum(), leaf)
        pop.step([grad], loss.detach())
        clock[t + 1] = time.perf_counter() - began
    return (paths, full) if not timed else (paths, clock)


def batch_playground(
    optimizers: Sequence[str] = ("gd", "sgd", "minibatch"),
    *,
    steps: int = 200,
    n: int = 1000,
    seed: int = 0,
    per_side: int = 3,
    marked_lr: float = 0.05,
) -> Playground:
    """The batch policies at every lr of the tuning grid from a grid of starts, as one population.

    As in :func:`batch_policies`, a trial's batch comes from its preset's policy and trials with the same seed see
    the same shuffled order; here each trial's parameter is the stack of all starts (``theta[K, S, 2]``), every
    start of a trial seeing the same batches. The loss recorded is the full-data loss.
    """
    from .playground import Playground, SeriesGrid, start_grid

    began = time.perf_counter()
    u, v = make_data(n, seed)
    surf = least_squares_surface(u, v)
    starts = start_grid(surf, per_side)
    names = [get_preset(o).name for o in optimizers]
    trials = [Trial(name, {"lr": lr}, seed=seed) for name in names for lr in TUNE_GRID]
    sizes = [t.preset.batch.batch_size(n) for t in trials]
    k, s = len(trials), len(starts)
    theta = torch.tensor(starts, dtype=torch.float64).expand(k, s, 2).clone()
    pop = Population(trials, [theta])
    # Trials with the same batch size and seed draw the same batches: one stream (and one gather) per such group.
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (trial, size) in enumerate(zip(trials, sizes, strict=True)):
        groups.setdefault((size, trial.seed), []).append(i)
    streams = {key: (_Batches(n, key[1]), torch.tensor(rows)) for key, rows in groups.items()}
    paths = np.empty((k, s, steps + 1, 2))
    full = np.empty((k, s, steps + 1))
    moments = _HalfMeanSquares(u, v).moments
    (x0, x1), (y0, y1) = surf.domain
    centre = torch.tensor([(x0 + x1) / 2, (y0 + y1) / 2], dtype=torch.float64)
    radius = ESCAPE_FACTOR * max(x1 - x0, y1 - y0)
    for t in range(steps + 1):
        paths[:, :, t] = theta.numpy()
        w, b = theta[..., 0], theta[..., 1]
        full[:, :, t] = _full_loss(w, b, moments).numpy()
        if t == steps:
            break
        grad = torch.empty_like(theta)
        loss = torch.empty(k, s, dtype=torch.float64)
        for (size, _), (stream, rows) in streams.items():
            idx = stream.take(size)
            if size >= n:  # the full batch: from the data's moments, not a pass over every example
                loss[rows] = torch.from_numpy(full[rows, :, t])
                grad[rows] = _full_grad(w[rows], b[rows], moments)
                continue
            ws, bs = w[rows].unsqueeze(-1), b[rows].unsqueeze(-1)
            r = ws * u[idx] + bs - v[idx]
            loss[rows] = 0.5 * (r**2).mean(dim=2)
            grad[rows] = torch.stack([(r * u[idx]).mean(dim=2), r.mean(dim=2)], dim=-1)
        escaped = ((theta - centre).norm(dim=2) > radius).any(dim=1)  # as run_surface: off to infinity
        pop.step([grad], torch.where(escaped, math.inf, loss.sum(dim=1)))
    diverged = np.array([-1 if d is None else d for d in pop.diverged_at])
    out = Playground(surf, starts, steps, axis_labels=("w (slope)", "b (intercept)"))
    grid = len(TUNE_GRID)
    for j, name in enumerate(names):
        block = slice(j * grid, (j + 1) * grid)
        div = np.repeat(diverged[block, None], s, axis=1)
        p, f = paths[block].copy(), full[block].copy()
        for c in range(grid):
            if div[c, 0] >= 0:  # the population froze the whole trial: its paths end where it diverged
                p[c, :, div[c, 0]:] = np.nan
                f[c, :, div[c, 0]:] = np.nan
        tuned = int(np.argmin([abs(math.log(lr / marked_lr)) for lr in TUNE_GRID]))
        settings = [{"lr": lr} for lr in TUNE_GRID]
        out.series[name] = SeriesGrid(name, settings, p, f, div, tuned, examples_per_step=sizes[j * grid])
    out.seconds = time.perf_counter() - began
    return out


Moments = tuple[Tensor, Tensor, Tensor, Tensor, Tensor]


def _full_loss(w: Tensor, b: Tensor, m: Moments) -> Tensor:
    """½·mean((w·u + b − v)²) expanded in the data's moments E[u²], E[u], E[uv], E[v], E[v²]."""
    uu, u1, uv, v1, vv = m
    return 0.5 * (w * w * uu + 2 * w * b * u1 + b * b - 2 * w * uv - 2 * b * v1 + vv)


def _full_grad(w: Tensor, b: Tensor, m: Moments) -> Tensor:
    """The gradient of :func:`_full_loss` in ``(w, b)``: (E[(w·u + b − v)·u], E[w·u + b − v])."""
    uu, u1, uv, v1, _ = m
    return torch.stack([w * uu + b * u1 - uv, w * u1 + b - v1], dim=-1)
