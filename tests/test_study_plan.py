"""The study plan: budgets, the learning-rate grid, seeds, populations fixed by the plan, and the choice rule."""

from __future__ import annotations

import itertools
import math

import pytest

from optimlab.errors import UserError
from optimlab.registry import SETS
from optimlab.study.plan import BUDGETS, TUNE_SEED_BASE, TrialSpec, choose_lr, lr_grid, make_plan, parse_lr_grid

SMALL = {"sparse-logreg": {"n_features": 20, "n_train": 200, "n_eval": 100}, "quadratic": {"dim": 5, "n_train": 64,
                                                                                           "n_eval": 32}}


def test_lr_grid_is_log_spaced_and_parsed_both_ways() -> None:
    grid = lr_grid(1e-4, 1.0, 5)
    assert grid == [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    ratios = [b / a for a, b in itertools.pairwise(grid)]
    assert all(math.isclose(r, 10.0, rel_tol=1e-3) for r in ratios)
    assert parse_lr_grid("1e-3:1e-1:3") == [1e-3, 1e-2, 1e-1]
    assert parse_lr_grid("0.1, 0.01,0.1") == [0.01, 0.1]
    for bad in ("abc", "1:0.1:3", "0.1,-1", "1e-3:1:0", ""):
        with pytest.raises(UserError):
            parse_lr_grid(bad)


def test_default_plan_uses_the_seed_set_disjoint_tuning_seeds_and_states_its_metrics() -> None:
    plan, built = make_plan(["sparse-logreg", "quadratic"], "seed", 3, "quick",
                            problem_options=SMALL)
    assert plan.optimizers == list(SETS["seed"]) and len(plan.optimizers) == 8
    assert plan.seeds == [0, 1, 2] and plan.tune_seeds == [TUNE_SEED_BASE]
    assert not set(plan.seeds) & set(plan.tune_seeds)
    assert plan.lr_grid == lr_grid(BUDGETS["quick"].lr_min, BUDGETS["quick"].lr_max, BUDGETS["quick"].lr_points)
    assert plan.steps == {"sparse-logreg": BUDGETS["quick"].steps, "quadratic": BUDGETS["quick"].steps}
    # Accuracy where the problem has it, else the loss; goals say which way is better.
    assert plan.selection_metric == {"sparse-logreg": "valid_accuracy", "quadratic": "valid_loss"}
    assert plan.score_metric == {"sparse-logreg": "test_accuracy", "quadratic": "test_loss"}
    assert plan.goals["sparse-logreg"]["valid_accuracy"] == "max" and plan.goals["quadratic"]["test_loss"] == "min"
    assert plan.problem_options["sparse-logreg"]["n_features"] == 20
    tune = plan.tune_trials("quadratic")
    assert len(tune) == 8 * len(plan.lr_grid) and len({t.key for t in tune}) == len(tune)
    assert set(built) == {"sparse-logreg", "quadratic"}
    assert plan.memory_budget is not None and plan.memory_budget >= 2**28 and plan.threads == 1
    assert type(plan).from_dict(plan.to_dict()) == plan
    # the other sets resolve through the registry
    for name in ("descendants", "modern"):
        assert make_plan(["quadratic"], name, 1, problem_options=SMALL)[0].optimizers == list(SETS[name])


def test_no_tune_plan_runs_each_default_lr_on_every_seed() -> None:
    plan, _ = make_plan(["quadratic"], "adam,adadelta", 2, tune=False, problem_options=SMALL)
    trials = plan.defaults_trials("quadratic")
    assert [(t.optimizer, t.lr, t.seed) for t in trials] == [("adam", 1e-3, 0), ("adam", 1e-3, 1),
                                                            ("adadelta", 1.0, 0), ("adadelta", 1.0, 1)]
    assert plan.tune_seeds == []


def test_populations_are_a_function_of_the_plan_only() -> None:
    plan, _ = make_plan(["quadratic"], "adam,sgd,gd", 2, lr_grid_values=[0.1, 0.01, 1.0], max_population=4,
                        problem_options=SMALL)
    specs = plan.tune_trials("quadratic")
    pops = plan.populations(specs)
    assert [len(p) for p in pops] == [4, 4, 1]
    assert [s for p in pops for s in p] == specs  # plan order, no trial lost or repeated
    assert plan.populations(list(specs)) == pops  # same cut every time it is asked
    whole, _ = make_plan(["quadratic"], "adam", 2, problem_options=SMALL, budget="standard")
    assert whole.max_population is None and len(whole.populations(whole.tune_trials("quadratic"))) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"problems": ["nope"]}, "Unknown problem 'nope'"),
        ({"optimizers": "adan"}, "Unknown optimizer 'adan'"),
        ({"budget": "huge"}, "Unknown budget 'huge'"),
        ({"seeds": 0}, "at least 1"),
        ({"steps": 0}, "Invalid budget: steps=0"),
        ({"tune_seeds": 0}, "tuning needs at least 1"),
        ({"lr_grid_values": []}, "Invalid learning-rate grid"),
        ({"lr_grid_values": [0.1, math.nan]}, "Invalid learning-rate grid"),
        ({"problems": []}, "No problem named"),
        ({"problems": ["quadratic", "quadratic"]}, "named twice"),
        ({"problem_options": {"quadratic": {"size": 3}}}, "has no option 'size'"),
    ],
)
def test_bad_requests_fail_with_one_sentence(kwargs: dict, message: str) -> None:
    args = {"problems": ["quadratic"], "optimizers": "adam", "seeds": 2, "problem_options": SMALL, **kwargs}
    with pytest.raises(ValueError, match=message) as info:  # UserError, or the registry's UnknownNameError
        make_plan(args.pop("problems"), args.pop("optimizers"), args.pop("seeds"), **args)
    assert "\n" not in str(info.value)


def _row(lr: float, status: str, acc: float | None, loss: float | None = 0.5) -> dict:
    return {"lr": lr, "status": status, "valid_accuracy": acc, "valid_loss": loss}


def test_choice_never_takes_a_diverged_or_unfinished_setting() -> None:
    rows = [_row(0.1, "diverged", None, None), _row(1.0, "done", 0.99, math.nan), _row(0.01, "done", 0.7),
            _row(0.001, "done", 0.6)]
    assert choose_lr(rows, "valid_accuracy", "max") == (0.01, 0.7)
    # One diverged seed rules out its learning rate even when the other seed looks best.
    seeds = [_row(0.1, "done", 0.9), _row(0.1, "diverged", None, None), _row(0.01, "done", 0.8),
             _row(0.01, "done", 0.7)]
    lr, value = choose_lr(seeds, "valid_accuracy", "max") or (None, None)
    assert lr == 0.01 and value == pytest.approx(0.75)
    assert choose_lr([_row(0.1, "diverged", None, None), _row(0.2, "failed", None, None)], "valid_accuracy",
                     "max") is None


def test_choice_breaks_ties_by_validation_loss_then_smaller_lr_and_minimizes_losses() -> None:
    tie = [_row(0.1, "done", 0.8, 0.4), _row(0.01, "done", 0.8, 0.3), _row(1.0, "done", 0.8, 0.3)]
    assert choose_lr(tie, "valid_accuracy", "max") == (0.01, 0.8)
    losses = [{"lr": lr, "status": "done", "valid_loss": v} for lr, v in ((0.1, 0.2), (0.01, 0.1), (1.0, 0.3))]
    assert choose_lr(losses, "valid_loss", "min") == (0.01, 0.1)


def test_trial_keys_are_unique_and_readable() -> None:
    a = TrialSpec("tune", "quadratic", "adam", 0.001, 1000)
    assert a.key == "tune/quadratic/adam/lr=0.001/seed=1000"
    assert TrialSpec("final", "quadratic", "adam", 0.001, 0).key != a.key
