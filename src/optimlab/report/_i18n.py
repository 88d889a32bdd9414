"""Languages of the reports: message tables keyed by id, metric names, and Korean-ready figure styling.

Each report module keeps its words in one table ``{lang: {message_id: text}}`` and reads them through
:class:`Messages`; tests check every language has the same ids. Figures draw inside :func:`figure_style`, which
sets matplotlib's font family from :func:`optimlab.report.fonts.figure_font_family` (the one font rule).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ..errors import UserError

LANGS = ("en", "ko")
"""The languages every report speaks; English is the default."""

Table = Mapping[str, Mapping[str, str]]


class UnknownLanguageError(UserError):
    """A report was asked for in a language it is not written in."""


def check_lang(lang: str) -> str:
    """``lang`` itself when the reports speak it, else :class:`UnknownLanguageError` naming the choices."""
    if lang not in LANGS:
        raise UnknownLanguageError(f"Unknown language {lang!r}: the reports are written in {', '.join(LANGS)}.")
    return lang


class Messages:
    """The messages of one table in one language: ``words("id", name=...)`` formats the text of ``id``."""

    def __init__(self, table: Table, lang: str) -> None:
        self.lang = check_lang(lang)
        self._table = table[lang]

    def __call__(self, key: str, **values: Any) -> str:
        return self._table[key].format(**values) if values else self._table[key]


_SPLITS = {"ko": {"train": "학습", "valid": "검증", "test": "테스트"}}
_METRICS = {"ko": {"loss": "손실", "accuracy": "정확도", "perplexity": "퍼플렉서티", "error": "오차"}}


def metric_label(name: str, lang: str) -> str:
    """A metric column's name for a reader: ``test_accuracy`` in English, ``테스트 정확도`` in Korean.

    A metric the table does not know keeps its own name (after the translated split)."""
    if lang == "en":
        return name
    split, _, metric = name.partition("_")
    splits, metrics = _SPLITS.get(lang, {}), _METRICS.get(lang, {})
    if split in splits and metric:
        return f"{splits[split]} {metrics.get(metric, metric)}"
    return metrics.get(name, name)


@contextmanager
def figure_style(lang: str) -> Iterator[None]:
    """Draw (and save) figures inside this block: the font family for ``lang``, so Hangul renders."""
    from ._embed import pyplot
    from .fonts import figure_font_family

    plt = pyplot()
    with plt.rc_context({"font.family": figure_font_family(check_lang(lang))}):
        yield
