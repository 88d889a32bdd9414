"""advise_quality: the advisor's pick against each suite problem's answer key, development and test apart.

The suite is :mod:`optimlab.problems.suite`; its split into development problems (where the advisor's rules
may be designed and tuned) and test problems (only measured) is :func:`optimlab.problems.suite.split_of`, a
fixed rule: the five problems earlier rules saw are development problems, any other is one when the SHA-256
of its name is divisible by 3, else a test problem. The answer keys (``benchmarks/advise_keys/*.json``, made by
``benchmarks/advise_keys.py``; a key whose problem changed is refused) hold an exhaustive grid — every
candidate × half-decade learning rates widened until no best rate sits on an edge × seeds 0-2, full S steps —
and the key's best (the grid's best by its own seeds), "Adam at 1e-3" and "AdamW at 1e-3" scored on ten fresh
seeds (7000-7009).

Test problems are reported by round too: the flat-scan rule (:mod:`optimlab.advise._plateau`) was made after
the first round's test failure on deep-narrow-tanh was seen, so only the second round
(:data:`optimlab.problems.suite.SECOND_ROUND`) is held out for it.

For each problem the advisor runs ``advise(problem, budget=BUDGET, steps=S)`` (its own seeds: 1000+ to tune,
0-2 to confirm); its pick then trains on the same ten fresh seeds. Regret = how much worse the pick's mean
validation metric over the fresh seeds is than the key's best, in % of the best (accuracy: (best − pick) / best;
loss: (pick − best) / best); negative = better. Compute fraction = the advisor's trial-steps (one optimizer update
of one trial; held-out evaluations not counted) over the trial-steps of the grid over the same candidates and the
starting ten learning rates (9 × 10 × 3 × S: the widened key grid is larger, so this is the stricter ratio).

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/advise_quality.py [--split dev|test|all] [--only a,b]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from advise_keys import FRESH_SEEDS, key_best, load_key, means, metric_of

BUDGET = "x33"  # 33 runs < 1/8 of the 270-run starting grid
FINAL_SEEDS = 3  # the default


def regret(best: float, value: float, goal: str) -> float:
    sign = 1.0 if goal == "max" else -1.0
    return 100.0 * sign * (best - value) / abs(best)


def run_problem(name: str) -> dict[str, Any]:
    import torch

    from optimlab.advise import advise
    from optimlab.engine import Config, run_sweep
    from optimlab.problems.suite import build, split_of

    torch.set_num_threads(1)
    problem, steps = build(name)
    key = load_key(name, problem, steps)
    if key is None:
        raise SystemExit(f"{name}: no up-to-date answer key; make it with benchmarks/advise_keys.py --only {name}")
    metric, goal = metric_of(problem)
    started = time.perf_counter()
    result = advise(problem, budget=BUDGET, steps=steps, seeds=FINAL_SEEDS)
    advise_seconds = time.perf_counter() - started
    assert result.winner is not None
    w = result.winner
    pick = Config(w.candidate.optimizer, {**w.candidate.hypers, "lr": w.lr})
    sweep = run_sweep(problem, [pick], list(FRESH_SEEDS), steps, eval_splits=("valid",))
    rows = [{"candidate": w.candidate.name, "lr": w.lr, "seed": r.seed, "valid": r.metrics.get(f"valid_{metric}"),
             "diverged": r.diverged} for r in sweep.records]
    pick_value = next(iter(means(rows, goal).values()))
    top = key_best(key)
    best = top["fresh_valid"]
    refs = {k: regret(best, v["fresh_valid"], goal) for k, v in key["references"].items()}
    return {
        "problem": name, "split": split_of(name), "steps": steps, "metric": f"valid {metric}",
        "key_best": f"{top['candidate']} {top['lr']:g}", "key_value": best,
        "pick": f"{w.candidate.name} {w.lr:.3g}", "pick_value": pick_value, "regret": regret(best, pick_value, goal),
        "adam": refs["adam 0.001"], "adamw": refs["adamw 0.001"],
        "advisor_steps": result.trial_steps(), "grid_steps": key["base_grid_trial_steps"],
        "fraction": result.trial_steps() / key["base_grid_trial_steps"], "seconds": advise_seconds,
        "summary": result.summary(),
    }


def table(rows: list[dict[str, Any]]) -> list[str]:
    out = ["| problem (S) | metric | key best (10 fresh seeds) | advisor pick | pick (10 fresh seeds) | regret % | "
           "Adam 1e-3 regret % | AdamW 1e-3 regret % | compute fraction | advisor s |", "|" + "---|" * 10]
    for r in rows:
        out.append(f"| {r['problem']} ({r['steps']}) | {r['metric']} | {r['key_best']}: {r['key_value']:.4g} | "
                   f"{r['pick']} | {r['pick_value']:.4g} | {r['regret']:.1f} | {r['adam']:.1f} | {r['adamw']:.1f} | "
                   f"{r['fraction']:.3f} | {r['seconds']:.0f} |")
    regrets = [r["regret"] for r in rows]
    out.append(f"worst regret {max(regrets):.1f} %, median {statistics.median(regrets):.1f} %, largest compute "
               f"fraction {max(r['fraction'] for r in rows):.3f} over {len(rows)} problems")
    return out


def main() -> None:
    from optimlab.problems.suite import SECOND_ROUND, SUITE, split_of

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all")
    parser.add_argument("--only", help="comma-separated suite problems")
    args = parser.parse_args()
    names = [n for n in SUITE if (args.split == "all" or split_of(n) == args.split)
             and (not args.only or n in args.only.split(","))]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"advise_quality  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  load average {load}")
    print(f"advisor budget {BUDGET}, final seeds {FINAL_SEEDS}; pick and key scored on seeds "
          f"{FRESH_SEEDS[0]}-{FRESH_SEEDS[-1]}", flush=True)
    rows = []
    for name in names:
        rows.append(run_problem(name))
        r = rows[-1]
        print(f"[{name}] ({r['split']}) pick {r['pick']} regret {r['regret']:.1f} % (key {r['key_best']}), "
              f"fraction {r['fraction']:.3f}, {r['seconds']:.0f} s", flush=True)
    groups = (
        ("dev problems", lambda r: r["split"] == "dev"),
        ("test problems, first round (the flat-scan rule was made after deep-narrow-tanh's failure here was seen: "
         "not held out for it)", lambda r: r["split"] == "test" and r["problem"] not in SECOND_ROUND),
        ("test problems, second round (held out: named, defined and split before anything was computed on them)",
         lambda r: r["split"] == "test" and r["problem"] in SECOND_ROUND),
        ("all test problems", lambda r: r["split"] == "test"),
    )
    for title, chosen in groups:
        part = [r for r in rows if chosen(r)]
        if part:
            print(f"\n{title}\n")
            print("\n".join(table(part)))
    print()
    for r in rows:
        print(f"[{r['problem']}] " + r["summary"].replace("\n", "\n    "))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nload average at end {load}")
    held_out = [r["regret"] for r in rows if r["split"] == "test" and r["problem"] in SECOND_ROUND]
    if held_out:
        print(f"held out (second-round test problems): worst regret {max(held_out):.1f} %, median "
              f"{statistics.median(held_out):.1f} %")
    test = [r for r in rows if r["split"] == "test"]
    if test:
        worst = max(r["regret"] for r in test)
        median = statistics.median(r["regret"] for r in test)
        fraction = max(r["fraction"] for r in rows)
        print(f"RESULT advise_quality test_worst_regret_pct={worst:.1f} test_median_regret_pct={median:.1f} "
              f"compute_fraction={fraction:.2f}")


if __name__ == "__main__":
    main()
