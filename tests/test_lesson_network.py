"""The lesson's real network (a small landscape drawn as a playground), its reuse from the output folder, and the
rule that keeps every tuned rate off its grid's edge."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from browser import needs_chromium, offline_page
from optimlab.compare import TUNE_GRID, compare
from optimlab.compare._api import at_edge, widened
from optimlab.compare.lesson import NETWORK_FILE, SECTIONS, Section, lesson, lr_roles, measured, run_all
from optimlab.compare.playground import playground
from optimlab.landscape import landscape
from optimlab.problems import SURFACES, get_problem
from optimlab.report.lesson_data import encode_network
from optimlab.report.lesson_page import LABELS, lesson_html

HANGUL = re.compile("[\uac00-\ud7a3]")
LRS = (1e-2, 0.1, 1.0)


@pytest.fixture(scope="module")
def small() -> Any:
    problem = get_problem("mnist1d-mlp", hidden=8, num_samples=300, n_valid=40)
    return landscape(problem, ["momentum", "adam"], steps=12, batch_size=16, lr_grid=LRS, points=7, examples=64,
                     kinds=("pca",))


@pytest.fixture(scope="module")
def network(small: Any) -> dict[str, Any]:
    data = encode_network(small, LABELS, {})
    data["network"] |= {"layers": "40-8-8-10", "wall": 1.0}
    return data


def test_every_rate_is_recorded_and_projected(small: Any) -> None:
    pca, grid = small.slices[0], list(small.lr_grid)
    assert [s.kind for s in small.slices] == ["pca"]
    for name in ("momentum", "adam"):
        runs = pca.grid_paths[name]
        assert runs.shape == (len(grid), 13, 2)
        tuned = grid.index(small.chosen[name])
        np.testing.assert_allclose(runs[tuned], pca.paths[name], atol=1e-5)  # the tuned run is the drawn path
        assert small.train_loss[name].shape == (len(grid), 12) and small.step_length[name].shape == (len(grid), 12)
        assert np.isfinite(small.step_length[name][tuned]).all() and (small.step_length[name][tuned] > 0).all()
    assert small.tuning.shape[0] == 2 * len(grid)  # the DataFrame view is still there, built on demand


def _page(network: dict[str, Any], lang: str) -> str:
    grids = {"bowl": playground(SURFACES["bowl"], ["gd"], 20)}
    sections = (Section("learning-rate", "bowl", ("gd",), roles=True),)
    facts = {(s.key, n): measured(grids[s.surface], n) for s in sections for n in s.optimizers}
    return lesson_html(grids, sections, lang=lang, roles=lr_roles(grids["bowl"]), facts=facts, network=network)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_network_section_is_a_playground_in_both_languages(network: dict[str, Any], lang: str) -> None:
    page = _page(network, lang)
    section = page[page.index('id="sec-network"'):page.index("</section>", page.index('id="sec-network"'))]
    assert 'id="play-1"' in section and section.count('class="ctl" data-series=') == 2
    text = re.sub(r"<[^>]+>", " ", section)
    assert bool(HANGUL.search(text)) == (lang == "ko")
    assert "40-8-8-10" in text and "MNIST-1D" in text
    assert '"network"' in page.split('id="lesson-data">')[1]


def test_the_lesson_reuses_the_network_from_its_folder(tmp_path: Path, network: dict[str, Any]) -> None:
    calls: list[int] = []

    def job() -> dict[str, Any]:
        calls.append(1)
        return network

    lesson(tmp_path, workers=1, network=job, network_key={"preset": 1}, verbose=False)
    assert len(calls) == 1 and (tmp_path / NETWORK_FILE).is_file()
    page = lesson(tmp_path, workers=1, network=job, network_key={"preset": 1}, verbose=False).read_text("utf-8")
    assert len(calls) == 1 and "network.json" in page  # the page says where it came from
    lesson(tmp_path, workers=1, network=job, network_key={"preset": 2}, verbose=False)
    assert len(calls) == 2  # another preset: trained again
    (tmp_path / NETWORK_FILE).write_text("{not json", encoding="utf-8")
    lesson(tmp_path, workers=1, network=job, network_key={"preset": 2}, verbose=False)
    assert len(calls) == 3


@needs_chromium[0]
@needs_chromium[1]
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_network_slider_redraws_its_path_offline(tmp_path: Path, network: dict[str, Any], lang: str) -> None:
    path = tmp_path / "lesson.html"
    path.write_text(_page(network, lang), encoding="utf-8")
    with offline_page(tmp_path / "profile") as browser:
        page = browser.page
        browser.open(path)
        page.wait_for_function("window.lesson !== undefined")
        before = page.evaluate("window.lesson.drawn[1].adam")
        shot = page.evaluate("document.querySelector('#play-1 canvas.map').toDataURL()")
        lrs = network["network"]["lrs"]
        tuned = lrs.index(network["network"]["chosen"]["adam"])
        page.evaluate("""([v]) => { const s = document.querySelector('#play-1 .ctl[data-series="adam"] input.lr');
                                    s.value = v; s.dispatchEvent(new Event('input')); }""", [(tuned + 1) % len(lrs)])
        assert page.evaluate("window.lesson.drawn[1].adam") != before
        assert page.evaluate("document.querySelector('#play-1 canvas.map').toDataURL()") != shot
        page.locator("#sec-network").screenshot(path=str(tmp_path / f"network-{lang}.png"))
        assert browser.errors == [] and browser.blocked == []


def test_widened_runs_the_next_decade_beyond_an_edge_only() -> None:
    up = widened(TUNE_GRID, 10.0)
    assert up[:4] == [17.8, 31.6, 56.2, 100.0] and up[-1] == 1e4 and len(up) == 12  # three decades in one run
    down = widened(TUNE_GRID, 1e-4)
    assert down[0] == 1e-7 and down[-4:] == [1e-5, 1.78e-5, 3.16e-5, 5.62e-5]
    assert widened(TUNE_GRID, 0.1) == []
    assert widened([1e4, 1e5], 1e5) == [1.78e5, 3.16e5, 5.62e5, 1e6]  # never past the limit
    assert widened([1e5, 1e6], 1e6) == []  # at the limit: reported as at the edge instead
    assert at_edge([1e5, 1e6], 1e6) and not at_edge(TUNE_GRID, 0.1)


def test_no_tuned_rate_of_the_lesson_sits_at_its_grid_edge() -> None:
    grids, _ = run_all(workers=1)
    facts = {(s.key, n): measured(grids[s.surface], n) for s in SECTIONS for n in s.optimizers}
    assert [k for k, f in facts.items() if f["edge"]] == []
    adadelta = grids["bowl"].series["adadelta"]
    assert max(adadelta.lrs) > TUNE_GRID[-1]  # AdaDelta's grid was widened: its best rate is above 10 here
    assert adadelta.settings[adadelta.tuned]["lr"] > TUNE_GRID[-1]


def test_compare_tune_widens_the_grid_for_adadelta() -> None:
    result = compare(["gd", "adadelta"], "bowl", steps=60)
    lrs = dict(zip((t.optimizer for t in result.trials), result.lrs, strict=True))
    assert lrs["adadelta"] > TUNE_GRID[-1] and "widened for adadelta" in result.settings
    assert "at the edge" not in result.settings


def test_the_side_process_hands_over_the_same_mnist1d() -> None:
    from optimlab._mnist1d import generate_mnist1d
    from optimlab.cli_compare import _side_mnist1d
    from optimlab.problems import datasets

    handover = _side_mnist1d(200)
    assert handover is not None
    handover()
    given = datasets._GIVEN_MNIST1D.pop(200)  # the loader now has them (popped: other tests generate their own)
    for a, b in zip(given, generate_mnist1d(200), strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_landscape_widens_its_grid_until_no_best_rate_sits_at_an_edge() -> None:
    problem = get_problem("mnist1d-mlp", hidden=8, num_samples=300, n_valid=40)
    result = landscape(problem, ["momentum", "adadelta"], steps=10, batch_size=16, lr_grid=(1e-3, 3.16e-3),
                       points=5, examples=32, kinds=("pca",), along=False)
    grid = result.lr_grid
    assert len(grid) > 2 and list(grid) == sorted(grid)  # widened, still one grid for every optimizer
    assert not any(at_edge(grid, lr) for lr in result.chosen.values())
    pca = result.slices[0]
    for name, lr in result.chosen.items():
        assert pca.grid_paths[name].shape[0] == len(grid) == len(result.valid_loss[name])
        np.testing.assert_allclose(pca.grid_paths[name][grid.index(lr)], pca.paths[name], atol=1e-5)
        assert result.valid_loss[name][grid.index(lr)] == np.nanmin(result.valid_loss[name])
