"""NAdam (Dozat 2016, "Incorporating Nesterov Momentum into Adam", ICLR workshop): Adam whose momentum
looks one step ahead, with Dozat's warming momentum schedule μₜ = β₁·(1 − ½·0.96^(t·ψ)), ψ = ``momentum_decay``::

    mₜ = β₁·mₜ₋₁ + (1 − β₁)·gₜ
    vₜ = β₂·vₜ₋₁ + (1 − β₂)·gₜ²
    dₜ = √(vₜ/(1 − β₂ᵗ)) + ε
    θₜ = θₜ₋₁ − η·[(1 − μₜ)/(1 − ∏ᵢ₌₁ᵗ μᵢ)·gₜ + μₜ₊₁/(1 − ∏ᵢ₌₁ᵗ⁺¹ μᵢ)·mₜ] / dₜ

This is torch.optim.NAdam's form: the moment average uses the constant β₁ (the paper's Algorithm 2 uses μₜ),
and weight decay is L2 unless ``decoupled_weight_decay=True`` (NAdamW).

With ``cautious=True`` (Liang et al. 2024, :func:`~optimlab.rules._math.cautious_`) the components of the step
whose sign disagrees with the gradient are dropped and the rest rescaled; ``cautious=False`` is the algorithm
above, operation for operation.
The mask compares the whole bracket (the gradient and the momentum term together) with gₜ.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from . import _common_hypers as common
from ._base import Hyper, Rule, Scalar, State
from ._math import (
    add_ratio_,
    as_python,
    bias_correction,
    cautious_,
    ema_,
    ema_square_,
    scaled_sum,
    weight_decay_,
    zeros_state,
)


def scalar_dtype() -> torch.dtype:
    """The dtype torch.optim uses for scalar state (float64 only when that is the default dtype)."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


class NAdamRule(Rule):
    name = "nadam"
    elementwise = True
    hypers = (
        *common.adam_family(2e-3),
        Hyper("momentum_decay", 4e-3, low=0.0, doc="ψ in the momentum schedule μₜ = β₁(1 − ½·0.96^(tψ))"),
        common.DECOUPLED,
        common.CAUTIOUS,
    )

    def init_state(self, p: Tensor, hp: Mapping[str, Scalar]) -> dict[str, Tensor]:
        beta1 = hp["beta1"]
        if isinstance(beta1, Tensor):  # one running product per trial
            mu_product = torch.ones_like(beta1, dtype=p.dtype)
        else:
            # A 0-d tensor in torch's scalar dtype, as torch.optim keeps it (so state_dicts interchange).
            mu_product = torch.ones((), dtype=scalar_dtype())
        return {"mu_product": mu_product, "exp_avg": zeros_state(p), "exp_avg_sq": zeros_state(p)}

    def update(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Scalar], step: int) -> None:
        lr, beta1, decay = hp["lr"], hp["beta1"], hp["momentum_decay"]
        g = weight_decay_(g, p, lr, hp["weight_decay"], bool(hp["decoupled_weight_decay"]))
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * decay))
        mu_product_t = state["mu_product"]
        mu_product_t *= mu
        mu_product = as_python(mu_product_t)
        exp_avg = ema_(state["exp_avg"], g, beta1)
        exp_avg_sq = ema_square_(state["exp_avg_sq"], g, hp["beta2"])
        denom = exp_avg_sq.div(bias_correction(hp["beta2"], step)).sqrt().add_(hp["eps"])
        if hp["cautious"]:  # the bracket is masked as a whole: one addition instead of torch's two
            bracket = scaled_sum(g * ((1.0 - mu) / (1.0 - mu_product)), exp_avg, mu_next / (1.0 - mu_product * mu_next))
            add_ratio_(p, cautious_(bracket, g, self.trial_dims(hp)), denom, -lr)
            return
        add_ratio_(p, g, denom, -lr * (1.0 - mu) / (1.0 - mu_product))
        add_ratio_(p, exp_avg, denom, -lr * mu_next / (1.0 - mu_product * mu_next))
