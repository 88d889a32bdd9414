"""`Card`: one optimizer's explain card in one language, and the words its renderings use.

A card is parsed from its Markdown file (:mod:`optimlab.explain.markdown`) and rendered as Markdown, HTML or
terminal text (:mod:`optimlab.explain.render`). The defaults a rendering shows come from the code (the
registry's presets), never from the card text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Card", "format_value"]

# Rendered headings and words, per language (the file headings are keys and stay English).
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "Idea": "Idea",
        "Update": "Update rule",
        "Hyperparameters": "Hyperparameters",
        "Strengths": "Strengths",
        "Weaknesses": "Weaknesses",
        "When to use": "When to use",
        "Notes": "Notes",
        "default": "default",
        "range": "range",
        "paper": "Paper",
        "gradient-descent": "gradient descent",
        "momentum": "momentum",
        "adaptive": "adaptive",
    },
    "ko": {
        "Idea": "핵심 아이디어",
        "Update": "업데이트 규칙",
        "Hyperparameters": "하이퍼파라미터",
        "Strengths": "장점",
        "Weaknesses": "단점",
        "When to use": "언제 쓰는가",
        "Notes": "참고",
        "default": "기본값",
        "range": "범위",
        "paper": "논문",
        "gradient-descent": "경사 하강법",
        "momentum": "모멘텀",
        "adaptive": "적응형 학습률",
    },
}


@dataclass(frozen=True)
class Card:
    """One optimizer's explain card in one language."""

    name: str
    title: str
    family: str
    year: int
    paper: str
    url: str
    lang: str
    idea: str
    update_latex: str
    update_text: str
    hyperparameters: dict[str, str] = field(hash=False)
    strengths: list[str] = field(hash=False)
    weaknesses: list[str] = field(hash=False)
    when_to_use: str
    notes: str

    def label(self, key: str) -> str:
        """A heading or word (``"Idea"``, ``"default"``, a family name) in the card's language."""
        return LABELS.get(self.lang, LABELS["en"]).get(key, key)

    def default_suffix(
        self, key: str, defaults: Mapping[str, object] | None, ranges: Mapping[str, str] | None = None
    ) -> str:
        """`` (default: 0.9; range [0, 1))``: the code's default and valid range of hyperparameter ``key``, where
        known, else ``""``."""
        parts = [f"{self.label('default')}: {format_value(defaults[key])}"] if defaults and key in defaults else []
        if ranges and key in ranges:
            parts.append(f"{self.label('range')} {ranges[key]}")
        return f" ({'; '.join(parts)})" if parts else ""

    def subtitle(self) -> str:
        return f"{self.label(self.family)} · {self.year}"

    def to_markdown(
        self, defaults: Mapping[str, object] | None = None, ranges: Mapping[str, str] | None = None
    ) -> str:
        """Markdown with the equations in ``$$...$$`` blocks (renders in Jupyter and GitHub)."""
        from .render import card_markdown

        return card_markdown(self, defaults, ranges)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def to_html(self, defaults: Mapping[str, object] | None = None, ranges: Mapping[str, str] | None = None) -> str:
        """A self-contained HTML fragment; equations as text in ``<pre>``, LaTeX in ``data-latex``."""
        from .render import card_html

        return card_html(self, defaults, ranges)

    def to_terminal(
        self, defaults: Mapping[str, object] | None = None, width: int = 88, ranges: Mapping[str, str] | None = None
    ) -> str:
        """Plain text for a terminal, wrapped at `width` display columns (wide chars count 2)."""
        from .render import card_terminal

        return card_terminal(self, defaults, width, ranges)


def format_value(value: object) -> str:
    """Short, torch-docs-like text for a default value (``1e-08`` -> ``1e-8``)."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return re.sub(r"e([+-])0*(\d)", lambda m: "e" + m.group(1).replace("+", "") + m.group(2), text)
    if isinstance(value, tuple | list):
        inner = ", ".join(format_value(v) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    return str(value)
