"""The ``nn.Module`` classes and losses of the built-in model problems (see :mod:`optimlab.problems.catalog`).

Every model here is vmap-friendly (no BatchNorm statistics, no in-place ops on inputs, no data-dependent
control flow), so :class:`~optimlab.problems.base.ModuleProblem` runs K trials as one computation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import UserError


class QuadraticModel(nn.Module):
    """One parameter vector ``theta`` (initialized ``N(0, I)``) on a fixed noisy quadratic.

    ``forward(z)`` gives, per noise vector ``z`` (one row of the batch), three columns: the example's loss
    ``½ dᵀAd + noise·zᵀd`` with ``d = theta − θ*``, the suboptimality ``½ dᵀAd`` and the distance ``‖d‖``.
    The mini-batch gradient is therefore the true gradient ``A d`` plus ``noise`` times the batch's mean
    noise vector.
    """

    hessian: Tensor
    optimum: Tensor

    def __init__(self, hessian: Tensor, optimum: Tensor, noise: float) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.randn(len(optimum)))
        self.register_buffer("hessian", hessian, persistent=False)
        self.register_buffer("optimum", optimum, persistent=False)
        self.noise = noise

    def forward(self, z: Tensor) -> Tensor:
        d = self.theta - self.optimum
        suboptimality = 0.5 * (d @ (self.hessian @ d))
        per_example = suboptimality + self.noise * (z @ d)
        n = z.shape[0]
        return torch.stack([per_example, suboptimality.expand(n), torch.linalg.vector_norm(d).expand(n)], dim=-1)


def column_mean(column: int) -> Callable[[Tensor, Tensor], Tensor]:
    def metric(outputs: Tensor, targets: Tensor) -> Tensor:
        return outputs[:, column].mean()

    return metric


class Logistic(nn.Module):
    """Logistic regression: one logit per example."""

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(n_features, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x).squeeze(-1)


def binary_accuracy(logits: Tensor, targets: Tensor) -> Tensor:
    """Fraction of examples whose logit has the sign of the 0/1 target."""
    return ((logits > 0) == (targets > 0.5)).to(logits.dtype).mean()


class AddChannel(nn.Module):
    """``[B, ...] -> [B, 1, ...]``: a channel dimension for the convolutions."""

    def forward(self, x: Tensor) -> Tensor:
        return x.unsqueeze(1)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with plain matmuls and softmax (vmap-friendly)."""

    causal: Tensor

    def __init__(self, d_model: int, n_heads: int, context: int) -> None:
        super().__init__()
        if d_model % n_heads:
            raise UserError(f"d_model={d_model} must be a multiple of n_heads={n_heads}.")
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.register_buffer("causal", torch.ones(context, context, dtype=torch.bool).tril(), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        b, t, c = x.shape
        h = self.n_heads
        q, k, v = (part.reshape(b, t, h, c // h).transpose(1, 2) for part in self.qkv(x).split(c, dim=-1))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(c // h)
        scores = scores.masked_fill(~self.causal[:t, :t], float("-inf"))
        mixed = torch.softmax(scores, dim=-1) @ v  # [b, h, t, c/h]
        return self.proj(mixed.transpose(1, 2).reshape(b, t, c))


class Block(nn.Module):
    """Pre-norm Transformer block: attention and a 4× GELU MLP, each with a residual connection."""

    def __init__(self, d_model: int, n_heads: int, context: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads, context)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class CharTransformer(nn.Module):
    """A small GPT-style character model: ids ``[B, T]`` -> next-character logits ``[B, T, vocab]``."""

    def __init__(self, vocab_size: int, context: int, d_model: int, n_layers: int, n_heads: int) -> None:
        super().__init__()
        self.token = nn.Embedding(vocab_size, d_model)
        self.position = nn.Embedding(context, d_model)
        self.blocks = nn.Sequential(*(Block(d_model, n_heads, context) for _ in range(n_layers)))
        self.ln = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, ids: Tensor) -> Tensor:
        positions = torch.arange(ids.shape[-1], device=ids.device)
        return self.head(self.ln(self.blocks(self.token(ids) + self.position(positions))))


def sequence_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy over every position of every sequence."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
