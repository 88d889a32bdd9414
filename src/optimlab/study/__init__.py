"""Fair optimizer studies on a laptop: plan, tune, re-run on fresh seeds, store, resume.

>>> from optimlab.study import bench, load_results            # doctest: +SKIP
>>> results = bench(["sparse-logreg"], "adam,momentum", seeds=3, store="runs.sqlite")  # doctest: +SKIP
>>> results.ranking()                                         # doctest: +SKIP
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .._lazy import lazy_exports
from ..errors import UserError
from .store import DEFAULT_STORE, SCHEMA_VERSION, Store

# The planner reads the registry (torch) and the results read pandas: they load when first used.
_WHERE = {
    **dict.fromkeys(("BUDGETS", "StudyBudget", "Plan", "TrialSpec", "choose_lr", "lr_grid", "make_plan",
                     "parse_lr_grid"), ".plan"),
    **dict.fromkeys(("StudyResults", "load_results"), ".results"),
}
_lazy_getattr, __dir__ = lazy_exports(__name__, _WHERE)

if TYPE_CHECKING:
    from ..engine.executor import Executor
    from .plan import BUDGETS, Plan, StudyBudget, TrialSpec, choose_lr, lr_grid, make_plan, parse_lr_grid
    from .results import StudyResults, load_results

DEFAULT_PROBLEMS = ("mnist1d-mlp", "sparse-logreg")


def bench(
    problems: Sequence[str] = DEFAULT_PROBLEMS,
    optimizers: str | Sequence[str] = "seed",
    seeds: int = 5,
    budget: str = "quick",
    *,
    store: str | Path = DEFAULT_STORE,
    tune: bool = True,
    lr_grid: Sequence[float] | None = None,
    steps: int | None = None,
    tune_seeds: int | None = None,
    problem_options: Mapping[str, Mapping[str, Any]] | None = None,
    max_population: int | None = None,
    full_eval: bool = False,
    name: str | None = None,
    resume: bool = False,
    study: str | None = None,
    stream: TextIO | None = sys.stderr,
    progress_every: float = 10.0,
    executor: Executor | None = None,
) -> StudyResults:
    """Plan and run a study (or, with ``resume=True``, finish the latest unfinished one) and return its results.

    ``executor``: where the trials run (default: the engine's choice per problem; e.g.
    :class:`optimlab.engine.ray_executor.RayExecutor` for a cluster). The plan fixes the populations, so every
    executor gives the same numbers for the same plan; an executor that runs several populations at once (Ray)
    and no ``max_population`` plan populations small enough to keep it busy (the size is stored with the plan).
    ``full_eval``: score on whole validation and test splits (the ``quick`` budget otherwise averages over the
    first 500 examples of each, and says so wherever the numbers are shown).

    Bad input (unknown names, an impossible budget, a problem that fails to build, a foreign store) raises
    :class:`~optimlab.errors.UserError` before the store is touched.
    """
    if resume:
        return resume_study(store, study, stream=stream, progress_every=progress_every, executor=executor)
    from .plan import make_plan
    from .results import load_results
    from .run import run_study

    plan, built = make_plan(
        list(problems), optimizers, seeds, budget, tune=tune, lr_grid_values=lr_grid, steps=steps,
        tune_seeds=tune_seeds, problem_options=problem_options, max_population=max_population, full_eval=full_eval,
    )
    wanted = getattr(executor, "units_wanted", None)
    if max_population is None and callable(wanted):  # a cluster: enough populations to keep its CPUs busy
        plan = plan.sized_for(wanted())
    label = name or f"{budget}: {','.join(plan.problems)} x {len(plan.optimizers)} optimizers" + (
        "" if tune else " (defaults only)")
    with Store(store) as db:
        study_id = db.create_study(label, plan.to_dict())
        run_study(db, study_id, plan, built, stream=stream, progress_every=progress_every, executor=executor)
    return load_results(store, study_id)


def resume_study(
    store: str | Path = DEFAULT_STORE, study: str | None = None, *, stream: TextIO | None = sys.stderr,
    progress_every: float = 10.0, executor: Executor | None = None,
) -> StudyResults:
    """Continue the latest unfinished study (or ``study``): finished trials are kept, the rest run."""
    from ..problems.catalog import get_problem
    from .plan import Plan
    from .results import load_results
    from .run import run_study

    with Store(store, readonly=True) as db:  # read first: a problem that fails to build must not touch the file
        if study is not None:
            info = db.study(study, unfinished=True)
        else:  # the latest unfinished benchmark (a claims study is not resumable: it has no trial plan)
            found = [s for s in db.studies()
                     if s["status"] != "done" and json.loads(s["plan_json"] or "{}").get("kind") != "claims"]
            if not found:
                raise UserError(f"There is no unfinished study to resume in {str(store)!r}.")
            info = found[-1]
    plan = Plan.from_dict(json.loads(info["plan_json"]))
    if json.loads(info["plan_json"]).get("kind") == "claims":
        raise UserError(f"Study {info['id']} is a claims study; run `optimlab bench --claims` again instead.")
    built = {n: get_problem(n, **plan.problem_options.get(n, {})) for n in plan.problems}
    if stream is not None:
        print(f"Resuming study {info['id']} ({info['name']}).", file=stream)
    with Store(store) as db:
        run_study(db, info["id"], plan, built, stream=stream, progress_every=progress_every, executor=executor)
    return load_results(store, info["id"])


__all__ = [
    "BUDGETS",
    "DEFAULT_PROBLEMS",
    "DEFAULT_STORE",
    "SCHEMA_VERSION",
    "Plan",
    "Store",
    "StudyBudget",
    "StudyResults",
    "TrialSpec",
    "UserError",
    "bench",
    "choose_lr",
    "load_results",
    "lr_grid",
    "make_plan",
    "parse_lr_grid",
    "resume_study",
]


def __getattr__(name: str) -> object:
    """Public names load on first use; ``optimlab.study.Budget`` was this package's name for :class:`StudyBudget`
    (a named study size) and now means the compute a caller allows (:class:`optimlab.engine.Budget`), so the old
    name warns and still works."""
    if name == "Budget":
        import warnings

        warnings.warn("optimlab.study.Budget is now optimlab.study.StudyBudget (optimlab.engine.Budget is the "
                      "compute a caller allows).", DeprecationWarning, stacklevel=2)
        name = "StudyBudget"
    return _lazy_getattr(name)
