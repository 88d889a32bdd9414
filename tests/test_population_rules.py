"""Rules on a population: per-trial tensor hyperparameters over ``p[K, ...]`` equal K single runs, and the
Population engine's equivalence, isolation and determinism."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
import torch

from cases import N_DATA, N_HIDDEN, N_IN, N_OUT, mlp_data, rel_error
from optimlab.population import Population, Trial
from optimlab.registry import PRESETS
from optimlab.rules import RULES, TRIAL_DIMS, Hyper, Rule

K = 4
SHAPE = (3, 2)
STEPS = 25


def _value(h: Hyper, k: int, rng: random.Random, flags: dict[str, bool]) -> float:
    """A valid value of numeric hyperparameter ``h`` for trial ``k``; trial 0 gets the "off" value of optional
    terms (momentum, weight decay ...), so the tensor path must reproduce the float path's skipped branch."""
    name = h.name
    if name == "lr":
        return rng.uniform(0.005, 0.05)
    if name in ("beta1", "beta2"):
        return 0.0 if (k == 0 and name == "beta1") else rng.uniform(0.5, 0.99)
    if name in ("beta3", "shampoo_beta"):
        return rng.uniform(0.9, 0.9999) if name == "beta3" else rng.uniform(0.5, 0.99)
    if name == "t_alpha_beta3":  # AdEMAMix's warm-ups: off for trial 0 (β₁ = 0 there), else within the run
        return 0.0 if k == 0 else float(rng.randint(3, 30))
    if name == "precondition_frequency":  # SOAP: a different refresh period per trial
        return float(k + 1)
    if name == "max_precondition_dim":
        # SOAP: structural (one value per population). Dimension 0 (length 3) of these 3x2 tensors stays unrotated:
        # its first statistic G·Gᵀ has rank 2, the null direction's second moment is rounding noise (1e-35) and
        # the update there is noise/ε, so batched and single products that differ in the last bit differ by up to
        # 1e-10 after 25 steps. tests/test_soap.py rotates both sides of square tensors at this tolerance.
        return 2.0
    if name in ("alpha", "rho"):
        return rng.uniform(0.8, 0.99)
    if name == "eps":
        return 10 ** rng.uniform(-8, -4)
    if name == "momentum":
        return 0.0 if (k == 0 and not flags.get("nesterov")) else rng.uniform(0.3, 0.95)
    if name == "dampening":
        # dampening with momentum = 0 is covered by test_sgd_dampening_without_momentum (a known defect).
        return 0.0 if (k == 0 or flags.get("nesterov")) else rng.uniform(0.0, 0.5)
    if name == "weight_decay":
        return 0.0 if k == 0 else rng.uniform(0.0, 0.05)
    return 0.0 if k == 0 else rng.uniform(0.0, 0.1)  # lr_decay, initial_accumulator_value, momentum_decay


def _flag_combinations() -> list[tuple[str, dict[str, bool]]]:
    out = []
    for name, rule in RULES.items():
        flags = [h.name for h in rule.hypers if h.structural]
        for values in itertools.product([False, True], repeat=len(flags)):
            out.append((name, dict(zip(flags, values, strict=True))))
    return out


def _grad(p: torch.Tensor) -> torch.Tensor:
    """A gradient that depends on the point (so the state matters) and is never identically zero."""
    return torch.sin(3 * p) + 0.1 * p - 0.2


def _run_population_and_singles(rule: Rule, hps: list[dict[str, Any]], steps: int) -> tuple[torch.Tensor, list]:
    gen = torch.Generator().manual_seed(0)
    start = torch.randn(K, *SHAPE, generator=gen, dtype=torch.float64)
    pop = start.clone()
    tensor_hp: dict[str, Any] = {
        h.name: hps[0][h.name] if h.structural else torch.tensor([hp[h.name] for hp in hps], dtype=torch.float64)
        for h in rule.hypers
    }
    tensor_hp[TRIAL_DIMS] = 1  # as the population passes it: matrix rules (SOAP) batch over the trial dimension
    b = Rule.broadcast(tensor_hp, pop)
    state = rule.init_state(pop, b)
    singles = [start[k].clone() for k in range(K)]
    single_states = [rule.init_state(singles[k], hps[k]) for k in range(K)]
    for t in range(1, steps + 1):
        rule.update(pop, _grad(pop), state, b, t)
        for k in range(K):
            rule.update(singles[k], _grad(singles[k]), single_states[k], hps[k], t)
    return pop, singles


@pytest.mark.parametrize(("name", "flags"), _flag_combinations(), ids=lambda x: str(x))
def test_rule_on_population_equals_single_runs(name: str, flags: dict[str, bool], float64_default: None,
                                               record_error: Any) -> None:
    rule = RULES[name]
    rng = random.Random(f"{name}{sorted(flags.items())}")
    hps = [
        {h.name: flags[h.name] if h.structural else _value(h, k, rng, flags) for h in rule.hypers}
        for k in range(K)
    ]
    for hp in hps:
        rule.validate(hp, name)
    pop, singles = _run_population_and_singles(rule, hps, STEPS)
    for k in range(K):
        err = rel_error([pop[k]], [singles[k]])
        record_error("rule on [K,...] with tensor hypers vs K float runs (relative)", err)
        assert err <= 1e-12, f"trial {k} ({hps[k]}): relative error {err:.3e}"


def test_sgd_dampening_without_momentum(float64_default: None) -> None:
    rule = RULES["sgd"]
    hps = [{"lr": 0.05, "momentum": 0.0 if k == 0 else 0.9, "dampening": 0.5, "weight_decay": 0.0,
            "nesterov": False} for k in range(K)]
    pop, singles = _run_population_and_singles(rule, hps, 5)
    assert rel_error([pop[0]], [singles[0]]) <= 1e-12


# ------------------------------------------------------------------------------------------- the Population


def _stacked_mlp(k: int, seed: int = 0) -> list[torch.Tensor]:
    """K copies of the same MLP initialisation (same seed: paired trials), stacked on a leading dimension."""
    gen = torch.Generator().manual_seed(seed)
    shapes = [(N_HIDDEN, N_IN), (N_HIDDEN,), (N_OUT, N_HIDDEN), (N_OUT,)]
    one = [0.5 * torch.randn(s, generator=gen) for s in shapes]
    return [p.unsqueeze(0).repeat(k, *([1] * p.dim())).requires_grad_() for p in one]


def _stacked_losses(params: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    w1, b1, w2, b2 = params
    hidden = torch.tanh(torch.einsum("ni,khi->knh", x, w1) + b1[:, None, :])
    out = torch.einsum("knh,koh->kno", hidden, w2) + b2[:, None, :]
    return ((out - y) ** 2).mean(dim=(1, 2))


def _train_population(trials: list[Trial], steps: int) -> tuple[Population, list[torch.Tensor]]:
    params = _stacked_mlp(len(trials))
    pop = Population(trials, params)
    x, y = mlp_data(dtype=params[0].dtype)
    for _ in range(steps):
        losses = _stacked_losses(params, x, y)
        grads = torch.autograd.grad(losses.sum(), params)
        pop.step(grads, losses.detach())
    return pop, [p.detach() for p in params]


TRIALS = [
    Trial("gd", {"lr": 0.1}),
    Trial("momentum", {"lr": 0.05, "dampening": 0.2}),
    Trial("adam", {"lr": 0.01}),
    Trial("nesterov", {"lr": 0.05, "weight_decay": 0.01}),
    Trial("adam", {"lr": 0.02, "amsgrad": True}),
    Trial("adagrad", {"lr": 0.1, "lr_decay": 0.01}),
    Trial("rmsprop", {"lr": 0.003, "centered": True, "momentum": 0.5}),
    Trial("adam", {"lr": 0.005, "betas": (0.8, 0.99)}),
    Trial("adadelta", {}),
    Trial("adamw", {"lr": 0.01, "weight_decay": 0.1}),
    Trial("adamax", {"lr": 0.01}),
    Trial("nadam", {"lr": 0.01, "decoupled_weight_decay": True, "weight_decay": 0.05}),
    Trial("radam", {"lr": 0.01}),
    Trial("minibatch", {"lr": 0.2}),
    Trial("ademamix", {"lr": 0.01, "t_alpha_beta3": 20, "weight_decay": 0.01}),
    # Rotated sides only where one gradient's statistic has full rank (see max_precondition_dim in _value).
    Trial("soap", {"lr": 0.01, "max_precondition_dim": 5, "precondition_frequency": 3}),
]


def test_population_trials_cover_every_preset() -> None:
    assert {t.optimizer for t in TRIALS} >= set(PRESETS) - {"sgd", "amsgrad"}


def test_trial_equals_drop_in_class_alone(float64_default: None, record_error: Any) -> None:
    steps = 40
    _, stacked = _train_population(TRIALS, steps)
    x, y = mlp_data()
    for k, trial in enumerate(TRIALS):
        alone = [p[k].detach().clone().requires_grad_() for p in _stacked_mlp(len(TRIALS))]
        opt = trial.preset.make(alone, **trial.hypers)
        for _ in range(steps):
            opt.zero_grad()
            _stacked_losses([p.unsqueeze(0) for p in alone], x, y).sum().backward()
            opt.step()
        err = rel_error([p[k] for p in stacked], alone)
        record_error("Population trial vs drop-in class alone (relative)", err)
        assert err <= 1e-10, f"trial {k} {trial}: relative error {err:.3e}"
        assert rel_error(alone, [p[0] for p in _stacked_mlp(1)]) > 1e-4  # it trained


def _quartic(params: list[torch.Tensor]) -> torch.Tensor:
    (p,) = params
    return ((p - 1.0) ** 4 / 4 + (p - 1.0) ** 2 / 2).sum(dim=1)


def _train_quartic(trials: list[Trial], steps: int) -> tuple[Population, list[torch.Tensor], list[torch.Tensor]]:
    gen = torch.Generator().manual_seed(4)
    start = torch.randn(6, generator=gen, dtype=torch.float64)
    p = start.repeat(len(trials), 1).requires_grad_()
    pop = Population(trials, [p])
    history = []
    for _ in range(steps):
        losses = _quartic([p])
        (grad,) = torch.autograd.grad(losses.sum(), [p])
        pop.step([grad], losses.detach())
        history.append(p.detach().clone())
    return pop, [p.detach()], history


QUARTIC_TRIALS = [
    Trial("gd", {"lr": 0.05}),
    Trial("momentum", {"lr": 0.02}),
    Trial("gd", {"lr": 5.0}, label="diverges"),
    Trial("gd", {"lr": 0.1}),
    Trial("adam", {"lr": 0.1}),
    Trial("adam", {"lr": 0.05, "amsgrad": True}),
    Trial("nadam", {"lr": 0.05}),
    Trial("radam", {"lr": 0.05}),
]


def test_diverging_trial_is_frozen_and_isolated() -> None:
    bad = 2
    pop, (p,), history = _train_quartic(QUARTIC_TRIALS, 30)
    others = [t for i, t in enumerate(QUARTIC_TRIALS) if i != bad]
    pop_without, (q,), _ = _train_quartic(others, 30)

    assert pop.diverged.tolist() == [i == bad for i in range(len(QUARTIC_TRIALS))]
    frozen_at = pop.diverged_at[bad]
    assert frozen_at is not None and 1 < frozen_at < 30
    assert all(pop.diverged_at[i] is None for i in range(len(QUARTIC_TRIALS)) if i != bad)
    # Frozen: the parameters never change after the step that flagged it.
    for later in history[frozen_at - 1:]:
        assert torch.equal(later[bad], history[frozen_at - 1][bad])
    assert not pop_without.diverged.any()
    # The others are bit-identical to a population that never contained the diverging trial.
    keep = [i for i in range(len(QUARTIC_TRIALS)) if i != bad]
    assert torch.isfinite(p[keep]).all()
    for row, i in enumerate(keep):
        assert torch.equal(p[i], q[row]), f"trial {i} ({QUARTIC_TRIALS[i]}) changed when trial {bad} was added"


def test_same_population_twice_is_bit_identical() -> None:
    _, first = _train_population(TRIALS, 15)
    _, second = _train_population(TRIALS, 15)
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)
    _, (p1,), _ = _train_quartic(QUARTIC_TRIALS, 20)
    _, (p2,), _ = _train_quartic(QUARTIC_TRIALS, 20)
    assert torch.equal(p1, p2)


def test_population_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="leading trial dimension"):
        Population(TRIALS[:2], [torch.zeros(3, 4)])
    with pytest.raises(ValueError, match="at least one trial"):
        Population([], [])


def test_population_data_size() -> None:
    assert _stacked_losses(_stacked_mlp(3), *mlp_data(dtype=torch.float32)).shape == (3,)
    assert N_DATA == mlp_data()[0].shape[0]
