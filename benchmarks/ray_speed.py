"""A study's populations run in one process, and as Ray tasks on a local cluster with one and with two workers.

The workload is the shape of a small study: ``--units`` populations (each 4 trials: Adam and momentum at two
learning rates) of the MNIST-1D MLP, ``--steps`` steps each, every population one task. One process runs them
one after another on one intra-op thread (the local executor a study uses here); Ray runs them with one and with
two worker CPUs (each task on one thread). The local run is timed before and after the Ray runs and the faster
is kept (the machine is shared and drifts). Per-task overhead: the same number of 1-step tasks on Ray against
the same work locally, per task.

    python benchmarks/ray_speed.py             # 16 populations x 300 steps
    python benchmarks/ray_speed.py --quick     # smoke test

Ends with ``RESULT ray_speed efficiency_2_workers=X.XX task_overhead_ms=Y`` where efficiency is the local
one-process wall time over the 2-worker Ray wall time (bar: 1.6 on this 2-core machine).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch

from optimlab import Trial
from optimlab.engine import run_trials
from optimlab.engine.ray_executor import RayExecutor
from optimlab.problems.catalog import get_problem


def units_of(count: int) -> list[list[Trial]]:
    return [[Trial(o, {"lr": lr}, seed=u) for o in ("adam", "momentum") for lr in ((1e-3, 1e-2) if o == "adam"
                                                                                  else (1e-2, 1e-1))]
            for u in range(count)]


def local_seconds(problem: object, units: list[list[Trial]], steps: int) -> float:
    torch.set_num_threads(1)
    started = time.perf_counter()
    for unit in units:
        run_trials(problem, unit, steps, eval_splits=("valid",))  # type: ignore[arg-type]
    return time.perf_counter() - started


def ray_seconds(units: list[list[Trial]], steps: int, cpus: int, problem: object) -> tuple[float, float]:
    """Wall time of the units on a fresh local cluster of ``cpus`` CPUs, and of as many 1-step tasks."""
    import ray

    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    try:
        executor = RayExecutor()
        executor.run_units(problem, units[:cpus], 1, eval_splits=("valid",))  # start the workers: not timed
        started = time.perf_counter()
        executor.run_units(problem, units, steps, eval_splits=("valid",))  # type: ignore[arg-type]
        wall = time.perf_counter() - started
        started = time.perf_counter()
        executor.run_units(problem, units, 1, eval_splits=("valid",))  # type: ignore[arg-type]
        tiny = time.perf_counter() - started
    finally:
        ray.shutdown()
    return wall, tiny


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    units_n, steps = (4, 30) if args.quick else (args.units, args.steps)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_TMPDIR", tempfile.mkdtemp(prefix="/tmp/ol-rayb-"))
    problem = get_problem("mnist1d-mlp")
    units = units_of(units_n)
    local_seconds(problem, units[:1], 5)  # warm up
    before = local_seconds(problem, units, steps)
    one, _ = ray_seconds(units, steps, 1, problem)
    two, tiny = ray_seconds(units, steps, 2, problem)
    after = local_seconds(problem, units, steps)
    local = min(before, after)
    local_tiny = local_seconds(problem, units, 1)
    overhead_ms = max(0.0, (tiny * 2 - local_tiny) / len(units) * 1e3)  # 2 workers ran the tiny tasks in parallel
    print(f"{units_n} populations x 4 trials x {steps} steps, MNIST-1D MLP, one intra-op thread per process")
    print(f"{'run':<28}{'wall s':>10}{'vs local':>10}")
    print(f"{'local, one process (before)':<28}{before:>10.2f}{'':>10}")
    print(f"{'local, one process (after)':<28}{after:>10.2f}{'':>10}")
    print(f"{'ray, 1 worker':<28}{one:>10.2f}{local / one:>10.2f}")
    print(f"{'ray, 2 workers':<28}{two:>10.2f}{local / two:>10.2f}")
    print(f"per-task overhead: {overhead_ms:.1f} ms ({len(units)} one-step tasks: ray {tiny:.2f} s on 2 workers, "
          f"local {local_tiny:.2f} s)")
    print(f"RESULT ray_speed efficiency_2_workers={local / two:.2f} task_overhead_ms={overhead_ms:.0f}")


if __name__ == "__main__":
    main()
