"""Lazy Adam for sparse gradients (``torch.optim.SparseAdam``): Adam (Kingma & Ba 2015, "Adam: A Method for
Stochastic Optimization", ICLR), run only on the coordinates a sparse gradient touches. With S the set of
coordinates present in gₜ (the rows of an embedding that the batch looked up)::

    for i in S:   mₜ[i] = β₁·mₜ₋₁[i] + (1 − β₁)·gₜ[i]
                  vₜ[i] = β₂·vₜ₋₁[i] + (1 − β₂)·gₜ[i]²
                  θₜ[i] = θₜ₋₁[i] − αₜ·mₜ[i] / (√vₜ[i] + ε),   αₜ = η·√(1 − β₂ᵗ) / (1 − β₁ᵗ)
    for i ∉ S:   mₜ[i] = mₜ₋₁[i],  vₜ[i] = vₜ₋₁[i],  θₜ[i] = θₜ₋₁[i]

The step is the form of the paper's §2 ("the efficiency of Algorithm 1 can ... be improved"): the bias
corrections fold into αₜ and ε is added to √vₜ, not to √v̂ₜ, so ε acts like ε·√(1 − β₂ᵗ) of Algorithm 1
(the paper's ε̂; torch.optim.Adam adds ε to √v̂ₜ instead). t is the tensor's own step count: every step in
which the tensor had a gradient, whichever rows it touched; a row's moments are therefore bias-corrected as if
they had been updated every step, which they were not.

"Lazy" is the whole departure from Adam: the moments of rows absent from a step do not decay (dense Adam
would shrink them by β₁ and β₂, and keep moving those rows along the decayed momentum). The update costs time
and memory traffic in proportion to the rows touched, not to the table.

Two gradient layouts, one algorithm:

* a sparse COO gradient (``nn.Embedding(sparse=True)``): S is its set of stored entries after coalescing
  (repeated indices summed, as torch does); an entry stored with value 0 belongs to S, as in torch;
* a dense gradient (the population engine and the 2-D surfaces pass only dense tensors): S is the set of
  coordinates where gₜ ≠ 0, the natural reading of "lazy" on a dense layout. On a gradient without zeros this
  is Adam with ε̂. The drop-in class ``optimlab.optim.SparseAdam`` refuses dense gradients, as torch does.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from . import _common_hypers as common
from ._base import Hyper, Rule, Scalar, State
from ._math import bias_correction, ema, zeros_state


class SparseAdamRule(Rule):
    name = "sparse_adam"
    hypers = (
        # torch.optim.SparseAdam refuses lr = 0 and eps = 0 (its checks are 0 < lr, 0 < eps).
        Hyper("lr", 1e-3, low=0.0, low_open=True, doc="learning rate (step size)"),
        common.beta("beta1", 0.9),
        common.beta("beta2", 0.999),
        Hyper("eps", 1e-8, low=0.0, low_open=True, doc="small constant added to √v (the paper's ε̂)"),
    )
    supports_sparse = True
    supports_complex = False  # torch.optim.SparseAdam refuses complex parameters

    def init_state(self, p: Tensor, hp: Mapping[str, Scalar]) -> dict[str, Tensor]:
        return {"exp_avg": zeros_state(p), "exp_avg_sq": zeros_state(p)}

    def update(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Scalar], step: int) -> None:
        beta1, beta2 = hp["beta1"], hp["beta2"]
        step_size = hp["lr"] * bias_correction(beta2, step) ** 0.5 / bias_correction(beta1, step)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        if g.is_sparse:
            _sparse_update(p, g.coalesce(), m, v, beta1, beta2, hp["eps"], step_size)
            return
        touched = g != 0
        m.copy_(torch.where(touched, ema(m, g, beta1), m))
        v.copy_(torch.where(touched, ema(v, g * g, beta2), v))
        delta = m / (v.sqrt() + hp["eps"]) * step_size
        p.sub_(torch.where(touched, delta, torch.zeros_like(delta)))


def _sparse_update(
    p: Tensor, g: Tensor, m: Tensor, v: Tensor, beta1: Scalar, beta2: Scalar, eps: Scalar, step_size: Scalar
) -> None:
    """The update at the stored entries of a coalesced sparse gradient ``g`` (the drop-in class: Python floats)."""
    index = tuple(g._indices())  # one index tensor per sparse dimension; values are [nnz, *dense dims]
    values = g._values()
    m_rows = ema(m[index], values, beta1)
    v_rows = ema(v[index], values * values, beta2)
    m.index_put_(index, m_rows)
    v.index_put_(index, v_rows)
    p.index_put_(index, m_rows / (v_rows.sqrt() + eps) * -step_size, accumulate=True)
