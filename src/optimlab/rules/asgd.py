"""Averaged SGD (Polyak & Juditsky 1992, "Acceleration of Stochastic Approximation by Averaging", SIAM J.
Control Optim. 30(4)), in the form Bottou gives it ("Stochastic Gradient Descent Tricks", 2012, §5.3) and
torch.optim.ASGD implements: SGD on loss + (λ/2)‖θ‖² with a slowly decaying step, plus a running average
of the iterates that starts at step t₀::

    θₜ = θₜ₋₁·(1 − λ·ηₜ₋₁) − ηₜ₋₁·gₜ               (the decay term λ is the L2 term of Bottou's objective)
    θ̄ₜ = θ̄ₜ₋₁ + μₜ₋₁·(θₜ − θ̄ₜ₋₁)                   (θ̄ is ``ax``; μ = 1 copies θ, μ = 1/n averages n iterates)
    ηₜ = η₀ / (1 + λ·η₀·t)^α,   μₜ = 1 / max(1, t − t₀)   (η₀ = ``lr``; η and μ are kept in the state)

with t counting steps from 0 (η₀ and μ₀ = 1 are the initial state). Polyak and Juditsky's theorem is about θ̄:
with a step decaying more slowly than 1/t (α < 1) the average of the iterates reaches the optimal asymptotic
rate of stochastic approximation on a convex problem, whatever the step's constant.

Departures and facts to know:

* The gradient is taken, and the loss evaluated, at θ (the raw iterate); θ̄ is only kept in the state, as in
  torch.optim. The theorem's point is to *use* θ̄ (evaluate or ship it); optimlab's evaluation-point hook is
  how a trainer does that (see the note in ``optimlab.optim.ASGD``).
* μ is computed at the end of a step from that step's count, so with t₀ = 0 the average leaves out the first
  iterate (θ̄₂ = θ₂, θ̄₃ = (θ₂ + θ₃)/2, ...): that is Bottou's formula μₜ = 1/max(1, t − t₀) read literally,
  and what torch does. Polyak–Juditsky average every iterate with weight 1/t; the difference is one iterate.
* torch's default t₀ = 10⁶ means no averaging in any ordinary run: θ̄ = θ.
* η and μ are kept as torch keeps them, in its scalar dtype: float32 unless the default dtype is float64, so
  under a float32 default η is rounded to float32 even for float64 parameters (as in torch.optim).
* ``weight_decay`` adds a further coupled L2 term to g (torch.optim's), on top of λ.
* A learning-rate scheduler changes η from the *next* step on: η for a step is computed at the end of the one
  before, from the ``lr`` of that moment (torch.optim behaves the same).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from . import _common_hypers as common
from ._base import Hyper, Rule, Scalar, State
from ._math import add_scaled_, as_python, is_active, l2_gradient, zeros_state
from .nadam import scalar_dtype


def _scalar_state(value: Scalar) -> Tensor:
    """A scalar kept in the state: 0-d in torch's scalar dtype (as torch.optim), or one value per trial."""
    if isinstance(value, Tensor):
        return value.detach().clone()
    return torch.tensor(value, dtype=scalar_dtype())


def _write(dst: Tensor, value: Scalar) -> None:
    if isinstance(value, Tensor):
        dst.copy_(value)
    else:
        dst.fill_(value)


class ASGDRule(Rule):
    name = "asgd"
    hypers = (
        common.lr(1e-2),
        Hyper("lambd", 1e-4, low=0.0, doc="decay term λ: L2 strength of the objective and the step's decay rate"),
        Hyper("alpha", 0.75, low=0.0, doc="power α of the step's decay, η₀/(1 + λη₀t)^α"),
        Hyper("t0", 1e6, low=0.0, doc="step t₀ from which the iterates are averaged"),
        common.WEIGHT_DECAY,
    )

    def init_state(self, p: Tensor, hp: Mapping[str, Scalar]) -> dict[str, Tensor]:
        t0 = hp["t0"]
        mu = torch.ones_like(t0) if isinstance(t0, Tensor) else torch.ones((), dtype=scalar_dtype())
        return {"eta": _scalar_state(hp["lr"]), "mu": mu, "ax": zeros_state(p)}

    def evaluation_point(self, p: Tensor, state: State, hp: Mapping[str, Scalar]) -> Tensor:
        """The averaged iterate ā (``state["ax"]``): where Polyak & Juditsky's theory evaluates, and where the engine
        evaluates an ASGD trial (the drop-in class, like torch.optim's, leaves θ in the parameters). Before the
        first update, and while t ≤ t₀ + 1 (μ = 1, so ā = θ exactly), this is θ itself."""
        return state["ax"].clone() if "ax" in state else p

    def update(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Scalar], step: int) -> None:
        lr, lambd, t0 = hp["lr"], hp["lambd"], hp["t0"]
        eta, mu = as_python(state["eta"]), as_python(state["mu"])
        g = l2_gradient(g, p, hp["weight_decay"])
        if is_active(lambd):
            p.mul_(1 - lambd * eta)
        add_scaled_(p, g, -eta)
        # Weight 1 gives θ exactly (lerp's formula), as torch's copy_ does. Compiled, μ stays a tensor, kept in the
        # scalar dtype (float32 beside float64 parameters under torch's default dtype): lerp_ takes it in θ's.
        state["ax"].lerp_(p, mu.to(p.dtype) if isinstance(mu, Tensor) else mu)
        _write(state["eta"], lr / ((1 + lambd * lr * step) ** hp["alpha"]))
        if isinstance(t0, Tensor) or isinstance(step, Tensor):
            _write(state["mu"], 1 / torch.clamp(torch.as_tensor(step - t0), min=1))
        else:
            _write(state["mu"], 1 / max(1, step - t0))
