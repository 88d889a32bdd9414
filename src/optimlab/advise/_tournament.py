"""``advise(problem, budget)``: the tournament that picks an optimizer and learning rate, run as populations.

1. **Scan** — every candidate at every learning rate one decade apart (1e-5 … 10) for S/9 steps, all in one
   population, on the same tuning seeds (1000, ...: paired, same initial weights and batches). A candidate whose
   best rate is an end of the scan, and strictly better than the next rate in, tries one decade further.
2. **Refinement** — every candidate at its best scan rate and half a decade either side, S/2 steps. No
   candidate is dropped on the short scan, so a slow starter (a plateau, a warm-up phase) keeps its chance; one
   whose scan is flat (still on a plateau at every rate) is refined around its largest stable rate instead
   (:mod:`._plateau`).
3. **Final** — the best configurations of the refinement (at least two candidates; the last place goes to a
   flat-scan candidate that has since caught up half way with the leader) train the full S steps on
   fresh seeds (0, 1, ...; never used for tuning). The best mean validation score wins, unless a finalist the
   paired test cannot tell from it, within :data:`~._ranking.TIE_TOLERANCE`, keeps fewer optimizer-state
   tensors: then that cheaper one (:func:`~._ranking.record_final`).

Why not a learning-rate range test and successive halving (the earlier design): on the development problems
of ``benchmarks/advise_quality.py`` the range test's reading was one to three decades away from the best
constant rate for some optimizers (AdaGrad, AdaDelta, RMSProp: their state changes the step as the ramp
climbs), and halving at S/9 dropped candidates that win at S.

Every decision uses the validation split; the test split is only reported.
"""

from __future__ import annotations

import dataclasses
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
from ..engine import Config, Executor, RungRule, Selection, SweepResult, TrialRecord, rank, run_sweep
from ..engine.probe import probe
from ..errors import UserError
from ..population import Trial
from ..problems.base import Problem
from ..registry import SETS, get_preset, resolve_set
from ..training import batch_size_for
from . import _plan, _plateau
from ._plan import Budget, parse_budget, plan_tournament
from ._ranking import finalists, record_final, score_rung, selection_rule
from ._result import AdviceResult

DEFAULT_CANDIDATES: tuple[str, ...] = (*SETS["seed"], "adamw")
"""The default candidates: the registry's named set ``seed`` (the classic family) and AdamW — the set the
answer keys of ``benchmarks/advise_keys.py`` cover. Other named, documented sets (``descendants``, ``modern``,
``all``: ``optimlab list``) are given by name, e.g. ``candidates="seed,modern"``."""
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
    seeds: int = 3,
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
    ``budget``: trial-steps (``20000``), a multiple of one run (``"x33"``, the default) or a wall time
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


def _best_lr(table: pd.DataFrame, name: str) -> tuple[float, bool]:
    """The candidate's best learning rate in a stage's table and whether it finished without diverging."""
    rows = table[table["candidate"] == name].sort_values("rank")
    return float(rows["lr"].iloc[0]), bool(np.isfinite(rows["score"].iloc[0]))


def _beyond_edge(table: pd.DataFrame, name: str, goal: str) -> float | None:
    """One decade past an end of the scan when the candidate's best rate is that end and strictly better than
    the next rate in (a flat scan, where nothing learned, is not widened); else None."""
    rows = table[table["candidate"] == name].set_index("lr")["score"]
    lr, finished = _best_lr(table, name)
    ends = {_rounded(10.0 ** _plan.SCAN_DECADES[0]): -1, _rounded(10.0 ** _plan.SCAN_DECADES[-1]): 1}
    if not finished or lr not in ends:
        return None
    inner = rows.get(_rounded(lr * 10.0 ** -ends[lr]), math.nan)
    better = rows[lr] > inner if goal == "max" else rows[lr] < inner
    return _rounded(lr * 10.0 ** ends[lr]) if (better or not math.isfinite(inner)) else None


def _rounded(lr: float) -> float:
    """A learning rate to three significant digits (how the tournament names every rate it tries)."""
    return float(f"{lr:.3g}")


def _stage(result: AdviceResult, pairs: list[tuple[Candidate, float]], records: list[TrialRecord], rule: Selection,
           rung: int, steps: int) -> pd.DataFrame:
    """A stage's ranked table (every configuration of ``pairs``), put in ``result.bracket`` as rung ``rung``."""
    table = score_rung(pairs, records, rule)
    table["rung"], table["steps"], table["promoted"] = rung, steps, False
    kept = result.bracket[result.bracket["rung"] != rung] if len(result.bracket) else result.bracket
    result.bracket = pd.concat([kept, table], ignore_index=True) if len(kept) else table
    return table


def _mark(result: AdviceResult, rung: int, chosen: set[tuple[str, float]]) -> None:
    rows = result.bracket["rung"] == rung
    keys = zip(result.bracket.loc[rows, "candidate"], result.bracket.loc[rows, "lr"], strict=True)
    result.bracket.loc[rows, "promoted"] = [(str(n), float(lr)) in chosen for n, lr in keys]


def _tournament(problem: Problem, cands: list[Candidate], result: AdviceResult, runner: _Runner, budget: Budget,
                seeds: int) -> None:
    started = time.perf_counter()
    run_steps = result.run_steps
    rule = selection_rule(result.metric, result.goal)
    allowed = budget.trial_steps(run_steps)
    # a wall-time budget: the scan on one seed first, then the rest at the speed it measured
    plan = result.plan or plan_tournament(len(cands), run_steps, seeds, 10**18, scan_seeds=1)
    # 1. The scan: every candidate at every decade, on the same tuning seeds (paired: same weights and batches).
    scan = [(c, _rounded(10.0**d)) for c in cands for d in _plan.SCAN_DECADES]
    scan_seeds = [TUNE_SEEDS + s for s in range(plan.scan_seeds)]
    records = runner.sweep(["scan"], [c.config(lr) for c, lr in scan], scan_seeds, plan.scan_steps, ("valid",)).records
    if not any(math.isfinite(float(rec.train_loss[0])) for rec in records):
        raise UserError(
            f"The loss of problem {problem.name!r} is not finite (NaN or inf) at the very first step for every "
            "candidate, so no optimizer can be judged: check the model, the data and the loss function."
        )
    if allowed is None:
        allowed = int(budget.value * result.trial_steps() / max(1e-9, time.perf_counter() - started))
        plan = plan_tournament(len(cands), run_steps, seeds, allowed, scan_seeds=1)
        result.plan, runner.planned = plan, plan.cost()
    table = _stage(result, scan, records, rule, 0, plan.scan_steps)
    # A best rate at an end of the scan may lie beyond it: one decade further, while the reserve lasts.
    wider = [(c, lr) for c in cands if (lr := _beyond_edge(table, c.name, result.goal)) is not None][: _plan.WIDEN]
    if wider:
        more = runner.sweep(["scan"], [c.config(lr) for c, lr in wider], scan_seeds, plan.scan_steps, ("valid",))
        records = records + [dataclasses.replace(rec, config=rec.config + len(scan)) for rec in more.records]
        scan = scan + wider
        table = _stage(result, scan, records, rule, 0, plan.scan_steps)
    # 2. The refinement: every candidate (none is dropped on a short run) around its best scan rate, or, when its
    # scan is flat (it had not started learning), around its largest stable scan rate.
    flat = [c.name for c in cands if _plateau.flat_scan(table, c.name)]
    best = {c.name: _plateau.largest_stable_lr(table, c.name) if c.name in flat else _best_lr(table, c.name)[0]
            for c in cands}
    _mark(result, 0, set(best.items()))
    refine = [(c, _rounded(best[c.name] * 10.0**o)) for c in cands for o in _plan.REFINE_OFFSETS]
    refine_seeds = [TUNE_SEEDS + s for s in range(plan.refine_seeds)]
    refined = runner.sweep(["refine"], [c.config(lr) for c, lr in refine], refine_seeds, plan.refine_steps,
                           ("valid",))
    refined_table = _stage(result, refine, refined.records, rule, 1, plan.refine_steps)
    # 3. The final: the best configurations of the refinement, and a flat-scan candidate that has since started
    # learning (its S/2 score understates it), full length, on fresh seeds.
    ordered = [refine[int(r.config)] for r in rank(refined.outcomes(), rule)]
    result.late_starter = _plateau.late_starter(table, refined_table, flat)
    configs = _plateau.keep_late_starter(finalists(ordered, plan.finalists), ordered, result.late_starter)
    _mark(result, 1, {(c.name, lr) for c, lr in configs})
    final = runner.sweep(["final"], [c.config(lr) for c, lr in configs], list(range(seeds)), run_steps,
                         ("valid", "test"), eval_every=max(1, run_steps // 20))
    record_final(result, configs, final, rule)

