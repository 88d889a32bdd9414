"""AdaDelta (Zeiler 2012, "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701, Algorithm 1),
with ρ = ``rho``::

    E[g²]ₜ  = ρ·E[g²]ₜ₋₁ + (1 − ρ)·gₜ²
    Δθₜ     = −(√(E[Δθ²]ₜ₋₁ + ε) / √(E[g²]ₜ + ε))·gₜ
    E[Δθ²]ₜ = ρ·E[Δθ²]ₜ₋₁ + (1 − ρ)·Δθₜ²
    θₜ      = θₜ₋₁ + η·Δθₜ

The step's units come from the past steps themselves, so the paper has no learning rate: ``lr`` is
torch.optim's addition, and lr = 1 (the default) is exactly Zeiler's Algorithm 1.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

from . import _common_hypers as common
from ._base import Hyper, Rule, Scalar, State
from ._math import add_scaled_, ema_square_, l2_gradient, zeros_state


class AdadeltaRule(Rule):
    name = "adadelta"
    elementwise = True
    hypers = (
        common.lr(1.0),
        Hyper("rho", 0.9, low=0.0, high=1.0, doc="decay rate ρ of both moving averages"),
        common.eps(1e-6),
        common.WEIGHT_DECAY,
    )

    def init_state(self, p: Tensor, hp: Mapping[str, Scalar]) -> dict[str, Tensor]:
        return {"square_avg": zeros_state(p), "acc_delta": zeros_state(p)}

    def update(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Scalar], step: int) -> None:
        rho, eps = hp["rho"], hp["eps"]
        g = l2_gradient(g, p, hp["weight_decay"])
        square_avg = ema_square_(state["square_avg"], g, rho)
        std = square_avg.add(eps).sqrt_()
        delta = state["acc_delta"].add(eps).sqrt_().div_(std).mul_(g)  # −Δθₜ
        ema_square_(state["acc_delta"], delta, rho)
        add_scaled_(p, delta, -hp["lr"])
