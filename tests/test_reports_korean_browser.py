"""The Korean pages in headless Chromium: offline, no console errors, every figure decodes, Hangul on screen."""

from __future__ import annotations

import os
import re
from pathlib import Path

from browser import needs_chromium, offline_page
from optimlab.advise import advise
from optimlab.landscape import landscape
from optimlab.problems.catalog import get_problem
from optimlab.report.advise_report import write_advice_report
from optimlab.report.study_report import write_report
from test_advise import blobs
from test_report_page import fake_results

pytestmark = needs_chromium

SHOTS = os.environ.get("OPTIMLAB_SCREENSHOTS")
"""A folder to keep the screenshots in (to look at them); else they go to the test's temporary folder."""


def _check(path: Path, profile: Path, images: int, shot: Path) -> str:
    with offline_page(profile) as browser:
        browser.open(path)
        sizes = browser.image_sizes()
        assert len(sizes) == images and all(done and width > 200 for done, width in sizes)
        text = browser.page.locator("body").inner_text()
        browser.page.screenshot(path=str(shot), full_page=True)
        assert browser.errors == []
        assert browser.blocked == []
    return text


def _shot(tmp_path: Path, name: str) -> Path:
    folder = Path(SHOTS) if SHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def test_korean_study_report_opens_offline(tmp_path: Path) -> None:
    files = write_report(fake_results(), tmp_path / "report", lang="ko")
    text = _check(files["html"], tmp_path / "profile", 6, _shot(tmp_path, "study-report-ko.png"))
    assert "전체 비교" in text and "같은 시드끼리 비교한 일대일 승패" in text


def test_korean_advice_report_opens_offline(tmp_path: Path) -> None:
    result = advise(blobs(steps=40), budget="x40", candidates=["adam", "momentum", "rmsprop"], seeds=3)
    files = write_advice_report(result, tmp_path / "advice-ko", lang="ko")
    text = _check(files["html"], tmp_path / "profile", 3, _shot(tmp_path, "advice-report-ko.png"))
    assert re.search(r"blobs 추천: \w+, 학습률", text) and "결정 방법" in text


def test_landscape_pages_open_offline(tmp_path: Path) -> None:
    result = landscape(get_problem("mnist1d-mlp", hidden=8), ["minibatch", "adam"], steps=20,
                       lr_grid=[0.01, 0.1], points=9, examples=128)
    for lang, heading in (("en", "What such a slice can and cannot show"),
                          ("ko", "이런 단면이 보여 주는 것과 보여 주지 못하는 것")):
        files = result.save(tmp_path / lang, lang)
        text = _check(files["html"], tmp_path / f"profile-{lang}", 2, _shot(tmp_path, f"landscape-{lang}.png"))
        assert heading in text
