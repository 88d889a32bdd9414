"""advise_quality: the advisor's pick against an exhaustive grid, on four built-in problems.

For each problem (small options so the whole run takes minutes on two cores):

* **grid**: every default candidate (the classic family + AdamW) × 13 learning rates (1e-5 … 10, half a
  decade apart) × seeds 0, 1, 2, each trained the full S steps — what "try everything" costs;
* **advisor**: ``advise(problem, budget="x40")`` — range test, successive halving, final confirmation on
  seeds 0…3 (``seeds=4``). Its final runs on seeds 0, 1, 2 have exactly the grid's initial weights and batches.

Regret: the grid's best mean test metric over seeds 0-2 (the best of all 117 configurations, chosen with
hindsight on the test split — the strictest reference) against the advisor's pick's mean test metric over
the same seeds, in % of the best (accuracy: (best − pick) / best; loss: (pick − best) / best). For scale, the
table also gives the regret of the grid's own honest pick (best mean validation metric).

Compute: trial-steps, one optimizer update of one trial (a population of K trials for S steps counts K·S).
Both sides are counted the same way; evaluations on held-out splits are not counted on either side. The
fraction is the advisor's trial-steps over the grid's, and the RESULT line gives the largest over problems.

    PYTHONPATH=src .venv/bin/python benchmarks/advise_quality.py [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

PROBLEMS: list[tuple[str, dict[str, Any], int]] = [
    ("sparse-logreg", {"n_train": 2000}, 600),
    ("mnist1d-mlp", {"hidden": 64, "n_train": 1500}, 300),
    ("digits-cnn", {"channels": 4}, 150),
    ("digits-autoencoder", {"widths": (32, 16, 8)}, 600),
]
LRS = [float(f"{10 ** (e / 2):.3g}") for e in range(-10, 3)]  # 1e-5 ... 10, half-decade steps: 13 points
GRID_SEEDS = [0, 1, 2]
BUDGET = "x40"
FINAL_SEEDS = 4  # the advisor's final confirmation runs seeds 0-3, a superset of the grid's


def machine_check() -> str:
    import torch

    a = torch.randn(512, 512)
    started = time.perf_counter()
    for _ in range(50):
        a @ a
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"50 matmuls 512² {time.perf_counter() - started:.2f} s, load average {load}"


def run_problem(name: str, options: dict[str, Any], steps: int, cache: str | None = None) -> dict[str, Any]:
    import numpy as np
    import torch

    from optimlab import get_problem
    from optimlab.advise import DEFAULT_CANDIDATES, advise
    from optimlab.engine import Config, Outcome, Selection, best_per, rank, run_sweep

    torch.set_num_threads(1)
    problem = get_problem(name, **options)
    metric = "accuracy" if "accuracy" in problem.metric_goals else "loss"
    goal = problem.metric_goals[metric]
    sign = 1.0 if goal == "max" else -1.0  # higher sign·value is better

    n = len(GRID_SEEDS)
    configs = [(o, lr) for o in DEFAULT_CANDIDATES for lr in LRS]
    grid_steps = len(configs) * n * steps
    cached = Path(cache) / f"{name}-{steps}.npz" if cache else None
    cache_hit = cached is not None and cached.is_file()
    if cache_hit:  # only for iterating on the advisor; a recorded run has none
        assert cached is not None
        saved = np.load(cached)
        test, valid, grid_seconds = saved["test"], saved["valid"], float(saved["seconds"])
    else:
        started = time.perf_counter()
        grid = run_sweep(problem, [Config(o, {"lr": lr}) for o, lr in configs], GRID_SEEDS, steps,
                         eval_splits=("valid", "test"))
        grid_seconds = time.perf_counter() - started
        test = np.array([rec.metrics[f"test_{metric}"] for rec in grid.records]).reshape(-1, n)
        valid = np.array([rec.metrics[f"valid_{metric}"] for rec in grid.records]).reshape(-1, n)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cached, test=test, valid=valid, seconds=grid_seconds)
    # The grid's best by the engine's one selection rule: mean over the grid seeds, a diverged seed ranks last.
    rule = Selection("m", "max" if goal == "max" else "min")

    def outcomes(table: Any) -> list[Outcome]:
        return [Outcome(i, configs[i][1], {"m": float(v)}) for i in range(len(configs)) for v in table[i]]

    test_ranked = rank(outcomes(test), rule)
    test_mean = np.full(len(configs), np.nan)
    for r in test_ranked:
        test_mean[r.config] = r.score
    best = test_ranked[0].config
    honest = rank(outcomes(valid), rule)[0].config

    started = time.perf_counter()
    result = advise(problem, budget=BUDGET, steps=steps, seeds=FINAL_SEEDS)
    advise_seconds = time.perf_counter() - started
    assert result.winner is not None
    w = result.winner
    picked = result.final[(result.final["candidate"] == w.candidate.name) & (result.final["lr"] == w.lr)]
    pick_test = float(picked[picked["seed"].isin(GRID_SEEDS)][f"test_{metric}"].mean())

    def regret(value: float) -> float:
        best_value = float(test_mean[best])
        return 100.0 * sign * (best_value - value) / abs(best_value)

    per_optimizer = []
    for o, r in best_per(outcomes(test), rule, group=lambda i: configs[i][0]).items():
        per_optimizer.append(f"{o} {configs[r.config][1]:g}: {test_mean[r.config]:.4g}")
    return {
        "grid_per_optimizer": "; ".join(per_optimizer),
        "cached": cache_hit,
        "problem": name, "options": options, "steps": steps, "metric": f"test {metric}",
        "grid_best": f"{configs[best][0]} {configs[best][1]:g}", "grid_best_value": float(test_mean[best]),
        "grid_valid_pick": f"{configs[honest][0]} {configs[honest][1]:g}",
        "grid_valid_pick_regret": regret(float(test_mean[honest])),
        "advisor_pick": f"{w.candidate.name} {w.lr:.3g}", "advisor_value": pick_test, "regret": regret(pick_test),
        "advisor_steps": result.trial_steps(), "grid_steps": grid_steps,
        "fraction": result.trial_steps() / grid_steps, "grid_seconds": grid_seconds,
        "advise_seconds": advise_seconds, "summary": result.summary(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="problems run in parallel processes (default 2)")
    parser.add_argument("--cache", help="reuse grid results saved in this folder (for development only)")
    parser.add_argument("--only", help="comma-separated problem names (default: all four)")
    args = parser.parse_args()
    print(f"advise_quality  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"machine at start: {machine_check()}")
    print(f"grid: 9 candidates x {len(LRS)} lrs ({LRS[0]:g}..{LRS[-1]:g}) x seeds {GRID_SEEDS}; advisor budget "
          f"{BUDGET}; one torch thread per process, {args.jobs} processes")
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        chosen = [p for p in PROBLEMS if not args.only or p[0] in args.only.split(",")]
        futures = [pool.submit(run_problem, *spec, args.cache) for spec in chosen]
        rows = [f.result() for f in futures]
    print(f"machine at end: {machine_check()}; total {time.perf_counter() - started:.0f} s\n")
    header = ("| problem (options, steps) | metric | grid best | grid valid-pick regret % | advisor pick | "
              "advisor | regret % | advisor trial-steps | grid trial-steps | fraction | grid s | advisor s |")
    print(header)
    print("|" + "---|" * 12)
    for r in rows:
        opts = ", ".join(f"{k}={v}" for k, v in r["options"].items())
        print(f"| {r['problem']} ({opts}; {r['steps']}) | {r['metric']} | {r['grid_best']}: "
              f"{r['grid_best_value']:.4g} | {r['grid_valid_pick_regret']:.1f} | {r['advisor_pick']} | "
              f"{r['advisor_value']:.4g} | {r['regret']:.1f} | {r['advisor_steps']:,} | {r['grid_steps']:,} | "
              f"{r['fraction']:.3f} | {r['grid_seconds']:.0f} | {r['advise_seconds']:.0f} |")
    print()
    for r in rows:
        if r["cached"]:
            print(f"[{r['problem']}] NOTE: grid results read from the --cache folder, not measured in this run")
        print(f"[{r['problem']}] grid, best lr of each optimizer: {r['grid_per_optimizer']}")
        print("    advisor: " + r["summary"].replace("\n", "\n    "))
    worst = max(r["regret"] for r in rows)
    fraction = max(r["fraction"] for r in rows)
    print(f"\nRESULT advise_quality worst_regret_pct={worst:.1f} compute_fraction={fraction:.2f}")


if __name__ == "__main__":
    main()
