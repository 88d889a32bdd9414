"""Schedule-Free SGD and AdamW (Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky 2024, "The Road Less
Scheduled", NeurIPS; arXiv 2405.15682). Momentum and the learning-rate schedule are replaced by interpolation
and averaging of three sequences: z (the base optimizer's iterate), x (a weighted average of the z's: the point
to evaluate) and y (between them: the point the gradient is taken at).

Algorithm 1 (Schedule-Free AdamW), with γ = ``lr``, λ = ``weight_decay``, β₁, β₂, ε, T = ``warmup_steps``::

    z₁ = x₁,  v₀ = 0
    yₜ = (1 − β₁)·zₜ + β₁·xₜ                       (interpolation: the momentum)
    gₜ = ∇f(yₜ)                                     (the gradient is taken at y)
    vₜ = β₂·vₜ₋₁ + (1 − β₂)·gₜ²
    γₜ = γ·√(1 − β₂ᵗ)·min(1, t/T)                   (warmup and Adam's bias correction in the step size)
    zₜ₊₁ = zₜ − γₜ·gₜ/(√vₜ + ε) − γₜ·λ·yₜ
    cₜ₊₁ = γₜ² / Σᵢ₌₁ᵗ γᵢ²
    xₜ₊₁ = (1 − cₜ₊₁)·xₜ + cₜ₊₁·zₜ₊₁                (the weighted average: what is evaluated)

Schedule-Free SGD is the same with zₜ₊₁ = zₜ − γₜ·gₜ, γₜ = γ·min(1, t/T) and β = ``momentum`` in place of β₁
(the paper's SGD form; a constant γ gives cₜ₊₁ = 1/t, the plain mean of z₂ … zₜ₊₁).

The averaging weights are computed as the ``schedulefree`` package (1.4.1) computes them: cₜ₊₁ = wₜ/Σᵢ wᵢ with
wₜ = tʳ·(maxᵢ≤ₜ γᵢ)ᵖ, r = ``r`` (an extra polynomial weighting), p = ``weight_lr_power``. With the defaults
r = 0, p = 2 and a non-decreasing γₜ (warmup, then constant) this is the box's γₜ²/Σγᵢ² exactly.

Stored form. Only y and z are kept, as the package's memory-saving classes do (the parameter holds y, the state
holds z and the β that y was made with): each step recovers x = (y − (1 − β)·z)/β, then runs the box's updates
of z, x and y, so the state is as large as Adam's and a β changed between steps (a scheduler cycling momentum)
is handled as the box (and the package's reference classes, which keep x) handle it. x is also what
:meth:`ScheduleFreeRule.evaluation_point` returns. β must therefore be > 0 (β = 0 makes y = z, and x cannot be
recovered; the package divides by β too).

Departures from the box, each a documented option or a property of the package the tests pin:

* ``adam_debias=True`` (AdamW) is the package's ``AdamWScheduleFree`` default: v is divided by 1 − β₂ᵗ inside the
  root (√(vₜ/(1 − β₂ᵗ)) + ε, as Adam does) and γₜ = γ·min(1, t/T) carries no correction, in the step size nor in
  the averaging weights. The package's authors made it their default because the box's form "can cause
  instability on some problems"; the default here (``False``) is the box, which the package ships as
  ``AdamWScheduleFreePaper``.
* Under a scheduler that lowers lr, the weights use the largest γ so far (the package's choice, which keeps
  later iterates from losing weight in the average) where the box's γₜ² would shrink with γₜ.
* Weight decay in the SGD form is the package's L2 term λ·yₜ added to gₜ (the paper's SGD has none).
* The package keeps the step count, the running maximum of γₜ and Σwᵢ once per parameter group; here they are
  per tensor (and per trial in a population), which gives the same numbers unless a tensor of a group skips
  steps (no gradient) while the others take them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import torch
from torch import Tensor

from . import _common_hypers as common
from ._base import Hyper, Rule, Scalar, State
from ._math import (
    add_scaled_,
    bias_correction,
    ema_square_,
    is_active,
    is_number_tensor,
    l2_gradient,
    scaled_sum,
    zeros_state,
)

WARMUP_STEPS = Hyper("warmup_steps", 0, low=0.0, doc="steps of linear learning-rate warmup (0: none)")
R = Hyper("r", 0.0, low=0.0, doc="power r of the polynomial weighting tʳ in the average")
WEIGHT_LR_POWER = Hyper(
    "weight_lr_power", 2.0, low=0.0, doc="power p of the largest learning rate so far in the averaging weights"
)


def _interpolation(name: str, default: float) -> Hyper:
    return Hyper(
        name, default, low=0.0, high=1.0, low_open=True, high_open=True,
        doc="interpolation β: the gradient is taken at y = (1 − β)·z + β·x",
    )


def _warmup_factor(step: Scalar, warmup: Scalar) -> Scalar:
    """min(1, t/T), or 1 when there is no warmup (a per-trial T = 0 gives t/0 = ∞, hence 1 too)."""
    if not is_active(warmup):
        return 1.0
    ratio = step / warmup
    return torch.clamp(ratio, max=1.0) if isinstance(ratio, Tensor) else min(1.0, ratio)


def _scalar_state(p: Tensor, hp: Mapping[str, Scalar]) -> Tensor:
    """A zero per trial, shaped like the per-trial hyperparameters (``[K, 1, ...]``; 0-d when there are none), in
    ``p``'s dtype (the dtype ``Optimizer.load_state_dict`` casts floating-point state to, so a resumed run computes
    the same numbers)."""
    shape = torch.broadcast_shapes(*(v.shape for v in hp.values() if isinstance(v, Tensor)))
    return torch.zeros(shape, dtype=p.dtype, device=p.device)


class ScheduleFreeRule(Rule):
    """What both Schedule-Free rules share: the averaging weights, the evaluation point and its inverse."""

    interpolation: ClassVar[str]
    """The name of the hyperparameter β of y = (1 − β)·z + β·x."""
    elementwise = True

    def init_state(self, p: Tensor, hp: Mapping[str, Scalar]) -> dict[str, Tensor]:
        y_beta = _scalar_state(p, hp)
        y_beta.copy_(torch.as_tensor(hp[self.interpolation], dtype=y_beta.dtype))
        return {"z": p.detach().clone(memory_format=torch.preserve_format), "y_beta": y_beta,
                "lr_max": _scalar_state(p, hp), "weight_sum": _scalar_state(p, hp)}

    def averaging_weight(self, state: State, hp: Mapping[str, Scalar], step: Scalar, lr: Scalar) -> Tensor:
        """cₜ₊₁ = wₜ/Σᵢwᵢ with wₜ = tʳ·(maxᵢ≤ₜ γᵢ)ᵖ, updating the running maximum and sum in ``state``."""
        lr_max, weight_sum = state["lr_max"], state["weight_sum"]
        lr_max.copy_(torch.maximum(lr_max, torch.as_tensor(lr, dtype=lr_max.dtype)))
        weight = lr_max ** hp["weight_lr_power"]
        if is_active(hp["r"]):
            weight = weight * step ** hp["r"]
        weight_sum.add_(weight)
        # The package catches 0/0 (every γ so far zero) and uses c = 0: x stays where it is.
        return torch.where(weight_sum > 0, weight / weight_sum, 0.0)

    def move(self, y: Tensor, state: State, d: Tensor, lr: Scalar, c: Tensor, beta: Scalar) -> None:
        """The box's updates of z, x and y along the step direction ``d``, with x computed from y and z."""
        z, y_beta = state["z"], state["y_beta"]
        if is_number_tensor(beta):  # the compiled drop-in step: below
            self._move_compiled(y, z, y_beta, d, lr, c, beta)
            return
        x = self.evaluation_point(y, state, {})
        add_scaled_(z, d, -lr)  # zₜ₊₁ = zₜ − γₜ·dₜ
        x.lerp_(z, c.to(y.dtype))  # xₜ₊₁ = (1 − cₜ₊₁)·xₜ + cₜ₊₁·zₜ₊₁
        y.copy_(torch.lerp(z, x, beta))  # yₜ₊₁ = (1 − β)·zₜ₊₁ + β·xₜ₊₁
        y_beta.copy_(torch.as_tensor(beta, dtype=y_beta.dtype))

    @staticmethod
    def _move_compiled(
        y: Tensor, z: Tensor, y_beta: Tensor, d: Tensor, lr: Scalar, c: Tensor, beta: Tensor
    ) -> None:
        """:meth:`move` as one loop computes it best: each interpolation a + w·(b − a). A ``lerp`` by a weight known
        only at run time compiles to both of its branches and a blend for every element (it takes b − (b − a)·(1 − w)
        from w = 0.5 up, for accuracy near w = 1); three of them made SGDScheduleFree's step 1.12–1.18× its memory
        floor. Here the values differ from the reference path's by about a rounding of the parameters' size per
        step (float64 within 1e-12 relative over the tests' runs)."""
        x = y + (1 - 1 / y_beta.to(y.dtype)) * (z - y)
        add_scaled_(z, d, -lr)
        x = x + c.to(y.dtype) * (z - x)
        y.copy_(z + beta * (x - z))
        y_beta.copy_(beta.to(y_beta.dtype))

    def evaluation_point(self, p: Tensor, state: State, hp: Mapping[str, Scalar]) -> Tensor:
        """x = (y − (1 − β)·z)/β, the averaged iterate (the parameter holds y while training).

        β is the value y was made with (kept in the state), so a β changed since, by a scheduler that cycles
        momentum, does not change x.
        """
        if "z" not in state:
            return p
        return torch.lerp(p, state["z"], 1 - 1 / state["y_beta"].to(p.dtype))

    def training_point(self, x: Tensor, state: State, hp: Mapping[str, Scalar]) -> Tensor:
        """y = (1 − β)·z + β·x: the inverse of :meth:`evaluation_point` (the drop-in classes' ``train()``)."""
        if "z" not in state:
            return x
        return torch.lerp(state["z"], x, state["y_beta"].to(x.dtype))

    def check_combination(self, hp: Mapping[str, object], owner: str) -> None:
        warmup = hp.get("warmup_steps", 0)
        if isinstance(warmup, Tensor):
            whole = bool((warmup == warmup.round()).all())
        else:
            whole = isinstance(warmup, (int, float)) and float(warmup).is_integer()
        if not whole:
            raise ValueError(f"Invalid warmup_steps={warmup!r} for {owner}: must be a whole number of steps.")


class ScheduleFreeSGDRule(ScheduleFreeRule):
    name = "schedulefree_sgd"
    interpolation = "momentum"
    hypers = (
        common.lr(1.0),
        _interpolation("momentum", 0.9),
        common.WEIGHT_DECAY,
        WARMUP_STEPS,
        R,
        WEIGHT_LR_POWER,
    )

    def update(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Scalar], step: int) -> None:
        lr = hp["lr"] * _warmup_factor(step, hp["warmup_steps"])
        c = self.averaging_weight(state, hp, step, lr)
        g = l2_gradient(g, p, hp["weight_decay"])  # λ·y, the package's L2 decay (the paper's SGD box has none)
        self.move(p, state, g, lr, c, hp["momentum"])


class ScheduleFreeAdamWRule(ScheduleFreeRule):
    name = "schedulefree_adamw"
    interpolation = "beta1"
    hypers = (
        common.lr(0.0025),
        _interpolation("beta1", 0.9),
        common.beta("beta2", 0.999),
        common.eps(1e-8),
        common.WEIGHT_DECAY,
        WARMUP_STEPS,
        R,
        WEIGHT_LR_POWER,
        Hyper(
            "adam_debias", False, structural=True,
            doc="divide v by 1 − β₂ᵗ as Adam does (schedulefree 1.4.1's default) instead of scaling γₜ (the paper)",
        ),
    )

    def init_state(self, p: Tensor, hp: Mapping[str, Scalar]) -> dict[str, Tensor]:
        return {**super().init_state(p, hp), "exp_avg_sq": zeros_state(p)}

    def update(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Scalar], step: int) -> None:
        beta2 = hp["beta2"]
        lr = hp["lr"] * _warmup_factor(step, hp["warmup_steps"])
        second = ema_square_(state["exp_avg_sq"], g, beta2)
        if hp["adam_debias"]:
            denom = second.div(bias_correction(beta2, step)).sqrt_().add_(hp["eps"])
        else:
            lr = lr * bias_correction(beta2, step) ** 0.5  # line 8 of the box: γₜ = γ·√(1 − β₂ᵗ)·min(1, t/T)
            denom = second.sqrt().add_(hp["eps"])
        c = self.averaging_weight(state, hp, step, lr)
        d = g / denom
        if is_active(hp["weight_decay"]):
            d = scaled_sum(d, p, hp["weight_decay"])  # −γₜ·λ·yₜ of line 9, folded into the step direction
        self.move(p, state, d, lr, c, hp["beta1"])
