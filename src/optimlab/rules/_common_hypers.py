"""Hyperparameter declarations several rules share (same name, same meaning, same valid range)."""

from __future__ import annotations

from ._base import Hyper


def lr(default: float) -> Hyper:
    return Hyper("lr", default, low=0.0, doc="learning rate (step size)")


def eps(default: float) -> Hyper:
    return Hyper("eps", default, low=0.0, doc="small constant that keeps a denominator away from zero")


def beta(name: str, default: float) -> Hyper:
    return Hyper(name, default, low=0.0, high=1.0, high_open=True, doc="moving-average decay rate")


WEIGHT_DECAY = Hyper("weight_decay", 0.0, low=0.0, doc="weight decay (L2 penalty) coefficient")


def adam_family(lr_default: float) -> tuple[Hyper, ...]:
    """The hyperparameters every Adam-like rule has: lr, β₁ = 0.9, β₂ = 0.999, ε = 1e-8, weight decay."""
    return (lr(lr_default), beta("beta1", 0.9), beta("beta2", 0.999), eps(1e-8), WEIGHT_DECAY)
DECOUPLED = Hyper(
    "decoupled_weight_decay", False, structural=True, doc="decay the weights directly (AdamW) instead of via L2"
)
CAUTIOUS = Hyper(
    "cautious", False, structural=True,
    doc="mask update components whose sign disagrees with the gradient, rescale the rest (Liang et al. 2024)",
)
