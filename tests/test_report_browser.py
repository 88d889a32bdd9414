"""The study report in headless Chromium: offline, no console errors, every figure decodes, cards open."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimlab.report.study_report import write_report
from test_report_page import OPTIMIZERS, fake_results

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs the system Chromium at /usr/bin/chromium "
                       "(apt-get install chromium)"),
]


def test_report_page_opens_offline_without_errors(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright Python package")
    files = write_report(fake_results(), tmp_path / "report")
    errors: list[str] = []
    blocked: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), args=FLAGS, headless=True
        )
        try:
            page = browser.new_page()
            page.set_viewport_size({"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            def route(r: object) -> None:
                url = r.request.url  # type: ignore[attr-defined]
                if url.startswith("file:") or url.startswith("data:"):
                    r.continue_()  # type: ignore[attr-defined]
                else:
                    blocked.append(url)
                    r.abort()  # type: ignore[attr-defined]

            page.route("**/*", route)
            page.goto(files["html"].as_uri())
            page.wait_for_load_state("load")
            sizes = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
            assert len(sizes) == 6
            assert all(done and width > 200 for done, width in sizes)
            assert page.locator("table.pairs td.win").count() >= 2
            assert page.locator("details.card").count() == len(OPTIMIZERS)
            page.locator("details.card summary").first.click()
            assert page.locator("details.card[open] .optimlab-card").count() == 1
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert blocked == []
