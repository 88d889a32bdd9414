"""Run every claim at a named size (each at a short and a long budget) and store the verdicts as a study of their
own."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..._threads import torch_threads
from ...engine.executor import Executor
from ...engine.tuning import lr_grid
from ...errors import UserError
from ...problems.catalog import get_problem
from . import dynamics as D
from . import grid_claims as G
from . import mechanics as M
from . import rule_claims as R
from ._common import ADAPTIVE, CLASSIC, SGD_FAMILY, Claim, GridRun, across_budgets
from .experiments import grid_run


@dataclass(frozen=True)
class ClaimsBudget:
    """Sizes of the claim experiments. ``steps`` is the short and the long budget of the lr grids (one sweep, read at
    both); the other experiments are read at a quarter of their length and at their whole length."""

    name: str
    steps: tuple[int, int]
    seeds: tuple[int, ...]
    grid: tuple[float, ...]
    problems: Mapping[str, Mapping[str, Any]]
    sparsity_exponents: tuple[float, ...]
    adagrad_steps: int
    batch_steps: int
    batch_problem: Mapping[str, Any]
    cost_widths: tuple[int, ...] = (128, 512)
    ravine_steps: int = 150
    basin_steps: int = 400
    basin_lrs: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1, 0.3)
    adam_steps: tuple[int, int] = (10, 1000)
    data_sizes: tuple[int, ...] = (250, 2000)
    """Training-set sizes of mnist1d-mlp for "with much data ... about the same" (its options otherwise the grid's)."""


# The default lrs of the classic presets (1e-3, 1e-2, 1) must be grid points: "the default" is read off the grid.
_HALF_DECADES = tuple(lr_grid(1e-3, 1.0, 7))  # 1e-3, 3.162e-3, ... 1: half-decades

BUDGETS: dict[str, ClaimsBudget] = {
    # About two minutes on a quiet 2-core machine (one torch thread); see benchmarks/RESULTS.md.
    "quick": ClaimsBudget(
        "quick", steps=(150, 600), seeds=(0, 1), grid=_HALF_DECADES,
        problems={"quadratic": {"dim": 50, "n_train": 2048, "n_eval": 512},
                  "sparse-logreg": {"n_features": 200, "n_train": 4000, "n_eval": 1000},
                  "mnist1d-mlp": {"hidden": 64, "n_train": 2000}},
        sparsity_exponents=(0.0, 1.0, 2.0), adagrad_steps=1500, batch_steps=400,
        batch_problem={"hidden": 64, "n_train": 2000},
    ),
    "standard": ClaimsBudget(
        # Five problems (the advisor's development pool and the two convex ones), 300 and 2,000 steps, three seeds:
        # about 25 minutes on the shared 2-core machine (see benchmarks/RESULTS.md).
        "standard", steps=(300, 2000), seeds=(0, 1, 2), grid=tuple(lr_grid(1e-4, 10**0.5, 10)),
        problems={"quadratic": {}, "sparse-logreg": {}, "mnist1d-mlp": {"hidden": 64},
                  "digits-autoencoder": {"widths": (32, 16, 8)}, "digits-cnn": {"channels": 4}},
        sparsity_exponents=(0.0, 0.5, 1.0, 1.5, 2.0), adagrad_steps=3000, batch_steps=1000,
        batch_problem={"hidden": 64}, cost_widths=(256, 1024), data_sizes=(350, 3500),
    ),
}


@dataclass
class ClaimsResult:
    """Every claim's verdict, the study they are stored under and the run time."""

    study_id: str
    budget: str
    claims: list[Claim]
    seconds: float
    store: str = ""

    def __str__(self) -> str:
        width = max(len(c.name) for c in self.claims) if self.claims else 10
        lines = [f"Claims study {self.study_id} ({self.budget} budget, {self.seconds:.0f} s):"]
        for c in self.claims:
            per = "; ".join(f"{b['budget']}: {b['verdict']}" for b in c.evidence.get("budgets", []))
            lines.append(f"  {c.name:<{width}}  {c.verdict:<13}  {per}".rstrip())
        where = f" --store {self.store}" if self.store else ""
        lines.append(f"Details: optimlab report {self.study_id}{where} --out optimlab-report")
        return "\n".join(lines)


def run_claims(
    store: str | Path | Any = None,
    budget: str = "quick",
    *,
    claim_seeds: int | None = None,
    stream: TextIO | None = sys.stderr,
    progress: Callable[[str], None] | None = None,
    executor: Executor | None = None,
) -> ClaimsResult:
    """Run every claim experiment at ``budget`` and store the verdicts as a study of their own in ``store``.

    ``claim_seeds`` overrides the budget's number of seeds per setting (the benchmark's ``--seeds`` default is
    meant for final scoring, so it is deliberately not taken here). ``progress`` receives one line per finished
    claim (default: printed to ``stream``). ``executor`` runs every sweep of the lr grids and the batch-policy
    tuning; the measurements that time steps or trace one population's updates always run here.
    """
    from ..store import DEFAULT_STORE, Store

    if budget not in BUDGETS:
        raise UserError(f"Unknown claims budget {budget!r}; use one of: {', '.join(BUDGETS)}.")
    b = BUDGETS[budget]
    if claim_seeds is not None and claim_seeds < 1:
        raise UserError(f"Invalid claim_seeds={claim_seeds}: give at least 1.")
    seed_list = tuple(range(claim_seeds)) if claim_seeds else b.seeds

    def say(message: str) -> None:
        if progress is not None:
            progress(message)
        elif stream is not None:
            print(message, file=stream, flush=True)

    owns = not isinstance(store, Store)
    db = store if isinstance(store, Store) else Store(store if store is not None else DEFAULT_STORE)
    started = time.perf_counter()
    claims: list[Claim] = []
    study_id = db.create_study(f"claims ({budget})", _plan_dict(b, seed_list))
    ok = False
    short, long = b.steps
    # These populations are small and overhead-bound: on a shared 2-core machine one thread was 20-50x faster than
    # two competing with other processes, and it makes the wall-time claim less sensitive to the machine's load.
    with torch_threads(1):
        try:
            built = {name: get_problem(name, **opts) for name, opts in b.problems.items()}

            def record(claim: Claim, t0: float) -> None:
                claim.seconds = time.perf_counter() - t0
                claim.evidence["seconds"] = round(claim.seconds, 1)
                claim.evidence["ko"] = dict(claim.ko)
                db.put_claim(study_id, claim.name, claim.verdict, claim.summary, claim.evidence)
                claims.append(claim)
                say(f"claims: [{len(claims)}/{N_CLAIMS}] {claim.name}: {claim.verdict} ({claim.seconds:.0f} s)")

            def by_budget(name_ko: str, make: Callable[[int], Claim], budgets: Sequence[int]) -> Claim:
                parts = [(f"{s:,} steps", f"{s:,} 스텝", make(s)) for s in budgets]
                return across_budgets(parts[-1][2].name, name_ko, parts)

            t0 = time.perf_counter()
            say(f"claims: lr grids on {', '.join(built)} ({len(CLASSIC)} optimizers x {len(b.grid)} lrs x "
                f"{len(seed_list)} seeds, {long} steps read at {short} and {long})...")
            grids = {n: grid_run(p, CLASSIC, b.grid, seed_list, b.steps, executor) for n, p in built.items()}
            runs_at = {s: {n: g[s] for n, g in grids.items()} for s in b.steps}
            record(by_budget("잘 모르겠으면 Adam을 써라", lambda s: G.claim_adam_default(runs_at[s]), b.steps), t0)

            t0 = time.perf_counter()
            by_size: dict[int, dict[int, GridRun]] = {}
            if "mnist1d-mlp" in built:
                base = dict(b.problems["mnist1d-mlp"])
                for size in b.data_sizes:
                    reuse = len(built["mnist1d-mlp"].data.train) == size
                    by_size[size] = grids["mnist1d-mlp"] if reuse else grid_run(
                        get_problem("mnist1d-mlp", **{**base, "n_train": size}), G.ALIKE, b.grid, seed_list, b.steps,
                        executor)
            record(by_budget("데이터가 많으면 AdaDelta, RMSProp, Adam의 성능이 비슷하다",
                             lambda s: G.claim_adaptive_alike(runs_at[s],
                                                              by_size={n: g[s] for n, g in by_size.items()}),
                             b.steps), t0)

            t0 = time.perf_counter()
            base = dict(b.problems.get("sparse-logreg", {}))
            sparse: dict[float, dict[int, GridRun]] = {}
            density: dict[float, float] = {}
            for e in b.sparsity_exponents:
                reuse = e == 1.0 and "sparse-logreg" in built
                problem = built["sparse-logreg"] if reuse else get_problem("sparse-logreg", **{**base, "exponent": e})
                density[e] = float((problem.data.train.inputs != 0).float().mean())
                sparse[e] = grids["sparse-logreg"] if reuse else grid_run(
                    problem, (*SGD_FAMILY, *ADAPTIVE), b.grid, seed_list, b.steps, executor)
            sparse_at = {s: {e: g[s] for e, g in sparse.items()} for s in b.steps}
            record(by_budget("희소한 데이터에는 적응형 방법", lambda s: G.claim_sparse_adaptive(sparse_at[s], density),
                             b.steps), t0)
            t0 = time.perf_counter()
            record(by_budget("그래디언트가 희소할수록 Adam이 RMSProp보다 낫다",
                             lambda s: G.claim_adam_vs_rmsprop_sparse(sparse_at[s], density), b.steps), t0)

            t0 = time.perf_counter()
            mlp = built.get("mnist1d-mlp") or next(iter(built.values()))
            trace = D.adagrad_trace(mlp, grids[mlp.name][long], b.adagrad_steps, seed=seed_list[0])
            record(by_budget("AdaGrad의 스텝은 학습이 멈출 때까지 줄어든다", lambda s: D.claim_adagrad_stalls(trace, s),
                             (b.adagrad_steps // 4, b.adagrad_steps)), t0)

            t0 = time.perf_counter()
            ravine = D.ravine_runs(b.ravine_steps)
            record(by_budget("모멘텀은 지그재그를 줄인다", lambda s: D.claim_momentum_zigzag(ravine, s),
                             (b.ravine_steps // 5, b.ravine_steps)), t0)

            t0 = time.perf_counter()
            basins = D.basin_runs(b.basin_lrs, b.basin_steps)
            record(by_budget("모멘텀은 작은 지역 최솟값을 빠져나온다",
                             lambda s: R.claim_momentum_escapes({k: list(v[:, s] < 0) for k, v in basins.items()}),
                             (b.basin_steps // 16, b.basin_steps)), t0)

            t0 = time.perf_counter()
            record(by_budget("AdaDelta는 학습률이 필요 없다", lambda s: G.claim_adadelta_no_lr(runs_at[s]),
                             b.steps), t0)

            t0 = time.perf_counter()
            measured = D.batch_policy_runs(get_problem("mnist1d-mlp", **b.batch_problem), b.batch_steps,
                                         executor=executor)
            record(by_budget("전체 배치 GD는 느리고 메모리를 많이 쓰며, SGD는 잡음이 크고, "
                             "미니배치가 그 사이에서 균형을 잡는다",
                             lambda s: D.claim_batch_policies(measured, s), (b.batch_steps // 4, b.batch_steps)), t0)

            t0 = time.perf_counter()
            noise: dict[int, dict[str, dict[int, float]]] = {s: {} for s in b.steps}
            for n, p in built.items():
                batch = p.default_batch_size
                for s in b.steps:
                    lr = runs_at[s][n].tuned("minibatch")[0]
                    params = M.train_minibatch(p, seed_list[0], lr, s)
                    noise[s][n] = M.gradient_noise(p, params, (1, batch), seed=seed_list[0])
            record(by_budget("SGD의 업데이트는 분산이 크다", lambda s: R.claim_sgd_variance(noise[s]), b.steps), t0)

            t0 = time.perf_counter()
            record(by_budget("Adam = RMSProp + 모멘텀 + 편향 보정",
                             lambda s: R.claim_adam_decomposition(M.adam_decomposition(s)), b.adam_steps), t0)

            t0 = time.perf_counter()
            costs = {w: M.step_costs(COST_SET, w) for w in b.cost_widths}

            def sized(make: Callable[[dict[str, Any]], Claim], name_ko: str) -> Claim:
                parts = [(f"{costs[w]['params']:,} parameters", f"파라미터 {costs[w]['params']:,}개", make(costs[w]))
                         for w in b.cost_widths]
                return across_budgets(parts[-1][2].name, name_ko, parts)

            record(sized(R.claim_adadelta_cost, "AdaDelta는 2차 도함수를 계산해서 느리다"), t0)
            t0 = time.perf_counter()
            record(sized(R.claim_adam_memory, "Adam은 메모리를 적게 쓴다"), t0)
            ok = True
        finally:
            db.set_status(study_id, "done" if ok else "failed")
            if owns:
                db.close()
    return ClaimsResult(study_id, budget, claims, time.perf_counter() - started, str(db.path))


N_CLAIMS = 13
COST_SET = ("minibatch", "momentum", "adagrad", "rmsprop", "adadelta", "adam")


def _plan_dict(b: ClaimsBudget, seeds: Sequence[int]) -> dict[str, Any]:
    """A plan the study reader accepts; ``problems`` is empty so ``bench --resume`` never re-runs anything here."""
    return {
        "kind": "claims", "problems": [], "optimizers": [], "lr_grid": list(b.grid), "tune_seeds": [],
        "seeds": list(seeds), "budget": b.name, "steps": {}, "tune": False, "eval_every": math.gcd(*b.steps),
        "max_eval_examples": None, "max_population": None, "problem_options": {}, "selection_metric": {},
        "score_metric": {}, "goals": {},
        "claims": {"problems": {k: dict(v) for k, v in b.problems.items()}, "steps": list(b.steps),
                   "sparsity_exponents": list(b.sparsity_exponents), "adagrad_steps": b.adagrad_steps,
                   "batch_steps": b.batch_steps, "batch_problem": dict(b.batch_problem)},
    }
