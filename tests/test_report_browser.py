"""The study report in headless Chromium: offline, no console errors, every figure decodes, cards open."""

from __future__ import annotations

from pathlib import Path

from browser import needs_chromium, offline_page
from optimlab.registry import PRESETS
from optimlab.report.study_report import write_report
from test_report_page import fake_results

pytestmark = needs_chromium


def test_report_page_opens_offline_without_errors(tmp_path: Path) -> None:
    files = write_report(fake_results(), tmp_path / "report")
    with offline_page(tmp_path / "profile") as browser:
        page = browser.page
        browser.open(files["html"])
        sizes = browser.image_sizes()
        assert len(sizes) == 6
        assert all(done and width > 200 for done, width in sizes)
        assert page.locator("table.pairs td.win").count() >= 2
        assert page.locator("details.card").count() == len(PRESETS)  # the study's cards, then the family's
        page.locator("details.card summary").first.click()
        assert page.locator("details.card[open] .optimlab-card").count() == 1
        # a node of the family tree opens its card (a link into a closed <details> expands it)
        page.locator('a.ft-node[data-optimizer="adagrad"]').click()
        assert page.locator('details.card[data-optimizer="adagrad"]').get_attribute("open") is not None
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        assert browser.errors == []
        assert browser.blocked == []
