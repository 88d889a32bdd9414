"""What every claim shares: the quality measure q, the optimizer groups, the claim record and small helpers."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...engine.tuning import Outcome, Selection, rank

GOOD_Q = 0.9
"""A run is "as good as the best" when it reaches this fraction of the best improvement (q >= 0.9)."""

CLASSIC = ("minibatch", "momentum", "adagrad", "rmsprop", "adadelta", "adam")
SGD_FAMILY = ("minibatch", "momentum")
ADAPTIVE = ("adagrad", "rmsprop", "adam")

SELECTION_RULE = Selection("valid_loss", average="median", smaller_lr_wins_ties=True)
"""The claims' "tuned": the lowest median validation loss over seeds; a learning rate with a diverged seed has
no loss (ranked last); ties go to the smaller learning rate."""


@dataclass
class Claim:
    """One rule of thumb with its verdict, a one-paragraph summary and the evidence (numbers, thresholds, figure)."""

    name: str
    verdict: str
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    ko: dict[str, Any] = field(default_factory=dict)
    """The claim in Korean (stored in the evidence under ``"ko"``): ``name``, ``summary``, ``setup``, the
    ``thresholds`` and ``numbers`` tables, and ``figure`` (``title``, ``xlabel``, ``ylabel``, ``labels`` of series)."""


VERDICT_KO = {"supported": "지지됨", "not supported": "지지되지 않음", "depends": "조건부"}


def across_budgets(name: str, name_ko: str, parts: Sequence[tuple[str, str, Claim]]) -> Claim:
    """One claim from its verdicts at several budgets (``(label, Korean label, claim)``, shortest first).

    The verdict is the budgets' common verdict, or *depends* when they differ, and the summary then says at which
    budget it holds and where it flips. Numbers carry their budget; the thresholds are the (shared) rule's; the
    figure is the longest budget's."""
    verdicts = [c.verdict for _, _, c in parts]
    same = len(set(verdicts)) == 1
    verdict = verdicts[0] if same else "depends"
    per_en = "; ".join(f"{label}: {c.verdict}" for label, _, c in parts)
    per_ko = "; ".join(f"{label_ko}: {VERDICT_KO.get(c.verdict, c.verdict)}" for _, label_ko, c in parts)
    body_en = " ".join(f"At {label}: {c.summary}" for label, _, c in parts)
    body_ko = " ".join(f"{label_ko}: {c.ko.get('summary', c.summary)}" for _, label_ko, c in parts)
    if same:
        head_en, head_ko = f"The same verdict at every budget ({per_en}).", f"모든 예산에서 같은 판정입니다({per_ko})."
    else:
        head_en = f"The verdict changes with the budget ({per_en})."
        head_ko = f"판정이 예산에 따라 바뀝니다({per_ko})."
    last = parts[-1][2]
    numbers: dict[str, Any] = {}
    for label, _, c in parts:
        numbers |= {f"[{label}] {k}": v for k, v in (c.evidence.get("numbers") or {}).items()}
    figure = dict(last.evidence.get("figure") or {})
    if figure.get("title"):
        figure["title"] = f"{figure['title']} ({parts[-1][0]})"
    evidence = {**last.evidence, "numbers": numbers, "figure": figure,
                "budgets": [{"budget": label, "budget_ko": label_ko, "verdict": c.verdict, "summary": c.summary,
                             "summary_ko": c.ko.get("summary", "")} for label, label_ko, c in parts]}
    ko: dict[str, Any] = {"name": name_ko, "summary": f"{head_ko} {body_ko}", "setup": last.ko.get("setup", "")}
    if all(c.ko.get("numbers") for _, _, c in parts):
        ko["numbers"] = {f"[{label_ko}] {k}": v for _, label_ko, c in parts for k, v in c.ko["numbers"].items()}
    if last.ko.get("thresholds"):
        ko["thresholds"] = last.ko["thresholds"]
    figure_ko = dict(last.ko.get("figure") or {})
    if figure_ko.get("title"):
        figure_ko["title"] = f"{figure_ko['title']} ({parts[-1][1]})"
    if figure_ko:
        ko["figure"] = figure_ko
    return Claim(name, verdict, f"{head_en} {body_en}", evidence, ko=ko)


def verdict_of(held: int, total: int) -> str:
    """*supported* when a condition held in every case, *not supported* when in none, else *depends*."""
    if total and held == total:
        return "supported"
    return "depends" if held else "not supported"


@dataclass
class GridRun:
    """Final validation loss of every (optimizer, lr) on one problem, median over seeds, and the loss at init."""

    problem: str
    optimizers: tuple[str, ...]
    grid: tuple[float, ...]
    loss: dict[tuple[str, float], float]
    init_loss: float
    seconds: float
    steps: int = 0
    spread: dict[tuple[str, float], float] = field(default_factory=dict)
    """Sample standard deviation of the validation loss over seeds (NaN with one seed or a diverged one)."""
    seeds: int = 0
    n_train: int = 0
    n_valid: int = 0

    @property
    def best_loss(self) -> float:
        finite = [v for v in self.loss.values() if math.isfinite(v)]
        return min(finite) if finite else math.nan

    def sd(self, optimizer: str, lr: float) -> float:
        return self.spread.get((optimizer, lr), math.nan)

    def q(self, optimizer: str, lr: float) -> float:
        """Fraction of the best improvement reached (NaN: every seed diverged)."""
        value = self.loss.get((optimizer, lr), math.nan)
        span = self.init_loss - self.best_loss
        if not math.isfinite(value) or not span > 0:
            return math.nan
        return (self.init_loss - value) / span

    def tuned(self, optimizer: str) -> tuple[float, float]:
        """The grid's best lr for ``optimizer`` and its loss (the first grid lr and NaN if all diverged), by
        :data:`SELECTION_RULE`."""
        outcomes = [Outcome(lr, lr, {"valid_loss": self.loss[(optimizer, lr)]}) for lr in self.grid]
        best = rank(outcomes, SELECTION_RULE)[0]
        return float(best.config), best.score


def _default_lr(name: str) -> float:
    from ...registry import get_preset

    return float(get_preset(name).defaults()["lr"])


def _num(value: float, digits: int = 3) -> float | None:
    return float(f"{value:.{digits}g}") if math.isfinite(value) else None


def _steps_text(runs: Mapping[Any, GridRun]) -> str:
    return "/".join(str(s) for s in sorted({r.steps for r in runs.values()}))


def _data_text(runs: Mapping[Any, GridRun], lang: str = "en") -> str:
    """What the losses are means over: each problem's whole validation split (the claims never subsample)."""
    sizes = ", ".join(f"{r.problem} {r.n_valid}" for r in runs.values() if r.n_valid)
    if not sizes:
        return ""
    if lang == "ko":
        return f" 검증 손실은 검증 세트 전체로 쟀습니다({sizes}개)."
    return f" Validation loss on whole validation splits ({sizes} examples)."


def _defaults_q(run: GridRun) -> dict[str, float]:
    return {o: run.q(o, _default_lr(o)) for o in CLASSIC}


def _gt(a: float, b: float) -> bool:
    return math.isfinite(a) and (not math.isfinite(b) or a > b)


def _best_name(qs: Mapping[str, float], exclude: str | None = None, lang: str = "en") -> str:
    cands = {o: q for o, q in qs.items() if o != exclude and math.isfinite(q)}
    if not cands:
        return "끝난 실행 없음" if lang == "ko" else "none finished"
    o = max(cands, key=lambda k: cands[k])
    return f"{o} (q={cands[o]:.3f})"


def _clip_q(q: float) -> float:
    return max(q, -0.5) if math.isfinite(q) else -0.5


def _smooth(values: np.ndarray, window: int = 9) -> np.ndarray:
    kernel = np.ones(window) / window
    padded = np.pad(values, window // 2, mode="edge")
    return np.convolve(padded, kernel, mode="valid")[: len(values)]
