"""The house style of every HTML page optimlab writes: one font stack and one stylesheet base.

A page's ``<style>`` is :func:`page_css` (body, headings, tables, swatches, cards) followed by the few rules
only that page needs (its layout). The colours of the optimizers are :mod:`optimlab.palette`'s.
"""

from __future__ import annotations

__all__ = ["FONT_STACK", "page_css"]

FONT_STACK = ("system-ui, -apple-system, 'Segoe UI', 'Noto Sans CJK KR', 'Noto Sans KR', 'Apple SD Gothic Neo', "
              "'Malgun Gothic', sans-serif")
"""Latin text in the system's UI font; Hangul in a CJK font where the system font has none."""

_BASE = """
body { font-family: %(font)s; margin: 0 auto; max-width: %(width)dpx; padding: 12px 20px 40px; color: #222;
       line-height: 1.4; }
:lang(ko) { word-break: keep-all; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 3px; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 8px 0; font-size: 0.86em; }
th, td { border: 1px solid #d6d6d6; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%%; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; }
.meta, .settings, .note { color: #555; font-size: 0.9em; }
details.card { margin: 4px 0; border: 1px solid #ccc; border-radius: 6px; padding: 4px 10px; }
details.card summary { cursor: pointer; font-weight: 600; }
"""


def page_css(max_width: int = 1180) -> str:
    """The shared stylesheet for a page whose content is at most ``max_width`` px wide."""
    return _BASE % {"font": FONT_STACK, "width": max_width}
