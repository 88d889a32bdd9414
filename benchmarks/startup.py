"""Start-up cost of optimlab's front doors, side by side with ``import torch`` in the same run.

Each command runs in a fresh interpreter (the same one as this script, with this checkout's ``src`` first on
``PYTHONPATH``), in rounds: every round runs every command once, in turn, so that the machine's drift (other
tenants) falls on all of them alike. ``optimlab --help`` and ``optimlab list`` run the console script's entry
point (``optimlab.cli:main``). ``python -c pass`` is the floor: the interpreter's own start.

    python benchmarks/startup.py               # 7 rounds
    python benchmarks/startup.py --repeats 3   # quicker

Bars (issue 13): ``optimlab --help`` ≤ 0.5 s wall; ``import optimlab.optim`` ≤ ``import torch`` + 0.3 s (the
difference of the medians). The table gives wall and CPU seconds (user + system of the child: on a shared machine
the wall time also counts the wait for a core). Ends with
``RESULT startup help_s=… list_s=… optim_minus_torch_s=… help_cpu_s=…`` (wall medians, then the CPU median).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
CLI = "from optimlab.cli import main; raise SystemExit(main())"

COMMANDS: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    "import torch": ["-c", "import torch"],
    "import optimlab": ["-c", "import optimlab"],
    "import optimlab.optim": ["-c", "import optimlab.optim"],
    "optimlab --help": ["-c", CLI, "--help"],
    "optimlab list": ["-c", CLI, "list"],
}

HELP_BAR_S = 0.5
OPTIM_OVER_TORCH_BAR_S = 0.3


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one fresh interpreter running ``args``; a failing command stops the
    benchmark. On a shared machine the wall time includes waiting for a core; the CPU time does not."""
    path = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    cpu, start = _children_cpu(), time.perf_counter()
    done = subprocess.run([sys.executable, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.decode()[-400:]}")
    return seconds, cpu


def measure(repeats: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and CPU seconds of every command, ``repeats`` rounds of all commands in turn."""
    walls: dict[str, list[float]] = {name: [] for name in COMMANDS}
    cpus: dict[str, list[float]] = {name: [] for name in COMMANDS}
    run_once(COMMANDS["import torch"])  # warm the file cache once, untimed
    for _ in range(repeats):
        for name, args in COMMANDS.items():
            wall, cpu = run_once(args)
            walls[name].append(wall)
            cpus[name].append(cpu)
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="rounds (each runs every command once)")
    repeats = parser.parse_args().repeats
    load = os.getloadavg()[0]
    times, cpus = measure(repeats)
    median = {name: statistics.median(ts) for name, ts in times.items()}
    print(f"{repeats} rounds, load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
          f"({os.cpu_count()} cores, shared)")
    print(f"{'command':<24} {'wall median s':>13} {'wall min s':>10} {'cpu median s':>12}")
    for name, ts in times.items():
        print(f"{name:<24} {median[name]:>13.3f} {min(ts):>10.3f} {statistics.median(cpus[name]):>12.3f}")
    over = median["import optimlab.optim"] - median["import torch"]
    help_s, list_s = median["optimlab --help"], median["optimlab list"]
    print(f"\noptimlab --help: {help_s:.3f} s (bar {HELP_BAR_S} s: {'met' if help_s <= HELP_BAR_S else 'MISSED'})")
    print(f"import optimlab.optim - import torch: {over:+.3f} s "
          f"(bar {OPTIM_OVER_TORCH_BAR_S} s: {'met' if over <= OPTIM_OVER_TORCH_BAR_S else 'MISSED'})")
    help_cpu = statistics.median(cpus["optimlab --help"])
    print(f"RESULT startup help_s={help_s:.3f} list_s={list_s:.3f} optim_minus_torch_s={over:.3f} "
          f"help_cpu_s={help_cpu:.3f}")


if __name__ == "__main__":
    main()
