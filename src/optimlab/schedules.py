"""Learning-rate schedules as plain multipliers of the base learning rate, per step.

A schedule is data (so a study can store it) and gives ``factor(step, total)`` for the 0-based step. The same
function drives the population (per-trial lr tensors) and ``torch.optim.lr_scheduler.LambdaLR`` when a trial
is trained alone, so both see identical learning rates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from .errors import InvalidValueError, UnknownNameError

Kind = Literal["constant", "cosine", "warmup-cosine", "linear", "step"]


@dataclass(frozen=True)
class Schedule:
    """``constant``; ``cosine`` to ``final``×lr; ``warmup-cosine`` (linear warm-up over ``warmup`` steps, then
    cosine); ``linear`` decay to ``final``×lr; ``step`` (×``gamma`` every ``every`` steps)."""

    kind: Kind = "constant"
    warmup: int = 0
    every: int = 0
    gamma: float = 0.1
    final: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("constant", "cosine", "warmup-cosine", "linear", "step"):
            raise UnknownNameError(
                f"Unknown schedule {self.kind!r}: use constant, cosine, warmup-cosine, linear or step."
            )
        if self.warmup < 0 or self.every < 0 or not 0 <= self.final <= 1 or self.gamma <= 0:
            raise InvalidValueError(
                f"Invalid schedule settings {self}: warmup, every >= 0; 0 <= final <= 1; gamma > 0."
            )
        if self.kind == "step" and self.every < 1:
            raise InvalidValueError("A step schedule needs every >= 1.")

    def factor(self, step: int, total: int) -> float:
        """Multiplier of the base learning rate at 0-based ``step`` of a run of ``total`` steps."""
        if self.kind == "constant":
            return 1.0
        if self.kind == "step":
            return self.gamma ** (step // self.every)
        if self.kind == "warmup-cosine" and step < self.warmup:
            return (step + 1) / self.warmup
        start = self.warmup if self.kind == "warmup-cosine" else 0
        progress = min(1.0, (step - start) / max(1, total - start))
        if self.kind == "linear":
            return 1.0 - (1.0 - self.final) * progress
        return self.final + (1.0 - self.final) * 0.5 * (1.0 + math.cos(math.pi * progress))
