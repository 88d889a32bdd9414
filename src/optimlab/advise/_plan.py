"""The advisor's budget and the shape of its tournament.

A budget is a number of *trial-steps* (one optimizer update of one trial; a population of K trials run for
S steps costs K·S), a wall time, or a multiple of one training run (``"x40"``: forty times the steps of one
full-length run). The tournament's shape — how many learning rates per candidate, how many seeds at each
stage — is the richest one whose trial-step cost fits the budget.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from ..engine.tuning import Budget
from ..engine.tuning import parse_budget as parse_compute_budget
from ..errors import BudgetError

DEFAULT_BUDGET = "x40"
RANGE_LR = (1e-6, 10.0)
"""The learning-rate range test ramps every candidate from the first to the second value."""
ETA = 3
"""Successive halving keeps the best third of the configurations at each rung and triples their steps."""
RUNGS = 2
"""Rungs before the final: steps S/9 and S/3, then the finalists run the full S steps."""
FINALISTS = 4

_SHAPES = ((3, 6), (2, 6), (2, 5), (2, 4), (2, 3), (1, 3), (1, 2))
"""(tuning seeds, learning rates per candidate), richest first."""


def parse_budget(budget: int | float | str | Budget | None) -> Budget:
    """The advisor's budget (:func:`optimlab.engine.parse_budget`, default :data:`DEFAULT_BUDGET`)."""
    return parse_compute_budget(budget, DEFAULT_BUDGET)


@dataclass(frozen=True)
class TournamentPlan:
    """Steps and seeds of every stage; ``cost()`` is the exact number of trial-steps it will train."""

    candidates: int
    run_steps: int
    range_steps: int
    range_seeds: int
    lrs_per_candidate: int
    tune_seeds: int
    rung_steps: tuple[int, ...]
    final_seeds: int
    finalists: int

    def rung_sizes(self) -> list[int]:
        sizes = [self.candidates * self.lrs_per_candidate]
        for _ in self.rung_steps[1:]:
            sizes.append(math.ceil(sizes[-1] / ETA))
        return sizes

    def range_cost(self) -> int:
        return self.candidates * self.range_seeds * self.range_steps

    def rest_cost(self) -> int:
        rungs = sum(n * self.tune_seeds * s for n, s in zip(self.rung_sizes(), self.rung_steps, strict=True))
        return rungs + self.finalists * self.final_seeds * self.run_steps

    def cost(self) -> int:
        return self.range_cost() + self.rest_cost()

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rung_sizes": self.rung_sizes(), "trial_steps": self.cost()}


def range_steps_for(run_steps: int) -> int:
    """A quarter of a run, at least 30 steps, so a ramp over seven decades keeps a few steps per decade."""
    return max(30, run_steps // 4)


def plan_tournament(candidates: int, run_steps: int, final_seeds: int, trial_steps: int,
                    range_done: bool = False) -> TournamentPlan:
    """The richest tournament whose cost fits ``trial_steps`` (after the range test when ``range_done``)."""
    finalists = min(FINALISTS, candidates)
    rung_steps = tuple(max(2, round(run_steps / ETA ** (RUNGS - r))) for r in range(RUNGS))
    smallest: TournamentPlan | None = None
    for tune_seeds, lrs in _SHAPES:
        plan = TournamentPlan(candidates, run_steps, range_steps_for(run_steps), 2, lrs, tune_seeds, rung_steps,
                              final_seeds, finalists)
        smallest = plan
        if (plan.rest_cost() if range_done else plan.cost()) <= trial_steps:
            return plan
    assert smallest is not None
    need = smallest.rest_cost() if range_done else smallest.cost()
    raise BudgetError(
        f"A budget of {trial_steps} trial-steps is too small to decide anything among {candidates} candidates "
        f"at {run_steps} steps per run: the smallest tournament needs {need} "
        f"(about x{math.ceil(need / run_steps)} runs); raise the budget, or give fewer candidates or steps."
    )
