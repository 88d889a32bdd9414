"""The engine under every verb: executors that run a set of trials on a problem and, above them, the sweep.

``run_sweep`` (configurations × seeds, optionally in rungs with the caller's promotion rule, records streamed
as trials finish) is how the verbs tune and train; ``tuning`` holds the one learning-rate grid, the one
compute :class:`Budget` and the one "best configuration" :class:`Selection`.
"""

from ..training import Progress
from .executor import Executor, PopulationExecutor, TrialsDone, choose_executor, run_trials
from .per_trial import PerTrialExecutor
from .processes import ProcessExecutor
from .sweep import Config, RungRule, SweepResult, TrialRecord, run_sweep, top_fraction
from .tuning import (
    Budget,
    Outcome,
    Ranked,
    Selection,
    best_per,
    check_lrs,
    lr_grid,
    lrs_around,
    outcomes_from_rows,
    parse_budget,
    parse_lr_grid,
    rank,
)

__all__ = [
    "Budget",
    "Config",
    "Executor",
    "Outcome",
    "PerTrialExecutor",
    "PopulationExecutor",
    "ProcessExecutor",
    "Progress",
    "Ranked",
    "RungRule",
    "Selection",
    "SweepResult",
    "TrialRecord",
    "TrialsDone",
    "best_per",
    "check_lrs",
    "choose_executor",
    "lr_grid",
    "lrs_around",
    "outcomes_from_rows",
    "parse_budget",
    "parse_lr_grid",
    "rank",
    "run_sweep",
    "run_trials",
    "top_fraction",
]
