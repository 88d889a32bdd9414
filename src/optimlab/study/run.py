"""Run a study: tune, choose, re-run on fresh seeds, writing each population's trials as soon as it finishes.

Populations are fixed by the plan (:meth:`Plan.populations`), never by what is left to do: the engine's
numbers for a trial can differ in the last bit with the set of trials it runs beside (batched matmuls), so a
resumed study re-runs exactly the populations an uninterrupted one would, and gets the same numbers.
A population's results are committed in one transaction, so after any interruption each population is
either wholly finished or wholly to do.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from .._threads import torch_threads
from ..engine import Config, Executor, Selection, TrialRecord, choose_executor, outcomes_from_rows, rank, run_sweep
from ..errors import UserError
from ..population import Trial
from ..problems.base import Problem
from ..training import batch_size_for
from .plan import Plan, TrialSpec, choose_lr
from .store import FINISHED, Store

Reporter = Callable[[str], None]


@dataclass
class ProgressMeter:
    """Trials done out of the total, the best setting so far and the time left, printed on a stream."""

    total: int
    done: int = 0
    stream: TextIO | None = field(default_factory=lambda: sys.stderr)
    every: float = 10.0
    best: str = ""
    _started: float = field(default_factory=time.perf_counter)
    _work_done: float = 0.0
    _work_left: float = 0.0
    _last: float = 0.0

    def plan_work(self, work_left: float) -> None:
        self._work_left = work_left

    def advance(self, work: float, trials: int = 0, force: bool = False) -> None:
        """``work`` cost units finished since the last call; ``trials`` trials finished with them."""
        self._work_done += work
        self._work_left = max(0.0, self._work_left - work)
        self.done += trials
        now = time.perf_counter()
        if self.stream is None or (not force and now - self._last < self.every):
            return
        self._last = now
        elapsed = now - self._started
        left = "estimating time left"
        started = self._work_done > 0.03 * (self._work_done + self._work_left)
        if self._work_left <= 0 and self.done >= self.total:
            left = "all trials finished"
        elif started and elapsed > 1:
            left = f"about {_duration(elapsed / self._work_done * self._work_left)} left"
        best = f" | best so far: {self.best}" if self.best else ""
        print(f"[{self.done}/{self.total} trials] {left}{best}", file=self.stream, flush=True)


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _cost(steps: int, batch_size: int) -> float:
    """A rough cost model for the time estimate: per-step overhead (worth a few hundred examples of a small
    model: vmap, autograd and the rule calls) plus per-example work."""
    return steps * (batch_size + 256.0)


def phases(plan: Plan) -> tuple[str, ...]:
    return ("tune", "final") if plan.tune else ("defaults",)


def run_study(
    store: Store,
    study_id: str,
    plan: Plan,
    problems: Mapping[str, Problem],
    *,
    stream: TextIO | None = sys.stderr,
    progress_every: float = 10.0,
    executor: Executor | None = None,
) -> None:
    """Run every unfinished population of the study, problem by problem, phase by phase, with ``executor``
    (default: the engine's choice for each problem)."""
    specs_by_phase: dict[tuple[str, str], list[TrialSpec]] = {}
    total = 0
    for name in plan.problems:
        if plan.tune:
            specs_by_phase[name, "tune"] = plan.tune_trials(name)
            finals = _final_specs(store, study_id, plan, name)
            if finals is not None:
                specs_by_phase[name, "final"] = finals
            total += len(plan.tune_trials(name)) + (len(finals) if finals is not None else
                                                    len(plan.optimizers) * len(plan.seeds))
        else:
            specs_by_phase[name, "defaults"] = plan.defaults_trials(name)
            total += len(specs_by_phase[name, "defaults"])
    finished = {r["key"] for r in store.trials(study_id) if r["status"] in FINISHED}
    meter = ProgressMeter(total=total, done=len(finished), stream=stream, every=progress_every)
    meter.plan_work(_estimate_left(plan, problems, specs_by_phase, finished))
    store.set_status(study_id, "running")
    with torch_threads(plan.threads):
        try:
            for name in plan.problems:
                problem = problems[name]
                for phase in phases(plan):
                    specs = specs_by_phase.get((name, phase))
                    if specs is None:  # final trials are known once tuning of this problem is complete
                        specs = _final_specs(store, study_id, plan, name) or []
                    if not specs:
                        continue
                    batches = [_batch(problem, s) for s in specs]
                    store.add_trials(study_id, specs, batches, [plan.steps[name]] * len(specs))
                    _run_phase(store, study_id, plan, problem, specs, meter, executor)
        except KeyboardInterrupt:
            store.set_status(study_id, "interrupted")
            raise
        except BaseException:
            store.set_status(study_id, "failed")
            raise
    store.set_status(study_id, "done")


def _batch(problem: Problem, spec: TrialSpec) -> int:
    return batch_size_for(Trial(spec.optimizer, {"lr": spec.lr}, seed=spec.seed), problem)


def _estimate_left(
    plan: Plan, problems: Mapping[str, Problem], specs: Mapping[tuple[str, str], list[TrialSpec]], finished: set[str]
) -> float:
    work = 0.0
    for name in plan.problems:
        problem, steps = problems[name], plan.steps[name]
        for phase in phases(plan):
            todo = specs.get((name, phase))
            if todo is None:  # final trials not chosen yet: one per optimizer and seed, at the tuning batch sizes
                todo = [TrialSpec("final", name, o, plan.lr_grid[0], s) for o in plan.optimizers for s in plan.seeds]
            work += sum(_cost(steps, _batch(problem, s)) for s in todo if s.key not in finished)
    return work


def _final_specs(store: Store, study_id: str, plan: Plan, problem: str) -> list[TrialSpec] | None:
    """The final trials of ``problem``, or ``None`` while some tuning trial is unfinished."""
    best = chosen_lrs(store.trials(study_id, "tune", problem), plan, problem)
    return None if best is None else plan.final_trials(problem, {o: lr for o, (lr, _) in best.items()})


def chosen_lrs(rows: Sequence[Mapping[str, Any]], plan: Plan, problem: str) -> dict[str, tuple[float, float]] | None:
    """Per optimizer, the chosen learning rate and its mean selection metric (``None`` while tuning runs)."""
    expected = {s.key for s in plan.tune_trials(problem)}
    rows = [r for r in rows if r["key"] in expected]
    if len(rows) < len(expected) or any(r["status"] not in FINISHED for r in rows):
        return None
    metric = plan.selection_metric[problem]
    goal = plan.goals[problem].get(metric, "min")
    out = {}
    for optimizer in plan.optimizers:
        choice = choose_lr([r for r in rows if r["optimizer"] == optimizer], metric, goal)
        if choice is not None:
            out[optimizer] = choice
    return out


def _best_so_far(store: Store, study_id: str, plan: Plan, problem: str) -> str:
    """The best single finished trial of ``problem`` so far, by its selection metric (for the progress line)."""
    metric = plan.selection_metric[problem]
    rule = Selection(metric, "max" if plan.goals[problem].get(metric) == "max" else "min", incomplete="excluded")
    rows = {r["key"]: r for r in store.trials(study_id, problem=problem)}
    ranked = rank(outcomes_from_rows(rows.values(), config=("key",)), rule)
    if not ranked:
        return ""
    top = rows[ranked[0].config[0]]
    return f"{problem}: {top['optimizer']} lr={top['lr']:g} {metric}={top[metric]:.4g} ({top['phase']})"


class _PhaseWriter:
    """The sweep's listener for one problem × phase: marks a population running when it starts, commits its
    unfinished trials in one transaction when it is done, and moves the progress meter in between."""

    def __init__(self, store: Store, study_id: str, plan: Plan, problem: Problem, specs: list[TrialSpec],
                 meter: ProgressMeter) -> None:
        self.store, self.study_id, self.plan, self.problem, self.meter = store, study_id, plan, problem, meter
        self.name, self.steps = specs[0].problem, plan.steps[specs[0].problem]
        self.by_cell = {(s.optimizer, s.lr, s.seed): s for s in specs}
        self.status = {r["key"]: r["status"] for r in store.trials(study_id, specs[0].phase, self.name)}
        self.keys: list[str] = []  # the population last started (the progress meter's)
        self.running: dict[str, None] = {}  # every started, unfinished trial (a cluster runs several populations)
        self.work = self.reported = 0.0
        self.base = self.seen = self.trial_steps = 0

    def keys_of(self, trials: list[Trial]) -> list[str]:
        return [self.by_cell[t.optimizer, float(t.hypers["lr"]), t.seed].key for t in trials]

    def finished(self, trials: list[Trial]) -> bool:
        return all(self.status.get(k) in FINISHED for k in self.keys_of(trials))

    def start(self, trials: list[Trial]) -> None:
        self.keys = self.keys_of(trials)
        self.work = sum(_cost(self.steps, batch_size_for(t, self.problem)) for t in trials)
        self.base, self.trial_steps, self.reported = self.seen, len(trials) * self.steps, 0.0
        self.running.update(dict.fromkeys(self.keys))
        self.store.mark(self.study_id, self.keys, "running")

    def progress(self, done: int, _total: int) -> None:
        self.seen = done
        if self.keys:
            now = self.work * (done - self.base) / max(1, self.trial_steps)
            self.meter.advance(now - self.reported)
            self.reported = now

    def done(self, records: list[TrialRecord]) -> None:
        # The keys come from the records: an executor running several populations at once (a cluster) finishes
        # them in any order, after all of them started.
        keys = self.keys_of([rec.trial for rec in records])
        rows = [_store_row(rec, key) for rec, key in zip(records, keys, strict=True)]
        # Only unfinished trials are written: a finished trial is never repeated (and its numbers are the same).
        self.store.finish(self.study_id, [r for r in rows if self.status.get(r["key"]) not in FINISHED])
        work = sum(_cost(self.steps, rec.batch_size) for rec in records)
        self.meter.advance(work - self.reported if keys == self.keys else work,
                           trials=sum(self.status.get(k) not in FINISHED for k in keys))
        self.status.update((r["key"], r["status"]) for r in rows)
        for key in keys:
            self.running.pop(key, None)
        self.keys = []
        self.meter.best = _best_so_far(self.store, self.study_id, self.plan, self.name)
        self.meter.advance(0, force=True)


def _run_phase(
    store: Store, study_id: str, plan: Plan, problem: Problem, specs: list[TrialSpec], meter: ProgressMeter,
    executor: Executor | None = None,
) -> None:
    """One problem × phase as one sweep: its populations are the plan's (:meth:`Plan.populations`); a population
    whose trials are all finished is skipped; each finished population is committed in one transaction."""
    configs = list(dict.fromkeys((s.optimizer, s.lr) for s in specs))
    seeds = list(dict.fromkeys(s.seed for s in specs))
    assert len(configs) * len(seeds) == len(specs), "a phase is every configuration on every seed"
    writer = _PhaseWriter(store, study_id, plan, problem, specs, meter)
    try:
        run_sweep(problem, [Config(o, {"lr": lr}) for o, lr in configs], seeds, writer.steps,
                  executor=executor or choose_executor(problem, [], memory_budget=plan.memory_budget),
                  eval_every=plan.eval_every,
                  eval_splits=plan.eval_splits(specs[0].phase), max_eval_examples=plan.max_eval_examples,
                  population_size=plan.max_population, skip=writer.finished, on_start=writer.start,
                  on_done=writer.done, progress=writer.progress)
    except KeyboardInterrupt:
        store.mark(study_id, list(writer.running), "pending")
        raise
    except Exception as exc:
        if _while_interrupted(exc):
            store.mark(study_id, list(writer.running), "pending")
            raise KeyboardInterrupt from exc
        message = f"{type(exc).__name__}: {exc}"
        store.mark(study_id, list(writer.running), "failed", message)
        raise UserError(
            f"Training on problem {problem.name!r} failed ({' '.join(message.split())}); finished trials are kept "
            "and `optimlab bench --resume` retries the rest."
        ) from exc


def _while_interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while a Ctrl-C unwound the stack: a cleanup that fails on the way out (functorch's
    vmap, interrupted at the wrong moment, raises "!dynamicLayerStack.empty() INTERNAL ASSERT FAILED") stands for the
    interrupt, so the study stops as interrupted, not as failed (seen once in CI's Ctrl-C test)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__context__ or cause.__cause__
    return False


def _store_row(rec: TrialRecord, key: str) -> dict[str, Any]:
    """A sweep's record as the store keeps it: final metrics, the training curve and the validation curves."""
    result = rec.result
    curves: dict[str, tuple[list[int], list[float]]] = {
        "train_loss": (list(range(1, result.steps + 1)), rec.train_loss.tolist())}
    for metric in result.evals.get("valid", {}):
        curves[f"valid_{metric}"] = (list(result.eval_steps), rec.curve("valid", metric).tolist())
    return {
        "key": key, "status": "diverged" if rec.diverged else "done", "diverged_at": rec.diverged_at,
        "seconds": rec.seconds, "metrics": dict(rec.metrics), "curves": curves, "batch_size": rec.batch_size,
    }
