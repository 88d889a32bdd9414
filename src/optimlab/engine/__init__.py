"""The engine under every verb: executors that run a set of trials on a problem (and, above them, the sweep)."""

from .executor import Executor, PopulationExecutor, TrialsDone, run_trials

__all__ = ["Executor", "PopulationExecutor", "TrialsDone", "run_trials"]
