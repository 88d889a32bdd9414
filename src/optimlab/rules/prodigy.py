"""Prodigy (Mishchenko & Defazio 2024, "Prodigy: An Expeditiously Adaptive Parameter-Free Learner", ICML;
arXiv 2306.06101, Algorithm 4, the Adam version)::

    input: d₀ > 0, x₀, β₁, β₂, ε, step sizes γₖ (the schedule; the paper's default is 1 with cosine annealing)
    r₀ = 0, s₀ = 0, m₀ = 0, v₀ = 0
    for k = 0, 1, ...:
        mₖ₊₁ = β₁·mₖ + (1 − β₁)·dₖ·gₖ
        vₖ₊₁ = β₂·vₖ + (1 − β₂)·dₖ²·gₖ²
        rₖ₊₁ = √β₂·rₖ + (1 − √β₂)·γₖ·dₖ²·⟨gₖ, x₀ − xₖ⟩
        sₖ₊₁ = √β₂·sₖ + (1 − √β₂)·γₖ·dₖ²·gₖ
        d̂ₖ₊₁ = rₖ₊₁ / ‖sₖ₊₁‖₁
        dₖ₊₁ = max(dₖ, d̂ₖ₊₁)
        xₖ₊₁ = xₖ − γₖ·dₖ·mₖ₊₁ / (√vₖ₊₁ + dₖ·ε)

x is the whole model, so r and ‖s‖₁ are sums over every tensor the rule updates together: this rule is a group
reduction (:mod:`optimlab.rules._base`). :meth:`ProdigyRule.partial` advances sₖ and returns the tensor's share of
rₖ₊₁ − √β₂·rₖ and of ‖sₖ₊₁‖₁, :meth:`ProdigyRule.combine` computes dₖ₊₁, :meth:`ProdigyRule.update` takes the step
with dₖ. The group-level state (0-d tensors, ``[K]`` in the population) keeps prodigyopt's names: ``d`` (dₖ₊₁ after
a step), ``d_max``, ``d_numerator`` (r), ``d_denom`` (‖s‖₁), ``d_hat``, and ``d_prev`` (dₖ, the value the step used).

Options, all from ``prodigyopt`` 1.1.2 (the paper's box has none of them; their defaults leave it unchanged):
``beta3`` replaces √β₂ in r and s (``None``: √β₂); ``d_coef`` multiplies d̂; ``growth_rate`` caps the growth,
dₖ₊₁ = min(max(d_max, d̂ₖ₊₁), growth_rate·dₖ), where dₖ = d₀ is first replaced by max(d₀, d̂ₖ₊₁) as prodigyopt does
(∞: no cap, the paper's rule); ``use_bias_correction`` takes γₖ·√(1 − β₂ᵏ⁺¹)/(1 − β₁ᵏ⁺¹) for γₖ everywhere it
appears (r, s and the step); ``safeguard_warmup`` drops γₖ from s's increment (so a warm-up that starts γ near
zero cannot make ‖s‖₁ tiny and d̂ huge); ``weight_decay`` λ is either decoupled (``decouple=True``, prodigyopt's
default: x ← x − λ·γₖ·dₖ·x before the step) or added to the gradient (g ← g + λ·x, used in r, s, m and v).

Departures from prodigyopt 1.1.2, on purpose:

* prodigyopt reads dₖ₊₁ where the paper reads dₖ in the step's ε term (and, with β₁ = 0, in the gradient's
  scale); ``step_with_new_d=True`` does the same (tests match prodigyopt with it), the default follows the paper.
* prodigyopt scales the increments of r and s by γₖ·dₖ²/d₀ instead of (1 − √β₂)·γₖ·dₖ²: a constant factor that
  cancels in r/‖s‖₁ (it guards against float underflow of dₖ² ≈ 1e-12 with tiny gradients; not an issue in the
  float32 range here). Here the paper's factor is used.
* γₖ may differ between parameter groups (each group's ``lr`` scales its own share of r and s and its own step);
  prodigyopt takes the largest ``lr`` for every group and refuses unequal nonzero ones. With equal values both agree.
  prodigyopt skips groups with ``lr = 0`` entirely; here their r and s shares are zero and s decays by β₃.
* When ‖s‖₁ = 0 (no gradient yet) d stays and the step is still taken (it is zero without weight decay);
  prodigyopt skips the whole step then.
* s and x₀ are kept in the parameter's shape (prodigyopt keeps them flattened, and keeps x₀ as one zero when the
  parameter starts at zero); ``slice_p`` (estimate d on every p-th entry only) accepts 1 only, and
  ``fsdp_in_use`` (summing across processes) False only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from . import _common_hypers as common
from ._base import Hyper, Rule, Scalar, State
from ._math import add_scaled_, bias_correction, is_active, l2_gradient, zeros_state

_SHARED = ("d", "d_prev", "d_max", "d_numerator", "d_denom", "d_hat")


def trial_sum(x: Tensor, trial_dims: int) -> Tensor:
    """The sum of ``x`` over every dimension but the leading ``trial_dims`` ones (one sum per trial)."""
    if x.dim() == trial_dims:
        return x
    return x.sum(dim=tuple(range(trial_dims, x.dim())))


def l1_norm(x: Tensor, trial_dims: int) -> Tensor:
    """‖x‖₁ over every dimension but the leading ``trial_dims`` ones, without an |x| temporary."""
    if x.dim() == trial_dims:
        return x.abs()
    return torch.linalg.vector_norm(x, 1, dim=tuple(range(trial_dims, x.dim())))


class ProdigyRule(Rule):
    name = "prodigy"
    hypers = (
        Hyper("lr", 1.0, low=0.0, doc="multiplier of the estimated step size d (γₖ; keep 1 and schedule it)"),
        common.beta("beta1", 0.9),
        common.beta("beta2", 0.999),
        Hyper("beta3", None, low=0.0, high=1.0, high_open=True, doc="decay of r and s (None: √β₂, the paper's)"),
        common.eps(1e-8),
        common.WEIGHT_DECAY,
        Hyper("decouple", True, structural=True, doc="decay the weights directly (AdamW) instead of via L2"),
        Hyper("use_bias_correction", False, structural=True, doc="Adam's bias correction, folded into γₖ"),
        Hyper("safeguard_warmup", False, structural=True, doc="leave γₖ out of s (safer during lr warm-up)"),
        Hyper("d0", 1e-6, low=0.0, low_open=True, doc="initial estimate d₀ (an underestimate on purpose)"),
        Hyper("d_coef", 1.0, low=0.0, low_open=True, doc="multiplier of the estimate d̂ (the knob to tune)"),
        Hyper("growth_rate", math.inf, low=1.0, allows_inf=True, doc="largest factor d may grow by per step"),
        Hyper("fsdp_in_use", False, structural=True, doc="sum the estimate across processes (not supported)"),
        Hyper("slice_p", 1, low=1.0, high=1.0, doc="estimate d on every p-th entry (only 1 is supported)"),
        Hyper("step_with_new_d", False, structural=True, doc="use dₖ₊₁ in the step's ε term, as prodigyopt"),
    )
    shared_state = _SHARED

    def check_combination(self, hp: Mapping[str, object], owner: str) -> None:
        if hp.get("fsdp_in_use"):
            raise ValueError(f"Invalid fsdp_in_use=True for {owner}: optimlab does not sum d across processes.")

    def resolve(self, hp: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(hp)
        if out.get("beta3") is None:
            beta2 = out["beta2"]
            if isinstance(beta2, Tensor):
                out["beta3"] = beta2.sqrt()
            else:  # an invalid β₂ gives NaN here; validation names β₂ first
                out["beta3"] = math.sqrt(beta2) if isinstance(beta2, (int, float)) and beta2 >= 0 else math.nan
        return out

    def init_state(self, p: Tensor, hp: Mapping[str, Scalar]) -> dict[str, Tensor]:
        state = {"s": zeros_state(p), "p0": p.detach().clone(memory_format=torch.preserve_format)}
        if is_active(hp["beta1"]):
            state["exp_avg"] = zeros_state(p)
        state["exp_avg_sq"] = zeros_state(p)
        return state

    def init_shared(self, hp: Mapping[str, Scalar], like: Tensor) -> dict[str, Tensor]:
        zero = torch.zeros_like(like)
        d = zero + hp["d0"]
        return {"d": d, "d_prev": d.clone(), "d_max": d.clone(), "d_numerator": zero, "d_denom": zero.clone(),
                "d_hat": d.clone()}

    @staticmethod
    def _gamma(hp: Mapping[str, Scalar], step: int) -> Scalar:
        """γₖ: the learning rate, times Adam's bias correction when asked for."""
        if hp["use_bias_correction"]:
            return hp["lr"] * bias_correction(hp["beta2"], step) ** 0.5 / bias_correction(hp["beta1"], step)
        return hp["lr"]

    @staticmethod
    def _gradient(p: Tensor, g: Tensor, hp: Mapping[str, Scalar]) -> Tensor:
        return g if hp["decouple"] else l2_gradient(g, p, hp["weight_decay"])

    def partial(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Scalar], step: int) -> Tensor:
        g = self._gradient(p, g, hp)
        d, beta3 = hp["d"], hp["beta3"]
        gamma = self._gamma(hp, step)
        scale = (1 - beta3) * d * d  # (1 − β₃)·dₖ², shared by the increments of r and s
        s = add_scaled_(state["s"].mul_(beta3), g, scale if hp["safeguard_warmup"] else scale * gamma)
        dims = self.trial_dims(hp)
        numerator = trial_sum((state["p0"] - p).mul_(g), dims) * trial_sum(torch.as_tensor(scale * gamma), dims)
        return torch.stack([numerator, l1_norm(s, dims)], dim=-1)

    def combine(self, shared: State, total: Tensor, hp: Mapping[str, Scalar], step: int) -> None:
        d, d_max = shared["d"], shared["d_max"]
        r = shared["d_numerator"].mul_(hp["beta3"]).add_(total[..., 0])
        denom = shared["d_denom"].copy_(total[..., 1])
        moved = denom > 0  # ‖s‖₁ = 0 only before any gradient: d stays (prodigyopt skips the step then)
        d_hat = shared["d_hat"].copy_(torch.where(moved, hp["d_coef"] * r / denom, d))
        # dₖ kept for the step. (Not plain copy_(d): compiled, a state entry whose new value is another input
        # unchanged got that input's value after the step, dₖ₊₁, on torch 2.13; ‖s‖₁ = 0 means d never moved.)
        shared["d_prev"].copy_(torch.where(moved, d, shared["d_prev"]))
        # prodigyopt's growth cap (∞ by default, then d = d_max = max(dₖ, d̂ₖ₊₁), the paper's rule); its first
        # growth from d₀ may jump straight to d̂.
        start = torch.where(d == hp["d0"], torch.maximum(d, d_hat), d)
        torch.maximum(d_max, d_hat, out=d_max)
        d.copy_(torch.where(moved, torch.minimum(d_max, start * hp["growth_rate"]), d))

    def update(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Scalar], step: int) -> None:
        g = self._gradient(p, g, hp)
        d = hp["d_prev"]  # dₖ: combine has already replaced hp["d"] by dₖ₊₁
        d_new = hp["d"] if hp["step_with_new_d"] else d  # prodigyopt's dₖ₊₁ (see the module docstring)
        d_lr = self._gamma(hp, step) * d
        if hp["decouple"] and is_active(hp["weight_decay"]):
            # x − (λγd)·x, not _math.decoupled_decay_'s x·(1 − λγd): with λγd ≈ 1e-8, 1 − λγd keeps only half the
            # digits of the decay, and the decay is part of x₀ − x, which the estimate of d sums.
            add_scaled_(p, p, -d_lr * hp["weight_decay"])
        beta2 = hp["beta2"]
        v = state["exp_avg_sq"].mul_(beta2).addcmul_(g, g * (d * d * (1 - beta2)))
        denom = v.sqrt().add_(d_new * hp["eps"])
        if "exp_avg" in state:
            beta1 = hp["beta1"]
            m = add_scaled_(state["exp_avg"].mul_(beta1), g, d * (1 - beta1))
            if hp["step_with_new_d"] and isinstance(beta1, Tensor):  # per-trial β₁ = 0 as prodigyopt's branch below
                m = torch.where(beta1 == 0, g * d_new, m)
        else:  # β₁ = 0: m = dₖ·g, not stored (formed first, as the per-trial β₁ = 0 above rounds it)
            m = g * d_new
        # x − γdₖ·m/denom as x + m/(denom/(−γdₖ)): the step size goes into the denominator, a temporary already,
        # instead of into a scaled copy of m (one pass and one allocation fewer on the eager path).
        p.addcdiv_(m, denom.div_(-d_lr))
