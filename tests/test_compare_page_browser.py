"""The interactive page in headless Chromium: offline, no console errors, plot present, the slider redraws."""

from __future__ import annotations

from pathlib import Path

from browser import needs_chromium, offline_page
from optimlab.compare import compare
from optimlab.registry import PRESETS

pytestmark = needs_chromium


def test_page_works_offline_and_slider_changes_the_paths(tmp_path: Path) -> None:
    result = compare(["gd", "momentum", "adam"], "rosenbrock", lr={"gd": 1e-3, "momentum": 1e-3, "adam": 0.05},
                     steps=120)
    page_file = tmp_path / "compare.html"
    page_file.write_text(result.to_html(), encoding="utf-8")
    with offline_page(tmp_path / "profile") as browser:
        page = browser.page
        page.goto(page_file.as_uri())
        page.wait_for_selector("#map-0 .main-svg", timeout=20_000)
        assert page.locator("#map-0 .scatterlayer .trace").count() >= 3
        assert page.locator("#loss-0 .main-svg").count() >= 1
        drawn = "document.getElementById('map-0').data.slice(1, 4).map(t => t.x.length)"
        assert page.evaluate(drawn) == [121, 121, 121]
        page.evaluate("""() => { const s = document.getElementById('slider-0'); s.value = 10;
                                s.dispatchEvent(new Event('input')); }""")
        assert page.evaluate(drawn) == [11, 11, 11]
        assert page.inner_text("#label-0") == "step 10 / 120"
        path_d = page.locator("#map-0 .scatterlayer .trace path.js-line").first.get_attribute("d")
        page.click("#play-0")
        page.wait_for_timeout(600)
        assert page.evaluate(drawn)[0] > 11
        assert page.locator("#map-0 .scatterlayer .trace path.js-line").first.get_attribute("d") != path_d
        page.locator("details.card summary").first.click()
        assert page.locator("details.card[open] .optimlab-card").count() == 1
        # the family tree: this page's optimizers in blue, a click on any node opens its card
        assert page.locator("svg.optimlab-family a.ft-node").count() == len(PRESETS)
        page.locator('a.ft-node[data-optimizer="rmsprop"]').click()
        assert page.locator('details.card[data-optimizer="rmsprop"]').get_attribute("open") is not None
        page.screenshot(path=str(tmp_path / "page.png"), full_page=False)
        assert browser.errors == []
        assert browser.blocked == []
