"""optimlab's rules against independent NumPy transcriptions of each paper's algorithm box
(``tests/reference_numpy.py``), through the drop-in classes and through the rules directly, in float64."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch

from cases import CLASS_NAMES, SPARSE_ONLY_CLASSES, Case
from reference_numpy import masked, run, run_with_states

STEPS = 120
TOL = 1e-10

_A = np.array([[1.0, 3.0, 0.5], [2.0, 0.2, 5.0]])
_C = np.array([[1.0, -2.0, 0.5], [0.3, 3.0, -1.0]])
X0 = np.array([[0.5, 0.1, -1.2], [2.0, -0.7, 0.0]])


def grad_fn(x: np.ndarray) -> np.ndarray:
    """Gradient of Σ aᵢ(xᵢ − cᵢ)²/2 + 0.3·Σ sin(2xᵢ): an anisotropic bowl with ripples (non-convex)."""
    return _A * (x - _C) + 0.6 * np.cos(2.0 * x)


@dataclass(frozen=True)
class PaperCase:
    case: Case
    algorithm: str
    hp: dict[str, Any]
    group: dict[str, Any] = field(default_factory=dict)
    """Parameter-group keys the class takes besides its constructor arguments (Muon's newton_schulz_dtype)."""

    @property
    def id(self) -> str:
        return f"{self.case.id}=={self.algorithm}"


PAPER_CASES = [
    PaperCase(Case("SGD", {"lr": 0.05}), "gd", {"lr": 0.05}),
    PaperCase(Case("SGD", {"lr": 0.05, "weight_decay": 0.1}), "gd", {"lr": 0.05, "weight_decay": 0.1}),
    PaperCase(Case("SGD", {"lr": 0.03, "momentum": 0.9}), "heavy_ball", {"lr": 0.03, "momentum": 0.9}),
    PaperCase(Case("SGD", {"lr": 0.03, "momentum": 0.8, "nesterov": True}), "nesterov",
              {"lr": 0.03, "momentum": 0.8}),
    PaperCase(Case("Momentum", {"lr": 0.02}), "heavy_ball", {"lr": 0.02, "momentum": 0.9}),
    PaperCase(Case("Momentum", {"lr": 0.02, "weight_decay": 0.05}), "heavy_ball",
              {"lr": 0.02, "momentum": 0.9, "weight_decay": 0.05}),
    PaperCase(Case("Nesterov", {"lr": 0.02}), "nesterov", {"lr": 0.02, "momentum": 0.9}),
    PaperCase(Case("Adagrad", {"lr": 0.5}), "adagrad", {"lr": 0.5, "eps": 1e-10}),
    PaperCase(Case("Adagrad", {"lr": 0.5, "initial_accumulator_value": 0.1, "eps": 1e-6, "weight_decay": 0.02}),
              "adagrad", {"lr": 0.5, "initial_accumulator_value": 0.1, "eps": 1e-6, "weight_decay": 0.02}),
    PaperCase(Case("RMSprop", {"lr": 0.01, "alpha": 0.9}), "rmsprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-8}),
    PaperCase(Case("RMSprop", {"lr": 0.01, "momentum": 0.9, "eps": 1e-6}), "rmsprop_momentum",
              {"lr": 0.01, "alpha": 0.99, "eps": 1e-6, "momentum": 0.9}),
    # Graves 2013 puts ε inside the root; torch.optim (and optimlab) add it outside: eps_inside=False.
    PaperCase(Case("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "alpha": 0.95}), "rmsprop_centered",
              {"lr": 0.01, "alpha": 0.95, "eps": 1e-8, "momentum": 0.5, "eps_inside": False}),
    PaperCase(Case("RMSprop", {"lr": 0.01, "centered": True}), "rmsprop_centered",
              {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "eps_inside": False}),
    # lr = 1 (the default) is Zeiler's Algorithm 1 exactly.
    PaperCase(Case("Adadelta", {}), "adadelta", {"rho": 0.9, "eps": 1e-6}),
    PaperCase(Case("Adadelta", {"rho": 0.95, "eps": 1e-5, "weight_decay": 0.01}), "adadelta",
              {"rho": 0.95, "eps": 1e-5, "weight_decay": 0.01}),
    PaperCase(Case("Adam", {"lr": 0.05}), "adam", {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
    # (β₁ = 0.5 with this decay makes the run chaotic near the optimum: rounding then grows to 1e-5 by step
    # 120 in both directions, so the setting is kept in the well-conditioned range.)
    PaperCase(Case("Adam", {"lr": 0.05, "betas": (0.8, 0.95), "eps": 1e-3, "weight_decay": 0.1}), "adam",
              {"lr": 0.05, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3, "weight_decay": 0.1}),
    PaperCase(Case("Adam", {"lr": 0.05, "amsgrad": True}), "amsgrad",
              {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
    PaperCase(Case("AMSGrad", {"lr": 0.05, "betas": (0.8, 0.9)}), "amsgrad",
              {"lr": 0.05, "beta1": 0.8, "beta2": 0.9, "eps": 1e-8}),
    PaperCase(Case("AdamW", {"lr": 0.05, "weight_decay": 0.2}), "adamw",
              {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.2}),
    PaperCase(Case("Adam", {"lr": 0.05, "weight_decay": 0.2, "decoupled_weight_decay": True}), "adamw",
              {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.2}),
    PaperCase(Case("Adamax", {"lr": 0.05, "eps": 0.0}), "adamax", {"lr": 0.05, "beta1": 0.9, "beta2": 0.999}),
    PaperCase(Case("Adamax", {"lr": 0.05, "betas": (0.7, 0.95), "eps": 1e-4}), "adamax",
              {"lr": 0.05, "beta1": 0.7, "beta2": 0.95, "eps": 1e-4}),
    PaperCase(Case("NAdam", {"lr": 0.05}), "nadam",
              {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "momentum_decay": 4e-3}),
    PaperCase(Case("NAdam", {"lr": 0.05, "momentum_decay": 0.05, "weight_decay": 0.05}), "nadam",
              {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "momentum_decay": 0.05, "weight_decay": 0.05}),
    PaperCase(Case("RAdam", {"lr": 0.05}), "radam", {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
    # β₂ = 0.9: ρ∞ = 19, the rectified branch starts at step 6 and is exercised for most of the run.
    PaperCase(Case("RAdam", {"lr": 0.05, "betas": (0.9, 0.9), "weight_decay": 0.01}), "radam",
              {"lr": 0.05, "beta1": 0.9, "beta2": 0.9, "eps": 1e-8, "weight_decay": 0.01}),
    PaperCase(Case("Lion", {"lr": 0.02}), "lion", {"lr": 0.02, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.0}),
    PaperCase(Case("Lion", {"lr": 0.02, "betas": (0.8, 0.95), "weight_decay": 0.5}), "lion",
              {"lr": 0.02, "beta1": 0.8, "beta2": 0.95, "weight_decay": 0.5}),
    # lion-pytorch's decoupled_weight_decay: λ/η₀ with η₀ the constructor's lr (0.01/0.02 = 0.5 here).
    PaperCase(Case("Lion", {"lr": 0.02, "weight_decay": 0.01, "decoupled_weight_decay": True}), "lion",
              {"lr": 0.02, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.5}),
    PaperCase(Case("Lion", {"lr": 0.02, "cautious": True, "weight_decay": 0.3}), "cautious_lion",
              {"lr": 0.02, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.3}),
    PaperCase(Case("Signum", {"lr": 0.02}), "signum", {"lr": 0.02, "momentum": 0.9}),
    PaperCase(Case("Signum", {"lr": 0.02, "momentum": 0.0}), "signum", {"lr": 0.02, "momentum": 0.0}),
    PaperCase(Case("Signum", {"lr": 0.02, "momentum": 0.7, "weight_decay": 0.1, "weight_decouple": False}), "signum",
              {"lr": 0.02, "momentum": 0.7, "weight_decay": 0.1}),
    PaperCase(Case("Signum", {"lr": 0.02, "cautious": True}), "cautious_signum", {"lr": 0.02, "momentum": 0.9}),
    PaperCase(Case("AdamW", {"lr": 0.05, "weight_decay": 0.2, "cautious": True}), "cautious_adamw",
              {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.2}),
    PaperCase(Case("Adam", {"lr": 0.05, "weight_decay": 0.1, "cautious": True}), "cautious_adam",
              {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.1}),
    PaperCase(Case("AMSGrad", {"lr": 0.05, "cautious": True}), "cautious_amsgrad",
              {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
    PaperCase(Case("Adamax", {"lr": 0.05, "eps": 0.0, "cautious": True}), "cautious_adamax",
              {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 0.0}),
    PaperCase(Case("NAdam", {"lr": 0.05, "cautious": True, "weight_decay": 0.05}), "cautious_nadam",
              {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "momentum_decay": 4e-3, "weight_decay": 0.05}),
    # (β₂ = 0.9 with the mask is chaotic here: rounding grows tenfold every 6 steps from step 60 on, 1e-5 by
    # step 120, in both directions; β₂ = 0.95 still rectifies from step 6 on.)
    PaperCase(Case("RAdam", {"lr": 0.05, "betas": (0.9, 0.95), "cautious": True}), "cautious_radam",
              {"lr": 0.05, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8}),
    PaperCase(Case("ASGD", {"lr": 0.05}), "asgd", {"lr": 0.05, "lambd": 1e-4, "alpha": 0.75, "t0": 1e6}),
    # A large λ (the step decays within the run) and averaging from step 30 on.
    PaperCase(Case("ASGD", {"lr": 0.05, "lambd": 0.5, "alpha": 0.6, "t0": 30, "weight_decay": 0.02}), "asgd",
              {"lr": 0.05, "lambd": 0.5, "alpha": 0.6, "t0": 30, "weight_decay": 0.02}),
    # torch's form is the paper's box without weight-backtracking (see DEPARTURES for the box with it).
    PaperCase(Case("Rprop", {"lr": 0.05}), "rprop",
              {"lr": 0.05, "etaminus": 0.5, "etaplus": 1.2, "step_size_min": 1e-6, "step_size_max": 50.0}),
    PaperCase(Case("Rprop", {"lr": 0.02, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.2)}), "rprop",
              {"lr": 0.02, "etaminus": 0.3, "etaplus": 1.5, "step_size_min": 1e-3, "step_size_max": 0.2}),
    # SparseAdam on a gradient without zeros: every coordinate present, Adam with ε̂ (the masked test below).
    PaperCase(Case("SparseAdam", {"lr": 0.05}), "sparse_adam", {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
    PaperCase(Case("ADOPT", {"lr": 0.05}), "adopt", {"lr": 0.05, "beta1": 0.9, "beta2": 0.9999, "eps": 1e-6}),
    PaperCase(Case("ADOPT", {"lr": 0.05, "clip_lambda": None, "betas": (0.8, 0.99), "weight_decay": 0.05}), "adopt",
              {"lr": 0.05, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "clip": False, "weight_decay": 0.05}),
    PaperCase(Case("ADOPT", {"lr": 0.05, "weight_decay": 0.2, "decouple": True}), "adopt_decoupled",
              {"lr": 0.05, "beta1": 0.9, "beta2": 0.9999, "eps": 1e-6, "weight_decay": 0.2}),
    # Schedule-Free: the trajectory is y (the parameters while training); the average x is compared below.
    PaperCase(Case("AdamWScheduleFree", {"lr": 0.05}), "schedulefree_adamw",
              {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
    PaperCase(Case("AdamWScheduleFree", {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1,
                                         "warmup_steps": 10}), "schedulefree_adamw",
              {"lr": 0.05, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.1, "warmup_steps": 10}),
    PaperCase(Case("SGDScheduleFree", {"lr": 0.05}), "schedulefree_sgd", {"lr": 0.05, "momentum": 0.9}),
    PaperCase(Case("SGDScheduleFree", {"lr": 0.1, "momentum": 0.7, "weight_decay": 0.05, "warmup_steps": 15}),
              "schedulefree_sgd", {"lr": 0.1, "momentum": 0.7, "weight_decay": 0.05, "warmup_steps": 15}),
    # Muon's box in float64: torch.optim.Muon (and optimlab's default) run Newton–Schulz in bfloat16.
    PaperCase(Case("Muon", {"lr": 0.02}), "muon", {"lr": 0.02, "momentum": 0.95, "weight_decay": 0.1},
              {"newton_schulz_dtype": "param"}),
    PaperCase(Case("Muon", {"lr": 0.01, "nesterov": False, "weight_decay": 0.0, "adjust_lr_fn": "match_rms_adamw",
                            "ns_steps": 4}), "muon",
              {"lr": 0.01, "momentum": 0.95, "nesterov": False, "weight_decay": 0.0, "ns_steps": 4,
               "adjust_lr_fn": "match_rms_adamw"}, {"newton_schulz_dtype": "param"}),
    # Adafactor at torch's defaults is the paper's algorithm (ρ capped at lr = 10⁻², the paper's constant);
    # ε₁ = 10⁻³⁰ joining G² and torch's bound at machine epsilon are both far below G² here.
    PaperCase(Case("Adafactor", {}), "adafactor", {"weight_decay": 0.0}),
    PaperCase(Case("Adafactor", {"lr": 0.05, "eps": (1e-3, 1e-2), "d": 1.5, "beta2_decay": -0.6,
                                 "weight_decay": 0.1}), "adafactor",
              {"rho_max": 0.05, "eps1": 1e-3, "eps2": 1e-2, "d": 1.5, "decay": -0.6, "weight_decay": 0.1,
               "eps1_placement": "torch"}),
    PaperCase(Case("Prodigy", {}), "prodigy", {"lr": 1.0, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "d0": 1e-6}),
    # ε = 1e-3 makes the paper's dₖ·ε (not dₖ₊₁·ε) matter; coupled L2 enters r, s, m and v.
    PaperCase(Case("Prodigy", {"lr": 0.5, "betas": (0.8, 0.99), "beta3": 0.95, "eps": 1e-3, "d0": 1e-4,
                               "decouple": False, "weight_decay": 0.05}), "prodigy",
              {"lr": 0.5, "beta1": 0.8, "beta2": 0.99, "beta3": 0.95, "eps": 1e-3, "d0": 1e-4, "weight_decay": 0.05}),
    PaperCase(Case("AdEMAMix", {"lr": 0.05}), "ademamix",
              {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "beta3": 0.9999, "alpha": 5.0, "warmup": 0, "eps": 1e-8,
               "weight_decay": 0.0}),
    # Warm-ups ending at step 60 of 120, decoupled decay (the paper's λ inside the step, the default).
    PaperCase(Case("AdEMAMix", {"lr": 0.02, "betas": (0.8, 0.99, 0.999), "alpha": 3.0, "t_alpha_beta3": 60,
                                "weight_decay": 0.1, "eps": 1e-6}), "ademamix",
              {"lr": 0.02, "beta1": 0.8, "beta2": 0.99, "beta3": 0.999, "alpha": 3.0, "warmup": 60, "eps": 1e-6,
               "weight_decay": 0.1}),
    # SOAP with the default QR precision (float64 here); X0 is a 2x3 matrix: both sides rotate. The right statistic
    # of one 2x3 gradient has rank 2: at step 2 the second moment of its null direction is rounding noise (~1e-35)
    # and the step there is noise/ε. ε = 1e-4 keeps that below 1e-13 (with 1e-8 the two float64 computations,
    # equal up to rounding, drift apart to 1e-9 over 120 steps).
    PaperCase(Case("SOAP", {"lr": 0.02, "precondition_frequency": 3, "eps": 1e-4}), "soap",
              {"lr": 0.02, "beta1": 0.95, "beta2": 0.95, "shampoo_beta": 0.95, "eps": 1e-4, "weight_decay": 1e-2,
               "frequency": 3}),
    PaperCase(Case("SOAP", {"lr": 0.05, "betas": (0.9, 0.99), "shampoo_beta": 0.8, "weight_decay": 0.0,
                            "eps": 1e-4}), "soap",
              {"lr": 0.05, "beta1": 0.9, "beta2": 0.99, "shampoo_beta": 0.8, "eps": 1e-4, "weight_decay": 0.0,
               "frequency": 10}),
]


def test_every_class_has_a_paper_case() -> None:
    assert {pc.case.cls for pc in PAPER_CASES} == set(CLASS_NAMES)


def _via_class(case: Case, steps: int, group: dict[str, Any], grad: Any = grad_fn) -> np.ndarray:
    p = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
    opt = case.make([{"params": [p], **group}])
    out = [X0.copy()]
    for _ in range(steps):
        g = torch.from_numpy(grad(p.detach().numpy().copy()))
        p.grad = g.to_sparse() if case.cls in SPARSE_ONLY_CLASSES else g  # to_sparse keeps the nonzeros
        opt.step()
        out.append(p.detach().numpy().copy())
    return np.stack(out)


def _via_rule(case: Case, steps: int, group: dict[str, Any] | None = None, grad: Any = grad_fn) -> np.ndarray:
    probe = case.make([{"params": [torch.zeros(1, requires_grad=True)], **(group or {})}])
    hp = probe.group_values(probe.param_groups[0])
    rule = case.optimlab_class().rule
    p = torch.tensor(X0, dtype=torch.float64)
    state = rule.init_state(p, hp)
    # Through update_group: the plain per-tensor update, or partial/combine/update for a rule with group state.
    shared = rule.init_shared(hp, torch.zeros((), dtype=torch.float64)) if rule.shared_state else {}
    merged = {**hp, **shared}
    out = [X0.copy()]
    for t in range(1, steps + 1):
        g = torch.from_numpy(grad(p.numpy().copy()))
        rule.update_group([p], [g], [state], [merged], [t], shared, merged)
        out.append(p.numpy().copy())
    return np.stack(out)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


@pytest.mark.parametrize("pc", PAPER_CASES, ids=lambda pc: pc.id)
@pytest.mark.parametrize("path", ["class", "rule"])
def test_rule_matches_paper_transcription(pc: PaperCase, path: str, float64_default: None,
                                          record_error: Any) -> None:
    ours = (_via_class if path == "class" else _via_rule)(pc.case, STEPS, pc.group)
    paper = run(pc.algorithm, pc.hp, grad_fn, X0, STEPS)
    err = _rel(ours, paper)
    record_error("optimlab vs paper transcription, trajectory (relative)", err)
    assert err <= TOL, f"{pc.id} ({path}): relative trajectory error {err:.3e}"
    assert _rel(paper[-1:], paper[:1]) > 1e-3, "the trajectory must move"


@pytest.mark.parametrize("path", ["class", "rule"])
def test_sparse_adam_updates_only_present_coordinates(path: str, float64_default: None, record_error: Any) -> None:
    """Lazy Adam on a gradient whose coordinates are absent at random: the class (sparse layout) and the rule (its
    dense reading, g ≠ 0) follow the transcription; absent coordinates keep x, m and v."""
    case = Case("SparseAdam", {"lr": 0.05, "betas": (0.8, 0.99)})
    hp = {"lr": 0.05, "beta1": 0.8, "beta2": 0.99, "eps": 1e-8}
    ours = (_via_class if path == "class" else _via_rule)(case, STEPS, {}, grad=masked(grad_fn))
    paper = run("sparse_adam", hp, masked(grad_fn), X0, STEPS)
    err = _rel(ours, paper)
    record_error("optimlab vs paper transcription, trajectory (relative)", err)
    assert err <= TOL, f"SparseAdam ({path}): relative trajectory error {err:.3e}"
    assert _rel(run("adam", hp, masked(grad_fn), X0, STEPS), paper) > 1e-3  # laziness is visible


DEPARTURES = [
    # (optimlab case, paper algorithm and hp that differ from it on purpose, as the rules' docstrings say)
    PaperCase(Case("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "eps": 1e-2}), "rmsprop_centered",
              {"lr": 0.01, "alpha": 0.99, "eps": 1e-2, "momentum": 0.5, "eps_inside": True}),
    PaperCase(Case("AMSGrad", {"lr": 0.05}), "amsgrad_paper", {"lr": 0.05, "beta1": 0.9, "beta2": 0.999,
                                                                 "eps": 1e-8}),
    PaperCase(Case("NAdam", {"lr": 0.05}), "nadam",
              {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "momentum_decay": 4e-3,
               "scheduled_moment": True}),
    PaperCase(Case("RAdam", {"lr": 0.05, "betas": (0.9, 0.9)}), "radam",
              {"lr": 0.05, "beta1": 0.9, "beta2": 0.9, "eps": 1e-8, "threshold": 4.0}),
    PaperCase(Case("Adadelta", {"lr": 0.5}), "adadelta", {"rho": 0.9, "eps": 1e-6}),
    PaperCase(Case("SGD", {"lr": 0.03, "momentum": 0.9, "dampening": 0.5}), "heavy_ball",
              {"lr": 0.03, "momentum": 0.9}),
    # The cautious mask really changes the trajectory (so the rows above test it).
    PaperCase(Case("AdamW", {"lr": 0.05, "weight_decay": 0.2, "cautious": True}), "adamw",
              {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.2}),
    PaperCase(Case("Lion", {"lr": 0.02, "cautious": True}), "lion",
              {"lr": 0.02, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.0}),
    # Riedmiller & Braun revert the last step after a sign change; torch's form (and optimlab's) does not.
    PaperCase(Case("Rprop", {"lr": 0.05}), "rprop",
              {"lr": 0.05, "etaminus": 0.5, "etaplus": 1.2, "step_size_min": 1e-6, "step_size_max": 50.0,
               "backtracking": True}),
    # schedulefree 1.4.1's default: Adam's bias correction inside the root instead of in the step size γₜ.
    PaperCase(Case("AdamWScheduleFree", {"lr": 0.05, "adam_debias": True}), "schedulefree_adamw",
              {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
    # Muon's default: Newton–Schulz in bfloat16 (torch.optim.Muon), not the box's exact arithmetic.
    PaperCase(Case("Muon", {"lr": 0.02}), "muon", {"lr": 0.02, "momentum": 0.95, "weight_decay": 0.1}),
    # Adafactor's ε₁ bounds the denominators (torch) instead of joining G² (the paper): visible at ε₁ = 10⁻².
    PaperCase(Case("Adafactor", {"eps": (1e-2, 1e-3)}), "adafactor", {"eps1": 1e-2, "weight_decay": 0.0}),
    # prodigyopt's dₖ₊₁ in the ε term (the option that reproduces it).
    PaperCase(Case("Prodigy", {"lr": 0.5, "eps": 1e-3, "d0": 1e-4, "step_with_new_d": True}), "prodigy",
              {"lr": 0.5, "beta1": 0.9, "beta2": 0.999, "eps": 1e-3, "d0": 1e-4}),
    # AdEMAMix with pytorch_optimizer's coupled L2 instead of the paper's decoupled decay.
    PaperCase(Case("AdEMAMix", {"lr": 0.05, "weight_decay": 0.5, "weight_decouple": False}), "ademamix",
              {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "beta3": 0.9999, "alpha": 5.0, "warmup": 0, "eps": 1e-8,
               "weight_decay": 0.5}),
]


@pytest.mark.parametrize("pc", DEPARTURES, ids=lambda pc: pc.id)
def test_documented_departures_are_visible(pc: PaperCase, float64_default: None) -> None:
    """Where optimlab follows torch.optim rather than the box, the comparison above would notice."""
    assert _rel(_via_rule(pc.case, STEPS), run(pc.algorithm, pc.hp, grad_fn, X0, STEPS)) > 1e-6


@pytest.mark.parametrize("t0", [0, 30])
def test_asgd_average_matches_paper_transcription(t0: int, float64_default: None) -> None:
    """The averaged iterate ``state["ax"]`` (what Polyak–Juditsky's theorem is about) equals the transcription's
    average at every step, and equals torch.optim.ASGD's."""
    hp = {"lr": 0.05, "lambd": 0.5, "alpha": 0.6, "t0": t0}
    _, states = run_with_states("asgd", hp, grad_fn, X0, STEPS)
    p = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
    q = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
    opt = Case("ASGD", hp).make([p])
    ref = torch.optim.ASGD([q], **hp)
    for t in range(STEPS):
        p.grad = torch.from_numpy(grad_fn(p.detach().numpy().copy()))
        q.grad = torch.from_numpy(grad_fn(q.detach().numpy().copy()))
        opt.step()
        ref.step()
        ax = opt.state[p]["ax"].numpy()
        assert _rel(ax, states[t]["average"]) <= TOL
        assert _rel(ax, ref.state[q]["ax"].numpy()) <= TOL
    assert _rel(states[-1]["average"], p.detach().numpy()) > 1e-6  # the average is not the last iterate
@pytest.mark.parametrize("pc", [pc for pc in PAPER_CASES if hasattr(pc.case.optimlab_class(), "eval")],
                         ids=lambda pc: pc.id)
def test_evaluation_point_is_the_papers_average(pc: PaperCase, float64_default: None, record_error: Any) -> None:
    """After ``eval()`` the parameters are the box's x (its weighted average), not y, the gradient point."""
    p = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
    opt = pc.case.make([p])
    for _ in range(STEPS):
        p.grad = torch.from_numpy(grad_fn(p.detach().numpy().copy()))
        opt.step()
    y = p.detach().numpy().copy()
    opt.eval()  # type: ignore[attr-defined]
    _, states = run_with_states(pc.algorithm, pc.hp, grad_fn, X0, STEPS)
    err = _rel(p.detach().numpy(), states[-1]["x"])
    record_error("optimlab vs paper transcription, evaluation point x (relative)", err)
    assert err <= TOL, f"{pc.id}: relative error {err:.3e} at the evaluation point"
    assert _rel(y, states[-1]["x"]) > 1e-6, "x must differ from y for this to test anything"
