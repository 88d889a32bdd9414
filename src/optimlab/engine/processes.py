"""The local-processes executor: shares of the trials trained in worker processes, one intra-op thread each.

Built on :class:`concurrent.futures.ProcessPoolExecutor` (a ``forkserver`` context where the platform has one, so
each worker forks from a server that imported torch and optimlab once; else ``spawn``). Starting workers costs
an import of torch each (seconds), so an executor keeps its pool for later runs until :meth:`ProcessExecutor.close`
(or the end of a ``with`` block, or of the program). As with any process pool, a script that uses it must start
its work under ``if __name__ == "__main__":`` (workers import the main module). Each worker builds a problem once
and keeps it for later shares:

* a problem from :func:`~optimlab.problems.catalog.get_problem` (a catalog name or ``"file.py:function"``) is
  rebuilt from ``problem.source``;
* any other problem is pickled (a :class:`~optimlab.problems.base.ModuleProblem` pickles when its
  ``make_module``, loss and metrics are importable functions, not lambdas or local closures).

Each share runs with the inner executor (by default the one :func:`~optimlab.engine.executor.choose_executor`
picks for the problem, here in the parent), so a trial computes exactly what it computes in-process with the same
executor and one thread. Results are merged in the given order; ``on_done`` and ``progress`` are called as shares
finish. A worker that dies (killed, out of memory) ends the run with :class:`WorkerDied`; the shares that had
finished were delivered through ``on_done`` before it.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import pickle
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import torch

from ..errors import UserError
from ..population import Trial
from ..problems.base import Problem
from ..training import Progress, TrainResult
from .executor import Executor, PopulationExecutor, TrialsDone, choose_executor
from .per_trial import PerTrialExecutor
from .results import Part, merge_parts


class WorkerDied(UserError):
    """A worker process ended before its share was done."""


class ProblemNotShippable(UserError):
    """The problem cannot be sent to worker processes."""


class ProcessExecutor:
    """Trains shares of the trials in ``workers`` processes (one intra-op thread each) with ``inner`` there."""

    name = "processes"

    def __init__(self, workers: int = 2, *, inner: Executor | None = None) -> None:
        if workers < 1:
            raise UserError(f"Invalid workers={workers}: must be >= 1.")
        if inner is not None and not isinstance(inner, (PopulationExecutor, PerTrialExecutor)):
            raise UserError(f"Workers run the population or the per-trial executor, not {inner.name!r}.")
        self.workers, self.inner = workers, inner
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> ProcessExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker processes (a later run starts new ones)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _workers(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=_context(),
                                             initializer=_start_worker, initargs=(torch.get_default_dtype(),))
        return self._pool

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
        if not trials:
            raise ValueError("Nothing to train: no trials given.")
        steps = problem.default_steps if steps is None else steps
        inner = self.inner if self.inner is not None else choose_executor(problem, trials)
        shares = split_shares(len(trials), self.workers, one_per_trial=isinstance(inner, PerTrialExecutor))
        options: dict[str, Any] = dict(eval_every=eval_every, eval_splits=tuple(eval_splits),
                                       max_eval_examples=max_eval_examples)
        started = time.perf_counter()
        parts: list[Part] = []
        done_steps = 0
        shipped = _shipped(problem)
        pool = self._workers()
        pending: dict[Future[TrainResult], list[int]] = {
            pool.submit(_run_share, shipped, inner, [trials[k] for k in rows], steps, options): rows for rows in shares
        }
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    rows = pending.pop(future)
                    try:
                        part = future.result()
                    except BrokenProcessPool:
                        self._pool = None  # a broken pool takes no more work; the next run starts a new one
                        raise WorkerDied(
                            f"A worker process died (killed, or out of memory?) after {len(parts)} of {len(shares)} "
                            "shares of the trials had finished; those were delivered, the rest did not run."
                        ) from None
                    parts.append((rows, part))
                    done_steps += steps * len(rows)
                    if on_done is not None:
                        on_done(rows, part)
                    if progress is not None:
                        progress(done_steps, steps * len(trials))
        finally:
            for future in pending:
                future.cancel()
        return merge_parts(trials, parts, time.perf_counter() - started)


def split_shares(n_trials: int, workers: int, *, one_per_trial: bool) -> list[list[int]]:
    """Rows of each share: one trial each for the per-trial loop (the pool balances them), else one contiguous
    sub-population per worker (sizes differing by at most one)."""
    if one_per_trial:
        return [[k] for k in range(n_trials)]
    count = min(workers, n_trials)
    bounds = [round(i * n_trials / count) for i in range(count + 1)]
    return [list(range(bounds[i], bounds[i + 1])) for i in range(count)]


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["optimlab.engine.processes"])
        return context
    return multiprocessing.get_context("spawn")


Shipped = tuple[str, Any]
"""``(key, payload)``: a worker builds the problem from ``payload`` once per ``key``."""


def _shipped(problem: Problem) -> Shipped:
    """What a worker builds the problem from: its catalog source, or the pickled problem."""
    if problem.source is not None:
        return repr(problem.source), problem.source
    try:
        data = pickle.dumps(problem)
        return hashlib.sha1(data).hexdigest(), data
    except Exception as exc:
        raise ProblemNotShippable(
            f"Problem {problem.name!r} cannot be sent to worker processes ({type(exc).__name__}: {exc}); write it "
            "in a file and give it as 'path/to/file.py:function' so that each worker can build it."
        ) from exc


_worker_problems: dict[str, Problem] = {}
"""The problems this worker has built, by key (a pool serves several runs)."""


def _start_worker(dtype: torch.dtype) -> None:
    """A worker's initializer: one intra-op thread and the parent's default dtype."""
    torch.set_num_threads(1)
    torch.set_default_dtype(dtype)


def _run_share(shipped: Shipped, inner: Executor, trials: list[Trial], steps: int, options: dict[str, Any]
               ) -> TrainResult:
    key, payload = shipped
    problem = _worker_problems.get(key)
    if problem is None:
        if isinstance(payload, bytes):
            problem = pickle.loads(payload)
        else:
            from ..problems.catalog import get_problem

            name, problem_options = payload
            problem = get_problem(name, **problem_options)
        _worker_problems.clear()  # one problem at a time: a sweep runs on one problem, and data can be large
        _worker_problems[key] = problem
    return inner.run(problem, trials, steps, **options)
