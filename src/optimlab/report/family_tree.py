"""The optimizers' family tree as an inline SVG: one column per generation, every node a link to its card.

The same picture goes into the gallery page (``optimlab compare``) and the study report. It needs no
JavaScript library and no network: plain SVG text and paths. A node's column is its generation (the
longest chain of parents above it, see :func:`optimlab.lineage.generations`); inside a column, nodes sit
next to their main parent. Solid lines run from the main parent, dashed lines from further parents ("also
from"). Each node links to ``#card-<name>``: the page wraps every card's text, inside its closed ``<details>``,
in an element with that id; following a link to an element inside a closed ``<details>`` opens it (browsers'
"auto-expanding details", in Chromium since version 97), so no script is needed.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Collection, Sequence

from ..lineage import FamilyNode, generations
from ..text import is_wide
from .style import FONT_STACK

__all__ = ["card_anchor", "card_id", "family_figure", "tree_svg"]

WIDTH = 164  # node box width (px); six generations fit a 1180 px page
GAP = 38  # horizontal gap between generations
VGAP = 9  # vertical gap between boxes in one generation
MARGIN = 10
HEADER = 26  # room for the generation headers
LABEL_SIZE = 12.5
CHANGE_SIZE = 10.0
LINE = 12.5  # line height of the change text
PAD = 6

_WORDS = {
    "en": {"generation": "generation {g}", "also": "also from {names}", "caption":
           "Each optimizer sits right of its parent and says what it changed; solid lines come from the main "
           "parent, dashed ones from a second. Click a node for its explain card.", "here": "Blue: on this page."},
    "ko": {"generation": "{g}세대", "also": "{names}에서도 이어짐", "caption":
           "각 옵티마이저는 부모의 오른쪽에 있고, 부모에서 무엇을 바꿨는지 적혀 있다. 실선은 주된 부모에서, "
           "점선은 또 다른 부모에서 이어진다. 노드를 누르면 설명 카드가 열린다.",
           "here": "파란색: 이 페이지에 나오는 옵티마이저."},
}


def card_id(name: str) -> str:
    """The ``id`` of the element holding ``name``'s card text (inside its ``<details>``), which nodes link to."""
    return f"card-{name}"


def card_anchor(name: str, body: str) -> str:
    """``body`` (a card's HTML, placed inside its ``<details>``) wrapped in the element the tree links to."""
    # The margin keeps the <details> summary line in view above the card when a link scrolls to it.
    return f'<div id="{card_id(name)}" style="scroll-margin-top:4em">{body}</div>'


def text_width(text: str, size: float) -> float:
    """A generous estimate of ``text``'s rendered width at font ``size`` px (wide CJK characters count 1 em)."""
    total = 0.0
    for ch in text:
        if is_wide(ch):
            total += 0.95
        elif ch == " ":
            total += 0.3
        elif ch.isupper() or ch in "mw—–":
            total += 0.78
        elif ch in "iljft.,:;'()|!·-":
            total += 0.36
        else:
            total += 0.62
    return total * size


def wrap(text: str, width: float, size: float) -> list[str]:
    """Words of ``text`` in lines no wider than ``width`` px (a longer word gets a line of its own)."""
    lines: list[str] = []
    for word in text.split():
        if lines and text_width(f"{lines[-1]} {word}", size) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _height(lines: Sequence[str]) -> float:
    return 2 * PAD + LABEL_SIZE + 4 + LINE * len(lines)


def _layout(nodes: Sequence[FamilyNode], wrapped: dict[str, list[str]]) -> dict[str, tuple[float, float, float]]:
    """Each node's (x, top y, height): columns by generation, each node next to its main parent, no overlaps."""
    gen = generations(nodes)
    order = {n.name: i for i, n in enumerate(nodes)}
    by_name = {n.name: n for n in nodes}
    centre: dict[str, float] = {}
    boxes: dict[str, tuple[float, float, float]] = {}
    for g in range(max(gen.values(), default=-1) + 1):
        column = [n.name for n in nodes if gen[n.name] == g]
        wanted = {n: centre[p] if (p := by_name[n].parent) is not None else 0.0 for n in column}
        column.sort(key=lambda n: (wanted[n], order[n]))
        tops: list[float] = []
        bottom = float("-inf")
        for n in column:
            h = _height(wrapped[n])
            top = max(wanted[n] - h / 2, bottom + VGAP)
            tops.append(top)
            bottom = top + h
        # Shift the column so that its nodes sit, on average, where their parents want them.
        shift = sum(wanted[n] - (t + _height(wrapped[n]) / 2) for n, t in zip(column, tops, strict=True)) / len(column)
        for n, t in zip(column, tops, strict=True):
            h = _height(wrapped[n])
            boxes[n] = (MARGIN + g * (WIDTH + GAP), t + shift, h)
            centre[n] = t + shift + h / 2
    if boxes:
        low = min(y for _, y, _ in boxes.values())
        boxes = {n: (x, y - low + HEADER + MARGIN, h) for n, (x, y, h) in boxes.items()}
    return boxes


def tree_svg(
    nodes: Sequence[FamilyNode],
    lang: str = "en",
    highlight: Collection[str] = (),
    href: Callable[[str], str] = lambda name: "#" + card_id(name),
) -> str:
    """The tree of ``nodes`` (from :func:`optimlab.registry.family_tree`) as an inline ``<svg>`` element.

    Nodes named in ``highlight`` are drawn in blue (the optimizers on the page); every node is an ``<a>``
    to ``href(name)`` with the full change as its tooltip.
    """
    words = _WORDS.get(lang, _WORDS["en"])
    esc = html.escape
    wrapped = {n.name: wrap(n.change, WIDTH - 2 * PAD - 4, CHANGE_SIZE) for n in nodes}
    boxes = _layout(nodes, wrapped)
    gen = generations(nodes)
    width = MARGIN * 2 + (max(gen.values(), default=0) + 1) * (WIDTH + GAP) - GAP
    height = max((y + h for _, y, h in boxes.values()), default=HEADER) + MARGIN
    out = [f'<svg class="optimlab-family" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
           f'width="{width:.0f}" role="img" aria-label="family tree" style="max-width:100%;height:auto" '
           f'font-family="{esc(FONT_STACK, quote=True)}">']
    for g in range(max(gen.values(), default=-1) + 1):
        years = [n.year for n in nodes if gen[n.name] == g and n.year is not None]
        span = f" · {min(years)}–{max(years)}" if years and min(years) != max(years) else (
            f" · {years[0]}" if years else "")
        x = MARGIN + g * (WIDTH + GAP) + WIDTH / 2
        out.append(f'<text x="{x:.1f}" y="{MARGIN + 12}" text-anchor="middle" font-size="11" fill="#777">'
                   f"{esc(words['generation'].format(g=g))}{esc(span)}</text>")
    for node in nodes:  # edges first, so the boxes cover the lines that pass behind them
        cx, cy, ch = boxes[node.name]
        for i, parent in enumerate(node.parents):
            px, py, ph = boxes[parent]
            x0, y0, x1, y1 = px + WIDTH, py + ph / 2, cx, cy + ch / 2
            bend = max(GAP * 0.8, (x1 - x0) / 2)
            style = 'stroke="#8a8a8a" stroke-width="1.4"' if i == 0 else \
                'stroke="#b07aa1" stroke-width="1.2" stroke-dasharray="4 3"'
            out.append(f'<path class="ft-edge" data-from="{esc(parent, quote=True)}" '
                       f'data-to="{esc(node.name, quote=True)}" '
                       f'd="M{x0:.1f},{y0:.1f} C{x0 + bend:.1f},{y0:.1f} {x1 - bend:.1f},{y1:.1f} {x1:.1f},{y1:.1f}" '
                       f'fill="none" {style}/>')
    for node in nodes:
        x, y, h = boxes[node.name]
        here = node.name in highlight
        fill, stroke = ("#e3eefc", "#2b6cb0") if here else ("#fbfbf8", "#9a9a9a")
        tip = f"{node.label}" + (f" ({node.year})" if node.year else "") + f": {node.change}"
        if len(node.parents) > 1:
            tip += ". " + words["also"].format(names=", ".join(node.parents[1:]))
        year = f'<tspan font-size="10.5" fill="#666" font-weight="normal"> {node.year}</tspan>' if node.year else ""
        room = WIDTH - 2 * PAD
        wide = text_width(node.label, LABEL_SIZE * 1.08) + (text_width(f" {node.year}", 10.5) if node.year else 0)
        size = LABEL_SIZE if wide <= room else round(LABEL_SIZE * room / wide, 1)  # a long name: smaller type
        lines = "".join(
            f'<text x="{x + PAD:.1f}" y="{y + PAD + LABEL_SIZE + 4 + LINE * (i + 1) - 2.5:.1f}" '
            f'font-size="{CHANGE_SIZE}" fill="#333">{esc(line)}</text>'
            for i, line in enumerate(wrapped[node.name])
        )
        out.append(
            f'<a class="ft-node" href="{esc(href(node.name), quote=True)}" '
            f'data-optimizer="{esc(node.name, quote=True)}">'
            f"<title>{esc(tip)}</title>"
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{WIDTH}" height="{h:.1f}" rx="5" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="{1.8 if here else 1}"/>'
            f'<text x="{x + PAD:.1f}" y="{y + PAD + LABEL_SIZE - 1:.1f}" font-size="{size}" font-weight="600" '
            f'fill="#1a1a1a">{esc(node.label)}{year}</text>{lines}</a>'
        )
    out.append("</svg>")
    return "".join(out)


def family_figure(nodes: Sequence[FamilyNode], lang: str = "en", highlight: Collection[str] = ()) -> str:
    """A ``<figure>`` with :func:`tree_svg` and a caption saying how to read it."""
    words = _WORDS.get(lang, _WORDS["en"])
    here = f" {words['here']}" if highlight else ""
    return (f'<figure class="optimlab-family-tree" lang="{html.escape(lang, quote=True)}" style="margin:8px 0">'
            f"{tree_svg(nodes, lang, highlight)}"
            f'<figcaption style="color:#555;font-size:.88em">{html.escape(words["caption"] + here)}</figcaption>'
            "</figure>")
