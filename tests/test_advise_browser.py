"""The advisor's evidence page in headless Chromium: opens offline, no console errors, every figure decodes."""

from __future__ import annotations

from pathlib import Path

from browser import needs_chromium, offline_page
from optimlab.advise import advise
from test_advise import blobs

pytestmark = needs_chromium


def test_advice_page_opens_offline_without_errors(tmp_path: Path) -> None:
    result = advise(blobs(steps=40), budget="x40", candidates=["adam", "momentum", "rmsprop"], seeds=3)
    files = result.save(tmp_path / "advice")
    with offline_page(tmp_path / "profile") as browser:
        page = browser.page
        browser.open(files["html"])
        sizes = browser.image_sizes()
        assert len(sizes) == 3
        assert all(done and width > 300 for done, width in sizes)
        summary = page.locator("pre.summary").inner_text()
        assert summary.startswith(f"{result.winner.candidate.name} at lr")
        assert page.locator("table").count() >= 3  # ranking, bracket, compute
        assert browser.errors == []
        assert browser.blocked == []
