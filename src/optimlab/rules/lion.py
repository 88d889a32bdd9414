"""Lion, "EvoLved Sign Momentum" (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms",
arXiv 2302.06675, Program 1 and Algorithm 2), and its sign-momentum relative Signum (Bernstein et al. 2018,
"signSGD: Compressed Optimisation for Non-Convex Problems", ICML, Algorithm 3).

Lion::

    cₜ = β₁·mₜ₋₁ + (1 − β₁)·gₜ                  (interpolate: the update's direction)
    θₜ = θₜ₋₁ − η·(sign(cₜ) + λ·θₜ₋₁)            (decoupled weight decay, multiplied by η)
    mₜ = β₂·mₜ₋₁ + (1 − β₂)·gₜ                  (the momentum, with a longer memory: β₂ > β₁)

Signum::

    mₜ = β·mₜ₋₁ + (1 − β)·gₜ
    θₜ = θₜ₋₁ − η·sign(mₜ)

With β₁ = β₂ = β Lion's cₜ is Signum's mₜ: the two are one algorithm (tests check it bit for bit, which is why
both compute their averages with the same helper). Every coordinate moves by exactly η (plus the decay).

Weight decay. Lion's is the paper's, θ ← θ − η·λ·θ with the old θ, computed as θ·(1 − η·λ) before the sign step
(the same number; lion-pytorch 0.2.5 and pytorch-optimizer compute it this way). lion-pytorch's
``decoupled_weight_decay=True`` divides λ by the constructor's learning rate (decay λ·ηₜ/η₀ per step): the
drop-in class offers it, the rule does not see it. Signum's box has no weight decay; ``weight_decay`` follows
pytorch-optimizer 4.1.0's ``SignSGD``: decoupled θ·(1 − η·λ) by default, L2 (added to g) with
``weight_decouple=False``; λ = 0 (the default) is the box.

``cautious=True`` (Liang et al. 2024; Lion is their C-Lion) masks the sign step with
:func:`~optimlab.rules._math.cautious_`; the decay is not masked.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

from . import _common_hypers as common
from ._base import Hyper, Rule, Scalar, State
from ._math import add_scaled_, cautious_, decoupled_decay_, ema, ema_, is_active, weight_decay_, zeros_state


def _sign_step_(p: Tensor, direction: Tensor, g: Tensor, hp: Mapping[str, Scalar]) -> None:
    """θ ← θ − η·sign(direction), masked when cautious."""
    step = direction.sign()
    if hp["cautious"]:
        step = cautious_(step, g, Rule.trial_dims(hp))
    add_scaled_(p, step, -hp["lr"])


class LionRule(Rule):
    name = "lion"
    elementwise = True
    counts_steps = False
    hypers = (
        common.lr(1e-4),
        common.beta("beta1", 0.9),
        common.beta("beta2", 0.99),
        common.WEIGHT_DECAY,
        common.CAUTIOUS,
    )

    def init_state(self, p: Tensor, hp: Mapping[str, Scalar]) -> dict[str, Tensor]:
        return {"exp_avg": zeros_state(p)}

    def update(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Scalar], step: int) -> None:
        # The paper's −η·λ·θₜ₋₁, applied first as θ·(1 − ηλ): the same number, in lion-pytorch's order.
        decoupled_decay_(p, hp["lr"], hp["weight_decay"])
        exp_avg = state["exp_avg"]
        direction = ema(exp_avg, g, hp["beta1"])
        ema_(exp_avg, g, hp["beta2"])
        _sign_step_(p, direction, g, hp)


class SignumRule(Rule):
    name = "signum"
    elementwise = True
    counts_steps = False
    hypers = (
        common.lr(1e-3),
        Hyper("momentum", 0.9, low=0.0, high=1.0, high_open=True, doc="β, the momentum's decay rate (0: signSGD)"),
        common.WEIGHT_DECAY,
        Hyper("weight_decouple", True, structural=True, doc="decay the weights directly instead of via L2"),
        common.CAUTIOUS,
    )

    def init_state(self, p: Tensor, hp: Mapping[str, Scalar]) -> dict[str, Tensor]:
        # As pytorch-optimizer's SignSGD: no buffer when momentum is 0 (signSGD); per-trial momentum keeps one.
        return {"momentum_buffer": zeros_state(p)} if is_active(hp["momentum"]) else {}

    def update(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Scalar], step: int) -> None:
        momentum = hp["momentum"]
        # Not in Algorithm 3 (λ = 0, the default, is the box): pytorch-optimizer SignSGD's decay, for users of it.
        g = weight_decay_(g, p, hp["lr"], hp["weight_decay"], bool(hp["weight_decouple"]))
        direction = g
        if is_active(momentum):
            if "momentum_buffer" not in state:  # momentum switched on after the first step (a scheduler)
                state["momentum_buffer"] = zeros_state(p)
            direction = ema_(state["momentum_buffer"], g, momentum)
        _sign_step_(p, direction, g, hp)
