"""The study report: one self-contained HTML page (PNG figures embedded as data URIs, no scripts) and the PNGs,
in English (default) or Korean.

Per problem: learning-rate sensitivity, training curves of the tuned settings (median and min–max band over
seeds) and the test metrics with their spread. Across problems: mean rank, performance profiles
(Dolan–Moré), a pairwise win/loss table over paired seeds with a sign test, the verdicts of the ``claims``
study, and each optimizer's explain card. The figures are in :mod:`.study_figures`, the tables in
:mod:`.study_tables`, every word in :mod:`.study_text`.

``results`` is a :class:`optimlab.study.results.StudyResults` (or any object with the same fields).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import stats
from ._embed import png_img
from ._i18n import Messages, check_lang, metric_label
from ._study_common import chosen_lrs, esc, examples_note, fmt, goal_of, metric_of, plan_of, scored_trials, slug
from .study_figures import claim_png, curves_png, lr_sensitivity_png, profile_png
from .study_tables import cards_html, claims_html, metrics_html, metrics_table, pairwise_html, ranking_html
from .study_text import TEXT
from .style import page_css

__all__ = ["claim_png", "curves_png", "lr_sensitivity_png", "metrics_table", "profile_png", "write_report"]

TAUS = np.linspace(1.0, 4.0, 121)

CSS = page_css(1180) + """
table.small { font-size: 0.8em; }
td.best { background: #e6f2ff; font-weight: 600; }
td.win, span.win { background: #d9f0d3; } td.loss, span.loss { background: #f6d5d0; }
td.even, span.even { background: #f4f1dc; }
td.self { background: #eee; text-align: center; }
.figs { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-start; }
.figs img { box-sizing: border-box; max-width: calc(50% - 6px); border: 1px solid #eee; }
.claim img { max-width: 100%; border: 1px solid #eee; }
.claims-table td { vertical-align: top; text-align: left; }
.problem { margin-bottom: 28px; }
.claim { border: 1px solid #ddd; border-radius: 6px; padding: 6px 12px; margin: 10px 0; }
.claim h3 { margin: 4px 0; font-size: 1.05em; }
.claim-body { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.verdict { font-size: 0.8em; padding: 2px 8px; border-radius: 10px; margin-left: 6px; }
.setup { color: #555; font-size: 0.85em; }
nav a { margin-right: 12px; }
ul.glance { background: #f7f7f2; border: 1px solid #e2e2d6; border-radius: 6px; padding: 8px 12px 8px 28px; }
.note { font-size: 0.85em; max-width: 900px; }
"""
"""The page's whole style sheet (one constant, for the shared style module to take over)."""


def write_report(results: Any, out_dir: str | Path, lang: str = "en") -> dict[str, Path]:
    """Write ``index.html`` (self-contained, offline) and the PNGs into ``out_dir`` in ``lang`` (en, ko);
    returns name -> path."""
    words = Messages(TEXT, check_lang(lang))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plan = plan_of(results)
    trials = results.trials
    problems = [p for p in plan["problems"] if (trials["problem"] == p).any()] if len(trials) else []
    optimizers = list(plan["optimizers"])
    scored, phase = scored_trials(trials)
    metrics = {p: metric_of(plan, "score_metric", p, "test_loss") for p in problems}
    files: dict[str, Path] = {}
    sections = "".join(_problem_section(results, p, plan, scored, metrics[p], out, files, lang) for p in problems)
    across, glance = _across(scored, problems, optimizers, plan, metrics, out, files, lang)

    claims = getattr(results, "claims", None)
    claims_block = claims_html(claims, out, files, lang)
    if claims is not None and len(claims):
        counts = claims["verdict"].value_counts()
        listed = ", ".join(words("verdict_count", n=int(n), verdict=esc(words(v) if v in TEXT["en"] else v))
                           for v, n in counts.items())
        glance.append(f"<li>{words('glance_claims', counts=listed)}</li>")
    glance_html = f'<ul class="glance">{"".join(glance)}</ul>' if glance else ""
    claims_only = plan.get("kind") == "claims"
    title = words("title", name=results.name or results.study_id)
    meta = words("meta", study=esc(results.study_id), problems=len(problems), optimizers=len(optimizers),
                 trials=len(trials), protocol=_protocol(plan, phase, words))
    nav = "".join(f'<a href="#{anchor}">{words("nav_" + key)}</a>' for key, anchor in
                  (("across", "across"), ("problems", "problems"), ("claims", "claims"), ("cards", "cards"),
                   ("family", "family")))
    bench_parts = "" if claims_only else (
        f"<nav>{nav}</nav>\n<h2 id=\"across\">{words('across')}</h2>{across}\n"
        f"<h2 id=\"problems\">{words('problems')}</h2>{sections or '<p>' + words('no_trials') + '</p>'}")
    page = f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title><style>{CSS}</style></head>
<body>
<h1>{esc(title)}</h1>
<p class="meta">{meta}</p>
{glance_html}
{bench_parts}
<h2 id="claims">{words('claims')}</h2>{claims_block}
<h2 id="cards">{words('cards')}</h2>{cards_html(optimizers, lang)}
</body></html>
"""
    files["html"] = out / "index.html"
    files["html"].write_text(page, encoding="utf-8")
    return files


def _problem_section(results: Any, p: str, plan: Mapping[str, Any], scored: Any, metric: str, out: Path,
                     files: dict[str, Path], lang: str) -> str:
    """One problem: its two figures, what it is scored and selected on, and its test-metrics table."""
    words = Messages(TEXT, lang)
    s = slug(p)
    goal = goal_of(plan, p, metric)
    figs = []
    lr_png = lr_sensitivity_png(results, p, out / f"{s}-lr-sensitivity.png", lang)
    if lr_png is not None:
        files[f"{p}:lr"] = lr_png
        figs.append(png_img(lr_png, words("alt_lr", problem=p)))
    cv_png = curves_png(results, p, scored, out / f"{s}-curves.png", lang)
    if cv_png is not None:
        files[f"{p}:curves"] = cv_png
        figs.append(png_img(cv_png, words("alt_curves", problem=p)))
    if lr_png is None:
        figs.append(f'<p class="note">{words("no_sweep")}</p>')
    table = metrics_table(scored, p, list(plan["optimizers"]), chosen_lrs(results, scored), metric)
    examples = examples_note(plan, p, "test", lang)
    steps = (plan.get("steps") or {}).get(p)
    selection = metric_label(metric_of(plan, "selection_metric", p, "valid_loss"), lang)
    meta = words("problem_meta", score=esc(metric_label(metric, lang)), selection=esc(selection),
                 direction=words("lower" if goal == "min" else "higher"))
    valid = examples_note(plan, p, "valid", lang)
    if examples or valid:
        meta += esc(words("problem_examples", test=examples or "–", valid=valid or "–"))
        if plan.get("max_eval_examples"):
            meta += esc(words("subset_why", n=plan["max_eval_examples"]))
    return (f'<div class="problem" id="problem-{s}"><h3>{esc(p)}</h3>'
            f'<p class="meta">{meta}{words("problem_steps", steps=steps) if steps else ""}</p>'
            f'<div class="figs">{"".join(figs)}</div>{metrics_html(table, metric, goal, lang, examples)}</div>')


def _across(scored: Any, problems: list[str], optimizers: list[str], plan: Mapping[str, Any],
            metrics: Mapping[str, str], out: Path, files: dict[str, Path], lang: str) -> tuple[str, list[str]]:
    """The across-problems section (ranking, profiles, pairwise table) and the lines of the summary at a glance."""
    words = Messages(TEXT, lang)
    if not (problems and optimizers):
        return f"<p>{words('needs_problem')}</p>", []
    goals = {p: goal_of(plan, p, metrics[p]) for p in problems}
    medians = stats.median_scores(scored, problems, optimizers, metrics, goals)
    rank = stats.ranks(medians, goals)
    rank_html, order = ranking_html(rank, medians, metrics, lang,
                                    {p: examples_note(plan, p, metrics[p].split("_")[0], lang) for p in problems})
    prof = stats.profile(stats.ratios(medians, goals, metrics), TAUS)
    files["profiles"] = profile_png(prof, out / "performance-profiles.png", lang)
    pairs = stats.pairwise(scored, order, metrics, goals)
    mean_rank = rank.mean(axis=0)
    best, last = order[0], order[-1]
    line = words("glance_rank", best=esc(best), best_rank=fmt(mean_rank[best], 3), n=len(problems), last=esc(last),
                 last_rank=fmt(mean_rank[last], 3))
    glance = [f"<li>{line}</li>"]
    winners = ", ".join(f"{esc(p)}: <b>{esc(' = '.join(rank.columns[rank.loc[p] == rank.loc[p].min()]))}</b>"
                        for p in problems)
    shown = "/".join(metric_label(m, lang) for m in sorted(set(metrics.values())))
    glance.append(f"<li>{words('glance_best', metrics=esc(shown), winners=winners)}</li>")
    clear = [v for v in pairs.values() if v.verdict == "better"]
    alpha = f"{stats.ALPHA:g}"
    line = words("glance_pairs", clear=len(clear), pairs=len(pairs) // 2, alpha=alpha)
    glance.append(f"<li>{line}</li>")
    across = (
        f"<h3>{words('ranking')}</h3><p class=\"note\">{words('ranking_note')}</p>{rank_html}"
        f"<h3>{words('profiles')}</h3>{png_img(files['profiles'], words('alt_profiles'))}"
        f'<p class="note">{esc(words("profile_definition"))}</p>'
        f"<h3>{words('pairwise')}</h3>"
        f'<p class="note">{words("pairwise_note")} {esc(words("sign_test", alpha=alpha))}</p>'
        + pairwise_html(pairs, order, lang)
    )
    return across, glance


def _protocol(plan: Mapping[str, Any], phase: str, words: Messages) -> str:
    if plan.get("kind") == "claims":
        return words("protocol_claims")
    if phase == "defaults" or plan.get("tune") is False:
        return words("protocol_defaults")
    grid = plan.get("lr_grid") or []
    seeds = plan.get("seeds") or []
    text = words("protocol_tuned")
    if grid:
        text += words("protocol_grid", n=len(grid), low=fmt(min(grid), 3), high=fmt(max(grid), 3))
    if seeds:
        text += words("protocol_seeds", n=len(seeds))
    budget = plan.get("budget")
    return text + (words("protocol_budget", budget=esc(budget)) if budget else "")
