"""Numerics shared by every rule, written once.

Each helper accepts a hyperparameter as a Python float (the fast path, using torch's ``alpha=``/``value=``
arguments exactly as ``torch.optim`` does) or as a tensor broadcast over the trial dimension (population use).
Moment averages, bias correction, L2 and decoupled weight decay and the RMS denominator live here.
"""

from __future__ import annotations

import math
from typing import TypeGuard

import torch
from torch import Tensor

from ._base import Scalar


def is_active(x: Scalar) -> bool:
    """Whether an optional term (momentum, weight decay) must run: per-trial tensors always run."""
    return isinstance(x, Tensor) or x != 0


def is_number_tensor(x: Scalar) -> TypeGuard[Tensor]:
    """Whether ``x`` is a 0-d tensor: on the drop-in paths a value the reference loop has as a Python number (the
    compiled step takes hyperparameters so), where a population's per-trial values have trial dimensions."""
    return isinstance(x, Tensor) and x.dim() == 0


def as_python(x: Scalar) -> Scalar:
    """A 0-d tensor becomes a Python float (as torch.optim does), anything else is returned unchanged."""
    if is_number_tensor(x):
        return x.item()
    return x


def descent_gradient(g: Tensor, maximize: bool) -> Tensor:
    """The gradient a rule descends: −g when the objective is maximized (torch.optim's ``maximize=True``)."""
    return -g if maximize else g


def add_scaled_(x: Tensor, y: Tensor, alpha: Scalar) -> Tensor:
    """x ← x + α·y, in place."""
    if isinstance(alpha, Tensor):
        return x.addcmul_(y, alpha)
    return x.add_(y, alpha=alpha)


def scaled_sum(x: Tensor, y: Tensor, alpha: Scalar) -> Tensor:
    """x + α·y, as a new tensor."""
    if isinstance(alpha, Tensor):
        return torch.addcmul(x, y, alpha)
    return x.add(y, alpha=alpha)


def add_ratio_(x: Tensor, num: Tensor, den: Tensor, alpha: Scalar) -> Tensor:
    """x ← x + α·num/den, in place."""
    if isinstance(alpha, Tensor):
        return x.addcdiv_(num * alpha, den)
    return x.addcdiv_(num, den, value=alpha)


def ema_(avg: Tensor, x: Tensor, beta: Scalar) -> Tensor:
    """Exponential moving average: avg ← β·avg + (1−β)·x, in place."""
    return avg.lerp_(x, 1 - beta)


def ema(avg: Tensor, x: Tensor, beta: Scalar) -> Tensor:
    """β·avg + (1−β)·x as a new tensor, computed exactly as :func:`ema_` computes it in place."""
    return torch.lerp(avg, x, 1 - beta)


def ema_square_(avg: Tensor, x: Tensor, beta: Scalar) -> Tensor:
    """Moving average of the square: avg ← β·avg + (1−β)·x², in place."""
    if not isinstance(beta, Tensor):
        return avg.mul_(beta).addcmul_(x, x, value=1 - beta)
    if is_number_tensor(beta):  # the compiled drop-in step's β, for the reference path's number: its operations
        return avg.mul_(beta).addcmul_(x * (1 - beta), x)  # ((1−β)·x)·x, in addcmul's order
    return avg.lerp_(x * x, 1 - beta)  # per-trial β (a population): two passes instead of four


def bias_correction(beta: Scalar, step: int) -> Scalar:
    """1 − βᵗ: divides a zero-initialised moving average to make it unbiased (Kingma & Ba 2015, §3)."""
    return 1 - beta**step


def l2_gradient(g: Tensor, p: Tensor, weight_decay: Scalar) -> Tensor:
    """Coupled L2 regularisation: the gradient of loss + (λ/2)‖p‖², i.e. g + λ·p (a new tensor)."""
    if not is_active(weight_decay):
        return g
    return scaled_sum(g, p, weight_decay)


def decoupled_decay_(p: Tensor, lr: Scalar, weight_decay: Scalar) -> None:
    """Decoupled weight decay (Loshchilov & Hutter 2019): p ← p·(1 − η·λ), applied before the step."""
    if is_active(weight_decay):
        p.mul_(1 - lr * weight_decay)


def weight_decay_(g: Tensor, p: Tensor, lr: Scalar, weight_decay: Scalar, decoupled: bool) -> Tensor:
    """Apply weight decay either way; returns the gradient the rule should use."""
    if decoupled:
        decoupled_decay_(p, lr, weight_decay)
        return g
    return l2_gradient(g, p, weight_decay)


def rms_denominator(second_moment: Tensor, bias_correction2: Scalar, eps: Scalar) -> Tensor:
    """√(v / (1 − β₂ᵗ)) + ε, computed as √v / √(1 − β₂ᵗ) + ε (the order torch.optim uses)."""
    return second_moment.sqrt().div_(bias_correction2**0.5).add_(eps)


def cautious_(update: Tensor, g: Tensor, trial_dims: int) -> Tensor:
    """The cautious mask (Liang, Chen, Liu & Liu 2024, "Cautious Optimizers", arXiv 2411.16085, Algorithm 1), in
    place: φ = 𝟙(u ∘ g > 0) zeroes the components of the update u that point against the gradient g, and the
    kept ones are scaled by d/(‖φ‖₀ + 1), d the number of elements of the parameter, so the mean step size stays
    about the same. u is the direction a rule *subtracts* (descent: its sign agrees with g).

    The count is per parameter tensor: with ``trial_dims`` leading trial dimensions (the population) every
    trial counts its own kept components, so no trial's numbers enter another's.
    """
    mask = (update * g > 0).to(update.dtype)
    dims = tuple(range(trial_dims, update.dim()))
    # sum(dim=()) would reduce over every dimension: a parameter with no dimensions of its own keeps its mask.
    kept = mask.sum(dim=dims, keepdim=True) if dims else mask
    size = math.prod(update.shape[trial_dims:])
    return update.mul_(mask.mul_(size / (kept + 1)))


def sparse_like(g: Tensor, values: Tensor) -> Tensor:
    """A sparse tensor with the indices of the coalesced sparse gradient ``g`` and the given ``values``."""
    # The indices come from a coalesced gradient, so they are valid: skip the (costly) invariant checks.
    return torch.sparse_coo_tensor(
        g._indices(), values, g.shape, dtype=values.dtype, device=values.device, check_invariants=False
    )


def zeros_state(p: Tensor) -> Tensor:
    return torch.zeros_like(p, memory_format=torch.preserve_format)


def trial_norm(x: Tensor, trial_dims: int) -> Tensor:
    """‖x‖₂ of each trial's tensor ``x[k, ...]`` (kept as [K, 1, ...]); of the whole tensor when ``trial_dims`` = 0."""
    if trial_dims == 0:
        return torch.linalg.vector_norm(x)
    return torch.linalg.vector_norm(x, dim=tuple(range(trial_dims, x.dim())), keepdim=True)


def minimum(x: Scalar, y: Scalar) -> Scalar:
    """min(x, y) for Python numbers or (per-trial) tensors, without reading a tensor's value."""
    if isinstance(x, Tensor) and isinstance(y, Tensor):
        return torch.minimum(x, y)
    if isinstance(x, Tensor):
        return x.clamp(max=y)
    if isinstance(y, Tensor):
        return y.clamp(max=x)
    return min(x, y)
