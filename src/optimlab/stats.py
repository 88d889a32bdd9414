"""Statistics the verbs and the reports share: errors from metrics, spread over seeds, ranks, performance
profiles and paired tests between optimizers.

The study report and ``optimlab report`` read the frame functions (plain pandas frames shaped like
:class:`optimlab.study.results.StudyResults` ``trials``: one row per trial with ``problem``, ``optimizer``,
``seed``, ``status`` and one column per metric, so they can be tested without a store); the advisor reads
:func:`paired_test` and :func:`to_error`. This module imports nothing from optimlab, so every layer may use it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

# The words that define the profiles and the sign test, in each language, are the study report's
# (report/study_text.py).

ALPHA = 0.05


def error_of(values: pd.Series | np.ndarray, goal: str, metric: str) -> np.ndarray:
    """Turn a metric into an error, lower is better: ``min`` metrics as they are, fractions in [0, 1] with goal
    ``max`` (accuracies) as ``1 − value``, other ``max`` metrics negated."""
    v = np.asarray(values, dtype=float)
    if goal == "min":
        return v
    finite = v[np.isfinite(v)]
    if finite.size and finite.min() >= 0.0 and finite.max() <= 1.0:
        return 1.0 - v
    return -v


def to_error(values: np.ndarray, goal: str) -> np.ndarray:
    """A metric as an ordering key, lower is better (``max`` metrics negated); NaN (diverged) becomes +inf.

    Unlike :func:`error_of` this needs no scale (it only orders runs and averages of runs), so a ``max`` metric
    is negated whatever its range."""
    v = np.asarray(values, dtype=float)
    e = v if goal == "min" else -v
    return np.where(np.isfinite(e), e, np.inf)


def better(a: float, b: float, goal: str) -> int:
    """+1 if ``a`` beats ``b`` under ``goal`` (NaN counts as the worst), -1 if it loses, 0 on a tie."""
    a_ok, b_ok = math.isfinite(a), math.isfinite(b)
    if not a_ok or not b_ok:
        return int(a_ok) - int(b_ok)
    if a == b:
        return 0
    return 1 if (a < b) == (goal == "min") else -1


def spread(values: Sequence[float] | pd.Series) -> dict[str, float]:
    """Median, quartiles, mean, standard deviation and count of the finite values."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        nan = math.nan
        return {"median": nan, "q1": nan, "q3": nan, "mean": nan, "sd": nan, "n": 0}
    return {
        "median": float(np.median(v)),
        "q1": float(np.percentile(v, 25)),
        "q3": float(np.percentile(v, 75)),
        "mean": float(v.mean()),
        "sd": float(v.std(ddof=1)) if v.size > 1 else 0.0,
        "n": int(v.size),
    }


def usable(frame: pd.DataFrame, metric: str) -> pd.Series:
    """A metric column where only finished (``done``) runs count; diverged or failed runs become NaN."""
    values = pd.to_numeric(frame[metric], errors="coerce") if metric in frame else pd.Series(np.nan, frame.index)
    return values.where(frame["status"] == "done")


def median_scores(scored: pd.DataFrame, problems: Sequence[str], optimizers: Sequence[str],
                  metrics: Mapping[str, str], goals: Mapping[str, str]) -> pd.DataFrame:
    """``[problem x optimizer]``: the median over seeds of each problem's score metric.

    A diverged or failed seed counts as the worst possible score (as in the study's own ranking), so an
    optimizer that fails on half its seeds or more has no median (NaN) and ranks last.
    """
    out = pd.DataFrame(np.nan, index=list(problems), columns=list(optimizers), dtype=float)
    for p in problems:
        metric = metrics[p]
        worst = math.inf if goals[p] == "min" else -math.inf
        rows = scored[scored["problem"] == p]
        for o in optimizers:
            values = usable(rows[rows["optimizer"] == o], metric).to_numpy(dtype=float)
            if values.size:
                middle = float(np.median(np.where(np.isfinite(values), values, worst)))
                out.loc[p, o] = middle if math.isfinite(middle) else math.nan
    return out


def ranks(medians: pd.DataFrame, goals: Mapping[str, str]) -> pd.DataFrame:
    """Rank of each optimizer on each problem (1 = best, ties share the best rank of the tie, no result = last)."""
    out = pd.DataFrame(index=medians.index, columns=medians.columns, dtype=float)
    for p in medians.index:
        row = medians.loc[p].astype(float)
        key = row if goals[p] == "min" else -row
        out.loc[p] = key.fillna(np.inf).rank(method="min").to_numpy()
    return out


def ratios(medians: pd.DataFrame, goals: Mapping[str, str], metrics: Mapping[str, str]) -> pd.DataFrame:
    """Performance ratios ``r[p, s] >= 1`` (Dolan–Moré; defined in words on the study report)."""
    out = pd.DataFrame(np.inf, index=medians.index, columns=medians.columns, dtype=float)
    for p in medians.index:
        e = error_of(medians.loc[p].to_numpy(dtype=float), goals[p], metrics[p])
        finite = e[np.isfinite(e)]
        if not finite.size:
            continue
        best = float(finite.min())
        scale = max(abs(best), 1e-12)
        r = 1.0 + (e - best) / scale
        out.loc[p] = np.where(np.isfinite(r), r, np.inf)
    return out


def profile(ratio: pd.DataFrame, taus: np.ndarray) -> pd.DataFrame:
    """``rho[tau, optimizer]``: fraction of problems whose ratio is at most tau."""
    n = max(len(ratio.index), 1)
    data = {s: [(ratio[s].to_numpy() <= t + 1e-12).sum() / n for t in taus] for s in ratio.columns}
    return pd.DataFrame(data, index=pd.Index(taus, name="tau"))


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test of ``wins`` against ``losses`` (ties excluded); 1.0 with no untied pair."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0**n
    return min(1.0, 2.0 * tail)


@dataclass(frozen=True)
class PairVerdict:
    """``a`` against ``b`` over paired seeds: counts, the sign test and the verdict it supports."""

    a: str
    b: str
    wins: int
    losses: int
    ties: int
    p: float

    @property
    def n(self) -> int:
        return self.wins + self.losses + self.ties

    @property
    def verdict(self) -> str:
        if self.p < ALPHA and self.wins > self.losses:
            return "better"
        if self.p < ALPHA and self.losses > self.wins:
            return "worse"
        return "no clear difference"


def pairwise(scored: pd.DataFrame, optimizers: Sequence[str], metrics: Mapping[str, str],
             goals: Mapping[str, str]) -> dict[tuple[str, str], PairVerdict]:
    """Every ordered pair of optimizers compared on the (problem, seed) pairs both ran."""
    scores: dict[str, dict[tuple[str, int], float]] = {o: {} for o in optimizers}
    for row_index, row in scored.iterrows():
        o, p = row["optimizer"], row["problem"]
        if o not in scores or p not in metrics:
            continue
        value = usable(scored.loc[[row_index]], metrics[p]).iloc[0]
        scores[o][(p, int(row["seed"]))] = float(value) if pd.notna(value) else math.nan
    out: dict[tuple[str, str], PairVerdict] = {}
    for a in optimizers:
        for b in optimizers:
            if a == b:
                continue
            wins = losses = ties = 0
            for key in sorted(set(scores[a]) & set(scores[b])):
                outcome = better(scores[a][key], scores[b][key], goals[key[0]])
                wins += outcome > 0
                losses += outcome < 0
                ties += outcome == 0
            out[(a, b)] = PairVerdict(a, b, wins, losses, ties, sign_test(wins, losses))
    return out


def band(curves: Sequence[tuple[np.ndarray, np.ndarray]], points: int = 200) -> tuple[np.ndarray, ...]:
    """Median, minimum and maximum over seeds of curves ``(steps, values)``, on the common step grid.

    Curves are interpolated onto up to ``points`` steps shared by all seeds; after a curve ends (divergence)
    that seed drops out of the statistics instead of dragging them to NaN.
    """
    usable_curves = [(np.asarray(s, float), np.asarray(v, float)) for s, v in curves if len(s)]
    if not usable_curves:
        empty = np.empty(0)
        return empty, empty, empty, empty
    lo = min(s.min() for s, _ in usable_curves)
    hi = max(s.max() for s, _ in usable_curves)
    grid = np.unique(np.linspace(lo, hi, points).round())
    stack = np.full((len(usable_curves), grid.size), np.nan)
    for i, (s, v) in enumerate(usable_curves):
        ok = np.isfinite(v)
        if ok.sum() == 0:
            continue
        s_ok, v_ok = s[ok], v[ok]
        inside = (grid >= s_ok.min()) & (grid <= s_ok.max())
        stack[i, inside] = np.interp(grid[inside], s_ok, v_ok)
    with np.errstate(all="ignore"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return grid, np.nanmedian(stack, axis=0), np.nanmin(stack, axis=0), np.nanmax(stack, axis=0)


# -- the advisor's verdict between two finalists ---------------------------------------------------


@dataclass(frozen=True)
class PairedTest:
    """``a`` (the leader) against ``b`` over paired seeds; ``diff`` is the mean of a's metric minus b's."""

    a: str
    b: str
    n: int
    diff: float
    sd: float
    p: float
    test: str

    @property
    def distinguishable(self) -> bool:
        return self.p < ALPHA

    def describe(self, metric: str) -> str:
        verdict = "a real difference" if self.distinguishable else "indistinguishable within noise"
        return (
            f"{self.a} vs {self.b}: {self.test} over {self.n} paired seeds (same initial weights and batches), "
            f"mean difference in {metric} {self.diff:+.4g} (sd {self.sd:.2g}), p = {self.p:.3g} -> {verdict} "
            f"at the {ALPHA:g} level."
        )


def paired_test(a: str, b: str, values_a: np.ndarray, values_b: np.ndarray, goal: str) -> PairedTest:
    """Paired two-sided t-test of the per-seed differences. When a run diverged (no number to subtract) or the
    differences have no spread (coarse metrics: every seed differs by the same amount, where the t statistic
    is undefined), the exact sign test on who won each seed instead; identical results give p = 1."""
    va, vb = np.asarray(values_a, float), np.asarray(values_b, float)
    n = len(va)
    d = va - vb
    # float32 metrics: differences equal up to rounding count as no spread
    if np.isfinite(d).all() and n > 1 and float(d.std(ddof=1)) > 1e-6 * max(1.0, float(np.abs(d).max())):
        from scipy import stats

        mean, sd = float(d.mean()), float(d.std(ddof=1))
        p = float(2.0 * stats.t.sf(abs(mean / (sd / math.sqrt(n))), df=n - 1))
        return PairedTest(a, b, n, mean, sd, p, "paired t-test")
    ea, eb = to_error(va, goal), to_error(vb, goal)
    wins, losses = int((ea < eb).sum()), int((ea > eb).sum())
    finite = np.isfinite(va) & np.isfinite(vb)
    d = va[finite] - vb[finite]
    mean = float(d.mean()) if d.size else math.nan
    sd = float(d.std(ddof=1)) if d.size > 1 else math.nan
    why = "a run diverged" if not finite.all() else "the per-seed differences are all equal"
    return PairedTest(a, b, n, mean, sd, sign_test(wins, losses), f"exact sign test ({why})")
