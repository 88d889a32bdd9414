"""The advisor's evidence: one self-contained HTML page (figures as data URIs, no scripts, works offline) and
its PNGs — every candidate's learning-rate curves, the bracket, the finalists' curves with bands — plus CSVs and
``summary.txt``. A partial result (the advisor stopped on bad input) gets whatever parts it has.

``result`` is an :class:`optimlab.advise.AdviceResult`. ``lang`` (en, ko) chooses the language of the page, its
tables' headers and its figures; every word is in :mod:`.advise_text`.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import stats
from ..palette import color_of as _color
from ._embed import png_img, pyplot, save_png
from ._i18n import Messages, check_lang, figure_style, metric_label
from .advise_text import TEXT, budget_text, column_label, phase_label, summary, test_text
from .style import page_css

_DPI = 100

CSS = page_css(1100) + """
pre.summary{background:#f7f7f2;padding:1em;white-space:pre-wrap;font-size:1em}
.stopped{background:#fff0f0;border:1px solid #d88;padding:.6em}
"""
"""The page's whole style sheet (one constant, for the shared style module to take over)."""


def _optimizer_of(result: Any, name: str) -> str:
    return next((c.optimizer for c in result.candidates if c.name == name), name)


def lr_png(result: Any, path: Path, lang: str = "en") -> Path | None:
    """One panel per candidate: validation score against learning rate at each stage that tried it (the scan, the
    refinement, the final's mean), the picked rate marked."""
    if not len(result.bracket):
        return None
    with figure_style(lang):
        return _lr_png(result, path, Messages(TEXT, lang))


def _lr_png(result: Any, path: Path, words: Messages) -> Path:
    plt = pyplot()
    names = list(dict.fromkeys(result.bracket["candidate"]))
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    m = f"valid_{result.metric}"
    for ax, name in zip(axes.flat, names, strict=False):
        color = _color(name, _optimizer_of(result, name))
        mine = result.bracket[result.bracket["candidate"] == name]
        for rung, alpha in ((0, 0.45), (1, 1.0)):
            part = mine[mine["rung"] == rung].sort_values("lr")
            if len(part):
                ax.plot(part["lr"], part["score"], color=color, alpha=alpha, marker="o", ms=3, lw=1.2,
                        label=words("lr_curve_label", steps=int(part["steps"].iloc[0])))
        if len(result.final):
            fin = result.final[result.final["candidate"] == name].groupby("lr")[m].mean()
            if len(fin):
                ax.plot(fin.index, fin.to_numpy(), "s", color="k", ms=5,
                        label=words("lr_curve_label", steps=result.run_steps))
        if result.winner is not None and result.winner.candidate.name == name:
            ax.axvline(result.winner.lr, color="k", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(words("learning_rate"))
        ax.set_ylabel(words("lr_ylabel", metric=_metric(result, words)))
        ax.legend(fontsize=7, frameon=False)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    return save_png(fig, path, _DPI)


def bracket_png(result: Any, path: Path, lang: str = "en") -> Path | None:
    """Every configuration's validation score at each stage it reached; lines follow the promoted ones,
    crosses mark where a configuration was dropped."""
    if not len(result.bracket):
        return None
    with figure_style(lang):
        return _bracket_png(result, path, Messages(TEXT, lang))


def _bracket_png(result: Any, path: Path, words: Messages) -> Path:
    fig, ax = pyplot().subplots(figsize=(8.5, 5.0))
    stages: dict[tuple[str, float], list[tuple[float, float]]] = {}
    rungs = sorted(result.bracket["rung"].unique())
    for row in result.bracket.itertuples():
        stages.setdefault((str(row.candidate), float(row.lr)), []).append((float(row.rung), float(row.score)))
    final_x = float(len(rungs))
    if len(result.final):
        m = f"valid_{result.metric}"
        for (name, lr), part in result.final.groupby(["candidate", "lr"]):
            stages.setdefault((str(name), float(lr)), []).append((final_x, float(part[m].mean())))
    finalists = {key for key in stages if stages[key][-1][0] == final_x}
    labelled: set[str] = set()
    for (name, lr), points in stages.items():
        xs, ys = zip(*points, strict=True)
        color = _color(name, _optimizer_of(result, name))
        label = name if name not in labelled else None
        labelled.add(name)
        ax.plot(xs, ys, color=color, lw=1.0, alpha=0.7, marker="o", ms=3, label=label)
        if (name, lr) not in finalists and len(result.final):
            ax.plot(xs[-1], ys[-1], marker="x", color=color, ms=7)
    ticks = [words("rung_tick", stage=words(("scan", "refinement")[min(int(r), 1)]),
                   steps=int(result.bracket[result.bracket["rung"] == r]["steps"].iloc[0])) for r in rungs]
    if len(result.final):
        ticks.append(words("final_tick", steps=result.run_steps))
    ax.set_xticks(range(len(ticks)), ticks)
    ax.set_ylabel(words("bracket_ylabel", metric=_metric(result, words)))
    ax.set_title(words("bracket_title"))
    if result.goal == "min":
        ax.set_yscale("log")
    ax.legend(fontsize=8, ncol=2, loc="best")
    return save_png(fig, path, _DPI)


def final_png(result: Any, path: Path, lang: str = "en") -> Path | None:
    """The finalists' validation curves over the full run: median over seeds, min–max band."""
    if not result.final_curves:
        return None
    with figure_style(lang):
        return _final_png(result, path, Messages(TEXT, lang))


def _final_png(result: Any, path: Path, words: Messages) -> Path:
    fig, ax = pyplot().subplots(figsize=(8.0, 4.6))
    steps = np.asarray(result.final_steps, float)
    for label, curves in result.final_curves.items():
        name = label.split("@")[0]
        color = _color(name, _optimizer_of(result, name))
        grid, median, low, high = stats.band([(steps, c) for c in curves])
        lr = dict(result.final_order).get(name, math.nan) if "@" not in label else float(label.split("@")[1])
        ax.plot(grid, median, color=color, lw=1.8, label=words("final_label", name=name, lr=f"{lr:.3g}"))
        ax.fill_between(grid, low, high, color=color, alpha=0.18)
    ax.set_xlabel(words("step"))
    ax.set_ylabel(words("final_ylabel", metric=_metric(result, words)))
    if result.goal == "min":
        ax.set_yscale("log")
    ax.set_title(words("final_title", seeds=result.final["seed"].nunique()))
    ax.legend(fontsize=9)
    return save_png(fig, path, _DPI)


def _metric(result: Any, words: Messages) -> str:
    """The deciding metric's name as the figures write it (``loss`` / ``손실``)."""
    return metric_label(result.metric, words.lang)


def _table(frame: pd.DataFrame, words: Messages) -> str:
    if not len(frame):
        return f"<p>{words('none')}</p>"
    head = "".join(f"<th>{html.escape(column_label(str(c), words.lang))}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, row, strict=True):
            if isinstance(value, float | np.floating):
                text = "–" if math.isnan(value) else f"{value:.4g}"
                cells.append(f'<td class="n">{text}</td>')
            else:
                shown = phase_label(str(value), words) if column in ("stage", "phase") else str(value)
                cells.append(f"<td>{html.escape(shown)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def write_advice_report(result: Any, out_dir: str | Path, lang: str = "en") -> dict[str, Path]:
    """Write ``index.html``, the PNGs, ``ranking.csv``, ``bracket.csv``, ``final.csv`` and ``summary.txt`` in
    ``lang`` (en, ko; the CSVs keep their column names)."""
    check_lang(lang)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    said = summary(result, lang)
    files["summary"] = out / "summary.txt"
    files["summary"].write_text(said + "\n", encoding="utf-8")
    for key, maker in (("lr_curves", lr_png), ("bracket", bracket_png), ("final_curves", final_png)):
        made = maker(result, out / f"{key}.png", lang)
        if made is not None:
            files[key] = made
    ranking = result.ranking
    for key, frame in (("ranking", ranking), ("bracket_csv", result.bracket), ("final_csv", result.final)):
        if len(frame):
            name = key.removesuffix("_csv")
            files[key] = out / f"{name}.csv"
            frame.to_csv(files[key], index=False)
    files["html"] = out / "index.html"
    files["html"].write_text(_page(result, said, ranking, files, Messages(TEXT, lang)), encoding="utf-8")
    return files


def _page(result: Any, said: str, ranking: pd.DataFrame, files: dict[str, Path], words: Messages) -> str:
    e = html.escape
    lang = words.lang
    parts = [f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'>"
             f"<title>{e(words('title', problem=result.problem))}</title><style>{CSS}</style></head><body>",
             f"<h1>{e(words('heading', problem=result.problem))}</h1>"]
    if result.description:
        parts.append(f"<p lang='en'>{e(result.description)}</p>")
    if result.stopped:
        parts.append(f"<p class='stopped'>{e(words('stopped', reason=result.stopped))}</p>")
    parts.append(f"<h2>{words('summary')}</h2><pre class='summary'>{e(said)}</pre>")
    if result.tests:
        parts.append("<ul>" + "".join(f"<li>{e(test_text(t, result.metric, stats.ALPHA, words))}</li>"
                                      for t in result.tests) + "</ul>")
    parts.append(f"<h2>{words('how')}</h2><p>{words('how_text')}</p>")
    for key, title in (("lr_curves", "fig_lr"), ("bracket", "fig_bracket"), ("final_curves", "fig_final")):
        if key in files:
            parts.append(f"<h2>{words(title)}</h2>{png_img(files[key], words(title))}")
    parts.append(f"<h2>{words('ranking')}</h2>{_table(ranking, words)}")
    losers = result.losers()
    if len(losers):
        parts.append(f"<h2>{words('losers')}</h2>{_table(losers, words)}")
    if len(result.bracket):
        cols = ["rung", "steps", "rank", "candidate", "lr", "score", "score_sd", "valid_loss", "diverged", "promoted"]
        parts.append(f"<h2>{e(words('bracket', metric=_metric(result, words)))}</h2>"
                     f"{_table(result.bracket[cols], words)}")
    if result.compute:
        parts.append(f"<h2>{words('compute')}</h2>{_table(pd.DataFrame(result.compute), words)}")
    if result.plan is not None:
        plan = pd.DataFrame([{k: str(v) for k, v in result.plan.to_dict().items()}])
        parts.append(f"<h2>{words('plan')}</h2><p>{e(words('budget', budget=budget_text(result.budget, words)))}</p>"
                     f"{_table(plan, words)}")
    parts.append("</body></html>")
    return "\n".join(parts)
