"""optimlab's rules against independent NumPy transcriptions of each paper's algorithm box
(``tests/reference_numpy.py``), through the drop-in classes and through the rules directly, in float64."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

from cases import CLASS_NAMES, Case
from reference_numpy import run

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


def _via_class(case: Case, steps: int) -> np.ndarray:
    p = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
    opt = case.make([p])
    out = [X0.copy()]
    for _ in range(steps):
        p.grad = torch.from_numpy(grad_fn(p.detach().numpy().copy()))
        opt.step()
        out.append(p.detach().numpy().copy())
    return np.stack(out)


def _via_rule(case: Case, steps: int) -> np.ndarray:
    probe = case.make([torch.zeros(1, requires_grad=True)])
    hp = probe.hypers(probe.param_groups[0])
    rule = case.optimlab_class().rule
    p = torch.tensor(X0, dtype=torch.float64)
    state = rule.init_state(p, hp)
    out = [X0.copy()]
    for t in range(1, steps + 1):
        rule.update(p, torch.from_numpy(grad_fn(p.numpy().copy())), state, hp, t)
        out.append(p.numpy().copy())
    return np.stack(out)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


@pytest.mark.parametrize("pc", PAPER_CASES, ids=lambda pc: pc.id)
@pytest.mark.parametrize("path", ["class", "rule"])
def test_rule_matches_paper_transcription(pc: PaperCase, path: str, float64_default: None,
                                          record_error: Any) -> None:
    ours = (_via_class if path == "class" else _via_rule)(pc.case, STEPS)
    paper = run(pc.algorithm, pc.hp, grad_fn, X0, STEPS)
    err = _rel(ours, paper)
    record_error("optimlab vs paper transcription, trajectory (relative)", err)
    assert err <= TOL, f"{pc.id} ({path}): relative trajectory error {err:.3e}"
    assert _rel(paper[-1:], paper[:1]) > 1e-3, "the trajectory must move"


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
    # AdEMAMix with pytorch_optimizer's coupled L2 instead of the paper's decoupled decay.
    PaperCase(Case("AdEMAMix", {"lr": 0.05, "weight_decay": 0.5, "weight_decouple": False}), "ademamix",
              {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "beta3": 0.9999, "alpha": 5.0, "warmup": 0, "eps": 1e-8,
               "weight_decay": 0.5}),
]


@pytest.mark.parametrize("pc", DEPARTURES, ids=lambda pc: pc.id)
def test_documented_departures_are_visible(pc: PaperCase, float64_default: None) -> None:
    """Where optimlab follows torch.optim rather than the box, the comparison above would notice."""
    assert _rel(_via_rule(pc.case, STEPS), run(pc.algorithm, pc.hp, grad_fn, X0, STEPS)) > 1e-6
