"""Text width in a terminal: East-Asian wide characters (Hangul, CJK) take two columns, combining marks none.

The explain cards, ``optimlab list`` and the family tree wrap and align Korean text with these; the SVG family
tree estimates pixel widths from the same :func:`is_wide` test (:func:`optimlab.report.family_tree.text_width`).
"""

from __future__ import annotations

import unicodedata

__all__ = ["char_width", "display_width", "is_wide", "wrap_text"]


def is_wide(char: str) -> bool:
    """Whether ``char`` is East-Asian wide or full-width (drawn two columns / about one em wide)."""
    return unicodedata.east_asian_width(char) in ("W", "F")


def char_width(char: str) -> int:
    """Terminal columns of one character: 2 for East-Asian wide/full-width, 0 for combining."""
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if is_wide(char) else 1


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
