"""The claims read from lr grids: "when unsure, use Adam", "sparse data → adaptive methods", "AdaDelta needs
no learning rate"."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ...palette import color_of
from ._common import (
    ADAPTIVE,
    CLASSIC,
    GOOD_Q,
    SGD_FAMILY,
    Claim,
    GridRun,
    _best_name,
    _clip_q,
    _default_lr,
    _defaults_q,
    _gt,
    _num,
    _steps_text,
)


def claim_adam_default(runs: Mapping[str, GridRun]) -> Claim:
    """"When unsure, use Adam": Adam at its default lr against the others at defaults and tuned."""
    numbers: dict[str, Any] = {}
    safe: list[str] = []
    series: dict[str, dict[str, Any]] = {}
    names = list(runs)
    for o in CLASSIC:
        series[f"{o} (default lr)"] = {"x": list(range(len(names))), "y": [], "style": "o-", "color": None}
    for p, run in runs.items():
        qs = {o: run.q(o, _default_lr(o)) for o in CLASSIC}
        tuned = {o: run.q(o, run.tuned(o)[0]) for o in CLASSIC}
        q_adam = qs["adam"]
        better_defaults = sorted(o for o in CLASSIC if o != "adam" and _gt(qs[o], q_adam))
        numbers[f"{p}: Adam default q"] = _num(q_adam)
        numbers[f"{p}: best other default"] = _best_name(qs, exclude="adam")
        numbers[f"{p}: best tuned"] = _best_name(tuned)
        numbers[f"{p}: defaults beating Adam's"] = better_defaults or "none"
        if math.isfinite(q_adam) and q_adam >= GOOD_Q:
            safe.append(p)
        for o in CLASSIC:
            series[f"{o} (default lr)"]["y"].append(_clip_q(qs[o]))
    for o in CLASSIC:
        series[f"{o} (default lr)"]["color"] = color_of(o)
    n, k = len(runs), len(safe)
    failed = [p for p in runs if p not in safe]
    per_problem = "; ".join(
        f"{p}: q = {runs[p].q('adam', _default_lr('adam')):.2f}, best default {_best_name(_defaults_q(runs[p]))}"
        for p in runs)
    if k == n:
        verdict = "supported"
        summary = (f"Adam at its default lr (1e-3) reached at least {GOOD_Q:.0%} of the best improvement on every "
                   f"problem tried ({', '.join(runs)}).")
    elif 2 * k >= n:
        verdict = "depends"
        summary = (f"Adam's default was good on {k} of {n} problems; it fell short on {', '.join(failed)} "
                   f"({per_problem}): it depends on the problem, and tuning its lr still matters there.")
    else:
        verdict = "not supported"
        summary = (f"Adam's default lr reached {GOOD_Q:.0%} of the best on only {k} of {n} problems ({per_problem}): "
                   "at this budget other defaults were the safer first choice.")
    return Claim("when unsure, use Adam", verdict, summary, {
        "setup": f"Every optimizer at its preset default lr and on the lr grid, {_steps_text(runs)} steps, one "
                 "population per problem; q = fraction of the best validation-loss improvement any run reached on "
                 "that problem (so a short budget favours larger learning rates).",
        "numbers": numbers,
        "thresholds": {"good run": f"q >= {GOOD_Q}", "supported": "Adam's default is good on every problem",
                       "depends": "good on at least half of them", "not supported": "good on fewer than half"},
        "figure": {"kind": "lines", "title": "quality at the default lr", "xlabel": "problem", "ylabel": "q (1 = best)",
                   "xticklabels": names, "series": series},
    })


def claim_sparse_adaptive(
    runs: Mapping[float, GridRun], density: Mapping[float, float], gap_min: float = 0.02
) -> Claim:
    """"Sparse data → adaptive methods": tuned adaptive vs tuned SGD/momentum as feature sparsity grows."""
    rows = []
    for e in sorted(runs, key=lambda e: -density[e]):  # densest first
        run = runs[e]
        sgd = min(run.tuned(o)[1] for o in SGD_FAMILY)
        ada = min(run.tuned(o)[1] for o in ADAPTIVE)
        gap = (sgd - ada) / abs(sgd) if math.isfinite(sgd) and math.isfinite(ada) and sgd != 0 else math.nan
        rows.append((e, density[e], sgd, ada, gap))
    wins = [r for r in rows if math.isfinite(r[4]) and r[4] > gap_min]
    # "grows": larger at the sparsest level than at the densest (not necessarily monotone in between)
    grows = len(rows) >= 2 and math.isfinite(rows[-1][4]) and math.isfinite(rows[0][4]) and rows[-1][4] > rows[0][4]
    numbers = {f"density {d:.3f} (exponent {e:g})": f"SGD-family loss {sgd:.4g}, adaptive {ada:.4g}, "
                                                    f"adaptive lower by {gap:+.1%}"
               for e, d, sgd, ada, gap in rows}
    numbers["adaptive advantage larger at the sparsest than the densest"] = "yes" if grows else "no"
    if len(wins) == len(rows) and grows:
        verdict = "supported"
        summary = (f"Tuned adaptive methods beat tuned SGD/momentum by more than {gap_min:.0%} at every sparsity, "
                   "and the gap is larger at the sparsest level than at the densest.")
    elif wins:
        verdict = "depends"
        where = ", ".join(f"{d:.3f}" for _, d, *_ in wins)
        gaps = ", ".join(f"{gap:+.1%} at density {d:.3f}" for _, d, _, _, gap in rows)
        summary = (f"Adaptive methods won clearly (by more than {gap_min:.0%}) only at feature density {where}, "
                   f"{len(wins)} of {len(rows)} levels (advantage {gaps}): it depends on how sparse the data is.")
    else:
        verdict = "not supported"
        summary = (f"Tuned SGD/momentum were within {gap_min:.0%} of (or better than) the adaptive methods at "
                   "every sparsity.")
    series = {o: {"x": [r[1] for r in rows], "y": [runs[r[0]].tuned(o)[1] for r in rows], "style": "o-"}
              for o in (*SGD_FAMILY, *ADAPTIVE)}
    return Claim("sparse data → adaptive methods", verdict, summary, {
        "setup": "sparse-logreg with power-law feature frequencies at several exponents; each optimizer's lr tuned "
                 "on the grid; best of {minibatch, momentum} against best of {adagrad, rmsprop, adam}.",
        "numbers": numbers,
        "thresholds": {"adaptive wins at a level": f"its tuned validation loss is lower by more than {gap_min:.0%}",
                       "supported": "wins at every level and the gap is larger at the sparsest than the densest",
                       "depends": "wins at some levels", "not supported": "wins at none"},
        "figure": {"kind": "lines", "title": "tuned validation loss vs density",
                   "xlabel": "fraction of features present",
                   "ylabel": "validation loss", "logx": True, "series": series},
    })


def claim_adadelta_no_lr(runs: Mapping[str, GridRun]) -> Claim:
    """"AdaDelta needs no learning rate": does lr = 1 (its default) work on every problem, and how sensitive is it?"""
    grid = next(iter(runs.values())).grid
    worst = {o: [min((r.q(o, lr) if math.isfinite(r.q(o, lr)) else -math.inf) for r in runs.values())
                 for lr in grid] for o in CLASSIC}
    at_one = {p: run.q("adadelta", 1.0) for p, run in runs.items()}
    good = [p for p, q in at_one.items() if math.isfinite(q) and q >= GOOD_Q]
    best_single = {o: max(worst[o]) for o in CLASSIC}
    width = {o: sum(1 for v in worst[o] if v >= 0.5) for o in CLASSIC}
    numbers: dict[str, Any] = {f"{p}: AdaDelta lr=1 q": _num(q) for p, q in at_one.items()}
    numbers |= {f"{p}: AdaDelta best lr": r.tuned("adadelta")[0] for p, r in runs.items()}
    numbers |= {f"{o}: best one-lr-for-all worst-case q": _num(best_single[o]) for o in CLASSIC}
    numbers |= {f"{o}: grid points with worst-case q ≥ 0.5": width[o] for o in CLASSIC}
    n = len(runs)
    if len(good) == n:
        verdict = "supported"
        summary = f"AdaDelta at lr = 1 reached at least {GOOD_Q:.0%} of the best on every problem ({', '.join(runs)})."
    elif good:
        verdict = "depends"
        bad = [p for p in runs if p not in good]
        best = ", ".join(f"{p} {runs[p].tuned('adadelta')[0]:g}" for p in bad)
        edge = " (the top of the grid: larger may be better still)" if any(
            runs[p].tuned("adadelta")[0] == max(grid) for p in bad) else ""
        summary = (f"AdaDelta at lr = 1 was good on {', '.join(good)} but not on {', '.join(bad)} (best lr there: "
                   f"{best}{edge}): whether its default works depends on the problem.")
    else:
        verdict = "not supported"
        tuned_lrs = ", ".join(f"{p} {r.tuned('adadelta')[0]:g}" for p, r in runs.items())
        summary = (f"AdaDelta at lr = 1 reached {GOOD_Q:.0%} of the best on none of the {n} problems at this budget; "
                   f"its best lrs were {tuned_lrs}: it still needs its learning rate tuned.")
    series = {o: {"x": list(grid), "y": [max(v, -0.5) for v in worst[o]], "style": "o-"} for o in CLASSIC}
    return Claim("AdaDelta needs no learning rate", verdict, summary, {
        "setup": f"The lr grid on every problem ({_steps_text(runs)} steps); for each optimizer and lr, the worst q "
                 "over problems (one lr for all problems).",
        "numbers": numbers,
        "thresholds": {"good": f"q >= {GOOD_Q} at lr = 1", "supported": "good on every problem",
                       "depends": "good on some", "not supported": "good on none"},
        "figure": {"kind": "lines", "title": "worst q over problems at one lr", "xlabel": "learning rate",
                   "ylabel": "worst-case q (clipped at -0.5)", "logx": True, "series": series},
    })
