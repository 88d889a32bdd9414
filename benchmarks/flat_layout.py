"""The flat path's two layouts on a model's tensor shapes, against torch's fused kernel, in one process.

Issue 18: a drop-in group's small tensors share flat buffers; its large ones (``optimlab.flat.SEPARATE_ELEMENTS``)
either keep their own memory (one compiled call each, no gradient copy: "split") or join the buffers (one call for
the whole group, but a gradient that arrives as a new tensor must be copied in: "one buffer"). Which is faster
depends on the training loop, so both loops are timed:

* ``kept``: the gradients are the same tensors every step (``zero_grad(set_to_none=False)``);
* ``fresh``: new gradient tensors every step (``zero_grad()``, the default), made untimed before each step.

Modes, interleaved round-robin, each on its own copy of the tensors: torch's fused kernel (``fused=True``; for
optimizers torch has one), optimlab's default (``fused=None``: it picks the layout itself, ``optimlab.flat``),
optimlab forced split (``MERGE_MAX_BYTES = 0``, four tensors to a call: ``BATCH``, never widened), the same with
one tensor to a compiled call (``BATCH = 1``, as before issue 18's third round) and with eight from the start
(``BATCH = 8``; the default widens to ``WIDE_BATCH`` once that compile is done) and with its calls made from Python
(``CALL_LOOP = False``, as before the C loop of ``optimlab.call_loop``), optimlab forced into one
buffer (``SEPARATE_ELEMENTS`` beyond any tensor), and the same number of elements as one tensor (the loop's
floor without per-tensor costs). The machine's memory bandwidth drifts by tens of percent within seconds here, so
it prints each mode's fastest and median step.

    python benchmarks/flat_layout.py --shapes resnet50 --optimizer Adam

Ends with ``RESULT flat_layout kept_default_vs_torch=X.XX fresh_default_vs_torch=Y.YY`` (fastest steps).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Callable

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from step_speed import MODEL_SETS, TORCH_FUSED  # the same model shapes and torch-fused list as step_speed

from optimlab import flat, optim


def _mode_builders(name: str, shapes: tuple[tuple[int, ...], ...]) -> dict[str, Callable[[], torch.optim.Optimizer]]:
    def params(as_one: bool = False) -> list[torch.Tensor]:
        made = [torch.nn.Parameter(torch.randn(s)) for s in ([(sum(map(math.prod, shapes)),)] if as_one else shapes)]
        for p in made:
            p.grad = torch.randn_like(p)
        return made

    ours = getattr(optim, name)
    builders: dict[str, Callable[[], torch.optim.Optimizer]] = {}
    if name in TORCH_FUSED:
        builders["torch fused"] = lambda: getattr(torch.optim, name)(params(), fused=True)
    builders["optimlab default"] = lambda: ours(params())
    builders["optimlab split"] = lambda: ours([{"params": params(), "fused": True}])
    builders["optimlab split, 1 a call"] = lambda: ours([{"params": params(), "fused": True}])
    builders["optimlab split, 8 a call"] = lambda: ours([{"params": params(), "fused": True}])
    builders["optimlab split, no C loop"] = lambda: ours([{"params": params(), "fused": True}])
    builders["optimlab one buffer"] = lambda: ours([{"params": params(), "fused": True}])
    builders["one tensor"] = lambda: ours([{"params": params(as_one=True), "fused": True}])
    return builders


def _settings(mode: str) -> dict[str, int]:
    """The module settings a mode is built and stepped under."""
    if mode == "optimlab split":
        return {"MERGE_MAX_BYTES": 0, "WIDE_MIN_WALKS": 2**62}
    if mode == "optimlab split, 1 a call":
        return {"MERGE_MAX_BYTES": 0, "BATCH": 1, "WIDE_MIN_WALKS": 2**62}
    if mode == "optimlab split, 8 a call":
        return {"MERGE_MAX_BYTES": 0, "BATCH": 8, "WIDE_MIN_WALKS": 2**62}
    if mode == "optimlab split, no C loop":
        return {"MERGE_MAX_BYTES": 0, "WIDE_MIN_WALKS": 2**62, "CALL_LOOP": False}
    if mode == "optimlab one buffer":
        return {"SEPARATE_ELEMENTS": 2**62}
    return {}


def _under(mode: str, action: Callable[[], None]) -> None:
    saved = {k: getattr(flat, k) for k in _settings(mode)}
    for k, v in _settings(mode).items():
        setattr(flat, k, v)
    try:
        action()
    finally:
        for k, v in saved.items():
            setattr(flat, k, v)


SHAPE_SETS = {**MODEL_SETS, "200x50K": ((50_000,),) * 200}
"""The model shapes of step_speed, and 10M parameters in 200 equal tensors (all alone, none large)."""


def run(name: str, shapes_label: str, loop: str, reps: int, warmup: int) -> dict[str, list[float]]:
    shapes = SHAPE_SETS[shapes_label]
    optimizers = {mode: build() for mode, build in _mode_builders(name, shapes).items()}
    times: dict[str, list[float]] = {mode: [] for mode in optimizers}

    def one_step(mode: str, timed: bool) -> None:
        opt = optimizers[mode]
        params = [p for g in opt.param_groups for p in g["params"]]
        if loop == "fresh":
            for p in params:
                p.grad = torch.randn_like(p)
        else:
            opt.zero_grad(set_to_none=False)
            for p in params:
                p.grad.add_(1e-3)  # type: ignore[union-attr]  (stands in for backward accumulating into it)

        def go() -> None:
            began = time.perf_counter()
            opt.step()
            if timed:
                times[mode].append(time.perf_counter() - began)

        _under(mode, go)

    for _ in range(warmup):
        for mode in optimizers:
            one_step(mode, False)
    for opt in optimizers.values():
        flat.wait_for_compiles(opt)
    deciding = flat.MERGE_AFTER_KEPT_STEPS + flat.AUTO_SETTLE_STEPS + flat.AUTO_TRIAL_STEPS + 2
    for _ in range(max(warmup, deciding)):  # the default decides
        for mode in optimizers:
            one_step(mode, False)
    for opt in optimizers.values():  # the wider loop's compile (flat.WIDE_BATCH), started once a group is flat
        flat.wait_for_compiles(opt)
    for mode in optimizers:
        one_step(mode, False)
    for _ in range(reps):
        for mode in optimizers:
            one_step(mode, True)
    for mode, opt in optimizers.items():
        plans = opt.__dict__.get("_flat_plans", {})
        for i, plan in plans.items():
            layout = "-" if plan.flat is None else ("one buffer" if not plan.flat.alone else
                                                     f"split ({len(plan.flat.alone)} tensors alone)")
            layout += "" if plan.flat is None else f", {plan.flat.batch} a call"
            print(f"  {loop:5s} {mode:24s} group {i}: {plan.decision}; layout {layout}")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", default="resnet50", choices=sorted(SHAPE_SETS))
    parser.add_argument("--optimizer", default="Adam")
    parser.add_argument("--reps", type=int, default=25)
    parser.add_argument("--warmup", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"flat_layout  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  {args.optimizer} on {args.shapes} "
          f"shapes, {args.threads} thread(s), {args.reps} timed steps per mode, load {os.getloadavg()[0]:.2f}")
    ratios = {}
    rows = []
    for loop in ("kept", "fresh"):
        times = run(args.optimizer, args.shapes, loop, args.reps, args.warmup)
        for mode, seconds in times.items():
            rows.append((loop, mode, min(seconds) * 1e3, statistics.median(seconds) * 1e3))
        if "torch fused" in times:
            ratios[loop] = min(times["optimlab default"]) / min(times["torch fused"])
    print()
    print("| gradients | mode | fastest ms | median ms |")
    print("| --- | --- | ---: | ---: |")
    for loop, mode, fastest, median in rows:
        print(f"| {loop} | {mode} | {fastest:.2f} | {median:.2f} |")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    print(f"RESULT flat_layout kept_default_vs_torch={ratios.get('kept', float('nan')):.2f} "
          f"fresh_default_vs_torch={ratios.get('fresh', float('nan')):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
