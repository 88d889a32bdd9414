"""Cutting and joining :class:`~optimlab.training.TrainResult` records by trial (rows in the order given).

Executors that run a set of trials in parts (chunks, one trial at a time, worker processes) build the whole
result from its parts here, so every executor returns the same layout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ..population import Trial
from ..training import TrainResult

Part = tuple[list[int], TrainResult]
"""``(rows, part)``: ``part`` holds the trials at ``rows`` (indices into the whole set), in that order."""


def take_rows(result: TrainResult, rows: Sequence[int]) -> TrainResult:
    """The trials at ``rows`` of ``result`` as a result of their own."""
    index = torch.tensor(list(rows), dtype=torch.long)
    return TrainResult(
        problem=result.problem, trials=[result.trials[k] for k in rows], steps=result.steps,
        batch_sizes=[result.batch_sizes[k] for k in rows], train_loss=result.train_loss[index],
        eval_steps=list(result.eval_steps),
        evals={s: {m: v[index] for m, v in metrics.items()} for s, metrics in result.evals.items()},
        diverged_at=[result.diverged_at[k] for k in rows], seconds=result.seconds, chunks=result.chunks,
        bytes_per_trial=result.bytes_per_trial, metric_goals=dict(result.metric_goals),
    )


def merge_parts(trials: Sequence[Trial], parts: Sequence[Part], seconds: float) -> TrainResult:
    """One result for all ``trials`` from parts that together cover every row once."""
    if not parts:
        raise ValueError("Nothing to merge: no parts given.")
    first = parts[0][1]
    k = len(trials)
    dtype = first.train_loss.dtype
    train_loss = torch.full((k, first.steps), math.nan, dtype=dtype)
    evals = {
        split: {m: torch.full((k, len(first.eval_steps)), math.nan, dtype=v.dtype) for m, v in metrics.items()}
        for split, metrics in first.evals.items()
    }
    batch_sizes = [0] * k
    diverged: list[int | None] = [None] * k
    covered: set[int] = set()
    for rows, part in parts:
        index = torch.tensor(rows, dtype=torch.long)
        train_loss[index] = part.train_loss
        for split, metrics in part.evals.items():
            for metric, values in metrics.items():
                evals[split][metric][index] = values
        for i, row in enumerate(rows):
            batch_sizes[row], diverged[row] = part.batch_sizes[i], part.diverged_at[i]
        covered.update(rows)
    if covered != set(range(k)):
        raise ValueError(f"The parts cover {len(covered)} of {k} trials.")
    return TrainResult(
        problem=first.problem, trials=list(trials), steps=first.steps, batch_sizes=batch_sizes,
        train_loss=train_loss, eval_steps=list(first.eval_steps), evals=evals, diverged_at=diverged,
        seconds=seconds, chunks=sum(part.chunks for _, part in parts),
        bytes_per_trial=max(part.bytes_per_trial for _, part in parts), metric_goals=dict(first.metric_goals),
    )
