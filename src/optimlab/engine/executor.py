"""Executors: where a set of trials runs. Every verb reaches them through :func:`run_trials`.

An executor takes a problem, trials and a step budget and returns one :class:`~optimlab.training.TrainResult`
with the trials in the order given. It calls ``on_done(rows, part)`` whenever some trials have finished
(``rows`` index into ``trials``; ``part`` is a ``TrainResult`` of just those), so a caller can store or draw
results before the whole set is done. Executors differ in *where* the work runs, never in what a trial
computes: the same trial gives the same record whichever executor runs it (float32 tolerance across
batched and one-by-one arithmetic).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from ..population import Trial
from ..problems.base import Problem
from ..training import Progress, TrainResult, train

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
    """Today's fast path: trials stacked on a leading dimension and trained together (:func:`training.train`)."""

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
        result = train(problem, trials, steps, eval_every=eval_every, eval_splits=eval_splits,
                       max_eval_examples=max_eval_examples, memory_budget=self.memory_budget, progress=progress,
                       fused=self.fused)
        if on_done is not None:
            on_done(list(range(len(trials))), result)
        return result


def choose_executor(problem: Problem, trials: Sequence[Trial]) -> Executor:
    """The executor for these trials when the caller names none (the population, where it can run them)."""
    return PopulationExecutor()


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
