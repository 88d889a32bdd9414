"""Gradient descent, with optional heavy-ball or Nesterov momentum.

Plain rule (Cauchy 1847; Robbins & Monro 1951 for the stochastic form)::

    θₜ = θₜ₋₁ − η·gₜ

GD, SGD and mini-batch gradient descent are this one rule; they differ only in the batch ``gₜ`` is computed
on (all data, one example, b examples). optimlab names them as presets with a batch policy.

Momentum (Polyak 1964, "Some methods of speeding up the convergence of iteration methods"; in the form of
Sutskever, Martens, Dahl & Hinton 2013), with μ = ``momentum``, τ = ``dampening``::

    b₁ = g₁,   bₜ = μ·bₜ₋₁ + (1 − τ)·gₜ
    θₜ = θₜ₋₁ − η·bₜ                      (heavy ball)
    θₜ = θₜ₋₁ − η·(gₜ + μ·bₜ)             (nesterov=True, Sutskever et al. 2013's reformulation)

Weight decay λ adds λ·θ to the gradient (L2). This is torch.optim.SGD's algorithm, argument for argument.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

from . import _common_hypers as common
from ._base import Hyper, Rule, Scalar, State
from ._math import add_scaled_, is_active, l2_gradient, scaled_sum


class SGDRule(Rule):
    name = "sgd"
    elementwise = True
    hypers = (
        common.lr(1e-3),
        Hyper("momentum", 0.0, low=0.0, doc="momentum factor μ"),
        Hyper("dampening", 0.0, low=0.0, high=1.0, doc="dampening τ of the gradient entering the momentum"),
        common.WEIGHT_DECAY,
        Hyper("nesterov", False, structural=True, doc="use Nesterov momentum"),
    )
    supports_sparse = True
    counts_steps = False

    def check_combination(self, hp: Mapping[str, object], owner: str) -> None:
        if hp.get("nesterov"):
            momentum, dampening = hp.get("momentum", 0.0), hp.get("dampening", 0.0)
            if not isinstance(momentum, Tensor) and momentum == 0:
                raise ValueError(f"Invalid momentum=0 for {owner}: nesterov=True needs momentum > 0.")
            if isinstance(dampening, Tensor) or dampening != 0:
                raise ValueError(f"Invalid dampening={dampening!r} for {owner}: nesterov=True needs dampening = 0.")

    def init_state(self, p: Tensor, hp: Mapping[str, Scalar]) -> dict[str, Tensor]:
        # The momentum buffer is created from the first gradient, so there is nothing to allocate yet.
        return {}

    def update(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Scalar], step: int) -> None:
        momentum = hp["momentum"]
        g = l2_gradient(g, p, hp["weight_decay"])
        if is_active(momentum):
            buf = state.get("momentum_buffer")
            if buf is None:
                # Like torch.optim.SGD, the buffer starts as the first gradient, without dampening
                # (the 2013 paper starts from b₀ = 0; the two agree when dampening = 0).
                buf = g.detach().clone()
                state["momentum_buffer"] = buf
            else:
                dampening = hp["dampening"]
                if isinstance(momentum, Tensor):
                    # Per-trial momentum keeps a buffer for every trial; where momentum is 0, torch.optim has no
                    # buffer and so no dampening: switch dampening off there to keep the same update.
                    dampening = dampening * (momentum != 0)
                add_scaled_(buf.mul_(momentum), g, 1 - dampening)
            g = scaled_sum(g, buf, momentum) if hp["nesterov"] else buf
        add_scaled_(p, g, -hp["lr"])
