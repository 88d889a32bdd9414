"""ADOPT (Taniguchi et al. 2024, "ADOPT: Modified Adam Can Converge with Any β₂ with the Optimal Rate",
NeurIPS; arXiv:2411.02853, Algorithm 2 with the clipping of the revised version)::

    v₀ = g₀²,  m₀ = 0                                   (the first gradient only initialises v)
    for t = 1, 2, ...
        mₜ = β₁·mₜ₋₁ + (1 − β₁)·clip(gₜ / max(√vₜ₋₁, ε), cₜ)    clip(x, c) = min(max(x, −c), c), cₜ = t^¼
        θₜ = θₜ₋₁ − η·mₜ
        vₜ = β₂·vₜ₋₁ + (1 − β₂)·gₜ²                     (after the step: gₜ never scales itself)

Two changes from Adam make it converge for any β₂: the current gradient is left out of the second moment that
normalises it (v is updated after the step), and the normalisation comes before the momentum. The clip keeps
the first steps bounded where v₀ is nearly zero; ``clip=False`` is the paper's first version (no clip). No bias
correction is needed: m is an average of normalised gradients, v₀ starts at a real gradient.

Step counting: this rule's ``step`` counts calls from 1, and the first call is the paper's t = 0 (it only sets
v₀ = g₀² and leaves θ and m alone), so the paper's t is ``step − 1`` (the reference counts the same way).

Weight decay, which the paper's box does not have, as the ``torch-adopt`` reference (0.1.0) offers it: L2 added
to every gradient, including g₀, by default; with ``decouple=True`` (AdamW-style) θ ← θ·(1 − η·λ) before each
step from t = 1 on. The reference writes that decay as θ − ηλ·θ: equal up to rounding.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from . import _common_hypers as common
from ._base import Hyper, Rule, Scalar, State
from ._math import add_scaled_, ema_, ema_square_, weight_decay_, zeros_state


class PaperClip:
    """The paper's clip schedule cₜ = t^¼: the default of the drop-in class's ``clip_lambda`` (a named object so
    that signatures, cards and error messages show the formula)."""

    def __call__(self, step: int) -> float:
        return float(step**0.25)

    def __repr__(self) -> str:
        return "lambda step: step**0.25"


clip_lambda = PaperClip()


def clip_flag(schedule: object) -> bool:
    """The rule's ``clip`` flag for a ``clip_lambda`` argument: the paper's t^¼ (True) or ``None`` (False)."""
    if schedule is None or isinstance(schedule, bool):
        return bool(schedule)
    if schedule is clip_lambda:
        return True
    raise ValueError(
        f"Invalid clip_lambda={schedule!r} for ADOPT: must be the paper's schedule t**0.25 (the default, "
        "optimlab.rules.adopt.clip_lambda) or None (no clipping); optimlab computes the clip in tensor ops, "
        "so other schedules are not supported."
    )


def _first_or_later(step: int | Tensor, first: float, later: Scalar) -> Scalar:
    """``first`` on the first call (the paper's t = 0), ``later`` after: a per-step scalar, no branch on tensors."""
    if isinstance(step, Tensor):  # the compiled path passes the count as a tensor
        return torch.where(step == 1, first, later)
    return first if step == 1 else later


class ADOPTRule(Rule):
    name = "adopt"
    elementwise = True
    hypers = (
        common.lr(1e-3),
        common.beta("beta1", 0.9),
        common.beta("beta2", 0.9999),
        common.eps(1e-6),
        Hyper("clip", True, structural=True, doc="clip the normalised gradient to ±t^¼ (the revised Algorithm 2)"),
        common.WEIGHT_DECAY,
        Hyper("decouple", False, structural=True, doc="decay the weights directly (AdamW-style) instead of via L2"),
    )

    def init_state(self, p: Tensor, hp: Mapping[str, Scalar]) -> dict[str, Tensor]:
        return {"exp_avg": zeros_state(p), "exp_avg_sq": zeros_state(p)}

    def update(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Scalar], step: int) -> None:
        # The first call only sets v₀ = g₀²: there the step size is 0, m keeps its weight (β₁ → 1) and v forgets
        # its zeros (β₂ → 0). Written as per-step scalars so that no code branches on a tensor's value.
        lr = _first_or_later(step, 0.0, hp["lr"])
        # Not in the paper: weight decay as torch-adopt has it (L2 into g, also g₀; or decoupled from t = 1 on).
        g = weight_decay_(g, p, lr, hp["weight_decay"], bool(hp["decouple"]))
        v = state["exp_avg_sq"]
        normed = g / v.sqrt().clamp_min_(hp["eps"])
        if hp["clip"]:
            limit = (step - 1) ** 0.25
            normed.clamp_(-limit, limit)
        exp_avg = ema_(state["exp_avg"], normed, _first_or_later(step, 1.0, hp["beta1"]))
        add_scaled_(p, exp_avg, -lr)
        ema_square_(v, g, _first_or_later(step, 0.0, hp["beta2"]))
