"""Start-up cost of optimlab's front doors, side by side with ``import torch`` in the same run.

Each command runs in a fresh interpreter (the same one as this script, with this checkout's ``src`` first on
``PYTHONPATH``), in rounds: every round runs every command once, in turn, so that the machine's drift (other
tenants) falls on all of them alike. ``optimlab --help`` and ``optimlab list`` run the console script's entry
point (``optimlab.cli:main``). ``python -c pass`` is the floor: the interpreter's own start.

    python benchmarks/startup.py               # 7 rounds
    python benchmarks/startup.py --repeats 3   # quicker

Bars (issue 13): ``optimlab --help`` ≤ 0.5 s wall; ``import optimlab.optim`` ≤ ``import torch`` + 0.3 s (the
difference of the medians). Ends with ``RESULT startup help_s=… list_s=… optim_minus_torch_s=…``.
"""

from __future__ import annotations

import argparse
import os
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


def run_once(args: list[str]) -> float:
    """Wall seconds of one fresh interpreter running ``args``; a failing command stops the benchmark."""
    path = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.decode()[-400:]}")
    return seconds


def measure(repeats: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    run_once(COMMANDS["import torch"])  # warm the file cache once, untimed
    for _ in range(repeats):
        for name, args in COMMANDS.items():
            times[name].append(run_once(args))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="rounds (each runs every command once)")
    repeats = parser.parse_args().repeats
    load = os.getloadavg()[0]
    times = measure(repeats)
    median = {name: statistics.median(ts) for name, ts in times.items()}
    print(f"{repeats} rounds, load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
          f"({os.cpu_count()} cores, shared)")
    print(f"{'command':<24} {'median s':>9} {'min s':>7}")
    for name, ts in times.items():
        print(f"{name:<24} {median[name]:>9.3f} {min(ts):>7.3f}")
    over = median["import optimlab.optim"] - median["import torch"]
    help_s, list_s = median["optimlab --help"], median["optimlab list"]
    print(f"\noptimlab --help: {help_s:.3f} s (bar {HELP_BAR_S} s: {'met' if help_s <= HELP_BAR_S else 'MISSED'})")
    print(f"import optimlab.optim - import torch: {over:+.3f} s "
          f"(bar {OPTIM_OVER_TORCH_BAR_S} s: {'met' if over <= OPTIM_OVER_TORCH_BAR_S else 'MISSED'})")
    print(f"RESULT startup help_s={help_s:.3f} list_s={list_s:.3f} optim_minus_torch_s={over:.3f}")


if __name__ == "__main__":
    main()
