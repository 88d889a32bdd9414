"""Run every claim at a named size and store the verdicts as a study of their own."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..._threads import torch_threads
from ...engine.tuning import lr_grid
from ...errors import UserError
from ...problems.catalog import get_problem
from ._common import ADAPTIVE, CLASSIC, SGD_FAMILY, Claim, GridRun
from .dynamics import claim_adagrad_stalls, claim_batch_policies, claim_momentum_zigzag
from .experiments import grid_run
from .grid_claims import claim_adadelta_no_lr, claim_adam_default, claim_sparse_adaptive


@dataclass(frozen=True)
class ClaimsBudget:
    """Sizes of the claim experiments."""

    name: str
    steps: int
    seeds: tuple[int, ...]
    grid: tuple[float, ...]
    problems: Mapping[str, Mapping[str, Any]]
    sparsity_exponents: tuple[float, ...]
    adagrad_steps: int
    batch_steps: int
    batch_problem: Mapping[str, Any]


_HALF_DECADES = tuple(lr_grid(1e-3, 10**0.5, 8))  # 1e-3, 3.162e-3, ... 3.162: half-decades

BUDGETS: dict[str, ClaimsBudget] = {
    # About a minute and a half on the shared 2-core machine (one torch thread).
    "quick": ClaimsBudget(
        "quick", steps=300, seeds=(0, 1), grid=_HALF_DECADES,
        problems={"quadratic": {"dim": 50, "n_train": 2048, "n_eval": 512},
                  "sparse-logreg": {"n_features": 200, "n_train": 4000, "n_eval": 1000},
                  "mnist1d-mlp": {"hidden": 64, "n_train": 2000}},
        sparsity_exponents=(0.0, 0.5, 1.0, 1.5, 2.0), adagrad_steps=1500, batch_steps=400,
        batch_problem={"hidden": 64, "n_train": 2000},
    ),
    "standard": ClaimsBudget(
        "standard", steps=600, seeds=(0, 1, 2), grid=tuple(lr_grid(1e-4, 10**0.5, 19)),
        problems={"quadratic": {}, "sparse-logreg": {}, "mnist1d-mlp": {"hidden": 128},
                  "digits-autoencoder": {}},
        sparsity_exponents=(0.0, 0.5, 1.0, 1.5, 2.0), adagrad_steps=2000, batch_steps=600,
        batch_problem={"hidden": 128},
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
            lines.append(f"  {c.name:<{width}}  {c.verdict}")
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
) -> ClaimsResult:
    """Run every claim experiment at ``budget`` and store the verdicts as a study of their own in ``store``.

    ``claim_seeds`` overrides the budget's number of seeds per setting (the benchmark's ``--seeds`` default is
    meant for final scoring, so it is deliberately not taken here). ``progress`` receives one line per finished
    claim (default: printed to ``stream``).
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
    # These populations are small and overhead-bound: on a shared 2-core machine one thread was 20-50x faster than
    # two competing with other processes, and it makes the wall-time claim less sensitive to the machine's load.
    with torch_threads(1):
        try:
            built = {name: get_problem(name, **opts) for name, opts in b.problems.items()}

            def record(claim: Claim, t0: float) -> None:
                claim.seconds = time.perf_counter() - t0
                claim.evidence["seconds"] = round(claim.seconds, 1)
                db.put_claim(study_id, claim.name, claim.verdict, claim.summary, claim.evidence)
                claims.append(claim)
                say(f"claims: [{len(claims)}/6] {claim.name}: {claim.verdict} ({claim.seconds:.0f} s)")

            t0 = time.perf_counter()
            say(f"claims: lr grids on {', '.join(built)} ({len(CLASSIC)} optimizers x {len(b.grid)} lrs)...")
            runs = {n: grid_run(p, CLASSIC, b.grid, seed_list, b.steps) for n, p in built.items()}
            record(claim_adam_default(runs), t0)

            t0 = time.perf_counter()
            base = dict(b.problems.get("sparse-logreg", {}))
            sparse_runs: dict[float, GridRun] = {}
            density: dict[float, float] = {}
            for e in b.sparsity_exponents:
                problem = built["sparse-logreg"] if e == 1.0 and "sparse-logreg" in built else get_problem(
                    "sparse-logreg", **{**base, "exponent": e})
                density[e] = float((problem.data.train.inputs != 0).float().mean())
                sparse_runs[e] = runs["sparse-logreg"] if problem is built.get("sparse-logreg") else grid_run(
                    problem, (*SGD_FAMILY, *ADAPTIVE), b.grid, seed_list, b.steps)
            record(claim_sparse_adaptive(sparse_runs, density), t0)

            t0 = time.perf_counter()
            mlp = built.get("mnist1d-mlp") or next(iter(built.values()))
            record(claim_adagrad_stalls(mlp, runs[mlp.name], b.adagrad_steps, seed=seed_list[0]), t0)

            t0 = time.perf_counter()
            record(claim_momentum_zigzag(), t0)

            t0 = time.perf_counter()
            record(claim_adadelta_no_lr(runs), t0)

            t0 = time.perf_counter()
            record(claim_batch_policies(get_problem("mnist1d-mlp", **b.batch_problem), b.batch_steps), t0)
            ok = True
        finally:
            db.set_status(study_id, "done" if ok else "failed")
            if owns:
                db.close()
    return ClaimsResult(study_id, budget, claims, time.perf_counter() - started, str(db.path))


def _plan_dict(b: ClaimsBudget, seeds: Sequence[int]) -> dict[str, Any]:
    """A plan the study reader accepts; ``problems`` is empty so ``bench --resume`` never re-runs anything here."""
    return {
        "kind": "claims", "problems": [], "optimizers": [], "lr_grid": list(b.grid), "tune_seeds": [],
        "seeds": list(seeds), "budget": b.name, "steps": {}, "tune": False, "eval_every": b.steps,
        "max_eval_examples": None, "max_population": None, "problem_options": {}, "selection_metric": {},
        "score_metric": {}, "goals": {},
        "claims": {"problems": {k: dict(v) for k, v in b.problems.items()}, "steps": b.steps,
                   "sparsity_exponents": list(b.sparsity_exponents), "adagrad_steps": b.adagrad_steps,
                   "batch_steps": b.batch_steps, "batch_problem": dict(b.batch_problem)},
    }
