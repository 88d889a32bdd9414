"""The Ray executor: a sweep's trials run as Ray tasks on a cluster (or a local one), the driver alone collects.

Each task trains one *unit* — a list of trials that run together — with the executor a local run would
choose for it (the population where the model batches, else one trial at a time), on one intra-op thread, and
returns its :class:`~optimlab.training.TrainResult`. The driver receives results as tasks finish and hands
them to ``on_done``, so the study's store (one writer: the driver) records them as they arrive; workers need
no shared filesystem.

What travels to the workers: the problem object, pickled once into Ray's object store (its model factory,
loss and data tensors). A problem loaded from a user's file (``file.py:function``) is pickled *by value*
(the file's functions travel with it), so the other machines need optimlab installed but not the file.

Faults: a task whose worker process or node dies is submitted again (up to ``max_retries`` times; progress
counts it as retried); its trials are delivered once, when a run of it finishes. A task that fails for a
reason of its own (an exception in the user's model or loss) is not retried: the sweep stops with the
worker's one-sentence error, after everything finished before it has been delivered.

Same numbers: a unit runs the same code on the same trials as a local run of that unit, so its results are
bit-identical to the local executor's when both use the same intra-op thread count (tests check it). What can
differ is the grouping: a population's numbers can change in the last bit with the set of trials batched
beside them, so :func:`task_units` splits the trials the same way every time, and the study passes its
plan's populations as units (:meth:`RayExecutor.run_units`), which makes a study's store identical.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from ..errors import UserError
from ..population import Trial
from ..problems.base import Problem
from ..training import Progress, TrainResult, batch_size_for
from .executor import TrialsDone
from .results import merge_parts

USER_MODULE_PREFIX = "optimlab_user_problem_"
"""Modules loaded from a user's problem file carry this prefix (problems' file loader); they travel by value."""

TaskProgress = Callable[["TaskCounts"], None]


class RayUnavailableError(UserError):
    """The Ray backend was asked for, but the ``ray`` package is not installed."""


class WorkerError(UserError):
    """A task failed on a worker for a reason of its own (the user's code); the message is the worker's."""


@dataclass
class TaskCounts:
    """Tasks of one run: submitted, running, finished and retried (for progress lines)."""

    total: int = 0
    finished: int = 0
    retried: int = 0

    @property
    def running(self) -> int:
        return self.total - self.finished

    def __str__(self) -> str:
        return f"ray tasks: {self.finished}/{self.total} finished, {self.running} running, {self.retried} retried"


def require_ray() -> Any:
    """The ``ray`` module, or one sentence saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailableError(
            "The Ray backend needs the ray package: install it with pip install 'optimlab[ray]' "
            "(or pip install ray==2.60.0)."
        ) from exc
    return ray


def connect(address: str | None = None, *, num_cpus: int | None = None) -> Any:
    """Join the cluster at ``address`` (``"auto"``: the one ``ray start`` runs here), or start a local one when
    ``address`` is None and none is running. Returns the ``ray`` module."""
    ray = require_ray()
    if ray.is_initialized():
        return ray
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address is None:
        options["num_cpus"] = num_cpus
    try:
        ray.init(address=address, **options)
    except ConnectionError as exc:
        raise UserError(f"Could not connect to a Ray cluster at {address!r}: {exc}") from exc
    return ray


def cluster_cpus(ray: Any) -> int:
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


MIN_TRIAL_STEPS_PER_TASK = 2_000
"""A task carries at least this many trial-steps (when there are that many): Ray's per-task cost is a few
milliseconds to a few tens, which a small-model trial-step (tens of microseconds batched) must amortize."""

TASKS_PER_CPU = 2
"""Aim for this many tasks per CPU: enough to balance uneven trials and to lose little work to one fault."""


def task_units(problem: Problem, trials: Sequence[Trial], steps: int, cpus: int) -> list[list[int]]:
    """Rows of ``trials`` split into task units, deterministically: by batch size first (trials of different
    batch sizes never share a population), then into about ``TASKS_PER_CPU × cpus`` units of consecutive rows,
    none smaller than ``MIN_TRIAL_STEPS_PER_TASK`` trial-steps where the trials allow it."""
    by_size: dict[int, list[int]] = {}
    for k, trial in enumerate(trials):
        by_size.setdefault(batch_size_for(trial, problem), []).append(k)
    target = max(1, TASKS_PER_CPU * cpus)
    min_trials = max(1, math.ceil(MIN_TRIAL_STEPS_PER_TASK / max(1, steps)))
    units: list[list[int]] = []
    for size in sorted(by_size):
        rows = by_size[size]
        share = max(1, round(target * len(rows) / len(trials)))
        per_unit = max(min_trials, math.ceil(len(rows) / share))
        units.extend(rows[i : i + per_unit] for i in range(0, len(rows), per_unit))
    return units


@dataclass(frozen=True)
class _Failure:
    """What a task returns when the user's code raised: the message, already one sentence."""

    message: str


def _run_unit(problem: Problem, trials: list[Trial], steps: int | None, options: dict[str, Any],
              threads: int) -> TrainResult | _Failure:
    """The task body (runs on a worker): the unit on ``threads`` intra-op threads with the locally chosen executor."""
    from .._threads import torch_threads
    from .executor import run_trials

    with torch_threads(threads):
        try:
            return run_trials(problem, trials, steps, **options)
        except UserError as exc:
            return _Failure(str(exc))
        except Exception as exc:  # the user's model, data or loss: one sentence, no Ray traceback
            return _Failure(f"{type(exc).__name__}: {exc}")


class RayExecutor:
    """Runs trials as Ray tasks; see the module docstring. ``address``: a cluster to join (``None`` starts or
    joins a local one); ``threads``: intra-op threads per task (one by default, the fastest for small models
    here); ``max_retries``: resubmissions of a task whose worker died; ``task_progress``: called with the
    :class:`TaskCounts` whenever a task finishes or is retried."""

    name = "ray"

    def __init__(self, address: str | None = None, *, threads: int = 1, max_retries: int = 3,
                 num_cpus: int | None = None, task_progress: TaskProgress | None = None) -> None:
        if threads < 1:
            raise UserError(f"Invalid threads={threads}: a Ray task needs at least one intra-op thread.")
        if max_retries < 0:
            raise UserError(f"Invalid max_retries={max_retries}: must be >= 0.")
        require_ray()
        self.address, self.threads, self.max_retries = address, threads, max_retries
        self.num_cpus, self.task_progress = num_cpus, task_progress
        self.counts = TaskCounts()
        self._shipped: tuple[Problem, str, Any] | None = None  # the last problem put, the cluster, its ref

    def units_wanted(self) -> int:
        """How many units (populations) a rung should have to keep the cluster busy: :data:`TASKS_PER_CPU` per
        task slot (the cluster's CPUs over the threads a task takes)."""
        ray = connect(self.address, num_cpus=self.num_cpus)
        return TASKS_PER_CPU * max(1, cluster_cpus(ray) // self.threads)

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
        """All ``trials`` in the units :func:`task_units` makes; see :meth:`run_units`."""
        ray = connect(self.address, num_cpus=self.num_cpus)
        run_steps = problem.default_steps if steps is None else steps
        rows = task_units(problem, trials, run_steps, cluster_cpus(ray))
        return self.run_units(problem, [[trials[k] for k in unit] for unit in rows], steps, eval_every=eval_every,
                              eval_splits=eval_splits, max_eval_examples=max_eval_examples, progress=progress,
                              on_done=on_done, rows=rows)

    def run_units(
        self,
        problem: Problem,
        units: Sequence[Sequence[Trial]],
        steps: int | None = None,
        *,
        eval_every: int | None = None,
        eval_splits: Sequence[str] = ("valid", "test"),
        max_eval_examples: int | None = None,
        progress: Progress | None = None,
        on_done: TrialsDone | None = None,
        rows: Sequence[Sequence[int]] | None = None,
    ) -> TrainResult:
        """Each unit (trials that run together, as one local run of them would) as one task; results reach
        ``on_done(rows, part)`` as tasks finish, rows numbering the trials of all units in order (or ``rows``).
        Returns every trial's result in that order."""
        if not units or not all(units):
            raise UserError("Nothing to run: every Ray task needs at least one trial.")
        ray = connect(self.address, num_cpus=self.num_cpus)
        n_trials = sum(len(u) for u in units)
        if rows is None:
            starts = [0, *accumulate(len(u) for u in units)]
            rows = [list(range(starts[i], starts[i] + len(u))) for i, u in enumerate(units)]
        run_steps = problem.default_steps if steps is None else steps
        options = {"eval_every": eval_every, "eval_splits": tuple(eval_splits), "max_eval_examples": max_eval_examples}
        remote = ray.remote(_run_unit).options(max_retries=0, num_cpus=self.threads)
        problem_ref = self._ref_of(ray, problem)
        pending: dict[Any, int] = {}
        attempts = [0] * len(units)

        def submit(i: int) -> None:
            pending[remote.remote(problem_ref, list(units[i]), steps, options, self.threads)] = i

        for i in range(len(units)):
            submit(i)
        self.counts = TaskCounts(total=len(units))
        parts: list[tuple[list[int], TrainResult]] = []
        steps_done = 0
        total_steps = n_trials * run_steps
        started = time.perf_counter()
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            i = pending.pop(ready[0])
            try:
                value = ray.get(ready[0])
            except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                    ray.exceptions.ObjectLostError, ray.exceptions.OwnerDiedError,
                    ray.exceptions.LocalRayletDiedError) as exc:
                if attempts[i] >= self.max_retries:
                    raise UserError(
                        f"A Ray task ({len(units[i])} trials) lost its worker {attempts[i] + 1} times; giving up: "
                        f"{type(exc).__name__}."
                    ) from exc
                attempts[i] += 1
                self.counts.retried += 1
                self._tell()
                submit(i)
                continue
            except ray.exceptions.RayTaskError as exc:  # the task body could not even start on the worker
                raise WorkerError(_could_not_start(exc)) from exc
            if isinstance(value, _Failure):
                for ref in pending:
                    ray.cancel(ref, force=True)
                raise WorkerError(value.message)
            part_rows = list(rows[i])
            parts.append((part_rows, value))
            self.counts.finished += 1
            self._tell()
            steps_done += len(part_rows) * run_steps
            if progress is not None:
                progress(steps_done, total_steps)
            if on_done is not None:
                on_done(part_rows, value)
        return merge_parts(_in_row_order(units, rows), parts, time.perf_counter() - started)

    def _ref_of(self, ray: Any, problem: Problem) -> Any:
        """The problem in Ray's object store, put once per problem (a sweep calls every rung with the same one,
        and its data may be large); again after a reconnect, whose object store is a new one."""
        cluster = ray.get_runtime_context().get_node_id()
        if self._shipped is None or self._shipped[0] is not problem or self._shipped[1] != cluster:
            _pickle_user_modules_by_value(ray)
            self._shipped = (problem, cluster, ray.put(problem))
        return self._shipped[2]

    def _tell(self) -> None:
        if self.task_progress is not None:
            self.task_progress(self.counts)


def _could_not_start(exc: Any) -> str:
    """One sentence for a task that failed before its body ran (most often: the problem could not be unpickled)."""
    cause = getattr(exc, "cause", exc)
    inner = cause.args[0] if cause.args and isinstance(cause.args[0], BaseException) else cause
    if isinstance(inner, ModuleNotFoundError):
        return (f"A Ray worker could not load the problem ({type(inner).__name__}: {inner}): define it in a file and "
                "pass 'file.py:function', or install the module it comes from on every node.")
    return f"A Ray task could not start on its worker: {type(inner).__name__}: {inner}"


def _in_row_order(units: Sequence[Sequence[Trial]], rows: Sequence[Sequence[int]]) -> list[Trial]:
    n = sum(len(r) for r in rows)
    ordered: list[Trial | None] = [None] * n
    for unit, unit_rows in zip(units, rows, strict=True):
        for trial, k in zip(unit, unit_rows, strict=True):
            ordered[k] = trial
    if any(t is None for t in ordered):
        raise ValueError("The units' rows must number every trial exactly once.")
    return [t for t in ordered if t is not None]


def _pickle_user_modules_by_value(ray: Any) -> None:
    """Problems from a user's file travel with their code: the other machines do not have the file."""
    for name, module in list(sys.modules.items()):
        if name.startswith(USER_MODULE_PREFIX) and module is not None:
            ray.cloudpickle.register_pickle_by_value(module)
