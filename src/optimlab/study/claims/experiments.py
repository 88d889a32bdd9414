"""The measurements behind the claims, every one run through the sweep (or, for timing, ``run_trials``).

* :func:`grid_run`: every optimizer at every learning rate and seed, as one sweep;
* :func:`update_sizes`: per step, each trial's batch loss and its update size ``‖θ(t+1) − θ(t)‖`` — the engine
  evaluates every step on the problem wrapped by :class:`UpdateSizeProblem`, whose extra metric is the update;
* :func:`policy_run`, :func:`step_seconds`: one batch policy's curves, and seconds per step measured in turns;
* :func:`noise_level`, :func:`zigzag`: what the batch-policy and momentum claims read from curves and paths.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ...engine import Config, PopulationExecutor, run_sweep, run_trials
from ...engine.executor import Executor
from ...engine.tuning import rank
from ...population import Trial
from ...problems.base import Params, Problem
from ...training import stack_params
from ._common import SELECTION_RULE, GridRun


def init_loss(problem: Problem, seeds: Sequence[int]) -> float:
    """Mean validation loss of the initial weights over ``seeds``."""
    params = stack_params([problem.init_params(s) for s in seeds])
    return float(problem.evaluate(params, "valid")["loss"].mean())


def grid_run(problem: Problem, optimizers: Sequence[str], grid: Sequence[float], seeds: Sequence[int],
             steps: int | Sequence[int], executor: Executor | None = None) -> dict[int, GridRun]:
    """Every optimizer at every lr of ``grid`` and every seed, as one sweep run for the longest of ``steps`` and
    read at each of them (the same runs, evaluated every gcd of the budgets); per budget and (optimizer, lr) the
    median validation loss over seeds (NaN when a seed diverged by then), by :data:`SELECTION_RULE`."""
    budgets = sorted({int(steps)} if isinstance(steps, int) else {int(s) for s in steps})
    cells = [(o, lr) for o in optimizers for lr in grid]
    sweep = run_sweep(problem, [Config(o, {"lr": lr}) for o, lr in cells], seeds, budgets[-1], executor=executor,
                      eval_every=math.gcd(*budgets), eval_splits=("valid",))
    seconds = sum(rec.seconds for rec in sweep.records)
    l0 = init_loss(problem, seeds)
    out: dict[int, GridRun] = {}
    for b in budgets:
        ranked = rank(sweep.outcomes(at_step=b), SELECTION_RULE)
        loss = {cells[int(r.config)]: r.score for r in ranked}
        spread = {cells[int(r.config)]: r.spread for r in ranked}
        out[b] = GridRun(problem.name, tuple(optimizers), tuple(grid), loss, l0, seconds, b, spread, len(seeds),
                         len(problem.data.train), len(problem.data.valid))
    return out


class UpdateSizeProblem(Problem):
    """``problem`` with one more evaluation metric, ``update``: each trial's ``‖θ − θ_before‖`` since the previous
    evaluation (or since its initial parameters). Evaluated every step, it traces every update's size.

    It follows one population of ``trials`` (in that order) through one engine run: the engine must not cut
    them into chunks (a mismatch raises), which :func:`update_sizes` ensures.
    """

    def __init__(self, problem: Problem, trials: Sequence[Trial]) -> None:
        self.inner = problem
        self.name, self.data = problem.name, problem.data
        self.default_steps, self.default_batch_size = problem.default_steps, problem.default_batch_size
        self.metric_goals = {**problem.metric_goals, "update": "min"}
        self._before = _flat(stack_params([problem.init_params(t.seed) for t in trials]))

    def init_params(self, seed: int) -> Params:
        return self.inner.init_params(seed)

    def losses(self, params: Params, inputs: Tensor, targets: Tensor) -> Tensor:
        return self.inner.losses(params, inputs, targets)

    def shared_losses(self, params: Params, inputs: Tensor, targets: Tensor) -> Tensor:
        return self.inner.shared_losses(params, inputs, targets)

    def evaluate(self, params: Params, split: str, max_examples: int | None = None) -> dict[str, Tensor]:
        values = self.inner.evaluate(params, split, max_examples)
        now = _flat(params)
        if now.shape != self._before.shape:
            raise RuntimeError("UpdateSizeProblem follows one whole population; the engine split it into chunks.")
        values["update"] = torch.linalg.vector_norm(now - self._before, dim=1)
        self._before = now
        return values


def _flat(params: Params) -> Tensor:
    return torch.cat([p.detach().reshape(len(p), -1).double() for _, p in sorted(params.items())], dim=1)


def update_sizes(problem: Problem, configs: Sequence[Config], seed: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Train ``configs`` on ``seed`` as one population; per step, each trial's batch loss before its update and
    the update's size ``‖Δθ‖`` (NaN once a trial diverged and was frozen)."""
    trials = [c.trial(seed) for c in configs]
    traced = UpdateSizeProblem(problem, trials)
    one_chunk = PopulationExecutor(memory_budget=2**62)
    sweep = run_sweep(traced, configs, [seed], steps, executor=one_chunk, eval_every=1, eval_splits=("valid",),
                      max_eval_examples=1)
    losses = np.stack([rec.train_loss.numpy() for rec in sweep.records]).astype(float)
    moves = np.stack([rec.curve("valid", "update").numpy() for rec in sweep.records]).astype(float)
    return losses, moves


def policy_run(problem: Problem, name: str, lr: float, steps: int, eval_every: int) -> dict[str, Any]:
    """One batch policy alone at ``lr``: its validation and training curves, bytes per trial and batch size."""
    (rec,) = run_sweep(problem, [Config(name, {"lr": lr})], [0], steps, eval_every=eval_every,
                       eval_splits=("valid",)).records
    return {"eval_steps": rec.result.eval_steps, "valid": rec.curve("valid").numpy(), "train": rec.train_loss.numpy(),
            "bytes": rec.result.bytes_per_trial, "batch": rec.batch_size, "diverged": rec.diverged_at}


class _Clock:
    """Time stamps of a run's steps, from its progress callback."""

    def __init__(self) -> None:
        self.stamps = [time.perf_counter()]

    def tick(self, done: int, total: int) -> None:
        self.stamps.append(time.perf_counter())


def step_seconds(problem: Problem, trials: Mapping[str, Trial], rounds: int = 5, steps: int = 20) -> dict[str, float]:
    """Seconds per training step of each trial run alone: the policies take turns for ``rounds`` rounds of ``steps``
    steps each, and each keeps its fastest round's median step, so a burst of load on a shared machine hits all of
    them alike instead of one."""
    best = {name: math.inf for name in trials}
    for _ in range(rounds):
        for name, trial in trials.items():
            clock = _Clock()
            run_trials(problem, [trial], steps, eval_splits=("valid",), max_eval_examples=1, progress=clock.tick)
            per_step = float(np.median(np.diff(np.array(clock.stamps))))
            best[name] = min(best[name], per_step)
    return best


def noise_level(curve: np.ndarray, window: int = 21) -> float:
    """Relative loss noise: std of the batch loss around its running median, over the second half, / mean loss."""
    half = curve[len(curve) // 2 :]
    half = half[np.isfinite(half)]
    if len(half) < window:
        return math.nan
    pad = window // 2
    padded = np.pad(half, pad, mode="edge")
    trend = np.array([np.median(padded[i : i + window]) for i in range(len(half))])
    return float(np.std(half - trend) / abs(np.mean(half)))


def zigzag(paths: np.ndarray) -> np.ndarray:
    """Cross-valley travel on the ravine: ``Σ|Δv| / |v0|`` with ``v = (x − y)/√2`` (1 = straight to the floor)."""
    v = (paths[..., 0] - paths[..., 1]) / math.sqrt(2.0)
    travel = np.nansum(np.abs(np.diff(v, axis=-1)), axis=-1)
    return travel / np.abs(v[..., 0])
