"""The lesson page: one offline HTML file that walks the seed's lesson in its order, each picture a playground.

Every section has its picture (a map with the paths, the loss curve and the step-length curve, drawn by the
page's own canvas code in :mod:`.lesson_js`), two or three sentences of what to see (:mod:`.lesson_text`),
sliders for the learning rate and the optimizer's other knobs, a click on the map to pick the start, what was
measured, and each optimizer's explain card a click away. No plotting library is embedded: the page is the data
(:mod:`.lesson_data`) plus a few hundred lines of script, and it needs no network.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..compare.playground import PAGE_LRS
from ..explain.cards import load_card
from ._i18n import Messages
from .landscape_text import TEXT as LANDSCAPE_TEXT
from .lesson_data import encode_playground
from .lesson_js import LESSON_JS
from .lesson_text import WORDS, section_text, word
from .style import page_css

if TYPE_CHECKING:
    from ..compare.lesson import Section
    from ..compare.playground import Playground

LESSON_CSS = page_css(1180) + """
body { line-height: 1.5; }
h1 { font-size: 1.6em; }
h2 { font-size: 1.3em; margin-top: 1.6em; border-bottom: none; border-top: 1px solid #ddd; padding-top: .7em; }
nav ol { columns: 2; font-size: .95em; } .what { font-size: 1.03em; max-width: 60em; }
.play { display: grid; grid-template-columns: 560px 1fr; gap: 6px 14px; align-items: start; }
.play canvas { display: block; } canvas.map { cursor: crosshair; }
.ctls { grid-column: 1 / span 2; display: flex; flex-direction: column; gap: 4px; }
.ctl { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 10px; font-size: .92em; }
.ctl .name { min-width: 7em; font-weight: 600; } .ctl .swatch { display: inline-block; width: 14px; height: 4px; }
.ctl input[type=range] { width: 220px; } .ctl input.knob { width: 130px; }
.ctl .knobs { display: flex; gap: 10px; align-items: center; }
.lrbox { display: inline-flex; flex-direction: column; } .strip { display: flex; width: 220px; height: 6px; }
.strip span { flex: 1; margin-right: 1px; background: #9c9; } .strip span.bad { background: #d33; }
.strip span.na { background: #ddd; } .strip span.tuned { box-shadow: 0 -4px 0 #E6B800; }
.val { font-variant-numeric: tabular-nums; min-width: 3.5em; display: inline-block; }
.note { color: #a33; } .hint { color: #555; font-size: .88em; margin: 2px 0; }
button { font-size: .9em; padding: 2px 10px; }
table.facts { border-collapse: collapse; font-size: .88em; margin: 8px 0; }
table.facts td, table.facts th { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
table.facts td:first-child, table.facts th:first-child { text-align: left; }
code { background: #f3f3f3; padding: 0 3px; }
.verdict { font-weight: 600; } .landscape-link { font-size: 1.05em; }
"""
"""All of the lesson page's style, in one constant (the style module may take it over)."""

LABELS = {"gd": "GD", "sgd": "SGD", "minibatch": "mini-batch", "momentum": "Momentum", "nesterov": "Nesterov",
          "adagrad": "AdaGrad", "rmsprop": "RMSProp", "adadelta": "AdaDelta", "adam": "Adam"}
KO_LABELS = {"minibatch": "미니배치"}
"""Names a Korean reader reads in Korean (the others are the methods' own names, written as their papers do)."""


def label(name: str, lang: str) -> str:
    """An optimizer's name on the page in ``lang``."""
    return (KO_LABELS.get(name) if lang == "ko" else None) or LABELS.get(name, name)


def _code(text: str) -> str:
    """Escape ``text``; `backticked` spans become ``<code>``."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _fmt(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:.3g}" if 1e-3 <= abs(v) < 1e4 or v == 0 else f"{v:.1e}"


def _controls(i: int, sec: Section, grid: Playground, lang: str, roles: Mapping[str, float]) -> str:
    buttons = ""
    if sec.roles:
        buttons = '<div class="ctl">' + "".join(
            f'<button class="role" data-lr="{lr}">{html.escape(word(role, lang))} (lr {lr:g})</button>'
            for role, lr in roles.items()) + "</div>"
    knobs = {n: [(k, len(values)) for k, values, _ in grid.series[n].knobs] for n in sec.optimizers}
    return _play(i, knobs, lang, buttons, word("click", lang))


def _play(i: int, knobs: Mapping[str, Sequence[tuple[str, int]]], lang: str, buttons: str, hint: str) -> str:
    """One playground: the map, the two charts, and per optimizer its learning-rate slider and ``knobs``
    (name, number of values) sliders."""
    rows = []
    for n, spec in knobs.items():
        sliders = "".join(
            f'<label class="knobs">{html.escape(word(k, lang))} <input type="range" class="knob" data-k="{j}" '
            f'min="0" max="{count - 1}" step="1" aria-label="{html.escape(word(k, lang))}">'
            f'<span class="val kval" data-k="{j}"></span></label>'
            for j, (k, count) in enumerate(spec)
        )
        rows.append(
            f'<div class="ctl" data-series="{n}"><span class="name"><span class="swatch" style="background:'
            f'{_color(n)}"></span> {html.escape(label(n, lang))}</span>'
            f'<label>{html.escape(word("lr", lang))} <span class="lrbox"><input type="range" class="lr" min="0" '
            f'max="0" step="1" aria-label="{html.escape(word("lr", lang))} {n}">'
            f'<span class="strip"></span></span></label><span class="val lrval"></span>{sliders}'
            f'<button class="reset">{html.escape(word("reset", lang))}</button>'
            f'<span class="note" data-note="{n}"></span></div>'
        )
    return (f'<div class="play" id="play-{i}"><canvas class="map" width="560" height="430"></canvas>'
            f'<div><canvas class="loss" width="520" height="215"></canvas>'
            f'<canvas class="steps" width="520" height="215"></canvas></div>'
            f'<div class="ctls">{buttons}{"".join(rows)}<p class="hint">{html.escape(hint)}</p>'
            f"</div></div>")


def _color(name: str) -> str:
    from ..compare._run import color_of

    return color_of(name)


def _facts(sec: Section, facts: Mapping[tuple[str, str], Mapping[str, Any]], lang: str) -> str:
    rows = [facts[(sec.key, n)] for n in sec.optimizers]
    steps = rows[0]["steps"]
    has_gap = rows[0]["gap"] is not None
    head = [word("col_opt", lang), word("col_lr", lang),
            word("col_gap" if has_gap else "col_final", lang, n=steps)]
    if has_gap:
        head.append(word("col_reach", lang))
    head += [word("col_stable", lang), word("col_diverge", lang)]
    body = []
    for r in rows:
        setting = r["setting"]
        lr = _fmt(setting["lr"]) + " *" * bool(r.get("edge")) + "".join(
            f", {word(k, lang)} {v:g}" for k, v in setting.items() if k != "lr")
        cells = [label(r["optimizer"], lang), lr, _fmt(r["gap"] if has_gap else r["final"])]
        if has_gap:
            cells.append(str(r["reach"]) if r["reach"] is not None else word("never", lang, n=steps))
        cells += [_fmt(r["stable"]), _fmt(r["diverges"]) if r["diverges"] is not None else word("none", lang)]
        body.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    notes = "".join(f'<p class="hint">{html.escape(label(r["optimizer"], lang))} '
                    f'{html.escape(word("edge", lang, lo=r["grid"][0], hi=r["grid"][1]))}</p>'
                    for r in rows if r.get("edge"))
    return (f'<p class="hint">{html.escape(word("measured", lang))}</p><table class="facts"><tr>'
            + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>" + "".join(body) + "</table>" + notes)


def _cards(names: Sequence[str], lang: str) -> str:
    out = []
    for name in names:
        try:
            body = load_card(name, lang).to_html()
        except ValueError:
            body = f"<p>{html.escape(word('no_card', lang, name=name))}</p>"
        summary = word("card", lang, name=label(name, lang))
        out.append(f'<details class="card" data-optimizer="{name}"><summary>{html.escape(summary)}</summary>'
                   f"{body}</details>")
    return "".join(out)


def _choose(claims: tuple[str, list[dict[str, Any]]] | None, store: str, lang: str,
            report: str | None = None, report_dir: str = "optimlab-report") -> str:
    if not claims:
        return f"<p>{_code(word('claims_none', lang, store=store))}</p><p>{_code(word('advise', lang))}</p>"
    study, rows = claims

    def text(c: Mapping[str, Any], key: str) -> str:
        local = (c.get("evidence") or {}).get("ko") if lang == "ko" else None
        return str((local or {}).get(key) or c.get(key, ""))

    body = "".join(
        f"<tr><td>{html.escape(text(c, 'name'))}</td><td class=\"verdict\">"
        f"{html.escape(word(c['verdict'], lang) if c['verdict'] in WORDS else c['verdict'])}</td>"
        f"<td style=\"text-align:left\">{html.escape(text(c, 'summary'))}</td></tr>"
        for c in rows
    )
    where = (f'<a href="{html.escape(report, quote=True)}">{html.escape(word("claims_report_link", lang))}</a>'
             if report else _code(word("claims_report", lang, study=study, store=store, out=report_dir)))
    return (f"<p>{html.escape(word('claims_head', lang, study=study))}</p><table class=\"facts\"><tr>"
            f"<th>{html.escape(word('claim', lang))}</th><th>{html.escape(word('verdict', lang))}</th><th></th></tr>"
            f"{body}</table><p>{where}</p><p>{_code(word('advise', lang))}</p>")


def network_surface(network: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """The network's page data (:func:`~optimlab.report.lesson_data.encode_network`) with the words of ``lang``."""
    words = Messages(LANDSCAPE_TEXT, lang)
    explained = network["network"]["explained"]
    return {**network, "title": words("pca_title"), "curveLabel": word("net_loss", lang),
            "xlabel": words("pc_axis", n=1, share=f"{100 * explained[0]:.0f}"),
            "ylabel": words("pc_axis", n=2, share=f"{100 * explained[1]:.0f}")}


def network_section(network: Mapping[str, Any] | None, landscape: str | None, lang: str, number: int, i: int,
                    reused: bool = False) -> str:
    """The section "A real network": the playground of the network's slice (when ``network`` data is given), what
    was measured, what such a slice can and cannot show, and a link to the full landscape page when one was made."""
    if not network and not landscape:
        return ""
    title, what = section_text("network", lang)
    body = f'<p class="what">{_code(what)}</p>'
    if network:
        info, words = network["network"], Messages(LANDSCAPE_TEXT, lang)
        names = list(network["series"])
        body += _play(i, {n: [] for n in names}, lang, "", word("net_click", lang))
        lrs = info["lrs"]
        setup = word("net_setup", lang, layers=info["layers"], parameters=f"{info['parameters']:,}",
                     n_train=f"{info['train']:,}", steps=info["steps"], batch=info["batch"], n=len(lrs),
                     grid=f"{min(lrs):g} … {max(lrs):g}", trials=len(lrs) * len(names), examples=info["examples"],
                     points=info["points"])
        body += f'<p class="hint">{_code(setup)}</p>'
        seconds = info["wall"]
        done = (word("net_reused", lang, file="network.json", seconds=seconds) if reused
                else word("net_computed", lang, seconds=seconds))
        body += f'<p class="hint">{html.escape(done)}</p>'
        head = "".join(f"<th>{html.escape(words(k))}</th>" for k in ("optimizer", "lr", "valid_loss", "pca_kept"))
        rows = []
        for n in names:
            lr = info["chosen"][n]
            valid = info["valid"][n][lrs.index(lr)]
            edge = " *" if lr in (min(lrs), max(lrs)) else ""
            rows.append(f"<tr><td>{html.escape(label(n, lang))}</td><td>{_fmt(lr)}{edge}</td>"
                        f"<td>{_fmt(valid)}</td><td>{100 * info['kept'][n]:.0f}%</td></tr>")
        note = (f'<p class="hint">{html.escape(words("edge_note"))}</p>'
                if any(info["chosen"][n] in (min(lrs), max(lrs)) for n in names) else "")
        body += (f'<p class="hint">{html.escape(word("net_facts", lang))}</p><table class="facts"><tr>{head}</tr>'
                 f'{"".join(rows)}</table>{note}<h3>{html.escape(words("limits"))}</h3><ul class="limits">'
                 + "".join(f"<li>{html.escape(words(k))}</li>" for k in ("limit_slice", "limit_projection",
                                                                         "limit_minima", "limit_pca"))
                 + f"<li>{html.escape(word('net_other', lang))}</li></ul>")
    if landscape:
        body += (f'<p class="landscape-link"><a href="{html.escape(landscape, quote=True)}">'
                 f'{html.escape(word("landscape", lang))}</a></p>')
    return (f'<section class="lesson" id="sec-network"><h2>{number}. {html.escape(title)}</h2>{body}</section>')


def lesson_html(
    grids: Mapping[str, Playground],
    sections: Sequence[Section],
    *,
    lang: str = "en",
    roles: Mapping[str, float] | None = None,
    facts: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
    claims: tuple[str, list[dict[str, Any]]] | None = None,
    store: str = "",
    claims_report: str | None = None,
    claims_report_dir: str = "optimlab-report",
    landscape: str | None = None,
    network: Mapping[str, Any] | None = None,
    network_reused: bool = False,
    began: float | None = None,
) -> str:
    """The whole page as a string (see the module docstring)."""
    roles = dict(roles or {})
    used = sorted({s.surface for s in sections if s.surface})
    colors = {n: _color(n) for g in grids.values() for n in g.series}
    extra: dict[str, Iterable[float]] = {"gd": list(roles.values())}
    surfaces = {k: encode_playground(grids[k], PAGE_LRS, LABELS, colors, extra if k == "bowl" else None)
                for k in used}
    playable = [s for s in sections if s.surface]
    if network:
        surfaces["network"] = network_surface(network, lang)
    words = {k: word(k, lang) for k in ("diverged", "examples", "step", "gap", "symloss", "steplen", "loss_title",
                                          "steps_title", "unavailable")}
    shown: list[dict[str, Any]] = [{"key": s.key, "surface": s.surface, "series": list(s.optimizers),
                                    "arrows": s.arrows, "curveX": s.curve_x, "lr": s.lr} for s in playable]
    data = {"surfaces": surfaces, "words": words, "sections": shown}
    if network:
        shown.append({"key": "network", "surface": "network", "series": list(network["series"]),
                                 "arrows": 0, "curveX": "step", "lr": None})
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
    parts, toc = [], []
    for number, sec in enumerate(sections, start=1):
        title, what = section_text(sec.key, lang)
        toc.append(f'<li><a href="#sec-{sec.key}">{html.escape(title)}</a></li>')
        body = f'<p class="what">{_code(what)}</p>'
        if sec.surface:
            i = playable.index(sec)
            body += _controls(i, sec, grids[sec.surface], lang, roles) + _facts(sec, facts or {}, lang)
            body += _cards(sec.optimizers, lang)
        else:
            body += _choose(claims, store, lang, claims_report, claims_report_dir)
        parts.append(f'<section class="lesson" id="sec-{sec.key}"><h2>{number}. {html.escape(title)}</h2>'
                     f"{body}</section>")
    network_html = network_section(network, landscape, lang, len(sections) + 1, len(playable), network_reused)
    if network_html:
        toc.append(f'<li><a href="#sec-network">{html.escape(section_text("network", lang)[0])}</a></li>')
    title = word("page_title", lang)
    trials = sum(g.paths.shape[0] * g.paths.shape[1] for k in used for g in grids[k].series.values())
    footer = ""
    if began is not None:
        built = word("footer", lang, seconds=time.perf_counter() - began, trials=trials)
        footer = f'<p class="hint">{_code(built)}</p>'
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{LESSON_CSS}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>{html.escape(word("intro", lang) + word("criterion", lang))}</p>
<nav><b>{html.escape(word("contents", lang))}</b><ol>{"".join(toc)}</ol></nav>
{"".join(parts)}{network_html}
{footer}
<script type="application/json" id="lesson-data">{payload}</script>
<script>{LESSON_JS}</script>
</body></html>
"""


def write_lesson(path: str | Path, grids: Mapping[str, Playground], sections: Sequence[Section],
                 store: str | Path | None = None, **options: Any) -> Path:
    """Write :func:`lesson_html` to ``path``, with the latest claim verdicts found in ``store`` (default:
    optimlab's default store), linking their report when ``optimlab report`` wrote it into :data:`CLAIMS_DIR`
    beside the page."""
    from ..study.store import DEFAULT_STORE

    where = Path(store) if store is not None else DEFAULT_STORE
    options.setdefault("claims", stored_claims(where))
    folder = Path(path).parent / CLAIMS_DIR  # `optimlab report STUDY --out` there: the page links it
    options.setdefault("claims_report", f"{CLAIMS_DIR}/index.html" if (folder / "index.html").is_file() else None)
    options.setdefault("claims_report_dir", str(folder))
    options["store"] = str(where)
    Path(path).write_text(lesson_html(grids, sections, **options), encoding="utf-8")
    return Path(path)


CLAIMS_DIR = "claims"
"""The folder, beside the lesson page, where a claims report written by ``optimlab report`` is linked from it."""


def stored_claims(store: Path) -> tuple[str, list[dict[str, Any]]] | None:
    """The latest claims study's verdicts in ``store`` (read-only), or ``None`` when there is none."""
    import sqlite3

    from ..errors import UserError
    from ..study.store import Store, check_store

    try:
        if not check_store(store):
            return None
        with Store(store, readonly=True) as db:
            for study in reversed(db.studies()):
                claims = db.claims(study["id"])
                if claims:
                    return str(study["id"]), claims
    except (UserError, OSError, sqlite3.Error):  # a store we cannot read does not stop the lesson: "none found"
        return None
    return None
