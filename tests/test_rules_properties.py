"""Properties of the update rules that hold for any input (hypothesis, modest example counts)."""

from __future__ import annotations

import inspect
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
    return opt.group_values(opt.param_groups[0])


# Hyperparameters other than weight_decay that shrink the weights without any gradient: ASGD's λ is the L2 term
# of Bottou's objective (θ ← θ·(1 − λη) every step) as well as the constant of its step schedule.
NO_DECAY: dict[str, dict[str, float]] = {"ASGD": {"lambd": 0.0}}


def _without_decay(case: Case) -> Case:
    decay = {"weight_decay": 0.0} if "weight_decay" in inspect.signature(case.optimlab_class()).parameters else {}
    return case.with_kwargs(**decay, **NO_DECAY.get(case.cls, {}))


@pytest.mark.parametrize("case", [_without_decay(c) for c in CASES], ids=lambda c: c.id)
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
    # A rule with group-level state (Prodigy) steps through update_group, which for every other rule is the
    # plain per-tensor update.
    shared = rule.init_shared(hp, torch.zeros((), dtype=torch.float64)) if rule.shared_state else {}
    merged = {**hp, **shared}
    for t in range(1, 21):
        g = torch.tanh(p_rule) - 0.2 + 0.05 * t
        p_class.grad = g.clone()
        opt.step()
        rule.update_group([p_rule], [-g if maximize else g], [state], [merged], [t], shared, merged)
    assert torch.equal(p_class.detach(), p_rule)


# ------------------------------------------------------------------------------- sign methods, cautious mask

CAUTIOUS_RULES = [name for name, rule in RULES.items() if any(h.name == "cautious" for h in rule.hypers)]


def test_cautious_option_covers_the_adam_family_and_the_sign_methods() -> None:
    assert set(CAUTIOUS_RULES) == {"adam", "adamax", "nadam", "radam", "lion", "signum"}


@given(seed=seeds, lr=st.floats(1e-5, 1e-1), b1=st.floats(0.0, 0.99), b2=st.floats(0.0, 0.999),
       steps=st.integers(1, 6))
def test_lion_moves_every_coordinate_by_exactly_lr(seed: int, lr: float, b1: float, b2: float, steps: int) -> None:
    """Without weight decay each Lion step is ±lr in every coordinate (the sign of the interpolation)."""
    rule = RULES["lion"]
    hp = {**rule.defaults(), "lr": lr, "beta1": b1, "beta2": b2}
    p = _tensor(seed)
    state = rule.init_state(p, hp)
    for t in range(1, steps + 1):
        before = p.clone()
        rule.update(p, _tensor(seed + t), state, hp, t)
        assert torch.allclose((p - before).abs(), torch.full_like(p, lr), rtol=1e-9, atol=1e-15)


@given(seed=seeds, beta=st.floats(0.0, 0.999), wd=st.sampled_from([0.0, 0.1]), cautious=st.booleans(),
       steps=st.integers(1, 10))
def test_lion_with_equal_betas_is_signum_bit_for_bit(seed: int, beta: float, wd: float, cautious: bool,
                                                     steps: int) -> None:
    """Lion's β₁ = β₂ = β is Signum with momentum β (and the same decoupled decay, the same mask)."""
    lion, signum = RULES["lion"], RULES["signum"]
    hp_lion = {"lr": 0.01, "beta1": beta, "beta2": beta, "weight_decay": wd, "cautious": cautious}
    hp_signum = {"lr": 0.01, "momentum": beta, "weight_decay": wd, "weight_decouple": True, "cautious": cautious}
    p1, p2 = _tensor(seed), _tensor(seed)
    s1, s2 = lion.init_state(p1, hp_lion), signum.init_state(p2, hp_signum)
    for t in range(1, steps + 1):
        g = torch.sin(3 * p1) + _tensor(seed + t, scale=0.5)
        lion.update(p1, g, s1, hp_lion, t)
        signum.update(p2, g.clone(), s2, hp_signum, t)
        assert torch.equal(p1, p2)
    assert not torch.equal(p1, _tensor(seed))


def _reversing_gradients(seed: int, steps: int, shape: tuple[int, ...]) -> list[torch.Tensor]:
    """Random gradients, every second one the previous one reversed and halved: there the momentum of most
    rules still points the old way, against the new gradient."""
    out: list[torch.Tensor] = []
    for t in range(steps):
        out.append(-0.5 * out[-1] if t % 2 else _tensor(seed + t, shape))
    return out


@pytest.mark.parametrize("name", CAUTIOUS_RULES)
@given(seed=seeds, steps=st.integers(1, 8), shape=st.sampled_from([(3, 4), (7,), ()]))
def test_cautious_step_never_moves_against_the_gradient(name: str, seed: int, steps: int,
                                                        shape: tuple[int, ...]) -> None:
    """With cautious=True (and no weight decay) no coordinate moves in the gradient's direction; without the
    mask the same runs do (momentum carries them), so the test can fail."""
    rule = RULES[name]
    lr = 1e-3 if name in ("lion", "signum") else 0.05
    hp = {**rule.defaults(), "lr": lr, "cautious": True}
    p = _tensor(seed, shape)
    state = rule.init_state(p, hp)
    moved = torch.zeros(shape, dtype=torch.bool)
    for t, g in enumerate(_reversing_gradients(seed, steps, shape), start=1):
        before = p.clone()
        rule.update(p, g, state, hp, t)
        delta = p - before
        assert (delta * g <= 0).all(), f"step {t}: a coordinate moved along +g"
        moved |= delta != 0
    assert moved.any()


@pytest.mark.parametrize("name", ["adam", "adamax", "radam", "signum"])
@given(seed=seeds)
def test_without_the_mask_momentum_moves_along_the_gradient(name: str, seed: int) -> None:
    """The property above is not vacuous: without the mask the same gradients move coordinates along +g at the
    reversal. (Lion's β₁-interpolation and NAdam's look-ahead weigh the new gradient enough to follow this
    reversal at once.)"""
    rule = RULES[name]
    hp = {**rule.defaults(), "lr": 0.05}
    p = _tensor(seed, (20,))
    state = rule.init_state(p, hp)
    along = False
    for t, g in enumerate(_reversing_gradients(seed, 2, (20,)), start=1):
        before = p.clone()
        rule.update(p, g, state, hp, t)
        along |= bool(((p - before) * g > 0).any())
    assert along


@given(seed=seeds, lr=st.floats(1e-4, 1e-1), steps=st.integers(1, 6), shape=st.sampled_from([(3, 4), (5,), ()]))
def test_cautious_lion_rescales_the_kept_steps(seed: int, lr: float, steps: int, shape: tuple[int, ...]) -> None:
    """Liang et al.'s rescaling: a kept coordinate moves by lr·d/(kept + 1), a masked one not at all."""
    rule = RULES["lion"]
    hp = {**rule.defaults(), "lr": lr, "cautious": True}
    p = _tensor(seed, shape)
    state = rule.init_state(p, hp)
    for t in range(1, steps + 1):
        before = p.clone()
        rule.update(p, _tensor(seed + t, shape), state, hp, t)
        step = (p - before).abs()
        kept = int((step > 0).sum())
        expected = lr * max(p.numel(), 1) / (kept + 1)
        assert torch.allclose(step[step > 0], torch.full((kept,), expected, dtype=p.dtype), rtol=1e-9, atol=1e-15)
@given(seed=seeds, lr=st.floats(1e-4, 1.0), scale=st.floats(1e-6, 1e6), steps=st.integers(1, 10))
def test_rprop_moves_each_coordinate_by_its_step_size(seed: int, lr: float, scale: float, steps: int) -> None:
    """Rprop uses only signs: every coordinate moves by exactly ±Δ (or 0 right after a sign flip), Δ stays in
    [Δmin, Δmax], and scaling every gradient by any c > 0 changes nothing, bit for bit."""
    rule = RULES["rprop"]
    hp = {**rule.defaults(), "lr": lr, "step_size_max": 0.5}
    p1, p2 = _tensor(seed), _tensor(seed)
    s1, s2 = rule.init_state(p1, hp), rule.init_state(p2, hp)
    for t in range(1, steps + 1):
        g = torch.sin(3 * p1) + _tensor(seed + t, scale=0.3)
        before = p1.clone()
        rule.update(p1, g, s1, hp, t)
        rule.update(p2, scale * g, s2, hp, t)
        moved = (p1 - before).abs()
        size = s1["step_size"]
        assert torch.all((moved == 0) | torch.isclose(moved, size, rtol=1e-9, atol=1e-15))  # p − before rounds
        assert torch.all((size >= hp["step_size_min"]) & (size <= hp["step_size_max"]))
    assert torch.equal(p1, p2)
    assert not torch.equal(p1, _tensor(seed))


@given(seed=seeds, lr=st.floats(1e-4, 1.0), b1=st.floats(0.0, 0.99), steps=st.integers(2, 12))
def test_adopt_first_step_only_initialises_and_later_steps_are_bounded(seed: int, lr: float, b1: float,
                                                                      steps: int) -> None:
    """ADOPT's first call sets v = g² and moves nothing; with the clip, m is an average of values in
    [−(t−1)^¼, (t−1)^¼], so no coordinate ever moves by more than lr·(t−1)^¼, however small v₀ was."""
    rule = RULES["adopt"]
    hp = {**rule.defaults(), "lr": lr, "beta1": b1}
    p = _tensor(seed)
    start = p.clone()
    state = rule.init_state(p, hp)
    g0 = _tensor(seed + 1, scale=1e-12)  # a nearly zero first gradient: v₀ ≈ 0, unclipped steps would explode
    rule.update(p, g0, state, hp, 1)
    assert torch.equal(p, start)
    assert torch.equal(state["exp_avg_sq"], g0 * g0) and not state["exp_avg"].any()
    for t in range(2, steps + 1):
        before = p.clone()
        rule.update(p, _tensor(seed + t), state, hp, t)
        assert ((p - before).abs() <= lr * (t - 1) ** 0.25 * (1 + 1e-9) + 1e-15).all()  # p − before rounds
@given(seed=seeds, k=st.integers(-10, 20), steps=st.integers(1, 6), momentum=st.floats(0.0, 0.99),
       nesterov=st.booleans(), rows=st.integers(1, 7), cols=st.integers(1, 7))
def test_muon_step_ignores_the_gradient_scale(seed: int, k: int, steps: int, momentum: float, nesterov: bool,
                                              rows: int, cols: int) -> None:
    """Newton–Schulz starts by dividing by the Frobenius norm, so gradients scaled by 2ᵏ (exact in bfloat16 too)
    give bit-identical Muon steps, whatever the shape (tall, wide, square, a single row), as long as the norm stays
    above ε, the floor it is clamped to (1e-7): gradients in [1, 3], k ≥ −10 and a momentum buffer of at least
    (1 − μ)·g ≥ 0.01·g keep it above 1e-5. (A 1×1 gradient of −0.018 scaled by 2⁻¹⁸ fell below ε and failed.)"""
    rule = RULES["muon"]
    hp = {**rule.defaults(), "lr": 0.02, "momentum": momentum, "nesterov": nesterov, "weight_decay": 0.0}
    p1, p2 = _tensor(seed, (rows, cols)), _tensor(seed, (rows, cols))
    s1, s2 = rule.init_state(p1, hp), rule.init_state(p2, hp)
    for t in range(1, steps + 1):
        g = torch.sin(3 * p1) + 2.0
        rule.update(p1, g, s1, hp, t)
        rule.update(p2, g * 2.0**k, s2, hp, t)
    assert torch.equal(p1, p2)
    assert not torch.equal(p1, _tensor(seed, (rows, cols)))


@given(seed=seeds, rows=st.integers(1, 8), cols=st.integers(1, 8), coefficients=st.sampled_from(["jordan", "exact"]))
def test_muon_update_is_nearly_orthogonal(seed: int, rows: int, cols: int, coefficients: str) -> None:
    """One Muon step from zero momentum, in float64, divided by its lr scale: Jordan's quintic leaves the singular
    values in a band around 1 (none above 1.25), the convergent quintic (15, −10, 3)/8 with 40 steps gives the
    polar factor U·Vᵀ of the gradient."""
    rule = RULES["muon"]
    steps, ns = (5, (3.4445, -4.7750, 2.0315)) if coefficients == "jordan" else (40, (1.875, -1.25, 0.375))
    hp = {**rule.defaults(), "lr": 1.0, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0,
          "newton_schulz_dtype": "param", "ns_coefficients": ns, "ns_steps": steps}
    p = torch.zeros(rows, cols, dtype=torch.float64)
    g = _tensor(seed, (rows, cols))
    rule.update(p, g, rule.init_state(p, hp), hp, 1)
    update = -p / math.sqrt(max(1, rows / cols))
    assert torch.linalg.svdvals(update).max() <= 1.25
    if coefficients == "exact":
        u, s, vh = torch.linalg.svd(g, full_matrices=False)
        if s.min() > 1e-2 * s.max():  # (a nearly singular direction needs more steps to reach 1)
            torch.testing.assert_close(update, u @ vh, rtol=0, atol=1e-9)


@given(seed=seeds, c=st.floats(1e-3, 1e3), steps=st.integers(1, 10), vector=st.booleans())
def test_adafactor_step_ignores_the_gradient_scale(seed: int, c: float, steps: int, vector: bool) -> None:
    """U = G/√V̂ is scale-free (factored or not) once ε₁ is negligible: gradients scaled by c > 0 give the same
    trajectory up to rounding."""
    rule = RULES["adafactor"]
    hp = {**rule.defaults(), "eps1": 1e-30}
    shape = (12,) if vector else (3, 4)
    p1, p2 = _tensor(seed, shape), _tensor(seed, shape)
    s1, s2 = rule.init_state(p1, hp), rule.init_state(p2, hp)
    for t in range(1, steps + 1):
        g = torch.sin(3 * p1) + _tensor(seed + t, shape, scale=0.1) + 0.5
        rule.update(p1, g, s1, hp, t)
        rule.update(p2, c * g, s2, hp, t)
    assert torch.allclose(p1, p2, rtol=1e-12, atol=1e-13)
    assert not torch.equal(p1, _tensor(seed, shape))


@given(seed=seeds, scale=st.floats(1e-6, 1e6), d=st.floats(1.0, 3.0), lr=st.floats(1e-4, 0.5))
def test_adafactor_clipping_bounds_the_step(seed: int, scale: float, d: float, lr: float) -> None:
    """Update clipping: every step's RMS is at most α·d, α = max(ε₂, RMS(θ))·min(lr, 1/√t)."""
    rule = RULES["adafactor"]
    hp = {**rule.defaults(), "d": d, "lr": lr}
    p = _tensor(seed)
    state = rule.init_state(p, hp)
    for t in range(1, 6):
        before = p.clone()
        alpha = max(1e-3, before.pow(2).mean().sqrt().item()) * min(lr, t**-0.5)
        rule.update(p, _tensor(seed + t, scale=scale), state, hp, t)
        assert (p - before).pow(2).mean().sqrt().item() <= alpha * d * (1 + 1e-12)
# ---------------------------------------------------------------------------------------------------- Prodigy


def _prodigy_d(opt: torch.optim.Optimizer) -> float:
    return float(opt.param_groups[0]["d"])


@given(seed=seeds, steps=st.integers(1, 25), growth=st.sampled_from([math.inf, 1.02, 1.5]),
       d_coef=st.floats(0.1, 10.0), scale=st.floats(1e-3, 1e3), safeguard=st.booleans())
def test_prodigy_d_never_decreases(seed: int, steps: int, growth: float, d_coef: float, scale: float,
                                   safeguard: bool) -> None:
    """Whatever the gradients (here arbitrary, not those of any function), d_{k+1} = max(d_k, d̂) never falls
    below d_k, and a finite growth_rate caps each step's growth once d has left d₀."""
    from optimlab.optim import Prodigy

    params = [_tensor(seed).requires_grad_(), _tensor(seed + 1, (5,)).requires_grad_()]
    opt = Prodigy([{"params": params[:1]}, {"params": params[1:], "weight_decay": 0.01}], d_coef=d_coef,
                  growth_rate=growth, safeguard_warmup=safeguard)
    d = _prodigy_d(opt)
    for t in range(steps):
        for i, p in enumerate(params):
            p.grad = _tensor(seed + 10 * t + i, tuple(p.shape), scale=scale)
        opt.step()
        d_next = _prodigy_d(opt)
        assert d_next >= d
        if d != 1e-6:
            assert d_next <= growth * d * (1 + 1e-12)
        d = d_next


@given(seed=seeds, steps=st.integers(1, 30), factor=st.floats(1.01, 100.0), beta3=st.floats(0.0, 0.99),
       bias_correction=st.booleans())
def test_prodigy_d_never_moves_when_d0_exceeds_the_distance_to_the_solution(
    seed: int, steps: int, factor: float, beta3: float, bias_correction: bool
) -> None:
    """On a convex function r = Σλᵢ⟨gᵢ, x₀ − xᵢ⟩ ≤ ⟨Σλᵢgᵢ, x₀ − x*⟩ ≤ ‖s‖₁·‖x₀ − x*‖∞ (r and s share the
    weights λᵢ), so d̂ ≤ ‖x₀ − x*‖∞: started above that distance, d stays exactly d₀, over several tensors."""
    from optimlab.optim import Prodigy

    params = [_tensor(seed).requires_grad_(), _tensor(seed + 1, (5,)).requires_grad_()]
    centres = [_tensor(seed + 2), _tensor(seed + 3, (5,))]
    curvatures = [0.1 + _tensor(seed + 4).abs(), 0.1 + _tensor(seed + 5, (5,)).abs()]
    distance = max((p.detach() - c).abs().max().item() for p, c in zip(params, centres, strict=True))
    d0 = factor * distance
    opt = Prodigy([{"params": params[:1]}, {"params": params[1:]}], d0=d0, beta3=beta3,
                  use_bias_correction=bias_correction)
    start = [p.detach().clone() for p in params]
    for _ in range(steps):
        for p, c, a in zip(params, centres, curvatures, strict=True):
            p.grad = a * (p.detach() - c)  # ∇ of ½ Σ a (x − c)²: convex, minimised at c
        opt.step()
        assert _prodigy_d(opt) == d0
    assert not torch.equal(params[0].detach(), start[0])  # the steps were taken
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


# ------------------------------------------------------------------------------------- SparseAdam's two layouts


@given(seed=seeds, steps=st.integers(1, 10), share=st.floats(0.0, 1.0))
def test_sparse_adam_sparse_and_dense_layouts_agree(seed: int, steps: int, share: float) -> None:
    """The rule's sparse path (stored entries of a COO gradient, as torch.optim.SparseAdam) and its dense path
    (coordinates with g ≠ 0, for the population) are one algorithm: same parameters and moments, to rounding;
    a row never present keeps its starting value."""
    rule = RULES["sparse_adam"]
    hp = {**rule.defaults(), "lr": 0.05}
    p_sparse, p_dense = _tensor(seed, (6, 3)), _tensor(seed, (6, 3))
    s_sparse, s_dense = rule.init_state(p_sparse, hp), rule.init_state(p_dense, hp)
    gen = torch.Generator().manual_seed(seed)
    for t in range(1, steps + 1):
        rows = torch.rand(6, generator=gen) < share
        rows[0] = False  # row 0 is never looked up
        g = _tensor(seed + t, (6, 3)) * rows[:, None]
        rule.update(p_sparse, g.to_sparse(1), s_sparse, hp, t)  # row-sparse, as nn.Embedding(sparse=True)
        rule.update(p_dense, g, s_dense, hp, t)
    assert torch.allclose(p_sparse, p_dense, rtol=1e-13, atol=1e-15)
    for key in ("exp_avg", "exp_avg_sq"):
        assert torch.allclose(s_sparse[key], s_dense[key], rtol=1e-13, atol=1e-15)
    assert torch.equal(p_sparse[0], _tensor(seed, (6, 3))[0])
