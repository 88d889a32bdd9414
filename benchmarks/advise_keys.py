"""advise_keys: the answer keys of the advisor's suite (:mod:`optimlab.problems.suite`), computed once, kept as data.

For each suite problem, an exhaustive grid: every candidate of :data:`optimlab.advise.DEFAULT_CANDIDATES` ×
half-decade learning rates (10^-4 … 10^0.5 to start) × grid seeds 0, 1, 2, each trained the full S steps, in
one population sweep. A candidate whose best rate (mean validation metric over the grid seeds) sits on an edge
of its grid gets a decade more on that side, again until it does not (down to 1e-8, up to 1000); a saved key
with such an edge (made before a limit was raised) is completed in place. Then the three
best configurations, "Adam at 1e-3" and "AdamW at 1e-3" train on ten fresh seeds (7000-7009), which the advisor
never uses. The key's best is the grid's best (mean validation metric over the grid seeds), scored on those
fresh seeds like the advisor's pick, so neither side profits from seed luck.

Each key is ``benchmarks/advise_keys/<problem>.json`` with the command that made it and a fingerprint of the
problem (model, run length, candidates' batch sizes, the integer data exactly) and a signature of its float
data and initial weights (compared within rounding, so a CPU that rounds ``exp`` differently is the same problem);
a key whose fingerprint or signature no longer matches is made again.

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/advise_keys.py [--only a,b] [--split dev|test] [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

KEY_DIR = Path(__file__).parent / "advise_keys"
GRID_SEEDS = (0, 1, 2)
FRESH_SEEDS = tuple(range(7000, 7010))
START_EXPONENTS = tuple(range(-8, 2))  # lr = 10^(e/2): 1e-4 ... 3.16
EDGE_LIMITS = (-16, 6)  # never beyond 1e-8 ... 1000
REFERENCES = (("adam", 1e-3), ("adamw", 1e-3))
TOP = 3
SIGNATURE_PROJECTIONS = 3
SIGNATURE_RTOL = 1e-6


def lr_of(e: int) -> float:
    return float(f"{10 ** (e / 2):.3g}")


def metric_of(problem: Any) -> tuple[str, str]:
    metric = "accuracy" if "accuracy" in problem.metric_goals else "loss"
    return metric, str(problem.metric_goals[metric])


def _problem_tensors(problem: Any) -> list[tuple[str, Any]]:
    """Every tensor a key depends on, labelled: the data of every split and the grid seeds' initial weights."""
    import torch

    tensors = []
    for split in ("train", "valid", "test"):
        data = problem.data.split(split)
        tensors += [(f"{split}[{i}]", t) for i, t in enumerate(data.take(torch.arange(len(data))))]
    for seed in GRID_SEEDS:
        tensors += [(f"init{seed}.{name}", p) for name, p in sorted(problem.init_params(seed).items())]
    return [(label, t.detach().cpu().contiguous().numpy()) for label, t in tensors]


def fingerprint(problem: Any, steps: int, candidates: tuple[str, ...]) -> str:
    """What a key depends on, exactly, except the last bits of floating-point values: the model, the run length,
    each candidate's batch size and default hyperparameters, and every data and initial-weight tensor's label,
    dtype and shape, with the values of the integer ones (labels, token ids). The float values are compared
    by :func:`signature` within a rounding tolerance: ``torch.exp`` or ``torch.sigmoid`` differ in the last bit
    between CPUs (vector units), and a byte hash of hetero-regression's targets then differs between machines."""
    from optimlab.population import Trial
    from optimlab.registry import get_preset
    from optimlab.training import batch_size_for

    h = hashlib.sha256()
    h.update(f"{problem.name}|{steps}|{problem.default_batch_size}".encode())
    h.update(repr(problem.make_module()).encode())
    for label, array in _problem_tensors(problem):
        h.update(f"{label}|{array.dtype}|{array.shape}".encode())
        if not np.issubdtype(array.dtype, np.floating):
            h.update(array.tobytes())
    for c in candidates:
        h.update(f"{c}|{batch_size_for(Trial(c, {'lr': 1e-3}), problem)}|{get_preset(c).defaults()}".encode())
    return h.hexdigest()[:16]


def _projections(array: Any) -> tuple[Any, Any]:
    """A float tensor's values in float64 on SIGNATURE_PROJECTIONS fixed Gaussian directions (seeded by its size),
    and each projection's rounding scale, sum |x_i w_i|."""
    x = array.astype(np.float64).ravel()
    w = np.random.default_rng(x.size).standard_normal((SIGNATURE_PROJECTIONS, x.size))
    return w @ x, np.abs(w) @ np.abs(x)


def signature(problem: Any) -> list[list[float]]:
    """The float values a key depends on, as a few projections per tensor (see :func:`signature_matches`)."""
    return [_projections(a)[0].tolist() for _, a in _problem_tensors(problem) if np.issubdtype(a.dtype, np.floating)]


def signature_matches(saved: list[list[float]], problem: Any) -> bool:
    """Whether ``problem``'s float values are the saved ones up to rounding: each projection within
    SIGNATURE_RTOL of its scale sum |x_i w_i| (a last-bit difference in every value moves it by under 1e-7 of the
    scale; a value changed in its fourth digit, or data drawn again, by far more)."""
    floats = [a for _, a in _problem_tensors(problem) if np.issubdtype(a.dtype, np.floating)]
    if len(floats) != len(saved):
        return False
    for array, old in zip(floats, saved, strict=True):
        now, scale = _projections(array)
        if not np.all(np.abs(now - np.asarray(old)) <= SIGNATURE_RTOL * scale):
            return False
    return True


def key_matches(key: dict[str, Any], problem: Any, steps: int) -> bool:
    """Whether a saved key was made from ``problem`` as it is now (its fingerprint and its signature)."""
    return (key.get("fingerprint") == fingerprint(problem, steps, tuple(key["candidates"]))
            and signature_matches(key.get("signature", []), problem))


def key_best(key: dict[str, Any]) -> dict[str, Any]:
    """The key's best: the grid's best configuration (by the grid seeds) with its fresh-seed score."""
    return dict(key["top"][0])


def key_path(name: str) -> Path:
    return KEY_DIR / f"{name}.json"


def load_key(name: str, problem: Any | None = None, steps: int | None = None) -> dict[str, Any] | None:
    """The saved key of ``name``, or None when there is none or (given the problem) its fingerprint is stale."""
    path = key_path(name)
    if not path.is_file():
        return None
    key: dict[str, Any] = json.loads(path.read_text())
    if problem is not None and steps is not None:
        if not key_matches(key, problem, steps):
            return None
    return key


def _rows(sweep: Any, configs: list[Any], metric: str) -> list[dict[str, Any]]:
    rows = []
    for rec in sorted(sweep.records, key=lambda r: (r.config, r.seed)):
        c = configs[rec.config]
        rows.append({
            "candidate": c.optimizer, "lr": c.lr, "seed": rec.seed,
            "valid": _num(rec.metrics.get(f"valid_{metric}")), "test": _num(rec.metrics.get(f"test_{metric}")),
            "valid_loss": _num(rec.metrics.get("valid_loss")), "diverged": rec.diverged,
        })
    return rows


def _num(v: Any) -> float | None:
    return float(v) if v is not None and math.isfinite(float(v)) else None


def means(rows: list[dict[str, Any]], goal: str, field: str = "valid") -> dict[tuple[str, float], float]:
    """Mean ``field`` per (candidate, lr); a configuration with a diverged or missing seed scores worst."""
    by: dict[tuple[str, float], list[float | None]] = {}
    for r in rows:
        by.setdefault((r["candidate"], float(r["lr"])), []).append(None if r["diverged"] else r[field])
    worst = -math.inf if goal == "max" else math.inf
    return {k: (sum(v) / len(v) if all(x is not None for x in v) else worst) for k, v in by.items()}  # type: ignore[misc]


def ordered(scores: dict[tuple[str, float], float], goal: str) -> list[tuple[str, float]]:
    sign = -1.0 if goal == "max" else 1.0
    return sorted(scores, key=lambda k: (sign * scores[k], k[1]))


def widen(rows: list[dict[str, Any]], exps: dict[str, set[int]], goal: str) -> list[tuple[str, int]]:
    """The grid points still to run: two more half-decades (as many as the limits allow) past an edge where a
    candidate's best rate sits."""
    scores = means(rows, goal)
    todo = []
    for c, have in exps.items():
        best_lr = ordered({k: v for k, v in scores.items() if k[0] == c}, goal)[0][1]
        best_e = next(e for e in have if lr_of(e) == best_lr)
        if best_e == max(have):
            todo += [(c, e) for e in (best_e + 1, best_e + 2) if e <= EDGE_LIMITS[1]]
        elif best_e == min(have):
            todo += [(c, e) for e in (best_e - 1, best_e - 2) if e >= EDGE_LIMITS[0]]
    return todo


def make_key(name: str, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """The key of ``name``; given an up-to-date ``previous`` key, only its missing edge points are run."""
    import torch

    from optimlab.advise import DEFAULT_CANDIDATES
    from optimlab.engine import Config, run_sweep
    from optimlab.problems.suite import build, split_of

    torch.set_num_threads(1)
    problem, steps = build(name)
    metric, goal = metric_of(problem)
    candidates = tuple(DEFAULT_CANDIDATES)
    started = time.perf_counter()
    if previous is None:
        exps: dict[str, set[int]] = {c: set(START_EXPONENTS) for c in candidates}
        rows: list[dict[str, Any]] = []
        todo = [(c, e) for c in candidates for e in START_EXPONENTS]
        rounds = 0
    else:
        exps = {c: {round(2 * math.log10(lr)) for lr in previous["lrs"][c]} for c in candidates}
        rows = list(previous["grid"])
        todo = widen(rows, exps, goal)
        rounds = previous["widening_rounds"] + 1
    while todo:
        rounds += 1
        configs = [Config(c, {"lr": lr_of(e)}) for c, e in todo]
        sweep = run_sweep(problem, configs, list(GRID_SEEDS), steps, eval_splits=("valid", "test"))
        rows += _rows(sweep, configs, metric)
        for c, e in todo:
            exps[c].add(e)
        todo = widen(rows, exps, goal)
    if previous is not None:
        grid_seconds = previous["grid_seconds"] + time.perf_counter() - started
    else:
        grid_seconds = time.perf_counter() - started
    scores = means(rows, goal)
    top = ordered(scores, goal)[:TOP]
    fresh_configs = list(dict.fromkeys([*top, *REFERENCES]))
    configs = [Config(c, {"lr": lr}) for c, lr in fresh_configs]
    started = time.perf_counter()
    fresh = _rows(run_sweep(problem, configs, list(FRESH_SEEDS), steps, eval_splits=("valid", "test")), configs,
                  metric)
    fresh_seconds = time.perf_counter() - started
    fresh_scores = means(fresh, goal)
    best = top[0]
    per_candidate = {}
    for c in candidates:
        mine = ordered({k: v for k, v in scores.items() if k[0] == c}, goal)[0]
        per_candidate[c] = {"lr": mine[1], "grid_valid": scores[mine]}
    grid_trial_steps = len({(r["candidate"], r["lr"]) for r in rows}) * len(GRID_SEEDS) * steps
    base_trial_steps = len(candidates) * len(START_EXPONENTS) * len(GRID_SEEDS) * steps
    return {
        "problem": name, "split": split_of(name), "steps": steps, "metric": metric, "goal": goal,
        "description": str(getattr(problem, "description", "")),
        "fingerprint": fingerprint(problem, steps, candidates), "signature": signature(problem),
        "candidates": list(candidates),
        "command": "PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/advise_keys.py --only " + name,
        "created_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "grid_seeds": list(GRID_SEEDS), "fresh_seeds": list(FRESH_SEEDS), "widening_rounds": rounds - 1,
        "lrs": {c: [lr_of(e) for e in sorted(exps[c])] for c in candidates},
        "grid_trial_steps": grid_trial_steps,
        "base_grid_trial_steps": base_trial_steps,
        "grid_seconds": round(grid_seconds, 1), "fresh_seconds": round(fresh_seconds, 1),
        "best": {"candidate": best[0], "lr": best[1], "fresh_valid": fresh_scores[best],
                 "fresh_test": means(fresh, goal, "test")[best]},
        "top": [{"candidate": c, "lr": lr, "grid_valid": scores[(c, lr)], "fresh_valid": fresh_scores[(c, lr)]}
                for c, lr in top],
        "references": {f"{c} {lr:g}": {"fresh_valid": fresh_scores[(c, lr)]} for c, lr in REFERENCES},
        "per_candidate": per_candidate,
        "grid": rows, "fresh": fresh,
    }


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from optimlab.problems.suite import SUITE, build, split_of

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated suite problems (default: all)")
    parser.add_argument("--split", choices=("dev", "test"), help="only the development or the test problems")
    parser.add_argument("--force", action="store_true", help="make the keys again even when up to date")
    args = parser.parse_args()
    names = [n for n in SUITE if (not args.only or n in args.only.split(",")) and
             (not args.split or split_of(n) == args.split)]
    KEY_DIR.mkdir(exist_ok=True)
    for name in names:
        problem, steps = build(name)
        previous = None if args.force else load_key(name, problem, steps)
        if previous is not None:
            exps = {c: {round(2 * math.log10(lr)) for lr in previous["lrs"][c]} for c in previous["candidates"]}
            if not widen(previous["grid"], exps, previous["goal"]):
                print(f"{name}: key up to date", flush=True)
                continue
        started = time.perf_counter()
        key = make_key(name, previous)
        key_path(name).write_text(json.dumps(key, indent=1) + "\n")
        b = key["best"]
        print(f"{name} ({key['split']}): best {b['candidate']} {b['lr']:g} fresh valid {b['fresh_valid']:.4g}; "
              f"{key['widening_rounds']} widening rounds; {time.perf_counter() - started:.0f} s; load "
              f"{key['load_average']}", flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
