"""Adafactor (N. Shazeer & M. Stern 2018, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost", ICML,
arXiv:1804.04235; Algorithms 4 and 5 with relative step sizes, §8), as ``torch.optim.Adafactor`` (torch 2.13)
computes it. For a matrix gradient G (m×n; a tensor of more dimensions: its last two, every leading index its
own matrix) the second moment is kept as a row factor R (m×1) and a column factor C (1×n), for a vector in full::

    β̂₂ₜ = 1 − t^τ                                   τ = beta2_decay = −0.8
    ρₜ = min(η, 1/√t)                                relative step size; α ← max(ε₂, RMS(θₜ₋₁))·ρₜ
    θ ← θₜ₋₁·(1 − η·λ)                               decoupled weight decay (not in the paper)
    matrix:  Rₜ = β̂₂ₜRₜ₋₁ + (1 − β̂₂ₜ)·mean_cols(G²)    Cₜ = β̂₂ₜCₜ₋₁ + (1 − β̂₂ₜ)·mean_rows(G²)
             V̂ₜ = Rₜ·Cₜ / max(mean(Rₜ), ε₁)
    vector:  V̂ₜ = β̂₂ₜV̂ₜ₋₁ + (1 − β̂₂ₜ)·G²
    Uₜ = G / max(√V̂ₜ, ε₁)                           (computed as G·rsqrt(max(V̂ₜ, ε₁²)))
    Ûₜ = Uₜ / max(1, RMS(Uₜ)/d)                      update clipping, d = 1
    θₜ = θ − α·Ûₜ

Departures from the paper, all torch.optim's, named in its documentation; optimlab follows torch here because
the issue names it as the reference (the drop-in class has its signature, so a paper option would need an
argument torch lacks):

* ``lr`` caps the relative step size, ρₜ = min(η, 1/√t); the paper fixes the cap at 10⁻² (equal at the default
  η = 10⁻²) and has no learning rate at all;
* ε₁ bounds the denominators (mean(R) ≥ ε₁, V̂ ≥ ε₁²) where the paper adds ε₁ = 10⁻³⁰ to G² before averaging;
  ε₁'s default is the dtype's machine epsilon (``eps=(None, 1e-3)``), not 10⁻³⁰;
* the factors hold means where the paper sums (R = n·mean, C = m·mean: V̂ is the same);
* decoupled weight decay θ·(1 − η·λ), which the paper does not have;
* no first moment: the paper's optional β₁ (§7) is not offered (torch has none either);
* tensors of more than two dimensions factor over their last two (the paper treats matrices; its
  tensor2tensor code picks the two largest dimensions).

In the population a trial's bias is [K, n] (a vector, not factored), a weight [K, m, n] factors per trial, and
RMS(θ) and RMS(U) are each trial's own (``Rule.trial_dims``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from . import _common_hypers as common
from ._base import Hyper, Rule, Scalar, State
from ._math import add_scaled_, decoupled_decay_, minimum, trial_norm, zeros_state


class AdafactorRule(Rule):
    name = "adafactor"
    supports_complex = False  # as torch.optim.Adafactor
    hypers = (
        Hyper("lr", 1e-2, low=0.0, doc="upper bound of the relative step size ρₜ = min(η, 1/√t), and decay's η"),
        Hyper("beta2_decay", -0.8, high=0.0, doc="τ in β̂₂ₜ = 1 − t^τ (the second moment's decay schedule)"),
        Hyper("eps1", None, low=0.0, structural=True,
              doc="lower bound of the denominators (None: the dtype's machine epsilon)"),
        Hyper("eps2", 1e-3, low=0.0, doc="lower bound of RMS(θ) in the step size α = max(ε₂, RMS(θ))·ρ"),
        Hyper("d", 1.0, low=1.0, doc="update clipping threshold: RMS(Û) <= d"),
        common.WEIGHT_DECAY,
    )

    def _factored(self, p: Tensor, hp: Mapping[str, Any]) -> bool:
        return p.dim() - self.trial_dims(hp) > 1

    def init_state(self, p: Tensor, hp: Mapping[str, Scalar]) -> dict[str, Tensor]:
        if not self._factored(p, hp):
            return {"variance": zeros_state(p)}
        rows, cols = list(p.shape), list(p.shape)
        rows[-1], cols[-2] = 1, 1
        return {"row_var": p.new_zeros(rows), "col_var": p.new_zeros(cols)}

    def update(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Any], step: int) -> None:
        td, lr = self.trial_dims(hp), hp["lr"]
        eps1 = torch.finfo(p.dtype).eps if hp["eps1"] is None else hp["eps1"]
        n = math.prod(p.shape[td:])
        decay = step ** hp["beta2_decay"]  # 1 − β̂₂ₜ
        rho = minimum(lr, 1 / step**0.5)
        alpha = (trial_norm(p, td) / n**0.5).clamp(min=hp["eps2"]) * rho  # max(ε₂, RMS(θₜ₋₁))·ρₜ
        decoupled_decay_(p, lr, hp["weight_decay"])
        if self._factored(p, hp):
            row_var, col_var = state["row_var"], state["col_var"]
            row_var.lerp_(torch.linalg.vector_norm(g, dim=-1, keepdim=True).square_().div_(g.size(-1)), decay)
            col_var.lerp_(torch.linalg.vector_norm(g, dim=-2, keepdim=True).square_().div_(g.size(-2)), decay)
            # ε₁ bounds mean(R) (torch); the paper adds ε₁ to G² instead.
            var = (row_var @ col_var).div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))
            update = var.clamp_(min=eps1 * eps1).rsqrt_().mul_(g)
        else:
            # The state itself, clamped out of place (no copy of v first: one full pass fewer).
            update = state["variance"].lerp_(g * g, decay).clamp(min=eps1 * eps1).rsqrt_().mul_(g)
        clip = (trial_norm(update, td) / (n**0.5 * hp["d"])).clamp(min=1.0)  # max(1, RMS(U)/d)
        add_scaled_(p, update, -alpha / clip)
