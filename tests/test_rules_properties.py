"""Properties of the update rules that hold for any input (hypothesis, modest example counts)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from cases import CASES, Case
from optimlab.rules import RULES

seeds = st.integers(0, 2**31 - 1)


def _tensor(seed: int, shape: tuple[int, ...] = (3, 4), scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _float_hp(case: Case) -> dict[str, float | bool]:
    """The rule hyperparameters a case's optimizer would use (defaults + the case's arguments)."""
    opt = case.make([torch.zeros(1, requires_grad=True)])
    return opt.hypers(opt.param_groups[0])


@pytest.mark.parametrize("case", [c.with_kwargs(weight_decay=0.0) for c in CASES], ids=lambda c: c.id)
@given(seed=seeds, steps=st.integers(1, 8))
def test_zero_gradient_leaves_parameters_unchanged(case: Case, seed: int, steps: int) -> None:
    """No gradient signal and no weight decay: every rule must return exactly the same parameters."""
    p = _tensor(seed).requires_grad_()
    start = p.detach().clone()
    opt = case.make([p])
    for _ in range(steps):
        p.grad = torch.zeros_like(p)
        opt.step()
    assert torch.equal(p.detach(), start)


@given(seed=seeds, c=st.floats(1e-3, 1e3), steps=st.integers(1, 12))
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_step_is_invariant_to_gradient_scale(seed: int, c: float, steps: int, amsgrad: bool) -> None:
    """With eps = 0, Adam's update depends on the gradients only through g/|g|-like ratios: scaling by c > 0
    leaves the trajectory unchanged (up to rounding)."""
    rule = RULES["adam"]
    hp = {**rule.defaults(), "lr": 0.01, "eps": 0.0, "amsgrad": amsgrad}
    p1, p2 = _tensor(seed), _tensor(seed)
    s1, s2 = rule.init_state(p1, hp), rule.init_state(p2, hp)
    for t in range(1, steps + 1):
        g = torch.sin(3 * p1) + _tensor(seed + t, scale=0.1) + 0.5  # depends on the point, never exactly 0
        rule.update(p1, g, s1, hp, t)
        rule.update(p2, c * g, s2, hp, t)  # same g: p1 and p2 must stay together
    assert torch.allclose(p1, p2, rtol=1e-12, atol=1e-13)
    assert not torch.equal(p1, _tensor(seed))


@given(seed=seeds, steps=st.integers(1, 15), start=st.floats(0.0, 2.0))
def test_adagrad_accumulator_never_decreases(seed: int, steps: int, start: float) -> None:
    rule = RULES["adagrad"]
    hp = {**rule.defaults(), "initial_accumulator_value": start, "lr_decay": 0.1}
    p = _tensor(seed)
    state = rule.init_state(p, hp)
    assert torch.equal(state["sum"], torch.full_like(p, start))
    for t in range(1, steps + 1):
        before = state["sum"].clone()
        g = _tensor(seed + t, scale=10.0 ** (t % 5 - 2))
        g[0] = 0.0  # zero-gradient coordinates keep their sum
        rule.update(p, g, state, hp, t)
        assert (state["sum"] >= before).all()
        assert torch.equal(state["sum"][0], before[0])
        assert (state["sum"][1:] > before[1:]).any()


@given(seed=seeds, lr=st.floats(1e-4, 1.0), alpha=st.floats(0.0, 0.999), scale=st.floats(1e-6, 1e6))
def test_rmsprop_first_step_magnitude(seed: int, lr: float, alpha: float, scale: float) -> None:
    """From v₀ = 0, v₁ = (1 − α)g², so with eps = 0 every coordinate moves by exactly lr/√(1 − α)."""
    rule = RULES["rmsprop"]
    hp = {**rule.defaults(), "lr": lr, "alpha": alpha, "eps": 0.0}
    p = _tensor(seed)
    start = p.clone()
    g = _tensor(seed + 1, scale=scale)
    rule.update(p, g, rule.init_state(p, hp), hp, 1)
    step = start - p
    expected = lr / math.sqrt(1 - alpha)
    assert torch.allclose(step.abs(), torch.full_like(p, expected), rtol=1e-9, atol=0)
    assert torch.equal(torch.sign(step), torch.sign(g))


@pytest.mark.parametrize("name", ["adam", "adamax"])
@given(seed=seeds, lr=st.floats(1e-4, 1.0), b1=st.floats(0.0, 0.99), b2=st.floats(0.0, 0.9999),
       scale=st.floats(1e-6, 1e6))
def test_adam_first_step_is_lr_times_sign(name: str, seed: int, lr: float, b1: float, b2: float,
                                          scale: float) -> None:
    """Bias correction makes Adam's (and Adamax's) first step exactly lr·sign(g) when eps = 0."""
    rule = RULES[name]
    hp = {**rule.defaults(), "lr": lr, "beta1": b1, "beta2": b2, "eps": 0.0}
    p = _tensor(seed)
    start = p.clone()
    g = _tensor(seed + 1, scale=scale)
    rule.update(p, g, rule.init_state(p, hp), hp, 1)
    assert torch.allclose(start - p, lr * torch.sign(g), rtol=1e-9, atol=1e-15)


@given(seed=seeds, eps=st.floats(1e-8, 1e-2))
def test_adam_first_step_never_exceeds_lr(seed: int, eps: float) -> None:
    rule = RULES["adam"]
    hp = {**rule.defaults(), "lr": 0.1, "eps": eps}
    p = _tensor(seed)
    start = p.clone()
    rule.update(p, _tensor(seed + 1), rule.init_state(p, hp), hp, 1)
    assert ((start - p).abs() <= 0.1).all()


@given(seed=seeds, steps=st.integers(1, 10))
def test_rms_scaling_with_bias_correction_is_adam_with_beta1_zero(seed: int, steps: int) -> None:
    """Adam with β₁ = 0 is RMSprop whose α = β₂ with the second moment bias-corrected: here checked by
    comparing against a direct evaluation of that formula."""
    rule = RULES["adam"]
    hp = {**rule.defaults(), "lr": 0.05, "beta1": 0.0, "beta2": 0.9, "eps": 1e-8}
    p = _tensor(seed)
    state = rule.init_state(p, hp)
    v = torch.zeros_like(p)
    for t in range(1, steps + 1):
        g = torch.cos(p) + 0.3
        v = 0.9 * v + 0.1 * g * g
        expected = p - 0.05 * g / ((v / (1 - 0.9**t)).sqrt() + 1e-8)
        rule.update(p, g, state, hp, t)
        assert torch.allclose(p, expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule_direct_matches_drop_in_class(case: Case) -> None:
    """The class adds nothing to the math: calling its rule by hand gives the same parameters, bit for bit."""
    hp = _float_hp(case)
    maximize = bool(case.kwargs.get("maximize"))
    rule = case.optimlab_class().rule
    p_class = _tensor(7).requires_grad_()
    opt = case.make([p_class])
    p_rule = _tensor(7)
    state = rule.init_state(p_rule, hp)
    for t in range(1, 21):
        g = torch.tanh(p_rule) - 0.2 + 0.05 * t
        p_class.grad = g.clone()
        opt.step()
        rule.update(p_rule, -g if maximize else g, state, hp, t)
    assert torch.equal(p_class.detach(), p_rule)


@given(seed=seeds, steps=st.integers(1, 12), b3=st.floats(0.5, 0.9999), warmup=st.sampled_from([0.0, 5.0]))
def test_ademamix_without_its_slow_momentum_is_adamw(seed: int, steps: int, b3: float, warmup: float) -> None:
    """α = 0 removes the slow momentum: AdEMAMix is AdamW (decoupled decay), whatever β₃ and its warm-up."""
    rule, adam = RULES["ademamix"], RULES["adam"]
    hp = {**rule.defaults(), "lr": 0.01, "alpha": 0.0, "beta3": b3, "t_alpha_beta3": warmup, "weight_decay": 0.1}
    adam_hp = {**adam.defaults(), "lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}
    p1, p2 = _tensor(seed), _tensor(seed)
    s1, s2 = rule.init_state(p1, hp), adam.init_state(p2, adam_hp)
    for t in range(1, steps + 1):
        g = torch.sin(3 * p1) + _tensor(seed + t, scale=0.1)
        rule.update(p1, g, s1, hp, t)
        adam.update(p2, g.clone(), s2, adam_hp, t)
    assert torch.allclose(p1, p2, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("seed", range(4))
def test_soap_is_equivariant_to_rotations_of_the_weight(seed: int) -> None:
    """Shampoo's bases rotate with the weight: for orthogonal U, V, SOAP on W' = U·W·Vᵀ with gradients U·G·Vᵀ
    follows U·Wₜ·Vᵀ (eigh and QR are equivariant up to column signs, which cancel). Adam is not equivariant."""
    gen = torch.Generator().manual_seed(seed)
    u = torch.linalg.qr(torch.randn(4, 4, generator=gen, dtype=torch.float64)).Q
    v = torch.linalg.qr(torch.randn(4, 4, generator=gen, dtype=torch.float64)).Q
    a, b = (torch.randn(4, 4, generator=gen, dtype=torch.float64) for _ in range(2))
    target = torch.randn(4, 4, generator=gen, dtype=torch.float64)

    def grad(w: torch.Tensor) -> torch.Tensor:  # of ½‖A·W·B − C‖² + ¼‖W‖⁴: not diagonal in any basis
        return a.T @ (a @ w @ b - target) @ b.T + w * (w * w).sum()

    for name, equivariant in (("soap", True), ("adam", False)):
        rule = RULES[name]
        hp = {**rule.defaults(), "lr": 0.01, "eps": 1e-4, "weight_decay": 0.0}
        if name == "soap":
            hp["precondition_frequency"] = 2
        w = torch.randn(4, 4, generator=torch.Generator().manual_seed(seed + 10), dtype=torch.float64)
        w_rot = u @ w @ v.T
        s1, s2 = rule.init_state(w, hp), rule.init_state(w_rot, hp)
        for t in range(1, 16):
            rule.update(w, grad(w), s1, hp, t)
            rule.update(w_rot, u @ grad(u.T @ w_rot @ v) @ v.T, s2, hp, t)
        gap = (u @ w @ v.T - w_rot).abs().max().item()
        assert (gap < 1e-10) if equivariant else (gap > 1e-4), (name, gap)
