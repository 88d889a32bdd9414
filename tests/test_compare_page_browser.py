"""The interactive page in headless Chromium: offline, no console errors, plot present, the slider redraws."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def _lesson_page(tmp_path: Path, lang: str) -> Path:
    from optimlab.compare.lesson import Section, lr_roles, measured
    from optimlab.compare.playground import playground
    from optimlab.problems import SURFACES
    from optimlab.report.lesson_page import write_lesson

    grids = {"bowl": playground(SURFACES["bowl"], ["gd"], 40),
             "ravine": playground(SURFACES["ravine"], ["gd", "momentum"], 40)}
    sections = (Section("learning-rate", "bowl", ("gd",), roles=True),
                Section("momentum", "ravine", ("gd", "momentum")))
    facts = {(s.key, n): measured(grids[s.surface], n) for s in sections for n in s.optimizers}
    return write_lesson(tmp_path / f"lesson-{lang}.html", grids, sections, lang=lang, roles=lr_roles(grids["bowl"]),
                        facts=facts)


def _slide(page: object, selector: str, value: int) -> None:
    page.evaluate("""([sel, v]) => { const s = document.querySelector(sel); s.value = v;
                                      s.dispatchEvent(new Event('input')); }""", [selector, value])  # type: ignore[attr-defined]


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_lesson_sliders_and_a_click_redraw_the_paths(tmp_path: Path, lang: str) -> None:
    path = _lesson_page(tmp_path, lang)
    with offline_page(tmp_path / "profile") as browser:
        page = browser.page
        browser.open(path)
        page.wait_for_function("window.lesson !== undefined")
        drawn = "n => window.lesson.drawn[0][n]"
        pixels = "i => document.querySelector('#play-' + i + ' canvas.map').toDataURL()"
        before, shot = page.evaluate(drawn, "gd"), page.evaluate(pixels, 0)
        _slide(page, '#play-0 .ctl[data-series="gd"] input.lr', 0)  # the smallest learning rate: it crawls
        after = page.evaluate(drawn, "gd")
        assert after != before and after[0] == before[0]
        assert page.evaluate(pixels, 0) != shot
        assert page.evaluate("document.querySelector('#play-0 .lrval').textContent") == "1e-4"
        # the strip under the slider marks diverging rates; the largest ones diverge on this bowl
        assert page.locator("#play-0 .strip span.bad").count() >= 2
        assert page.locator("#play-0 .strip span.tuned").count() == 1
        # momentum's knob: a path looked up at another momentum
        loss = "() => document.querySelector('#play-1 canvas.loss').toDataURL()"
        m_before, l_before = page.evaluate(drawn.replace("[0]", "[1]"), "momentum"), page.evaluate(loss)
        _slide(page, '#play-1 .ctl[data-series="momentum"] input.knob', 0)
        assert page.evaluate(drawn.replace("[0]", "[1]"), "momentum") != m_before
        assert page.evaluate(loss) != l_before
        # a click on the map starts every path of that picture from the nearest grid point
        k, start = page.evaluate("() => { const s = L.surfaces['ravine'].starts; return [s.length - 1, s.at(-1)]; }")
        page.locator("#play-1 canvas.map").scroll_into_view_if_needed()
        target = page.evaluate("""() => {
            const sd = L.surfaces['ravine'], cv = document.querySelector('#play-1 canvas.map');
            const k = sd.starts.length - 1, q = mapXY(sd, frame(cv), sd.starts[k][0], sd.starts[k][1]);
            const r = cv.getBoundingClientRect();
            return [r.left + q[0] * r.width / cv.width, r.top + q[1] * r.height / cv.height]; }""")
        page.mouse.click(target[0] + 2, target[1] - 2)
        assert page.evaluate("window.lesson.state[1].start") == k
        for name in ("gd", "momentum"):
            first = page.evaluate(drawn.replace("[0]", "[1]"), name)[0]
            assert abs(first[0] - start[0]) < 1e-3 and abs(first[1] - start[1]) < 1e-3
        titles = page.locator("section.lesson > h2").all_inner_texts()
        assert len(titles) == 2 and all(any("\uac00" <= ch <= "\ud7a3" for ch in t) for t in titles) == (lang == "ko")
        page.screenshot(path=str(tmp_path / f"lesson-{lang}.png"), full_page=True)
        assert browser.errors == []
        assert browser.blocked == []
