"""The engine under every verb: executors that run a set of trials on a problem (and, above them, the sweep)."""

from .executor import Executor, PopulationExecutor, TrialsDone, choose_executor, run_trials
from .per_trial import PerTrialExecutor
from .processes import ProcessExecutor

__all__ = ["Executor", "PerTrialExecutor", "PopulationExecutor", "ProcessExecutor", "TrialsDone", "choose_executor",
           "run_trials"]
