"""Fonts for figures: Hangul needs a CJK font (``fonts-noto-cjk`` on Debian; `.ci/run` installs it).

Figures call :func:`figure_font_family` for the ``font.family`` of a figure in ``lang``; Korean figures put a CJK
font first so Hangul renders (no missing-glyph boxes), with Latin text still drawn in the usual sans-serif.
"""

from __future__ import annotations

import contextlib
import os
from functools import cache

CJK_FAMILIES = ("Noto Sans CJK KR", "Noto Sans CJK JP", "Noto Sans CJK SC", "Noto Serif CJK KR", "NanumGothic")
"""Families that carry Hangul, in order of preference."""

_CJK_FILE_MARKS = ("CJK", "Nanum")
"""What the files of :data:`CJK_FAMILIES` have in their names (``NotoSansCJK-Regular.ttc``, ``NanumGothic.ttf``)."""


class MissingFontError(RuntimeError):
    """No font with Hangul is installed, so a Korean figure would show boxes instead of text."""


@cache
def cjk_family() -> str:
    """The first installed family of :data:`CJK_FAMILIES`; :class:`MissingFontError` names the package if none."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    if not installed.intersection(CJK_FAMILIES):
        # matplotlib keeps its font list in a cache (~/.cache/matplotlib) written on its first import: a CJK font
        # installed after that is on disk but not in the list. Add such files to the running font manager.
        for path in cjk_font_files():
            with contextlib.suppress(Exception):  # a file FreeType cannot read is skipped, as matplotlib does
                font_manager.fontManager.addfont(path)
        installed = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in installed:
            return family
    raise MissingFontError(
        "Korean figures need a font with Hangul: install one (Debian: apt-get install fonts-noto-cjk; any of "
        + ", ".join(CJK_FAMILIES) + ")."
    )


def cjk_font_files() -> list[str]:
    """The font files on this machine whose names mark them as one of :data:`CJK_FAMILIES`."""
    from matplotlib import font_manager

    return [p for p in font_manager.findSystemFonts() if any(m in os.path.basename(p) for m in _CJK_FILE_MARKS)]


def figure_font_family(lang: str) -> list[str]:
    """``font.family`` for a figure in ``lang``: a CJK family first for Korean, else matplotlib's sans-serif."""
    if lang == "ko":
        return [cjk_family(), "DejaVu Sans"]
    return ["DejaVu Sans"]
