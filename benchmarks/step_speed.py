"""Per-step time of optimlab's drop-in optimizers against ``torch.optim`` and against the memory floor.

For every optimizer and problem size this first runs each *mode* (torch default, torch ``foreach=True``, torch
``fused=True`` where PyTorch accepts it on CPU, optimlab default, optimlab ``foreach=True``, optimlab
``fused=True``, optimlab reference ``fused=False``; optimlab takes ``fused`` as a parameter-group key for the
classes whose torch namesake has no such argument) for a few steps on its own copy of the same random
parameters, with a random gradient set once and reused, and checks that every mode ends where torch's default
does. Then all modes step one shared set of
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

``--fresh-grads`` gives every step new gradient tensors (untimed), as a training loop gets them from backward
after ``zero_grad()`` (which sets them to ``None``): optimlab's flat path then copies them into its flat gradient
buffer inside the step, and its default keeps the flat path only where that still beats the reference loop
(:class:`optimlab.flat.FlatPlan`). Without it the same gradient tensors serve every step (a loop with
``zero_grad(set_to_none=False)``, where backward accumulates into the flat buffer's views). The run prints what
the default decided for each case.

The last line is ``RESULT step_speed worst_ratio_vs_torch_default=X.XX worst_ratio_vs_floor=Y.YY
worst_cold_compile_s=Z.Z`` (issue 18), computed over optimlab's *default* mode on every flat and model-shaped size:
X the largest (default / torch default) median ratio, Y the largest (default / floor), Z the slowest cold compile
of ``--compile-times`` (nan without it). Before it, ``bars:`` lines report the issue bars on medians (default /
floor per size, <= 1.15; default / torch's best mode for the four optimizers torch has fused kernels for, <= 1.00;
the older ones of issues 2 and 6), then ``bars, fastest step:`` lines the same two on each mode's fastest step
(:func:`best_of_bars`: on this shared host the bandwidth swings within seconds, and medians of a few steps with it).
The checking run's step times of optimlab's default and ``fused=True`` modes are printed as the compile cost (step
1 runs the reference path, step 2 compiles).
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
FLOOR_BYTES.update({
    # The modern optimizers at their defaults (one loop over the tensors streams each of them once).
    "Lion": 20,  # read p, g, m; write p, m.
    "Signum": 20,  # read p, g, m; write p, m.
    "ADOPT": 28,  # read p, g, m, v; write p, m, v.
    "AdEMAMix": 36,  # read p, g, m1, m2, v; write p, m1, m2, v.
    "AdamWScheduleFree": 28,  # parameters hold y; read y, g, z, v; write y, z, v.
    "SGDScheduleFree": 20,  # read y, g, z; write y, z.
    "Prodigy": 48,  # two passes, since d needs sums over all tensors: read g, p, p0, s, write s; then read p, g, m, v,
    # write p, m, v.
    "ASGD": 20,  # read p, g, ax; write p, ax (eta and mu are one number per tensor).
    "Rprop": 28,  # read p, g, prev, step_size; write p, prev, step_size.
    "Adafactor": 32,  # on 1-D tensors v is not factored, but the step needs RMS(θ) and RMS(update) (update clipping)
    # before θ moves: read p, g, v, write v (both sums), then read p, g, v, write p.
})
OPTIMIZERS: tuple[str, ...] = (*FLOOR_BYTES, "Muon", "SOAP")

MATRIX_ONLY = frozenset({"Muon", "SOAP"})
"""Optimizers whose update is matrix work (compute-bound): timed on the matrix shape sets only, with a FLOP rate."""

MATRIX_FLOOR_BYTES: dict[str, int] = {"Adam": 28, "AdamW": 28, "Lion": 20, "Adafactor": 24}
"""Floor bytes on 2-D tensors where it differs from FLOOR_BYTES or the algorithm is elementwise there: Adafactor
factors the second moment of a matrix: read g and p (row and column sums of g², RMS(θ)), read g again (RMS of the
update, which needs the finished factors), then read p, g and write p."""

REFERENCE_CLASSES: dict[str, str] = {
    "Lion": "lion_pytorch:Lion",
    "ADOPT": "adopt:ADOPT",  # torch-adopt 0.1.0 imports as ``adopt``
    "AdEMAMix": "pytorch_optimizer:AdEMAMix",
    "SOAP": "pytorch_optimizer:SOAP",
    "Prodigy": "prodigyopt:Prodigy",
    # the package's own default form (Adam-style debiasing): optimlab's default is the paper's, so "same result"
    # shows their documented difference (adam_debias=True gives the package's numbers)
    "AdamWScheduleFree": "schedulefree:AdamWScheduleFree",
    "SGDScheduleFree": "schedulefree:SGDScheduleFree",
    "Signum": "pytorch_optimizer:SignSGD",
}
"""The baseline of each optimizer torch.optim lacks: the reference implementation its tests compare with."""


class Baselines:
    """The baseline "library": ``torch.optim``'s class where PyTorch has the algorithm, else its reference package's
    (:data:`REFERENCE_CLASSES`, imported on first use)."""

    def __getattr__(self, name: str) -> Any:
        if hasattr(torch.optim, name):
            return getattr(torch.optim, name)
        if name not in REFERENCE_CLASSES:
            raise AttributeError(name)
        module, cls = REFERENCE_CLASSES[name].split(":")
        return getattr(importlib.import_module(module), cls)


def baseline_label(name: str) -> str:
    """What the baseline rows of ``name`` are: ``torch`` or the reference package."""
    return "torch" if hasattr(torch.optim, name) else REFERENCE_CLASSES.get(name, "torch").split(":")[0]


def transformer_shapes(width: int, layers: int) -> tuple[tuple[int, int], ...]:
    """The weight matrices of ``layers`` GPT-style blocks of width d: qkv d×3d, out d×d, MLP d×4d and 4d×d."""
    block = ((width, 3 * width), (width, width), (4 * width, width), (width, 4 * width))
    return block * layers


MATRIX_SETS: dict[str, tuple[tuple[int, int], ...]] = {
    "d256x4": transformer_shapes(256, 4),
    "d512x4": transformer_shapes(512, 4),
    "d768x2": transformer_shapes(768, 2),
}
"""Transformer-like matrix shape sets (``--sizes d512x4``): the weights of a few GPT-style blocks."""


def gpt2_small_shapes() -> tuple[tuple[int, ...], ...]:
    """The parameter shapes of GPT-2 small (124M, 148 tensors): token and position embeddings, 12 blocks (two
    LayerNorms, qkv, attention out, MLP in and out, with biases), the final LayerNorm; the head is tied."""
    d, vocab, context = 768, 50257, 1024
    block = ((d,), (d,), (d, 3 * d), (3 * d,), (d, d), (d,), (d,), (d,), (d, 4 * d), (4 * d,), (4 * d, d), (d,))
    return ((vocab, d), (context, d), *block * 12, (d,), (d,))


def resnet50_shapes() -> tuple[tuple[int, ...], ...]:
    """The parameter shapes of ResNet-50 (25.6M, 161 tensors): the stem, 16 bottleneck blocks (1×1, 3×3, 1×1
    convolutions with BatchNorm weight and bias; a projection shortcut in the first block of each stage), the
    classifier."""
    shapes: list[tuple[int, ...]] = [(64, 3, 7, 7), (64,), (64,)]
    inputs = 64
    for width, blocks in ((64, 3), (128, 4), (256, 6), (512, 3)):
        out = 4 * width
        for b in range(blocks):
            shapes += [(width, inputs, 1, 1), (width,), (width,), (width, width, 3, 3), (width,), (width,),
                       (out, width, 1, 1), (out,), (out,)]
            if b == 0:
                shapes += [(out, inputs, 1, 1), (out,), (out,)]
            inputs = out
    return (*shapes, (1000, 2048), (1000,))


MODEL_SETS: dict[str, tuple[tuple[int, ...], ...]] = {"gpt2": gpt2_small_shapes(), "resnet50": resnet50_shapes()}
"""Model-shaped parameter sets (``--sizes gpt2,resnet50``): every optimizer runs on them like a flat size."""


def matrix_flops(name: str, shapes: Sequence[tuple[int, ...]]) -> float | None:
    """Matrix-multiply FLOPs of one default step (elementwise work and SOAP's every-k-steps refresh left out)."""
    total = 0.0
    for shape in shapes:
        m, n = shape
        small, large = min(m, n), max(m, n)
        if name == "Muon":  # 5 Newton-Schulz iterations: A = X Xᵀ, A·A, (bA + cA²)·X
            total += 5 * (4 * small * small * large + 2 * small**3)
        elif name == "SOAP":  # G Gᵀ and Gᵀ G, G into the eigenbasis (Q_Lᵀ G Q_R) and the update back out
            total += 6 * m * m * n + 6 * m * n * n
        else:
            return None
    return total

MODES: dict[str, dict[str, bool]] = {
    "default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}, "reference": {"fused": False},
}
OWN_MODES = {"reference": "optimlab"}
"""Modes timed for one library only: optimlab's reference path (``fused=False``, the per-tensor loop that is
bit-identical to torch.optim), from which its default decides (torch's ``fused=False`` is its default)."""
LIBRARIES = ("torch", "optimlab")
BASELINE = ("torch", "default")
CANDIDATE = ("optimlab", "default")

DEFAULT_SIZES = "10M/200,100M/10,d512x4"
QUICK_SIZES = "200K/20,1M/4,d256x4"
PROBE_ELEMENTS = 64 * 2**20  # 256 MB per buffer: far beyond the last-level cache



@dataclass(frozen=True)
class Size:
    """A problem size: ``params`` float32 parameters split into ``tensors`` tensors of (nearly) equal length."""

    params: int
    tensors: int
    label: str
    matrices: tuple[tuple[int, int], ...] = ()
    """For a matrix shape set, the 2-D shapes (else the parameters are ``tensors`` flat tensors)."""
    model: tuple[tuple[int, ...], ...] = ()
    """For a model-shaped set (:data:`MODEL_SETS`), its parameter shapes."""

    def shapes(self) -> list[tuple[int, ...]]:
        if self.matrices:
            return list(self.matrices)
        if self.model:
            return list(self.model)
        base, extra = divmod(self.params, self.tensors)
        return [(base + (1 if i < extra else 0),) for i in range(self.tensors)]

    def runs(self, name: str) -> bool:
        """Whether optimizer ``name`` is timed at this size: matrix optimizers on matrix sets only, and on those sets
        beside them only the optimizers with a matrix floor (Adam, AdamW, Lion, Adafactor) for scale."""
        if self.matrices:
            return name in MATRIX_ONLY or name in MATRIX_FLOOR_BYTES
        return name not in MATRIX_ONLY


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
    params: list[Tensor] = field(default_factory=list)
    grads: list[Tensor] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    def give_gradients(self) -> None:
        """Set every parameter's ``.grad`` to the shared gradient tensors again, as a training loop whose
        ``zero_grad()`` sets them to ``None`` gets new gradient tensors from every backward pass (``--fresh-grads``;
        optimlab's flat path then copies them into its gradient buffer in the step)."""
        for p, g in zip(self.params, self.grads, strict=True):
            p.grad = g


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

    gflops: float | None = None
    """Achieved matrix-multiply rate (GFLOP/s) of a matrix optimizer's step, by :func:`matrix_flops`."""
    matrix: bool = False

    def floor_ms(self) -> float:
        """The memory-bandwidth floor of this step, in ms: the algorithm's bytes at the case's probe bandwidth
        (NaN for compute-bound matrix optimizers, which are reported by FLOP rate instead)."""
        if self.library == PROBE[0]:
            bytes_per_param = 12
        elif self.matrix:
            bytes_per_param = MATRIX_FLOOR_BYTES.get(self.optimizer, 0)
        else:
            bytes_per_param = FLOOR_BYTES.get(self.optimizer, 0)
        if not bytes_per_param:
            return math.nan
        return bytes_per_param * self.params / self.bandwidth * 1e3

    def vs_floor(self) -> float:
        return self.median_ms / self.floor_ms()


_SUFFIX = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9}


def parse_sizes(text: str) -> list[Size]:
    """Parse ``"10M/200,100M/10,d512x4"`` (parameters with an optional K/M/G suffix, slash, number of tensors; or
    the name of a matrix shape set, :data:`MATRIX_SETS`)."""
    sizes = []
    for item in text.split(","):
        if item.strip() in MODEL_SETS:
            model = MODEL_SETS[item.strip()]
            sizes.append(Size(sum(math.prod(shape) for shape in model), len(model), item.strip(), model=model))
            continue
        if item.strip() in MATRIX_SETS:
            shapes = MATRIX_SETS[item.strip()]
            sizes.append(Size(sum(m * n for m, n in shapes), len(shapes), item.strip(), shapes))
            continue
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)([KMG]?)\s*/\s*(\d+)\s*", item, flags=re.IGNORECASE)
        if match is None:
            raise argparse.ArgumentTypeError(
                f"bad size {item!r}: expected e.g. 10M/200 (parameters/tensors) or one of {', '.join(MATRIX_SETS)}"
            )
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


def flat_module() -> ModuleType:
    """``optimlab.flat`` (after :func:`optimlab_optim` has made the package importable)."""
    optimlab_optim()
    return importlib.import_module("optimlab.flat")


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
        optimizer = factory([{"params": params, "fused": kwargs["fused"]}], **rest)
    else:
        optimizer = factory(params, **kwargs)
    if callable(getattr(optimizer, "train", None)):
        optimizer.train()  # Schedule-Free steps in training mode (parameters at y)
    return optimizer


def accepted(library: str, factory: Callable[..., torch.optim.Optimizer], kwargs: dict[str, bool]) -> str | None:
    """``None`` if the class takes ``kwargs`` and steps a tiny CPU tensor with them, else the reason it refuses."""
    p = torch.nn.Parameter(torch.zeros(2, 2))  # a matrix: torch.optim.Muon takes nothing else
    p.grad = torch.ones(2, 2)
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
            if OWN_MODES.get(mode, library) != library:
                continue
            reason = accepted(library, factory, kwargs)
            if reason is None:
                modes.append((library, mode))
            else:
                refused.append(f"{library} {mode}: {reason.splitlines()[0]}")
    return modes, refused


def case_tensors(size: Size, seed: int) -> tuple[list[Tensor], list[Tensor]]:
    """The case's starting parameter values and its gradients (random, set once, reused every step)."""
    generator = torch.Generator().manual_seed(seed)
    shapes = size.shapes()
    start = [torch.randn(shape, generator=generator) for shape in shapes]
    grads = [torch.randn(shape, generator=generator) for shape in shapes]
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
    shared = leaves([t.clone() for t in start], grads)
    # optimlab's flat path makes the parameters views of its own buffers (p.data): two such optimizers on the same
    # tensors would take them from each other every step, so each optimlab mode steps its own copy.
    runners = []
    for library, mode in modes:
        params = leaves([t.clone() for t in start], grads) if library == "optimlab" else shared
        optimizer = make_optimizer(library, getattr(classes[library], name), params, MODES[mode])
        runners.append(Runner(library, mode, optimizer, params, list(grads)))
    runners.append(Runner(*PROBE, InPlaceAdd(size.params)))
    return runners


MAX_DECIDING_STEPS = 20
"""Warm-up steps beyond ``--warmup`` that optimlab's default may take to decide its path (compile, timed trial)."""


def time_steps(runners: Sequence[Runner], warmup: int, reps: int, fresh: bool) -> list[str]:
    """Warm up (until optimlab's default has decided its path, see :func:`optimlab.flat.decisions`, and a group on
    the flat path has taken up its wider loop, ``optimlab.flat.WIDE_BATCH``), then time one
    step of every runner per repetition, rotating the order each time. ``fresh``: every step gets its gradients
    as new tensors (:meth:`Runner.give_gradients`, untimed). Returns what optimlab's default decided."""

    def step(runner: Runner) -> float:
        if fresh:
            runner.give_gradients()
        start = time.perf_counter()
        runner.optimizer.step()
        return time.perf_counter() - start

    flat = flat_module()
    for _ in range(warmup):
        for runner in runners:
            step(runner)
            if runner.library == "optimlab":  # optimlab's default compiles in the background: time it compiled
                flat.wait_for_compiles(runner.optimizer)
    decided: list[str] = []
    for runner in runners:
        if (runner.library, runner.mode) != CANDIDATE:
            continue
        for _ in range(MAX_DECIDING_STEPS):
            if "undecided" not in flat.decisions(runner.optimizer).values():
                break
            step(runner)
            flat.wait_for_compiles(runner.optimizer)
        decided = [f"group {i}: {text}" for i, text in flat.decisions(runner.optimizer).items()]
    for runner in runners:  # a group on the flat path compiles a wider loop in the background (flat.WIDE_BATCH)
        if runner.library == "optimlab":
            step(runner)
            flat.wait_for_compiles(runner.optimizer)
            step(runner)
    for rep in range(reps):
        shift = rep % len(runners)
        for runner in [*runners[shift:], *runners[:shift]]:
            runner.times.append(step(runner))
    return decided or ["no flat path for this optimizer: per-tensor loop"]


def agreement(reference: Sequence[Tensor], other: Sequence[Tensor]) -> str:
    """Whether ``other`` ended at the same parameters as ``reference`` (float32 tolerance), as a short text."""
    worst = 0.0
    for a, b in zip(reference, other, strict=True):
        scale = a.abs().max().item() + 1e-12
        worst = max(worst, (a - b).abs().max().item() / scale)
    return "ok" if worst < 1e-4 else f"DIFF {worst:.1e}"


def run_case(
    name: str, size: Size, classes: dict[str, ModuleType], warmup: int, reps: int, seed: int, fresh: bool = False
) -> tuple[list[Row], list[str], list[str], list[str]]:
    """Time every mode of one optimizer at one size.

    Returns its table rows, the modes that were refused, the checking run's step times of optimlab's modes
    (where the fused path compiles) and what optimlab's default decided.
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
    decided = time_steps(runners, warmup, reps, fresh)
    baseline = next(r for r in runners if (r.library, r.mode) == BASELINE)
    base_median = statistics.median(baseline.times)
    probe = next(r for r in runners if (r.library, r.mode) == PROBE)
    bandwidth = 12 * size.params / statistics.median(probe.times)
    flops = matrix_flops(name, size.matrices) if size.matrices else None
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
            gflops=flops / statistics.median(r.times) / 1e9 if flops and r.library != PROBE[0] else None,
            matrix=bool(size.matrices),
        )
        for r in runners
    ]
    del runners, baseline
    gc.collect()
    return rows, refused, first_steps, [f"{name} {size.label} optimlab default, {line}" for line in decided]


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
        "| optimizer | size | mode | median ms | min ms | × baseline default | floor ms | × floor | GFLOP/s "
        "| same result |\n"
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    )
    lines = [header]
    for r in rows:
        library = baseline_label(r.optimizer) if r.library == "torch" else r.library
        floor = "-" if math.isnan(r.floor_ms()) else f"{r.floor_ms():.2f}"
        ratio = "-" if math.isnan(r.floor_ms()) else f"{r.vs_floor():.2f}"
        rate = f"{r.gflops:.0f}" if r.gflops is not None else "-"
        lines.append(
            f"| {r.optimizer} | {r.size} | {library} {r.mode} | {r.median_ms:.2f} | {r.min_ms:.2f} | "
            f"{r.vs_torch_default:.2f} | {floor} | {ratio} | {rate} | {r.agrees} |"
        )
    return "\n".join(lines)


def summary(rows: Sequence[Row]) -> tuple[float, float]:
    """(worst optimlab-default/torch-default ratio over all rows, worst optimlab-default/floor at the largest size)."""
    candidate = [r for r in rows if (r.library, r.mode) == CANDIDATE and not r.matrix]
    if not candidate:  # a run of matrix shape sets only: the flat-size bars do not apply
        return math.nan, math.nan
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
    flat = [r for r in rows if not r.matrix]
    ours = best_rows(flat, "optimlab", ("default", "fused"))
    theirs = best_rows(flat, "torch", tuple(MODES))
    if not ours:
        return math.nan, math.nan, math.nan, "-"
    largest = max(r.params for r in ours.values())
    most_tensors = max(ours.values(), key=lambda r: tensor_count(r.size)).size
    worst_torch = max(r.vs_torch_default for r in ours.values())
    worst_floor = max(r.vs_floor() for r in ours.values() if r.params == largest)
    worst_best = max(r.median_ms / theirs[key].median_ms for key, r in ours.items() if r.size == most_tensors)
    return worst_torch, worst_floor, worst_best, most_tensors


def tensor_count(label: str) -> int:
    """The number of tensors of a size label (``10M/200``, a model or matrix set's name)."""
    if "/" in label:
        return int(label.split("/")[1])
    return len(MODEL_SETS.get(label, MATRIX_SETS.get(label, ())))


TORCH_FUSED = ("SGD", "Adam", "AdamW", "Adagrad")
"""The optimizers PyTorch has fused CPU kernels for: optimlab's default must be no slower than torch's best mode."""


def default_bars(rows: Sequence[Row]) -> tuple[float, float, float, list[str]]:
    """Issue 18's numbers over optimlab's *default* mode on every flat and model-shaped size: (worst default / torch
    default, worst default / floor, worst default / torch's best mode among :data:`TORCH_FUSED`, one line per
    size with its worst floor ratio)."""
    flat = [r for r in rows if not r.matrix and r.library != PROBE[0]]
    ours = [r for r in flat if (r.library, r.mode) == CANDIDATE]
    theirs = best_rows(flat, "torch", tuple(MODES))
    if not ours:
        return math.nan, math.nan, math.nan, []
    bound = [r for r in ours if not math.isnan(r.floor_ms())]
    worst_floor = max((r.vs_floor() for r in bound), default=math.nan)
    versus_best = [r.median_ms / theirs[(r.optimizer, r.size)].median_ms for r in ours if r.optimizer in TORCH_FUSED]
    lines = []
    for label in dict.fromkeys(r.size for r in bound):
        worst = max((r for r in bound if r.size == label), key=lambda r: r.vs_floor())
        lines.append(f"bars: optimlab default / floor at {label}, worst {worst.vs_floor():.2f} ({worst.optimizer}; "
                     "bar 1.15)")
    return (max(r.vs_torch_default for r in ours), worst_floor, max(versus_best, default=math.nan), lines)


def best_of_bars(rows: Sequence[Row]) -> list[str]:
    """The default's bars read from each mode's fastest step instead of its median, one line per size.

    On a shared host the memory bandwidth other tenants leave swings within seconds (seen here: 22-48 GB/s for
    the same probe in one run), and a median of a few steps catches those swings: in one run the default and
    ``fused=True`` modes, the very same flat step once the default has chosen it, differed by up to 30% in
    median. The fastest step is each mode's time with the least interference. The floor here uses the fastest
    of the case's own probe steps (its best bandwidth), measured interleaved with the modes."""
    flat = [r for r in rows if not r.matrix]
    probes = {(r.optimizer, r.size): r for r in flat if r.library == PROBE[0]}
    ours = [r for r in flat if (r.library, r.mode) == CANDIDATE and (r.optimizer, r.size) in probes]
    lines = []
    for label in dict.fromkeys(r.size for r in ours):
        here = [r for r in ours if r.size == label]
        ratios = []
        for r in here:
            probe = probes[(r.optimizer, r.size)]
            best_bandwidth = 12 * probe.params / probe.min_ms  # bytes per ms: the probe moves 12 bytes a parameter
            floor = FLOOR_BYTES.get(r.optimizer, 0) * r.params / best_bandwidth
            if not floor:
                continue
            torch_best = min((t.min_ms for t in flat if (t.optimizer, t.size) == (r.optimizer, r.size)
                              and t.library == "torch"), default=math.nan)
            ratios.append((r.min_ms / floor, r.min_ms / torch_best, r.optimizer))
        if not ratios:
            continue
        worst_floor = max(ratios)
        fused = [x for x in ratios if x[2] in TORCH_FUSED]
        worst_torch = max(fused, key=lambda x: x[1]) if fused else (math.nan, math.nan, "-")
        lines.append(f"bars, fastest step: optimlab default / floor at {label}, worst {worst_floor[0]:.2f} "
                     f"({worst_floor[2]}; bar 1.15); / torch's fastest mode for {', '.join(TORCH_FUSED)}, worst "
                     f"{worst_torch[1]:.2f} ({worst_torch[2]}; bar 1.00)")
    return lines


def compile_probe(name: str, size: Size, prepared: bool) -> None:
    """In this (fresh) process: time optimlab's ``fused=True`` steps on ``size`` and print the compile time (the
    slower of steps 1 and 2, where the flat path compiles, minus step 3) as ``COMPILE <seconds>``. ``prepared``:
    first wait for the background preparation the optimizer starts (:func:`optimlab.fused.prepare_compiler`:
    importing Inductor, once per process), as a training loop's first forward and backward pass would."""
    start, grads = case_tensors(size, 0)
    params = leaves(start, grads)
    optimizer = make_optimizer("optimlab", getattr(optimlab_optim(), name), params, {"fused": True})
    if prepared:
        importlib.import_module("optimlab.fused").prepare_compiler().join()
    times = []
    for _ in range(3):
        began = time.perf_counter()
        optimizer.step()
        times.append(time.perf_counter() - began)
    print(f"COMPILE {max(times[:2]) - times[2]:.3f}")  # a stateless rule (plain SGD) compiles in step 1


def compile_times(name: str, size: Size) -> tuple[float, float, float]:
    """(cold, warm, warm prepared) compile seconds of optimlab's fast path for ``name`` on ``size``: each in a fresh
    process, cold with an empty Inductor cache directory, warm with the directory the cold run filled, both with
    the steps right after building the optimizer; warm prepared once the optimizer's background preparation is
    done (see :func:`compile_probe`)."""
    import subprocess
    import tempfile

    results = []
    with tempfile.TemporaryDirectory(prefix="step_speed_inductor_") as cache:
        env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache}
        for extra in ([], [], ["--compile-prepared"]):
            out = subprocess.run(
                [sys.executable, __file__, "--compile-probe", name, "--sizes", size.label, *extra],
                env=env, capture_output=True, text=True, check=True,
            ).stdout
            results.append(float(re.findall(r"^COMPILE (\S+)$", out, flags=re.MULTILINE)[-1]))
    return results[0], results[1], results[2]


NEW_MEMORY_BOUND = ("Lion", "Signum", "ADOPT", "AdEMAMix", "AdamWScheduleFree", "SGDScheduleFree", "Prodigy", "ASGD",
                    "Rprop", "Adafactor")
"""The modern optimizers whose step is memory-bound (issue 15's bar: ``fused=True`` <= 1.15x the floor at 100M/10)."""


def modern_bars(rows: Sequence[Row]) -> list[str]:
    """Issue 15's bars, for the optimizers of this run: the memory-bound ones' ``fused=True`` against their floor at
    the largest flat size, and Muon's and Adafactor's default step against torch.optim's default on each matrix
    set."""
    lines = []
    fused = [r for r in rows if (r.library, r.mode) == ("optimlab", "fused") and r.optimizer in NEW_MEMORY_BOUND]
    flat = [r for r in fused if not r.matrix]
    if flat:
        largest = max(r.params for r in flat)
        worst = max(flat, key=lambda r: r.vs_floor() if r.params == largest else -1.0)
        lines.append(f"bars: modern memory-bound optimlab fused / floor at {worst.size}, worst {worst.vs_floor():.2f} "
                     f"({worst.optimizer}; bar 1.15)")
    for name in ("Muon", "Adafactor"):
        for r in rows:
            if r.optimizer == name and r.matrix and (r.library, r.mode) == CANDIDATE:
                lines.append(f"bars: {name} optimlab default / torch default at {r.size}: {r.vs_torch_default:.2f} "
                             "(bar 1.00)")
    return lines


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
    parser.add_argument("--compile-times", action="store_true",
                        help="also time optimlab's cold and warm compile per optimizer, in fresh processes")
    parser.add_argument("--fresh-grads", action="store_true",
                        help="give every step new gradient tensors, as zero_grad() (set_to_none) and backward do")
    parser.add_argument("--compile-probe", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--compile-prepared", action="store_true", help=argparse.SUPPRESS)
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
    if args.compile_probe is not None:
        compile_probe(args.compile_probe, args.sizes[0], args.compile_prepared)
        return 0
    classes: dict[str, Any] = {"torch": Baselines(), "optimlab": optimlab_optim()}
    probe = PROBE_ELEMENTS

    print(f"step_speed  {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"command: {' '.join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"warmup {args.warmup} steps, {args.reps} timed steps per mode, modes interleaved round-robin")
    print("gradients: " + ("new tensors every step (--fresh-grads: zero_grad() sets them to None, backward makes new "
                           "ones)" if args.fresh_grads else "the same tensors every step (set once, reused)"))
    print("torch default on CPU = single-tensor loop (foreach and fused are off unless asked for)")
    bw_start = inplace_bandwidth(probe)
    print(f"in-place bandwidth at start: {bw_start / 1e9:.1f} GB/s (x.add_(y) on {probe // 2**20}M floats, best of 10)")
    print(f"load average at start: {_load()}")

    rows: list[Row] = []
    first_steps: list[str] = []
    decisions: list[str] = []
    refusals: dict[str, list[str]] = {}
    for size in args.sizes:
        for name in args.optimizers:
            if not size.runs(name):
                continue
            case_rows, refused, first, decided = run_case(
                name, size, classes, args.warmup, args.reps, args.seed, args.fresh_grads
            )
            first_steps.extend(first)
            decisions.extend(decided)
            rows.extend(case_rows)
            refusals.setdefault(name, refused)
            cand = next(r for r in case_rows if (r.library, r.mode) == CANDIDATE)
            bound = not math.isnan(cand.floor_ms())
            versus = f"{cand.vs_floor():.2f}× floor" if bound else f"{cand.gflops or 0:.0f} GFLOP/s"
            print(
                f"  {name:8s} {size.label:>9s}: optimlab {cand.median_ms:8.2f} ms = {cand.vs_torch_default:.2f}× "
                f"{baseline_label(name)} default, {versus} at this case's probe ({cand.bandwidth / 1e9:.0f} GB/s)",
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
    print("What optimlab's default (fused=None) decided (optimlab.flat.decisions):")
    for line in decisions:
        print(f"  {line}")
    print()
    default_torch, default_floor = summary(rows)
    _, worst_floor, worst_best, most_tensors = fused_bars(rows)
    print(f"bars: issue 2, optimlab default / torch default, worst {default_torch:.2f} (bar 1.10)")
    print(f"bars: optimlab default / floor at the largest size, worst {default_floor:.2f}")
    print(f"bars: optimlab best / torch best mode at {most_tensors}, worst {worst_best:.2f} (bar 1.10)")
    print(f"bars: optimlab best / floor at the largest size, worst {worst_floor:.2f} (bar 1.25)")
    for line in modern_bars(rows):
        print(line)
    ours_torch, ours_floor, ours_best, floor_lines = default_bars(rows)
    for line in floor_lines:
        print(line)
    print(f"bars: optimlab default / torch best mode for {', '.join(TORCH_FUSED)}, worst {ours_best:.2f} (bar 1.00)")
    for line in best_of_bars(rows):
        print(line)
    worst_cold = math.nan
    if args.compile_times:
        flat_sizes = [size for size in args.sizes if not size.matrices]
        compile_size = max(flat_sizes, key=lambda size: size.tensors) if flat_sizes else args.sizes[0]
        print()
        print(f"Compile of optimlab's fast path (fused=True) on {compile_size.label}, each in a fresh process "
              f"(load {_load()}):")
        colds, warms = [], []
        for name in args.optimizers:
            if compile_size.runs(name):
                cold, warm, prepared = compile_times(name, compile_size)
                colds.append(cold)
                warms.append(warm)
                print(f"  {name:8s} cold {cold:6.1f} s  warm {warm:6.2f} s  warm once Inductor is imported "
                      f"{prepared:6.2f} s", flush=True)
        worst_cold = max(colds, default=math.nan)
        print(f"bars: worst cold compile {worst_cold:.1f} s (bar 10), worst warm {max(warms, default=math.nan):.2f} s "
              "(bar 2)")
    print(f"RESULT step_speed worst_ratio_vs_torch_default={ours_torch:.2f} worst_ratio_vs_floor={ours_floor:.2f} "
          f"worst_cold_compile_s={worst_cold:.1f}")
    return 0


def _load() -> str:
    """The 1/5/15-minute load average: other processes on these cores stall every multi-threaded kernel."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unavailable"


if __name__ == "__main__":
    raise SystemExit(main())
