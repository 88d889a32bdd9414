"""Rules on a population: per-trial tensor hyperparameters over ``p[K, ...]`` equal K single runs, and the
Population engine's equivalence, isolation and determinism."""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

import pytest
import torch

from cases import N_DATA, N_HIDDEN, N_IN, N_OUT, SPARSE_ONLY_CLASSES, mlp_data, rel_error
from optimlab.population import Population, Trial
from optimlab.registry import PRESETS
from optimlab.rules import RULES, TRIAL_DIMS, Hyper, Rule

K = 4
SHAPE = (3, 2)
STEPS = 25


def _value(h: Hyper, k: int, rng: random.Random, flags: dict[str, Any], rule: str = "") -> float:
    """A valid value of numeric hyperparameter ``h`` for trial ``k``; trial 0 gets the "off" value of optional
    terms (momentum, weight decay ...), so the tensor path must reproduce the float path's skipped branch."""
    name = h.name
    if name == "warmup_steps":
        return 0 if k == 0 else rng.randint(1, 10)
    if name == "weight_lr_power":
        return rng.uniform(0.0, 2.5)
    if name in ("beta1", "momentum") and not h.is_valid(0.0):  # Schedule-Free's interpolation must be > 0
        return rng.uniform(0.3, 0.95)
    if name == "lr":  # Prodigy's lr multiplies its estimate: below ~0.5 the estimate d never leaves d0 here
        return rng.uniform(0.5, 1.0) if rule == "prodigy" else rng.uniform(0.005, 0.05)
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
    if name == "etaminus":  # Rprop's step-size factors and bounds
        return rng.uniform(0.3, 0.7)
    if name == "etaplus":
        return rng.uniform(1.1, 1.5)
    if name == "step_size_min":
        return 0.0 if k == 0 else rng.uniform(1e-6, 1e-3)
    if name == "step_size_max":
        return rng.uniform(0.02, 1.0)
    if name == "t0":  # ASGD: trial 0 averages from the start, the others from a step within the run
        return 0.0 if k == 0 else float(rng.randint(1, STEPS))
    if name == "beta2_decay":  # Adafactor's τ <= 0
        return rng.uniform(-1.0, -0.5)
    if name == "d":  # Adafactor's clipping threshold >= 1
        return rng.uniform(1.0, 2.0)
    # Prodigy's
    if name == "beta3":
        return rng.uniform(0.5, 0.99)
    if name == "d0":
        return 10 ** rng.uniform(-6, -3)
    if name == "d_coef":
        return rng.uniform(0.5, 2.0)
    if name == "growth_rate":
        return math.inf if k == 0 else rng.uniform(1.01, 2.0)
    if name == "slice_p":
        return 1.0
    return 0.0 if k == 0 else rng.uniform(0.0, 0.1)  # lr_decay, initial_accumulator_value, momentum_decay


def _options(h: Hyper) -> tuple[Any, ...]:
    """The values of a structural hyperparameter to try: both bools, every choice, else the default."""
    if h.choices is not None:
        return h.choices
    return (False, True) if isinstance(h.default, bool) else (h.default,)


def _flag_combinations() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name, rule in RULES.items():
        flags = [h for h in rule.hypers if h.structural]
        for values in itertools.product(*map(_options, flags)):
            combination = {h.name: v for h, v in zip(flags, values, strict=True)}
            try:
                rule.check_combination(combination, name)
            except ValueError:
                continue  # a combination the rule refuses (Prodigy's fsdp_in_use=True)
            out.append((name, combination))
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
    tensor_hp[TRIAL_DIMS] = 1  # as the Population passes it: per-trial reductions (cautious mask, matrix rules)
    # Rules with group-level state (Prodigy) keep it per trial ([K]) here, one 0-d set per single run; both go
    # through update_group, which for every other rule is the plain update.
    scalar = torch.zeros((), dtype=torch.float64)
    shared = rule.init_shared(tensor_hp, torch.zeros(K, dtype=torch.float64)) if rule.shared_state else {}
    merged = {**tensor_hp, **shared}
    b = Rule.broadcast(merged, pop)
    state = rule.init_state(pop, b)
    singles = [start[k].clone() for k in range(K)]
    single_shared = [rule.init_shared(hp, scalar) if rule.shared_state else {} for hp in hps]
    single_hps = [{**hp, **sh} for hp, sh in zip(hps, single_shared, strict=True)]
    single_states = [rule.init_state(singles[k], hps[k]) for k in range(K)]
    for t in range(1, steps + 1):
        rule.update_group([pop], [_grad(pop)], [state], [b], [t], shared, merged)
        for k in range(K):
            rule.update_group([singles[k]], [_grad(singles[k])], [single_states[k]], [single_hps[k]], [t],
                              single_shared[k], single_hps[k])
    return pop, singles


@pytest.mark.parametrize(("name", "flags"), _flag_combinations(), ids=lambda x: str(x))
def test_rule_on_population_equals_single_runs(name: str, flags: dict[str, Any], float64_default: None,
                                               record_error: Any) -> None:
    rule = RULES[name]
    rng = random.Random(f"{name}{sorted(flags.items())}")
    hps = [
        {h.name: flags[h.name] if h.structural else _value(h, k, rng, flags, name) for h in rule.hypers}
        for k in range(K)
    ]
    for hp in hps:
        rule.validate(hp, name)
    pop, singles = _run_population_and_singles(rule, hps, STEPS)
    # Muon's float32 Newton–Schulz: batched (bmm) and single (mm) float32 products take different BLAS kernels,
    # so they agree to float32 rounding, which the iteration amplifies along small singular values (slope a = 3.4
    # at zero per step, a⁵ ≈ 480 over five): measured up to 2.8e-4 over 25 steps on an Intel machine and 1.3e-3 on
    # an AMD EPYC one (whose BLAS kernels differ more), so the bound is 1e-2. A trial reading another's numbers
    # would be off by O(1). In bfloat16 (the default) and float64 they agree to 1e-12.
    tol = 1e-2 if flags.get("newton_schulz_dtype") == "float32" else 1e-12
    for k in range(K):
        err = rel_error([pop[k]], [singles[k]])
        record_error("rule on [K,...] with tensor hypers vs K float runs (relative)", err)
        assert err <= tol, f"trial {k} ({hps[k]}): relative error {err:.3e}"


def test_sparse_adam_population_keeps_absent_coordinates(float64_default: None) -> None:
    """On dense gradients with zeros (absent coordinates) each trial equals its single run, and a coordinate whose
    gradient is zero at a step keeps its parameter and both moments."""
    rule = RULES["sparse_adam"]
    hps = [{"lr": 0.01 * (k + 1), "beta1": 0.9 - 0.1 * k, "beta2": 0.999 - 0.01 * k, "eps": 1e-8} for k in range(K)]
    tensor_hp: dict[str, Any] = {n: torch.tensor([hp[n] for hp in hps], dtype=torch.float64) for n in hps[0]}
    gen = torch.Generator().manual_seed(2)
    pop = torch.randn(K, *SHAPE, generator=gen, dtype=torch.float64)
    singles = [pop[k].clone() for k in range(K)]
    b = Rule.broadcast(tensor_hp, pop)
    state, single_states = rule.init_state(pop, b), [rule.init_state(s, hps[0]) for s in singles]
    kept = 0
    for t in range(1, STEPS + 1):
        g = _grad(pop) * (torch.rand(pop.shape, generator=gen, dtype=torch.float64) < 0.5)
        before = (pop.clone(), state["exp_avg"].clone(), state["exp_avg_sq"].clone())
        rule.update(pop, g, state, b, t)
        absent = g == 0
        for old, new in zip(before, (pop, state["exp_avg"], state["exp_avg_sq"]), strict=True):
            assert torch.equal(new[absent], old[absent])
        assert not torch.equal(pop[~absent], before[0][~absent])
        kept += int(absent.sum())
        for k in range(K):
            rule.update(singles[k], g[k], single_states[k], hps[k], t)
    assert kept > 0
    for k in range(K):
        assert rel_error([pop[k]], [singles[k]]) <= 1e-12


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
    Trial("schedulefree-adamw", {"lr": 0.01, "warmup_steps": 5, "weight_decay": 0.01}),
    Trial("schedulefree-adamw", {"lr": 0.01, "adam_debias": True, "r": 0.5}),
    Trial("schedulefree-sgd", {"lr": 0.2, "warmup_steps": 5, "momentum": 0.8}),
    Trial("radam", {"lr": 0.01}),
    Trial("prodigy", {"d_coef": 0.5, "weight_decay": 0.01}),
    Trial("minibatch", {"lr": 0.2}),
    Trial("lion", {"lr": 1e-3, "weight_decay": 0.1}),
    Trial("signum", {"lr": 2e-3, "momentum": 0.8}),
    Trial("cautious-adamw", {"lr": 0.01}),
    Trial("cautious-lion", {"lr": 1e-3}),
    Trial("adam", {"lr": 0.01, "cautious": True}),
    Trial("asgd", {"lr": 0.05, "t0": 10, "lambd": 0.01}),
    Trial("rprop", {"lr": 0.01}),
    Trial("adopt", {"lr": 0.01}),
    Trial("adopt", {"lr": 0.01, "clip_lambda": None, "weight_decay": 0.1, "decouple": True}),
    Trial("sparseadam", {"lr": 0.01}),  # dense gradients: every nonzero coordinate present (rules/sparse_adam.py)
    # Muon's default Newton–Schulz rounds its input to bfloat16: the last-bit differences between batched and
    # single gradients (einsum over K) flip a rounding now and then (measured 4.7e-6 after 40 steps), so these
    # trials run it in float64. The bfloat16 path is checked against single runs on identical gradients in
    # test_rule_on_population_equals_single_runs (1e-12).
    Trial("muon", {"lr": 0.02, "newton_schulz_dtype": "param"}),
    Trial("adafactor", {"lr": 0.02, "weight_decay": 0.01}),
    Trial("muon", {"lr": 0.01, "adjust_lr_fn": "match_rms_adamw", "nesterov": False, "newton_schulz_dtype": "param"}),
    Trial("prodigy", {}),  # with the row above: one group, not a slice (sums per trial over every tensor)
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
        opt = trial.preset.make(alone, **trial.overrides)
        for _ in range(steps):
            opt.zero_grad()
            _stacked_losses([p.unsqueeze(0) for p in alone], x, y).sum().backward()
            if type(opt).__name__ in SPARSE_ONLY_CLASSES:  # the class takes the same gradient in sparse layout
                for p in alone:
                    p.grad = p.grad.to_sparse() if p.grad is not None else None
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


def test_reducing_rule_sums_per_trial_only(float64_default: None) -> None:
    """Prodigy's estimate sums over every tensor of a trial and never across trials: blowing up one trial's
    gradients (by 1e6, and then to NaN) leaves the other trials' parameters and d bit-identical."""
    trials = [Trial("prodigy", {}), Trial("prodigy", {"d_coef": 2.0}), Trial("prodigy", {"lr": 0.5})]
    gen = torch.Generator().manual_seed(8)
    start = [torch.randn(3, 4, 2, generator=gen), torch.randn(3, 5, generator=gen)]
    target = [torch.randn_like(t) for t in start]
    runs = []
    for blow_up in (False, True):
        params = [t.clone() for t in start]
        pop = Population(trials, params)
        for step in range(12):
            grads = [p - t for p, t in zip(params, target, strict=True)]
            if blow_up:
                for g in grads:
                    g[1] *= 1e6 if step < 6 else math.nan
            pop.step(grads)
        runs.append((params, pop._groups[0].shared["d"].clone()))
    (quiet, d_quiet), (loud, d_loud) = runs
    for k in (0, 2):
        assert all(torch.equal(a[k], b[k]) for a, b in zip(quiet, loud, strict=True))
        assert torch.equal(d_quiet[k], d_loud[k])
    assert d_quiet[0] > 1e-6 and not torch.equal(d_quiet[1], d_loud[1])
