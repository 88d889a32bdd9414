"""A self-contained interactive page of optimizer paths: contour, loss curves and a 3-D view per figure.

plotly.js is embedded once per page (no CDN, works offline). Each path is stored once as plain lists; a step
slider and a play button call a few lines of the page's own JavaScript that show each path up to the chosen
step (``Plotly.restyle``), instead of plotly animation frames, which would copy the data once per frame.
Each optimizer's explain card sits in a ``<details>`` block, a click away; the family tree (every preset,
this page's optimizers in blue) links each node to its card, and the cards of the rest of the family follow.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..explain.cards import load_card
from .family_tree import card_anchor, family_figure
from .lesson_text import word
from .style import page_css
from .surface_plots import contour_levels

if TYPE_CHECKING:
    from ..compare._run import CompareResult


def _num(v: float) -> float | None:
    return float(f"{v:.5g}") if math.isfinite(v) else None


def _nums(values: Any) -> list[float | None]:
    return [_num(float(v)) for v in np.asarray(values, dtype=float).ravel()]


def figure_data(result: CompareResult, grid: int = 90) -> dict[str, Any]:
    """The JSON a page needs for one result: grid values, minima, starts and each path once."""
    gx, gy, zz, norm = contour_levels(result.surface, grid)
    logz = norm is not None
    zshow = np.log10(zz) if logz else zz
    f_star = result.surface.min_value
    zmin = _zmin(result, grid) if logz else 0.0
    trials = []
    for k in range(len(result.trials)):
        path, loss = result.paths[k], result.losses[k]
        ok = np.nonzero(np.isfinite(path).all(axis=1) & np.isfinite(loss))[0]
        end = int(ok[-1]) if ok.size else 0
        zpath = np.log10(np.maximum(loss - zmin, norm.vmin)) if norm is not None else loss
        trials.append(
            {
                "label": result.labels[k],
                "group": result.trials[k].optimizer,
                "color": result.colors[k],
                "x": _nums(path[: end + 1, 0]),
                "y": _nums(path[: end + 1, 1]),
                "loss": _nums(loss[: end + 1]),
                "gap": _nums(np.maximum(loss[: end + 1] - f_star, 1e-16)) if f_star is not None else None,
                "z": _nums(zpath[: end + 1]),
                "end": end,
                "diverged": result.diverged_at[k],
            }
        )
    return {
        "title": result.title,
        "settings": result.settings,
        "story": result.story,
        "formula": result.surface.formula,
        "xlabel": result.axis_labels[0],
        "ylabel": result.axis_labels[1],
        "gx": _nums(gx[0]),
        "gy": _nums(gy[:, 0]),
        "gz": [_nums(row) for row in zshow],
        "zlabel": "log10(f − min f)" if logz else "f",
        "minima": [list(m) for m in result.surface.minima],
        "starts": [list(s) for s in result.starts],
        "steps": result.steps,
        "logy": f_star is not None,
        "trials": trials,
        "notes": result.notes,
        "words": {k: word(k, result.lang) for k in ("start", "minimum", "loss_title", "step", "loss", "gap_short",
                                                     "view3d", "play", "pause")},
    }


def _zmin(result: CompareResult, grid: int) -> float:
    _, _, z = result.surface.grid(grid)
    return float(z[z.isfinite()].min())


_CSS = page_css(1400) + """
h2 { font-size: 1.25em; } .story { font-size: 1.02em; }
.row { display: flex; flex-wrap: wrap; gap: 8px; } .plot { flex: 1 1 520px; min-height: 470px; }
.plot3d { width: 100%; height: 520px; }
.controls { display: flex; align-items: center; gap: 12px; margin: 6px 0; }
.controls input[type=range] { flex: 1; } .controls button { font-size: 1em; padding: 3px 14px; }
.notes { color: #a33; font-size: .9em; } .links a { margin-right: 1em; }
"""

_JS = """
const FIGS = JSON.parse(document.getElementById('optimlab-data').textContent);
function hoverText(f, tr) {
  return tr.loss.map((l, t) => tr.label + '<br>step ' + t + '<br>' + f.xlabel + ' = ' + tr.x[t] + ', ' +
                      f.ylabel + ' = ' + tr.y[t] + '<br>loss ' + l);
}
function drawFigure(i) {
  const f = FIGS[i], n = f.trials.length;
  f.text = f.trials.map(tr => hoverText(f, tr));
  const base = [{type: 'contour', x: f.gx, y: f.gy, z: f.gz, colorscale: 'Greys', reversescale: true,
    opacity: 0.55, ncontours: 24, hoverinfo: 'skip', showscale: true,
    colorbar: {title: {text: f.zlabel}, thickness: 12}}];
  const paths = f.trials.map((tr, k) => ({type: 'scatter', mode: 'lines', x: tr.x, y: tr.y, text: f.text[k],
    hoverinfo: 'text', name: tr.label, legendgroup: tr.label, line: {color: tr.color, width: 2.5}}));
  const ends = f.trials.map(tr => ({type: 'scatter', mode: 'markers', x: [tr.x[tr.end]], y: [tr.y[tr.end]],
    legendgroup: tr.label, showlegend: false, hoverinfo: 'skip',
    marker: {color: tr.color, size: tr.diverged ? 14 : 9, symbol: tr.diverged ? 'x' : 'circle',
             line: {color: 'white', width: 1}}}));
  const marks = [{type: 'scatter', mode: 'markers', name: f.words.start, x: f.starts.map(p => p[0]),
    y: f.starts.map(p => p[1]), marker: {color: 'white', size: 10, line: {color: 'black', width: 2}}}];
  if (f.minima.length) marks.push({type: 'scatter', mode: 'markers', name: f.words.minimum,
    x: f.minima.map(p => p[0]), y: f.minima.map(p => p[1]),
    marker: {symbol: 'star', size: 16, color: '#FFD700', line: {color: 'black', width: 1}}});
  Plotly.newPlot('map-' + i, base.concat(paths, ends, marks), {
    title: {text: f.formula}, xaxis: {title: {text: f.xlabel}, range: [f.gx[0], f.gx[f.gx.length - 1]]},
    yaxis: {title: {text: f.ylabel}, range: [f.gy[0], f.gy[f.gy.length - 1]]},
    margin: {t: 40, r: 10}, legend: {orientation: 'h', y: -0.18}}, {displaylogo: false, responsive: true});
  const curves = f.trials.map(tr => ({type: 'scatter', mode: 'lines', name: tr.label, legendgroup: tr.label,
    y: f.logy ? tr.gap : tr.loss, line: {color: tr.color, width: 2}}));
  Plotly.newPlot('loss-' + i, curves, {title: {text: f.words.loss_title},
    xaxis: {title: {text: f.words.step}}, yaxis: {title: {text: f.logy ? f.words.gap_short : f.words.loss},
    type: f.logy ? 'log' : 'linear'}, showlegend: false, margin: {t: 40, r: 10},
    shapes: [{type: 'line', xref: 'x', yref: 'paper', x0: f.steps, x1: f.steps, y0: 0, y1: 1,
              line: {color: '#888', dash: 'dot'}}]}, {displaylogo: false, responsive: true});
  const surf = [{type: 'surface', x: f.gx, y: f.gy, z: f.gz, colorscale: 'Greys', reversescale: true,
    opacity: 0.8, showscale: false, hoverinfo: 'skip'}];
  const lines3 = f.trials.map(tr => ({type: 'scatter3d', mode: 'lines', name: tr.label, legendgroup: tr.label,
    x: tr.x, y: tr.y, z: tr.z, line: {color: tr.color, width: 6}}));
  Plotly.newPlot('3d-' + i, surf.concat(lines3), {title: {text: f.words.view3d},
    scene: {xaxis: {title: {text: f.xlabel}}, yaxis: {title: {text: f.ylabel}}, zaxis: {title: {text: f.zlabel}}},
    margin: {t: 40, l: 0, r: 0, b: 0}}, {displaylogo: false, responsive: true});
  setStep(i, f.steps);
}
function setStep(i, t) {
  const f = FIGS[i], n = f.trials.length, idx = [], ends = [], idx3 = [];
  const xs = [], ys = [], zs = [], tx = [], ex = [], ey = [];
  f.trials.forEach((tr, k) => {
    const m = Math.min(t, tr.end) + 1;
    xs.push(tr.x.slice(0, m)); ys.push(tr.y.slice(0, m)); zs.push(tr.z.slice(0, m)); tx.push(f.text[k].slice(0, m));
    ex.push([tr.x[m - 1]]); ey.push([tr.y[m - 1]]);
    idx.push(1 + k); ends.push(1 + n + k); idx3.push(1 + k);
  });
  Plotly.restyle('map-' + i, {x: xs, y: ys, text: tx}, idx);
  Plotly.restyle('map-' + i, {x: ex, y: ey}, ends);
  Plotly.restyle('3d-' + i, {x: xs, y: ys, z: zs}, idx3);
  Plotly.relayout('loss-' + i, {'shapes[0].x0': t, 'shapes[0].x1': t});
  document.getElementById('label-' + i).textContent = f.words.step + ' ' + t + ' / ' + f.steps;
  document.getElementById('slider-' + i).value = t;
}
const timers = {};
function togglePlay(i) {
  const f = FIGS[i], button = document.getElementById('play-' + i);
  if (timers[i]) { clearInterval(timers[i]); delete timers[i]; button.textContent = f.words.play; return; }
  let t = Number(document.getElementById('slider-' + i).value);
  if (t >= f.steps) t = 0;
  const stride = Math.max(1, Math.round(f.steps / 120));
  button.textContent = f.words.pause;
  timers[i] = setInterval(() => {
    t = Math.min(f.steps, t + stride); setStep(i, t);
    if (t >= f.steps) togglePlay(i);
  }, 60);
}
FIGS.forEach((f, i) => {
  drawFigure(i);
  document.getElementById('slider-' + i).addEventListener('input', e => setStep(i, Number(e.target.value)));
  document.getElementById('play-' + i).addEventListener('click', () => togglePlay(i));
});
"""


def _section(i: int, result: CompareResult, links: dict[str, str] | None) -> str:
    esc = html.escape
    link_html = ""
    if links:
        link_html = '<p class="links">' + "".join(
            f'<a href="{esc(href, quote=True)}">{esc(name)}</a>' for name, href in links.items()
        ) + "</p>"
    story = f'<p class="story">{esc(result.story)}</p>' if result.story else ""
    notes = "".join(f'<p class="notes">{esc(n)}</p>' for n in result.notes)
    lang = result.lang
    step = word("step", lang)
    return f"""
<section class="figure" id="figure-{i}">
<h2>{esc(result.title)}</h2>
{story}
<p class="settings">{esc(result.settings)}</p>{notes}{link_html}
<div class="controls"><button id="play-{i}">{esc(word("play", lang))}</button>
<input type="range" id="slider-{i}" min="0" max="{result.steps}" value="{result.steps}" step="1"
 aria-label="{esc(step)}">
<span id="label-{i}">{esc(step)} {result.steps} / {result.steps}</span></div>
<div class="row"><div class="plot" id="map-{i}"></div><div class="plot" id="loss-{i}"></div></div>
<details><summary>{esc(word("view3d", lang))}</summary><div class="plot3d" id="3d-{i}"></div></details>
</section>"""


def _cards(names: Sequence[str], lang: str = "en") -> str:
    out = []
    for name in dict.fromkeys(names):
        try:
            body = load_card(name, lang).to_html()
        except ValueError:
            body = f"<p>{html.escape(word('no_card', lang, name=name))}</p>"
        out.append(f'<details class="card" data-optimizer="{html.escape(name, quote=True)}">'
                   f"<summary>{html.escape(word('card_short', lang, name=name))}</summary>"
                   f"{card_anchor(name, body)}</details>")
    return "\n".join(out)


def page_html(
    results: Sequence[CompareResult],
    title: str,
    intro: str = "",
    links: Sequence[dict[str, str] | None] | None = None,
) -> str:
    """A self-contained page with one interactive figure per result, the family tree and the explain cards."""
    from plotly.offline import get_plotlyjs

    from ..registry import family_tree

    data = json.dumps([figure_data(r) for r in results], separators=(",", ":")).replace("</", "<\\/")
    sections = "".join(_section(i, r, (links or [None] * len(results))[i]) for i, r in enumerate(results))
    names = [t.optimizer for r in results for t in r.trials]
    lang = results[0].lang if results else "en"
    tree = family_tree(lang)
    rest = [n.name for n in tree if n.name not in names]
    intro_html = f"<p>{html.escape(intro)}</p>" if intro else ""
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_CSS}</style>
<script>{get_plotlyjs()}</script></head>
<body><h1>{html.escape(title)}</h1>{intro_html}
<p class="settings">{html.escape(word("page_help", lang))}</p>
{sections}
<h2 id="family">{html.escape(word("family", lang))}</h2>
{family_figure(tree, lang, set(names))}
<h2>{html.escape(word("on_page", lang))}</h2>
{_cards(names, lang)}
<h2>{html.escape(word("rest", lang))}</h2>
{_cards(rest, lang)}
<script type="application/json" id="optimlab-data">{data}</script>
<script>{_JS}</script>
</body></html>
"""


def write_page(
    results: Sequence[CompareResult],
    path: str | Path,
    title: str,
    intro: str = "",
    links: Sequence[dict[str, str] | None] | None = None,
) -> Path:
    Path(path).write_text(page_html(results, title, intro, links), encoding="utf-8")
    return Path(path)
