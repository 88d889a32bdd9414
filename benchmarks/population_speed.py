"""Population training against the same trials run one after another with torch.optim.

Cases (issue 4):
* compute-bound: Adam, 8 learning rates x K/8 seeds, MLP 40-256-256-10 on MNIST-1D, batch 128, 200 steps,
  K = 8, 64, 256 — with the achieved GFLOP/s beside the machine's matmul throughput (2048² sgemm); the
  population runs twice, with ``train``'s default update and with the compiled one (``fused=True``, row "c",
  its compile timed separately in a 2-step run first); the speedup uses the faster of the two;
* overhead-bound: K = 1024 trials on the Rosenbrock surface (8 optimizers x 128 start points), 500 steps;
* one conv problem (mnist1d-cnn) and one Transformer (char-lm) at their default sizes, K = 16.

The baseline is :func:`optimlab.training.train_alone` with ``torch.optim``'s own class: an ordinary loop
(module, optimizer, one batch per step, the same batches the population sees). Both run in this process with
the same threads; the machine is checked at the start and the end. The machine here drifts by tens of percent
over tens of seconds, so the MLP cases up to K = 64 are timed alternately (population, sequential, population ...)
``--repeats`` times and the best of each is compared.

    python benchmarks/population_speed.py            # full run (several minutes)
    python benchmarks/population_speed.py --quick    # smoke test with small sizes
    python benchmarks/population_speed.py --update   # the population's update only (issue 18, below)

Ends with ``RESULT population_speed speedup_mlp_k64=X.X speedup_surface_k1024=Y.Y``.

``--update`` (issue 18) compares the population's three updates on the K = 64 Adam MLP: eager (``fused=False``),
the per-tensor compiled update (``fused=True`` as before, ``population_flat.ENABLED = False``) and the compiled
update on flat buffers (``fused=True``): the update's time per step inside ``train`` (``Population.step`` timed,
median of the run) and whole 200-step runs, alternating, best of ``--repeats``; then the first compile of each
compiled update in fresh processes sharing one new Inductor cache directory: model A (40-256-256-10, K = 64)
cold, then model B (40-128-128-10, K = 24: a new shape), then model B again (warm). It ends with
``RESULT population_update flat_ms=X old_ms=Y eager_ms=Z flat_new_shape_s=A old_new_shape_s=B``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch

from optimlab import population_flat
from optimlab.population import Population, Trial
from optimlab.problems.base import ModuleProblem
from optimlab.problems.catalog import get_problem
from optimlab.training import train, train_alone

TORCH_CLASSES: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD, "gd": torch.optim.SGD, "minibatch": torch.optim.SGD, "momentum": torch.optim.SGD,
    "nesterov": torch.optim.SGD, "adagrad": torch.optim.Adagrad, "rmsprop": torch.optim.RMSprop,
    "adadelta": torch.optim.Adadelta, "adam": torch.optim.Adam, "amsgrad": torch.optim.Adam,
    "adamw": torch.optim.AdamW, "adamax": torch.optim.Adamax, "nadam": torch.optim.NAdam, "radam": torch.optim.RAdam,
}


def matmul_gflops(n: int = 2048, reps: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def mlp_flops_per_step(problem: ModuleProblem, batch: int) -> float:
    """Forward 2·B·W plus backward 4·B·W multiply-adds counted as flops, W = weights of the linear layers."""
    weights = sum(p.numel() for name, p in problem.module.named_parameters() if name.endswith("weight"))
    return 6.0 * batch * weights


def time_population(problem: ModuleProblem, trials: list[Trial], steps: int, fused: bool | None = None) -> float:
    start = time.perf_counter()
    train(problem, trials, steps, eval_splits=(), fused=fused)
    return time.perf_counter() - start


def time_sequential(problem: ModuleProblem, trials: list[Trial], steps: int) -> float:
    start = time.perf_counter()
    for trial in trials:
        train_alone(problem, trial, steps, optimizer_factory=TORCH_CLASSES[trial.optimizer])
    return time.perf_counter() - start


def rosenbrock(xy: torch.Tensor) -> torch.Tensor:
    x, y = xy[..., 0], xy[..., 1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


SURFACE_LRS = {"gd": 1e-3, "momentum": 2e-4, "nesterov": 2e-4, "adagrad": 0.5, "rmsprop": 1e-2,
               "adadelta": 1.0, "adam": 5e-2, "nadam": 5e-2}


def surface_trials(starts: int) -> tuple[list[Trial], torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    points = torch.rand(starts, 2, generator=g) * torch.tensor([4.0, 4.0]) - torch.tensor([2.0, 1.0])
    trials = [Trial(name, {"lr": lr}, seed=i) for name, lr in SURFACE_LRS.items() for i in range(starts)]
    return trials, points.repeat(len(SURFACE_LRS), 1)


def time_surface_population(trials: list[Trial], start: torch.Tensor, steps: int) -> float:
    begin = time.perf_counter()
    theta = start.clone()
    population = Population(trials, [theta])
    for _ in range(steps):
        leaf = theta.detach().requires_grad_(True)
        losses = rosenbrock(leaf)
        (grad,) = torch.autograd.grad(losses.sum(), leaf)
        population.step([grad], losses.detach())
    return time.perf_counter() - begin


def time_surface_sequential(trials: list[Trial], start: torch.Tensor, steps: int) -> float:
    begin = time.perf_counter()
    for k, trial in enumerate(trials):
        x = start[k].clone().requires_grad_(True)
        opt = TORCH_CLASSES[trial.optimizer]([x], **{**trial.preset.settings, **trial.overrides})
        for _ in range(steps):
            opt.zero_grad()
            loss = rosenbrock(x)
            if not torch.isfinite(loss):
                break
            loss.backward()
            opt.step()
    return time.perf_counter() - begin


def row(case: str, k: int, population: float, sequential: float, extra: str = "") -> str:
    return f"{case:<22} {k:>5} {population:>9.2f} {sequential:>10.2f} {sequential / population:>8.1f}x  {extra}"


UPDATES = {"eager": (False, True), "old compiled": (True, False), "flat compiled": (True, True)}
"""The population's updates: ``fused`` for ``train`` and ``population_flat.ENABLED``."""


def timed_update_run(problem: ModuleProblem, trials: list[Trial], steps: int, update: str) -> tuple[float, float]:
    """One ``train`` run with the given update: (median update ms per step, whole run s)."""
    fused, flat = UPDATES[update]
    population_flat.ENABLED = flat
    durations: list[float] = []
    real = Population.step

    def step(self: Population, *args: object, **kwargs: object) -> None:
        begin = time.perf_counter()
        real(self, *args, **kwargs)  # type: ignore[arg-type]
        durations.append(time.perf_counter() - begin)

    Population.step = step  # type: ignore[method-assign]
    try:
        total = time_population(problem, trials, steps, fused=fused)
    finally:
        Population.step = real  # type: ignore[method-assign]
        population_flat.ENABLED = True
    return statistics.median(durations[2:]) * 1e3, total


def mlp_trials(k: int) -> list[Trial]:
    lrs = [10 ** (-4 + 0.5 * i) for i in range(8)]
    return [Trial("adam", {"lr": lrs[i % 8]}, seed=i // 8, batch_size=128) for i in range(k)]


def first_compile_child(update: str, hidden: int, k: int) -> None:
    """In a fresh process: the first two steps of ``train`` (step 2 compiles), minus two eager steps."""
    problem = get_problem("mnist1d-mlp", hidden=hidden)
    assert isinstance(problem, ModuleProblem)
    trials = mlp_trials(k)
    time_population(problem, trials, 2, fused=False)  # warms everything but the compile
    eager = time_population(problem, trials, 2, fused=False)
    fused, flat = UPDATES[update]
    population_flat.ENABLED = flat
    compiled = time_population(problem, trials, 2, fused=fused)
    print(json.dumps({"seconds": compiled - eager}))


def first_compiles(threads: int) -> dict[str, list[float]]:
    """The first compile of each compiled update: model A cold, model B (new shape), model B again, one cache."""
    out: dict[str, list[float]] = {}
    for update in ("old compiled", "flat compiled"):
        with tempfile.TemporaryDirectory(prefix="optimlab-inductor-") as cache:
            env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache}
            runs = []
            for hidden, k in ((256, 64), (128, 24), (128, 24)):
                command = [sys.executable, __file__, "--compile-child", update, str(hidden), str(k),
                           "--threads", str(threads)]
                done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
                runs.append(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])
            out[update] = runs
    return out


def update_main(args: argparse.Namespace) -> int:
    """``--update``: the population's three updates side by side (module docstring)."""
    steps = 40 if args.quick else 200
    problem = get_problem("mnist1d-mlp")
    assert isinstance(problem, ModuleProblem)
    trials = mlp_trials(64)
    print(f"machine: {args.threads} threads, load average {os.getloadavg()[0]:.2f} (start)")
    for update in ("old compiled", "flat compiled"):  # each compile happens here, outside the timed runs
        timed_update_run(problem, trials, 3, update)
    times: dict[str, list[tuple[float, float]]] = {u: [] for u in UPDATES}
    for _ in range(args.repeats):
        for update in UPDATES:
            times[update].append(timed_update_run(problem, trials, steps, update))
    print(f"{'update (K=64 Adam MLP)':<24} {'ms/step':>8} {'run s':>7}  runs (update ms / run s)")
    best = {}
    for update, runs in times.items():
        best[update] = min(ms for ms, _ in runs)
        listed = ", ".join(f"{ms:.2f}/{s:.2f}" for ms, s in runs)
        print(f"{update:<24} {best[update]:>8.2f} {min(s for _, s in runs):>7.2f}  {listed}")
    compiles = first_compiles(args.threads)
    print(f"{'first compile (s)':<24} {'A cold':>8} {'B new':>7} {'B warm':>7}")
    for update, runs in compiles.items():
        print(f"{update:<24} {runs[0]:>8.1f} {runs[1]:>7.1f} {runs[2]:>7.1f}")
    print(f"machine: load average {os.getloadavg()[0]:.2f} (end)")
    print(f"RESULT population_update flat_ms={best['flat compiled']:.2f} old_ms={best['old compiled']:.2f} "
          f"eager_ms={best['eager']:.2f} flat_new_shape_s={compiles['flat compiled'][1]:.1f} "
          f"old_new_shape_s={compiles['old compiled'][1]:.1f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="alternating timings of the MLP cases up to K=64 "
                        "(best of each is reported; K=256 runs once)")
    parser.add_argument("--update", action="store_true", help="only the population's update (issue 18)")
    parser.add_argument("--compile-child", nargs=3, metavar=("UPDATE", "HIDDEN", "K"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.compile_child:
        update, hidden, k = args.compile_child
        first_compile_child(update, int(hidden), int(k))
        return 0
    if args.update:
        return update_main(args)
    quick = args.quick
    mlp_steps, surface_steps = (20, 50) if quick else (200, 500)
    mlp_ks = (8, 16) if quick else (8, 64, 256)
    starts = 8 if quick else 128

    peak_start = matmul_gflops()
    print(f"machine: {args.threads} threads, sgemm 2048² = {peak_start:.0f} GFLOP/s (start)")
    print(f"{'case':<22} {'K':>5} {'pop s':>9} {'seq s':>10} {'speedup':>9}  notes")
    speedups: dict[str, float] = {}

    mlp = get_problem("mnist1d-mlp")
    assert isinstance(mlp, ModuleProblem)
    flops = mlp_flops_per_step(mlp, 128)
    lrs = [10 ** (-4 + 0.5 * i) for i in range(8)]
    for k in mlp_ks:
        trials = [Trial("adam", {"lr": lr}, seed=s, batch_size=128) for s in range(k // 8) for lr in lrs]
        # The compiled update's first use compiles (once per process and shape): timed here, outside the runs.
        first = time_population(mlp, trials, 2, fused=True)
        # The machine drifts by ±30 % over tens of seconds: the modes are timed alternately, best of `repeats`.
        repeats = args.repeats if k <= 64 else 1
        times: dict[str, list[float]] = {"default": [], "compiled": [], "sequential": []}
        for _ in range(repeats):
            times["default"].append(time_population(mlp, trials, mlp_steps))
            times["compiled"].append(time_population(mlp, trials, mlp_steps, fused=True))
            times["sequential"].append(time_sequential(mlp, trials, mlp_steps))
        best = {mode: min(runs) for mode, runs in times.items()}
        seq = best["sequential"]
        speedups[f"mlp_k{k}"] = seq / min(best["default"], best["compiled"])
        for mode in ("default", "compiled"):
            pop = best[mode]
            work = k * mlp_steps * flops / 1e9
            note = f"{work / pop:.0f} GFLOP/s population, {work / seq:.0f} sequential"
            if mode == "compiled":
                note += f"; first 2 steps incl. compile {first:.1f} s"
            if repeats > 1:
                note += f"; runs pop {', '.join(f'{t:.2f}' for t in times[mode])} seq "
                note += ", ".join(f"{t:.2f}" for t in times["sequential"])
            label = "mlp 40-256-256-10" + (" c" if mode == "compiled" else "")
            print(row(label, k, pop, seq, note), flush=True)

    trials, start = surface_trials(starts)
    pop = time_surface_population(trials, start, surface_steps)
    seq = time_surface_sequential(trials, start, surface_steps)
    speedups[f"surface_k{len(trials)}"] = seq / pop
    print(row("rosenbrock surface", len(trials), pop, seq, f"8 optimizers x {starts} starts"), flush=True)

    for name, options, steps in (("mnist1d-cnn", {}, 20 if quick else 100), ("char-lm", {}, 5 if quick else 50)):
        problem = get_problem(name, **options)
        assert isinstance(problem, ModuleProblem)
        k = 4 if quick else 16
        trials = [Trial("adam", {"lr": 10 ** (-3.5 + 0.25 * i)}, seed=i % 4) for i in range(k)]
        pop = time_population(problem, trials, steps)
        seq = time_sequential(problem, trials, steps)
        speedups[name] = seq / pop
        print(row(name, k, pop, seq, f"{steps} steps, batch {problem.default_batch_size}"), flush=True)

    peak_end = matmul_gflops()
    print(f"machine: sgemm 2048² = {peak_end:.0f} GFLOP/s (end)")
    mlp_key = "mlp_k64" if "mlp_k64" in speedups else f"mlp_k{mlp_ks[-1]}"
    surface_key = next(key for key in speedups if key.startswith("surface"))
    print(f"RESULT population_speed speedup_mlp_k64={speedups[mlp_key]:.1f} "
          f"speedup_surface_k1024={speedups[surface_key]:.1f}")
    return 0



if __name__ == "__main__":
    raise SystemExit(main())
