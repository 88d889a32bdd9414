"""A study's plan: which problems and optimizers, the learning-rate grid, seeds and budget, and the trials it implies.

The protocol follows "Descending through a Crowded Valley" (Schmidt et al., 2021): each optimizer's learning
rate is tuned on a log grid with every other hyperparameter at its default; the best grid point is chosen on
the validation split (diverged runs are never chosen); that setting is then re-run over N fresh seeds and
scored on the test split.

Selection metric: validation accuracy where the problem reports accuracy (ties broken by the lower
validation loss), else the validation loss, as DeepOBS does. The score is the test accuracy, else the test
loss. Tuning seeds (1000, 1001, ...) are disjoint from the final seeds (0, 1, ...), so the test numbers are
not measured on the runs that picked the learning rate.

Everything here is a pure function of the plan: the trials, their order and how they are grouped into
populations never depend on what has already run, which is what makes a resumed study bit-identical to an
uninterrupted one.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..engine.sweep import populations
from ..engine.tuning import Selection, check_lrs, lr_grid, outcomes_from_rows, parse_lr_grid, rank  # noqa: F401 (lr_grid, parse_lr_grid: public here too)
from ..errors import BudgetError, InvalidValueError, UnknownNameError
from ..registry import get_preset, resolve_set

TUNE_SEED_BASE = 1000


@dataclass(frozen=True)
class StudyBudget:
    """A named study size (``--budget quick``): how much work one trial gets and how finely learning rates are
    searched. (The compute a caller allows in trial-steps is :class:`optimlab.engine.Budget`.)"""

    name: str
    steps: int | None
    """Training steps per trial (``None``: each problem's own default)."""
    lr_min: float
    lr_max: float
    lr_points: int
    tune_seeds: int
    eval_every: int
    max_eval_examples: int | None
    """Validation and test metrics are means over the first this many examples of the split (``None``: all of it);
    every table and export says how many of how many (:func:`eval_examples`); ``--full-eval`` lifts it."""
    max_population: int | None
    """At most this many trials train together (``None``: a whole problem × phase at once)."""
    problem_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Smaller variants of problems, so the budget fits its time (recorded in the plan)."""


BUDGETS: dict[str, StudyBudget] = {
    # Measured on the 2-core machine: the default study (2 problems x 8 optimizers x 5 seeds) in a few minutes. It
    # scores on the first 500 examples of each evaluation split: evaluation is a large share of a short run's time
    # (the reports say "500 of N examples"; `--full-eval` scores on whole splits).
    "quick": StudyBudget(
        "quick", steps=200, lr_min=1e-4, lr_max=10.0, lr_points=6, tune_seeds=1, eval_every=25,
        max_eval_examples=500, max_population=24,
        problem_options={"mnist1d-mlp": {"hidden": 64, "n_train": 1500}, "sparse-logreg": {"n_train": 2000}},
    ),
    # The problems as defined, their own step budgets, half-decade grid, two tuning seeds.
    "standard": StudyBudget(
        "standard", steps=None, lr_min=1e-5, lr_max=10.0, lr_points=13, tune_seeds=2, eval_every=50,
        max_eval_examples=None, max_population=None,
    ),
}


@dataclass(frozen=True)
class TrialSpec:
    """One trial of the plan; ``key`` names it uniquely inside its study."""

    phase: str  # "tune" | "final" | "defaults"
    problem: str
    optimizer: str
    lr: float
    seed: int

    @property
    def key(self) -> str:
        return f"{self.phase}/{self.problem}/{self.optimizer}/lr={self.lr!r}/seed={self.seed}"


@dataclass(frozen=True)
class Plan:
    """A whole study, as data (stored as JSON with the study)."""

    problems: list[str]
    optimizers: list[str]
    lr_grid: list[float]
    tune_seeds: list[int]
    seeds: list[int]
    budget: str
    steps: dict[str, int]
    tune: bool
    eval_every: int
    max_eval_examples: int | None
    max_population: int | None
    problem_options: dict[str, dict[str, Any]]
    selection_metric: dict[str, str]
    score_metric: dict[str, str]
    goals: dict[str, dict[str, str]]
    memory_budget: int | None = None
    """Bytes one engine chunk may use, fixed when the study is planned: the engine cuts a population into chunks
    by it, so a resume on a machine with another amount of memory still trains the same chunks."""
    threads: int = 1
    """torch threads while training: fixed, because the thread count can change a matmul's last bits (and one
    thread per process is fastest on a shared two-core machine)."""
    split_sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    """``{problem: {"valid": N, "test": N}}``: the whole splits' sizes (absent in stores written before it)."""
    protocol: str = (
        "lr tuned on the log grid (other hyperparameters at defaults) with the tuning seeds; best by the "
        "selection metric on the validation split, diverged runs never chosen; best lr re-run on the final "
        "seeds and scored on the test split"
    )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    # ---------------------------------------------------------------- trials

    def tune_trials(self, problem: str) -> list[TrialSpec]:
        return [TrialSpec("tune", problem, o, lr, s) for o in self.optimizers for lr in self.lr_grid
                for s in self.tune_seeds]

    def final_trials(self, problem: str, best_lr: Mapping[str, float]) -> list[TrialSpec]:
        """The chosen lr of every optimizer that has one, re-run on the final seeds (optimizers in plan order)."""
        return [TrialSpec("final", problem, o, best_lr[o], s) for o in self.optimizers if o in best_lr
                for s in self.seeds]

    def defaults_trials(self, problem: str) -> list[TrialSpec]:
        return [TrialSpec("defaults", problem, o, float(get_preset(o).defaults()["lr"]), s)
                for o in self.optimizers for s in self.seeds]

    def sized_for(self, units: int) -> Plan:
        """This plan with populations small enough that its largest phase makes about ``units`` of them (what
        an executor running several at once asks for), never larger than the plan's own bound. The size is
        stored with the plan, so a resume, or a local run given the same ``max_population``, trains the same
        populations and gets the same numbers."""
        largest = max(len(self.optimizers) * max(len(self.lr_grid) * len(self.tune_seeds), len(self.seeds)), 1)
        size = max(1, math.ceil(largest / max(1, units)))
        return replace(self, max_population=min(size, self.max_population or size))

    def populations(self, trials: Sequence[TrialSpec]) -> list[list[TrialSpec]]:
        """The trials cut, in plan order, into consecutive populations of at most ``max_population``."""
        return populations(trials, self.max_population)

    def eval_splits(self, phase: str) -> tuple[str, ...]:
        return ("valid",) if phase == "tune" else ("valid", "test")


def make_plan(
    problems: Sequence[str],
    optimizers: str | Sequence[str] = "seed",
    seeds: int = 5,
    budget: str = "quick",
    *,
    tune: bool = True,
    lr_grid_values: Sequence[float] | None = None,
    steps: int | None = None,
    tune_seeds: int | None = None,
    problem_options: Mapping[str, Mapping[str, Any]] | None = None,
    max_population: int | None = None,
    full_eval: bool = False,
) -> tuple[Plan, dict[str, Any]]:
    """Validate the request and build its plan; also returns the built problems (so bad ones fail first).
    ``full_eval`` scores on whole validation and test splits whatever the budget's cap."""
    from ..problems.catalog import get_problem

    if budget not in BUDGETS:
        raise UnknownNameError(f"Unknown budget {budget!r}; use one of: {', '.join(BUDGETS)}.")
    b = BUDGETS[budget]
    names = resolve_set(optimizers if isinstance(optimizers, str) else ",".join(optimizers))
    if not problems:
        raise InvalidValueError("No problem named: give at least one (for example --problems mnist1d-mlp).")
    if len(set(problems)) != len(problems):
        raise InvalidValueError(f"A problem is named twice in {', '.join(problems)}.")
    if seeds < 1:
        raise InvalidValueError(f"Invalid number of seeds {seeds}: a study needs at least 1.")
    n_tune = b.tune_seeds if tune_seeds is None else tune_seeds
    if tune and n_tune < 1:
        raise InvalidValueError(f"Invalid number of tuning seeds {n_tune}: tuning needs at least 1.")
    if steps is not None and steps < 1:
        raise BudgetError(f"Invalid budget: steps={steps}; every trial needs at least 1 step.")
    if max_population is not None and max_population < 1:
        raise InvalidValueError(f"Invalid population size {max_population}: must be at least 1.")
    grid = check_lrs(lr_grid_values) if lr_grid_values is not None else lr_grid(b.lr_min, b.lr_max, b.lr_points)
    options: dict[str, dict[str, Any]] = {}
    built: dict[str, Any] = {}
    for name in problems:
        opts = dict(b.problem_options.get(name, {}))
        opts.update((problem_options or {}).get(name, {}))
        built[name] = get_problem(name, **opts)
        options[name] = opts
    plan_steps = {n: int(steps or b.steps or built[n].default_steps) for n in problems}
    eval_every = min(b.eval_every, *plan_steps.values())
    goals = {n: {f"{split}_{m}": g for split in ("valid", "test") for m, g in built[n].metric_goals.items()}
             for n in problems}
    selection = {n: "valid_accuracy" if "accuracy" in built[n].metric_goals else "valid_loss" for n in problems}
    score = {n: "test_accuracy" if "accuracy" in built[n].metric_goals else "test_loss" for n in problems}
    plan = Plan(
        problems=list(problems), optimizers=names, lr_grid=sorted(grid),
        tune_seeds=[TUNE_SEED_BASE + i for i in range(n_tune)] if tune else [],
        seeds=list(range(seeds)), budget=budget, steps=plan_steps, tune=tune, eval_every=eval_every,
        max_eval_examples=None if full_eval else b.max_eval_examples,
        max_population=max_population or b.max_population,
        problem_options=options, selection_metric=selection, score_metric=score, goals=goals,
        memory_budget=_memory_budget(),
        split_sizes={n: {"valid": len(built[n].data.valid), "test": len(built[n].data.test)} for n in problems},
    )
    return plan, built


def eval_examples(plan: Mapping[str, Any], problem: str, split: str) -> tuple[int | None, int | None]:
    """``(used, total)``: how many examples of ``problem``'s ``split`` its metrics are means over, and the split's
    size (``None`` where a store written before split sizes were recorded does not say)."""
    cap = plan.get("max_eval_examples")
    total = (plan.get("split_sizes") or {}).get(problem, {}).get(split)
    if total is None:
        return (int(cap), None) if cap else (None, None)
    return (min(int(cap), int(total)) if cap else int(total)), int(total)


def examples_text(plan: Mapping[str, Any], problem: str, split: str) -> str:
    """"500 of 896 test examples", "all 896 test examples", "the first 500 test examples" or "" (unknown)."""
    used, total = eval_examples(plan, problem, split)
    if used is None:
        return ""
    if total is None:
        return f"the first {used} {split} examples"
    return f"all {total} {split} examples" if used == total else f"{used} of {total} {split} examples"


def _memory_budget() -> int:
    """A quarter of this machine's memory, at least 256 MiB (the engine's own default, recorded in the plan)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 2**30
    return max(2**28, total // 4)


SELECTION_RULE = Selection("", tie_break=("valid_loss",), tie_break_must_be_finite=True, smaller_lr_wins_ties=True,
                           incomplete="excluded")
"""The study's rule (the metric and goal are each problem's): a learning rate counts only when every one of its
runs finished without diverging with a finite metric and validation loss; ties go to the lower validation
loss, then the smaller learning rate."""


def choose_lr(rows: Iterable[Mapping[str, Any]], metric: str, goal: str) -> tuple[float, float] | None:
    """The best learning rate among one optimizer's tuning runs and its mean ``metric`` (``None`` when no
    learning rate qualifies); ``rows`` have ``lr``, ``status`` and the metrics. The rule: :data:`SELECTION_RULE`."""
    rule = replace(SELECTION_RULE, metric=metric, goal="max" if goal == "max" else "min")
    ranked = rank(outcomes_from_rows(rows, config=("lr",)), rule)
    if not ranked or ranked[0].lr is None:
        return None
    return ranked[0].lr, ranked[0].score
