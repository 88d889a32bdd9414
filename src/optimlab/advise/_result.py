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
                    "candidate": row.candidate, "optimizer": row.optimizer, "lr": row.lr, "stage": f"rung {row.rung}",
                    "steps": row.steps, "seeds": self.plan.tune_seeds if self.plan else math.nan,
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

    def _edge_note(self) -> str:
        """A warning when the winning lr is the largest or smallest its candidate tried."""
        if self.winner is None or not len(self.bracket):
            return ""
        name = self.winner.candidate.name
        tried = self.bracket[(self.bracket["rung"] == 0) & (self.bracket["candidate"] == name)]["lr"]
        if len(tried) < 2:
            return ""
        if self.winner.lr >= tried.max():
            side = "largest"
        elif self.winner.lr <= tried.min():
            side = "smallest"
        else:
            return ""
        return (f"Note: {self.winner.lr:.3g} is the {side} learning rate tried for {name}; the best may lie "
                "beyond it.")

    def make_optimizer(self, params: Iterable[Tensor] | Iterable[dict[str, Any]]) -> RuleOptimizer:
        """The recommended optimizer (an ``optimlab.optim`` class) for ``params``, at the recommended lr."""
        if self.winner is None:
            raise ValueError("No recommendation: the advisor stopped before its final round.")
        return get_preset(self.winner.optimizer).make(params, **self.winner.candidate.hypers, lr=self.winner.lr)

    def summary(self) -> str:
        """The recommendation and its evidence in plain language."""
        m = self.metric
        lines: list[str] = []
        if self.winner is None:
            lines.append(f"No recommendation for {self.problem}: the advisor stopped ({self.stopped}).")
        else:
            w = self.winner
            lines.append(
                f"{w.candidate.name} at lr {w.lr:.3g} (batch size {w.batch_size}) on {self.problem}: validation "
                f"{m} {w.valid_mean:.4g} ± {w.valid_sd:.2g} over {w.seeds} seeds after {self.run_steps} steps "
                f"(test {m} {w.test_mean:.4g} ± {w.test_sd:.2g})."
            )
            edge = self._edge_note()
            if edge:
                lines.append(edge)
            for test, (_, lr) in zip(self.tests, self.final_order[1:], strict=False):
                if not test.distinguishable:
                    lines.append(f"{_at(test.b, lr)} is as good within noise ({test.test}, p = {test.p:.3g}).")
                    continue
                match = self.steps_to_match(test.a, test.b)
                speed = ""
                if match and self.run_steps / match >= 1.5:
                    speed = (f"; it needs about {self.run_steps / match:.0f}× more steps to match: {test.a} reached "
                             f"{test.b}'s final {m} after {match} of {self.run_steps} steps")
                lines.append(f"{_at(test.b, lr)} is worse ({test.test}, p = {test.p:.3g}){speed}.")
        if len(self.bracket):
            dropped = []
            for name in dict.fromkeys(self.bracket["candidate"]):
                if any(name == n for n, _ in self.final_order):
                    continue
                rows = self.bracket[self.bracket["candidate"] == name]
                last = rows[rows["rung"] == rows["rung"].max()].sort_values("rank").iloc[0]
                dropped.append(f"{name} ({_num(last.score)} after {int(last.steps)} steps)")
            if dropped:
                lines.append(f"Dropped earlier (best validation {m} when dropped): {', '.join(dropped)}.")
        unusable = [name for name, r in self.ranges.items() if not r.usable]
        if unusable:
            lines.append(f"No learning rate lowered the loss in the range test for: {', '.join(unusable)} "
                         "(tried around their default lr).")
        by_phase: dict[str, int] = {}
        for part in self.compute:
            key = "halving" if part["phase"].startswith("rung") else part["phase"]
            by_phase[key] = by_phase.get(key, 0) + part["trial_steps"]
        seconds = sum(part["seconds"] for part in self.compute)
        detail = ", ".join(f"{k} {v:,}" for k, v in by_phase.items())
        lines.append(f"Compute: {self.trial_steps():,} trial-steps ({detail}) in {seconds:.0f} s; "
                     f"budget {self.budget.describe()}.")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Write the evidence report (self-contained HTML, PNGs, CSVs, summary.txt) into ``out_dir``."""
        from ..report.advise_report import write_advice_report

        return write_advice_report(self, out_dir)


def _at(label: str, lr: float) -> str:
    """``adam at lr 0.01``; a label that already names its lr (``adam@0.01``) is kept as it is."""
    return label if "@" in label else f"{label} at lr {lr:.3g}"


def _num(value: Any) -> str:
    v = float(value)
    return "diverged" if math.isnan(v) else f"{v:.4g}"
