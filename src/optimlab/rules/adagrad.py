"""AdaGrad (Duchi, Hazan & Singer 2011, "Adaptive Subgradient Methods for Online Learning and Stochastic
Optimization", JMLR 12), the diagonal version::

    s₀ = initial_accumulator_value
    sₜ = sₜ₋₁ + gₜ²
    ηₜ = η / (1 + (t − 1)·lr_decay)
    θₜ = θₜ₋₁ − ηₜ·gₜ / (√sₜ + ε)

Each coordinate's step shrinks with the sum of its squared gradients: large on rare features, small on
frequent ones, and ever smaller as training goes on. ``lr_decay`` is torch.optim's addition (0 = the paper).
Sparse gradients update only the coordinates they touch (weight decay is then not allowed, as in torch).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from . import _common_hypers as common
from ._base import Hyper, Rule, Scalar, State
from ._math import add_ratio_, is_active, l2_gradient, sparse_like


class AdagradRule(Rule):
    name = "adagrad"
    elementwise = True
    hypers = (
        common.lr(1e-2),
        Hyper("lr_decay", 0.0, low=0.0, doc="learning-rate decay per step"),
        common.WEIGHT_DECAY,
        Hyper("initial_accumulator_value", 0.0, low=0.0, doc="starting value of the squared-gradient sum"),
        common.eps(1e-10),
    )
    supports_sparse = True

    def init_state(self, p: Tensor, hp: Mapping[str, Scalar]) -> dict[str, Tensor]:
        start = hp["initial_accumulator_value"]
        if isinstance(start, Tensor):
            return {"sum": torch.zeros_like(p).add_(start)}
        return {"sum": torch.full_like(p, start, memory_format=torch.preserve_format)}

    def update(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Scalar], step: int) -> None:
        total = state["sum"]
        lr = hp["lr"] / (1 + (step - 1) * hp["lr_decay"])
        if g.is_sparse:
            if is_active(hp["weight_decay"]):
                raise RuntimeError("Adagrad: weight_decay is not compatible with sparse gradients.")
            _sparse_update(p, g, total, lr, hp["eps"])
            return
        g = l2_gradient(g, p, hp["weight_decay"])
        total.addcmul_(g, g)
        add_ratio_(p, g, total.sqrt().add_(hp["eps"]), -lr)


def _sparse_update(p: Tensor, g: Tensor, total: Tensor, lr: Scalar, eps: Scalar) -> None:
    """The same update, restricted to the coordinates a sparse gradient touches."""
    g = g.coalesce()  # the update is non-linear in g, so repeated indices must be summed first
    values = g._values()
    total.add_(sparse_like(g, values.pow(2)))
    std = total.sparse_mask(g)._values().sqrt_().add_(eps)
    p.add_(sparse_like(g, values / std), alpha=-float(lr))
