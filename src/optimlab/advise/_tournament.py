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
from ..errors import UserError
from ..population import Trial
from ..problems.base import Problem
from ..registry import SETS, get_preset, resolve_set
from ..stats import paired_test, to_error
from ..training import TrainResult, batch_size_for, train
from . import _plan
from ._plan import Budget, TournamentPlan, parse_budget, plan_tournament, range_steps_for
from ._range import LrRamp, RangeFinding, analyze
from ._result import AdviceResult, Recommendation

DEFAULT_CANDIDATES: tuple[str, ...] = (*SETS["seed"], "adamw")
TUNE_SEEDS = 1000
Progress = Callable[[str, int, int], None]
"""``progress(phase, trial_steps_done, trial_steps_planned)``."""


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

    def trial(self, lr: float, seed: int, schedule: Any = None) -> Trial:
        return Trial(self.optimizer, {**self.hypers, "lr": lr}, seed=seed, label=self.name, schedule=schedule)


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
    progress: Progress | None = None,
    *,
    steps: int | None = None,
    metric: str | None = None,
    out_dir: str | Path | None = None,
    problem_options: Mapping[str, Any] | None = None,
) -> AdviceResult:
    """Recommend an optimizer and learning rate for ``problem`` within ``budget``.

    ``problem``: a :class:`~optimlab.problems.base.Problem`, a built-in name or ``"file.py:function"``.
    ``budget``: trial-steps (``20000``), a multiple of one run (``"x40"``, the default) or a wall time
    (``"5min"``). ``candidates``: preset names, set names (``"seed,adamw"``) or :class:`Candidate` objects;
    default the classic family plus AdamW. ``seeds``: seeds of the final confirmation. ``steps``: length of one
    full training run (default: the problem's). ``metric``: the validation metric that decides (default
    accuracy when the problem has it, else loss). ``out_dir``: write the evidence report there — also when
    the advisor stops on bad input, with whatever was measured.
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
    runner = _Runner(prob, result, progress, plan.cost() if plan else 0)
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
    clear sentence before any budget is spent."""
    name = problem.name
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
    """Trains populations, counts their trial-steps per phase and turns a failing problem into one sentence."""

    def __init__(self, problem: Problem, result: AdviceResult, progress: Progress | None, planned: int) -> None:
        self.problem, self.result, self.progress, self.planned = problem, result, progress, planned

    def run(self, phase: str, trials: list[Trial], steps: int, splits: tuple[str, ...],
            eval_every: int | None = None) -> TrainResult:
        done = self.result.trial_steps()
        planned = max(self.planned, done + len(trials) * steps)

        def report(step_done: int, _total: int) -> None:
            if self.progress is not None:
                self.progress(phase, done + step_done, planned)

        started = time.perf_counter()
        try:
            out = train(self.problem, trials, steps, eval_every=eval_every, eval_splits=splits, progress=report)
        except UserError:
            raise
        except Exception as exc:
            raise UserError(
                f"Problem {self.problem.name!r} failed during the {phase}: {type(exc).__name__}: {exc}"
            ) from exc
        self.result.compute.append({
            "phase": phase, "trials": len(trials), "steps": steps, "trial_steps": len(trials) * steps,
            "example_steps": int(sum(out.batch_sizes)) * steps, "seconds": time.perf_counter() - started,
        })
        return out


def _tournament(problem: Problem, cands: list[Candidate], result: AdviceResult, runner: _Runner, budget: Budget,
                seeds: int) -> None:
    started = time.perf_counter()
    run_steps = result.run_steps
    range_steps = range_steps_for(run_steps)
    ramp = LrRamp()
    trials = [c.trial(_plan.RANGE_LR[0], TUNE_SEEDS + s, ramp) for c in cands for s in range(2)]
    out = runner.run("range test", trials, range_steps, ("valid",))
    losses = out.train_loss.numpy()
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
    configs = [(c, lr) for c in cands for lr in _lrs_for(result.ranges[c.name], c, plan.lrs_per_candidate)]
    tune_seeds = [TUNE_SEEDS + s for s in range(plan.tune_seeds)]
    for rung, steps in enumerate(plan.rung_steps):
        trials = [c.trial(lr, s) for c, lr in configs for s in tune_seeds]
        out = runner.run(f"rung {rung}", trials, steps, ("valid",))
        table = _score_configs(configs, out, len(tune_seeds), result.metric, result.goal)
        keep = math.ceil(len(configs) / _plan.ETA) if rung + 1 < len(plan.rung_steps) else 0
        table["rung"], table["steps"] = rung, steps
        table["promoted"] = table["rank"] <= keep
        result.bracket = pd.concat([result.bracket, table], ignore_index=True) if len(result.bracket) else table
        ordered = [(by_name(cands, row.candidate), float(row.lr)) for row in table.itertuples()]
        if keep:
            configs = ordered[:keep]
        else:
            configs = _finalists(ordered, plan.finalists)
    final_seeds = list(range(seeds))
    trials = [c.trial(lr, s) for c, lr in configs for s in final_seeds]
    out = runner.run("final", trials, run_steps, ("valid", "test"), eval_every=max(1, run_steps // 20))
    _record_final(result, configs, out, final_seeds)


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
    trials = [c.trial(_plan.RANGE_LR[0], TUNE_SEEDS + s, LrRamp()) for c in flat for s in range(2)]
    losses = runner.run("longer range test", trials, longer, ("valid",)).train_loss.numpy()
    for i, c in enumerate(flat):
        found = analyze(losses[2 * i : 2 * i + 2])
        if found.usable:
            result.ranges[c.name] = found


def by_name(cands: Sequence[Candidate], name: str) -> Candidate:
    return next(c for c in cands if c.name == name)


def _lrs_for(finding: RangeFinding, candidate: Candidate, count: int) -> list[float]:
    fallback = float(get_preset(candidate.optimizer).defaults()["lr"])
    return list(dict.fromkeys(finding.lrs_to_try(count, fallback)))


def _score_configs(configs: list[tuple[Candidate, float]], out: TrainResult, n_seeds: int, metric: str,
                   goal: str) -> pd.DataFrame:
    """One row per configuration: mean and spread of the validation metric over its seeds, ranked."""
    values = out.final("valid", metric).numpy().reshape(len(configs), n_seeds)
    loss = out.final("valid", "loss").numpy().reshape(len(configs), n_seeds)
    errors = to_error(values, goal)
    rows = []
    for i, (c, lr) in enumerate(configs):
        ok = np.isfinite(values[i])
        rows.append({
            "candidate": c.name, "optimizer": c.optimizer, "lr": lr,
            "score": float(values[i].mean()) if ok.all() else math.nan,
            "score_sd": float(values[i].std(ddof=1)) if ok.all() and n_seeds > 1 else math.nan,
            "valid_loss": float(loss[i].mean()) if ok.all() else math.nan,
            "diverged": int((~ok).sum()),
            "_error": float(errors[i].mean()), "_loss": float(np.nan_to_num(loss[i], nan=np.inf).mean()),
        })
    table = pd.DataFrame(rows).sort_values(["_error", "_loss"], kind="stable").reset_index(drop=True)
    table["rank"] = np.arange(1, len(table) + 1)
    return table.drop(columns=["_error", "_loss"])


def _finalists(ordered: list[tuple[Candidate, float]], count: int) -> list[tuple[Candidate, float]]:
    """The ``count`` best configurations of the last rung — two learning rates of one candidate may both go
    through, which lets the full-length runs correct a short rung's preference for large rates — but at least
    two distinct candidates, so the verdict compares optimizers."""
    chosen = ordered[:count]
    if len({c.name for c, _ in chosen}) < 2:
        other = next(((c, lr) for c, lr in ordered if c.name != chosen[0][0].name), None)
        if other is not None:
            chosen = [*chosen[: count - 1], other]
    return chosen


def _record_final(result: AdviceResult, configs: list[tuple[Candidate, float]], out: TrainResult,
                  seeds: list[int]) -> None:
    n = len(seeds)
    rows = []
    for k, trial in enumerate(out.trials):
        c, lr = configs[k // n]
        rows.append({
            "candidate": c.name, "optimizer": c.optimizer, "lr": lr, "seed": trial.seed,
            **{f"{split}_{m}": out.evals[split][m][k, -1].item() for split in out.evals for m in out.evals[split]},
            "diverged_at": out.diverged_at[k],
        })
    result.final = pd.DataFrame(rows)
    result.final_steps = list(out.eval_steps)
    metric = result.metric
    for i, (c, _lr) in enumerate(configs):
        result.final_curves[c.name if _unique(configs, c) else f"{c.name}@{_lr:g}"] = (
            out.evals["valid"][metric][i * n : (i + 1) * n].numpy()
        )
    score = f"valid_{metric}"
    errors = {i: to_error(result.final[score].to_numpy()[i * n : (i + 1) * n], result.goal) for i in
              range(len(configs))}
    order = sorted(range(len(configs)), key=lambda i: (float(errors[i].mean()),
                                                        float(result.final["valid_loss"].iloc[i * n:(i + 1) * n]
                                                              .fillna(np.inf).mean())))
    result.final_order = [(configs[i][0].name, configs[i][1]) for i in order]
    best_i = order[0]
    c, lr = configs[best_i]
    part = result.final.iloc[best_i * n : (best_i + 1) * n]
    result.winner = Recommendation(
        candidate=c, lr=lr, batch_size=result.batch_sizes[c.name], valid_mean=float(part[score].mean()),
        valid_sd=float(part[score].std(ddof=1)), test_mean=float(part[f"test_{metric}"].mean()),
        test_sd=float(part[f"test_{metric}"].std(ddof=1)), seeds=n,
    )
    best_values = part[score].to_numpy()
    for i in order[1:]:
        other = result.final.iloc[i * n : (i + 1) * n]
        name = configs[i][0].name if _unique(configs, configs[i][0]) else f"{configs[i][0].name}@{configs[i][1]:g}"
        lead = c.name if _unique(configs, c) else f"{c.name}@{lr:g}"
        result.tests.append(paired_test(lead, name, best_values, other[score].to_numpy(), result.goal))


def _unique(configs: list[tuple[Candidate, float]], c: Candidate) -> bool:
    return sum(d.name == c.name for d, _ in configs) == 1
