"""What every part of the study report reads: the plan with its defaults, the scored trials, the chosen learning
rates, and the formatting of numbers, names and colours."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..palette import color_of


def color(name: str) -> str:
    """The optimizer's colour in every picture (the gallery's palette)."""
    return color_of(name)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "x"


def fmt(value: Any, digits: int = 4) -> str:
    """A number in ``digits`` significant digits; – for missing, ∞ for infinite."""
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


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def plan_of(results: Any) -> dict[str, Any]:
    """The study's plan, with its problems and optimizers filled in from the trials when the plan lacks them."""
    plan = dict(results.plan or {})
    trials = results.trials
    plan.setdefault("problems", list(dict.fromkeys(trials["problem"])) if len(trials) else [])
    plan.setdefault("optimizers", list(dict.fromkeys(trials["optimizer"])) if len(trials) else [])
    return plan


def metric_of(plan: Mapping[str, Any], key: str, problem: str, default: str) -> str:
    return str((plan.get(key) or {}).get(problem, default))


def goal_of(plan: Mapping[str, Any], problem: str, metric: str) -> str:
    goals = (plan.get("goals") or {}).get(problem, {})
    if metric in goals:
        return str(goals[metric])
    return "max" if "accuracy" in metric else "min"


def scored_trials(trials: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The trials the comparison scores: the tuned re-runs, or the untuned runs of a defaults-only study."""
    for phase in ("final", "defaults"):
        rows = trials[trials["phase"] == phase]
        if len(rows):
            return rows, phase
    return trials.iloc[0:0], "final"


def chosen_lrs(results: Any, scored: pd.DataFrame) -> dict[tuple[str, str], float]:
    """``(problem, optimizer) -> lr`` the study selected (else the lr its scored runs used)."""
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


def examples_note(plan: Mapping[str, Any], problem: str, split: str, lang: str = "en") -> str:
    """How many examples of ``problem``'s ``split`` the metrics average over, in ``lang`` ("" when unknown)."""
    from ..study.plan import eval_examples

    used, total = eval_examples(plan, problem, split)
    if used is None:
        return ""
    ko = lang == "ko"
    names = {"valid": "검증", "test": "테스트"} if ko else {"valid": "validation", "test": "test"}
    name = names.get(split, split)
    if total is None:
        return f"{name} 예제 앞쪽 {used}개" if ko else f"the first {used} {name} examples"
    if used == total:
        return f"{name} 예제 {total}개 전체" if ko else f"all {total} {name} examples"
    return f"{name} 예제 {total}개 중 {used}개" if ko else f"{used} of {total} {name} examples"
