"""Time `optimlab compare` with no arguments (the lesson page) beside `import torch`, and append to RESULTS.md.

Each round runs, one after the other in fresh processes: `python -c "import torch"` (the floor any torch program
pays), `python -c "import optimlab"` (start-up), `python -m optimlab.cli compare` in a fresh directory (a
newcomer's first run: the real network is trained), and the same command again in that directory (the network
is reused from its network.json). The command's own seconds (what it prints as "done in": grids, network, page;
start-up excluded) are read from its output. The machine is shared and noisy: compare the columns of one round
(the difference to `import torch` of the same round), not numbers from different days.

    PYTHONPATH=src python benchmarks/compare_speed.py [rounds] [--lang ko] [--baseline OTHER/src]

``--baseline`` also runs `optimlab compare` from another source tree (e.g. main's) in every round, so the two
versions are compared side by side on the same machine state.
"""

from __future__ import annotations

import os
import platform
import re
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


def _wall(command: list[str], env: dict[str, str], cwd: str) -> tuple[float, str]:
    began = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - began, done.stdout


def _own(out: str) -> float:
    """The command's own seconds: the last "… in X s" it printed (start-up excluded)."""
    found = re.findall(r" in ([0-9.]+) s\s*$", out, flags=re.MULTILINE)
    return float(found[-1]) if found else float("nan")


def main(rounds: int = 3, lang: str = "en", baseline: str | None = None) -> None:
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    py = sys.executable
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    before = machine_check()
    rows: dict[str, list[float]] = {"import torch": [], "import optimlab": [], "optimlab compare": [], "own": [],
                                    "optimlab compare, again (network reused)": [], "own, again": [],
                                    "compare - import torch": [], "again - import torch": []}
    if baseline:
        rows |= {"baseline: optimlab compare": [], "baseline: own": []}
    size = 0.0
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            rows["import torch"].append(_wall([py, "-c", "import torch"], env, tmp)[0])
            rows["import optimlab"].append(_wall([py, "-c", "import optimlab"], env, tmp)[0])
            wall, out = _wall([py, "-m", "optimlab.cli", "compare", "--lang", lang], env, tmp)
            rows["optimlab compare"].append(wall)
            rows["own"].append(_own(out))
            again, out = _wall([py, "-m", "optimlab.cli", "compare", "--lang", lang], env, tmp)
            rows["optimlab compare, again (network reused)"].append(again)
            rows["own, again"].append(_own(out))
            rows["compare - import torch"].append(wall - rows["import torch"][-1])
            rows["again - import torch"].append(again - rows["import torch"][-1])
            size = (Path(tmp) / "optimlab-out" / "compare" / "index.html").stat().st_size / 1e6
        if baseline:
            with tempfile.TemporaryDirectory() as tmp:
                wall, out = _wall([py, "-m", "optimlab.cli", "compare"], {**env, "PYTHONPATH": baseline}, tmp)
                rows["baseline: optimlab compare"].append(wall)
                rows["baseline: own"].append(_own(out))
    after = machine_check()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cmd = f"PYTHONPATH=src {Path(py).name} benchmarks/compare_speed.py {rounds}"
    cmd += " --lang ko" if lang != "en" else ""
    cmd += f" --baseline {baseline}" if baseline else ""
    lines = [
        "",
        "## compare_speed",
        "",
        f"`optimlab compare --lang {lang}` (no other arguments: the lesson page, index.html {size:.1f} MB) beside "
        f"`import torch` and `import optimlab`, {rounds} rounds, each a fresh process in a fresh directory; wall "
        "time includes interpreter start. \"own\" is what the command prints as its own time (grids and page, "
        f"start-up excluded). Command: `{cmd}`.",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; "
        f"machine check (50 matmuls 512²) {before:.2f} s before, {after:.2f} s after; load average "
        f"{load_start:.1f} at the start, {load:.1f} at the end.",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "| what | median s | min s | max s |",
        "|---|---|---|---|",
        *(f"| {name} | {statistics.median(v):.1f} | {min(v):.1f} | {max(v):.1f} |" for name, v in rows.items()),
        "",
    ]
    med = {name: statistics.median(v) for name, v in rows.items()}
    lines.append(f"`RESULT compare_speed wall_s={med['optimlab compare']:.2f} "
                 f"minus_torch_s={med['compare - import torch']:.2f} "
                 f"reused_wall_s={med['optimlab compare, again (network reused)']:.2f} "
                 f"reused_minus_torch_s={med['again - import torch']:.2f} torch_s={med['import torch']:.2f} "
                 f"load={load:.1f}`")
    lines.append("")
    text = "\n".join(lines)
    print(text)
    with open(root / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as fh:
        fh.write(text)


if __name__ == "__main__":
    args = sys.argv[1:]
    options = {"--lang": "en", "--baseline": None}
    for flag in options:
        if flag in args:
            options[flag] = args[args.index(flag) + 1]
            del args[args.index(flag) : args.index(flag) + 2]
    main(int(args[0]) if args else 3, options["--lang"] or "en", options["--baseline"])
