"""The study report: statistics (sign test, profiles, ranks, bands), the page and its PNGs, from study-shaped data."""

from __future__ import annotations

import base64
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimlab import stats
from optimlab.registry import PRESETS
from optimlab.report.study_report import write_report
from optimlab.study.results import StudyResults

OPTIMIZERS = ["minibatch", "momentum", "adam"]
GRID = [1e-3, 1e-2, 1e-1, 1.0]
SEEDS = [0, 1, 2, 3, 4]


def fake_results(tune: bool = True, with_claims: bool = True) -> StudyResults:
    """Two problems; Adam is best on every seed of both; momentum diverges on every final seed of "beta".

    "alpha" is scored by accuracy (higher is better), "beta" by loss (lower is better).
    """
    rng = np.random.default_rng(0)
    rows, curves = [], []
    best_lr = {"minibatch": 1e-1, "momentum": 1e-2, "adam": 1e-3}
    quality = {"minibatch": 0.0, "momentum": 1.0, "adam": 2.0}  # larger = better
    tid = 0

    def add(phase: str, problem: str, o: str, lr: float, seed: int) -> None:
        nonlocal tid
        tid += 1
        off = abs(math.log10(lr) - math.log10(best_lr[o]))
        diverged = (phase == "tune" and o == "minibatch" and lr == 1.0) or (
            phase == "final" and problem == "beta" and o == "momentum")
        loss = 1.0 - 0.2 * quality[o] + 0.3 * off + 0.01 * rng.random()
        acc = 0.5 + 0.1 * quality[o] - 0.05 * off + 0.005 * rng.random()
        row = {"trial_id": tid, "key": f"{phase}/{problem}/{o}/{lr}/{seed}", "phase": phase, "problem": problem,
               "optimizer": o, "lr": lr, "seed": seed, "batch_size": 32, "steps": 100,
               "status": "diverged" if diverged else "done", "diverged_at": 7 if diverged else None,
               "seconds": 0.1, "error": None,
               "valid_loss": math.nan if diverged else loss, "valid_accuracy": math.nan if diverged else acc,
               "test_loss": math.nan if diverged or phase == "tune" else loss + 0.01,
               "test_accuracy": math.nan if diverged or phase == "tune" else acc - 0.01}
        rows.append(row)
        if phase != "tune":
            steps = np.arange(1, 101)
            train = (2.0 - 0.3 * quality[o]) * np.exp(-steps / 30) + loss + 0.02 * rng.standard_normal(100)
            if diverged:
                train[7:] = np.nan
            curves.extend((tid, "train_loss", int(s), float(v)) for s, v in zip(steps, train, strict=True))
            for s in (25, 50, 75, 100):
                curves.append((tid, "valid_loss", s, math.nan if diverged else loss + 1.0 / s))

    for p in ("alpha", "beta"):
        for o in OPTIMIZERS:
            if tune:
                for lr in GRID:
                    add("tune", p, o, lr, 1000)
                for s in SEEDS:
                    add("final", p, o, best_lr[o], s)
            else:
                for s in SEEDS:
                    add("defaults", p, o, 1e-3, s)
    plan = {
        "problems": ["alpha", "beta"], "optimizers": OPTIMIZERS, "lr_grid": GRID if tune else [],
        "tune_seeds": [1000], "seeds": SEEDS, "budget": "quick", "steps": {"alpha": 100, "beta": 100}, "tune": tune,
        "selection_metric": {"alpha": "valid_accuracy", "beta": "valid_loss"},
        "score_metric": {"alpha": "test_accuracy", "beta": "test_loss"},
        "goals": {p: {"valid_loss": "min", "test_loss": "min", "valid_accuracy": "max", "test_accuracy": "max"}
                  for p in ("alpha", "beta")},
    }
    claims = pd.DataFrame(columns=["name", "verdict", "summary", "evidence"])
    if with_claims:
        claims = pd.DataFrame([
            {"name": "momentum damps the zig-zag", "verdict": "depends", "summary": "Only at equal step size.",
             "evidence": {"numbers": {"GD travel": 7.5, "momentum travel": 3.1},
                          "thresholds": {"damps": "momentum travel < 0.5 x GD's"},
                          "figure": {"kind": "lines", "title": "v over time", "xlabel": "step", "ylabel": "v",
                                     "series": {"gd": {"x": [0, 1, 2], "y": [1.0, -0.8, 0.6]},
                                                "momentum": {"x": [0, 1, 2], "y": [1.0, 0.5, 0.2]}}}}},
            {"name": "when unsure, use Adam", "verdict": "supported", "summary": "Good everywhere.",
             "evidence": {"numbers": {"alpha: Adam default q": 0.97}}},
        ])
    return StudyResults(study_id="20260101-000000-abcdef", name="fake study", plan=plan, trials=pd.DataFrame(rows),
                        curves=pd.DataFrame(curves, columns=["trial_id", "kind", "step", "value"]), claims=claims)


# ------------------------------------------------------------------------------------------------ statistics


def test_sign_test_matches_the_binomial_tail() -> None:
    assert stats.sign_test(9, 1) == pytest.approx(2 * (1 + 10) / 1024)
    assert stats.sign_test(1, 9) == stats.sign_test(9, 1)
    assert stats.sign_test(5, 0) == pytest.approx(2 / 32)
    assert stats.sign_test(5, 5) == 1.0
    assert stats.sign_test(0, 0) == 1.0


def test_ratios_are_error_ratios_for_losses_and_accuracies() -> None:
    medians = pd.DataFrame({"a": [0.9, 0.5], "b": [0.8, 1.0], "c": [math.nan, 0.5]}, index=["acc", "loss"])
    goals = {"acc": "max", "loss": "min"}
    metrics = {"acc": "test_accuracy", "loss": "test_loss"}
    r = stats.ratios(medians, goals, metrics)
    assert r.loc["acc", "a"] == pytest.approx(1.0)
    assert r.loc["acc", "b"] == pytest.approx(2.0)  # error 0.2 against the best error 0.1
    assert r.loc["acc", "c"] == math.inf  # no finished run
    assert r.loc["loss", "b"] == pytest.approx(2.0)
    prof = stats.profile(r, np.array([1.0, 1.5, 2.0, 4.0]))
    assert prof["a"].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert prof["b"].tolist() == [0.0, 0.0, 1.0, 1.0]
    assert prof["c"].tolist() == [0.5, 0.5, 0.5, 0.5]


def test_ratio_of_a_negative_best_loss_stays_at_least_one() -> None:
    medians = pd.DataFrame({"a": [-0.2], "b": [0.2]}, index=["q"])
    r = stats.ratios(medians, {"q": "min"}, {"q": "test_loss"})
    assert r.loc["q", "a"] == 1.0 and r.loc["q", "b"] == pytest.approx(3.0)


def test_ranks_share_ties_and_put_missing_results_last() -> None:
    medians = pd.DataFrame({"a": [0.9], "b": [0.9], "c": [math.nan], "d": [0.5]}, index=["p"])
    r = stats.ranks(medians, {"p": "max"})
    assert r.loc["p"].tolist() == [1.0, 1.0, 4.0, 3.0]


def test_a_diverged_seed_counts_as_the_worst_score_in_the_median() -> None:
    rows = pd.DataFrame({"problem": "p", "optimizer": ["a"] * 3 + ["b"] * 3, "seed": [0, 1, 2] * 2,
                         "status": ["done", "done", "diverged", "done", "diverged", "diverged"],
                         "test_accuracy": [0.8, 0.6, math.nan, 0.9, math.nan, math.nan]})
    medians = stats.median_scores(rows, ["p"], ["a", "b"], {"p": "test_accuracy"}, {"p": "max"})
    assert medians.loc["p", "a"] == 0.6  # median of 0.8, 0.6 and the worst
    assert math.isnan(medians.loc["p", "b"])  # two of three seeds failed: no median, ranks last


def test_band_ignores_a_seed_after_it_diverges() -> None:
    steps = np.arange(1, 11, dtype=float)
    one = (steps, np.full(10, 1.0))
    two = (steps, np.where(steps <= 5, 3.0, np.nan))
    grid, med, lo, hi = stats.band([one, two], points=10)
    assert grid.tolist() == steps.tolist()
    assert med[:5].tolist() == [2.0] * 5 and med[5:].tolist() == [1.0] * 5
    assert lo.tolist() == [1.0] * 10 and hi[:5].tolist() == [3.0] * 5


def test_pairwise_counts_paired_seeds_and_diverged_runs_lose() -> None:
    results = fake_results()
    final = results.trials[results.trials["phase"] == "final"]
    metrics = results.plan["score_metric"]
    goals = {p: results.plan["goals"][p][m] for p, m in metrics.items()}
    pairs = stats.pairwise(final, OPTIMIZERS, metrics, goals)
    adam_vs_sgd = pairs[("adam", "minibatch")]
    assert (adam_vs_sgd.wins, adam_vs_sgd.losses, adam_vs_sgd.ties, adam_vs_sgd.n) == (10, 0, 0, 10)
    assert adam_vs_sgd.p == pytest.approx(2 / 1024) and adam_vs_sgd.verdict == "better"
    assert pairs[("minibatch", "adam")].verdict == "worse"
    # momentum beats minibatch on alpha (5 seeds) but diverged on every seed of beta (5 losses)
    mom = pairs[("momentum", "minibatch")]
    assert (mom.wins, mom.losses) == (5, 5) and mom.verdict == "no clear difference"


def test_the_study_ranking_is_the_pages_ranking() -> None:
    """`StudyResults.ranking` (what `optimlab bench` prints) reads the same statistics as the page's table."""
    results = fake_results()
    final = results.final()
    metrics = results.plan["score_metric"]
    goals = {p: results.plan["goals"][p][m] for p, m in metrics.items()}
    medians = stats.median_scores(final, list(metrics), OPTIMIZERS, metrics, goals)
    mean_rank = stats.ranks(medians, goals).mean(axis=0)
    table = results.ranking().set_index("optimizer")
    assert table["mean_rank"].to_dict() == mean_rank.to_dict()
    assert table.index.tolist() == mean_rank.sort_values(kind="stable").index.tolist()
    assert math.isnan(table.loc["momentum", "beta"])  # diverged on every seed of beta: no median, ranked last
    assert table.loc["adam", "alpha"] == medians.loc["alpha", "adam"]


# ------------------------------------------------------------------------------------------------ the page


def _images(page: str) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', page)


def test_report_writes_a_self_contained_page_and_pngs(tmp_path: Path) -> None:
    files = write_report(fake_results(), tmp_path)
    page = files["html"].read_text(encoding="utf-8")
    for key in ("alpha:lr", "alpha:curves", "beta:lr", "beta:curves", "profiles", "claim:momentum damps the zig-zag"):
        assert files[key].exists() and files[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", key
    images = _images(page)
    assert len(images) == 6
    for src in images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:4] == b"\x89PNG"
    assert "<script" not in page and "<link" not in page  # nothing to fetch, nothing to run
    assert re.search(r'src="https?:', page) is None
    # the ranking: Adam first (best on both problems), momentum last (diverged on beta)
    ranking = page.split('id="across"')[1].split("<h3>Performance profiles")[0]
    order = re.findall(r'class="swatch"[^>]*></span>([a-z]+)</td>', ranking)
    assert order == ["adam", "minibatch", "momentum"]
    assert "<b>1</b>" in ranking  # Adam's mean rank
    # the pairwise table states counts, n and p, and its definition
    assert "10–0<br><small>n=10, p=0.002<" in page
    assert "sign test" in page and "Dolan–Moré" in page and "1 − accuracy" in page
    # test metrics with spread, diverged runs counted
    assert "median [IQR]" in page and "mean ± sd" in page and "(n=5)" in page
    beta = page.split('id="problem-beta"')[1].split('id="claims"')[0]
    assert re.search(r"momentum</td><td>0\.01</td><td>5</td><td>5</td>", beta)
    # claims with verdicts and evidence; explain cards of every optimizer
    assert "momentum damps the zig-zag" in page and 'class="verdict even">depends' in page
    assert 'class="verdict win">supported' in page and "GD travel" in page
    for o in OPTIMIZERS:
        assert f'<details class="card" data-optimizer="{o}">' in page
    assert page.split('id="family"')[0].split('id="cards"')[1].count('class="optimlab-card"') == len(OPTIMIZERS)
    # then the family tree, every node a link to a card on the page: the study's and the rest of the family's
    assert page.count('class="optimlab-card"') == len(PRESETS)
    for name in PRESETS:
        assert f'href="#card-{name}"' in page and f'id="card-{name}"' in page


def test_defaults_only_study_has_no_lr_sweep_but_still_ranks(tmp_path: Path) -> None:
    files = write_report(fake_results(tune=False, with_claims=False), tmp_path)
    page = files["html"].read_text(encoding="utf-8")
    assert "alpha:lr" not in files and "alpha:curves" in files
    assert "No learning-rate sweep" in page and "no tuning" in page
    assert "No claims study in this store yet" in page
    assert "<b>1</b>" in page  # Adam still ranks first on the default runs


def test_empty_study_gives_a_page_not_a_traceback(tmp_path: Path) -> None:
    empty = fake_results()
    empty.trials = empty.trials.iloc[0:0]
    empty.curves = empty.curves.iloc[0:0]
    files = write_report(empty, tmp_path)
    assert "No trials yet" in files["html"].read_text(encoding="utf-8")


def test_page_starts_with_a_summary_at_a_glance(tmp_path: Path) -> None:
    page = write_report(fake_results(), tmp_path)["html"].read_text(encoding="utf-8")
    glance = page.split('<ul class="glance">')[1].split("</ul>")[0]
    assert "Best mean rank: <b>adam</b>" in glance and "last: momentum" in glance
    assert "alpha: <b>adam</b>" in glance and "beta: <b>adam</b>" in glance
    assert "2 of 3 pairs differ clearly" in glance  # adam beats both; momentum vs minibatch is 5–5
    assert "1 depends, 1 supported" in glance or "1 supported, 1 depends" in glance


def test_claims_study_page_shows_only_the_claims(tmp_path: Path) -> None:
    results = fake_results()
    results.plan = {"kind": "claims", "problems": [], "optimizers": []}
    results.trials = results.trials.iloc[0:0]
    page = write_report(results, tmp_path)["html"].read_text(encoding="utf-8")
    assert 'id="across"' not in page and 'id="problems"' not in page
    assert "momentum damps the zig-zag" in page and "claims study" in page
