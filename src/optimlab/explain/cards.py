"""Explain cards: one Markdown file per optimizer and language under ``cards/<lang>/<name>.md``, loaded by name.

The file format and its parser are in :mod:`optimlab.explain.markdown`, the `Card` record in
:mod:`optimlab.explain.card`, its three renderings in :mod:`optimlab.explain.render`. The names below that
come from elsewhere (text width, did-you-mean) are re-exported for code written against this module.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

from ..errors import UnknownNameError
from ..suggest import suggest_names, unknown_name
from ..text import display_width, wrap_text
from .card import Card
from .markdown import NAME_RE, SECTIONS, parse_card

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = [
    "SECTIONS",
    "Card",
    "UnknownNameError",
    "available_cards",
    "available_languages",
    "check_language",
    "display_width",
    "load_card",
    "parse_card",
    "suggest_names",
    "wrap_text",
]


def _cards_root() -> Traversable:
    return resources.files("optimlab.explain") / "cards"


def available_languages() -> list[str]:
    """Languages that have a card folder, sorted."""
    return sorted(p.name for p in _cards_root().iterdir() if p.is_dir())


def check_language(lang: str) -> str:
    """``lang`` if cards exist in it; else :class:`UnknownNameError` listing the languages that do."""
    languages = available_languages()
    if lang not in languages:
        raise UnknownNameError(f"Unknown language {lang!r}. Valid languages: {', '.join(languages)}")
    return lang


def available_cards() -> list[str]:
    """Names that have a card in at least one language, sorted."""
    names = {
        p.name[: -len(".md")]
        for lang in available_languages()
        for p in (_cards_root() / lang).iterdir()
        if p.is_file() and p.name.endswith(".md")
    }
    return sorted(names)


def load_card(name: str, lang: str = "en") -> Card:
    """Load the card of optimizer `name` in language `lang` ("en" or "ko")."""
    check_language(lang)
    key = name.strip().lower()
    path = _cards_root() / lang / f"{key}.md"
    if not NAME_RE.match(key) or not path.is_file():
        known = available_cards()
        if key in known:  # exists in another language only
            raise UnknownNameError(f"Unknown optimizer {name!r}. It has no {lang!r} card yet.")
        raise unknown_name("optimizer", name, known, key=key)
    source = f"cards/{lang}/{key}.md"
    card = parse_card(path.read_text(encoding="utf-8"), source, lang=lang)
    if card.name != key:
        raise ValueError(f"{source}: front matter name {card.name!r} does not match the file name")
    return card
