"""The study and advice reports in Korean: Hangul in titles, headers and captions, every figure drawn with a font
that has the glyphs (no matplotlib missing-glyph warning), and the same words in every language's table."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

import pytest

from optimlab.advise import advise
from optimlab.cli import main
from optimlab.report import advise_text, landscape_text, study_text
from optimlab.report._i18n import LANGS, Messages, UnknownLanguageError, metric_label
from optimlab.report.advise_report import write_advice_report
from optimlab.report.study_report import write_report
from test_advise import blobs
from test_report_page import fake_results

HANGUL = re.compile(r"[\uac00-\ud7a3]")


class _Texts(HTMLParser):
    """The text inside each tag of interest (h1, h2, h3, th, title, summary) and every <img>'s alt."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.texts: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.texts.setdefault("alt", []).append(dict(attrs).get("alt") or "")
        elif tag not in ("br", "meta", "span", "small", "b", "code", "a"):
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            while self.open and self.open.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if self.open and data.strip():
            self.texts.setdefault(self.open[-1], []).append(data.strip())


def texts(page: str) -> dict[str, list[str]]:
    parser = _Texts()
    parser.feed(page)
    return parser.texts


@contextmanager
def no_glyph_warnings() -> Iterator[None]:
    """Fails if matplotlib warns of a glyph missing from the font while the block renders figures."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    missing = [str(w.message) for w in caught if "missing from" in str(w.message) or "Glyph" in str(w.message)]
    assert missing == []


@pytest.mark.parametrize("table", [study_text.TEXT, advise_text.TEXT, landscape_text.TEXT])
def test_every_language_has_every_message(table: dict[str, dict[str, str]]) -> None:
    assert set(table) == set(LANGS)
    for lang in LANGS:
        assert set(table[lang]) == set(table["en"]), lang
        for key, text in table[lang].items():  # the same placeholders, so a message formats in every language
            assert set(re.findall(r"{(\w+)", text)) == set(re.findall(r"{(\w+)", table["en"][key])), (lang, key)


def test_an_unknown_language_is_one_sentence() -> None:
    with pytest.raises(UnknownLanguageError, match="written in en, ko"):
        Messages(study_text.TEXT, "fr")


def test_metric_names_read_as_korean() -> None:
    assert metric_label("test_accuracy", "ko") == "테스트 정확도"
    assert metric_label("valid_loss", "ko") == "검증 손실"
    assert metric_label("valid_loss", "en") == "valid_loss"
    assert metric_label("test_bleu", "ko") == "테스트 bleu"


def test_korean_study_report_has_hangul_everywhere_it_writes(tmp_path: Path) -> None:
    with no_glyph_warnings():
        files = write_report(fake_results(), tmp_path, lang="ko")
    page = files["html"].read_text(encoding="utf-8")
    assert '<html lang="ko">' in page
    found = texts(page)
    for tag in ("title", "h1", "h2", "th", "alt", "summary"):
        assert found.get(tag) and any(HANGUL.search(t) for t in found[tag]), tag
    sections = re.findall(r'<h2 id="[a-z]+">([^<]+)', page)
    assert len(sections) == 4 and all(HANGUL.search(h) for h in sections)  # every section heading of the report
    assert "평균 순위" in found["th"] and "발산/실패" in found["th"]
    assert "평균 순위 1위: <b>adam</b>" in page and "3쌍 중 2쌍" in page  # the verdicts, in Korean
    assert 'class="verdict even">조건부' in page and 'class="verdict win">지지됨' in page
    assert "“momentum damps the zig-zag”" in page  # the claims' own words stay as the claims study wrote them
    assert "## Idea" not in page and "성분마다" in page  # the Korean explain cards
    # the English report is untouched by the Korean one
    english = write_report(fake_results(), tmp_path / "en")["html"].read_text(encoding="utf-8")
    assert not HANGUL.search(english.split('id="cards"')[0])


@pytest.fixture(scope="module")
def advice() -> object:
    return advise(blobs(steps=40), budget="x40", candidates=["adam", "momentum", "rmsprop"], seeds=3)


def test_english_summary_is_the_advisors_own(advice: object) -> None:
    assert advise_text.summary(advice, "en") == advice.summary()  # type: ignore[attr-defined]
    alpha = 0.05
    for test in advice.tests:  # type: ignore[attr-defined]
        words = Messages(advise_text.TEXT, "en")
        assert advise_text.test_text(test, advice.metric, alpha, words) == test.describe(advice.metric)  # type: ignore[attr-defined]


def test_korean_advice_report(advice: object, tmp_path: Path) -> None:
    with no_glyph_warnings():
        files = write_advice_report(advice, tmp_path, lang="ko")
    page = files["html"].read_text(encoding="utf-8")
    found = texts(page)
    for tag in ("title", "h1", "h2", "th", "alt", "pre", "li"):
        assert found.get(tag) and any(HANGUL.search(t) for t in found[tag]), tag
    assert all(HANGUL.search(h) for h in found["h2"])
    summary = files["summary"].read_text(encoding="utf-8")
    winner = advice.winner  # type: ignore[attr-defined]
    assert summary.startswith(f"blobs 추천: {winner.candidate.name}, 학습률 {winner.lr:.3g}")
    assert "계산량: 트라이얼-스텝" in summary
    # the CSVs keep their column names in every language
    assert (tmp_path / "ranking.csv").read_text().splitlines()[0].startswith("rank,candidate,optimizer,lr")


def test_cli_writes_the_korean_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from optimlab.study import bench
    from test_report_cli import TINY

    store = tmp_path / "runs.sqlite"
    bench(["quadratic"], "minibatch,adam", seeds=2, budget="quick", store=store, lr_grid=[0.01, 0.1], steps=10,
          problem_options=TINY, stream=None)
    assert main(["report", "--store", str(store), "--out", str(tmp_path / "r"), "--lang", "ko"]) == 0
    assert "옵티마이저" in (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    with pytest.raises(SystemExit) as stopped:  # argparse refuses a language the reports are not written in
        main(["report", "--store", str(store), "--out", str(tmp_path / "r"), "--lang", "fr"])
    assert stopped.value.code == 2 and "invalid choice: 'fr'" in capsys.readouterr().err


def test_cli_advise_in_korean_also_when_it_stops(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import textwrap

    from test_advise import PROBLEM_SOURCE

    source = tmp_path / "my_problem.py"
    source.write_text(textwrap.dedent(PROBLEM_SOURCE))
    out = tmp_path / "advice"
    assert main(["advise", f"{source}:blobs", "--candidates", "adam,rmsprop", "--seeds", "3", "--option", "steps=40",
                 "--out", str(out), "--quiet", "--lang", "ko"]) == 0
    printed = capsys.readouterr().out
    assert "blobs 추천: " in printed and f"근거 자료: {out / 'index.html'}" in printed
    assert "결정 방법" in (out / "index.html").read_text(encoding="utf-8")
    # the advisor stops on a loss that is NaN: what it measured is still written, in Korean
    assert main(["advise", f"{source}:blobs", "--option", "nan=True", "--candidates", "adam", "--out", str(out),
                 "--quiet", "--lang", "ko"]) == 2
    assert "what was measured is in" in capsys.readouterr().err
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "어드바이저가 도중에 멈췄다" in page and "추천 없음" in page
