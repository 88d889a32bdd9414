"""The advisor's evidence: one self-contained HTML page (figures as data URIs, no scripts, works offline) and
its PNGs — the range-test curves, the tournament bracket, the finalists' curves with bands — plus CSVs and
``summary.txt``. A partial result (the advisor stopped on bad input) gets whatever parts it has.

``result`` is an :class:`optimlab.advise.AdviceResult`.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..palette import color_of as _color
from . import _study_stats as stats
from ._embed import png_img, pyplot, save_png
from .style import page_css

_DPI = 100

_CSS = page_css(1100) + """
pre.summary{background:#f7f7f2;padding:1em;white-space:pre-wrap;font-size:1em}
.stopped{background:#fff0f0;border:1px solid #d88;padding:.6em}
"""


def _optimizer_of(result: Any, name: str) -> str:
    return next((c.optimizer for c in result.candidates if c.name == name), name)


def range_png(result: Any, path: Path) -> Path | None:
    """One panel per candidate: mean loss over seeds against the ramp's lr, its centred smoothing, the usable
    range (shaded) and the learning rates the tournament then tried (ticks)."""
    if not result.ranges:
        return None
    plt = pyplot()
    names = list(result.ranges)
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    tried = result.bracket[result.bracket["rung"] == 0] if len(result.bracket) else None
    for ax, name in zip(axes.flat, names, strict=False):
        r = result.ranges[name]
        color = _color(name, _optimizer_of(result, name))
        ax.plot(r.lr, r.mean_loss, color=color, alpha=0.3, lw=0.8)
        ax.plot(r.lr, r.smooth_loss, color=color, lw=1.8)
        if r.usable:
            ax.axvspan(r.lr_low, r.lr_high, color=color, alpha=0.1)
            ax.axvline(r.anchor, color=color, ls=":", lw=1)
            finite = r.smooth_loss[np.isfinite(r.smooth_loss)]
            top = r.start_loss + 0.5 * (r.start_loss - r.best_loss)
            ax.set_ylim(finite.min() - 0.1 * (top - finite.min()), top)
        if tried is not None:
            for lr in tried[tried["candidate"] == name]["lr"]:
                ax.axvline(float(lr), ymax=0.06, color="k", lw=1.5)
        ax.set_xscale("log")
        ax.set_title(name + ("" if r.usable else " (no usable range)"), fontsize=10)
        ax.set_xlabel("learning rate")
        ax.set_ylabel("training loss")
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    return save_png(fig, path, _DPI)


def bracket_png(result: Any, path: Path) -> Path | None:
    """Every configuration's validation score at each stage it reached; lines follow the promoted ones,
    crosses mark where a configuration was dropped."""
    if not len(result.bracket):
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 5.0))
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
    ticks = [f"rung {r}\n{int(result.bracket[result.bracket['rung'] == r]['steps'].iloc[0])} steps" for r in rungs]
    if len(result.final):
        ticks.append(f"final\n{result.run_steps} steps")
    ax.set_xticks(range(len(ticks)), ticks)
    ax.set_ylabel(f"validation {result.metric} (mean over seeds)")
    ax.set_title("Tournament: each line one optimizer × lr; × = dropped there")
    if result.goal == "min":
        ax.set_yscale("log")
    ax.legend(fontsize=8, ncol=2, loc="best")
    return save_png(fig, path, _DPI)


def final_png(result: Any, path: Path) -> Path | None:
    """The finalists' validation curves over the full run: median over seeds, min–max band."""
    if not result.final_curves:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8.0, 4.6))
    steps = np.asarray(result.final_steps, float)
    for label, curves in result.final_curves.items():
        name = label.split("@")[0]
        color = _color(name, _optimizer_of(result, name))
        grid, median, low, high = stats.band([(steps, c) for c in curves])
        lr = dict(result.final_order).get(name, math.nan) if "@" not in label else float(label.split("@")[1])
        ax.plot(grid, median, color=color, lw=1.8, label=f"{name} (lr {lr:.3g})")
        ax.fill_between(grid, low, high, color=color, alpha=0.18)
    ax.set_xlabel("step")
    ax.set_ylabel(f"validation {result.metric}")
    if result.goal == "min":
        ax.set_yscale("log")
    ax.set_title(f"Final confirmation: median and min–max over {result.final['seed'].nunique()} seeds")
    ax.legend(fontsize=9)
    return save_png(fig, path, _DPI)


def _table(frame: pd.DataFrame) -> str:
    if not len(frame):
        return "<p>(none)</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            if isinstance(value, float | np.floating):
                text = "–" if math.isnan(value) else f"{value:.4g}"
                cells.append(f'<td class="n">{text}</td>')
            else:
                cells.append(f"<td>{html.escape(str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def write_advice_report(result: Any, out_dir: str | Path) -> dict[str, Path]:
    """Write ``index.html``, the PNGs, ``ranking.csv``, ``bracket.csv``, ``final.csv`` and ``summary.txt``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    summary = result.summary()
    files["summary"] = out / "summary.txt"
    files["summary"].write_text(summary + "\n", encoding="utf-8")
    for key, maker in (("range_test", range_png), ("bracket", bracket_png), ("final_curves", final_png)):
        made = maker(result, out / f"{key}.png")
        if made is not None:
            files[key] = made
    ranking = result.ranking
    for key, frame in (("ranking", ranking), ("bracket_csv", result.bracket), ("final_csv", result.final)):
        if len(frame):
            name = key.removesuffix("_csv")
            files[key] = out / f"{name}.csv"
            frame.to_csv(files[key], index=False)
    files["html"] = out / "index.html"
    files["html"].write_text(_page(result, summary, ranking, files), encoding="utf-8")
    return files


def _page(result: Any, summary: str, ranking: pd.DataFrame, files: dict[str, Path]) -> str:
    e = html.escape
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>optimlab advise: {e(result.problem)}"
             f"</title><style>{_CSS}</style></head><body>",
             f"<h1>Which optimizer for {e(result.problem)}?</h1>"]
    if result.description:
        parts.append(f"<p>{e(result.description)}</p>")
    if result.stopped:
        parts.append(f"<p class='stopped'>The advisor stopped early: {e(result.stopped)} "
                     "What had been measured is shown below.</p>")
    parts.append(f"<h2>Summary</h2><pre class='summary'>{e(summary)}</pre>")
    if result.tests:
        parts.append("<ul>" + "".join(f"<li>{e(t.describe(result.metric))}</li>" for t in result.tests) + "</ul>")
    parts.append(
        "<h2>How it decided</h2><p>1. A learning-rate range test: every candidate ramps its learning rate "
        "exponentially over seven decades on two seeds, all in one population; the mean loss is smoothed with a "
        "centred moving median and read as a usable range (shaded), not a single argmin. 2. Successive halving "
        "over candidate × learning rate on paired tuning seeds (same initial weights and batches for every "
        "configuration), the best third promoted to three times the steps. 3. The four best configurations of "
        "the last rung (at least two optimizers) re-trained for the full run on fresh seeds; the winner has the "
        "best mean validation score, and a paired test over seeds says whether the runner-up is "
        "distinguishable. The test split is only reported, never used to decide.</p>"
    )
    figures = (("range_test", "Range test"), ("bracket", "The bracket: who was dropped when"),
               ("final_curves", "Final curves"))
    for key, title in figures:
        if key in files:
            parts.append(f"<h2>{title}</h2>{png_img(files[key], title)}")
    parts.append(f"<h2>Ranking</h2>{_table(ranking)}")
    if len(result.bracket):
        cols = ["rung", "steps", "rank", "candidate", "lr", "score", "score_sd", "valid_loss", "diverged", "promoted"]
        parts.append(f"<h2>Bracket (validation {e(result.metric)} per rung)</h2>{_table(result.bracket[cols])}")
    if result.compute:
        parts.append(f"<h2>Compute (trial-steps: one optimizer update of one trial)</h2>"
                     f"{_table(pd.DataFrame(result.compute))}")
    if result.plan is not None:
        plan = pd.DataFrame([{k: str(v) for k, v in result.plan.to_dict().items()}])
        parts.append(f"<h2>Plan</h2><p>Budget: {e(result.budget.describe())}.</p>{_table(plan)}")
    parts.append("</body></html>")
    return "\n".join(parts)
