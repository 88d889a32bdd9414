"""RAdam (Liu et al. 2020, "On the Variance of the Adaptive Learning Rate and Beyond", ICLR; Algorithm 2)::

    mₜ = β₁·mₜ₋₁ + (1 − β₁)·gₜ,   m̂ₜ = mₜ/(1 − β₁ᵗ)
    vₜ = β₂·vₜ₋₁ + (1 − β₂)·gₜ²
    ρ∞ = 2/(1 − β₂) − 1,   ρₜ = ρ∞ − 2t·β₂ᵗ/(1 − β₂ᵗ)
    if ρₜ > 5:  rₜ = √((ρₜ − 4)(ρₜ − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρₜ)),
                θₜ = θₜ₋₁ − η·rₜ·m̂ₜ·√(1 − β₂ᵗ)/(√vₜ + ε)
    else:       θₜ = θₜ₋₁ − η·m̂ₜ          (the variance of the adaptive step is not yet defined)

Departures, as in torch.optim: the threshold is ρₜ > 5 (the paper's box says 4; at 4 the rectifier is 0
and the first rectified steps are tiny), and ε is added to √vₜ (the paper has no ε). Weight decay is L2
unless ``decoupled_weight_decay=True``.

With ``cautious=True`` (Liang et al. 2024, :func:`~optimlab.rules._math.cautious_`) the components of the step
whose sign disagrees with the gradient are dropped and the rest rescaled; ``cautious=False`` is the algorithm
above, operation for operation.
The mask applies to whichever step the branch takes.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from . import _common_hypers as common
from ._base import Rule, Scalar, State
from ._math import bias_correction, cautious_, ema_, ema_square_, weight_decay_, zeros_state

THRESHOLD = 5.0


class RAdamRule(Rule):
    name = "radam"
    elementwise = True
    hypers = (
        *common.adam_family(1e-3),
        common.DECOUPLED,
        common.CAUTIOUS,
    )

    def init_state(self, p: Tensor, hp: Mapping[str, Scalar]) -> dict[str, Tensor]:
        return {"exp_avg": zeros_state(p), "exp_avg_sq": zeros_state(p)}

    def update(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Scalar], step: int) -> None:
        lr, beta2 = hp["lr"], hp["beta2"]
        g = weight_decay_(g, p, lr, hp["weight_decay"], bool(hp["decoupled_weight_decay"]))
        exp_avg = ema_(state["exp_avg"], g, hp["beta1"])
        exp_avg_sq = ema_square_(state["exp_avg_sq"], g, beta2)
        correction2 = bias_correction(beta2, step)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * beta2**step / correction2
        step_dir = exp_avg / bias_correction(hp["beta1"], step) * lr

        def rectified(rho: Scalar) -> Tensor:
            rect = ((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho)) ** 0.5
            return step_dir * (correction2**0.5 / exp_avg_sq.sqrt().add_(hp["eps"])) * rect

        if isinstance(rho_t, Tensor):
            # Per-trial β₂: each trial takes its own branch; the rectifier is evaluated on a safe ρ where unused.
            on = rho_t > THRESHOLD
            step_dir = torch.where(on, rectified(torch.where(on, rho_t, THRESHOLD + 1)), step_dir)
        elif rho_t > THRESHOLD:
            step_dir = rectified(rho_t)
        if hp["cautious"]:
            step_dir = cautious_(step_dir, g, self.trial_dims(hp))
        p.sub_(step_dir)
