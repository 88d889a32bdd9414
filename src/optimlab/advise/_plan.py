"""The advisor's budget and the shape of its tournament.

A budget is a number of *trial-steps* (one optimizer update of one trial; a population of K trials run for
S steps costs K·S), a wall time, or a multiple of one training run (``"x33"``: thirty-three times the steps of
one full-length run). The tournament's shape — how many seeds the scan and the refinement use, how many
configurations reach the final — is the richest one whose trial-step cost fits the budget.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from ..engine.tuning import Budget
from ..engine.tuning import parse_budget as parse_compute_budget
from ..errors import BudgetError

DEFAULT_BUDGET = "x33"
"""33 full runs: under an eighth of the exhaustive grid of 9 candidates × 10 learning rates × 3 seeds."""
SCAN_DECADES = (-5, -4, -3, -2, -1, 0, 1)
"""The scan tries every candidate at 10^d for each d: 1e-5 … 10, one decade apart."""
SCAN_FRACTION = 9
"""The scan trains S/9 steps."""
REFINE_FRACTION = 2
"""The refinement trains S/2 steps (S/3 lost full-batch GD on mnist1d-mlp, a slow starter that wins at S)."""
REFINE_OFFSETS = (-0.5, 0.0, 0.5)
"""The refinement tries each candidate at its best scan rate times 10^o for each offset o (decades)."""
WIDEN = 2
"""Scan points reserved for widening: a candidate whose best scan rate is an end of the scan tries one decade
further that way (up to this many extra points in all)."""
FINALISTS = 4
FLAT_TOLERANCE = 0.01
"""A candidate's scan is flat when no rate lowered its validation loss by more than this fraction of the loss at
the smallest rate; its largest stable rate is the largest whose loss rose by at most this fraction
(:mod:`._plateau`)."""
CATCH_UP = 0.5
"""A flat-scan candidate has left its plateau by the refinement when its validation loss has fallen (from its
smallest-rate scan loss) by at least this fraction of the refinement leader's fall: it then keeps a final place."""

_SHAPES = ((2, 2, 4), (1, 2, 4), (1, 1, 4), (1, 1, 3), (1, 1, 2))
"""(scan seeds, refinement seeds, finalists), richest first."""


def parse_budget(budget: int | float | str | Budget | None) -> Budget:
    """The advisor's budget (:func:`optimlab.engine.parse_budget`, default :data:`DEFAULT_BUDGET`)."""
    return parse_compute_budget(budget, DEFAULT_BUDGET)


@dataclass(frozen=True)
class TournamentPlan:
    """Steps and seeds of every stage; ``cost()`` is the most trial-steps it will train (widening included)."""

    candidates: int
    run_steps: int
    scan_lrs: int
    scan_steps: int
    scan_seeds: int
    refine_lrs: int
    refine_steps: int
    refine_seeds: int
    final_seeds: int
    finalists: int

    def scan_cost(self) -> int:
        return (self.candidates * self.scan_lrs + WIDEN) * self.scan_seeds * self.scan_steps

    def refine_cost(self) -> int:
        return self.candidates * self.refine_lrs * self.refine_seeds * self.refine_steps

    def final_cost(self) -> int:
        return self.finalists * self.final_seeds * self.run_steps

    def cost(self) -> int:
        return self.scan_cost() + self.refine_cost() + self.final_cost()

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "trial_steps": self.cost()}


def plan_tournament(candidates: int, run_steps: int, final_seeds: int, trial_steps: int,
                    scan_seeds: int | None = None) -> TournamentPlan:
    """The richest tournament whose cost fits ``trial_steps`` (only shapes whose scan has ``scan_seeds`` seeds,
    when given: a wall-time budget scans on one seed before it knows the speed)."""
    smallest: TournamentPlan | None = None
    for shape_scan_seeds, refine_seeds, finalists in _SHAPES:
        if scan_seeds is not None and shape_scan_seeds != scan_seeds:
            continue
        plan = TournamentPlan(
            candidates, run_steps, len(SCAN_DECADES), max(2, round(run_steps / SCAN_FRACTION)), shape_scan_seeds,
            len(REFINE_OFFSETS), max(2, round(run_steps / REFINE_FRACTION)), refine_seeds, final_seeds,
            min(finalists, max(2, candidates)),
        )
        smallest = plan
        if plan.cost() <= trial_steps:
            return plan
    assert smallest is not None
    need = smallest.cost()
    raise BudgetError(
        f"A budget of {trial_steps} trial-steps is too small to decide anything among {candidates} candidates "
        f"at {run_steps} steps per run: the smallest tournament needs {need} "
        f"(about x{math.ceil(need / run_steps)} runs); raise the budget, or give fewer candidates or steps."
    )
