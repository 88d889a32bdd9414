"""How the advisor ranks: its selection rule, a rung's table, the finalists and the final verdict."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from ..engine import Selection, SweepResult, TrialRecord, rank
from ..registry import get_preset
from ..stats import ALPHA, paired_test
from ._result import AdviceResult, Recommendation

if TYPE_CHECKING:
    from ._tournament import Candidate


def selection_rule(metric: str, goal: str) -> Selection:
    """The advisor's rule: every configuration ranked by its mean validation ``metric`` over the tuning seeds,
    ties by the mean validation loss, then the order tried; a configuration with a diverged seed ranks after
    every complete one (it is kept in the ranking: a rung may have fewer complete configurations than places)."""
    return Selection(f"valid_{metric}", "max" if goal == "max" else "min", tie_break=("valid_loss",))


def score_rung(pairs: list[tuple[Candidate, float]], records: list[TrialRecord], rule: Selection) -> pd.DataFrame:
    """One row per configuration of a rung, ranked: mean and spread of the validation metric over its seeds."""
    failed: dict[int, int] = {}
    for rec in records:
        failed[rec.config] = failed.get(rec.config, 0) + (not math.isfinite(rec.metrics.get(rule.metric, math.nan)))
    rows = []
    for r in rank([rec.outcome() for rec in records], rule):
        c, lr = pairs[int(r.config)]
        rows.append({
            "candidate": c.name, "optimizer": c.optimizer, "lr": lr, "score": r.score, "score_sd": r.spread,
            "valid_loss": r.tie_values[0] if r.complete else math.nan, "diverged": failed[int(r.config)],
            "rank": r.rank,
        })
    return pd.DataFrame(rows)


def finalists(ordered: list[tuple[Candidate, float]], count: int) -> list[tuple[Candidate, float]]:
    """The ``count`` best configurations of the last rung — two learning rates of one candidate may both go
    through, which lets the full-length runs correct a short rung's preference for large rates — but at least
    two distinct candidates, so the verdict compares optimizers."""
    chosen = ordered[:count]
    if len({c.name for c, _ in chosen}) < 2:
        other = next(((c, lr) for c, lr in ordered if c.name != chosen[0][0].name), None)
        if other is not None:
            chosen = [*chosen[: count - 1], other]
    return chosen


TIE_TOLERANCE = 0.005
"""Two finalists count as tied when the paired test cannot tell them apart (p >= ALPHA) and their mean validation
metrics differ by at most this fraction of the leader's: the tie goes to the cheaper one (:func:`state_tensors`)."""


def state_tensors(candidate: Candidate) -> int:
    """How many tensors the size of the parameters the candidate's optimizer keeps (measured after one step):
    its memory and per-step cost beyond plain SGD (SGD 0, momentum and AdaGrad 1, Adam 2)."""
    p = torch.nn.Parameter(torch.zeros(3))
    optimizer = get_preset(candidate.optimizer).make([p], **candidate.hypers, lr=1e-3)
    p.grad = torch.ones(3)
    optimizer.step()
    return sum(1 for v in optimizer.state[p].values() if isinstance(v, torch.Tensor) and v.shape == p.shape)


def record_final(result: AdviceResult, configs: list[tuple[Candidate, float]], final: SweepResult,
                 rule: Selection) -> None:
    # Configuration-major, seeds ascending (the order the finalists were given), whatever populations ran them.
    records = sorted(final.records, key=lambda r: (r.config, r.seed))
    n = len(records) // len(configs)
    rows = []
    for rec in records:
        c, lr = configs[rec.config]
        out = rec.result
        rows.append({
            "candidate": c.name, "optimizer": c.optimizer, "lr": lr, "seed": rec.seed,
            **{f"{split}_{m}": out.evals[split][m][rec.row, -1].item()
               for split in out.evals for m in out.evals[split]},
            "diverged_at": rec.diverged_at,
        })
    result.final = pd.DataFrame(rows)
    result.final_steps = list(records[0].result.eval_steps)
    metric = result.metric
    labels = [c.name if _unique(configs, c) else f"{c.name}@{lr:g}" for c, lr in configs]
    for i, label in enumerate(labels):
        result.final_curves[label] = torch.stack([rec.curve("valid", metric) for rec in records[i * n : (i + 1) * n]]
                                                 ).numpy()
    score = f"valid_{metric}"
    values = [result.final.iloc[i * n : (i + 1) * n][score].to_numpy() for i in range(len(configs))]
    order = [int(r.config) for r in rank(final.outcomes(), rule)]
    pick = _tie_break(result, configs, labels, values, order)
    order = [pick, *[i for i in order if i != pick]]
    result.final_order = [(configs[i][0].name, configs[i][1]) for i in order]
    c, lr = configs[pick]
    part = result.final.iloc[pick * n : (pick + 1) * n]
    result.winner = Recommendation(
        candidate=c, lr=lr, batch_size=result.batch_sizes[c.name], valid_mean=float(part[score].mean()),
        valid_sd=float(part[score].std(ddof=1)), test_mean=float(part[f"test_{metric}"].mean()),
        test_sd=float(part[f"test_{metric}"].std(ddof=1)), seeds=n,
    )
    result.tests = [paired_test(labels[pick], labels[i], values[pick], values[i], result.goal) for i in order[1:]]


def _tie_break(result: AdviceResult, configs: list[tuple[Candidate, float]], labels: list[str],
               values: list[np.ndarray], order: list[int]) -> int:
    """The leader, or the cheapest finalist tied with it (:data:`TIE_TOLERANCE`); how a tie was settled goes into
    ``result.choice``."""
    lead = order[0]
    lead_mean = float(np.mean(values[lead]))
    tied = []
    for i in order[1:]:
        test = paired_test(labels[lead], labels[i], values[lead], values[i], result.goal)
        gap = abs(lead_mean - float(np.mean(values[i]))) / max(abs(lead_mean), 1e-12)
        if not test.distinguishable and math.isfinite(gap) and gap <= TIE_TOLERANCE:
            tied.append(i)
    if not tied:
        result.choice = {}
        return lead
    cost = {i: state_tensors(configs[i][0]) for i in [lead, *tied]}
    pick = min([lead, *tied], key=lambda i: (cost[i], order.index(i)))
    result.choice = {"lead": labels[lead], "pick": labels[pick], "tied": [labels[i] for i in tied],
                     "lead_cost": cost[lead], "pick_cost": cost[pick], "alpha": ALPHA, "tolerance": TIE_TOLERANCE}
    return pick


def _unique(configs: list[tuple[Candidate, float]], c: Candidate) -> bool:
    return sum(d.name == c.name for d, _ in configs) == 1
