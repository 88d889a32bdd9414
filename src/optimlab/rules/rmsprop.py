"""RMSProp (Tieleman & Hinton 2012, Coursera "Neural Networks for Machine Learning", lecture 6e), with the
centered variant of Graves 2013 ("Generating Sequences with Recurrent Neural Networks", eqs. 38–41) and
optional momentum, with α = ``alpha``, μ = ``momentum``::

    vₜ = α·vₜ₋₁ + (1 − α)·gₜ²
    centered:  ḡₜ = α·ḡₜ₋₁ + (1 − α)·gₜ,  dₜ = √(vₜ − ḡₜ²) + ε      else  dₜ = √vₜ + ε
    μ > 0:     bₜ = μ·bₜ₋₁ + gₜ/dₜ,  θₜ = θₜ₋₁ − η·bₜ                 else  θₜ = θₜ₋₁ − η·gₜ/dₜ

Dividing by the root of a moving average of squared gradients gives each coordinate a step of about η,
whatever its gradient scale. This is torch.optim.RMSprop's algorithm.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

from . import _common_hypers as common
from ._base import Hyper, Rule, Scalar, State
from ._math import add_ratio_, add_scaled_, ema_, ema_square_, is_active, l2_gradient, zeros_state


class RMSpropRule(Rule):
    name = "rmsprop"
    elementwise = True
    hypers = (
        common.lr(1e-2),
        # torch only checks alpha >= 0; above 1 the "average" is no longer an average, so optimlab refuses it.
        Hyper("alpha", 0.99, low=0.0, high=1.0, doc="decay rate α of the squared-gradient average"),
        common.eps(1e-8),
        common.WEIGHT_DECAY,
        Hyper("momentum", 0.0, low=0.0, doc="momentum factor μ"),
        Hyper("centered", False, structural=True, doc="normalise by the variance instead of the second moment"),
    )

    def init_state(self, p: Tensor, hp: Mapping[str, Scalar]) -> dict[str, Tensor]:
        state = {"square_avg": zeros_state(p)}
        if is_active(hp["momentum"]):
            state["momentum_buffer"] = zeros_state(p)
        if hp["centered"]:
            state["grad_avg"] = zeros_state(p)
        return state

    def update(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Scalar], step: int) -> None:
        alpha, momentum = hp["alpha"], hp["momentum"]
        g = l2_gradient(g, p, hp["weight_decay"])
        square_avg = ema_square_(state["square_avg"], g, alpha)
        if hp["centered"]:
            grad_avg = ema_(_buffer(state, "grad_avg", p), g, alpha)
            denom = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_().add_(hp["eps"])
        else:
            denom = square_avg.sqrt().add_(hp["eps"])
        if is_active(momentum):
            buf = _buffer(state, "momentum_buffer", p)
            buf.mul_(momentum).addcdiv_(g, denom)
            add_scaled_(p, buf, -hp["lr"])
        else:
            add_ratio_(p, g, denom, -hp["lr"])


def _buffer(state: State, key: str, p: Tensor) -> Tensor:
    """A state buffer, created at zero if a hyperparameter change (momentum > 0 mid-run) now needs it."""
    if key not in state:
        state[key] = zeros_state(p)
    return state[key]
