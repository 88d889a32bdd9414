"""Executors: where a set of trials runs. Every verb reaches them through :func:`run_trials`.

The interface (what a new executor, such as a Ray cluster's, implements; the verbs never change for it):

* an object with a ``name`` (``"population"``, ``"per-trial"``, ``"processes"`` ...) and a method
  ``run(problem, trials, steps=None, *, eval_every=None, eval_splits=("valid", "test"), max_eval_examples=None,
  progress=None, on_done=None) -> TrainResult`` (:class:`Executor`);
* ``run`` returns one :class:`~optimlab.training.TrainResult` with the trials in the order given (its curves
  ``[K, ...]``; :func:`optimlab.engine.results.merge_parts` builds it from parts);
* it calls ``on_done(rows, part)`` whenever some trials have finished (``rows`` index into ``trials``; ``part``
  is a ``TrainResult`` of just those, e.g. :func:`optimlab.engine.results.take_rows`), so a caller can store or
  draw results before the whole set is done; every trial is reported exactly once;
* ``progress(steps_done, steps_total)``, when given, counts trial-steps over the whole set (an executor whose
  work runs elsewhere may report only as parts finish);
* a trial computes the same thing wherever it runs: its seed fixes its initial parameters, its batches
  (:class:`~optimlab.training.BatchStream`) and its model randomness; a diverged trial is marked
  (``diverged_at``) and stopped without changing the others. The same trial gives the same record whichever
  executor runs it (bit for bit between the per-trial loop in-process and in worker processes; float32
  tolerance between batched and one-by-one arithmetic);
* bad input or a lost worker raises a :class:`~optimlab.errors.UserError` whose message is one sentence.

Two optional methods, for an executor that runs several populations at once (a cluster):
``run_units(problem, units, steps, ..., on_done=...)`` runs the caller's populations whole, one unit each (the
sweep then hands it a rung's populations together), and ``units_wanted() -> int`` says how many units keep it
busy (a study with no population bound plans populations that small and stores the size in its plan).

An executor that runs work in other processes or machines ships the problem as
:mod:`optimlab.engine.processes` does (rebuilt from ``problem.source`` where it has one, else pickled) and runs
each share there with :class:`PopulationExecutor` or :class:`~optimlab.engine.per_trial.PerTrialExecutor`.

Which executor runs (:func:`choose_executor`): the population where one vmap can batch the problem's model
(:mod:`optimlab.engine.probe` asks once per problem), else the per-trial loop, announced by one
:class:`~optimlab.notices.ExecutorNotice` line. A caller can always pass ``executor=`` instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Protocol

from ..notices import ExecutorNotice
from ..population import Trial
from ..problems.base import Problem
from ..training import Progress, TrainResult, train
from .per_trial import PerTrialExecutor
from .probe import probe

TrialsDone = Callable[[list[int], TrainResult], None]
"""``on_done(rows, part)``: the trials ``rows`` (indices into the given trials) finished; ``part`` holds them."""


class Executor(Protocol):
    """Runs trials; see the module docstring for the contract."""

    name: str

    def run(
        self,
        problem: Problem,
        trials: Sequence[Trial],
        steps: int | None = None,
        *,
        eval_every: int | None = None,
        eval_splits: Sequence[str] = ("valid", "test"),
        max_eval_examples: int | None = None,
        progress: Progress | None = None,
        on_done: TrialsDone | None = None,
    ) -> TrainResult: ...


class PopulationExecutor:
    """Today's fast path: trials stacked on a leading dimension and trained together (:func:`training.train`);
    ``on_done`` is called as each memory chunk finishes."""

    name = "population"

    def __init__(self, *, memory_budget: int | None = None, fused: bool | None = None) -> None:
        self.memory_budget, self.fused = memory_budget, fused

    def run(
        self,
        problem: Problem,
        trials: Sequence[Trial],
        steps: int | None = None,
        *,
        eval_every: int | None = None,
        eval_splits: Sequence[str] = ("valid", "test"),
        max_eval_examples: int | None = None,
        progress: Progress | None = None,
        on_done: TrialsDone | None = None,
    ) -> TrainResult:
        return train(problem, trials, steps, eval_every=eval_every, eval_splits=eval_splits,
                     max_eval_examples=max_eval_examples, memory_budget=self.memory_budget, progress=progress,
                     fused=self.fused, on_chunk=on_done)


def choose_executor(problem: Problem, trials: Sequence[Trial], *, memory_budget: int | None = None) -> Executor:
    """The executor for these trials when the caller names none: the population where it can batch the problem's
    model, else the per-trial loop with one :class:`~optimlab.notices.ExecutorNotice` (the first time, per
    problem) saying why. Worker processes are never chosen by themselves: on this 2-core machine they paid only
    for small models (``benchmarks/engine_speed.py``), which the population already runs fastest.
    ``memory_budget`` caps one population chunk (the study fixes it in its plan, so a resumed study chunks alike)."""
    verdict = probe(problem)
    if verdict.batched:
        return PopulationExecutor(memory_budget=memory_budget)
    if not problem.__dict__.get("executor_noticed"):
        problem.__dict__["executor_noticed"] = True
        warnings.warn(ExecutorNotice(f"optimlab: training trials one by one: {verdict.reason}"), stacklevel=3)
    return PerTrialExecutor()


def run_trials(
    problem: Problem,
    trials: Sequence[Trial],
    steps: int | None = None,
    *,
    executor: Executor | None = None,
    eval_every: int | None = None,
    eval_splits: Sequence[str] = ("valid", "test"),
    max_eval_examples: int | None = None,
    progress: Progress | None = None,
    on_done: TrialsDone | None = None,
) -> TrainResult:
    """Run ``trials`` on ``problem`` with ``executor`` (default: :func:`choose_executor`'s choice)."""
    chosen = executor if executor is not None else choose_executor(problem, trials)
    return chosen.run(problem, trials, steps, eval_every=eval_every, eval_splits=eval_splits,
                      max_eval_examples=max_eval_examples, progress=progress, on_done=on_done)
