"""Per-step time of optimlab's drop-in optimizers against ``torch.optim`` and against the memory floor.

For every optimizer and problem size this first runs each *mode* (torch default, torch ``foreach=True``, torch
``fused=True`` where PyTorch accepts it on CPU, optimlab default, optimlab ``foreach=True``, optimlab
``fused=True``; optimlab takes ``fused`` as a parameter-group key for the classes whose torch namesake has no
such argument) for a few steps on its own copy of the same random parameters, with a random gradient set once
and reused, and checks that every mode ends where torch's default does. Then all modes step one shared set of
parameter and gradient tensors (each optimizer with its own state), so where the allocator placed a buffer
cannot favour one mode; after a warm-up it times ``step()`` for all modes round-robin, rotating the order
each repetition, so machine drift hits every mode alike. It reports the median and minimum step time, the ratio
to torch's default mode (on CPU that is the single-tensor loop, ``foreach=False``), and the ratio to the
memory-bandwidth floor: the bytes the algorithm must move per parameter (:data:`FLOOR_BYTES`) times the number of
parameters, over the machine's in-place bandwidth: every case times a probe (``x.add_(y)`` over one flat buffer of
the case's size) in the same round-robin as its modes, and the floor uses the median of those probes over all cases
of a size (one probe can land on slower or faster memory; see :func:`with_size_bandwidth`).

Run from the repository root::

    PYTHONPATH=src .venv/bin/python benchmarks/step_speed.py            # 10M/200 and 100M/10, ~10 minutes
    PYTHONPATH=src .venv/bin/python benchmarks/step_speed.py --quick    # smoke test, seconds

The last line is ``RESULT step_speed worst_ratio_vs_torch_default=X.XX worst_ratio_vs_floor=Y.YY``, computed over
optimlab's best path (per optimizer and size, the faster of optimlab default and optimlab ``fused=True``): X is the
largest (optimlab best / torch default median) over all optimizers and sizes, Y the largest (optimlab best / floor)
over all optimizers at the largest size of the run (100M by default). Before it, ``bars:`` lines report the issue
bars: optimlab *default* / torch default (issue 2, <= 1.10), optimlab best / torch's best mode (<= 1.10 at the
size with the most tensors) and optimlab best / floor at the largest size (<= 1.25). The checking run's step
times of optimlab's default and ``fused=True`` modes are printed as the compile cost (step 1 runs the reference
path, step 2 compiles).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import gc
import importlib
import math
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import Tensor

# Bytes each algorithm must move per float32 parameter at its default settings (4 bytes per tensor touched):
# every tensor the update reads (parameter p, gradient g, state) plus every tensor it writes (p, state). A single
# fused loop streams each of them once and needs no temporaries, so this is the least traffic any implementation
# can have; scalar state (step counts, NAdam's mu_product) is one number per tensor and is ignored.
FLOOR_BYTES: dict[str, int] = {
    "SGD": 12,  # momentum=0, weight_decay=0: read p, g; write p. No state.
    "Adagrad": 20,  # read p, g, sum; write sum, p.
    "RMSprop": 20,  # momentum=0, centered=False: read p, g, square_avg; write square_avg, p.
    "Adadelta": 28,  # read p, g, square_avg, acc_delta; write square_avg, acc_delta, p.
    "Adam": 28,  # amsgrad=False: read p, g, exp_avg, exp_avg_sq; write p, exp_avg, exp_avg_sq.
    "AdamW": 28,  # as Adam; the decoupled decay p·(1 − ηλ) rides on the same read and write of p.
    "Adamax": 28,  # read p, g, exp_avg, exp_inf; write p, exp_avg, exp_inf.
    "NAdam": 28,  # as Adam (g enters the update twice but is read once in one loop).
    "RAdam": 28,  # as Adam; in the first 5 unrectified steps v is still updated, so the same bytes.
}
OPTIMIZERS: tuple[str, ...] = tuple(FLOOR_BYTES)

MODES: dict[str, dict[str, bool]] = {"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}
LIBRARIES = ("torch", "optimlab")
BASELINE = ("torch", "default")
CANDIDATE = ("optimlab", "default")

DEFAULT_SIZES = "10M/200,100M/10"
QUICK_SIZES = "200K/20,1M/4"
PROBE_ELEMENTS = 64 * 2**20  # 256 MB per buffer: far beyond the last-level cache



@dataclass(frozen=True)
class Size:
    """A problem size: ``params`` float32 parameters split into ``tensors`` tensors of (nearly) equal length."""

    params: int
    tensors: int
    label: str

    def lengths(self) -> list[int]:
        base, extra = divmod(self.params, self.tensors)
        return [base + (1 if i < extra else 0) for i in range(self.tensors)]


class InPlaceAdd:
    """The bandwidth probe, stepped in the round-robin like an optimizer: ``x.add_(y)`` over one flat buffer as
    large as the case (12 bytes per element: read x and y, write x)."""

    def __init__(self, elements: int) -> None:
        self.x, self.y = torch.ones(elements), torch.ones(elements)

    def step(self) -> None:
        self.x.add_(self.y)


PROBE = ("probe", "x.add_(y)")

CHECK_STEPS = 3
"""Steps each mode runs on its own copy before timing: the fused path's reference step, its compile, one compiled."""


@dataclass
class Runner:
    """One (library, mode) of one optimizer: its optimizer (stepping the parameters every mode of a case shares)
    and its step times."""

    library: str
    mode: str
    optimizer: torch.optim.Optimizer | InPlaceAdd
    times: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Row:
    optimizer: str
    size: str
    library: str
    mode: str
    params: int
    median_ms: float
    min_ms: float
    vs_torch_default: float
    agrees: str
    bandwidth: float
    """In-place bandwidth (bytes/s) for the floor: the median over every case of this size of its probe's median
    (see :func:`with_size_bandwidth`); until then, this case's own probe."""

    def floor_ms(self) -> float:
        """The memory-bandwidth floor of this step, in ms: the algorithm's bytes at the case's probe bandwidth."""
        bytes_per_param = 12 if self.library == PROBE[0] else FLOOR_BYTES[self.optimizer]
        return bytes_per_param * self.params / self.bandwidth * 1e3

    def vs_floor(self) -> float:
        return self.median_ms / self.floor_ms()


_SUFFIX = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9}


def parse_sizes(text: str) -> list[Size]:
    """Parse ``"10M/200,100M/10"`` (parameters with an optional K/M/G suffix, slash, number of tensors)."""
    sizes = []
    for item in text.split(","):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)([KMG]?)\s*/\s*(\d+)\s*", item, flags=re.IGNORECASE)
        if match is None:
            raise argparse.ArgumentTypeError(f"bad size {item!r}: expected e.g. 10M/200 (parameters/tensors)")
        params = round(float(match[1]) * _SUFFIX[match[2].upper()])
        tensors = int(match[3])
        if tensors < 1 or params < tensors:
            raise argparse.ArgumentTypeError(f"bad size {item!r}: need 1 <= tensors <= parameters")
        sizes.append(Size(params, tensors, item.strip()))
    return sizes


def parse_optimizers(text: str) -> list[str]:
    """Parse a comma-separated list of optimizer names (case-insensitive) into their class names."""
    by_lower = {name.lower(): name for name in OPTIMIZERS}
    names = []
    for item in text.split(","):
        key = item.strip().lower()
        if key not in by_lower:
            raise argparse.ArgumentTypeError(f"unknown optimizer {item!r}: choose from {', '.join(OPTIMIZERS)}")
        names.append(by_lower[key])
    return names


def optimlab_optim() -> ModuleType:
    """``optimlab.optim``, importing it from this checkout's ``src`` when the package is not installed."""
    try:
        return importlib.import_module("optimlab.optim")
    except ModuleNotFoundError:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
        return importlib.import_module("optimlab.optim")


def inplace_bandwidth(elements: int, reps: int = 10) -> float:
    """Best in-place bandwidth in bytes/s: ``x.add_(y)`` reads x and y and writes x, 12 bytes per element."""
    x = torch.ones(elements)
    y = torch.ones(elements)
    x.add_(y)  # fault the pages in before timing
    best = math.inf
    for _ in range(reps):
        start = time.perf_counter()
        x.add_(y)
        best = min(best, time.perf_counter() - start)
    del x, y
    gc.collect()
    return 12 * elements / best


def make_optimizer(
    library: str, factory: Callable[..., torch.optim.Optimizer], params: list[Tensor], kwargs: dict[str, bool]
) -> torch.optim.Optimizer:
    """The optimizer for one mode. optimlab's ``fused`` goes in the parameter group, which every class accepts."""
    if library == "optimlab" and "fused" in kwargs:
        rest = {k: v for k, v in kwargs.items() if k != "fused"}
        return factory([{"params": params, "fused": kwargs["fused"]}], **rest)
    return factory(params, **kwargs)


def accepted(library: str, factory: Callable[..., torch.optim.Optimizer], kwargs: dict[str, bool]) -> str | None:
    """``None`` if the class takes ``kwargs`` and steps a tiny CPU tensor with them, else the reason it refuses."""
    p = torch.nn.Parameter(torch.zeros(4))
    p.grad = torch.ones(4)
    try:
        make_optimizer(library, factory, [p], kwargs).step()
    except (TypeError, ValueError, RuntimeError) as error:
        return f"{type(error).__name__}: {error}"
    return None


def accepted_modes(name: str, classes: dict[str, ModuleType]) -> tuple[list[tuple[str, str]], list[str]]:
    """The (library, mode) pairs whose class takes the mode's arguments, and why the others were refused."""
    modes: list[tuple[str, str]] = []
    refused: list[str] = []
    for library in LIBRARIES:
        factory = getattr(classes[library], name)
        for mode, kwargs in MODES.items():
            reason = accepted(library, factory, kwargs)
            if reason is None:
                modes.append((library, mode))
            else:
                refused.append(f"{library} {mode}: {reason.splitlines()[0]}")
    return modes, refused


def case_tensors(size: Size, seed: int) -> tuple[list[Tensor], list[Tensor]]:
    """The case's starting parameter values and its gradients (random, set once, reused every step)."""
    generator = torch.Generator().manual_seed(seed)
    lengths = size.lengths()
    start = [torch.randn(n, generator=generator) for n in lengths]
    grads = [torch.randn(n, generator=generator) for n in lengths]
    return start, grads


def leaves(values: Sequence[Tensor], grads: Sequence[Tensor]) -> list[Tensor]:
    """Parameters holding ``values``, each with its gradient set (the gradient tensors are shared, read-only)."""
    params = []
    for value, grad in zip(values, grads, strict=True):
        p = torch.nn.Parameter(value)
        p.grad = grad
        params.append(p)
    return params


def check_modes(
    name: str, modes: Sequence[tuple[str, str]], classes: dict[str, ModuleType], start: Sequence[Tensor],
    grads: Sequence[Tensor], steps: int,
) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], list[float]]]:
    """Run every mode ``steps`` steps on its own copy of the parameters, one mode at a time, and compare where
    each ends with torch's default mode. Returns each mode's agreement text and its step times (optimlab's fused
    path compiles here, in its second step; the timed runners reuse the compiled code)."""
    agrees: dict[tuple[str, str], str] = {}
    step_times: dict[tuple[str, str], list[float]] = {}
    reference: list[Tensor] = []
    for key in [BASELINE, *(m for m in modes if m != BASELINE)]:
        library, mode = key
        params = leaves([t.clone() for t in start], grads)
        optimizer = make_optimizer(library, getattr(classes[library], name), params, MODES[mode])
        times = []
        for _ in range(steps):
            began = time.perf_counter()
            optimizer.step()
            times.append(time.perf_counter() - began)
        step_times[key] = times
        ended = [p.detach() for p in params]
        if key == BASELINE:
            reference, agrees[key] = ended, "ref"
        else:
            agrees[key] = agreement(reference, ended)
        del optimizer, params, ended
        gc.collect()
    return agrees, step_times


def build_runners(
    name: str, size: Size, modes: Sequence[tuple[str, str]], classes: dict[str, ModuleType],
    start: Sequence[Tensor], grads: Sequence[Tensor],
) -> list[Runner]:
    """One runner per mode, all stepping the *same* parameter and gradient tensors (each optimizer keeps its own
    state). Where the allocator puts a buffer moves its bandwidth by tens of percent on this machine (an SGD case
    once ran torch's modes at 13.5 ms and optimlab's identical eager loop at 15.2 ms, each on its own copy), so
    sharing the memory keeps that lottery out of the comparison. The values drift apart from any one mode's
    trajectory, which does not change what a step costs; :func:`check_modes` compares the numbers."""
    params = leaves([t.clone() for t in start], grads)
    runners = [
        Runner(library, mode, make_optimizer(library, getattr(classes[library], name), params, MODES[mode]))
        for library, mode in modes
    ]
    runners.append(Runner(*PROBE, InPlaceAdd(size.params)))
    return runners


def time_steps(runners: Sequence[Runner], warmup: int, reps: int) -> None:
    """Warm up, then time one step of every runner per repetition, rotating the order each time."""
    for _ in range(warmup):
        for runner in runners:
            runner.optimizer.step()
    for rep in range(reps):
        shift = rep % len(runners)
        for runner in [*runners[shift:], *runners[:shift]]:
            start = time.perf_counter()
            runner.optimizer.step()
            runner.times.append(time.perf_counter() - start)


def agreement(reference: Sequence[Tensor], other: Sequence[Tensor]) -> str:
    """Whether ``other`` ended at the same parameters as ``reference`` (float32 tolerance), as a short text."""
    worst = 0.0
    for a, b in zip(reference, other, strict=True):
        scale = a.abs().max().item() + 1e-12
        worst = max(worst, (a - b).abs().max().item() / scale)
    return "ok" if worst < 1e-4 else f"DIFF {worst:.1e}"


def run_case(
    name: str, size: Size, classes: dict[str, ModuleType], warmup: int, reps: int, seed: int
) -> tuple[list[Row], list[str], list[str]]:
    """Time every mode of one optimizer at one size.

    Returns its table rows, the modes that were refused, and the checking run's step times of optimlab's modes
    (where the fused path compiles).
    """
    modes, refused = accepted_modes(name, classes)
    start, grads = case_tensors(size, seed)
    agrees, step_times = check_modes(name, modes, classes, start, grads, CHECK_STEPS)
    first_steps = [
        f"{name} {size.label} optimlab {mode}: "
        + ", ".join(f"step {i + 1} {t:.2f} s" for i, t in enumerate(step_times[("optimlab", mode)]))
        for library, mode in modes
        if library == "optimlab" and mode in ("default", "fused")
    ]
    runners = build_runners(name, size, modes, classes, start, grads)
    del start
    time_steps(runners, warmup, reps)
    baseline = next(r for r in runners if (r.library, r.mode) == BASELINE)
    base_median = statistics.median(baseline.times)
    probe = next(r for r in runners if (r.library, r.mode) == PROBE)
    bandwidth = 12 * size.params / statistics.median(probe.times)
    rows = [
        Row(
            optimizer=name,
            size=size.label,
            params=size.params,
            library=r.library,
            mode=r.mode,
            median_ms=statistics.median(r.times) * 1e3,
            min_ms=min(r.times) * 1e3,
            vs_torch_default=statistics.median(r.times) / base_median,
            agrees=agrees.get((r.library, r.mode), "-"),
            bandwidth=bandwidth,
        )
        for r in runners
    ]
    del runners, baseline
    gc.collect()
    return rows, refused, first_steps


def with_size_bandwidth(rows: Sequence[Row]) -> list[Row]:
    """The rows with one floor bandwidth per size: the median of the probes of all cases of that size.

    Each case's probe runs beside its modes, but where its two fresh buffers land in memory moves its bandwidth
    by up to 1.6x between cases (measured: 13.9 vs 22.7 ms for the same 100M-element add); the median over the
    cases of a size is the machine's in-place bandwidth, and each probe's own ratio stays in the table.
    """
    probes: dict[str, list[float]] = {}
    for r in rows:
        if (r.library, r.mode) == PROBE:
            probes.setdefault(r.size, []).append(r.bandwidth)
    return [dataclasses.replace(r, bandwidth=statistics.median(probes[r.size])) for r in rows]


def format_table(rows: Sequence[Row]) -> str:
    """A Markdown table of the rows, each floor at its case's probe bandwidth."""
    header = (
        "| optimizer | size | mode | median ms | min ms | × torch default | floor ms | × floor | same result |\n"
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"
    )
    lines = [header]
    for r in rows:
        lines.append(
            f"| {r.optimizer} | {r.size} | {r.library} {r.mode} | {r.median_ms:.2f} | {r.min_ms:.2f} | "
            f"{r.vs_torch_default:.2f} | {r.floor_ms():.2f} | {r.vs_floor():.2f} | {r.agrees} |"
        )
    return "\n".join(lines)


def summary(rows: Sequence[Row]) -> tuple[float, float]:
    """(worst optimlab-default/torch-default ratio over all rows, worst optimlab-default/floor at the largest size)."""
    candidate = [r for r in rows if (r.library, r.mode) == CANDIDATE]
    largest = max(r.params for r in candidate)
    worst_torch = max(r.vs_torch_default for r in candidate)
    worst_floor = max(r.vs_floor() for r in candidate if r.params == largest)
    return worst_torch, worst_floor


def best_rows(rows: Sequence[Row], library: str, modes: Sequence[str]) -> dict[tuple[str, str], Row]:
    """Per (optimizer, size), the row of ``library`` with the smallest median among ``modes``."""
    best: dict[tuple[str, str], Row] = {}
    for r in rows:
        if r.library == library and r.mode in modes:
            key = (r.optimizer, r.size)
            if key not in best or r.median_ms < best[key].median_ms:
                best[key] = r
    return best


def fused_bars(rows: Sequence[Row]) -> tuple[float, float, float, str]:
    """The issue-6 numbers over optimlab's best path (the faster of its default and ``fused=True``).

    Returns (worst best/torch-default over all rows, worst best/floor at the largest size, worst best/torch-best
    at the size with the most tensors, and that size's label).
    """
    ours = best_rows(rows, "optimlab", ("default", "fused"))
    theirs = best_rows(rows, "torch", tuple(MODES))
    largest = max(r.params for r in ours.values())
    most_tensors = max(ours.values(), key=lambda r: int(r.size.split("/")[1])).size
    worst_torch = max(r.vs_torch_default for r in ours.values())
    worst_floor = max(r.vs_floor() for r in ours.values() if r.params == largest)
    worst_best = max(r.median_ms / theirs[key].median_ms for key, r in ours.items() if r.size == most_tensors)
    return worst_torch, worst_floor, worst_best, most_tensors


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=parse_sizes, default=None, help=f"default {DEFAULT_SIZES}")
    parser.add_argument(
        "--optimizers", type=parse_optimizers, default=list(OPTIMIZERS), help="comma-separated, default all"
    )
    parser.add_argument("--reps", type=int, default=None, help="timed steps per mode (default 11, quick 5)")
    parser.add_argument("--warmup", type=int, default=6, help="untimed steps per mode first (RAdam rectifies at 6)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help=f"smoke test: sizes {QUICK_SIZES}, 5 reps")
    args = parser.parse_args(argv)
    if args.sizes is None:
        args.sizes = parse_sizes(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    if args.reps is None:
        args.reps = 5 if args.quick else 11
    if args.reps < 1 or args.warmup < 0:
        parser.error("--reps must be >= 1 and --warmup >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    classes: dict[str, Any] = {"torch": torch.optim, "optimlab": optimlab_optim()}
    probe = PROBE_ELEMENTS

    print(f"step_speed  {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"command: {' '.join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"warmup {args.warmup} steps, {args.reps} timed steps per mode, modes interleaved round-robin")
    print("torch default on CPU = single-tensor loop (foreach and fused are off unless asked for)")
    bw_start = inplace_bandwidth(probe)
    print(f"in-place bandwidth at start: {bw_start / 1e9:.1f} GB/s (x.add_(y) on {probe // 2**20}M floats, best of 10)")
    print(f"load average at start: {_load()}")

    rows: list[Row] = []
    first_steps: list[str] = []
    refusals: dict[str, list[str]] = {}
    for size in args.sizes:
        for name in args.optimizers:
            case_rows, refused, first = run_case(name, size, classes, args.warmup, args.reps, args.seed)
            first_steps.extend(first)
            rows.extend(case_rows)
            refusals.setdefault(name, refused)
            cand = next(r for r in case_rows if (r.library, r.mode) == CANDIDATE)
            print(
                f"  {name:8s} {size.label:>9s}: optimlab {cand.median_ms:8.2f} ms = {cand.vs_torch_default:.2f}× "
                f"torch default, {cand.vs_floor():.2f}× floor at this case's probe ({cand.bandwidth / 1e9:.0f} GB/s)",
                flush=True,
            )

    bw_end = inplace_bandwidth(probe)
    print(f"in-place bandwidth at end:   {bw_end / 1e9:.1f} GB/s")
    rows = with_size_bandwidth(rows)
    for label in dict.fromkeys(r.size for r in rows):
        bandwidth = next(r.bandwidth for r in rows if r.size == label)
        print(f"floor bandwidth at {label}: {bandwidth / 1e9:.1f} GB/s (median of the cases' probes)")
    print(f"load average at end: {_load()}")
    print()
    print("Floor bytes per parameter (default settings): " + ", ".join(f"{k} {v}" for k, v in FLOOR_BYTES.items()))
    print()
    print(format_table(rows))
    print()
    for name, refused in refusals.items():
        for reason in refused:
            print(f"not run: {name} {reason}")
    print()
    print("Checking run of optimlab, per step (fused: step 1 runs the reference path, step 2 compiles):")
    for line in first_steps:
        print(f"  {line}")
    print()
    default_torch, default_floor = summary(rows)
    worst_torch, worst_floor, worst_best, most_tensors = fused_bars(rows)
    print(f"bars: issue 2, optimlab default / torch default, worst {default_torch:.2f} (bar 1.10)")
    print(f"bars: optimlab default / floor at the largest size, worst {default_floor:.2f}")
    print(f"bars: optimlab best / torch best mode at {most_tensors}, worst {worst_best:.2f} (bar 1.10)")
    print(f"bars: optimlab best / floor at the largest size, worst {worst_floor:.2f} (bar 1.25)")
    print(f"RESULT step_speed worst_ratio_vs_torch_default={worst_torch:.2f} worst_ratio_vs_floor={worst_floor:.2f}")
    return 0


def _load() -> str:
    """The 1/5/15-minute load average: other processes on these cores stall every multi-threaded kernel."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unavailable"


if __name__ == "__main__":
    raise SystemExit(main())
