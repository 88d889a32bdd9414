"""Adam (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization", ICLR; Algorithm 1), with the
AMSGrad option (Reddi, Kale & Kumar 2018) and decoupled weight decay (AdamW, Loshchilov & Hutter 2019)::

    mₜ = β₁·mₜ₋₁ + (1 − β₁)·gₜ
    vₜ = β₂·vₜ₋₁ + (1 − β₂)·gₜ²
    amsgrad:  v̂maxₜ = max(v̂maxₜ₋₁, vₜ), and v̂maxₜ replaces vₜ below
    θₜ = θₜ₋₁ − η·(mₜ/(1 − β₁ᵗ)) / (√(vₜ/(1 − β₂ᵗ)) + ε)

Weight decay λ: by default added to the gradient (gₜ + λ·θₜ₋₁, L2 — Adam's original coupling);
with ``decoupled_weight_decay=True`` (AdamW) the weights shrink directly, θ ← θ·(1 − η·λ), before the step.

Departures, as in torch.optim: AMSGrad keeps the maximum of the raw second moment and bias-corrects it
(Reddi et al.'s Algorithm 2 has no bias correction); AdamW multiplies λ by the learning rate η (the paper's
Algorithm 2 multiplies it by the schedule multiplier only).

With ``cautious=True`` (Liang et al. 2024, :func:`~optimlab.rules._math.cautious_`) the components of the step
whose sign disagrees with the gradient are dropped and the rest rescaled; ``cautious=False`` is the algorithm
above, operation for operation.

Cautious AdamW as Liang et al.'s Algorithm 1 has it: the mask compares the step m̂/(√v̂ + ε) with gₜ (computed on
mₜ, which has the step's sign), and the weight decay is not masked.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from . import _common_hypers as common
from ._base import Hyper, Rule, Scalar, State
from ._math import (
    add_ratio_,
    bias_correction,
    cautious_,
    ema_,
    ema_square_,
    rms_denominator,
    weight_decay_,
    zeros_state,
)


class AdamRule(Rule):
    name = "adam"
    elementwise = True
    hypers = (
        *common.adam_family(1e-3),
        Hyper("amsgrad", False, structural=True, doc="use the running maximum of the second moment (AMSGrad)"),
        common.DECOUPLED,
        common.CAUTIOUS,
    )

    def init_state(self, p: Tensor, hp: Mapping[str, Scalar]) -> dict[str, Tensor]:
        state = {"exp_avg": zeros_state(p), "exp_avg_sq": zeros_state(p)}
        if hp["amsgrad"]:
            state["max_exp_avg_sq"] = zeros_state(p)
        return state

    def update(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Scalar], step: int) -> None:
        lr, beta1, beta2 = hp["lr"], hp["beta1"], hp["beta2"]
        g = weight_decay_(g, p, lr, hp["weight_decay"], bool(hp["decoupled_weight_decay"]))
        exp_avg = ema_(state["exp_avg"], g, beta1)
        second = ema_square_(state["exp_avg_sq"], g, beta2)
        if hp["amsgrad"]:
            second = torch.maximum(state["max_exp_avg_sq"], second, out=state["max_exp_avg_sq"])
        denom = rms_denominator(second, bias_correction(beta2, step), hp["eps"])
        if hp["cautious"]:  # the step has mₜ's sign (the denominator is positive): mask a copy of mₜ
            exp_avg = cautious_(exp_avg.clone(), g, self.trial_dims(hp))
        add_ratio_(p, exp_avg, denom, -lr / bias_correction(beta1, step))
