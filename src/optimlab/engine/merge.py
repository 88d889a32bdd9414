"""One :class:`~optimlab.training.TrainResult` from the results of parts of a run (executors that split trials)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ..population import Trial
from ..training import TrainResult


def merge_results(parts: Sequence[tuple[Sequence[int], TrainResult]], trials: Sequence[Trial],
                  steps: int) -> TrainResult:
    """``parts`` are ``(rows, result)``: ``result`` holds the trials ``rows`` (indices into ``trials``) in that
    order. Every trial must appear in exactly one part, and the parts must share evaluation steps and metrics."""
    if not parts:
        raise ValueError("Nothing to merge: no parts given.")
    k = len(trials)
    seen = sorted(r for rows, _ in parts for r in rows)
    if seen != list(range(k)):
        raise ValueError(f"The parts hold rows {seen[:8]}..., not each of the {k} trials exactly once.")
    first = parts[0][1]
    train_loss = torch.full((k, steps), math.nan)
    evals = {s: {m: torch.full((k, len(first.eval_steps)), math.nan) for m in ms} for s, ms in first.evals.items()}
    batch_sizes = [0] * k
    diverged: list[int | None] = [None] * k
    for rows, part in parts:
        if part.eval_steps != first.eval_steps or part.steps != steps:
            raise ValueError("Parts of one run must train the same steps and evaluate at the same steps.")
        index = torch.tensor(list(rows))
        train_loss[index] = part.train_loss
        for split, metrics in evals.items():
            for metric, values in metrics.items():
                values[index] = part.evals[split][metric]
        for i, r in enumerate(rows):
            batch_sizes[r] = part.batch_sizes[i]
            diverged[r] = part.diverged_at[i]
    return TrainResult(
        problem=first.problem, trials=list(trials), steps=steps, batch_sizes=batch_sizes, train_loss=train_loss,
        eval_steps=list(first.eval_steps), evals=evals, diverged_at=diverged,
        seconds=sum(p.seconds for _, p in parts), chunks=sum(p.chunks for _, p in parts),
        bytes_per_trial=max(p.bytes_per_trial for _, p in parts), metric_goals=dict(first.metric_goals),
    )
