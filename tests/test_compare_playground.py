"""The playground's grids equal single runs; the lesson page holds them compactly, in its order, en and ko."""

from __future__ import annotations

import base64
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from optimlab.cli import main
from optimlab.compare import compare
from optimlab.compare._linreg import batch_playground, batch_policies
from optimlab.compare.lesson import SECTIONS, Section, lr_roles, measured
from optimlab.compare.playground import PAGE_LRS, playground, run_grid
from optimlab.population import Trial
from optimlab.problems import SURFACES
from optimlab.report.lesson_data import encode_playground
from optimlab.report.lesson_page import LABELS, lesson_html
from optimlab.report.lesson_text import SECTIONS as TEXTS

HANGUL = re.compile("[\uac00-\ud7a3]")


def _hypers(setting: dict[str, float]) -> dict[str, object]:
    out: dict[str, object] = {}
    if "momentum" in setting:
        out["momentum"] = setting["momentum"]
    if "beta1" in setting:
        out["betas"] = (setting["beta1"], setting["beta2"])
    return out


@pytest.mark.parametrize(("surface", "name", "diverges"),
                         [("ravine", "momentum", True), ("rosenbrock", "adam", False), ("bowl", "adagrad", False)])
def test_every_start_of_a_grid_trial_equals_that_trial_run_alone(surface: str, name: str, diverges: bool) -> None:
    pg = playground(SURFACES[surface], [name], 40, per_side=2)
    grid = pg.series[name]
    picks = [0, grid.tuned, len(grid.settings) // 2, len(grid.settings) - 1]  # the last ones diverge on the ravine
    assert (grid.diverged >= 0).any() == diverges and (grid.diverged < 0).any()
    for c in picks:
        setting = grid.settings[c]
        for s in (0, len(pg.starts) - 1):
            alone = compare([name], surface, lr=setting["lr"], steps=40, starts=[pg.starts[s]],
                            hypers={name: _hypers(setting)})
            # equal to float64 rounding (vectorized kernels may round the last bit differently), NaN where it ended
            np.testing.assert_allclose(alone.paths[0], grid.paths[c, s], rtol=1e-12, atol=1e-12)
            assert (alone.diverged_at[0] or -1) == grid.diverged[c, s]


def test_a_diverging_start_never_changes_the_other_starts_of_its_trial() -> None:
    surf = SURFACES["bowl"]
    trial = Trial("gd", {"lr": 1.2})  # unstable along y (curvature 2): diverges unless y starts at 0
    paths, _, diverged = run_grid(surf, [trial], [(-7.0, 0.0), (-7.0, 2.0)], 400)
    assert diverged[0, 0] == -1 and diverged[0, 1] > 0
    alone, _, _ = run_grid(surf, [trial], [(-7.0, 0.0)], 400)
    np.testing.assert_array_equal(paths[0, 0], alone[0, 0])


def test_tuned_setting_is_what_compare_tunes() -> None:
    pg = playground(SURFACES["bowl"], ["gd", "rmsprop"], 40)
    tuned = compare(["gd", "rmsprop"], "bowl", steps=40)
    for k, name in enumerate(["gd", "rmsprop"]):
        assert pg.series[name].settings[pg.series[name].tuned]["lr"] == tuned.lrs[k]


def test_batch_grid_equals_the_batch_policies_picture() -> None:
    pg = batch_playground(steps=60)
    picture = batch_policies(lr=0.0562, steps=60)
    for k, name in enumerate(["gd", "sgd", "minibatch"]):
        grid = pg.series[name]
        assert grid.settings[grid.tuned]["lr"] == 0.0562
        np.testing.assert_allclose(grid.paths[grid.tuned, 0], picture.paths[k], rtol=0, atol=1e-12)
    assert [pg.series[n].examples_per_step for n in ("gd", "sgd", "minibatch")] == [1000, 1, 32]


def test_lr_roles_are_ordered_and_the_last_diverges() -> None:
    pg = playground(SURFACES["bowl"], ["gd"], 60)
    roles = lr_roles(pg)
    assert list(roles) == ["too-small", "good", "too-large", "diverges"]
    assert roles["too-small"] < roles["good"] < roles["too-large"] < roles["diverges"]
    facts = measured(pg, "gd")
    assert facts["diverges"] == roles["diverges"] and facts["stable"] == roles["too-large"]


def test_encoding_round_trips_within_its_resolution() -> None:
    pg = playground(SURFACES["ravine"], ["momentum"], 30, per_side=2)
    data = encode_playground(pg, PAGE_LRS, LABELS, {"momentum": "#0072B2"})
    se = data["series"]["momentum"]
    q = np.frombuffer(base64.b64decode(se["xy"]), dtype="<u2").reshape(len(se["settings"]), len(pg.starts), 31, 2)
    (x0, x1), _ = pg.surface.domain
    grid = pg.series["momentum"]
    c = next(i for i, st in enumerate(grid.settings) if st["lr"] == se["settings"][0][0]
             and st["momentum"] == se["settings"][0][1])
    ok = q[0, 0, :, 0] != 65535
    x = x0 - (x1 - x0) + q[0, 0, ok, 0] / 65534 * 3 * (x1 - x0)
    inside = np.abs(grid.paths[c, 0, ok, 0]) < 2 * (x1 - x0)
    np.testing.assert_allclose(x[inside], grid.paths[c, 0, ok, 0][inside], atol=3 * (x1 - x0) / 65534)
    assert ok.sum() == np.isfinite(grid.paths[c, 0, :, 0]).sum()


def _small_page(lang: str) -> str:
    grids = {"bowl": playground(SURFACES["bowl"], ["gd", "adagrad"], 40),
             "ravine": playground(SURFACES["ravine"], ["gd", "momentum"], 40)}
    sections = (Section("learning-rate", "bowl", ("gd",), roles=True),
                Section("momentum", "ravine", ("gd", "momentum")), Section("choose"))
    facts = {(s.key, n): measured(grids[s.surface], n) for s in sections for n in s.optimizers}
    return lesson_html(grids, sections, lang=lang, roles=lr_roles(grids["bowl"]), facts=facts,
                       store="nowhere.sqlite", landscape="landscape.html")


def test_page_in_korean_has_hangul_in_every_title_and_links_the_landscape() -> None:
    page = _small_page("ko")
    titles = re.findall(r'<section class="lesson"[^>]*><h2>(.*?)</h2>', page)
    assert len(titles) == 4 and all(HANGUL.search(t) for t in titles)
    assert '<html lang="ko">' in page and 'href="landscape.html"' in page
    assert HANGUL.search(page.split('id="lesson-data">')[1].split("</script>")[0])  # the canvas words too
    english = _small_page("en")
    assert not HANGUL.search(english.split('id="lesson-data"')[0].split("<body>")[1].split("<details")[0])


def test_no_landscape_no_section() -> None:
    grids = {"bowl": playground(SURFACES["bowl"], ["gd"], 10)}
    facts = {("adagrad", "gd"): measured(grids["bowl"], "gd")}
    page = lesson_html(grids, (Section("adagrad", "bowl", ("gd",)),), facts=facts)
    assert "sec-network" not in page


def test_every_section_has_text_in_both_languages() -> None:
    for sec in SECTIONS:
        assert set(TEXTS[sec.key]) == {"en", "ko"}
        for lang in ("en", "ko"):
            title, what = TEXTS[sec.key][lang]
            assert title and len(what) > 80
    assert [s.key for s in SECTIONS] == ["optimizer", "learning-rate", "batch", "momentum", "momentum-basins",
                                         "adagrad", "rmsprop", "adadelta", "adam", "compare", "choose"]


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_cli_writes_the_lesson_page_in_its_order_under_ten_megabytes(
    lang: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "--lang", lang]) == 0
    index = tmp_path / "optimlab-out" / "compare" / "index.html"
    assert index.stat().st_size < 10_000_000
    page = index.read_text(encoding="utf-8")
    positions = [page.index(f'id="sec-{key}"') for key in [*(s.key for s in SECTIONS), "network"]]
    assert positions == sorted(positions)  # the lesson's order, then the real network
    assert "http://" not in page.split("<script>")[1] and "https://" not in page.split("<script>")[1]
    titles = re.findall(r'<section class="lesson"[^>]*><h2>(.*?)</h2>', page)
    assert len(titles) == len(SECTIONS) + 1
    assert all(HANGUL.search(t) for t in titles) == (lang == "ko")


def test_korean_figures_render_every_glyph(tmp_path: Path) -> None:
    from optimlab.compare._gallery import localize
    from optimlab.compare._linreg import batch_policies as policies

    result = localize(compare(["gd", "adam"], "bowl", lr=0.3, steps=20), "scaling", "ko")
    batch = localize(policies(steps=20), "batch-policies", "ko")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        files = result.save(tmp_path, stem="ko", html=False)
        batch.save(tmp_path, stem="ko-batch", html=False)
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message) or "Glyph" in str(w.message)]
    assert missing == []
    assert HANGUL.search(result.title) and HANGUL.search(result.story) and HANGUL.search(result.settings)
    assert files["png"].stat().st_size > 10_000 and files["gif"].stat().st_size > 10_000


def test_cli_single_picture_in_korean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["compare", "--lang", "ko", "--surface", "bowl", "--optimizers", "gd,adam", "--lr", "0.1", "--steps", "20",
            "--out", str(tmp_path), "--no-gif"]
    assert main(argv) == 0
    page = (tmp_path / "compare.html").read_text(encoding="utf-8")
    assert '<html lang="ko">' in page and "이 페이지의 옵티마이저" in page and "계보도" in page
    (figure,) = json.loads(page.split('id="optimlab-data">')[1].split("</script>")[0])
    assert all(HANGUL.search(w) for k, w in figure["words"].items() if k != "gap_short")  # the plots' words
    assert HANGUL.search(figure["settings"])
    assert "학습률" in capsys.readouterr().out
