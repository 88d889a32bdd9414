"""Time `optimlab compare` with no arguments (the gallery) and append the result to benchmarks/RESULTS.md."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch


def machine_check() -> float:
    """Seconds for a fixed matmul workload: the machine's speed drifts, so we record it beside the numbers."""
    a = torch.randn(512, 512)
    began = time.perf_counter()
    for _ in range(50):
        a @ a
    return time.perf_counter() - began


def main(repeats: int = 3) -> None:
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    command = [sys.executable, "-m", "optimlab.cli", "compare"]
    before = machine_check()
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            began = time.perf_counter()
            subprocess.run(command, cwd=tmp, env=env, check=True, capture_output=True)
            times.append(time.perf_counter() - began)
    after = machine_check()
    lines = [
        "",
        "## compare_speed",
        "",
        f"`optimlab compare` (no arguments: the gallery of {7} pictures, GIFs, CSVs and index.html), run as "
        f"`python -m optimlab.cli compare` in a fresh directory, {repeats} runs, wall time including "
        "interpreter start and imports.",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; "
        f"machine check (50 matmuls 512²) {before:.2f} s before, {after:.2f} s after.",
        "",
        "| runs | median s | min s | max s |",
        "|---|---|---|---|",
        f"| {repeats} | {statistics.median(times):.1f} | {min(times):.1f} | {max(times):.1f} |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    with open(root / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as fh:
        fh.write(text)


if __name__ == "__main__":
    main()
