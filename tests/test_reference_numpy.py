"""Tests of the NumPy reference optimizers: known facts first, then agreement with torch.optim.

The facts (closed forms, first-step sizes, convergence rates, equivalences between forms) check
the references against the papers' mathematics, not against any implementation. The torch
section checks that torch.optim agrees with the references where it should, to 1e-10 relative
over 200 steps, and shows explicitly where torch departs from a paper.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import torch

from reference_numpy import ALGORITHMS, HYPERPARAMETERS, Array, run, run_with_states

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
]


@pytest.mark.parametrize(("cls", "kwargs", "name", "hp"), [m[1:] for m in MATCHES], ids=[m[0] for m in MATCHES])
def test_torch_matches_reference(
    cls: type[torch.optim.Optimizer], kwargs: dict[str, Any], name: str, hp: dict[str, Any]
) -> None:
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


def test_every_reference_is_compared_with_torch_or_a_paper_form() -> None:
    compared = {m[3] for m in MATCHES} | {m[3] for m in OTHER_LIBRARY_MATCHES} | {"amsgrad_paper"}
    assert compared == set(ALGORITHMS)


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
