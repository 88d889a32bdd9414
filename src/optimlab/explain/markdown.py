"""The card file format: front matter, then the sections in `SECTIONS`, in that order, parsed into a `Card`.

See the card files under ``cards/<lang>/<name>.md``. A file that breaks the format raises a `ValueError`
naming the file and the part that is missing or unexpected (a card file is part of the package, not user input).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .card import Card

__all__ = ["FAMILIES", "FRONT_MATTER_KEYS", "NAME_RE", "SECTIONS", "parse_card"]

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

NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")  # preset names: "adamw", "cautious-adamw"
_HEADING_RE = re.compile(r"^##\s+(.+?)\s*$")
_HYPER_RE = re.compile(r"^-\s+`([A-Za-z_][A-Za-z0-9_]*)`\s*:\s*(.*)$")
_COMMENT_RE = re.compile(r"\s+#\s.*$")
_Fail = Callable[[str], ValueError]


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
    if not NAME_RE.match(meta["name"]):
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
