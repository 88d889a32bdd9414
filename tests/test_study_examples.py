"""Numbers that name their data: a study scored on part of a split says how many examples of how many, in the
plan, the trials table (and so the CSV export), the CLI ranking and the report; ``full_eval`` scores whole splits."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from optimlab.report._study_common import examples_note
from optimlab.report.study_tables import metrics_html, ranking_html
from optimlab.study import bench
from optimlab.study.plan import eval_examples, examples_text, make_plan


def test_quick_plan_records_its_cap_and_the_split_sizes() -> None:
    plan, _ = make_plan(["quadratic"], "adam", 1, "quick", steps=2, lr_grid_values=[1e-2])
    d = plan.to_dict()
    assert d["max_eval_examples"] == 500 and d["split_sizes"]["quadratic"] == {"valid": 1024, "test": 1024}
    assert eval_examples(d, "quadratic", "test") == (500, 1024)
    assert examples_text(d, "quadratic", "test") == "500 of 1024 test examples"
    full, _ = make_plan(["quadratic"], "adam", 1, "quick", steps=2, lr_grid_values=[1e-2], full_eval=True)
    assert full.max_eval_examples is None
    assert examples_text(full.to_dict(), "quadratic", "test") == "all 1024 test examples"


def test_a_store_written_before_split_sizes_still_says_what_it_knows() -> None:
    old = {"max_eval_examples": 500}
    assert eval_examples(old, "p", "test") == (500, None)
    assert examples_text(old, "p", "test") == "the first 500 test examples"
    assert examples_text({"max_eval_examples": None}, "p", "test") == ""
    assert examples_note(old, "p", "valid", "ko") == "검증 예제 앞쪽 500개"


def test_the_metrics_and_ranking_tables_carry_the_example_count() -> None:
    plan = {"max_eval_examples": 500, "split_sizes": {"p": {"valid": 700, "test": 896}}}
    note = examples_note(plan, "p", "test")
    assert note == "500 of 896 test examples"
    assert examples_note(plan, "p", "test", "ko") == "테스트 예제 896개 중 500개"
    spread = {"median": 1.0, "q1": 0.9, "q3": 1.1, "mean": 1.0, "sd": 0.1, "n": 2}
    table = pd.DataFrame([{"optimizer": "adam", "lr": 1e-3, "seeds": 2, "diverged/failed": 0, "test_loss": spread}])
    html = metrics_html(table, "test_loss", "min", "en", note)
    assert "500 of 896 test examples" in html
    rank = pd.DataFrame({"adam": [1.0]}, index=["p"])
    ranked, _ = ranking_html(rank, rank, {"p": "test_loss"}, "en", {"p": note})
    assert "500 of 896 test examples" in ranked


def test_a_subset_scored_study_says_so_in_its_trials_export_and_ranking(tmp_path: Path) -> None:
    from optimlab.cli_bench import format_ranking

    store = tmp_path / "s.sqlite"
    results = bench(["quadratic"], "adam", 1, "quick", store=store, steps=2, lr_grid=[1e-2], stream=None)
    rows = results.trials
    assert set(rows["test_examples"]) == {500} and set(rows["test_split_size"]) == {1024}
    assert set(rows["valid_examples"]) == {500} and set(rows["valid_split_size"]) == {1024}
    assert "test_loss on 500 of 1024 test examples" in format_ranking(results)
    from optimlab.cli import main

    assert main(["export", "--store", str(store), "--study", results.study_id, "--out", str(tmp_path / "t.csv")]) == 0
    csv = pd.read_csv(tmp_path / "t.csv")
    assert set(csv["test_examples"]) == {500} and set(csv["test_split_size"]) == {1024}
    from optimlab.report.study_report import write_report

    page = write_report(results, tmp_path / "report")["html"].read_text(encoding="utf-8")
    assert page.count("500 of 1024 test examples") >= 2  # the problem's line and its table
    assert "--full-eval" in page
    ko = write_report(results, tmp_path / "report-ko", "ko")["html"].read_text(encoding="utf-8")
    assert "테스트 예제 1024개 중 500개" in ko
    whole = bench(["quadratic"], "adam", 1, "quick", store=store, steps=2, lr_grid=[1e-2], stream=None,
                  full_eval=True)
    assert set(whole.trials["test_examples"]) == {1024}
    assert "test_loss on all 1024 test examples" in format_ranking(whole)
