"""AdEMAMix (Pagliardini, Ablin & Grangier 2024, "The AdEMAMix Optimizer: Better, Faster, Older",
arXiv 2409.03137; Algorithm 1): Adam whose numerator mixes a fast momentum (β₁) with a slow one (β₃ ≈ 0.9999)
that remembers gradients from tens of thousands of steps ago::

    α(t)  = min(t·α / T, α)                                          (linear warm-up of α)
    β₃(t) = min(exp(ln β₁ · ln β₃ / ((1 − t/T)·ln β₃ + (t/T)·ln β₁)), β₃)   (β₃ warm-up, half-life linear in t)
    m₁ₜ = β₁·m₁ₜ₋₁ + (1 − β₁)·gₜ
    m₂ₜ = β₃(t)·m₂ₜ₋₁ + (1 − β₃(t))·gₜ
    νₜ  = β₂·νₜ₋₁ + (1 − β₂)·gₜ²
    θₜ = θₜ₋₁ − η·[(m₁ₜ/(1 − β₁ᵗ) + α(t)·m₂ₜ) / (√(νₜ/(1 − β₂ᵗ)) + ε) + λ·θₜ₋₁]

T is ``t_alpha_beta3`` (the paper's T_{α,β₃}, "usually set to the number of iterations"); T = 0 (the drop-in
class's ``None``) turns both warm-ups off: α(t) = α, β₃(t) = β₃. The slow momentum m₂ is not bias-corrected
(as in the paper: it starts at zero and α's warm-up hides that).

Weight decay: the paper's λ·θₜ₋₁ inside the step is decoupled decay scaled by η, ``weight_decouple=True``
(the default here). ``weight_decouple=False`` adds λ·θ to the gradient instead (coupled L2, pytorch_optimizer's
default, see :class:`optimlab.optim.AdEMAMix`); ``fixed_decay=True`` decouples without the factor η.

The step count t is kept per tensor (torch.optim's convention); pytorch_optimizer keeps one per parameter
group. The two agree whenever every tensor gets a gradient at every step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor

from . import _common_hypers as common
from ._base import Hyper, Rule, Scalar, State
from ._math import (
    add_ratio_,
    add_scaled_,
    bias_correction,
    decoupled_decay_,
    ema_,
    ema_square_,
    l2_gradient,
    rms_denominator,
    zeros_state,
)


def _log(x: Scalar) -> Scalar:
    return x.log() if isinstance(x, Tensor) else math.log(x)


def _exp(x: Scalar) -> Scalar:
    return x.exp() if isinstance(x, Tensor) else math.exp(x)


def _at_most(x: Scalar, cap: Scalar, warm: Scalar) -> Scalar:
    """min(x, cap) where the warm-up is on (T > 0), else ``cap``; Python numbers stay Python numbers."""
    if not any(isinstance(v, Tensor) for v in (x, cap, warm)):
        return min(x, cap)
    capped = x.clamp(max=cap) if isinstance(x, Tensor) else min(x, cap)
    if isinstance(warm, Tensor):  # per-trial T, some of them 0 (no warm-up): x is inf or nan there
        return capped.where(warm > 0, cap)  # type: ignore[union-attr]
    return capped


def alpha_schedule(alpha: Scalar, step: Scalar, warmup: Scalar) -> Scalar:
    """α(t) = min(t·α/T, α); α itself when T = 0 (no warm-up)."""
    if not isinstance(warmup, Tensor) and warmup == 0:
        return alpha
    return _at_most(step * alpha / warmup, alpha, warmup)


def beta3_schedule(beta1: Scalar, beta3: Scalar, step: Scalar, warmup: Scalar) -> Scalar:
    """β₃(t): from β₁ at t = 0 to β₃ at t = T, the half-life 1/(1 − β) growing linearly; β₃ when T = 0."""
    if not isinstance(warmup, Tensor) and warmup == 0:
        return beta3
    s = step / warmup
    log1, log3 = _log(beta1), _log(beta3)
    return _at_most(_exp(log1 * log3 / ((1 - s) * log3 + s * log1)), beta3, warmup)


class AdEMAMixRule(Rule):
    name = "ademamix"
    elementwise = True
    hypers = (
        common.lr(1e-3),
        common.beta("beta1", 0.9),
        common.beta("beta2", 0.999),
        Hyper("beta3", 0.9999, low=0.0, high=1.0, doc="decay rate of the slow momentum"),
        common.WEIGHT_DECAY,
        Hyper("weight_decouple", True, structural=True, doc="decoupled weight decay (the paper) instead of L2"),
        Hyper("fixed_decay", False, structural=True, doc="decoupled decay not scaled by the learning rate"),
        Hyper("alpha", 5.0, low=0.0, doc="weight of the slow momentum in the numerator"),
        Hyper("t_alpha_beta3", 0.0, low=0.0, doc="warm-up steps of α and β₃ (0: no warm-up)"),
        common.eps(1e-8),
    )

    def check_combination(self, hp: Mapping[str, object], owner: str) -> None:
        warmup, beta1 = hp.get("t_alpha_beta3", 0.0), hp.get("beta1", 0.9)
        if bool(((torch.as_tensor(warmup) > 0) & (torch.as_tensor(beta1) == 0)).any()):
            # β₃'s warm-up starts from β₁ on a log scale
            raise ValueError(f"Invalid betas[0]=0 for {owner}: the β₃ warm-up (t_alpha_beta3 > 0) needs beta1 > 0.")

    def init_state(self, p: Tensor, hp: Mapping[str, Scalar]) -> dict[str, Tensor]:
        return {"exp_avg": zeros_state(p), "exp_avg_sq": zeros_state(p), "exp_avg_slow": zeros_state(p)}

    def update(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Scalar], step: int) -> None:
        lr, beta1, beta2, weight_decay = hp["lr"], hp["beta1"], hp["beta2"], hp["weight_decay"]
        if hp["weight_decouple"]:  # the paper's −η·λ·θₜ₋₁, applied first so that it reads θₜ₋₁
            decoupled_decay_(p, 1.0 if hp["fixed_decay"] else lr, weight_decay)
        else:  # pytorch_optimizer's default: coupled L2
            g = l2_gradient(g, p, weight_decay)
        warmup = hp["t_alpha_beta3"]
        fast = ema_(state["exp_avg"], g, beta1)
        second = ema_square_(state["exp_avg_sq"], g, beta2)
        slow = ema_(state["exp_avg_slow"], g, beta3_schedule(beta1, hp["beta3"], step, warmup))
        denom = rms_denominator(second, bias_correction(beta2, step), hp["eps"])
        numerator = add_scaled_(fast / bias_correction(beta1, step), slow, alpha_schedule(hp["alpha"], step, warmup))
        add_ratio_(p, numerator, denom, -lr)
