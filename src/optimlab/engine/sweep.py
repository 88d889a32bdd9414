"""The sweep: the one way every verb tunes and trains.

A sweep is a set of *configurations* (an optimizer with its hyperparameters, batch size, schedule) crossed
with *seeds*, trained for a step budget on one problem. With several rungs (``steps=(S/9, S/3)``) it is
successive halving: after each rung but the last, the caller's rule (``promote``) reads the rung's records
and returns the configurations that go on, in the order the next rung runs them; each rung restarts from
the initial weights, so a rung costs configurations × seeds × its steps trial-steps.

Trials run only through :func:`optimlab.engine.run_trials` (``executor=`` passes through). Within a rung the
trials are cut, in order, into populations of at most ``population_size``: the grouping is a pure function of
the sweep, never of what already ran, so a resumed caller (``skip``) re-runs exactly the populations an
uninterrupted one would and gets the same numbers. Every finished trial's :class:`TrialRecord` is streamed
to ``on_record`` as the executor reports it finished (for the population executor: in trial order when its
population finishes); ``on_done`` then receives the population's records together, in trial order (a store
commits them in one transaction), and a rung rule sees its rung's records in trial order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from ..errors import UserError
from ..population import Trial
from ..problems.base import Problem
from ..schedules import Schedule
from ..training import Progress, TrainResult
from .executor import Executor, run_trials
from .tuning import Outcome


@dataclass(frozen=True, eq=False)
class Config:
    """One configuration: a preset name and its hyperparameters (with ``lr``), optionally a batch size, a
    learning-rate schedule and a label (what selection and the records call it)."""

    optimizer: str
    hypers: Mapping[str, Any] = field(default_factory=dict)
    batch_size: int | None = None
    schedule: Schedule | None = None
    label: str = ""

    def trial(self, seed: int) -> Trial:
        return Trial(self.optimizer, dict(self.hypers), seed=seed, batch_size=self.batch_size, schedule=self.schedule,
                     label=self.label)

    @property
    def lr(self) -> float | None:
        lr = self.hypers.get("lr")
        return float(lr) if lr is not None else None

    @property
    def name(self) -> str:
        return self.label or self.optimizer


@dataclass(frozen=True, eq=False)
class TrialRecord:
    """One finished trial: where it sat in the sweep, its final metrics and its population's result.

    ``metrics`` holds ``{split}_{metric}`` at the last evaluation and ``final_train_loss`` (the last finite
    training loss). ``result.train_loss[row]`` and ``result.evals[split][metric][row]`` are its curves.
    """

    config: int
    """Index into the sweep's configurations."""
    seed: int
    rung: int
    steps: int
    population: int
    """Which population (counted over the whole sweep, skipped ones included) trained it."""
    row: int
    result: TrainResult
    metrics: dict[str, float]
    seconds: float
    """Its share of the population's wall time."""

    @property
    def trial(self) -> Trial:
        return self.result.trials[self.row]

    @property
    def diverged_at(self) -> int | None:
        return self.result.diverged_at[self.row]

    @property
    def batch_size(self) -> int:
        return self.result.batch_sizes[self.row]

    @property
    def diverged(self) -> bool:
        """Diverged during training, or its validation loss is not finite."""
        return self.diverged_at is not None or not math.isfinite(self.metrics.get("valid_loss", 0.0))

    @property
    def train_loss(self) -> Tensor:
        return self.result.train_loss[self.row]

    def curve(self, split: str, metric: str = "loss") -> Tensor:
        return self.result.evals[split][metric][self.row]

    def metrics_at(self, step: int) -> dict[str, float]:
        """``{split}_{metric}`` at the last evaluation at or before ``step`` (NaN before the first): the same run
        read at a shorter budget, so one sweep with ``eval_every`` answers for several budgets."""
        steps = self.result.eval_steps
        i = max((j for j, s in enumerate(steps) if s <= step), default=None)
        return {f"{split}_{metric}": (table[self.row, i].item() if i is not None else math.nan)
                for split, values in self.result.evals.items() for metric, table in values.items()}

    def outcome(self, at_step: int | None = None) -> Outcome:
        """This trial as :func:`optimlab.engine.tuning.rank` reads it (configuration = its index), at the end or
        at ``at_step`` (:meth:`metrics_at`; a trial that diverged by then counts as not finished)."""
        lr = self.trial.hypers.get("lr")
        lr_value = float(lr) if lr is not None else None
        if at_step is None:
            return Outcome(self.config, lr_value, self.metrics, not self.diverged)
        diverged = self.diverged_at is not None and self.diverged_at <= at_step
        return Outcome(self.config, lr_value, self.metrics_at(at_step), not diverged)


RungRule = Callable[[int, list[TrialRecord]], Sequence[int]]
"""``promote(rung, records)``: the configurations (indices) that go on to the next rung, in the order it runs
them; an empty list ends the sweep early."""


@dataclass
class SweepResult:
    """Every record of the sweep in the order its trials finished, and the configurations of each rung."""

    configs: list[Config]
    records: list[TrialRecord]
    rungs: list[list[int]]
    """``rungs[r]``: the configurations rung ``r`` ran, in order."""

    def rung(self, r: int) -> list[TrialRecord]:
        return [rec for rec in self.records if rec.rung == r]

    def outcomes(self, rung: int | None = None, at_step: int | None = None) -> list[Outcome]:
        """The records (of one rung, default the last that ran) as selection outcomes, optionally at ``at_step``."""
        r = len(self.rungs) - 1 if rung is None else rung
        return [rec.outcome(at_step) for rec in self.rung(r)]

    def trial_steps(self) -> int:
        return sum(rec.steps for rec in self.records)


def run_sweep(
    problem: Problem,
    configs: Sequence[Config],
    seeds: Sequence[int],
    steps: int | Sequence[int],
    *,
    promote: RungRule | None = None,
    executor: Executor | None = None,
    eval_every: int | None = None,
    eval_splits: Sequence[str] = ("valid", "test"),
    max_eval_examples: int | None = None,
    population_size: int | None = None,
    skip: Callable[[list[Trial]], bool] | None = None,
    on_start: Callable[[list[Trial]], None] | None = None,
    on_record: Callable[[TrialRecord], None] | None = None,
    on_done: Callable[[list[TrialRecord]], None] | None = None,
    progress: Progress | None = None,
) -> SweepResult:
    """Run every configuration × seed for ``steps`` (an int, or one step count per rung; see the module).

    ``skip(trials)`` may answer True for a population whose results the caller already has (it is then not
    run and yields no records); ``on_start(trials)`` is called before a population runs. ``progress(done,
    total)`` counts trial-steps of the rungs known so far.
    """
    rung_steps = [steps] if isinstance(steps, int) else [int(s) for s in steps]
    _check(configs, seeds, rung_steps, promote, population_size)
    active = list(range(len(configs)))
    out = SweepResult(list(configs), [], [])
    population = 0
    done_steps = 0
    for r, n_steps in enumerate(rung_steps):
        out.rungs.append(list(active))
        cells = [(c, s) for c in active for s in seeds]
        total = done_steps + len(cells) * n_steps
        runnable: list[tuple[int, list[tuple[int, int]], list[Trial], int]] = []  # (population, cells, trials, base)
        for part in populations(cells, population_size):
            trials = [configs[c].trial(s) for c, s in part]
            if skip is None or not skip(trials):
                runnable.append((population, part, trials, done_steps))
            population += 1
            done_steps += len(part) * n_steps

        in_order = _run_rung(problem, runnable, r, n_steps, total, executor, out,
                             {"eval_every": eval_every, "eval_splits": eval_splits,
                              "max_eval_examples": max_eval_examples},
                             on_start, on_record, on_done, progress)
        if r + 1 < len(rung_steps):
            assert promote is not None
            active = _promoted(promote(r, in_order), len(configs))
            if not active:
                break
    return out


def _run_rung(problem: Problem, runnable: list[tuple[int, list[tuple[int, int]], list[Trial], int]], r: int,
              n_steps: int, total: int, executor: Executor | None, out: SweepResult, options: dict[str, Any],
              on_start: Callable[[list[Trial]], None] | None, on_record: Callable[[TrialRecord], None] | None,
              on_done: Callable[[list[TrialRecord]], None] | None, progress: Progress | None) -> list[TrialRecord]:
    """One rung's populations (``(population, cells, trials, trial-steps before it)``, skipped ones left out);
    returns their records in trial order, whatever order they finished in."""

    def finished(rows: list[int], result: TrainResult, part: list[tuple[int, int]], rung: int, n_steps: int,
                 population: int, streamed: dict[int, TrialRecord]) -> None:
        for i, k in enumerate(rows):
            c, s = part[k]
            rec = _record(result, i, c, s, rung, n_steps, population)
            streamed[k] = rec
            out.records.append(rec)
            if on_record is not None:
                on_record(rec)

    def complete(part: list[tuple[int, int]], result: TrainResult, streamed: dict[int, TrialRecord],
                 rung: int, n_steps: int, population: int) -> list[TrialRecord]:
        missing = [k for k in range(len(part)) if k not in streamed]
        if missing:  # an executor that did not stream (or not every trial): the rest from the whole result
            finished(missing, _subset(result, missing) if len(missing) < len(part) else result, part, rung,
                     n_steps, population, streamed)
        records = [streamed[k] for k in range(len(part))]
        if on_done is not None:
            on_done(records)
        return records

    by_population: dict[int, list[TrialRecord]] = {}
    run_units = getattr(executor, "run_units", None)
    if callable(run_units) and runnable:
        # An executor that runs several populations at once (a cluster): each population is one unit, never split,
        # so its numbers are the same as a local run's; results arrive as units finish.
        for _, _, trials, _ in runnable:
            if on_start is not None:
                on_start(trials)
        starts = [0]
        for _, part, _, _ in runnable:
            starts.append(starts[-1] + len(part))
        streams: list[dict[int, TrialRecord]] = [{} for _ in runnable]
        finished_steps = [0]

        def unit_done(rows: list[int], result: TrainResult) -> None:
            u = max(i for i, start in enumerate(starts[:-1]) if start <= rows[0])
            pop, part, _, _ = runnable[u]
            finished([k - starts[u] for k in rows], result, part, r, n_steps, pop, streams[u])
            if len(streams[u]) == len(part):
                by_population[pop] = complete(part, result, streams[u], r, n_steps, pop)
                finished_steps[0] += len(part) * n_steps
                if progress is not None:
                    progress(runnable[0][3] + finished_steps[0], total)

        run_units(problem, [trials for _, _, trials, _ in runnable], n_steps, on_done=unit_done, **options)
    else:
        for pop, part, trials, base in runnable:
            if progress is not None:
                progress(base, total)
            if on_start is not None:
                on_start(trials)

            def report(step_done: int, _total: int, base: int = base, total: int = total) -> None:
                if progress is not None:
                    progress(base + step_done, total)

            streamed: dict[int, TrialRecord] = {}

            def stream(rows: list[int], res: TrainResult, part: list[tuple[int, int]] = part, pop: int = pop,
                       streamed: dict[int, TrialRecord] = streamed) -> None:
                finished(rows, res, part, r, n_steps, pop, streamed)

            result = run_trials(problem, trials, n_steps, executor=executor, progress=report, on_done=stream,
                                **options)
            by_population[pop] = complete(part, result, streamed, r, n_steps, pop)
    return [rec for pop in sorted(by_population) for rec in by_population[pop]]


def populations(items: Sequence[Any], size: int | None) -> list[list[Any]]:
    """``items`` cut, in order, into consecutive groups of at most ``size`` (``None``: one group): how a rung's
    trials become populations, a pure function of the sweep."""
    step = size or max(1, len(items))
    return [list(items[i : i + step]) for i in range(0, len(items), step)]


def _check(configs: Sequence[Config], seeds: Sequence[int], rung_steps: list[int], promote: RungRule | None,
           population_size: int | None) -> None:
    if not configs:
        raise UserError("Nothing to sweep: give at least one configuration.")
    if not seeds:
        raise UserError("Nothing to sweep: give at least one seed.")
    if not rung_steps or any(s < 1 for s in rung_steps):
        raise UserError(f"Invalid sweep steps {rung_steps}: every rung needs at least 1 step.")
    if len(rung_steps) > 1 and promote is None:
        raise UserError("A sweep with several rungs needs a promotion rule (promote=) to choose who goes on.")
    if population_size is not None and population_size < 1:
        raise UserError(f"Invalid population size {population_size}: must be at least 1.")


def _promoted(chosen: Sequence[int], n_configs: int) -> list[int]:
    out = [int(c) for c in chosen]
    bad = [c for c in out if not 0 <= c < n_configs]
    if bad or len(set(out)) != len(out):
        raise ValueError(f"The promotion rule returned {list(chosen)}: give distinct configuration indices "
                         f"below {n_configs}.")
    return out


def _record(result: TrainResult, k: int, config: int, seed: int, rung: int, steps: int,
            population: int) -> TrialRecord:
    metrics: dict[str, float] = {}
    for split, values in result.evals.items():
        for metric, table in values.items():
            metrics[f"{split}_{metric}"] = table[k, -1].item()
    curve = result.train_loss[k]
    finite = curve[curve.isfinite()]
    metrics["final_train_loss"] = finite[-1].item() if len(finite) else math.nan
    return TrialRecord(config, seed, rung, steps, population, k, result, metrics,
                       result.seconds / len(result.trials))


def _subset(result: TrainResult, rows: list[int]) -> TrainResult:
    """The rows of ``result`` as a result of their own (curves in the given order)."""
    import dataclasses

    import torch

    index = torch.tensor(rows)
    return dataclasses.replace(
        result, trials=[result.trials[k] for k in rows], batch_sizes=[result.batch_sizes[k] for k in rows],
        train_loss=result.train_loss[index], diverged_at=[result.diverged_at[k] for k in rows],
        evals={sp: {m: t[index] for m, t in v.items()} for sp, v in result.evals.items()},
        seconds=result.seconds * len(rows) / len(result.trials),
    )


def top_fraction(fraction: float, rule_rank: Callable[[list[TrialRecord]], list[int]]) -> RungRule:
    """A rung rule promoting the best ``ceil(fraction · n)`` configurations in ``rule_rank``'s order (the
    synchronous successive-halving step; ``fraction = 1/3`` is Hyperband's η = 3)."""

    def promote(_rung: int, records: list[TrialRecord]) -> list[int]:
        order = rule_rank(records)
        return order[: math.ceil(len(order) * fraction)]

    return promote
