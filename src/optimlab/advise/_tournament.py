"""``advise(problem, budget)``: the tournament that picks an optimizer and learning rate, run as populations.

1. **Range test** — every candidate ramps its learning rate over seven decades, on two seeds, all in one
   population; each candidate's usable range gives it a few learning rates to try (:mod:`._range`). A
   candidate whose loss did not drop ramps again over twice the steps, budget permitting. The rest of the
   tournament is then planned with the budget that is left.
2. **Successive halving** (Jamieson & Talwalkar 2016; the synchronous form of Hyperband's inner loop) over
   every candidate × learning rate: all configurations train S/9 steps on the same tuning seeds (paired:
   same initial weights and batches), the best third is promoted to S/3 steps, and so on. Runs restart from
   their initial weights at each rung, so a rung's cost is simply configurations × seeds × steps.
3. **Final confirmation** — the four best configurations of the last rung (at least two candidates) train
   the full S steps on fresh seeds (0, 1, ...; disjoint from the tuning seeds 1000, 1001, ...). The winner has the
   best mean validation score; a paired test over those seeds says whether the runner-up is distinguishable.

Every decision uses the validation split; the test split is only reported.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .._threads import torch_threads
from ..engine import Config, Executor, RungRule, SweepResult, TrialRecord, rank, run_sweep
from ..engine.probe import probe
from ..errors import UserError
from ..population import Trial
from ..problems.base import Problem
from ..registry import SETS, get_preset, resolve_set
from ..training import batch_size_for
from . import _plan
from ._plan import Budget, TournamentPlan, parse_budget, plan_tournament, range_steps_for
from ._range import LrRamp, RangeFinding, analyze
from ._ranking import finalists, record_final, score_rung, selection_rule
from ._result import AdviceResult

DEFAULT_CANDIDATES: tuple[str, ...] = (*SETS["seed"], "adamw")
TUNE_SEEDS = 1000
PhasedProgress = Callable[[str, int, int], None]
"""``progress(phase, trial_steps_done, trial_steps_planned)``: the engine's :data:`~optimlab.engine.Progress`
with the tournament's phase ("range test", "rung 0", ..., "final") in front."""


@dataclass(frozen=True)
class Candidate:
    """An optimizer the advisor may recommend: a preset with optional fixed hyperparameter overrides."""

    optimizer: str
    hypers: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""

    def __post_init__(self) -> None:
        preset = get_preset(self.optimizer)
        if "lr" in self.hypers:
            raise UserError(f"Candidate {self.name!r} fixes lr: the advisor tunes the learning rate itself.")
        preset.hypers(**self.hypers)

    @property
    def name(self) -> str:
        return self.label or get_preset(self.optimizer).name

    def config(self, lr: float, schedule: Any = None) -> Config:
        return Config(self.optimizer, {**self.hypers, "lr": lr}, schedule=schedule, label=self.name)

    def trial(self, lr: float, seed: int, schedule: Any = None) -> Trial:
        return self.config(lr, schedule).trial(seed)


class AdviceError(UserError):
    """The advisor could not finish; ``partial`` holds everything measured before it stopped."""

    def __init__(self, message: str, partial: AdviceResult) -> None:
        super().__init__(message)
        self.partial = partial


def advise(
    problem: Problem | str,
    budget: int | float | str | Budget | None = None,
    candidates: Sequence[str | Candidate] | str | None = None,
    seeds: int = 5,
    progress: PhasedProgress | None = None,
    *,
    steps: int | None = None,
    metric: str | None = None,
    out_dir: str | Path | None = None,
    problem_options: Mapping[str, Any] | None = None,
    executor: Executor | None = None,
) -> AdviceResult:
    """Recommend an optimizer and learning rate for ``problem`` within ``budget``.

    ``problem``: a :class:`~optimlab.problems.base.Problem`, a built-in name or ``"file.py:function"``.
    ``budget``: trial-steps (``20000``), a multiple of one run (``"x40"``, the default) or a wall time
    (``"5min"``). ``candidates``: preset names, set names (``"seed,adamw"``) or :class:`Candidate` objects;
    default the classic family plus AdamW. ``seeds``: seeds of the final confirmation. ``steps``: length of one
    full training run (default: the problem's). ``metric``: the validation metric that decides (default
    accuracy when the problem has it, else loss). ``out_dir``: write the evidence report there — also when
    the advisor stops on bad input, with whatever was measured. ``executor``: where the trials run (default: the
    engine's choice; e.g. :class:`optimlab.engine.ray_executor.RayExecutor` for a cluster).
    """
    prob = _resolve_problem(problem, problem_options or {})
    cands = resolve_candidates(candidates)
    if not isinstance(seeds, int) or seeds < 2:
        raise UserError(f"Invalid seeds={seeds!r}: the final confirmation needs at least 2 seeds to compare.")
    run_steps = prob.default_steps if steps is None else steps
    if not isinstance(run_steps, int) or run_steps < 10:
        raise UserError(f"Invalid steps={run_steps!r}: one training run needs at least 10 steps.")
    score, goal = _score_metric(prob, metric)
    check_problem(prob)
    parsed = parse_budget(budget)
    allowed = parsed.trial_steps(run_steps)
    plan = plan_tournament(len(cands), run_steps, seeds, allowed) if allowed is not None else None
    result = AdviceResult(
        problem=prob.name, description=str(getattr(prob, "description", "")), metric=score, goal=goal,
        candidates=cands, budget=parsed, plan=plan, run_steps=run_steps,
        batch_sizes={c.name: batch_size_for(c.trial(1e-3, 0), prob) for c in cands},
    )
    runner = _Runner(prob, result, progress, plan.cost() if plan else 0, executor)
    # One intra-op thread: on small models a second thread costs more in hand-offs than it computes (measured
    # 10-40x slower on this two-core machine, the same reason the study runs single-threaded).
    with torch_threads(1):
        try:
            _tournament(prob, cands, result, runner, parsed, seeds)
        except (UserError, KeyboardInterrupt) as exc:
            result.stopped = str(exc) or "interrupted"
            if out_dir is not None:
                result.save(out_dir)
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise AdviceError(str(exc), result) from exc
    if out_dir is not None:
        result.save(out_dir)
    return result


def resolve_candidates(candidates: Sequence[str | Candidate] | str | None) -> list[Candidate]:
    """Candidates from names, set names or :class:`Candidate` objects; labels must be unique."""
    try:
        return _resolve_candidates(candidates)
    except UserError:
        raise
    except (ValueError, KeyError) as exc:  # an unknown name or an invalid hyperparameter, already one sentence
        raise UserError(str(exc).strip("'\"")) from exc


def _resolve_candidates(candidates: Sequence[str | Candidate] | str | None) -> list[Candidate]:
    if candidates is None:
        candidates = list(DEFAULT_CANDIDATES)
    if isinstance(candidates, str):
        candidates = resolve_set(candidates)
    out: list[Candidate] = []
    for c in candidates:
        if isinstance(c, Candidate):
            out.append(c)
        elif isinstance(c, str):
            out.extend(Candidate(name) for name in resolve_set(c))
        else:
            raise UserError(f"A candidate is a preset name or a Candidate, not {type(c).__name__}.")
    names = [c.name for c in out]
    if not out:
        raise UserError("No candidates given: name at least one optimizer.")
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise UserError(f"Candidate {duplicate!r} appears twice: give each candidate a distinct label.")
    return out


def _resolve_problem(problem: Problem | str, options: Mapping[str, Any]) -> Problem:
    from ..problems.catalog import get_problem

    if isinstance(problem, str):
        return get_problem(problem, **options)
    if not isinstance(problem, Problem):
        raise UserError(
            f"advise needs a Problem, a built-in problem name or 'file.py:function', not {type(problem).__name__}."
        )
    return problem


def _score_metric(problem: Problem, metric: str | None) -> tuple[str, str]:
    goals = dict(problem.metric_goals)
    if metric is None:
        metric = "accuracy" if "accuracy" in goals else "loss"
    if metric not in goals:
        raise UserError(f"Problem {problem.name!r} has no metric {metric!r}; its metrics: {', '.join(goals)}.")
    return metric, str(goals[metric])


def check_problem(problem: Problem) -> None:
    """One forward pass of one trial on two examples and a small evaluation, so a broken problem fails with a
    clear sentence before any budget is spent. A model the population cannot batch (a GRU, BatchNorm) was run one
    trial at a time by the engine's probe, which is the check it gets (its errors are already one sentence)."""
    name = problem.name
    if not probe(problem).batched:
        return
    try:
        params = problem.init_params(TUNE_SEEDS)
    except Exception as exc:
        raise UserError(f"Problem {name!r}: init_params failed with {type(exc).__name__}: {exc}") from exc
    if not isinstance(params, dict) or not params or not all(isinstance(p, torch.Tensor) for p in params.values()):
        raise UserError(f"Problem {name!r}: init_params must return a non-empty dict of tensors.")
    train_split = problem.data.train
    index = torch.arange(min(2, len(train_split))).unsqueeze(0)
    stacked = {k: p.unsqueeze(0) for k, p in params.items()}
    try:
        losses = problem.losses(stacked, *train_split.take(index))
    except Exception as exc:
        raise UserError(f"Problem {name!r}: computing the loss failed with {type(exc).__name__}: {exc}") from exc
    if not isinstance(losses, torch.Tensor) or tuple(losses.shape) != (1,):
        shape = tuple(losses.shape) if isinstance(losses, torch.Tensor) else type(losses).__name__
        raise UserError(f"Problem {name!r}: the loss of one trial must have shape (1,), got {shape}.")
    try:
        values = problem.evaluate(stacked, "valid", 8)
    except Exception as exc:
        raise UserError(f"Problem {name!r}: evaluation failed with {type(exc).__name__}: {exc}") from exc
    missing = [m for m in problem.metric_goals if m not in values]
    if missing:
        raise UserError(f"Problem {name!r}: evaluate() did not return the metric {missing[0]!r}.")


class _Runner:
    """Runs the advisor's sweeps, counts their trial-steps per phase and turns a failing problem into one sentence."""

    def __init__(self, problem: Problem, result: AdviceResult, progress: PhasedProgress | None, planned: int,
                 executor: Executor | None = None) -> None:
        self.problem, self.result, self.progress, self.planned = problem, result, progress, planned
        self.executor = executor

    def sweep(self, phases: Sequence[str], configs: Sequence[Config], seeds: Sequence[int], steps: int | Sequence[int],
              splits: tuple[str, ...], eval_every: int | None = None, promote: RungRule | None = None) -> SweepResult:
        """One sweep; ``phases[r]`` names rung ``r`` (one population per rung) in the compute log and progress."""
        before = self.result.trial_steps()
        first = steps if isinstance(steps, int) else steps[0]
        planned = max(self.planned, before + len(configs) * len(seeds) * first)
        state: dict[str, Any] = {"phase": phases[0], "rung": -1, "started": 0.0}

        def on_start(trials: list[Trial]) -> None:
            state["rung"] += 1
            state["phase"], state["started"] = phases[state["rung"]], time.perf_counter()

        def on_done(records: list[TrialRecord]) -> None:
            n_steps = records[0].steps
            self.result.compute.append({
                "phase": state["phase"], "trials": len(records), "steps": n_steps,
                "trial_steps": len(records) * n_steps, "example_steps": sum(r.batch_size for r in records) * n_steps,
                "seconds": time.perf_counter() - state["started"],
            })

        def report(done: int, _total: int) -> None:
            if self.progress is not None:
                self.progress(state["phase"], before + done, max(planned, before + done))

        try:
            return run_sweep(self.problem, configs, seeds, steps, promote=promote, executor=self.executor,
                             eval_every=eval_every,
                             eval_splits=splits, on_start=on_start, on_done=on_done, progress=report)
        except UserError:
            raise
        except Exception as exc:
            raise UserError(
                f"Problem {self.problem.name!r} failed during the {state['phase']}: {type(exc).__name__}: {exc}"
            ) from exc


def _range_losses(runner: _Runner, phase: str, cands: Sequence[Candidate], steps: int) -> np.ndarray:
    """Every candidate's learning-rate ramp on two tuning seeds as one sweep: ``losses[2·i + seed, step]``."""
    configs = [c.config(_plan.RANGE_LR[0], LrRamp()) for c in cands]
    sweep = runner.sweep([phase], configs, [TUNE_SEEDS + s for s in range(2)], steps, ("valid",))
    return np.stack([rec.train_loss.numpy() for rec in sweep.records])


def _tournament(problem: Problem, cands: list[Candidate], result: AdviceResult, runner: _Runner, budget: Budget,
                seeds: int) -> None:
    started = time.perf_counter()
    run_steps = result.run_steps
    range_steps = range_steps_for(run_steps)
    losses = _range_losses(runner, "range test", cands, range_steps)
    if not np.isfinite(losses[:, 0]).any():
        raise UserError(
            f"The loss of problem {problem.name!r} is not finite (NaN or inf) at the very first step for every "
            "candidate, so no optimizer can be judged: check the model, the data and the loss function."
        )
    for i, c in enumerate(cands):
        result.ranges[c.name] = analyze(losses[2 * i : 2 * i + 2])
    allowed = budget.trial_steps(run_steps)
    if allowed is None:  # a wall-time budget: trial-steps at the speed the range test measured
        allowed = int(budget.value * result.trial_steps() / max(1e-9, time.perf_counter() - started))
    _longer_range_test(cands, result, runner, range_steps, allowed, seeds)
    result.plan = plan_tournament(len(cands), run_steps, seeds, allowed - result.trial_steps(), range_done=True)
    runner.planned = result.trial_steps() + result.plan.rest_cost()
    plan: TournamentPlan = result.plan
    pairs = [(c, lr) for c in cands for lr in _lrs_for(result.ranges[c.name], c, plan.lrs_per_candidate)]
    rule = selection_rule(result.metric, result.goal)

    def promote(_rung: int, records: list[TrialRecord]) -> list[int]:  # successive halving: the best 1/ETA go on
        order = [int(r.config) for r in rank([rec.outcome() for rec in records], rule)]
        return order[: math.ceil(len(order) / _plan.ETA)]

    tune_seeds = [TUNE_SEEDS + s for s in range(plan.tune_seeds)]
    bracket = runner.sweep([f"rung {r}" for r in range(len(plan.rung_steps))], [c.config(lr) for c, lr in pairs],
                           tune_seeds, plan.rung_steps, ("valid",), promote=promote)
    for r, steps in enumerate(plan.rung_steps):
        table = score_rung(pairs, bracket.rung(r), rule)
        keep = len(bracket.rungs[r + 1]) if r + 1 < len(bracket.rungs) else 0
        table["rung"], table["steps"] = r, steps
        table["promoted"] = table["rank"] <= keep
        result.bracket = pd.concat([result.bracket, table], ignore_index=True) if len(result.bracket) else table
    last = rank(bracket.outcomes(), rule)
    configs = finalists([pairs[int(r.config)] for r in last], plan.finalists)
    final_seeds = list(range(seeds))
    final = runner.sweep(["final"], [c.config(lr) for c, lr in configs], final_seeds, run_steps, ("valid", "test"),
                         eval_every=max(1, run_steps // 20))
    record_final(result, configs, final, rule)


def _longer_range_test(cands: list[Candidate], result: AdviceResult, runner: _Runner, range_steps: int,
                       allowed: int, seeds: int) -> None:
    """Candidates whose loss did not drop in the range test (a model that starts learning slowly sees each
    learning rate for only a few steps of the ramp) ramp again over twice the steps, when the budget still
    fits a tournament afterwards; a usable reading replaces the flat one."""
    flat = [c for c in cands if not result.ranges[c.name].usable]
    longer = min(result.run_steps, 2 * range_steps)
    if not flat or longer <= range_steps:
        return
    extra = len(flat) * 2 * longer
    try:
        plan_tournament(len(cands), result.run_steps, seeds, allowed - result.trial_steps() - extra, range_done=True)
    except UserError:
        return  # not affordable: keep the flat readings (those candidates are tried around their default lr)
    losses = _range_losses(runner, "longer range test", flat, longer)
    for i, c in enumerate(flat):
        found = analyze(losses[2 * i : 2 * i + 2])
        if found.usable:
            result.ranges[c.name] = found


def _lrs_for(finding: RangeFinding, candidate: Candidate, count: int) -> list[float]:
    fallback = float(get_preset(candidate.optimizer).defaults()["lr"])
    return list(dict.fromkeys(finding.lrs_to_try(count, fallback)))
