"""What the advisor returns: the recommendation, its evidence, and the plain-language summary."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from torch import Tensor

from ..registry import get_preset

if TYPE_CHECKING:
    from ..optim import RuleOptimizer
    from ..stats import PairedTest
    from ._plan import Budget, TournamentPlan
    from ._range import RangeFinding
    from ._tournament import Candidate


@dataclass(frozen=True)
class Recommendation:
    """The winner: a candidate at a learning rate, with its validation (and test) metric over the final seeds."""

    candidate: Candidate
    lr: float
    batch_size: int
    valid_mean: float
    valid_sd: float
    test_mean: float
    test_sd: float
    seeds: int

    @property
    def optimizer(self) -> str:
        return self.candidate.optimizer

    @property
    def hypers(self) -> dict[str, Any]:
        """Every argument the recommended optimizer is built with (the preset's settings, overrides, lr)."""
        return {**get_preset(self.optimizer).settings, **self.candidate.hypers, "lr": self.lr}


@dataclass
class AdviceResult:
    """The tournament's record. ``ranking`` is the table; ``summary()`` says it in words; ``save()`` writes
    the evidence report. When the advisor stopped early (``stopped``), the fields hold what was measured."""

    problem: str
    description: str
    metric: str
    goal: str
    candidates: list[Candidate]
    budget: Budget
    plan: TournamentPlan | None
    run_steps: int
    batch_sizes: dict[str, int]
    ranges: dict[str, RangeFinding] = field(default_factory=dict)
    bracket: pd.DataFrame = field(default_factory=pd.DataFrame)
    """One row per configuration per rung: candidate, lr, score (mean valid metric over the tuning seeds),
    score_sd, valid_loss, diverged seeds, rank, rung, steps, promoted."""
    final: pd.DataFrame = field(default_factory=pd.DataFrame)
    """One row per finalist per seed: valid and test metrics at the end of the full run."""
    final_steps: list[int] = field(default_factory=list)
    final_curves: dict[str, np.ndarray] = field(default_factory=dict)
    """Finalist label -> validation metric ``[seeds, len(final_steps)]``."""
    final_order: list[tuple[str, float]] = field(default_factory=list)
    winner: Recommendation | None = None
    tests: list[PairedTest] = field(default_factory=list)
    """The winner against each other finalist, in final order."""
    choice: dict[str, Any] = field(default_factory=dict)
    """How a tie in the final was settled: ``lead`` (best mean), ``pick``, ``tied`` labels, their state tensors
    ``lead_cost``/``pick_cost``, ``alpha`` and ``tolerance`` (empty when nothing tied with the best mean)."""
    late_starter: str | None = None
    """A candidate whose scan was flat and that had started learning by the refinement: kept for the final."""
    compute: list[dict[str, Any]] = field(default_factory=list)
    stopped: str | None = None

    # ------------------------------------------------------------------ numbers

    def trial_steps(self) -> int:
        """Trial-steps trained so far (one optimizer update of one trial each; evaluations not counted)."""
        return int(sum(part["trial_steps"] for part in self.compute))

    @property
    def ranking(self) -> pd.DataFrame:
        """Every configuration tried, best first: finalists in final order, then by the last rung reached."""
        rows: list[dict[str, Any]] = []
        seen: set[tuple[str, float]] = set()
        m = self.metric
        for name, lr in self.final_order:
            part = self.final[(self.final["candidate"] == name) & (self.final["lr"] == lr)]
            rows.append({
                "candidate": name, "optimizer": part["optimizer"].iloc[0], "lr": lr, "stage": "final",
                "steps": self.run_steps, "seeds": len(part), f"valid_{m}": part[f"valid_{m}"].mean(),
                f"valid_{m}_sd": part[f"valid_{m}"].std(ddof=1), f"test_{m}": part[f"test_{m}"].mean(),
                f"test_{m}_sd": part[f"test_{m}"].std(ddof=1), "diverged_seeds": int(part["diverged_at"].notna().sum()),
            })
            seen.add((name, lr))
        if len(self.bracket):
            later = self.bracket.sort_values(["rung", "rank"], ascending=[False, True])
            for row in later.itertuples():
                key = (str(row.candidate), float(row.lr))
                if key in seen:
                    continue
                seen.add(key)
                rows.append({
                    "candidate": row.candidate, "optimizer": row.optimizer, "lr": row.lr,
                    "stage": ("scan", "refinement")[min(int(row.rung), 1)], "steps": row.steps,
                    "seeds": (self.plan.scan_seeds if int(row.rung) == 0 else self.plan.refine_seeds) if self.plan
                    else math.nan,
                    f"valid_{m}": row.score, f"valid_{m}_sd": row.score_sd, f"test_{m}": math.nan,
                    f"test_{m}_sd": math.nan, "diverged_seeds": row.diverged,
                })
        frame = pd.DataFrame(rows)
        if len(frame):
            frame.insert(0, "rank", np.arange(1, len(frame) + 1))
        return frame

    def steps_to_match(self, leader: str, other: str) -> int | None:
        """The first evaluated step at which ``leader``'s median validation curve is as good as ``other``'s
        final median value (``None`` if it never is)."""
        if leader not in self.final_curves or other not in self.final_curves:
            return None
        a = np.nanmedian(self.final_curves[leader], axis=0)
        target = float(np.nanmedian(self.final_curves[other][:, -1]))
        if not math.isfinite(target):
            return None
        good = a <= target if self.goal == "min" else a >= target
        hits = np.flatnonzero(good)
        return int(self.final_steps[hits[0]]) if hits.size else None

    # ------------------------------------------------------------------ use

    def losers(self) -> pd.DataFrame:
        """Why each candidate other than the pick lost: the last stage it reached (``scan``, ``refinement``,
        ``final``), its best learning rate and score there, and a ``reason``: ``tied`` (final, settled by the tie
        rule), ``worse`` (final, paired test ``p``), ``diverged`` (at every rate of the scan), ``flat`` (no rate
        changed its metric in the scan) or ``behind`` (its best trailed ``cut``, the last score sent on)."""
        rows: list[dict[str, Any]] = []
        if self.winner is None or not len(self.bracket):
            return pd.DataFrame(rows)
        m, up = self.metric, self.goal == "max"
        pick = self.winner.candidate.name
        tests = {t.b.split("@")[0]: t for t in self.tests}
        last_rung = self.bracket[self.bracket["rung"] == self.bracket["rung"].max()]
        # the cut is the last place won on the score: a late starter's kept place (see _plateau) is not one
        sent = last_rung[last_rung["promoted"] & (last_rung["candidate"] != self.late_starter)]["score"]
        cut = float(sent.min() if up else sent.max()) if len(sent) else math.nan
        for name in dict.fromkeys(self.bracket["candidate"]):
            if name == pick:
                continue
            if name in tests:
                t = tests[name]
                part = self.final[self.final["candidate"] == name].groupby("lr")[f"valid_{m}"].mean()
                lr = float(part.idxmax() if up else part.idxmin())
                rows.append({"candidate": name, "stage": "final", "lr": lr, "steps": self.run_steps,
                             "score": float(part[lr]), "reason": "worse" if t.distinguishable else "tied",
                             "p": t.p, "test": t.test, "cut": math.nan})
                continue
            mine = self.bracket[self.bracket["candidate"] == name]
            scan = mine[mine["rung"] == 0]["score"].dropna()
            last = mine[mine["rung"] == mine["rung"].max()].sort_values("rank").iloc[0]
            if scan.empty:
                reason = "diverged"
            elif float(scan.max() - scan.min()) <= 1e-6 * max(1.0, abs(float(scan.max()))):
                reason = "flat"
            else:
                reason = "behind"
            rows.append({"candidate": name, "stage": "scan" if int(last.rung) == 0 else "refinement",
                         "lr": float(last.lr), "steps": int(last.steps), "score": float(last.score), "reason": reason,
                         "p": math.nan, "test": "", "cut": cut})
        return pd.DataFrame(rows)

    def make_optimizer(self, params: Iterable[Tensor] | Iterable[dict[str, Any]]) -> RuleOptimizer:
        """The recommended optimizer (an ``optimlab.optim`` class) for ``params``, at the recommended lr."""
        if self.winner is None:
            raise ValueError("No recommendation: the advisor stopped before its final round.")
        return get_preset(self.winner.optimizer).make(params, **self.winner.candidate.hypers, lr=self.winner.lr)

    def summary(self) -> str:
        """The recommendation and its evidence in plain English, the words of the evidence page
        (:func:`optimlab.report.advise_text.summary`, reached through the page's module)."""
        from ..report.advise_report import summary

        return summary(self, "en")

    def __str__(self) -> str:
        return self.summary()

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Write the evidence report (self-contained HTML, PNGs, CSVs, summary.txt) into ``out_dir``."""
        from ..report.advise_report import write_advice_report

        return write_advice_report(self, out_dir)
