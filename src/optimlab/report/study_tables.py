"""The study report's HTML tables and blocks: test metrics per problem, the ranking, the pairwise win/loss
table, the claims' verdicts and the explain cards, each written in ``lang``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .. import stats
from ._embed import png_img
from ._i18n import Messages, metric_label
from ._study_common import color, esc, fmt, slug
from .study_figures import claim_png
from .study_text import TEXT


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
            row[m] = stats.spread(stats.usable(mine, m))
        out.append(row)
    return pd.DataFrame(out)


def _swatch(name: str) -> str:
    return f'<span class="swatch" style="background:{color(name)}"></span>'


def metrics_html(table: pd.DataFrame, score_metric: str, goal: str, lang: str = "en", examples: str = "") -> str:
    """The test-metrics table; ``examples`` ("500 of 896 test examples") heads every metric column."""
    words = Messages(TEXT, lang)
    if table.empty:
        return f"<p>{words('no_finished')}</p>"
    metric_cols = [c for c in table.columns if c.startswith("test_")]
    best = None
    if score_metric in table:
        medians = [row["median"] for row in table[score_metric]]
        finite = [m for m in medians if math.isfinite(m)]
        if finite:
            best = min(finite) if goal == "min" else max(finite)
    on = f"<br><small class=\"examples\">{esc(examples)}</small>" if examples else ""
    head = "".join(f"<th>{esc(metric_label(c, lang))}{on}<br><small>{words('spread')}</small></th>"
                   for c in metric_cols)
    body = []
    for _, row in table.iterrows():
        cells = []
        for c in metric_cols:
            s = row[c]
            mark = ' class="best"' if c == score_metric and best is not None and s["median"] == best else ""
            cells.append(f"<td{mark}>{fmt(s['median'])} [{fmt(s['q1'], 3)}, {fmt(s['q3'], 3)}]<br>"
                         f"<small>{fmt(s['mean'])} ± {fmt(s['sd'], 2)} (n={s['n']})</small></td>")
        body.append(f"<tr><td>{_swatch(row['optimizer'])}{esc(row['optimizer'])}</td><td>{fmt(row['lr'], 3)}</td>"
                    f"<td>{row['seeds']}</td><td>{row['diverged/failed']}</td>{''.join(cells)}</tr>")
    return (f'<table class="data"><tr><th>{words("optimizer")}</th><th>{words("lr")}</th><th>{words("seeds")}</th>'
            f'<th>{words("failed")}</th>{head}</tr>' + "".join(body) + "</table>")


def ranking_html(rank: pd.DataFrame, medians: pd.DataFrame, metrics: Mapping[str, str],
                 lang: str = "en", examples: Mapping[str, str] | None = None) -> tuple[str, list[str]]:
    """The ranking table, best mean rank first, and that order; ``examples[problem]`` says what each problem's
    score averages over."""
    words = Messages(TEXT, lang)
    mean_rank = rank.mean(axis=0).sort_values()
    order = list(mean_rank.index)
    on = dict(examples or {})
    head = "".join(f"<th>{esc(p)}<br><small>{esc(metric_label(metrics[p], lang))}"
                   f"{'<br>' + esc(on[p]) if on.get(p) else ''}</small></th>" for p in rank.index)
    body = []
    for place, o in enumerate(order, start=1):
        cells = "".join(f"<td>{fmt(rank.loc[p, o], 3)} <small>({fmt(medians.loc[p, o])})</small></td>"
                        for p in rank.index)
        body.append(f"<tr><td>{place}</td><td>{_swatch(o)}{esc(o)}</td><td><b>{fmt(mean_rank[o], 3)}</b></td>"
                    f"{cells}</tr>")
    table = (f'<table class="data"><tr><th>{words("place")}</th><th>{words("optimizer")}</th>'
             f'<th>{words("mean_rank")}</th>{head}</tr>' + "".join(body) + "</table>")
    return table, order


def pairwise_html(pairs: Mapping[tuple[str, str], stats.PairVerdict], order: Sequence[str], lang: str = "en") -> str:
    words = Messages(TEXT, lang)
    head = "".join(f"<th>{esc(o)}</th>" for o in order)
    body = []
    for a in order:
        cells = []
        for b in order:
            if a == b:
                cells.append('<td class="self">—</td>')
                continue
            v = pairs[(a, b)]
            css = {"better": "win", "worse": "loss"}.get(v.verdict, "even")
            title = words("pair_title", a=a, b=b, verdict=words(v.verdict))
            cells.append(f'<td class="{css}" title="{esc(title)}">'
                         f"{v.wins}–{v.losses}<br><small>n={v.n}, p={fmt(v.p, 2)}</small></td>")
        body.append(f"<tr><th>{esc(a)}</th>{''.join(cells)}</tr>")
    return (f'<table class="data pairs"><tr><th>{words("row_vs_column")}</th>{head}</tr>' + "".join(body)
            + "</table>")


def claims_html(claims: pd.DataFrame | None, out: Path, files: dict[str, Path], lang: str = "en") -> str:
    """The claims: first one table (claim, verdict, verdict per budget, the figure that shows why), then each
    claim's summary, setup, figure, numbers and rule. Prose comes from the claims study in ``lang`` where it wrote
    that language (``evidence["ko"]``), else as written."""
    words = Messages(TEXT, lang)
    if claims is None or len(claims) == 0:
        return f"<p>{words('no_claims')}</p>"
    parts, rows = [], []
    for _, row in claims.iterrows():
        name = str(row["name"])
        verdict = str(row["verdict"])
        evidence = row.get("evidence") or {}
        if not isinstance(evidence, Mapping):
            evidence = {}
        found = evidence.get("ko")
        local: Mapping[str, Any] = found if lang == "ko" and isinstance(found, Mapping) else {}
        text_lang = "ko" if local.get("summary") else "en"
        title = str(local.get("name") or name)
        summary = str(local.get("summary") or row.get("summary", ""))
        setup = str(local.get("setup") or evidence.get("setup", ""))
        anchor = f"claim-{slug(name)}"
        figure_html, thumb = "", ""
        figure = evidence.get("figure")
        if isinstance(figure, Mapping):
            local_figure = _part(local, "figure")
            png = claim_png(name, figure, out / f"claim-{slug(name)}.png", lang, local_figure)
            if png is not None:
                files[f"claim:{name}"] = png
                figure_html = f'<span id="{anchor}-figure">{png_img(png, words("alt_claim", name=title))}</span>'
                caption = local_figure.get("title") or figure.get("title") or words("alt_claim", name=title)
                thumb = f'<a href="#{anchor}-figure">{esc(caption)}</a>'
        numbers, numbers_lang = _localized(evidence, local, "numbers", lang)
        table = "".join(f"<tr><td>{esc(k)}</td><td>{esc(plain(v))}</td></tr>" for k, v in numbers.items())
        thresholds, rule_lang = _localized(evidence, local, "thresholds", lang)
        rule = "".join(f"<li>{esc(k)}: {esc(plain(v))}</li>" for k, v in thresholds.items())
        budgets = [b for b in evidence.get("budgets") or [] if isinstance(b, Mapping)]
        per_budget = "<br>".join(
            f"{esc(b.get('budget_ko') if lang == 'ko' and b.get('budget_ko') else b.get('budget', ''))}: "
            f'<span class="verdict {_css(str(b.get("verdict")))}">{esc(_label(str(b.get("verdict")), words))}</span>'
            for b in budgets)
        rows.append(f'<tr><td lang="{text_lang}"><a href="#{anchor}">{esc(title)}</a></td>'
                    f'<td><span class="verdict {_css(verdict)}">{esc(_label(verdict, words))}</span></td>'
                    f"<td>{per_budget or '–'}</td><td>{thumb}</td></tr>")
        parts.append(
            f'<div class="claim" id="{anchor}" lang="{text_lang}"><h3>“{esc(title)}” '
            f'<span lang="{lang}" class="verdict {_css(verdict)}">{esc(_label(verdict, words))}</span></h3>'
            f"<p>{esc(summary)}</p>"
            + (f'<p class="setup">{esc(setup)}</p>' if setup else "")
            + '<div class="claim-body">'
            + figure_html
            + (f'<table class="data small" lang="{numbers_lang}">{table}</table>' if table else "")
            + "</div>"
            + (f'<details><summary lang="{lang}">{words("how_decided")}</summary>'
               f'<ul lang="{rule_lang}">{rule}</ul></details>' if rule else "")
            + "</div>"
        )
    lead = (f'<table class="data claims-table"><tr><th>{words("claim")}</th><th>{words("verdict")}</th>'
            f'<th>{words("per_budget")}</th><th>{words("why_figure")}</th></tr>' + "".join(rows) + "</table>")
    return lead + "".join(parts)


def _part(local: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    found = local.get(key)
    return found if isinstance(found, Mapping) else {}


def _localized(evidence: Mapping[str, Any], local: Mapping[str, Any], key: str,
               lang: str) -> tuple[Mapping[str, Any], str]:
    """The evidence's ``key`` table in ``lang`` where the claims study wrote it (``local``), else as stored (English;
    older studies stored only that), with the language it is in."""
    mine = _part(local, key)
    if mine:
        return mine, lang
    found = evidence.get(key)
    return (found if isinstance(found, Mapping) else {}), "en"


def _css(verdict: str) -> str:
    return {"supported": "win", "not supported": "loss"}.get(verdict, "even")


def _label(verdict: str, words: Messages) -> str:
    return words(verdict) if verdict in TEXT["en"] else verdict


def plain(value: Any) -> str:
    if isinstance(value, float):
        return fmt(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(plain(v) for v in value)
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {plain(v)}" for k, v in value.items())
    return str(value)


def cards_html(optimizers: Sequence[str], lang: str = "en") -> str:
    """The study's cards, the family tree (the study's optimizers in blue), then the rest of the family's cards."""
    from ..registry import family_tree, get_preset
    from .family_tree import card_anchor, family_figure

    words = Messages(TEXT, lang)

    def card(o: str) -> str:
        try:
            body = get_preset(o).explain(lang).to_html()
        except Exception as exc:  # a card missing is a gap in the docs, not a reason to lose the report
            body = f"<p>{esc(words('no_card', optimizer=o, error=exc))}</p>"
        return (f'<details class="card" data-optimizer="{esc(o)}"><summary>{_swatch(o)}'
                f"{esc(words('how_it_works', optimizer=o))}</summary>{card_anchor(o, body)}</details>")

    tree = family_tree(lang)
    rest = [card(n.name) for n in tree if n.name not in optimizers]
    return ("".join(card(o) for o in optimizers)
            + f'<h3 id="family">{words("family_tree")}</h3>{family_figure(tree, lang, set(optimizers))}'
            + (f"<h3>{words('rest_of_family')}</h3>" + "".join(rest) if rest else ""))
