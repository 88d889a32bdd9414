"""The advisor's verdicts: scores as errors (lower is better) and the paired test between two finalists."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..report._study_stats import sign_test

ALPHA = 0.05


def to_error(values: np.ndarray, goal: str) -> np.ndarray:
    """A metric as an error, lower is better (``max`` metrics negated); NaN (diverged) becomes +inf."""
    v = np.asarray(values, dtype=float)
    e = v if goal == "min" else -v
    return np.where(np.isfinite(e), e, np.inf)


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
