"""The claims study: measurements (zig-zag, loss noise, step sizes, q), verdict rules, and a whole tiny run."""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

import numpy as np
import pytest
import torch

from optimlab.engine import Config
from optimlab.errors import UserError
from optimlab.population import Trial
from optimlab.problems.catalog import get_problem
from optimlab.report.study_tables import claims_html
from optimlab.study import claims as C
from optimlab.study.results import load_results
from optimlab.training import BatchStream

VERDICTS = {"supported", "not supported", "depends"}


def grid_run(losses: dict[str, dict[float, float]], init: float = 2.0, name: str = "p") -> C.GridRun:
    grid = tuple(sorted({lr for per in losses.values() for lr in per}))
    flat = {(o, lr): v for o, per in losses.items() for lr, v in per.items()}
    return C.GridRun(name, tuple(losses), grid, flat, init, 0.0)


def classic_run(adam_default_loss: float, adadelta_at_one: float = 1.9, name: str = "p") -> C.GridRun:
    """Every classic optimizer on the grid {1e-3, 1e-2, 1}; the best loss anywhere is 1.0 (so q = 2 - loss)."""
    losses = {o: {1e-3: 1.8, 1e-2: 1.5, 1.0: 1.9} for o in C.CLASSIC}
    losses["momentum"][1e-2] = 1.0
    losses["adam"][1e-3] = adam_default_loss
    losses["adadelta"][1.0] = adadelta_at_one
    return grid_run(losses, name=name)


def test_quality_is_the_fraction_of_the_best_improvement() -> None:
    run = grid_run({"a": {0.1: 1.0, 1.0: math.nan}, "b": {0.1: 1.5, 1.0: 2.5}})
    assert run.best_loss == 1.0
    assert run.q("a", 0.1) == 1.0 and run.q("b", 0.1) == pytest.approx(0.5) and run.q("b", 1.0) == -0.5
    assert math.isnan(run.q("a", 1.0))  # diverged
    assert run.tuned("b") == (0.1, 1.5)


def test_adam_verdict_follows_its_threshold() -> None:
    good = 2.0 - C.GOOD_Q - 1e-9  # q just above the threshold
    runs = {f"p{i}": classic_run(good, name=f"p{i}") for i in range(3)}
    assert C.claim_adam_default(runs).verdict == "supported"
    runs["p2"] = classic_run(1.5, name="p2")
    claim = C.claim_adam_default(runs)
    assert claim.verdict == "depends" and "p2" in claim.summary
    runs["p1"] = classic_run(1.5, name="p1")
    assert C.claim_adam_default(runs).verdict == "not supported"
    assert claim.evidence["thresholds"]["good run"] == f"q >= {C.GOOD_Q}"
    # its default fails everywhere, but tuned (lr 1e-2 here) Adam is as good as the best on every problem
    for run in runs.values():
        run.loss[("adam", 1e-3)] = 1.5
        run.loss[("adam", 1e-2)] = 1.0
    tuned = C.claim_adam_default(runs)
    assert tuned.verdict == "depends" and "tune it" in tuned.summary and "3 of 3" in tuned.summary
    assert "튜닝" in tuned.ko["summary"]


def test_adadelta_verdict_depends_on_lr_one_everywhere() -> None:
    runs = {f"p{i}": classic_run(1.5, adadelta_at_one=1.05, name=f"p{i}") for i in range(2)}
    assert C.claim_adadelta_no_lr(runs).verdict == "supported"
    runs["p1"] = classic_run(1.5, adadelta_at_one=1.6, name="p1")
    claim = C.claim_adadelta_no_lr(runs)
    assert claim.verdict == "depends" and "not on p1" in claim.summary
    runs["p0"] = classic_run(1.5, adadelta_at_one=1.6, name="p0")
    assert C.claim_adadelta_no_lr(runs).verdict == "not supported"


def test_sparse_verdict_needs_wins_at_every_level_and_a_growing_gap() -> None:
    def level(sgd: float, ada: float) -> C.GridRun:
        losses = {o: {0.1: sgd} for o in C.SGD_FAMILY} | {o: {0.1: ada} for o in C.ADAPTIVE}
        return grid_run(losses)

    density = {0.0: 0.5, 1.0: 0.05, 2.0: 0.01}
    growing = {0.0: level(1.0, 0.95), 1.0: level(1.0, 0.9), 2.0: level(1.0, 0.8)}
    assert C.claim_sparse_adaptive(growing, density).verdict == "supported"
    shrinking = {0.0: level(1.0, 0.8), 1.0: level(1.0, 0.9), 2.0: level(1.0, 0.95)}
    assert C.claim_sparse_adaptive(shrinking, density).verdict == "depends"
    none = {e: level(1.0, 0.995) for e in density}
    assert C.claim_sparse_adaptive(none, density).verdict == "not supported"


def test_zigzag_counts_travel_across_the_valley() -> None:
    straight = np.array([[[0.0, 1.0], [0.0, 0.5], [0.0, 0.0]]])  # v goes -0.71 -> 0 monotonically
    assert C.zigzag(straight)[0] == pytest.approx(1.0)
    swing = np.array([[[0.0, 1.0], [1.0, 0.0], [0.0, 0.0]]])  # v: -0.71 -> +0.71 -> 0: travel 2 + 1
    assert C.zigzag(swing)[0] == pytest.approx(3.0)


def test_loss_noise_is_zero_for_a_smooth_curve_and_grows_with_noise() -> None:
    steps = np.arange(400)
    smooth = 1.0 + np.exp(-steps / 100)
    rng = np.random.default_rng(0)
    assert C._noise(smooth) < 1e-3
    assert C._noise(smooth + 0.05 * rng.standard_normal(400)) > 10 * C._noise(smooth + 0.005 * rng.standard_normal(400))


def test_update_sizes_records_update_sizes_and_freezes_diverged_trials() -> None:
    problem = get_problem("quadratic", dim=5, n_train=64, n_eval=16)
    configs = [Config("minibatch", {"lr": 0.1}), Config("minibatch", {"lr": 1e4})]
    losses, moves = C.update_sizes(problem, configs, 0, 30)
    assert np.isfinite(moves[0]).all() and (moves[0] > 0).all()
    assert np.isnan(moves[1, -1]) and np.isnan(losses[1, -1])  # the huge lr diverged and was frozen
    # plain SGD's first update is lr times the first batch's gradient, computed here independently
    theta = problem.init_params(0)["theta"].unsqueeze(0).requires_grad_(True)
    batch = BatchStream(len(problem.data.train), problem.default_batch_size, 0).next().unsqueeze(0)
    train = problem.data.train
    loss = problem.losses({"theta": theta}, train.inputs[batch], train.targets[batch])
    (grad,) = torch.autograd.grad(loss.sum(), [theta])
    assert losses[0, 0] == pytest.approx(loss.item(), rel=1e-6)
    assert moves[0, 0] == pytest.approx(0.1 * grad.norm().item(), rel=1e-5)


def test_momentum_claim_verdict_matches_its_own_numbers() -> None:
    claim = C.claim_momentum_zigzag(steps=80)
    n = claim.evidence["numbers"]
    gd, tuned, same = n["GD cross-valley travel"], n["momentum (tuned) travel"], n["momentum (equal step) travel"]
    damps = [tuned < 0.5 * gd, same < 0.5 * gd]
    expected = "supported" if all(damps) else "depends" if any(damps) else "not supported"
    assert claim.verdict == expected
    assert gd >= 1.0  # a path cannot travel less than its way to the valley floor
    assert claim.evidence["figure"]["series"]["gd"]["y"][0] == pytest.approx((-2.5 + 1.5) / math.sqrt(2))


def test_unknown_budget_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="Unknown claims budget 'huge'"):
        C.run_claims(tmp_path / "s.sqlite", "huge")
    assert not (tmp_path / "s.sqlite").exists()


@pytest.mark.slow
def test_tiny_claims_study_stores_every_verdict_per_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tiny = C.ClaimsBudget(
        "tiny", steps=(15, 30), seeds=(0,), grid=(1e-3, 1e-2, 1e-1, 1.0),
        problems={"quadratic": {"dim": 5, "n_train": 128, "n_eval": 64},
                  "sparse-logreg": {"n_features": 20, "n_train": 200, "n_eval": 100},
                  "mnist1d-mlp": {"hidden": 8, "n_train": 200}},
        sparsity_exponents=(0.0, 1.0), adagrad_steps=40, batch_steps=40, batch_problem={"hidden": 8, "n_train": 200},
        cost_widths=(16, 32), ravine_steps=40, basin_steps=64, basin_lrs=(0.01, 0.1), adam_steps=(5, 20),
        data_sizes=(100, 200),
    )
    monkeypatch.setitem(C.BUDGETS, "tiny", tiny)
    threads = torch.get_num_threads()
    messages: list[str] = []
    result = C.run_claims(tmp_path / "s.sqlite", "tiny", progress=messages.append)
    assert torch.get_num_threads() == threads
    assert len(result.claims) == C.N_CLAIMS == 13 and len(messages) == C.N_CLAIMS + 1
    stored = load_results(tmp_path / "s.sqlite", result.study_id)
    assert stored.status == "done" and stored.trials.empty
    assert list(stored.claims["name"]) == [c.name for c in result.claims]
    for _, row in stored.claims.iterrows():
        assert row["verdict"] in VERDICTS
        assert row["summary"]
        evidence = row["evidence"]
        assert evidence["numbers"] and evidence["thresholds"] and evidence["figure"]["series"]
        assert len(evidence["budgets"]) == 2 and all(b["verdict"] in VERDICTS for b in evidence["budgets"])
        assert evidence["ko"]["name"] and evidence["ko"]["summary"] and evidence["ko"]["setup"]
        assert any("\uac00" <= ch <= "\ud7a3" for ch in evidence["ko"]["summary"])  # written in Hangul
        ko = evidence["ko"]
        assert _hangul(ko["figure"]["title"]) and set(ko["figure"]) >= {"xlabel", "ylabel"}
        assert len(ko["thresholds"]) == len(evidence["thresholds"])
        assert len(ko["numbers"]) == len(evidence["numbers"]) and all(_hangul(k) for k in ko["numbers"])
        assert all(_hangul(f"{k} {v}") for k, v in ko["thresholds"].items())
    html = claims_html(stored.claims, tmp_path, {}, "ko")
    for _, row in stored.claims.iterrows():  # the Korean report shows each claim's Korean figure title and rule
        ko = row["evidence"]["ko"]
        assert f'-figure">{escape(ko["figure"]["title"])}</a>' in html
        assert all(f"<li>{escape(k)}: {escape(v)}</li>" in html for k, v in ko["thresholds"].items())
        assert all(f"<tr><td>{escape(k)}</td>" in html for k in ko["numbers"])
    assert 'ul lang="en"' not in html
    assert str(result).count("\n") >= C.N_CLAIMS + 1


def test_step_seconds_times_every_trial_alone() -> None:
    problem = get_problem("quadratic", dim=5, n_train=64, n_eval=16)
    trials = {"gd": Trial("gd", {"lr": 0.1}), "minibatch": Trial("minibatch", {"lr": 0.1})}
    seconds = C.step_seconds(problem, trials, rounds=2, steps=5)
    assert set(seconds) == {"gd", "minibatch"}
    assert all(0 < s < 1.0 for s in seconds.values())


def test_bench_claims_passes_budget_and_seeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``optimlab bench --claims --seeds N`` runs the claims with N seeds per setting (it once dropped --seeds)."""
    from optimlab.cli import main

    seen: dict[str, object] = {}

    def fake_run_claims(store: object, budget: str = "quick", **kwargs: object) -> str:
        seen.update(store=store, budget=budget, **kwargs)
        return "claims table"

    monkeypatch.setattr(C, "run_claims", fake_run_claims)
    store = str(tmp_path / "s.sqlite")
    assert main(["bench", "--claims", "--seeds", "3", "--store", store]) == 0
    assert seen["claim_seeds"] == 3 and seen["budget"] == "quick" and str(seen["store"]) == store
    assert seen["executor"] is None  # --backend auto: the engine chooses per problem
    assert main(["bench", "--claims", "--backend", "per-trial", "--store", store]) == 0
    assert getattr(seen["executor"], "name", None) == "per-trial"  # the CLI's backend reaches every sweep


def _hangul(text: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" for ch in str(text))
