"""Tests of the NumPy reference optimizers: known facts first, then agreement with torch.optim.

The facts (closed forms, first-step sizes, convergence rates, equivalences between forms) check
the references against the papers' mathematics, not against any implementation. The torch
section checks that torch.optim agrees with the references where it should, to 1e-10 relative
over 200 steps, and shows explicitly where torch departs from a paper.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from typing import Any

import adopt
import lion_pytorch
import numpy as np
import prodigyopt
import pytest
import pytorch_optimizer
import torch

from reference_numpy import ALGORITHMS, HYPERPARAMETERS, Array, masked, run, run_with_states

# ----------------------------------------------------------------------------- test problems


def quadratic(curvatures: Array) -> Callable[[Array], Array]:
    """Gradient of f(x) = ½ Σ λᵢ xᵢ²."""
    return lambda x: curvatures * x


def constant(g: Array) -> Callable[[Array], Array]:
    """Gradient of the linear function f(x) = g·x."""
    return lambda x: g.copy()


def schedule(gradients: list[Array]) -> Callable[[Array], Array]:
    """A gradient oracle that returns a fixed sequence, one entry per call."""
    it: Iterator[Array] = iter(gradients)
    return lambda x: next(it).copy()


def rosenbrock(x: Array, b: float = 10.0) -> Array:
    """Gradient of the chained Rosenbrock f = Σᵢ b (x_{i+1} − xᵢ²)² + (1 − xᵢ)² (nonconvex)."""
    g = np.zeros_like(x)
    r = x[1:] - x[:-1] ** 2
    g[:-1] += -4.0 * b * x[:-1] * r - 2.0 * (1.0 - x[:-1])
    g[1:] += 2.0 * b * r
    return g


X0 = np.array([-1.2, 1.0, -0.5, 0.8, 0.3])

ADAM_HP = {"lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
ADOPT_HP = {"lr": 1e-2, "beta1": 0.9, "beta2": 0.9999, "eps": 1e-6}

# ----------------------------------------------------------------------------- driver contract


def test_run_returns_trajectory_from_x0_and_leaves_x0_alone() -> None:
    x0 = np.array([[1.0, -2.0], [0.5, 3.0]])
    keep = x0.copy()
    traj = run("adam", ADAM_HP, quadratic(np.array([[1.0, 2.0], [3.0, 4.0]])), x0, 7)
    assert traj.shape == (8, 2, 2)
    assert traj.dtype == np.float64
    np.testing.assert_array_equal(traj[0], keep)
    np.testing.assert_array_equal(x0, keep)
    assert not np.array_equal(traj[1], traj[0])


def test_run_rejects_unknown_names_and_hyperparameters() -> None:
    with pytest.raises(ValueError, match="unknown algorithm"):
        run("adamm", ADAM_HP, constant(np.ones(2)), np.zeros(2), 1)
    with pytest.raises(ValueError, match="momentum"):
        run("gd", {"lr": 0.1, "momentum": 0.9}, constant(np.ones(2)), np.zeros(2), 1)
    with pytest.raises(ValueError, match="weight_decay"):
        run("adamw", ADAM_HP, constant(np.ones(2)), np.zeros(2), 1)
    assert set(ALGORITHMS) == set(HYPERPARAMETERS)


# ----------------------------------------------------------------------------- facts: GD, momentum


def test_gd_on_quadratic_matches_closed_form() -> None:
    lam = np.array([0.5, 2.0, 10.0, 19.0])
    lr, steps = 0.1, 60
    x0 = np.array([1.0, -3.0, 2.0, 0.7])
    traj = run("gd", {"lr": lr}, quadratic(lam), x0, steps)
    t = np.arange(steps + 1)[:, None]
    np.testing.assert_allclose(traj, (1.0 - lr * lam) ** t * x0, rtol=1e-12, atol=1e-300)
    # λ = 19 gives 1 − ηλ = −0.9: that coordinate flips sign every step while it contracts.
    assert np.all(np.sign(traj[1:, 3]) == -np.sign(traj[:-1, 3]))


def test_heavy_ball_velocity_form_is_polyaks_two_step_form() -> None:
    lr, mu = 0.01, 0.8
    traj = run("heavy_ball", {"lr": lr, "momentum": mu}, rosenbrock, X0, 100)
    prev, x = X0.copy(), X0.copy()
    for k in range(1, 101):
        prev, x = x, x - lr * rosenbrock(x) + mu * (x - prev)
        np.testing.assert_allclose(traj[k], x, rtol=1e-12, atol=1e-14)


def test_heavy_ball_with_polyaks_tuning_converges_at_sqrt_kappa_rate() -> None:
    m, big_l = 1.0, 100.0
    kappa = big_l / m
    lr = 4.0 / (math.sqrt(big_l) + math.sqrt(m)) ** 2
    mu = ((math.sqrt(kappa) - 1.0) / (math.sqrt(kappa) + 1.0)) ** 2
    rate = (math.sqrt(kappa) - 1.0) / (math.sqrt(kappa) + 1.0)  # 9/11
    lam = np.linspace(m, big_l, 7)
    traj = run("heavy_ball", {"lr": lr, "momentum": mu}, quadratic(lam), np.ones(7), 300)
    norms = np.linalg.norm(traj, axis=1)
    measured = (norms[300] / norms[150]) ** (1.0 / 150)
    assert measured == pytest.approx(rate, abs=0.01)
    # GD at its best step 2/(L+m) only manages (κ−1)/(κ+1) ≈ 0.98.
    gd = run("gd", {"lr": 2.0 / (big_l + m)}, quadratic(lam), np.ones(7), 300)
    gd_rate = (np.linalg.norm(gd[300]) / np.linalg.norm(gd[150])) ** (1.0 / 150)
    assert gd_rate == pytest.approx((kappa - 1.0) / (kappa + 1.0), abs=1e-3)
    assert measured < gd_rate - 0.1


def test_nesterov_iterate_is_the_lookahead_point_of_sutskevers_form() -> None:
    lr, mu = 0.005, 0.9
    traj = run("nesterov", {"lr": lr, "momentum": mu}, rosenbrock, X0, 150)
    theta, u = X0.copy(), np.zeros_like(X0)
    for k in range(1, 151):
        u = mu * u - lr * rosenbrock(theta + mu * u)
        theta = theta + u
        np.testing.assert_allclose(traj[k], theta + mu * u, rtol=1e-10, atol=1e-12)


def test_nesterov_differs_from_heavy_ball_and_reduces_to_gd_without_momentum() -> None:
    hb = run("heavy_ball", {"lr": 0.005, "momentum": 0.9}, rosenbrock, X0, 20)
    nag = run("nesterov", {"lr": 0.005, "momentum": 0.9}, rosenbrock, X0, 20)
    assert np.max(np.abs(hb - nag)) > 1e-3
    nag0 = run("nesterov", {"lr": 0.005, "momentum": 0.0}, rosenbrock, X0, 20)
    np.testing.assert_array_equal(nag0, run("gd", {"lr": 0.005}, rosenbrock, X0, 20))


# ----------------------------------------------------------------------------- facts: adaptive


def test_adagrad_accumulator_is_monotone_and_sums_squared_gradients() -> None:
    hp = {"lr": 0.1, "eps": 1e-10, "initial_accumulator_value": 0.1}
    traj, states = run_with_states("adagrad", hp, rosenbrock, X0, 80)
    acc = np.stack([s["G"] for s in states])
    assert np.all(np.diff(acc, axis=0) >= 0.0)
    grads = np.stack([rosenbrock(x) for x in traj[:-1]])
    np.testing.assert_allclose(acc, 0.1 + np.cumsum(grads**2, axis=0), rtol=1e-12)
    # The per-coordinate step size η/√G therefore never grows: on a constant gradient the
    # steps shrink like 1/√t exactly.
    g = np.array([3.0, -0.01])
    steps = np.diff(run("adagrad", {"lr": 0.5, "eps": 0.0}, constant(g), np.zeros(2), 50), axis=0)
    t = np.arange(1, 51)[:, None]
    np.testing.assert_allclose(steps, -0.5 * np.sign(g) / np.sqrt(t), rtol=1e-12)


def test_rmsprop_first_step_and_momentum_zero_reduces_to_rmsprop() -> None:
    g = np.array([1e-3, 1.0, 1e3])
    hp = {"lr": 0.01, "alpha": 0.9, "eps": 1e-8}
    step = run("rmsprop", hp, constant(g), np.zeros(3), 1)[1]
    np.testing.assert_allclose(step, -0.01 * g / (math.sqrt(0.1) * np.abs(g) + 1e-8), rtol=1e-13)
    a = run("rmsprop", hp, rosenbrock, X0, 100)
    b = run("rmsprop_momentum", {**hp, "momentum": 0.0}, rosenbrock, X0, 100)
    np.testing.assert_allclose(a, b, rtol=1e-13)


def test_rmsprop_centered_first_step_and_eps_placement() -> None:
    g = np.array([2.0, -0.5])
    alpha, eps, lr = 0.95, 1e-4, 1e-3
    base = {"lr": lr, "alpha": alpha, "eps": eps, "momentum": 0.9}
    # After one step n − ĝ² = (1−ℵ)ℵ g²: the centred variance estimate, smaller than n.
    inside = run("rmsprop_centered", base, constant(g), np.zeros(2), 1)[1]
    outside = run("rmsprop_centered", {**base, "eps_inside": False}, constant(g), np.zeros(2), 1)[1]
    var = (1 - alpha) * alpha * g**2
    np.testing.assert_allclose(inside, -lr * g / np.sqrt(var + eps), rtol=1e-13)
    np.testing.assert_allclose(outside, -lr * g / (np.sqrt(var) + eps), rtol=1e-13)
    uncentered = run("rmsprop", {"lr": lr, "alpha": alpha, "eps": eps}, constant(g), np.zeros(2), 1)
    assert np.all(np.abs(outside) > np.abs(uncentered[1]))
    # With ε = 0 the two placements are the same algorithm.
    zero = {**base, "eps": 0.0}
    np.testing.assert_allclose(
        run("rmsprop_centered", zero, rosenbrock, X0, 50),
        run("rmsprop_centered", {**zero, "eps_inside": False}, rosenbrock, X0, 50),
        rtol=1e-12,
    )


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_adadelta_first_step_size(scale: float) -> None:
    rho, eps = 0.95, 1e-6
    g = scale * np.array([1.0, -2.0, 0.25])
    step = run("adadelta", {"rho": rho, "eps": eps}, constant(g), np.zeros(3), 1)[1]
    expected = math.sqrt(eps) / np.sqrt((1 - rho) * g**2 + eps) * np.abs(g)
    np.testing.assert_allclose(np.abs(step), expected, rtol=1e-13)
    np.testing.assert_array_equal(np.sign(step), -np.sign(g))


def test_adadelta_is_unit_consistent_after_warmup() -> None:
    """Zeiler's motivation: with ε → 0 the step of a constant gradient does not depend on its scale."""
    hp = {"rho": 0.9, "eps": 1e-12}
    small = run("adadelta", hp, constant(np.array([1e-2])), np.zeros(1), 30)
    large = run("adadelta", hp, constant(np.array([1e2])), np.zeros(1), 30)
    np.testing.assert_allclose(small, large, rtol=1e-6)


# ----------------------------------------------------------------------------- facts: Adam family


@pytest.mark.parametrize("name", ["adam", "amsgrad", "adamax"])
def test_first_step_is_lr_in_every_coordinate_whatever_the_gradient_scale(name: str) -> None:
    g = np.array([1e-3, -0.1, 1.0, -50.0, 1e5])
    lr = 0.01
    step = np.abs(run(name, ADAM_HP, constant(g), np.zeros(5), 1)[1])
    # |g| ≥ 1e-3 ≫ ε = 1e-8, so the step equals lr up to ε/|g|.
    np.testing.assert_allclose(step, lr, rtol=1e-5)


def test_adam_bias_correction_makes_every_step_lr_on_a_constant_gradient() -> None:
    g = np.array([1e-2, -3.0, 400.0])
    steps = np.diff(run("adam", ADAM_HP, constant(g), np.zeros(3), 100), axis=0)
    np.testing.assert_allclose(steps, -0.01 * np.sign(g) * np.ones((100, 1)), rtol=1e-5)


def test_amsgrad_equals_adam_while_gradient_magnitudes_do_not_decrease() -> None:
    # v never decreases when g² ≥ v_{t−1}, which holds for non-decreasing |g|: then the running
    # max is v itself and AMSGrad is Adam. (For shrinking gradients it is not; see below.)
    grads = [np.array([1.0, -2.0]) * (1.0 + 0.05 * k) for k in range(60)]
    a = run("adam", ADAM_HP, schedule(grads), np.zeros(2), 60)
    b = run("amsgrad", ADAM_HP, schedule(grads), np.zeros(2), 60)
    np.testing.assert_allclose(a, b, rtol=1e-14)


def test_amsgrad_keeps_the_max_when_gradients_shrink() -> None:
    grads = [np.array([10.0])] * 20 + [np.array([0.1])] * 40
    hp = {**ADAM_HP, "beta2": 0.9}  # a short memory, so Adam's v forgets the large gradients
    traj_adam = run("adam", hp, schedule(grads), np.zeros(1), 60)
    traj_ams, states = run_with_states("amsgrad", hp, schedule(grads), np.zeros(1), 60)
    v_max = np.array([s["v_max"][0] for s in states])
    v = np.array([s["v"][0] for s in states])
    assert np.all(np.diff(v_max) >= 0.0)
    assert np.all(v_max >= v) and v_max[-1] > 2 * v[-1]
    np.testing.assert_array_equal(traj_adam[:21], traj_ams[:21])
    # After the drop AMSGrad's normaliser stays large, so its steps are smaller than Adam's.
    step_adam = np.abs(np.diff(traj_adam[20:], axis=0))
    step_ams = np.abs(np.diff(traj_ams[20:], axis=0))
    assert np.all(step_ams < step_adam)
    assert step_ams[-1, 0] < 0.2 * step_adam[-1, 0]


def test_amsgrad_paper_has_no_bias_correction() -> None:
    # Without correction, step 1 is α(1−β₁)g/(√(1−β₂)|g|) instead of α·sign(g).
    g = np.array([2.0, -0.3])
    hp = {**ADAM_HP, "eps": 0.0}
    step = run("amsgrad_paper", hp, constant(g), np.zeros(2), 1)[1]
    np.testing.assert_allclose(step, -0.01 * 0.1 / math.sqrt(0.001) * np.sign(g), rtol=1e-13)


def test_adamw_decay_is_decoupled_from_the_adaptive_normaliser() -> None:
    # On a zero loss AdamW only decays: x_t = (1 − αλ)ᵗ x₀ exactly (m = v = 0, so the Adam
    # part is 0/(0+ε) = 0). Adam with the same λ as coupled L2 instead sees g = λx and takes
    # lr-sized normalised steps, whatever the size of x.
    lr, wd = 0.01, 0.5
    x0 = np.array([1e-3, 1.0, 1e3])
    zero = constant(np.zeros(3))
    traj = run("adamw", {**ADAM_HP, "weight_decay": wd}, zero, x0, 50)
    t = np.arange(51)[:, None]
    np.testing.assert_allclose(traj, (1.0 - lr * wd) ** t * x0, rtol=1e-12)
    l2 = run("adam", {**ADAM_HP, "weight_decay": wd}, zero, x0, 1)
    np.testing.assert_allclose(np.abs(l2[1] - x0), lr, rtol=1e-4)


def test_adamax_u_is_the_discounted_max_of_past_gradients() -> None:
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=3) * rng.choice([0.01, 1.0, 100.0]) for _ in range(40)]
    hp = {"lr": 2e-3, "beta1": 0.9, "beta2": 0.99, "eps": 0.0}
    traj, states = run_with_states("adamax", hp, schedule(grads), np.zeros(3), 40)
    for t, s in enumerate(states, start=1):
        expect = np.max([0.99 ** (t - i) * np.abs(grads[i - 1]) for i in range(1, t + 1)], axis=0)
        np.testing.assert_allclose(s["u"], expect, rtol=1e-13)
    # The step is bounded by the learning rate: |Δx| ≤ α/(1−β₁ᵗ)·|m|/u ≤ α (Kingma & Ba §7.1).
    assert np.all(np.abs(np.diff(traj, axis=0)) <= hp["lr"] * (1 + 1e-12))


def test_nadam_without_momentum_is_adam_without_momentum() -> None:
    hp = {**ADAM_HP, "beta1": 0.0}
    np.testing.assert_allclose(
        run("nadam", {**hp, "momentum_decay": 4e-3}, rosenbrock, X0, 200),
        run("adam", hp, rosenbrock, X0, 200),
        rtol=1e-12,
    )


def test_nadam_first_step_overshoots_lr_and_later_steps_settle_to_lr() -> None:
    # μ₁ = β₁(1 − ½·0.96^ψ) ≈ β₁/2. On a constant gradient m₁ = (1−β₁)g, so the first step is
    # α[1 + μ₂(1−β₁)/(1−μ₁μ₂)]·sign(g): the Nesterov weights sum to more than 1. Once the
    # schedule has warmed up (μₜ → β₁, ∏μ → 0, m → g) the step is (1−β₁)α + β₁α = α.
    g = np.array([0.5, -4.0])
    psi = 0.5  # a fast schedule: μₜ is within 1e-6 of β₁ by t ≈ 700
    hp = {**ADAM_HP, "momentum_decay": psi}
    steps = np.diff(run("nadam", hp, constant(g), np.zeros(2), 1500), axis=0)
    mu1 = 0.9 * (1 - 0.5 * 0.96 ** (1 * psi))
    mu2 = 0.9 * (1 - 0.5 * 0.96 ** (2 * psi))
    first = 0.01 * (1 + mu2 * 0.1 / (1 - mu1 * mu2))
    np.testing.assert_allclose(steps[0], -first * np.sign(g), rtol=1e-6)
    np.testing.assert_allclose(steps[-1], -0.01 * np.sign(g), rtol=1e-5)


def test_radam_warmup_steps_are_unadapted_momentum() -> None:
    # β₂ = 0.999 gives ρ₁..ρ₆ ≈ 1, 2, 3, 4, 4.996, 5.99: the first five steps have ρₜ ≤ 5.
    hp = {**ADAM_HP, "threshold": 5.0}
    traj = run("radam", hp, rosenbrock, X0, 8)
    x, m = X0.copy(), np.zeros_like(X0)
    for t in range(1, 6):
        m = 0.9 * m + 0.1 * rosenbrock(x)
        x = x - 0.01 * m / (1 - 0.9**t)
        np.testing.assert_allclose(traj[t], x, rtol=1e-13)
    # Step 6 is rectified: the un-adapted formula no longer gives it.
    m = 0.9 * m + 0.1 * rosenbrock(x)
    assert np.max(np.abs(traj[6] - (x - 0.01 * m / (1 - 0.9**6)))) > 1e-4
    # The paper's threshold 4 adapts already at step 5 (ρ₅ ≈ 4.996 > 4).
    traj4 = run("radam", {**hp, "threshold": 4.0}, rosenbrock, X0, 8)
    np.testing.assert_array_equal(traj4[:5], traj[:5])
    assert np.max(np.abs(traj4[5] - traj[5])) > 1e-4


def test_radam_becomes_adam_once_the_variance_is_tractable() -> None:
    # rₜ → 1 as t → ∞, and on a constant gradient √(1−β₂ᵗ)/√v = 1/|g|: step → α·sign(g).
    g = np.array([0.2, -7.0])
    hp = {**ADAM_HP, "beta2": 0.99, "eps": 0.0}
    steps = np.abs(np.diff(run("radam", hp, constant(g), np.zeros(2), 3000), axis=0))[:, 0]
    assert np.all(np.diff(steps[6:200]) > 0)  # rₜ grows monotonically ...
    assert steps[6] < 0.5 * 0.01
    assert steps[-1] == pytest.approx(0.01, rel=1e-3)  # ... towards 1


def test_coupled_l2_adds_lambda_x_to_the_gradient() -> None:
    lam = 0.3
    with_l2 = run("heavy_ball", {"lr": 0.01, "momentum": 0.9, "weight_decay": lam}, rosenbrock, X0, 50)
    by_hand = run("heavy_ball", {"lr": 0.01, "momentum": 0.9}, lambda x: rosenbrock(x) + lam * x, X0, 50)
    np.testing.assert_allclose(with_l2, by_hand, rtol=1e-14)


# ----------------------------------------------------------------------------- torch.optim agreement

STEPS = 200


def torch_trajectory(cls: type[torch.optim.Optimizer], kwargs: dict[str, Any], x0: Array, steps: int = STEPS) -> Array:
    """Run a torch optimizer in float64 on ``rosenbrock``, feeding the same NumPy gradient."""
    p = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = cls([p], **kwargs)
    out = [x0.copy()]
    for _ in range(steps):
        p.grad = torch.from_numpy(rosenbrock(p.detach().numpy().copy()))
        opt.step()
        out.append(p.detach().numpy().copy())
    return np.stack(out)


def rel_err(a: Array, b: Array) -> float:
    """Largest difference relative to the trajectory's scale."""
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


ADAM_T = {"lr": 1e-2, "betas": (0.9, 0.999), "eps": 1e-8}
ADEMAMIX_AS_ADAM = {"lr": 1e-2, "betas": (0.9, 0.999, 0.9999), "eps": 1e-8, "alpha": 0.0}
LION_T = {"lr": 1e-3, "betas": (0.9, 0.99), "weight_decay": 0.1}
LION_HP = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.1}
PAPER_ONLY = frozenset({"amsgrad_paper", "cautious_amsgrad", "cautious_adamax", "cautious_nadam", "cautious_radam",
                        "cautious_signum"})
"""Transcriptions no library implements (checked against optimlab in test_rules_vs_paper only)."""

# (id, torch class, torch kwargs, reference name, reference hp)
MATCHES: list[tuple[str, type[torch.optim.Optimizer], dict[str, Any], str, dict[str, Any]]] = [
    ("sgd", torch.optim.SGD, {"lr": 2e-3}, "gd", {"lr": 2e-3}),
    ("momentum", torch.optim.SGD, {"lr": 2e-3, "momentum": 0.9}, "heavy_ball", {"lr": 2e-3, "momentum": 0.9}),
    (
        "nesterov",
        torch.optim.SGD,
        {"lr": 2e-3, "momentum": 0.9, "nesterov": True},
        "nesterov",
        {"lr": 2e-3, "momentum": 0.9},
    ),
    (
        "adagrad",
        torch.optim.Adagrad,
        {"lr": 0.1, "eps": 1e-10, "initial_accumulator_value": 0.1},
        "adagrad",
        {"lr": 0.1, "eps": 1e-10, "initial_accumulator_value": 0.1},
    ),
    (
        "rmsprop",
        torch.optim.RMSprop,
        {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8},
        "rmsprop",
        {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8},
    ),
    (
        "rmsprop_momentum",
        torch.optim.RMSprop,
        {"lr": 1e-3, "alpha": 0.9, "eps": 1e-8, "momentum": 0.9},
        "rmsprop_momentum",
        {"lr": 1e-3, "alpha": 0.9, "eps": 1e-8, "momentum": 0.9},
    ),
    (
        "rmsprop_centered",  # Graves's constants; torch puts ε after the root
        torch.optim.RMSprop,
        {"lr": 1e-3, "alpha": 0.95, "eps": 1e-4, "momentum": 0.9, "centered": True},
        "rmsprop_centered",
        {"lr": 1e-3, "alpha": 0.95, "eps": 1e-4, "momentum": 0.9, "eps_inside": False},
    ),
    ("adadelta", torch.optim.Adadelta, {"lr": 1.0, "rho": 0.9, "eps": 1e-6}, "adadelta", {"rho": 0.9, "eps": 1e-6}),
    ("adam", torch.optim.Adam, ADAM_T, "adam", ADAM_HP),
    ("amsgrad", torch.optim.Adam, {**ADAM_T, "amsgrad": True}, "amsgrad", ADAM_HP),
    ("adamw", torch.optim.AdamW, {**ADAM_T, "weight_decay": 0.1}, "adamw", {**ADAM_HP, "weight_decay": 0.1}),
    (
        "adamax_eps0",
        torch.optim.Adamax,
        {**ADAM_T, "lr": 2e-3, "eps": 0.0},
        "adamax",
        {**ADAM_HP, "lr": 2e-3, "eps": 0.0},
    ),
    (
        "adamax_eps",
        torch.optim.Adamax,
        {**ADAM_T, "lr": 2e-3, "eps": 1e-3},
        "adamax",
        {**ADAM_HP, "lr": 2e-3, "eps": 1e-3},
    ),
    (
        "nadam",
        torch.optim.NAdam,
        {**ADAM_T, "lr": 2e-3, "momentum_decay": 4e-3},
        "nadam",
        {**ADAM_HP, "lr": 2e-3, "momentum_decay": 4e-3},
    ),
    ("radam", torch.optim.RAdam, ADAM_T, "radam", {**ADAM_HP, "threshold": 5.0}),
    # coupled L2 through torch's weight_decay
    (
        "sgd_l2",
        torch.optim.SGD,
        {"lr": 2e-3, "momentum": 0.9, "weight_decay": 0.1},
        "heavy_ball",
        {"lr": 2e-3, "momentum": 0.9, "weight_decay": 0.1},
    ),
    (
        "adagrad_l2",
        torch.optim.Adagrad,
        {"lr": 0.1, "eps": 1e-10, "weight_decay": 0.1},
        "adagrad",
        {"lr": 0.1, "eps": 1e-10, "weight_decay": 0.1},
    ),
    (
        "rmsprop_l2",
        torch.optim.RMSprop,
        {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.1},
        "rmsprop",
        {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.1},
    ),
    (
        "adadelta_l2",
        torch.optim.Adadelta,
        {"lr": 1.0, "rho": 0.9, "eps": 1e-6, "weight_decay": 0.1},
        "adadelta",
        {"rho": 0.9, "eps": 1e-6, "weight_decay": 0.1},
    ),
    ("adam_l2", torch.optim.Adam, {**ADAM_T, "weight_decay": 0.1}, "adam", {**ADAM_HP, "weight_decay": 0.1}),
    (
        "adamax_l2",
        torch.optim.Adamax,
        {**ADAM_T, "lr": 2e-3, "eps": 0.0, "weight_decay": 0.1},
        "adamax",
        {**ADAM_HP, "lr": 2e-3, "eps": 0.0, "weight_decay": 0.1},
    ),
    (
        "nadam_l2",
        torch.optim.NAdam,
        {**ADAM_T, "lr": 2e-3, "momentum_decay": 4e-3, "weight_decay": 0.1},
        "nadam",
        {**ADAM_HP, "lr": 2e-3, "momentum_decay": 4e-3, "weight_decay": 0.1},
    ),
    ("radam_l2", torch.optim.RAdam, {**ADAM_T, "weight_decay": 0.1}, "radam", {**ADAM_HP, "weight_decay": 0.1}),
    # Sign methods and the cautious mask, against the libraries the issue names (torch has none of them).
    ("lion", lion_pytorch.Lion, LION_T, "lion", LION_HP),
    ("signum", pytorch_optimizer.SignSGD, {"lr": 1e-3, "momentum": 0.9}, "signum", {"lr": 1e-3, "momentum": 0.9}),
    (
        "signum_l2",
        pytorch_optimizer.SignSGD,
        {"lr": 1e-3, "momentum": 0.8, "weight_decay": 0.1, "weight_decouple": False},
        "signum",
        {"lr": 1e-3, "momentum": 0.8, "weight_decay": 0.1},
    ),
    ("cautious_lion", pytorch_optimizer.Lion, {**LION_T, "cautious": True}, "cautious_lion", LION_HP),
    (
        "cautious_adamw",  # AdEMAMix with α = 0 is AdamW
        pytorch_optimizer.AdEMAMix,
        {**ADEMAMIX_AS_ADAM, "weight_decouple": True, "weight_decay": 0.1, "cautious": True},
        "cautious_adamw",
        {**ADAM_HP, "weight_decay": 0.1},
    ),
    (
        "cautious_adam_l2",
        pytorch_optimizer.AdEMAMix,
        {**ADEMAMIX_AS_ADAM, "weight_decouple": False, "weight_decay": 0.1, "cautious": True},
        "cautious_adam",
        {**ADAM_HP, "weight_decay": 0.1},
    ),
    (
        "asgd",
        torch.optim.ASGD,
        {"lr": 2e-3, "lambd": 0.5, "alpha": 0.75, "t0": 50, "weight_decay": 0.1},
        "asgd",
        {"lr": 2e-3, "lambd": 0.5, "alpha": 0.75, "t0": 50, "weight_decay": 0.1},
    ),
    (
        "rprop",
        torch.optim.Rprop,
        {"lr": 1e-2, "etas": (0.5, 1.2), "step_sizes": (1e-6, 50)},
        "rprop",
        {"lr": 1e-2, "etaminus": 0.5, "etaplus": 1.2, "step_size_min": 1e-6, "step_size_max": 50.0},
    ),
    # ADOPT's reference is the authors' package (torch-adopt 0.1.0, import name ``adopt``).
    ("adopt", adopt.ADOPT, {"lr": 1e-2, "weight_decay": 0.1}, "adopt", {**ADOPT_HP, "weight_decay": 0.1}),
    (
        "adopt_decoupled",
        adopt.ADOPT,
        {"lr": 1e-2, "weight_decay": 0.1, "decouple": True},
        "adopt_decoupled",
        {**ADOPT_HP, "weight_decay": 0.1},
    ),
    # prodigyopt (no torch.optim class) puts dₖ₊₁ where the box has dₖ, but only in the ε term: with ε = 1e-30 the
    # two are the same algorithm (its 1/d₀ in place of the box's (1 − β₃) cancels in r/‖s‖₁).
    ("prodigy", prodigyopt.Prodigy, {"lr": 1.0, "eps": 1e-30, "decouple": False, "weight_decay": 0.01}, "prodigy",
     {"lr": 1.0, "beta1": 0.9, "beta2": 0.999, "eps": 1e-30, "d0": 1e-6, "weight_decay": 0.01}),
    ("prodigy_beta3", prodigyopt.Prodigy, {"lr": 0.5, "betas": (0.8, 0.99), "beta3": 0.9, "eps": 1e-30, "d0": 1e-4},
     "prodigy", {"lr": 0.5, "beta1": 0.8, "beta2": 0.99, "beta3": 0.9, "eps": 1e-30, "d0": 1e-4}),
]


@pytest.mark.parametrize(("cls", "kwargs", "name", "hp"), [m[1:] for m in MATCHES], ids=[m[0] for m in MATCHES])
def test_torch_matches_reference(
    cls: type[torch.optim.Optimizer], kwargs: dict[str, Any], name: str, hp: dict[str, Any], float64_default: None
) -> None:
    """(float64 default dtype: torch keeps scalar state such as ASGD's η in it, float32 would round η.)"""
    ref = run(name, hp, rosenbrock, X0, STEPS)
    got = torch_trajectory(cls, kwargs, X0)
    assert rel_err(got, ref) <= 1e-10
    # The run really went somewhere: these are not 200 no-op steps.
    assert np.max(np.abs(ref[-1] - ref[0])) > 1e-2


def _matrix_problem(x: Array) -> Array:
    """Gradient of a 2×3 anisotropic bowl with ripples (a matrix, so SOAP rotates both sides)."""
    a = np.array([[1.0, 3.0, 0.5], [2.0, 0.2, 5.0]])
    c = np.array([[1.0, -2.0, 0.5], [0.3, 3.0, -1.0]])
    return a * (x - c) + 0.6 * np.cos(2.0 * x)


X_MATRIX = np.array([[0.5, 0.1, -1.2], [2.0, -0.7, 0.0]])

# (id, pytorch_optimizer class, its kwargs, reference name, hp, gradient, start)
OTHER_LIBRARY_MATCHES: list[tuple[str, str, dict[str, Any], str, dict[str, Any], Any, Array]] = [
    ("ademamix", "AdEMAMix", {"lr": 1e-2, "weight_decouple": True}, "ademamix",
     {**ADAM_HP, "beta3": 0.9999, "alpha": 5.0, "warmup": 0, "weight_decay": 0.0}, rosenbrock, X0),
    ("ademamix_warmup_decay", "AdEMAMix",
     {"lr": 1e-2, "betas": (0.8, 0.99, 0.999), "alpha": 2.0, "t_alpha_beta3": 80, "weight_decay": 0.1,
      "weight_decouple": True},
     "ademamix", {"lr": 1e-2, "beta1": 0.8, "beta2": 0.99, "beta3": 0.999, "alpha": 2.0, "warmup": 80, "eps": 1e-8,
                  "weight_decay": 0.1}, rosenbrock, X0),
    # No refresh within the run: pytorch_optimizer's refresh QR is float32 (a departure optimlab makes optional).
    ("soap_eigh_basis", "SOAP", {"lr": 2e-2, "precondition_frequency": 1000, "eps": 1e-4}, "soap",
     {"lr": 2e-2, "beta1": 0.95, "beta2": 0.95, "shampoo_beta": 0.95, "eps": 1e-4, "weight_decay": 1e-2,
      "frequency": 1000}, _matrix_problem, X_MATRIX),
]


@pytest.mark.parametrize(("cls", "kwargs", "name", "hp", "grad", "start"), [m[1:] for m in OTHER_LIBRARY_MATCHES],
                         ids=[m[0] for m in OTHER_LIBRARY_MATCHES])
def test_pytorch_optimizer_matches_reference(
    cls: str, kwargs: dict[str, Any], name: str, hp: dict[str, Any], grad: Any, start: Array
) -> None:
    import pytorch_optimizer

    ref = run(name, hp, grad, start, STEPS)
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = getattr(pytorch_optimizer, cls)([p], **kwargs)
    got = [start.copy()]
    for _ in range(STEPS):
        p.grad = torch.from_numpy(grad(p.detach().numpy().copy()))
        opt.step()
        got.append(p.detach().numpy().copy())
    assert rel_err(np.stack(got), ref) <= 1e-10
    assert np.max(np.abs(ref[-1] - ref[0])) > 1e-2


def test_ademamix_with_alpha_zero_is_adamw() -> None:
    """With α = 0 the slow momentum drops out: AdEMAMix is AdamW (decoupled decay η·λ)."""
    hp = {**ADAM_HP, "weight_decay": 0.1}
    ours = run("ademamix", {**hp, "beta3": 0.999, "alpha": 0.0, "warmup": 0}, rosenbrock, X0, STEPS)
    assert rel_err(ours, run("adamw", hp, rosenbrock, X0, STEPS)) <= 1e-12


def test_ademamix_warmups_reach_their_targets_at_t() -> None:
    """β₃(t) starts at β₁ (t = 0) and reaches β₃ at t = T; α(t) = α from T on: after T the run is the plain one
    restarted from the same state."""
    hp = {**ADAM_HP, "beta3": 0.999, "alpha": 4.0, "weight_decay": 0.0}
    grads = [np.full(3, 1.0)] * 2
    _, warm = run_with_states("ademamix", {**hp, "warmup": 1}, schedule(grads), np.zeros(3), 2)
    _, plain = run_with_states("ademamix", {**hp, "warmup": 0}, schedule(grads), np.zeros(3), 2)
    for key in ("m1", "m2", "nu"):  # at t = 1 = T both schedules are at their targets already
        np.testing.assert_allclose(warm[-1][key], plain[-1][key], rtol=1e-14)


def test_soap_first_step_only_builds_the_bases() -> None:
    """Step 1 collects L = (1 − β_s) G Gᵀ and R, takes their eigenvectors, and leaves x alone."""
    hp = {"lr": 0.1, "beta1": 0.9, "beta2": 0.9, "shampoo_beta": 0.9, "eps": 1e-8, "weight_decay": 0.1,
          "frequency": 2}
    traj, states = run_with_states("soap", hp, _matrix_problem, X_MATRIX, 2)
    np.testing.assert_array_equal(traj[1], traj[0])
    g = _matrix_problem(X_MATRIX)
    np.testing.assert_allclose(states[0]["L"], 0.1 * g @ g.T, rtol=1e-14)
    ql = states[0]["QL"]
    np.testing.assert_allclose(ql.T @ ql, np.eye(2), atol=1e-14)
    assert not np.allclose(traj[2], traj[1])


@pytest.mark.parametrize("kwargs", [{"lr": 0.05}, {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-4}], ids=str)
def test_sparse_adam_lazy_rows_match_torch(kwargs: dict[str, Any], float64_default: None) -> None:
    """torch.optim.SparseAdam, fed the masked gradient in the sparse layout (``to_sparse`` keeps the nonzeros),
    against the transcription of lazy Adam; and lazy Adam really differs from dense Adam on such gradients."""
    betas = kwargs.get("betas", (0.9, 0.999))
    hp = {"lr": kwargs["lr"], "beta1": betas[0], "beta2": betas[1], "eps": kwargs.get("eps", 1e-8)}
    x0 = np.array([[0.5, 0.1, -1.2], [2.0, -0.7, 0.3]])
    ref = run("sparse_adam", hp, masked(_matrix_problem), x0, STEPS)
    p = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SparseAdam([p], **kwargs)
    grad, out = masked(_matrix_problem), [x0.copy()]
    for _ in range(STEPS):
        p.grad = torch.from_numpy(grad(p.detach().numpy().copy())).to_sparse()
        opt.step()
        out.append(p.detach().numpy().copy())
    assert rel_err(np.stack(out), ref) <= 1e-10
    assert np.max(np.abs(ref[-1] - ref[0])) > 1e-2
    assert rel_err(run("adam", hp, masked(_matrix_problem), x0, STEPS), ref) > 1e-3


def test_every_reference_is_compared_with_torch_or_a_paper_form() -> None:
    compared = {m[3] for m in MATCHES} | PAPER_ONLY | {m[3] for m in SCHEDULE_FREE_MATCHES} | {"sparse_adam"}
    compared |= {"adafactor", "muon"}  # compared with torch in their own tests below
    compared |= {m[3] for m in OTHER_LIBRARY_MATCHES}
    assert compared == set(ALGORITHMS)


# (id, schedulefree 1.4.1 class, its kwargs, reference name, reference hp). AdamWScheduleFreePaper is the package's
# form of Algorithm 1 ("the version used in the published experiments"); the SGD reference class keeps x, y, z.
SCHEDULE_FREE_MATCHES: list[tuple[str, str, dict[str, Any], str, dict[str, Any]]] = [
    ("sf_sgd", "SGDScheduleFreeReference", {"lr": 2e-3, "momentum": 0.9, "warmup_steps": 20}, "schedulefree_sgd",
     {"lr": 2e-3, "momentum": 0.9, "warmup_steps": 20}),
    ("sf_sgd_l2", "SGDScheduleFreeReference", {"lr": 2e-3, "momentum": 0.8, "weight_decay": 0.1},
     "schedulefree_sgd", {"lr": 2e-3, "momentum": 0.8, "weight_decay": 0.1}),
    ("sf_adamw", "AdamWScheduleFreePaper", {**ADAM_T, "weight_decay": 0.1, "warmup_steps": 20, "foreach": False},
     "schedulefree_adamw", {**ADAM_HP, "weight_decay": 0.1, "warmup_steps": 20}),
]


@pytest.mark.parametrize(("cls", "kwargs", "name", "hp"), [m[1:] for m in SCHEDULE_FREE_MATCHES],
                         ids=[m[0] for m in SCHEDULE_FREE_MATCHES])
def test_schedulefree_package_matches_reference(
    cls: str, kwargs: dict[str, Any], name: str, hp: dict[str, Any]
) -> None:
    """The transcription of the box against the authors' package, at y (training) and at x (after eval())."""
    schedulefree = pytest.importorskip("schedulefree")
    p = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
    opt = getattr(schedulefree, cls)([p], **kwargs)
    opt.train()
    for _ in range(STEPS):
        p.grad = torch.from_numpy(rosenbrock(p.detach().numpy().copy()))
        opt.step()
    ref, states = run_with_states(name, hp, rosenbrock, X0, STEPS)
    assert rel_err(p.detach().numpy()[None], ref[-1:]) <= 1e-10
    opt.eval()
    assert rel_err(p.detach().numpy()[None], states[-1]["x"][None]) <= 1e-10
    assert np.max(np.abs(ref[-1] - ref[0])) > 1e-2


def test_schedule_free_average_is_uniform_for_a_constant_step() -> None:
    """Without warmup cₜ₊₁ = 1/t: x is the plain mean of z₂ … zₜ₊₁ (the paper's Polyak-Ruppert end, eq. (3))."""
    _, states = run_with_states("schedulefree_sgd", {"lr": 2e-3, "momentum": 0.9}, rosenbrock, X0, 30)
    zs = np.stack([s["z"] for s in states])
    assert rel_err(states[-1]["x"][None], zs.mean(axis=0)[None]) <= 1e-13


def test_schedule_free_with_beta_one_is_primal_averaging() -> None:
    """β = 1 evaluates the gradient at the average x itself (primal averaging, the paper's other end)."""
    trajectory, states = run_with_states("schedulefree_sgd", {"lr": 2e-3, "momentum": 1.0}, rosenbrock, X0, 30)
    for k, s in enumerate(states):
        assert np.array_equal(trajectory[k + 1], s["x"])


# ----------------------------------------------------------------------------- where torch departs


def test_torch_amsgrad_is_the_bias_corrected_form_not_reddis_box() -> None:
    got = torch_trajectory(torch.optim.Adam, {**ADAM_T, "amsgrad": True}, X0)
    assert rel_err(got, run("amsgrad", ADAM_HP, rosenbrock, X0, STEPS)) <= 1e-10
    assert rel_err(got, run("amsgrad_paper", ADAM_HP, rosenbrock, X0, STEPS)) > 1e-2


def test_torch_adamax_adds_eps_to_the_gradient_in_the_max() -> None:
    kwargs = {**ADAM_T, "lr": 2e-3, "eps": 1e-3}
    got = torch_trajectory(torch.optim.Adamax, kwargs, X0)
    paper = run("adamax", {**ADAM_HP, "lr": 2e-3, "eps": 0.0}, rosenbrock, X0, STEPS)
    ours = run("adamax", {**ADAM_HP, "lr": 2e-3, "eps": 1e-3}, rosenbrock, X0, STEPS)
    assert rel_err(got, ours) <= 1e-10
    assert rel_err(got, paper) > 1e-6
    # With a gradient coordinate that is exactly zero on step 1 the paper's u is 0 and the
    # step is 0/0; torch's ε keeps it finite.
    with np.errstate(invalid="ignore", divide="ignore"):
        bad = run("adamax", {**ADAM_HP, "eps": 0.0}, constant(np.array([0.0, 1.0])), np.zeros(2), 1)
    assert np.isnan(bad[1, 0])
    fine = run("adamax", {**ADAM_HP, "eps": 1e-8}, constant(np.array([0.0, 1.0])), np.zeros(2), 1)
    assert fine[1, 0] == 0.0


def test_torch_radam_uses_threshold_5_not_the_papers_4() -> None:
    got = torch_trajectory(torch.optim.RAdam, ADAM_T, X0)
    assert rel_err(got, run("radam", {**ADAM_HP, "threshold": 5.0}, rosenbrock, X0, STEPS)) <= 1e-10
    paper = run("radam", {**ADAM_HP, "threshold": 4.0}, rosenbrock, X0, STEPS)
    np.testing.assert_allclose(got[:5], paper[:5], rtol=1e-12)  # ρ₁..ρ₄ ≤ 4: same
    assert np.max(np.abs(got[5] - paper[5])) > 1e-4  # ρ₅ ≈ 4.996: the paper adapts, torch not


def test_torch_nadam_averages_the_moment_with_constant_beta1() -> None:
    kwargs = {**ADAM_T, "lr": 2e-3, "momentum_decay": 4e-3}
    hp = {**ADAM_HP, "lr": 2e-3, "momentum_decay": 4e-3}
    got = torch_trajectory(torch.optim.NAdam, kwargs, X0)
    assert rel_err(got, run("nadam", hp, rosenbrock, X0, STEPS)) <= 1e-10
    scheduled = run("nadam", {**hp, "scheduled_moment": True}, rosenbrock, X0, STEPS)
    assert rel_err(got, scheduled) > 1e-4


def test_torch_centered_rmsprop_puts_eps_outside_the_root_unlike_graves() -> None:
    kwargs = {"lr": 1e-3, "alpha": 0.95, "eps": 1e-4, "momentum": 0.9, "centered": True}
    hp = {"lr": 1e-3, "alpha": 0.95, "eps": 1e-4, "momentum": 0.9}
    got = torch_trajectory(torch.optim.RMSprop, kwargs, X0)
    assert rel_err(got, run("rmsprop_centered", {**hp, "eps_inside": False}, rosenbrock, X0, STEPS)) <= 1e-10
    assert rel_err(got, run("rmsprop_centered", hp, rosenbrock, X0, STEPS)) > 1e-4


def test_torch_adamw_decay_is_the_papers_lambda_times_lr() -> None:
    # Paper (ηₜ = 1): x ← x − α·Adam − λ_paper·x. torch's weight_decay w gives λ_paper = α·w,
    # so torch AdamW(lr=α, weight_decay=w) is *not* the paper's box with λ = w.
    lr, w = 1e-2, 0.1
    got = torch_trajectory(torch.optim.AdamW, {**ADAM_T, "weight_decay": w}, X0)

    def paper_box(lam: float) -> Array:
        traj, state = [X0.copy()], {"m": np.zeros(5), "v": np.zeros(5)}
        x = X0.copy()
        for t in range(1, STEPS + 1):
            g = rosenbrock(x)
            state["m"] = 0.9 * state["m"] + 0.1 * g
            state["v"] = 0.999 * state["v"] + 0.001 * g * g
            m_hat, v_hat = state["m"] / (1 - 0.9**t), state["v"] / (1 - 0.999**t)
            x = x - (lr * m_hat / (np.sqrt(v_hat) + 1e-8) + lam * x)
            traj.append(x.copy())
        return np.stack(traj)

    assert rel_err(got, paper_box(lr * w)) <= 1e-10
    assert rel_err(got, paper_box(w)) > 1e-2


def test_lion_with_equal_betas_is_signum() -> None:
    """Chen et al.'s Lion with β₁ = β₂ = β is Bernstein et al.'s Signum with momentum β (no weight decay)."""
    lion = run("lion", {"lr": 1e-3, "beta1": 0.8, "beta2": 0.8, "weight_decay": 0.0}, rosenbrock, X0, STEPS)
    signum = run("signum", {"lr": 1e-3, "momentum": 0.8}, rosenbrock, X0, STEPS)
    assert np.array_equal(lion, signum)
    assert not np.array_equal(lion, run("lion", {**LION_HP, "weight_decay": 0.0}, rosenbrock, X0, STEPS))


def test_cautious_mask_drops_disagreeing_coordinates_and_rescales_the_rest() -> None:
    """After a reversal of two of five gradient components the momentum still points the old way there: those
    two are masked, and the three kept move by the base's step times d/(kept + 1) = 5/4."""
    g1 = np.array([1.0, -2.0, 0.5, 1.0, -1.0])
    g2 = np.array([1.0, -2.0, 0.5, -0.1, 0.1])
    hp = {"lr": 0.1, "momentum": 0.9}
    base = run("signum", hp, schedule([g1, g2]), np.zeros(5), 2)
    cautious = run("cautious_signum", hp, schedule([g1, g2]), np.zeros(5), 2)
    base_step, cautious_step = base[2] - base[1], cautious[2] - cautious[1]
    assert np.all(base_step[3:] * g2[3:] > 0)  # plain Signum moves these two uphill
    np.testing.assert_array_equal(cautious_step[3:], 0.0)
    np.testing.assert_allclose(cautious_step[:3], base_step[:3] * 5 / 4, rtol=1e-12)
def test_torch_rprop_does_not_backtrack_unlike_riedmiller_and_braun() -> None:
    hp = {"lr": 1e-2, "etaminus": 0.5, "etaplus": 1.2, "step_size_min": 1e-6, "step_size_max": 50.0}
    got = torch_trajectory(torch.optim.Rprop, {"lr": 1e-2}, X0)
    assert rel_err(got, run("rprop", hp, rosenbrock, X0, STEPS)) <= 1e-10
    assert rel_err(got, run("rprop", {**hp, "backtracking": True}, rosenbrock, X0, STEPS)) > 1e-3


# ----------------------------------------------------------------------------- facts of the three classic boxes


def test_asgd_average_is_the_mean_of_the_iterates_after_t0() -> None:
    """t₀ = 3: μ_k = 1/max(1, k − 3) with k = t − 1, so after step t ≥ 5 the average ā is the mean of the
    iterates x₅ … x_t (Bottou's formula starts averaging at iterate t₀ + 2), and before that ā = x_t."""
    hp = {"lr": 0.1, "lambd": 0.0, "alpha": 0.75, "t0": 3}
    traj, states = run_with_states("asgd", hp, quadratic(np.array([1.0, 3.0])), np.array([1.0, -2.0]), 12)
    for t in range(5, 13):
        np.testing.assert_allclose(states[t - 1]["average"], traj[5 : t + 1].mean(axis=0), rtol=1e-13)
    for t in range(1, 6):
        np.testing.assert_array_equal(states[t - 1]["average"], traj[t])


def test_asgd_step_decays_as_bottou_schedule() -> None:
    """The first step is −η₀·g (η₀ = lr); with λ = 0 the step never decays."""
    hp = {"lr": 0.5, "lambd": 0.2, "alpha": 0.75, "t0": 1e6}
    traj = run("asgd", hp, constant(np.array([1.0])), np.zeros(1), 1)
    assert traj[1, 0] == -0.5  # η₀ = lr
    traj = run("asgd", {**hp, "lambd": 0.0}, constant(np.array([1.0])), np.zeros(1), 4)
    np.testing.assert_allclose(np.diff(traj[:, 0]), -0.5)  # λ = 0: a constant step


def test_rprop_step_grows_geometrically_then_saturates() -> None:
    """A constant gradient keeps its sign: Δ grows by η⁺ per step from the second on, up to Δmax."""
    hp = {"lr": 0.1, "etaminus": 0.5, "etaplus": 2.0, "step_size_min": 1e-6, "step_size_max": 1.0}
    traj = run("rprop", hp, constant(np.array([3.0, -1e-9])), np.zeros(2), 7)
    steps = -np.diff(traj[:, 0])
    np.testing.assert_allclose(steps, [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(np.diff(traj[:, 1]), steps)  # the size of the gradient never matters


def test_adopt_first_gradient_only_initialises_v_and_the_clip_bounds_the_second_step() -> None:
    hp = {**ADOPT_HP, "lr": 0.1}
    grads = [np.array([1e-3, 2.0]), np.array([1.0, 1.0])]
    traj = run("adopt", hp, schedule(grads), np.zeros(2), 2)
    assert np.array_equal(traj[1], traj[0])
    # second call, paper's t = 1: g/√v₀ = (1000, 0.5), clipped to c₁ = 1 in the first coordinate
    np.testing.assert_allclose(traj[2], -0.1 * 0.1 * np.array([1.0, 0.5]), rtol=1e-14)
    unclipped = run("adopt", {**hp, "clip": False}, schedule(grads), np.zeros(2), 2)
    np.testing.assert_allclose(unclipped[2], -0.1 * 0.1 * np.array([1000.0, 0.5]), rtol=1e-14)
# ----------------------------------------------------------------------------- matrix optimizers

M0 = np.array([[0.5, -1.0, 0.3, 0.8], [1.2, 0.1, -0.4, 0.0], [-0.7, 0.9, 0.6, -1.1]])
_TARGET = np.array([[1.0, 0.0, -1.0, 0.5], [0.2, -0.3, 0.8, 1.0], [0.0, 1.5, -0.5, 0.3]])


def matrix_bowl(x: Array) -> Array:
    """Gradient of ½‖x − T‖² + ¼‖x‖⁴₄ on a 3×4 matrix (or any array of T's size, reshaped)."""
    t = _TARGET.reshape(x.shape)
    return x - t + x**3


def torch_matrix_trajectory(
    cls: type[torch.optim.Optimizer], kwargs: dict[str, Any], x0: Array, steps: int = STEPS
) -> Array:
    p = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = cls([p], **kwargs)
    out = [x0.copy()]
    for _ in range(steps):
        p.grad = torch.from_numpy(matrix_bowl(p.detach().numpy().copy()))
        opt.step()
        out.append(p.detach().numpy().copy())
    return np.stack(out)


@pytest.mark.parametrize("x0", [M0, M0.T.copy(), M0.reshape(-1)], ids=["wide", "tall", "vector"])
@pytest.mark.parametrize(
    ("kwargs", "hp"),
    [
        ({}, {"rho_max": 1e-2, "eps1": np.finfo(np.float64).eps, "eps1_placement": "torch"}),
        # (lr = 0.03 keeps the steps so large near the optimum that one coordinate's overshoot doubles every
        # step from step 180 on: rounding grows to 2e-7 by step 200. 0.02 stays in the stable range.)
        ({"lr": 0.02, "eps": (1e-4, 1e-2), "d": 2.0, "beta2_decay": -0.7, "weight_decay": 0.05},
         {"rho_max": 0.02, "eps1": 1e-4, "eps2": 1e-2, "d": 2.0, "decay": -0.7, "eps1_placement": "torch",
          "weight_decay": 0.05}),
    ],
    ids=["defaults", "options"],
)
def test_torch_adafactor_matches_reference(kwargs: dict[str, Any], hp: dict[str, Any], x0: Array) -> None:
    """torch.optim.Adafactor is the paper's factored (matrix) and full (vector) algorithm with its ε₁ placement."""
    ref = run("adafactor", {"weight_decay": 0.0, **hp}, matrix_bowl, x0, STEPS)
    got = torch_matrix_trajectory(torch.optim.Adafactor, kwargs, x0)
    assert rel_err(got, ref) <= 1e-10
    assert np.max(np.abs(ref[-1] - ref[0])) > 1e-2


def test_adafactor_factored_second_moment_is_rank_one_and_exact_for_rank_one_squares() -> None:
    """V̂ = R C / ΣR is the rank-1 fit of the averaged G²; when G² is itself rank one (G = u vᵀ) and β̂₂ = 0
    (step 1), V̂ equals G² exactly, so the first update is sign(G)·(the clipped unit step)."""
    u, v = np.array([[1.0], [2.0], [0.5]]), np.array([[0.3, -1.0, 2.0, 0.1]])
    g = u @ v
    state: dict[str, Any] = {}
    x = np.zeros_like(g)
    new = ALGORITHMS["adafactor"](x, g, state, 1, {"eps1": 0.0})
    # step 1: β̂₂ = 0, ρ = 10⁻², α = ε₂·ρ (x = 0), U = G/|G| = sign(G), RMS(U) = 1: x moves by α·sign(G)
    np.testing.assert_allclose(new, -1e-3 * 1e-2 * np.sign(g), rtol=1e-12)


def test_muon_update_is_orthogonal_up_to_the_quintics_spread() -> None:
    """Jordan's coefficients push every singular value of the update into about [0.7, 1.2] (not exactly 1);
    the convergent quintic (15, −10, 3)/8 with many steps reaches 1."""
    g = matrix_bowl(M0)
    quintics = [((3.4445, -4.7750, 2.0315), 5, 0.6, 1.25), ((1.875, -1.25, 0.375), 40, 0.999, 1.001)]
    for coefficients, steps, lo, hi in quintics:
        hp = {"lr": 1.0, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0, "ns_coefficients": coefficients,
              "ns_steps": steps}
        update = M0 - ALGORITHMS["muon"](M0, g, {}, 1, hp)  # η = 1, s = 1 (wide): the update is O itself
        sv = np.linalg.svd(update, compute_uv=False)
        assert lo <= sv.min() and sv.max() <= hi, sv


def test_torch_muon_is_the_reference_in_bfloat16() -> None:
    """torch.optim.Muon runs Newton–Schulz in bfloat16: its updates match the float64 box to bfloat16 precision
    (8 bits: 2⁻⁸ ≈ 4e-3 per rounding, over 15 products), not to 1e-10 — see rules/muon.py."""
    for x0 in (M0, M0.T.copy()):
        hp = {"lr": 0.02, "momentum": 0.95, "weight_decay": 0.1}
        ref = run("muon", hp, matrix_bowl, x0, 1)
        got = torch_matrix_trajectory(torch.optim.Muon, {"lr": 0.02}, x0, steps=1)
        step_ref, step_got = ref[1] - ref[0], got[1] - got[0]
        assert float(np.max(np.abs(step_got - step_ref)) / np.max(np.abs(step_ref))) <= 3e-2
        assert float(np.max(np.abs(step_got - step_ref)) / np.max(np.abs(step_ref))) > 1e-6  # it is bf16
# ------------------------------------------------------------------------------------------------- Prodigy


def test_prodigy_first_step_keeps_d0_and_moves_by_about_d0() -> None:
    """At the first step x = x₀, so r = 0 and d̂ = 0: d stays d₀, and with m = (1 − β₁)d₀g, v = (1 − β₂)d₀²g²
    every coordinate moves by γ·d₀·(1 − β₁)/√(1 − β₂) (ε aside), whatever the gradient's scale."""
    hp = {"lr": 1.0, "beta1": 0.9, "beta2": 0.999, "eps": 0.0, "d0": 1e-3}
    g = np.array([3.0, -1e-4, 50.0])
    trajectory, states = run_with_states("prodigy", hp, constant(g), np.zeros(3), 1)
    assert states[0]["d"] == 1e-3
    expected = 1e-3 * 0.1 / math.sqrt(0.001)
    assert np.allclose(trajectory[0] - trajectory[1], expected * np.sign(g), rtol=1e-12, atol=0)


def test_prodigy_d_grows_then_stays_on_a_quadratic() -> None:
    """From d₀ = 1e-8 the estimate grows by orders of magnitude, never falls, and ends below ‖x₀ − x*‖∞ (the
    bound d̂ ≤ ‖x₀ − x*‖∞ of a convex function)."""
    curvatures = np.array([1.0, 4.0, 0.5, 2.0, 8.0])
    hp = {"lr": 1.0, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "d0": 1e-8}
    _, states = run_with_states("prodigy", hp, quadratic(curvatures), X0, 150)
    ds = [s["d"] for s in states]
    assert all(b >= a for a, b in itertools.pairwise(ds))
    assert 1e-3 < ds[-1] <= np.max(np.abs(X0))
