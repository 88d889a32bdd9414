"""The claims report: it leads with one table (claim, verdict, verdict per budget, the figure that shows why) and
writes the claims' prose in the page's language; the lesson's "how to choose" section points to it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from optimlab.report.lesson_page import _choose
from optimlab.report.study_tables import claims_html
from optimlab.study import claims as C


def stored_claim() -> dict[str, object]:
    short = C.Claim("when unsure, use Adam", "not supported", "Short: no.", {
        "numbers": {"q": 0.2}, "thresholds": {"good run": "q >= 0.9"},
        "figure": {"kind": "lines", "title": "quality", "series": {"adam": {"x": [0, 1], "y": [0.2, 0.3]}}},
        "setup": "grid"}, ko={"summary": "짧은 예산에서는 아닙니다.", "setup": "격자"})
    long = C.Claim("when unsure, use Adam", "supported", "Long: yes.", dict(short.evidence),
                   ko={"summary": "긴 예산에서는 맞습니다.", "setup": "격자"})
    merged = C.across_budgets("when unsure, use Adam", "잘 모르겠으면 Adam을 써라",
                              [("150 steps", "150 스텝", short), ("600 steps", "600 스텝", long)])
    merged.evidence["ko"] = merged.ko
    return {"name": merged.name, "verdict": merged.verdict, "summary": merged.summary, "evidence": merged.evidence}


def test_claims_report_leads_with_the_verdict_table_per_budget(tmp_path: Path) -> None:
    files: dict[str, Path] = {}
    html = claims_html(pd.DataFrame([stored_claim()]), tmp_path, files, "en")
    assert html.startswith('<table class="data claims-table">')
    assert "150 steps: <span" in html and "600 steps: <span" in html
    assert 'href="#claim-when-unsure-use-adam-figure">quality (600 steps)</a>' in html
    assert "The verdict changes with the budget" in html
    assert "claim:when unsure, use Adam" in files


def test_claims_prose_is_korean_in_the_korean_report(tmp_path: Path) -> None:
    html = claims_html(pd.DataFrame([stored_claim()]), tmp_path, {}, "ko")
    assert "잘 모르겠으면 Adam을 써라" in html and "판정이 예산에 따라 바뀝니다" in html
    assert "긴 예산에서는 맞습니다" in html
    assert "150 스텝: <span" in html and "예산별 판정" in html
    assert "The verdict changes" not in html


def test_korean_report_uses_the_claims_korean_labels_else_english(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Numbers, thresholds and figure words come from ``evidence["ko"]`` where the study wrote them; a study stored
    before it did (no Korean labels) still renders, in English."""
    import optimlab.report.study_tables as T

    drawn: list[object] = []
    real = T.claim_png
    monkeypatch.setattr(T, "claim_png", lambda *a: drawn.append(a[4]) or real(*a))
    old = stored_claim()
    html = claims_html(pd.DataFrame([old]), tmp_path, {}, "ko")
    assert '<ul lang="en"><li>good run: q &gt;= 0.9</li>' in html and "<td>[600 steps] q</td>" in html
    assert 'figure">quality (600 steps)</a>' in html and drawn[-1] == {}
    new = stored_claim()
    evidence = new["evidence"]
    assert isinstance(evidence, dict)
    evidence["ko"] = {**evidence["ko"], "thresholds": {"좋은 실행": "q ≥ 0.9"}, "numbers": {"[600 스텝] q": 0.2},
                      "figure": {"title": "품질 (600 스텝)", "ylabel": "q", "labels": {"adam": "아담"}}}
    html = claims_html(pd.DataFrame([new]), tmp_path, {}, "ko")
    assert '<ul lang="ko"><li>좋은 실행: q ≥ 0.9</li>' in html and "<td>[600 스텝] q</td>" in html
    assert 'figure">품질 (600 스텝)</a>' in html and "good run" not in html and "quality" not in html
    assert drawn[-1] == evidence["ko"]["figure"] and (tmp_path / "claim-when-unsure-use-adam.png").stat().st_size
    english = claims_html(pd.DataFrame([new]), tmp_path, {}, "en")
    assert "good run: q &gt;= 0.9" in english and "품질" not in english and drawn[-1] == {}


def test_the_lessons_choose_section_uses_korean_prose_and_points_to_the_claims_report() -> None:
    block = _choose(("s1", [stored_claim()]), "/tmp/store.sqlite", "ko")
    assert "잘 모르겠으면 Adam을 써라" in block and "판정이 예산에 따라 바뀝니다" in block
    assert "optimlab report s1 --store /tmp/store.sqlite" in block and "claims 보고서" in block
    linked = _choose(("s1", [stored_claim()]), "/tmp/store.sqlite", "en", "report/index.html#claims")
    assert '<a href="report/index.html#claims">' in linked


def test_the_lesson_links_a_claims_report_written_beside_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pointer names the folder beside the page; once ``optimlab report`` wrote there, the page links it."""
    from optimlab.report import lesson_page

    seen: list[dict[str, object]] = []
    monkeypatch.setattr(lesson_page, "lesson_html", lambda *a, **options: seen.append(options) or "<html></html>")
    monkeypatch.setattr(lesson_page, "stored_claims", lambda store: ("s1", [stored_claim()]))
    page = tmp_path / "compare" / "index.html"
    page.parent.mkdir()
    lesson_page.write_lesson(page, {}, [], store=tmp_path / "s.sqlite")
    assert seen[-1]["claims_report"] is None and seen[-1]["claims_report_dir"] == str(page.parent / "claims")
    (page.parent / "claims").mkdir()
    (page.parent / "claims" / "index.html").write_text("<html></html>")
    lesson_page.write_lesson(page, {}, [], store=tmp_path / "s.sqlite")
    assert seen[-1]["claims_report"] == "claims/index.html"
    block = _choose(("s1", [stored_claim()]), "s.sqlite", "en", None, "optimlab-out/compare/claims")
    assert "--out optimlab-out/compare/claims" in block and "links it once it is there" in block
