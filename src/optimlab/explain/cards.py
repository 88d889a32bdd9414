"""Explain cards: one Markdown file per optimizer and language, parsed into a `Card`.

The file format is fixed (front matter, then the sections in `SECTIONS`, in that order); see
the card files under ``cards/<lang>/<name>.md``. A file that breaks the format raises a
`ValueError` naming the file and the part that is missing or unexpected.
"""

from __future__ import annotations

import difflib
import html
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = [
    "Card",
    "UnknownNameError",
    "available_cards",
    "available_languages",
    "display_width",
    "load_card",
    "parse_card",
    "wrap_text",
]

FRONT_MATTER_KEYS = ("name", "title", "family", "year", "paper", "url")
FAMILIES = ("gradient-descent", "momentum", "adaptive")
SECTIONS = (
    "Idea",
    "Update",
    "Hyperparameters",
    "Strengths",
    "Weaknesses",
    "When to use",
    "Notes",
)

# Rendered headings and words, per language (the file headings are keys and stay English).
_LABELS: dict[str, dict[str, str]] = {
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

_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")  # preset names: "adamw", "cautious-adamw"
_HEADING_RE = re.compile(r"^##\s+(.+?)\s*$")
_HYPER_RE = re.compile(r"^-\s+`([A-Za-z_][A-Za-z0-9_]*)`\s*:\s*(.*)$")
_COMMENT_RE = re.compile(r"\s+#\s.*$")
_Fail = Callable[[str], ValueError]
_ENV_RE = re.compile(r"\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.DOTALL)


class UnknownNameError(ValueError):
    """Raised by `load_card` for a name that has no card; the message suggests close names."""


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

    # -- rendering ----------------------------------------------------------------------

    def _label(self, key: str) -> str:
        return _LABELS.get(self.lang, _LABELS["en"]).get(key, key)

    def _default_suffix(
        self, key: str, defaults: Mapping[str, object] | None, ranges: Mapping[str, str] | None = None
    ) -> str:
        """`` (default: 0.9; range [0, 1))``: the code's default and valid range of one argument, where known."""
        parts = [f"{self._label('default')}: {format_value(defaults[key])}"] if defaults and key in defaults else []
        if ranges and key in ranges:
            parts.append(f"{self._label('range')} {ranges[key]}")
        return f" ({'; '.join(parts)})" if parts else ""

    def _subtitle(self) -> str:
        return f"{self._label(self.family)} · {self.year}"

    def to_markdown(
        self, defaults: Mapping[str, object] | None = None, ranges: Mapping[str, str] | None = None
    ) -> str:
        """Markdown with the equations in ``$$...$$`` blocks (renders in Jupyter and GitHub)."""
        out = [f"# {self.title}", "", f"*{self._subtitle()}* — {self.paper} <{self.url}>", ""]
        out += [f"## {self._label('Idea')}", "", self.idea, ""]
        out += [f"## {self._label('Update')}", "", latex_display(self.update_latex), ""]
        out += [f"## {self._label('Hyperparameters')}", ""]
        for key, text in self.hyperparameters.items():
            out.append(f"- `{key}`: {text}{self._default_suffix(key, defaults, ranges)}")
        out.append("")
        for section, items in (("Strengths", self.strengths), ("Weaknesses", self.weaknesses)):
            out += [f"## {self._label(section)}", "", *(f"- {item}" for item in items), ""]
        out += [f"## {self._label('When to use')}", "", self.when_to_use, ""]
        out += [f"## {self._label('Notes')}", "", self.notes, ""]
        return "\n".join(out)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def to_html(self, defaults: Mapping[str, object] | None = None, ranges: Mapping[str, str] | None = None) -> str:
        """A self-contained HTML fragment; equations as text in ``<pre>``, LaTeX in ``data-latex``."""

        def esc(text: str) -> str:
            return _inline_code_html(html.escape(text, quote=True))

        def block(text: str) -> str:
            return "\n".join(f"<p>{esc(par)}</p>" for par in text.split("\n\n") if par.strip())

        def items(values: Iterable[str]) -> str:
            return "<ul>" + "".join(f"<li>{esc(v)}</li>" for v in values) + "</ul>"

        def h3(key: str) -> str:
            return f"<h3>{html.escape(self._label(key))}</h3>"

        hyper = "".join(
            f"<li><code>{html.escape(key)}</code>: {esc(text)}"
            f"{html.escape(self._default_suffix(key, defaults, ranges))}</li>"
            for key, text in self.hyperparameters.items()
        )
        parts = [
            f'<section class="optimlab-card" lang="{html.escape(self.lang, quote=True)}" '
            f'data-optimizer="{html.escape(self.name, quote=True)}">',
            f"<h2>{html.escape(self.title)}</h2>",
            f'<p class="optimlab-card-meta">{html.escape(self._subtitle())} — '
            f'{html.escape(self.paper)} <a href="{html.escape(self.url, quote=True)}">'
            f"{html.escape(self.url)}</a></p>",
            h3("Idea"),
            block(self.idea),
            h3("Update"),
            f'<pre class="optimlab-card-update" '
            f'data-latex="{html.escape(self.update_latex, quote=True)}">'
            f"{html.escape(self.update_text)}</pre>",
            h3("Hyperparameters"),
            f"<ul>{hyper}</ul>",
            h3("Strengths"),
            items(self.strengths),
            h3("Weaknesses"),
            items(self.weaknesses),
            h3("When to use"),
            block(self.when_to_use),
            h3("Notes"),
            block(self.notes),
            "</section>",
        ]
        return "\n".join(parts)

    def to_terminal(
        self, defaults: Mapping[str, object] | None = None, width: int = 88, ranges: Mapping[str, str] | None = None
    ) -> str:
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

        out.extend(wrap_text(f"{self.title} ({self._subtitle()})", width))
        out.extend(wrap_text(f"{self._label('paper')}: {self.paper}", width, subsequent="  "))
        out.extend(wrap_text(self.url, width, initial="  ", subsequent="  "))
        heading(self._label("Idea"))
        paragraphs(self.idea)
        heading(self._label("Update"))
        for line in self.update_text.splitlines():
            out.extend(wrap_text(line, width, initial="  ", subsequent="      ", keep_spaces=True))
        heading(self._label("Hyperparameters"))
        bullets(
            f"{key}: {text}{self._default_suffix(key, defaults, ranges)}" for key, text in self.hyperparameters.items()
        )
        heading(self._label("Strengths"))
        bullets(self.strengths)
        heading(self._label("Weaknesses"))
        bullets(self.weaknesses)
        heading(self._label("When to use"))
        paragraphs(self.when_to_use)
        heading(self._label("Notes"))
        paragraphs(self.notes)
        return "\n".join(out) + "\n"


# -- loading ------------------------------------------------------------------------------


def _cards_root() -> Traversable:
    return resources.files("optimlab.explain") / "cards"


def available_languages() -> list[str]:
    """Languages that have a card folder, sorted."""
    return sorted(p.name for p in _cards_root().iterdir() if p.is_dir())


def available_cards() -> list[str]:
    """Names that have a card in at least one language, sorted."""
    names = {
        p.name[: -len(".md")]
        for lang in available_languages()
        for p in (_cards_root() / lang).iterdir()
        if p.is_file() and p.name.endswith(".md")
    }
    return sorted(names)


def suggest_names(name: str, valid: Iterable[str], limit: int = 3) -> list[str]:
    """Valid names closest to `name`, best first (ties: same first letter, then alphabetical)."""
    scored = []
    for candidate in valid:
        ratio = difflib.SequenceMatcher(None, name, candidate).ratio()
        if ratio >= 0.6:
            same_start = bool(name) and candidate.startswith(name[0])
            scored.append((-ratio, not same_start, candidate))
    return [candidate for _, _, candidate in sorted(scored)[:limit]]


def load_card(name: str, lang: str = "en") -> Card:
    """Load the card of optimizer `name` in language `lang` ("en" or "ko")."""
    languages = available_languages()
    if lang not in languages:
        raise ValueError(f"Unknown language {lang!r}. Valid languages: {', '.join(languages)}")
    key = name.strip().lower()
    path = _cards_root() / lang / f"{key}.md"
    if not _NAME_RE.match(key) or not path.is_file():
        known = available_cards()
        close = suggest_names(key, known)
        if close:
            hint = f"Did you mean: {', '.join(close)}?"
        else:
            hint = f"Valid names: {', '.join(known)}."
        if key in known:  # exists in another language only
            hint = f"It has no {lang!r} card yet."
        raise UnknownNameError(f"Unknown optimizer {name!r}. {hint}")
    source = f"cards/{lang}/{key}.md"
    card = parse_card(path.read_text(encoding="utf-8"), source, lang=lang)
    if card.name != key:
        raise ValueError(f"{source}: front matter name {card.name!r} does not match the file name")
    return card


# -- parsing ------------------------------------------------------------------------------


def parse_card(text: str, source: str, lang: str = "en") -> Card:
    """Parse the text of a card file; `source` names the file in error messages."""

    def fail(message: str) -> ValueError:
        return ValueError(f"{source}: {message}")

    lines = text.replace("\r\n", "\n").split("\n")
    meta, body_start = _parse_front_matter(lines, fail)
    sections = _split_sections(lines[body_start:], fail)

    latex, plain = _parse_update(sections["Update"], fail)
    hyper = _parse_hyperparameters(sections["Hyperparameters"], fail)
    try:
        year = int(meta["year"])
    except ValueError:
        raise fail(f"front matter 'year' is not an integer: {meta['year']!r}") from None
    if meta["family"] not in FAMILIES:
        raise fail(f"front matter 'family' must be one of {', '.join(FAMILIES)}")
    if not _NAME_RE.match(meta["name"]):
        raise fail(f"front matter 'name' is not a valid name: {meta['name']!r}")
    if not meta["url"].startswith(("https://", "http://")):
        raise fail("front matter 'url' must start with https:// or http://")
    return Card(
        name=meta["name"],
        title=meta["title"],
        family=meta["family"],
        year=year,
        paper=meta["paper"],
        url=meta["url"],
        lang=lang,
        idea=_prose(sections["Idea"]),
        update_latex=latex,
        update_text=plain,
        hyperparameters=hyper,
        strengths=_bullets(sections["Strengths"], "Strengths", fail),
        weaknesses=_bullets(sections["Weaknesses"], "Weaknesses", fail),
        when_to_use=_prose(sections["When to use"]),
        notes=_prose(sections["Notes"]),
    )


def _parse_front_matter(lines: list[str], fail: _Fail) -> tuple[dict[str, str], int]:
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    if start >= len(lines) or lines[start].strip() != "---":
        raise fail("missing front matter (the file must start with a '---' line)")
    try:
        end = next(i for i in range(start + 1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise fail("front matter is not closed by a '---' line") from None
    meta: dict[str, str] = {}
    for line in lines[start + 1 : end]:
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep:
            raise fail(f"front matter line is not 'key: value': {line!r}")
        if key not in FRONT_MATTER_KEYS:
            raise fail(f"unknown front matter key {key!r} (expected {', '.join(FRONT_MATTER_KEYS)})")
        if key in meta:
            raise fail(f"front matter key {key!r} appears twice")
        value = _COMMENT_RE.sub("", value).strip()
        if not value:
            raise fail(f"front matter key {key!r} is empty")
        meta[key] = value
    missing = [k for k in FRONT_MATTER_KEYS if k not in meta]
    if missing:
        raise fail(f"missing front matter key(s): {', '.join(missing)}")
    return meta, end + 1


def _split_sections(lines: list[str], fail: _Fail) -> dict[str, list[str]]:
    found: list[str] = []
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    in_fence = False
    for line in lines:
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else _HEADING_RE.match(line)
        if match:
            title = match.group(1)
            if title not in SECTIONS:
                raise fail(f"unexpected section '## {title}' (expected {', '.join(SECTIONS)})")
            if title in sections:
                raise fail(f"section '## {title}' appears twice")
            found.append(title)
            current = sections[title] = []
        elif current is not None:
            current.append(line)
        elif line.strip():
            raise fail(f"text before the first section: {line.strip()!r}")
    if in_fence:
        raise fail("a ``` code fence is not closed")
    missing = [s for s in SECTIONS if s not in sections]
    if missing:
        raise fail(f"missing section(s): {', '.join('## ' + s for s in missing)}")
    if tuple(found) != SECTIONS:
        raise fail(f"sections out of order: found {', '.join(found)}; expected {', '.join(SECTIONS)}")
    for title in SECTIONS:
        if title != "Notes" and not any(line.strip() for line in sections[title]):
            raise fail(f"section '## {title}' is empty")
    return sections


def _parse_update(lines: list[str], fail: _Fail) -> tuple[str, str]:
    blocks: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if not line:
            i += 1
            continue
        if not line.startswith("```"):
            raise fail(f"'## Update' holds text outside the code blocks: {line!r}")
        kind = line[3:].strip()
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        body = "\n".join(lines[i + 1 : j]).strip("\n")
        blocks.append((kind, body))
        i = j + 1
    kinds = [kind for kind, _ in blocks]
    if kinds != ["math", "text"]:
        raise fail(f"'## Update' needs a ```math block then a ```text block; found {kinds}")
    for kind, body in blocks:
        if not body.strip():
            raise fail(f"the ```{kind} block in '## Update' is empty")
    if "$$" in blocks[0][1]:
        raise fail("the ```math block must not contain $$ (it is added when rendering)")
    return blocks[0][1], blocks[1][1]


def _list_items(lines: list[str], section: str, fail: _Fail) -> list[str]:
    items: list[str] = []
    for line in lines:
        if not line.strip():
            continue
        if line.startswith("- "):
            items.append(line[2:].strip())
        elif line.startswith((" ", "\t")) and items:
            items[-1] += " " + line.strip()
        else:
            raise fail(f"'## {section}' must be a '- ' list; found {line.strip()!r}")
    return items


def _bullets(lines: list[str], section: str, fail: _Fail) -> list[str]:
    items = _list_items(lines, section, fail)
    if not items:
        raise fail(f"section '## {section}' has no items")
    return items


def _parse_hyperparameters(lines: list[str], fail: _Fail) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in _list_items(lines, "Hyperparameters", fail):
        match = _HYPER_RE.match("- " + item)
        if not match:
            raise fail(f"hyperparameter line is not '- `name`: description': {item!r}")
        key, text = match.groups()
        if key in out:
            raise fail(f"hyperparameter `{key}` is listed twice")
        if not text.strip():
            raise fail(f"hyperparameter `{key}` has no description")
        out[key] = text.strip()
    if not out:
        raise fail("section '## Hyperparameters' has no items")
    return out


def _prose(lines: list[str]) -> str:
    """Paragraphs joined into single lines, separated by a blank line; list items kept apart."""
    blocks: list[list[str]] = [[]]
    for raw in lines:
        line = raw.strip()
        if not line:
            if blocks[-1]:
                blocks.append([])
        elif line.startswith("- ") or not blocks[-1]:
            blocks[-1].append(line)
        else:
            blocks[-1][-1] += " " + line
    return "\n\n".join("\n".join(b) for b in blocks if b)


# -- rendering helpers --------------------------------------------------------------------


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


def char_width(char: str) -> int:
    """Terminal columns of one character: 2 for East-Asian wide/full-width, 0 for combining."""
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Terminal columns taken by `text`."""
    return sum(char_width(c) for c in text)


def wrap_text(
    text: str,
    width: int = 88,
    initial: str = "",
    subsequent: str = "",
    keep_spaces: bool = False,
) -> list[str]:
    """Greedy word wrap by display width; words wider than a line are split by character.

    With `keep_spaces`, a line that fits is returned unchanged (for aligned equations).
    """
    if keep_spaces and display_width(initial + text) <= width:
        return [initial + text]
    lines: list[str] = []
    prefix = initial
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if display_width(prefix + candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(prefix + line)
            prefix, line = subsequent, ""
        while display_width(prefix + word) > width:
            room = width - display_width(prefix)
            head, used = "", 0
            for char in word:
                w = char_width(char)
                if used + w > room and head:
                    break
                head, used = head + char, used + w
            lines.append(prefix + head)
            prefix, word = subsequent, word[len(head) :]
        line = word
    if line or not lines:
        lines.append(prefix + line)
    return [ln.rstrip() for ln in lines]
