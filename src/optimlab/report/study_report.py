"""The study report: one self-contained HTML page (PNG figures embedded as data URIs, no scripts) and the PNGs.

Per problem: learning-rate sensitivity, training curves of the tuned settings (median and min–max band over
seeds) and the test metrics with their spread. Across problems: mean rank, performance profiles
(Dolan–Moré), a pairwise win/loss table over paired seeds with a sign test, the verdicts of the ``claims``
study, and each optimizer's explain card.

``results`` is a :class:`optimlab.study.results.StudyResults` (or any object with the same fields).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..palette import color_of as _color
from . import _study_stats as stats
from ._embed import png_img, pyplot, save_png
from .style import page_css

_DPI = 110

TAUS = np.linspace(1.0, 4.0, 121)


# ------------------------------------------------------------------------------------------------ helpers


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "x"


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return html.escape(str(value))
    if math.isnan(v):
        return "–"
    if math.isinf(v):
        return "∞"
    return f"{v:.{digits}g}"


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _plan(results: Any) -> dict[str, Any]:
    plan = dict(results.plan or {})
    trials = results.trials
    plan.setdefault("problems", list(dict.fromkeys(trials["problem"])) if len(trials) else [])
    plan.setdefault("optimizers", list(dict.fromkeys(trials["optimizer"])) if len(trials) else [])
    return plan


def _metric_of(plan: Mapping[str, Any], key: str, problem: str, default: str) -> str:
    return str((plan.get(key) or {}).get(problem, default))


def _goal(plan: Mapping[str, Any], problem: str, metric: str) -> str:
    goals = (plan.get("goals") or {}).get(problem, {})
    if metric in goals:
        return str(goals[metric])
    return "max" if "accuracy" in metric else "min"


def _scored(trials: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The trials the comparison scores: the tuned re-runs, or the untuned runs of a defaults-only study."""
    for phase in ("final", "defaults"):
        rows = trials[trials["phase"] == phase]
        if len(rows):
            return rows, phase
    return trials.iloc[0:0], "final"


def _chosen_lrs(results: Any, scored: pd.DataFrame) -> dict[tuple[str, str], float]:
    chosen: dict[tuple[str, str], float] = {}
    try:
        picked = results.selected()
    except Exception:  # a study still running may have no choice yet for some problems
        picked = None
    if isinstance(picked, pd.DataFrame) and len(picked):
        for _, row in picked.iterrows():
            chosen[(row["problem"], row["optimizer"])] = float(row["lr"])
    for (p, o), rows in scored.groupby(["problem", "optimizer"]):
        chosen.setdefault((str(p), str(o)), float(rows["lr"].iloc[0]))
    return chosen


# ------------------------------------------------------------------------------------------------ figures


def lr_sensitivity_png(results: Any, problem: str, path: Path) -> Path | None:
    """Selection metric (median over tuning seeds) against the learning rate, one curve per optimizer."""
    plan = _plan(results)
    trials = results.trials
    tune = trials[(trials["problem"] == problem) & (trials["phase"] == "tune")]
    if tune.empty or tune["lr"].nunique() < 2:
        return None
    metric = _metric_of(plan, "selection_metric", problem, "valid_loss")
    goal = _goal(plan, problem, metric)
    chosen = _chosen_lrs(results, _scored(trials)[0])
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 4.0))
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
        plt.close(fig)
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
    for o, (xs, ys, gone) in curves.items():
        c = _color(o)
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
    ax.set_xlabel("learning rate      (○ chosen lr · × every seed diverged · ▲/▼ off the chart)", fontsize=8)
    ax.set_ylabel(f"{metric} (median over tuning seeds)")
    ax.set_title(f"{problem}: how forgiving is each optimizer?", fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return save_png(fig, path, _DPI)


def curves_png(results: Any, problem: str, scored: pd.DataFrame, path: Path) -> Path | None:
    """Training loss and validation metric of the tuned settings: median over seeds with a min–max band."""
    plan = _plan(results)
    rows = scored[scored["problem"] == problem]
    curves = results.curves
    if rows.empty or curves is None or curves.empty:
        return None
    sel = _metric_of(plan, "selection_metric", problem, "valid_loss")
    present = set(curves["kind"])
    wanted = ("train_loss", sel, "valid_loss")
    kinds = [k for k in wanted if k in present and (k == "train_loss" or k.startswith("valid_"))]
    kinds = list(dict.fromkeys(kinds))[:2]
    if not kinds:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(len(kinds), 1, figsize=(5.2, 2.6 * len(kinds) + 0.4), squeeze=False, sharex=True)
    for i, (ax, kind) in enumerate(zip(axes[:, 0], kinds, strict=True)):
        drawn = False
        all_positive = True
        lowest_median = math.inf
        for o in [o for o in plan["optimizers"] if o in set(rows["optimizer"])]:
            ids = rows[rows["optimizer"] == o]["trial_id"].tolist()
            part = curves[(curves["kind"] == kind) & (curves["trial_id"].isin(ids))]
            per_seed = [(g["step"].to_numpy(float), g["value"].to_numpy(float))
                        for _, g in part.sort_values("step").groupby("trial_id")]
            grid, med, lo, hi = stats.band(per_seed)
            if grid.size == 0 or not np.isfinite(med).any():
                continue
            c = _color(o)
            ax.fill_between(grid, lo, hi, color=c, alpha=0.18, lw=0)
            ax.plot(grid, med, color=c, lw=1.6, label=f"{o} (n={len(per_seed)})")
            lowest_median = min(lowest_median, float(np.nanmin(med)))
            finite = np.concatenate([lo[np.isfinite(lo)], med[np.isfinite(med)]])
            all_positive &= bool(finite.size) and bool(finite.min() > 0)
            drawn = True
        if not drawn:
            ax.set_visible(False)
            continue
        if kind.endswith("loss") and all_positive:
            ax.set_yscale("log")
            # a band of one-example losses reaches towards 0: keep the axis on the medians
            ax.set_ylim(bottom=max(ax.get_ylim()[0], 0.5 * lowest_median))
        if i == len(kinds) - 1:
            ax.set_xlabel("step")
        ax.set_ylabel(kind)
        ax.grid(True, which="both", alpha=0.25)
        if i == 0:
            ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes[0, 0].set_title(f"{problem}: tuned settings, median over seeds, band = min–max", fontsize=10)
    fig.tight_layout()
    return save_png(fig, path, _DPI)


def profile_png(prof: pd.DataFrame, path: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.9))
    for o in prof.columns:
        ax.step(prof.index, prof[o], where="post", color=_color(o), lw=1.8, label=o)
    ax.set_xlim(1, 4)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("τ (within τ × the best error)")
    ax.set_ylabel("fraction of problems")
    ax.set_title("Performance profiles (Dolan–Moré): higher and further left is better", fontsize=10)
    ax.grid(True, alpha=0.25)
    ax.legend(fontsize=7, ncol=2, frameon=False, loc="lower right")
    return save_png(fig, path, _DPI)


def claim_png(name: str, figure: Mapping[str, Any], path: Path) -> Path | None:
    """A claim's small figure from its evidence: ``{"kind": "lines"|"bars", "series": {label: {x, y}}, ...}``."""
    series = figure.get("series") or {}
    if not series:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 3.0))
    if figure.get("kind") == "bars":
        labels = list(series)
        heights = [float(series[k]["y"][0]) if series[k]["y"] else math.nan for k in labels]
        ax.bar(range(len(labels)), heights, color=[_color(k) for k in labels])
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    else:
        for label, xy in series.items():
            x = np.asarray(xy.get("x", []), float)
            y = np.asarray(xy.get("y", []), float)
            style = xy.get("style", "-")
            ax.plot(x, y, style, color=xy.get("color") or _color(label), lw=1.5, ms=3, label=label)
        ticks = figure.get("xticklabels")
        if ticks:
            ax.set_xticks(range(len(ticks)), [str(t) for t in ticks], fontsize=8)
        ax.legend(fontsize=6, frameon=False)
    if figure.get("logx"):
        ax.set_xscale("log")
    if figure.get("logy"):
        ax.set_yscale("log")
    ax.set_xlabel(str(figure.get("xlabel", "")), fontsize=8)
    ax.set_ylabel(str(figure.get("ylabel", "")), fontsize=8)
    ax.set_title(str(figure.get("title", name)), fontsize=9)
    ax.grid(True, alpha=0.25)
    return save_png(fig, path, _DPI)


# ------------------------------------------------------------------------------------------------ tables


def metrics_table(scored: pd.DataFrame, problem: str, optimizers: Sequence[str], chosen: Mapping[Any, float],
                  score_metric: str) -> pd.DataFrame:
    """One row per optimizer: chosen lr, seeds, diverged runs and each test metric's median [IQR] and mean ± sd."""
    rows = scored[scored["problem"] == problem]
    metric_cols = [c for c in rows.columns if c.startswith("test_") and rows[c].notna().any()]
    if score_metric in metric_cols:
        metric_cols.remove(score_metric)
        metric_cols.insert(0, score_metric)
    out = []
    for o in optimizers:
        mine = rows[rows["optimizer"] == o]
        if mine.empty:
            continue
        row: dict[str, Any] = {
            "optimizer": o,
            "lr": chosen.get((problem, o), math.nan),
            "seeds": int(mine["seed"].nunique()),
            "diverged/failed": int((mine["status"] != "done").sum()),
        }
        for m in metric_cols:
            s = stats.spread(stats.usable(mine, m))
            row[m] = s
        out.append(row)
    return pd.DataFrame(out)


def _metrics_html(table: pd.DataFrame, score_metric: str, goal: str) -> str:
    if table.empty:
        return "<p>No finished run.</p>"
    metric_cols = [c for c in table.columns if c.startswith("test_")]
    best = None
    if score_metric in table:
        medians = [row["median"] for row in table[score_metric]]
        finite = [m for m in medians if math.isfinite(m)]
        if finite:
            best = min(finite) if goal == "min" else max(finite)
    head = "".join(f"<th>{_esc(c)}<br><small>median [IQR]<br>mean ± sd</small></th>" for c in metric_cols)
    body = []
    for _, row in table.iterrows():
        cells = []
        for c in metric_cols:
            s = row[c]
            mark = ' class="best"' if c == score_metric and best is not None and s["median"] == best else ""
            cells.append(f"<td{mark}>{_fmt(s['median'])} [{_fmt(s['q1'], 3)}, {_fmt(s['q3'], 3)}]<br>"
                         f"<small>{_fmt(s['mean'])} ± {_fmt(s['sd'], 2)} (n={s['n']})</small></td>")
        body.append(f'<tr><td><span class="swatch" style="background:{_color(row["optimizer"])}"></span>'
                    f"{_esc(row['optimizer'])}</td><td>{_fmt(row['lr'], 3)}</td><td>{row['seeds']}</td>"
                    f"<td>{row['diverged/failed']}</td>{''.join(cells)}</tr>")
    return (f'<table class="data"><tr><th>optimizer</th><th>lr</th><th>seeds</th><th>diverged/failed</th>{head}</tr>'
            + "".join(body) + "</table>")


def _ranking_html(rank: pd.DataFrame, medians: pd.DataFrame, metrics: Mapping[str, str]) -> tuple[str, list[str]]:
    mean_rank = rank.mean(axis=0).sort_values()
    order = list(mean_rank.index)
    head = "".join(f"<th>{_esc(p)}<br><small>{_esc(metrics[p])}</small></th>" for p in rank.index)
    body = []
    for place, o in enumerate(order, start=1):
        cells = "".join(f"<td>{_fmt(rank.loc[p, o], 3)} <small>({_fmt(medians.loc[p, o])})</small></td>"
                        for p in rank.index)
        body.append(f'<tr><td>{place}</td><td><span class="swatch" style="background:{_color(o)}"></span>{_esc(o)}'
                    f"</td><td><b>{_fmt(mean_rank[o], 3)}</b></td>{cells}</tr>")
    table = (f'<table class="data"><tr><th>#</th><th>optimizer</th><th>mean rank</th>{head}</tr>'
             + "".join(body) + "</table>")
    return table, order


def _pairwise_html(pairs: Mapping[tuple[str, str], stats.PairVerdict], order: Sequence[str]) -> str:
    head = "".join(f"<th>{_esc(o)}</th>" for o in order)
    body = []
    for a in order:
        cells = []
        for b in order:
            if a == b:
                cells.append('<td class="self">—</td>')
                continue
            v = pairs[(a, b)]
            css = {"better": "win", "worse": "loss"}.get(v.verdict, "even")
            cells.append(f'<td class="{css}" title="{_esc(a)} vs {_esc(b)}: {v.verdict}">'
                         f"{v.wins}–{v.losses}<br><small>n={v.n}, p={_fmt(v.p, 2)}</small></td>")
        body.append(f"<tr><th>{_esc(a)}</th>{''.join(cells)}</tr>")
    return (f'<table class="data pairs"><tr><th>row vs column</th>{head}</tr>' + "".join(body) + "</table>")


# ------------------------------------------------------------------------------------------------ claims


def _claims_html(claims: pd.DataFrame | None, out: Path, files: dict[str, Path]) -> str:
    if claims is None or len(claims) == 0:
        return ("<p>No claims study in this store yet: run <code>optimlab bench --claims</code> to test the classic "
                "rules of thumb.</p>")
    parts = []
    for _, row in claims.iterrows():
        name = str(row["name"])
        verdict = str(row["verdict"])
        evidence = row.get("evidence") or {}
        if not isinstance(evidence, Mapping):
            evidence = {}
        css = {"supported": "win", "not supported": "loss"}.get(verdict, "even")
        figure_html = ""
        figure = evidence.get("figure")
        if isinstance(figure, Mapping):
            png = claim_png(name, figure, out / f"claim-{_slug(name)}.png")
            if png is not None:
                files[f"claim:{name}"] = png
                figure_html = png_img(png, f"evidence for: {name}")
        numbers = evidence.get("numbers") or {}
        rows = "".join(f"<tr><td>{_esc(k)}</td><td>{_esc(_plain(v))}</td></tr>" for k, v in numbers.items())
        thresholds = evidence.get("thresholds") or {}
        rule = "".join(f"<li>{_esc(k)}: {_esc(_plain(v))}</li>" for k, v in thresholds.items())
        setup = evidence.get("setup", "")
        parts.append(
            f'<div class="claim"><h3>“{_esc(name)}” <span class="verdict {css}">{_esc(verdict)}</span></h3>'
            f"<p>{_esc(row.get('summary', ''))}</p>"
            + (f'<p class="setup">{_esc(setup)}</p>' if setup else "")
            + '<div class="claim-body">'
            + figure_html
            + (f'<table class="data small">{rows}</table>' if rows else "")
            + "</div>"
            + (f"<details><summary>How the verdict is decided</summary><ul>{rule}</ul></details>" if rule else "")
            + "</div>"
        )
    return "".join(parts)


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return _fmt(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    return str(value)


def _cards_html(optimizers: Sequence[str]) -> str:
    """The study's cards, the family tree (the study's optimizers in blue), then the rest of the family's cards."""
    from ..registry import family_tree, get_preset
    from .family_tree import card_anchor, family_figure

    def card(o: str) -> str:
        try:
            body = get_preset(o).explain("en").to_html()
        except Exception as exc:  # a card missing is a gap in the docs, not a reason to lose the report
            body = f"<p>No explain card for {_esc(o)}: {_esc(exc)}</p>"
        return (f'<details class="card" data-optimizer="{_esc(o)}"><summary>'
                f'<span class="swatch" style="background:{_color(o)}"></span>{_esc(o)}: how it works</summary>'
                f"{card_anchor(o, body)}</details>")

    tree = family_tree("en")
    rest = [card(n.name) for n in tree if n.name not in optimizers]
    return ("".join(card(o) for o in optimizers)
            + f'<h3 id="family">The family tree</h3>{family_figure(tree, "en", set(optimizers))}'
            + ("<h3>The rest of the family</h3>" + "".join(rest) if rest else ""))


# ------------------------------------------------------------------------------------------------ page

_CSS = page_css(1180) + """
table.small { font-size: 0.8em; }
td.best { background: #e6f2ff; font-weight: 600; }
td.win, span.win { background: #d9f0d3; } td.loss, span.loss { background: #f6d5d0; }
td.even, span.even { background: #f4f1dc; }
td.self { background: #eee; text-align: center; }
.figs { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-start; }
.figs img { box-sizing: border-box; max-width: calc(50% - 6px); border: 1px solid #eee; }
.claim img { max-width: 100%; border: 1px solid #eee; }
.problem { margin-bottom: 28px; }
.claim { border: 1px solid #ddd; border-radius: 6px; padding: 6px 12px; margin: 10px 0; }
.claim h3 { margin: 4px 0; font-size: 1.05em; }
.claim-body { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.verdict { font-size: 0.8em; padding: 2px 8px; border-radius: 10px; margin-left: 6px; }
.setup { color: #555; font-size: 0.85em; }
nav a { margin-right: 12px; }
ul.glance { background: #f7f7f2; border: 1px solid #e2e2d6; border-radius: 6px; padding: 8px 12px 8px 28px; }
.note { max-width: 900px; font-size: 0.85em; }
"""


def write_report(results: Any, out_dir: str | Path) -> dict[str, Path]:
    """Write ``index.html`` (self-contained, offline) and the PNGs into ``out_dir``; returns name -> path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plan = _plan(results)
    trials = results.trials
    problems = [p for p in plan["problems"] if (trials["problem"] == p).any()] if len(trials) else []
    optimizers = list(plan["optimizers"])
    scored, phase = _scored(trials)
    chosen = _chosen_lrs(results, scored)
    metrics = {p: _metric_of(plan, "score_metric", p, "test_loss") for p in problems}
    goals = {p: _goal(plan, p, metrics[p]) for p in problems}
    files: dict[str, Path] = {}

    sections = []
    for p in problems:
        slug = _slug(p)
        figs = []
        lr_png = lr_sensitivity_png(results, p, out / f"{slug}-lr-sensitivity.png")
        if lr_png is not None:
            files[f"{p}:lr"] = lr_png
            figs.append(png_img(lr_png, f"{p}: learning-rate sensitivity"))
        cv_png = curves_png(results, p, scored, out / f"{slug}-curves.png")
        if cv_png is not None:
            files[f"{p}:curves"] = cv_png
            figs.append(png_img(cv_png, f"{p}: training curves"))
        if lr_png is None:
            figs.append('<p class="note">No learning-rate sweep for this problem (a defaults-only study): '
                        "every optimizer ran at its preset default.</p>")
        table = metrics_table(scored, p, optimizers, chosen, metrics[p])
        steps = (plan.get("steps") or {}).get(p)
        sections.append(
            f'<div class="problem" id="problem-{slug}"><h3>{_esc(p)}</h3>'
            f'<p class="meta">score: {_esc(metrics[p])} ({"lower" if goals[p] == "min" else "higher"} is better); '
            f"selection: {_esc(_metric_of(plan, 'selection_metric', p, 'valid_loss'))}"
            + (f"; {steps} steps" if steps else "") + "</p>"
            f'<div class="figs">{"".join(figs)}</div>'
            f"{_metrics_html(table, metrics[p], goals[p])}</div>"
        )

    across = "<p>Needs at least one problem with finished runs.</p>"
    glance: list[str] = []
    if problems and optimizers:
        medians = stats.median_scores(scored, problems, optimizers, metrics, goals)
        rank = stats.ranks(medians, goals)
        rank_html, order = _ranking_html(rank, medians, metrics)
        prof = stats.profile(stats.ratios(medians, goals, metrics), TAUS)
        files["profiles"] = profile_png(prof, out / "performance-profiles.png")
        pairs = stats.pairwise(scored, order, metrics, goals)
        mean_rank = rank.mean(axis=0)
        glance.append(f"<li>Best mean rank: <b>{_esc(order[0])}</b> ({_fmt(mean_rank[order[0]], 3)} over "
                      f"{len(problems)} problem(s)); last: {_esc(order[-1])} ({_fmt(mean_rank[order[-1]], 3)}).</li>")
        winners = ", ".join(f"{_esc(p)}: <b>{_esc(' = '.join(rank.columns[rank.loc[p] == rank.loc[p].min()]))}</b>"
                            for p in problems)
        glance.append(f"<li>Best per problem (median {'/'.join(sorted(set(metrics.values())))}): {winners}.</li>")
        clear = [v for v in pairs.values() if v.verdict == "better"]
        glance.append(f"<li>{len(clear)} of {len(pairs) // 2} pairs differ clearly over paired seeds "
                      f"(sign test, p &lt; {stats.ALPHA:g}).</li>")
        across = (
            "<h3>Ranking</h3><p class=\"note\">Rank of each optimizer's median score over seeds on each problem "
            "(1 = best, ties share the better rank; a diverged or failed seed counts as the worst score, so "
            "failing on half the seeds or more ranks last), averaged over problems; the median is in brackets."
            "</p>" + rank_html
            + "<h3>Performance profiles</h3>" + png_img(files["profiles"], "performance profiles")
            + f'<p class="note">{_esc(stats.PROFILE_DEFINITION)}</p>'
            + "<h3>Pairwise wins and losses over paired seeds</h3>"
            + f'<p class="note">Cell = row wins–row losses against the column, n = paired runs (ties included). '
            f"Green: row better, red: row worse, yellow: no clear difference. "
            f"{_esc(stats.SIGN_TEST.format(alpha=stats.ALPHA))}</p>" + _pairwise_html(pairs, order)
        )

    claims = getattr(results, "claims", None)
    claims_html = _claims_html(claims, out, files)
    if claims is not None and len(claims):
        counts = claims["verdict"].value_counts()
        glance.append("<li>Rules of thumb: " + ", ".join(f"{int(n)} {_esc(v)}" for v, n in counts.items())
                      + ' (<a href="#claims">details</a>).</li>')
    glance_html = f'<ul class="glance">{"".join(glance)}</ul>' if glance else ""
    claims_only = plan.get("kind") == "claims"
    protocol = _protocol(plan, phase)
    title = f"optimlab study: {results.name or results.study_id}"
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_esc(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{_esc(title)}</h1>
<p class="meta">study {_esc(results.study_id)} · {len(problems)} problem(s) · {len(optimizers)} optimizer(s) ·
{len(trials)} trial(s) · {protocol}</p>
{glance_html}
{"" if claims_only else _BENCH_NAV}
{"" if claims_only else f'<h2 id="across">Across problems</h2>{across}'}
{"" if claims_only else f'<h2 id="problems">Per problem</h2>{"".join(sections) or "<p>No trials yet.</p>"}'}
<h2 id="claims">The classic rules of thumb, tested</h2>{claims_html}
<h2 id="cards">Explain cards</h2>{_cards_html(optimizers)}
</body></html>
"""
    files["html"] = out / "index.html"
    files["html"].write_text(page, encoding="utf-8")
    return files


_BENCH_NAV = ('<nav><a href="#across">Across problems</a><a href="#problems">Per problem</a>'
              '<a href="#claims">Rules of thumb</a><a href="#cards">Explain cards</a>'
              '<a href="#family">Family tree</a></nav>')


def _protocol(plan: Mapping[str, Any], phase: str) -> str:
    if plan.get("kind") == "claims":
        return "claims study: each rule of thumb as an experiment, verdict from stated thresholds"
    if phase == "defaults" or plan.get("tune") is False:
        return "no tuning: every optimizer at its preset defaults"
    grid = plan.get("lr_grid") or []
    seeds = plan.get("seeds") or []
    text = "learning rate tuned on the validation split"
    if grid:
        text += f" over {len(grid)} values {_fmt(min(grid), 3)}…{_fmt(max(grid), 3)}"
    if seeds:
        text += f", then {len(seeds)} seeds scored on the test split"
    budget = plan.get("budget")
    return text + (f" · budget {_esc(budget)}" if budget else "")
