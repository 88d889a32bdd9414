"""A card rendered three ways: Markdown (notebooks, GitHub), an HTML fragment (pages) and terminal text."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping

from ..text import display_width, wrap_text
from .card import Card

__all__ = ["card_html", "card_markdown", "card_terminal", "latex_display"]

_ENV_RE = re.compile(r"\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.DOTALL)


def card_markdown(card: Card, defaults: Mapping[str, object] | None = None,
                  ranges: Mapping[str, str] | None = None) -> str:
    """Markdown with the equations in ``$$...$$`` blocks (renders in Jupyter and GitHub)."""
    out = [f"# {card.title}", "", f"*{card.subtitle()}* — {card.paper} <{card.url}>", ""]
    out += [f"## {card.label('Idea')}", "", card.idea, ""]
    out += [f"## {card.label('Update')}", "", latex_display(card.update_latex), ""]
    out += [f"## {card.label('Hyperparameters')}", ""]
    for key, text in card.hyperparameters.items():
        out.append(f"- `{key}`: {text}{card.default_suffix(key, defaults, ranges)}")
    out.append("")
    for section, items in (("Strengths", card.strengths), ("Weaknesses", card.weaknesses)):
        out += [f"## {card.label(section)}", "", *(f"- {item}" for item in items), ""]
    out += [f"## {card.label('When to use')}", "", card.when_to_use, ""]
    out += [f"## {card.label('Notes')}", "", card.notes, ""]
    return "\n".join(out)


def card_html(card: Card, defaults: Mapping[str, object] | None = None,
              ranges: Mapping[str, str] | None = None) -> str:
    """A self-contained HTML fragment; equations as text in ``<pre>``, LaTeX in ``data-latex``."""

    def esc(text: str) -> str:
        return _inline_code_html(html.escape(text, quote=True))

    def block(text: str) -> str:
        return "\n".join(f"<p>{esc(par)}</p>" for par in text.split("\n\n") if par.strip())

    def items(values: Iterable[str]) -> str:
        return "<ul>" + "".join(f"<li>{esc(v)}</li>" for v in values) + "</ul>"

    def h3(key: str) -> str:
        return f"<h3>{html.escape(card.label(key))}</h3>"

    hyper = "".join(
        f"<li><code>{html.escape(key)}</code>: {esc(text)}"
        f"{html.escape(card.default_suffix(key, defaults, ranges))}</li>"
        for key, text in card.hyperparameters.items()
    )
    parts = [
        f'<section class="optimlab-card" lang="{html.escape(card.lang, quote=True)}" '
        f'data-optimizer="{html.escape(card.name, quote=True)}">',
        f"<h2>{html.escape(card.title)}</h2>",
        f'<p class="optimlab-card-meta">{html.escape(card.subtitle())} — '
        f'{html.escape(card.paper)} <a href="{html.escape(card.url, quote=True)}">'
        f"{html.escape(card.url)}</a></p>",
        h3("Idea"),
        block(card.idea),
        h3("Update"),
        f'<pre class="optimlab-card-update" '
        f'data-latex="{html.escape(card.update_latex, quote=True)}">'
        f"{html.escape(card.update_text)}</pre>",
        h3("Hyperparameters"),
        f"<ul>{hyper}</ul>",
        h3("Strengths"),
        items(card.strengths),
        h3("Weaknesses"),
        items(card.weaknesses),
        h3("When to use"),
        block(card.when_to_use),
        h3("Notes"),
        block(card.notes),
        "</section>",
    ]
    return "\n".join(parts)


def card_terminal(card: Card, defaults: Mapping[str, object] | None = None, width: int = 88,
                  ranges: Mapping[str, str] | None = None) -> str:
    """Plain text for a terminal, wrapped at `width` display columns (wide chars count 2)."""
    out: list[str] = []

    def heading(text: str) -> None:
        out.extend(["", text, "-" * display_width(text)])

    def paragraphs(text: str) -> None:
        for n, par in enumerate(text.split("\n\n")):
            if n:
                out.append("")
            for line in par.splitlines():
                out.extend(wrap_text(line, width))

    def bullets(values: Iterable[str]) -> None:
        for value in values:
            out.extend(wrap_text(value, width, initial="- ", subsequent="  "))

    out.extend(wrap_text(f"{card.title} ({card.subtitle()})", width))
    out.extend(wrap_text(f"{card.label('paper')}: {card.paper}", width, subsequent="  "))
    out.extend(wrap_text(card.url, width, initial="  ", subsequent="  "))
    heading(card.label("Idea"))
    paragraphs(card.idea)
    heading(card.label("Update"))
    for line in card.update_text.splitlines():
        out.extend(wrap_text(line, width, initial="  ", subsequent="      ", keep_spaces=True))
    heading(card.label("Hyperparameters"))
    bullets(f"{key}: {text}{card.default_suffix(key, defaults, ranges)}" for key, text in card.hyperparameters.items())
    heading(card.label("Strengths"))
    bullets(card.strengths)
    heading(card.label("Weaknesses"))
    bullets(card.weaknesses)
    heading(card.label("When to use"))
    paragraphs(card.when_to_use)
    heading(card.label("Notes"))
    paragraphs(card.notes)
    return "\n".join(out) + "\n"


def latex_display(latex: str) -> str:
    """The ```math lines as display equations: one ``aligned`` block if every line has a
    top-level ``&``, else one ``$$...$$`` per line."""
    lines = [line.strip().removesuffix("\\\\").rstrip() for line in latex.splitlines()]
    lines = [line for line in lines if line]
    if lines and all("&" in _ENV_RE.sub("", line) for line in lines):
        body = " \\\\\n".join(lines)
        return f"$$\n\\begin{{aligned}}\n{body}\n\\end{{aligned}}\n$$"
    return "\n\n".join(f"$${line}$$" for line in lines)


def _inline_code_html(escaped: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
