"""Rprop, resilient backpropagation (Riedmiller & Braun 1993, "A Direct Adaptive Method for Faster
Backpropagation Learning: The RPROP Algorithm", IEEE ICNN), in torch.optim.Rprop's form. Every weight has its
own step size Δ; only the *sign* of the gradient is used::

    s = sign(gₜ·gₜ₋₁)
    Δₜ = clamp(Δₜ₋₁·η⁺, Δmin, Δmax)  if s > 0      (same sign: speed up)
         clamp(Δₜ₋₁·η⁻, Δmin, Δmax)  if s < 0      (sign flipped: the last step jumped a minimum, slow down)
         Δₜ₋₁                         if s = 0
    if s < 0:  gₜ ← 0                              (and remember 0, so the next step counts as s = 0)
    θₜ = θₜ₋₁ − sign(gₜ)·Δₜ

Δ₀ = ``lr``, (η⁻, η⁺) = ``etas``, (Δmin, Δmax) = ``step_sizes``. The gradient's size never enters the step, so
the method is insensitive to the scale of the loss; it needs the *true* gradient's sign, which is why it is a
full-batch method (mini-batch noise flips signs at random and shrinks every Δ towards Δmin).

Departure from the paper, as in torch.optim: after a sign flip the 1993 algorithm also *reverts* the previous
step (weight-backtracking, θₜ = θₜ₋₁ − Δθₜ₋₁); torch's form, and this rule, only shrink Δ and skip the step
(the variant Igel & Hüsken 2000 call Rprop⁻). ``tests/reference_numpy.py`` transcribes both.
Δ₀: the paper suggests 0.1, torch's default ``lr`` is 0.01. torch (and this rule) clamp Δ to [Δmin, Δmax] on
every step, the paper only when Δ grows or shrinks: the two differ only while Δ₀ lies outside the bounds.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from . import _common_hypers as common
from ._base import Hyper, Rule, Scalar, State
from ._math import zeros_state


class RpropRule(Rule):
    name = "rprop"
    elementwise = True
    hypers = (
        common.lr(1e-2),
        Hyper(
            "etaminus", 0.5, low=0.0, high=1.0, low_open=True, high_open=True,
            doc="step-size factor η⁻ after a sign flip",
        ),
        Hyper("etaplus", 1.2, low=1.0, low_open=True, doc="step-size factor η⁺ while the sign holds"),
        Hyper("step_size_min", 1e-6, low=0.0, doc="smallest step size Δmin"),
        Hyper("step_size_max", 50.0, low=0.0, low_open=True, doc="largest step size Δmax"),
    )

    def check_combination(self, hp: Mapping[str, object], owner: str) -> None:
        low, high = hp.get("step_size_min"), hp.get("step_size_max")
        if isinstance(low, (int, float)) and isinstance(high, (int, float)) and low > high:
            raise ValueError(
                f"Invalid step_sizes=({low!r}, {high!r}) for {owner}: the minimum must not exceed the maximum."
            )

    def init_state(self, p: Tensor, hp: Mapping[str, Scalar]) -> dict[str, Tensor]:
        return {"prev": zeros_state(p), "step_size": zeros_state(p).add_(hp["lr"])}

    def update(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Scalar], step: int) -> None:
        prev, step_size = state["prev"], state["step_size"]
        # s > 0 exactly where gₜ·gₜ₋₁ > 0 (and s < 0 where it is < 0; NaN compares false either way): the product's
        # own comparisons, one sign() fewer per element on the compiled path (five vector operations of about twenty).
        product = g.mul(prev)
        flipped = product < 0
        factor = torch.where(product > 0, hp["etaplus"], torch.where(flipped, hp["etaminus"],
                                                                       torch.ones_like(product)))
        # Clamped on every step as torch does (the paper clamps only a Δ that grows or shrinks; same unless Δ₀ = lr
        # lies outside the bounds). clamp_min_/clamp_max_ apart: one bound may be a per-trial tensor, the other 0.
        step_size.mul_(factor).clamp_min_(hp["step_size_min"]).clamp_max_(hp["step_size_max"])
        # After a flip: no step (torch's form); the paper also reverts the last step (weight-backtracking).
        g = torch.where(flipped, 0.0, g)
        p.addcmul_(g.sign(), step_size, value=-1)
        prev.copy_(g)
