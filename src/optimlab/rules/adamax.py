"""Adamax (Kingma & Ba 2015, §7.1 and Algorithm 2): Adam with the infinity norm in place of the RMS::

    mₜ = β₁·mₜ₋₁ + (1 − β₁)·gₜ
    uₜ = max(β₂·uₜ₋₁, |gₜ| + ε)
    θₜ = θₜ₋₁ − (η/(1 − β₁ᵗ))·mₜ/uₜ

Departure, as in torch.optim: ε is added inside the max (the paper has no ε; uₜ can then be 0 only where
every gradient so far was 0, and the paper divides by it anyway). With eps=0 this is the paper exactly.

With ``cautious=True`` (Liang et al. 2024, :func:`~optimlab.rules._math.cautious_`) the components of the step
whose sign disagrees with the gradient are dropped and the rest rescaled; ``cautious=False`` is the algorithm
above, operation for operation.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from . import _common_hypers as common
from ._base import Rule, Scalar, State
from ._math import add_ratio_, bias_correction, cautious_, ema_, l2_gradient, zeros_state


class AdamaxRule(Rule):
    name = "adamax"
    elementwise = True
    hypers = (
        *common.adam_family(2e-3),
        common.CAUTIOUS,
    )

    def init_state(self, p: Tensor, hp: Mapping[str, Scalar]) -> dict[str, Tensor]:
        return {"exp_avg": zeros_state(p), "exp_inf": zeros_state(p)}

    def update(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Scalar], step: int) -> None:
        g = l2_gradient(g, p, hp["weight_decay"])
        exp_avg = ema_(state["exp_avg"], g, hp["beta1"])
        exp_inf = state["exp_inf"]
        torch.maximum(exp_inf.mul_(hp["beta2"]), g.abs().add_(hp["eps"]), out=exp_inf)
        if hp["cautious"]:  # uₜ > 0 where the step moves, so the step has mₜ's sign
            exp_avg = cautious_(exp_avg.clone(), g, self.trial_dims(hp))
        add_ratio_(p, exp_avg, exp_inf, -hp["lr"] / bias_correction(hp["beta1"], step))
