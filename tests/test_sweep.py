"""The sweep engine: grids, the one selection rule, rungs with a caller's rule, and records streamed in order."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from optimlab.engine import (
    Budget,
    Config,
    Outcome,
    PopulationExecutor,
    Selection,
    TrialRecord,
    best_per,
    lr_grid,
    lrs_around,
    parse_budget,
    parse_lr_grid,
    rank,
    run_sweep,
    run_trials,
    top_fraction,
)
from optimlab.errors import UserError
from optimlab.problems.catalog import get_problem

PROBLEM = get_problem("quadratic", dim=4, n_train=64, n_eval=16)
CONFIGS = [Config("minibatch", {"lr": lr}) for lr in (0.01, 0.1, 1e4)] + [Config("adam", {"lr": 0.05})]

# ------------------------------------------------------------------------------------------------- grids


def test_lr_grid_is_log_spaced_rounded_and_checked() -> None:
    assert lr_grid(1e-4, 1.0, 5) == [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    assert lr_grid(0.3, 0.3, 1) == [0.3]
    assert lr_grid(1e-3, 10**0.5, 8)[1] == 0.003162  # four significant digits by default
    assert lr_grid(1e-4, 10.0, 21, digits=3)[1] == 0.000178
    for bad in ((0.0, 1.0, 3), (1.0, 0.1, 3), (1e-3, math.inf, 3), (1e-3, 1.0, 0)):
        with pytest.raises(UserError, match="Invalid learning-rate"):
            lr_grid(*bad)
    assert parse_lr_grid("1e-3:1e-1:3") == [1e-3, 1e-2, 1e-1]
    assert parse_lr_grid("0.1,0.01, 0.1") == [0.01, 0.1]
    for bad_text in ("a:b:c", "0.1,-1", "", "1:2"):
        with pytest.raises(UserError, match="Invalid learning-rate grid"):
            parse_lr_grid(bad_text)


@settings(max_examples=60, deadline=None)
@given(st.floats(-8, 1), st.floats(0, 6), st.integers(2, 30))
def test_lr_grid_properties(lo_exp: float, width: float, points: int) -> None:
    lo, hi = 10.0**lo_exp, 10.0 ** (lo_exp + width)
    grid = lr_grid(lo, hi, points)
    assert len(grid) == points and grid == sorted(grid)
    assert grid[0] == pytest.approx(lo, rel=1e-3) and grid[-1] == pytest.approx(hi, rel=1e-3)
    if width > 0:  # evenly spaced in log scale, up to the rounding to four digits
        steps = [math.log(b / a) for a, b in itertools.pairwise(grid)]
        assert max(steps) - min(steps) < 2e-3 + 1e-9


def test_lrs_around_spaces_half_decades_largest_first_and_leans_up_when_even() -> None:
    assert lrs_around(0.01, 3) == [0.0316, 0.01, 0.00316]
    four = lrs_around(0.01, 4)
    assert four == sorted(four, reverse=True) and four[0] == pytest.approx(0.01 * 10**1.0, rel=1e-2)
    assert math.log10(four[0] / 0.01) + math.log10(four[-1] / 0.01) == pytest.approx(0.5, abs=1e-2)


def test_budget_is_one_type_parsed_from_steps_runs_and_time() -> None:
    assert parse_budget(20000) == Budget("steps", 20000.0)
    assert parse_budget("x40").trial_steps(100) == 4000
    assert parse_budget("5min") == Budget("seconds", 300.0) and parse_budget("5min").trial_steps(100) is None
    for bad in ("soon", -3, True):
        with pytest.raises(UserError, match="Invalid budget"):
            parse_budget(bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------- selection


def _o(config: Any, lr: float | None, value: float, loss: float = 0.5, finished: bool = True) -> Outcome:
    return Outcome(config, lr, {"m": value, "valid_loss": loss}, finished)


def test_ties_go_to_the_tie_break_then_the_smaller_lr_or_the_order_given() -> None:
    outcomes = [_o("a", 0.1, 0.8, 0.4), _o("b", 1.0, 0.8, 0.3), _o("c", 0.01, 0.8, 0.3)]
    by_loss = Selection("m", "max", tie_break=("valid_loss",), smaller_lr_wins_ties=True)
    assert [r.config for r in rank(outcomes, by_loss)] == ["c", "b", "a"]
    in_order = Selection("m", "max", tie_break=("valid_loss",))
    assert [r.config for r in rank(outcomes, in_order)] == ["b", "c", "a"]
    assert [r.rank for r in rank(outcomes, in_order)] == [1, 2, 3]


def test_a_diverged_or_nan_trial_makes_its_configuration_incomplete() -> None:
    outcomes = [_o("a", 0.1, 0.1), _o("a", 0.1, 0.2, finished=False),  # one diverged seed
                _o("b", 1.0, math.nan), _o("b", 1.0, 0.3),              # one NaN metric
                _o("c", 0.01, 0.5), _o("c", 0.01, 0.7)]
    ranked = rank(outcomes, Selection("m"))
    assert [r.config for r in ranked] == ["c", "a", "b"]  # incomplete last, in the order seen
    assert ranked[0].score == pytest.approx(0.6) and ranked[0].spread == pytest.approx(math.sqrt(0.02))
    assert ranked[0].complete and not ranked[1].complete and math.isnan(ranked[1].score)
    assert [r.config for r in rank(outcomes, Selection("m", incomplete="excluded"))] == ["c"]
    assert rank([_o("x", 0.1, 0.2, loss=math.nan)], Selection("m", tie_break=("valid_loss",),
                                                                tie_break_must_be_finite=True,
                                                                incomplete="excluded")) == []


def test_median_and_best_per_group() -> None:
    outcomes = [_o(("sgd", 0.1), 0.1, v) for v in (1.0, 9.0, 2.0)] + [_o(("sgd", 1.0), 1.0, v) for v in (3.0, 3.0)]
    outcomes += [_o(("adam", 0.1), 0.1, math.nan)]
    rule = Selection("m", average="median", smaller_lr_wins_ties=True)
    best = best_per(outcomes, rule, group=lambda c: c[0])
    assert list(best) == ["sgd", "adam"]
    assert best["sgd"].config == ("sgd", 0.1) and best["sgd"].score == 2.0  # median 2 beats 3 (mean would not)
    assert not best["adam"].complete  # "last": a group always has a best, marked incomplete
    assert "adam" not in best_per(outcomes, Selection("m", incomplete="excluded"), group=lambda c: c[0])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.one_of(st.floats(-10, 10), st.just(math.nan)), st.booleans()),
                min_size=1, max_size=25), st.sampled_from(["min", "max"]))
def test_the_best_beats_every_complete_configuration_and_order_does_not_matter(
    rows: list[tuple[int, float, bool]], goal: str
) -> None:
    outcomes = [Outcome(c, 10.0**-c, {"m": v}, ok) for c, v, ok in rows]
    rule = Selection("m", goal, smaller_lr_wins_ties=True)  # type: ignore[arg-type]
    ranked = rank(outcomes, rule)
    assert sorted(r.config for r in ranked) == sorted({c for c, _, _ in rows})
    complete = [r for r in ranked if r.complete]
    assert ranked[: len(complete)] == complete  # complete ones first
    sign = -1 if goal == "max" else 1
    for r in complete:
        assert sign * ranked[0].score <= sign * r.score
    assert [r.config for r in rank(list(reversed(outcomes)), rule)] == [r.config for r in ranked]


# ------------------------------------------------------------------------------------------------- sweep


def test_records_stream_in_trial_order_one_per_trial_and_match_the_engine() -> None:
    seen: list[TrialRecord] = []
    done: list[list[TrialRecord]] = []
    sweep = run_sweep(PROBLEM, CONFIGS, [0, 1], 20, eval_splits=("valid",), population_size=3,
                      on_record=seen.append, on_done=done.append)
    assert [(r.config, r.seed) for r in seen] == [(c, s) for c in range(4) for s in (0, 1)]
    assert [len(d) for d in done] == [3, 3, 2] and [r for d in done for r in d] == seen == sweep.records
    assert [r.population for r in seen] == [0, 0, 0, 1, 1, 1, 2, 2]
    assert sweep.trial_steps() == 8 * 20
    direct = run_trials(PROBLEM, [c.trial(s) for c in CONFIGS for s in (0, 1)][:3], 20, eval_splits=("valid",))
    for k, rec in enumerate(seen[:3]):
        assert rec.metrics["valid_loss"] == direct.final("valid")[k].item() or math.isnan(rec.metrics["valid_loss"])
        assert torch.equal(rec.train_loss.nan_to_num(), direct.train_loss[k].nan_to_num())
    assert [r.diverged for r in seen] == [False, False, False, False, True, True, False, False]  # lr 1e4 diverged


def test_rungs_follow_the_callers_rule_in_the_order_it_gives() -> None:
    calls: list[tuple[int, list[tuple[int, int]]]] = []

    def promote(rung: int, records: list[TrialRecord]) -> Sequence[int]:
        calls.append((rung, [(r.config, r.seed) for r in records]))
        return [3, 0] if rung == 0 else [0]

    sweep = run_sweep(PROBLEM, CONFIGS, [0, 1], (5, 10, 15), promote=promote, eval_splits=("valid",))
    assert calls[0] == (0, [(c, s) for c in range(4) for s in (0, 1)])  # the rule saw every trial of the rung
    assert calls[1] == (1, [(3, 0), (3, 1), (0, 0), (0, 1)])
    assert sweep.rungs == [[0, 1, 2, 3], [3, 0], [0]]
    assert [r.steps for r in sweep.rung(2)] == [15, 15] and sweep.trial_steps() == 8 * 5 + 4 * 10 + 2 * 15
    # a rung restarts from the initial weights: rung 1's trial equals the same trial run alone for 10 steps
    alone = run_trials(PROBLEM, [CONFIGS[3].trial(0)], 10, eval_splits=("valid",))
    assert sweep.rung(1)[0].metrics["valid_loss"] == pytest.approx(alone.final("valid")[0].item(), rel=1e-6)


def test_successive_halving_with_the_shipped_rule_and_early_stop() -> None:
    rule = Selection("valid_loss")

    def by_loss(records: list[TrialRecord]) -> list[int]:
        return [int(r.config) for r in rank([rec.outcome() for rec in records], rule)]

    sweep = run_sweep(PROBLEM, CONFIGS, [0], (5, 15), promote=top_fraction(1 / 3, by_loss), eval_splits=("valid",))
    assert len(sweep.rungs[1]) == 2 and 2 not in sweep.rungs[1]  # the diverged lr never goes on
    stopped = run_sweep(PROBLEM, CONFIGS, [0], (5, 15), promote=lambda r, recs: [], eval_splits=("valid",))
    assert stopped.rungs == [[0, 1, 2, 3]] and len(stopped.records) == 4


def test_skipped_populations_leave_the_others_numbers_unchanged() -> None:
    whole = run_sweep(PROBLEM, CONFIGS, [0, 1], 10, eval_splits=("valid",), population_size=3)
    part = run_sweep(PROBLEM, CONFIGS, [0, 1], 10, eval_splits=("valid",), population_size=3,
                     skip=lambda trials: trials[0].hypers["lr"] == 0.01)
    assert [r.population for r in part.records] == [1, 1, 1, 2, 2]
    for a, b in zip(whole.records[3:], part.records, strict=True):
        assert a.metrics == b.metrics or (a.diverged and b.diverged)


def test_the_executor_is_passed_through_and_bad_sweeps_are_one_sentence() -> None:
    class Counting(PopulationExecutor):
        calls = 0

        def run(self, *args: Any, **kwargs: Any) -> Any:
            Counting.calls += 1
            return super().run(*args, **kwargs)

    run_sweep(PROBLEM, CONFIGS[:2], [0], (3, 3), promote=lambda r, recs: [1], executor=Counting(),
              eval_splits=("valid",))
    assert Counting.calls == 2
    with pytest.raises(UserError, match="promotion rule"):
        run_sweep(PROBLEM, CONFIGS, [0], (3, 3))
    with pytest.raises(UserError, match="at least one configuration"):
        run_sweep(PROBLEM, [], [0], 3)
    with pytest.raises(UserError, match="at least 1 step"):
        run_sweep(PROBLEM, CONFIGS, [0], 0)
    with pytest.raises(ValueError, match="distinct configuration indices"):
        run_sweep(PROBLEM, CONFIGS, [0], (3, 3), promote=lambda r, recs: [0, 0], eval_splits=("valid",))


def test_a_record_reads_as_a_shorter_budget_from_its_evaluations() -> None:
    sweep = run_sweep(PROBLEM, CONFIGS, [0], 20, eval_every=5, eval_splits=("valid",))
    short = run_sweep(PROBLEM, CONFIGS, [0], 10, eval_splits=("valid",))
    for long_rec, short_rec in zip(sweep.records, short.records, strict=True):
        at10 = long_rec.metrics_at(10)["valid_loss"]
        assert at10 == short_rec.metrics["valid_loss"] or (math.isnan(at10) and short_rec.diverged)
        assert math.isnan(long_rec.metrics_at(4)["valid_loss"])  # before the first evaluation
    assert [o.finished for o in sweep.outcomes(at_step=10)] == [not r.diverged for r in short.records]


def test_records_from_an_executor_that_finishes_out_of_order() -> None:
    from optimlab.engine.sweep import _subset

    class Reversed(PopulationExecutor):
        """Reports every trial on its own, last first (as worker processes might)."""

        def run(self, problem: Any, trials: Any, steps: Any = None, **kwargs: Any) -> Any:
            on_done = kwargs.pop("on_done")
            result = super().run(problem, trials, steps, **kwargs)
            for k in reversed(range(len(trials))):
                on_done([k], _subset(result, [k]))
            return result

    streamed: list[tuple[int, int]] = []
    done: list[list[tuple[int, int]]] = []
    seen_by_rule: list[list[tuple[int, int]]] = []

    def promote(rung: int, records: list[TrialRecord]) -> list[int]:
        seen_by_rule.append([(r.config, r.seed) for r in records])
        return [1]

    sweep = run_sweep(PROBLEM, CONFIGS[:2], [0, 1], (6, 6), promote=promote, executor=Reversed(),
                      eval_splits=("valid",), on_record=lambda r: streamed.append((r.config, r.seed)),
                      on_done=lambda recs: done.append([(r.config, r.seed) for r in recs]))
    assert streamed[:4] == [(1, 1), (1, 0), (0, 1), (0, 0)]
    assert done[0] == seen_by_rule[0] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    plain = run_sweep(PROBLEM, CONFIGS[:2], [0, 1], 6, eval_splits=("valid",))
    by_cell = {(r.config, r.seed): r.metrics for r in sweep.rung(0)}
    assert all(by_cell[r.config, r.seed] == r.metrics for r in plain.records)
