"""The study report's figures (PNG): learning-rate sensitivity, training curves with bands, performance profiles
and a claim's small evidence figure. Each draws its labels in ``lang`` with a font that has the language's glyphs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import stats
from ._embed import pyplot, save_png
from ._i18n import Messages, figure_style, metric_label
from ._study_common import chosen_lrs, color, examples_note, goal_of, metric_of, plan_of, scored_trials
from .study_text import TEXT

DPI = 110


def lr_sensitivity_png(results: Any, problem: str, path: Path, lang: str = "en") -> Path | None:
    """Selection metric (median over tuning seeds) against the learning rate, one curve per optimizer."""
    words = Messages(TEXT, lang)
    plan = plan_of(results)
    trials = results.trials
    tune = trials[(trials["problem"] == problem) & (trials["phase"] == "tune")]
    if tune.empty or tune["lr"].nunique() < 2:
        return None
    metric = metric_of(plan, "selection_metric", problem, "valid_loss")
    goal = goal_of(plan, problem, metric)
    chosen = chosen_lrs(results, scored_trials(trials)[0])
    curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    finite_all: list[float] = []
    for o in [o for o in plan["optimizers"] if o in set(tune["optimizer"])]:
        rows = tune[tune["optimizer"] == o]
        lrs, meds, dead = [], [], []
        for lr, group in rows.groupby("lr"):
            v = stats.usable(group, metric).to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            lrs.append(float(lr))
            meds.append(float(np.median(v)) if v.size else math.nan)
            dead.append(v.size == 0)
        curves[o] = (np.array(lrs), np.array(meds), np.array(dead))
        finite_all.extend(m for m in meds if math.isfinite(m))
    if not finite_all:
        return None
    values = np.array(finite_all)
    best = values.min() if goal == "min" else values.max()
    # Clip the axis where the useful settings live: runs far worse than the best are drawn on the edge.
    middle = float(np.median(values))
    if goal == "min":
        edge = max(middle, best + 2.5 * (middle - best)) if middle > best else best + 1.0
        edge = min(edge, values.max())
    else:
        edge = min(middle, best - 2.5 * (best - middle)) if middle < best else best - 0.1
        edge = max(edge, values.min())
    positive = goal == "min" and values.min() > 0 and best > 0 and edge / best > 30
    with figure_style(lang):
        fig, ax = pyplot().subplots(figsize=(5.6, 4.0))
        for o, (xs, ys, gone) in curves.items():
            c = color(o)
            shown = np.where(goal == "min", np.minimum(ys, edge), np.maximum(ys, edge))
            ax.plot(xs[~gone], shown[~gone], "-o", color=c, ms=3.5, lw=1.6, label=o)
            off = ~gone & (ys != shown)
            if off.any():
                ax.plot(xs[off], shown[off], "^" if goal == "min" else "v", color=c, ms=6, ls="none")
            if gone.any():
                ax.plot(xs[gone], np.full(gone.sum(), edge), "x", color=c, ms=8, mew=2.2, ls="none")
            lr_best = chosen.get((problem, o))
            if lr_best is not None:
                at = np.isclose(xs, lr_best, rtol=1e-6)
                if at.any() and not gone[at].any():
                    ax.plot(xs[at], shown[at], "o", ms=12, mfc="none", mec=c, mew=2.2)
        ax.set_xscale("log")
        if positive:
            ax.set_yscale("log")
        ax.set_xlabel(words("lr_xlabel"), fontsize=8)
        on = examples_note(plan, problem, metric.split("_")[0], lang)
        ax.set_ylabel(words("lr_ylabel", metric=metric_label(metric, lang)) + (f"\n{on}" if on else ""),
                      fontsize=8 if on else None)
        ax.set_title(words("lr_title", problem=problem), fontsize=10)
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        return save_png(fig, path, DPI)


def curves_png(results: Any, problem: str, scored: pd.DataFrame, path: Path, lang: str = "en") -> Path | None:
    """Training loss and validation metric of the tuned settings: median over seeds with a min–max band."""
    words = Messages(TEXT, lang)
    plan = plan_of(results)
    rows = scored[scored["problem"] == problem]
    curves = results.curves
    if rows.empty or curves is None or curves.empty:
        return None
    sel = metric_of(plan, "selection_metric", problem, "valid_loss")
    present = set(curves["kind"])
    wanted = ("train_loss", sel, "valid_loss")
    kinds = [k for k in wanted if k in present and (k == "train_loss" or k.startswith("valid_"))]
    kinds = list(dict.fromkeys(kinds))[:2]
    if not kinds:
        return None
    with figure_style(lang):
        fig, axes = pyplot().subplots(len(kinds), 1, figsize=(5.2, 2.6 * len(kinds) + 0.4), squeeze=False,
                                      sharex=True)
        for i, (ax, kind) in enumerate(zip(axes[:, 0], kinds, strict=True)):
            if not _draw_bands(ax, rows, curves, kind, plan["optimizers"], words):
                ax.set_visible(False)
                continue
            if i == len(kinds) - 1:
                ax.set_xlabel(words("step"))
            on = examples_note(plan, problem, "valid", lang) if kind.startswith("valid_") else ""
            ax.set_ylabel(metric_label(kind, lang) + (f"\n{on}" if on else ""), fontsize=8 if on else None)
            ax.grid(True, which="both", alpha=0.25)
            if i == 0:
                ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        axes[0, 0].set_title(words("curves_title", problem=problem), fontsize=10)
        fig.tight_layout()
        return save_png(fig, path, DPI)


def _draw_bands(ax: Any, rows: pd.DataFrame, curves: pd.DataFrame, kind: str, optimizers: list[str],
                words: Messages) -> bool:
    """One panel: each optimizer's median curve of ``kind`` over seeds with its min–max band; False if none."""
    drawn = False
    all_positive = True
    lowest_median = math.inf
    for o in [o for o in optimizers if o in set(rows["optimizer"])]:
        ids = rows[rows["optimizer"] == o]["trial_id"].tolist()
        part = curves[(curves["kind"] == kind) & (curves["trial_id"].isin(ids))]
        per_seed = [(g["step"].to_numpy(float), g["value"].to_numpy(float))
                    for _, g in part.sort_values("step").groupby("trial_id")]
        grid, med, lo, hi = stats.band(per_seed)
        if grid.size == 0 or not np.isfinite(med).any():
            continue
        c = color(o)
        ax.fill_between(grid, lo, hi, color=c, alpha=0.18, lw=0)
        ax.plot(grid, med, color=c, lw=1.6, label=words("curve_label", optimizer=o, n=len(per_seed)))
        lowest_median = min(lowest_median, float(np.nanmin(med)))
        finite = np.concatenate([lo[np.isfinite(lo)], med[np.isfinite(med)]])
        all_positive &= bool(finite.size) and bool(finite.min() > 0)
        drawn = True
    if drawn and kind.endswith("loss") and all_positive:
        ax.set_yscale("log")
        # a band of one-example losses reaches towards 0: keep the axis on the medians
        ax.set_ylim(bottom=max(ax.get_ylim()[0], 0.5 * lowest_median))
    return drawn


def profile_png(prof: pd.DataFrame, path: Path, lang: str = "en") -> Path:
    """Performance profiles ρ(τ), one step curve per optimizer."""
    words = Messages(TEXT, lang)
    with figure_style(lang):
        fig, ax = pyplot().subplots(figsize=(6.4, 3.9))
        for o in prof.columns:
            ax.step(prof.index, prof[o], where="post", color=color(o), lw=1.8, label=o)
        ax.set_xlim(1, 4)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(words("profile_xlabel"))
        ax.set_ylabel(words("profile_ylabel"))
        ax.set_title(words("profile_title"), fontsize=10)
        ax.grid(True, alpha=0.25)
        ax.legend(fontsize=7, ncol=2, frameon=False, loc="lower right")
        return save_png(fig, path, DPI)


def claim_png(name: str, figure: Mapping[str, Any], path: Path, lang: str = "en",
              local: Mapping[str, Any] | None = None) -> Path | None:
    """A claim's small figure from its evidence: ``{"kind": "lines"|"bars", "series": {label: {x, y}}, ...}``.

    Its title, axis labels and legend are the claims study's own words: ``local`` (the study's ``lang`` version,
    ``{"title", "xlabel", "ylabel", "labels": {series: text}}``) where it has them, else the figure's own."""
    series = figure.get("series") or {}
    words = {k: v for k, v in (local or {}).items() if k != "labels"}
    text = {k: str(words.get(k, figure.get(k, name if k == "title" else ""))) for k in ("title", "xlabel", "ylabel")}
    found = (local or {}).get("labels")
    names: Mapping[str, Any] = found if isinstance(found, Mapping) else {}

    def shown(label: str) -> str:
        return str(names.get(label) or label)

    if not series:
        return None
    with figure_style(lang):
        fig, ax = pyplot().subplots(figsize=(4.6, 3.0))
        if figure.get("kind") == "bars":
            labels = list(series)
            heights = [float(series[k]["y"][0]) if series[k]["y"] else math.nan for k in labels]
            ax.bar(range(len(labels)), heights, color=[color(k) for k in labels])
            ax.set_xticks(range(len(labels)), [shown(k) for k in labels], rotation=30, ha="right", fontsize=8)
        else:
            for label, xy in series.items():
                x = np.asarray(xy.get("x", []), float)
                y = np.asarray(xy.get("y", []), float)
                style = xy.get("style", "-")
                ax.plot(x, y, style, color=xy.get("color") or color(label), lw=1.5, ms=3, label=shown(label))
            ticks = figure.get("xticklabels")
            if ticks:
                ax.set_xticks(range(len(ticks)), [str(t) for t in ticks], fontsize=8)
            ax.legend(fontsize=6, frameon=False)
        if figure.get("logx"):
            ax.set_xscale("log")
        if figure.get("logy"):
            ax.set_yscale("log")
        ax.set_xlabel(text["xlabel"], fontsize=8)
        ax.set_ylabel(text["ylabel"], fontsize=8)
        ax.set_title(text["title"], fontsize=9)
        ax.grid(True, alpha=0.25)
        return save_png(fig, path, DPI)
