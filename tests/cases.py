"""The table of optimizer cases that drives the optimizer-core test suite.

One row per (drop-in class, hyperparameter setting). Every preset of :data:`optimlab.registry.PRESETS` must
be covered by a row that names it (``test_every_preset_has_a_case`` fails otherwise), and every class of
:mod:`optimlab.optim` must have rows. ``torch_equivalent`` says which ``torch.optim`` class and arguments
compute the same thing, for the classes torch lacks (``Momentum``, ``Nesterov``, ``AMSGrad``).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
from dataclasses import dataclass, field
from typing import Any

import torch

from optimlab import optim

# The classes torch.optim lacks, and the torch class + fixed arguments each one is.
TORCH_EQUIVALENT: dict[str, tuple[str, dict[str, Any]]] = {
    "Momentum": ("SGD", {"momentum": 0.9}),
    "Nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "AMSGrad": ("Adam", {"amsgrad": True}),
}

CLASS_NAMES: tuple[str, ...] = tuple(n for n in optim.__all__ if n != "RuleOptimizer")
"""Every drop-in optimizer class optimlab exports."""

TORCH_CLASS_NAMES: tuple[str, ...] = tuple(
    n for n in CLASS_NAMES if n not in TORCH_EQUIVALENT and hasattr(torch.optim, n)
)
"""The classes that have a ``torch.optim`` namesake."""

OPTIMLAB_EXTRAS: dict[str, tuple[str, ...]] = {
    name: ("cautious",) for name in ("Adam", "AdamW", "Adamax", "NAdam", "RAdam")
}
"""Keyword-only arguments an optimlab class takes after all of its torch namesake's (the only allowed difference
in the constructor signature; the README lists them)."""


@dataclass(frozen=True)
class Reference:
    """A trusted implementation to test a class against: ``module.cls`` called with the case's arguments,
    renamed by ``rename`` (optimlab name -> reference name), without the ``ignore``d ones (optimlab arguments
    that select the variant the reference is), plus ``fixed`` arguments."""

    module: str
    cls: str
    fixed: dict[str, Any] = field(default_factory=dict)
    rename: dict[str, str] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()
    """optimlab-only arguments the reference does not take (a row sets them to reproduce the reference)."""
    setup: tuple[str, ...] = ()
    """Methods called on the reference right after construction (schedulefree's ``train()``)."""
    evaluation: str | None = None
    """The method of the reference, and of the optimlab class, that moves the parameters to the point to
    evaluate (schedulefree's ``eval()``); the tests compare both sides there too."""
    equal_lrs: bool = False
    """The reference refuses parameter groups with different nonzero learning rates (prodigyopt)."""

    @property
    def is_torch(self) -> bool:
        return self.module == "torch.optim"

    def load(self) -> type[torch.optim.Optimizer]:
        """The reference class (an ImportError here means ``.ci/run`` lacks a test dependency)."""
        cls: type[torch.optim.Optimizer] = getattr(importlib.import_module(self.module), self.cls)
        return cls

    def make(self, params: Any, kwargs: dict[str, Any]) -> torch.optim.Optimizer:
        args = {self.rename.get(k, k): v for k, v in kwargs.items() if k not in self.ignore}
        opt = self.load()(params, **{**self.fixed, **args})
        for method in self.setup:
            getattr(opt, method)()
        return opt


REFERENCES: dict[str, Reference] = {
    **{n: Reference("torch.optim", n) for n in TORCH_CLASS_NAMES},
    **{n: Reference("torch.optim", cls, fixed) for n, (cls, fixed) in TORCH_EQUIVALENT.items()},
    # Classes whose reference is another library (test-only dependencies installed by .ci/run) go here.
    "Lion": Reference("lion_pytorch", "Lion"),
    "Signum": Reference("pytorch_optimizer", "SignSGD"),
    "ADOPT": Reference("adopt", "ADOPT"),  # torch-adopt 0.1.0 (import name ``adopt``), the authors' package
    # schedulefree 1.4.1: its optimizers start in eval mode and refuse to step there, hence setup=("train",).
    # AdamWScheduleFreePaper is the paper's Algorithm 1 (optimlab's default, adam_debias=False); rows with
    # adam_debias=True name SF_ADAMW_REFERENCE, the package's readable form of its own default.
    "AdamWScheduleFree": Reference(
        "schedulefree", "AdamWScheduleFreePaper", {"foreach": False}, setup=("train",), evaluation="eval"
    ),
    "SGDScheduleFree": Reference("schedulefree", "SGDScheduleFreeReference", setup=("train",), evaluation="eval"),
    "Prodigy": Reference("prodigyopt", "Prodigy", ignore=("step_with_new_d",), equal_lrs=True),
    # AdEMAMix: the paper decays decoupled (our default); pytorch_optimizer's default is L2, so pin it.
    "AdEMAMix": Reference("pytorch_optimizer", "AdEMAMix", fixed={"weight_decouple": True}),
    # SOAP: pytorch_optimizer ignores the unknown float32_qr keyword (its **kwargs); rows matching it set it True.
    "SOAP": Reference("pytorch_optimizer", "SOAP"),
}
"""The default reference of every class that has one; a :class:`Case` may name its own."""

SF_ADAMW_REFERENCE = Reference(
    "schedulefree", "AdamWScheduleFreeReference", ignore=("adam_debias",), setup=("train",), evaluation="eval"
)


@dataclass(frozen=True)
class Case:
    """One optimizer setting: ``cls`` names an :mod:`optimlab.optim` class, ``kwargs`` its arguments."""

    cls: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    preset: str | None = None
    """The registry preset this row stands for (its class and settings must match)."""
    reference: Reference | None = None
    """The implementation this row is checked against; ``None``: the class's entry in :data:`REFERENCES`."""
    unreferenced: bool = False
    """No trusted implementation has this setting, or the row departs from the reference on purpose (a
    paper-following default): only the paper transcription (tests/test_rules_vs_paper.py) checks it."""
    second_group: dict[str, Any] | None = None
    """The second parameter group's own settings in :func:`param_groups` (``None``: lr 0.4 times the first's)."""
    sensitive: str = ""
    """Why this row's run amplifies last-bit rounding differences (empty: it does not). Such rows still match a
    reference that computes bit for bit the same, but comparisons between two computations that round
    differently (the compiled path against the eager loop) leave them out."""

    @property
    def id(self) -> str:
        args = ",".join(f"{k}={_short(v)}" for k, v in self.kwargs.items())
        return f"{self.cls}({args})"

    def optimlab_class(self) -> type[optim.RuleOptimizer]:
        cls: type[optim.RuleOptimizer] = getattr(optim, self.cls)
        return cls

    def make(self, params: Any, **extra: Any) -> optim.RuleOptimizer:
        return self.optimlab_class()(params, **{**self.kwargs, **extra})

    def reference_impl(self) -> Reference | None:
        """The trusted implementation of this row, or ``None`` when only the paper transcription checks it."""
        if self.unreferenced:
            return None
        return self.reference or REFERENCES.get(self.cls)

    def make_reference(self, params: Any, **extra: Any) -> torch.optim.Optimizer:
        ref = self.reference_impl()
        assert ref is not None, f"{self.id} has no reference implementation"
        return ref.make(params, {**self.kwargs, **extra})

    def torch_class_and_kwargs(self) -> tuple[type[torch.optim.Optimizer], dict[str, Any]]:
        ref = self.reference_impl()
        assert ref is not None and ref.is_torch, f"{self.id} has no torch.optim reference"
        return ref.load(), {**ref.fixed, **self.kwargs}

    def make_torch(self, params: Any, **extra: Any) -> torch.optim.Optimizer:
        cls, kwargs = self.torch_class_and_kwargs()
        return cls(params, **{**kwargs, **extra})

    @property
    def has_momentum(self) -> bool:
        """Whether the class has a momentum-like group entry a scheduler can cycle (``momentum`` or ``betas``)."""
        defaults = self.optimlab_class()([torch.zeros(1, requires_grad=True)]).defaults
        return "momentum" in defaults or "betas" in defaults

    def with_kwargs(self, **extra: Any) -> Case:
        return dataclasses.replace(self, kwargs={**self.kwargs, **extra})


def _short(v: Any) -> str:
    if isinstance(v, tuple):
        return "(" + ",".join(_short(x) for x in v) + ")"
    return f"{v:g}" if isinstance(v, float) else str(v)


# pytorch-optimizer 4.1.0: AdEMAMix with alpha = 0 adds 0·(slow momentum) and is Adam/AdamW; with cautious=True
# it masks mₜ with its apply_cautious (the paper's φ and d/(‖φ‖₀ + 1)). Rows using it must not set ``betas``
# (AdEMAMix takes three).
_ADEMAMIX_AS_ADAM = {"alpha": 0.0, "betas": (0.9, 0.999, 0.9999)}
CAUTIOUS_ADAMW = Reference("pytorch_optimizer", "AdEMAMix", {**_ADEMAMIX_AS_ADAM, "weight_decouple": True,
                                                             "weight_decay": 1e-2})
CAUTIOUS_ADAM = Reference("pytorch_optimizer", "AdEMAMix", {**_ADEMAMIX_AS_ADAM, "weight_decouple": False})
CAUTIOUS_LION = Reference("pytorch_optimizer", "Lion")
_SOAP_SENSITIVE = (
    "both sides of non-square weights rotate: the larger side's statistic (W1 8x5: left 8x8, W2 3x8: right 8x8) "
    "has rank <= 5 from few, nearly collinear gradients (the parameters barely move); its refreshed eigenvectors "
    "in the near-null subspace turn last-bit differences into 1e-12 changes of Q, and where G' is as small as "
    "eps into 3e-3 changes of the parameters after 6 steps (measured, compiled against eager)"
)


CASES: tuple[Case, ...] = (
    # SGD: gd / sgd / minibatch are one rule with three batch policies.
    Case("SGD", {"lr": 0.05}, preset="gd"),
    Case("SGD", {"lr": 0.05, "weight_decay": 1e-2}, preset="sgd"),
    Case("SGD", {"lr": 0.03, "maximize": True}, preset="minibatch"),
    Case("SGD", {"lr": 0.05, "momentum": 0.9}, preset="momentum"),
    Case("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, preset="nesterov"),
    Case("SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 1e-2}),
    Case("SGD", {"lr": 0.04, "momentum": 0.7, "nesterov": True, "weight_decay": 1e-3}),
    Case("Momentum", {"lr": 0.05}),
    Case("Momentum", {"lr": 0.05, "momentum": 0.5, "dampening": 0.1, "weight_decay": 1e-2}),
    Case("Nesterov", {"lr": 0.05}),
    Case("Nesterov", {"lr": 0.05, "momentum": 0.6, "weight_decay": 1e-2, "maximize": True}),
    Case("Adagrad", {"lr": 0.05}, preset="adagrad"),
    Case("Adagrad", {"lr": 0.1, "lr_decay": 1e-2, "weight_decay": 1e-2, "initial_accumulator_value": 0.1, "eps": 1e-8}),
    Case("Adagrad", {"lr": 0.05, "maximize": True, "initial_accumulator_value": 0.5}),
    Case("RMSprop", {"lr": 1e-3}, preset="rmsprop"),
    Case("RMSprop", {"lr": 1e-3, "centered": True, "alpha": 0.9}),
    Case("RMSprop", {"lr": 1e-3, "momentum": 0.9, "weight_decay": 1e-2, "eps": 1e-6}),
    Case("RMSprop", {"lr": 1e-3, "momentum": 0.5, "centered": True, "maximize": True}),
    Case("Adadelta", {}, preset="adadelta"),
    Case("Adadelta", {"lr": 0.5, "rho": 0.95, "eps": 1e-5, "weight_decay": 1e-2}),
    Case("Adadelta", {"lr": 0.7, "maximize": True}),
    Case("Adam", {"lr": 1e-2}, preset="adam"),
    Case("Adam", {"lr": 1e-2, "amsgrad": True}, preset="amsgrad"),
    Case("Adam", {"lr": 1e-2, "amsgrad": True, "weight_decay": 1e-2}),
    Case("Adam", {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    Case("Adam", {"lr": 5e-3, "betas": (0.8, 0.99), "eps": 1e-6, "maximize": True}),
    Case("AdamW", {"lr": 1e-2}, preset="adamw"),
    Case("AdamW", {"lr": 1e-2, "amsgrad": True, "weight_decay": 0.1, "betas": (0.85, 0.995)}),
    Case("AMSGrad", {"lr": 1e-2}),
    Case("AMSGrad", {"lr": 1e-2, "weight_decay": 0.05, "decoupled_weight_decay": True}),
    Case("Adamax", {"lr": 1e-2}, preset="adamax"),
    Case("Adamax", {"lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 1e-2}),
    Case("NAdam", {"lr": 1e-2}, preset="nadam"),
    Case("NAdam", {"lr": 1e-2, "momentum_decay": 1e-2, "weight_decay": 1e-2}),
    Case("NAdam", {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
    Case("RAdam", {"lr": 1e-2}, preset="radam"),
    Case("RAdam", {"lr": 1e-2, "betas": (0.9, 0.9), "weight_decay": 1e-2}),
    Case("RAdam", {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    # Lion: lion-pytorch for the plain form, pytorch-optimizer's Lion for cautious and maximize (lion-pytorch has
    # neither); decoupled_weight_decay is lion-pytorch's λ/η₀ option.
    Case("Lion", {"lr": 1e-3}, preset="lion"),
    Case("Lion", {"lr": 1e-3, "betas": (0.95, 0.98), "weight_decay": 0.1}),
    Case("Lion", {"lr": 1e-3, "weight_decay": 1e-4, "decoupled_weight_decay": True}),
    Case("Lion", {"lr": 1e-3, "cautious": True}, preset="cautious-lion", reference=CAUTIOUS_LION),
    Case("Lion", {"lr": 1e-3, "cautious": True, "weight_decay": 0.1, "maximize": True}, reference=CAUTIOUS_LION),
    # Signum: pytorch-optimizer's SignSGD (its momentum is Signum's EMA); it has no cautious option.
    Case("Signum", {"lr": 1e-3}, preset="signum"),
    Case("Signum", {"lr": 1e-3, "momentum": 0.5, "weight_decay": 0.1}),
    Case("Signum", {"lr": 1e-3, "momentum": 0.0}),
    Case("Signum", {"lr": 1e-3, "weight_decay": 0.05, "weight_decouple": False, "maximize": True}),
    Case("Signum", {"lr": 1e-3, "cautious": True, "weight_decay": 0.05}, unreferenced=True),
    # Cautious Adam family: pytorch-optimizer's AdEMAMix with α = 0 is Adam(W) with its cautious mask; no library
    # has a cautious AMSGrad, Adamax, NAdam or RAdam (the paper transcriptions check those).
    Case("AdamW", {"lr": 1e-2, "cautious": True}, preset="cautious-adamw", reference=CAUTIOUS_ADAMW),
    Case("AdamW", {"lr": 1e-2, "cautious": True, "weight_decay": 0.1, "maximize": True}, reference=CAUTIOUS_ADAMW),
    Case("Adam", {"lr": 1e-2, "cautious": True, "weight_decay": 1e-2}, reference=CAUTIOUS_ADAM),
    Case("AMSGrad", {"lr": 1e-2, "cautious": True}, unreferenced=True),
    Case("Adamax", {"lr": 1e-2, "cautious": True}, unreferenced=True),
    Case("NAdam", {"lr": 1e-2, "cautious": True, "weight_decay": 1e-2}, unreferenced=True),
    Case("RAdam", {"lr": 1e-2, "cautious": True, "betas": (0.9, 0.9)}, unreferenced=True),
    # ASGD: t0 within the run so that the average (state["ax"]) really averages; lambd large enough to matter.
    Case("ASGD", {"lr": 0.05}, preset="asgd"),
    Case("ASGD", {"lr": 0.05, "lambd": 1e-2, "alpha": 0.6, "t0": 20, "weight_decay": 1e-2}),
    Case("ASGD", {"lr": 0.05, "t0": 0, "maximize": True}),
    Case("Rprop", {"lr": 1e-2}, preset="rprop"),
    Case("Rprop", {"lr": 1e-2, "etas": (0.3, 1.5), "step_sizes": (1e-4, 0.1)}),
    Case("Rprop", {"lr": 5e-3, "maximize": True}),
    Case("ADOPT", {"lr": 1e-2}, preset="adopt"),
    Case("ADOPT", {"lr": 1e-2, "clip_lambda": None, "betas": (0.8, 0.99), "eps": 1e-4}),
    Case("ADOPT", {"lr": 1e-2, "weight_decay": 0.1, "decouple": True}),
    Case("ADOPT", {"lr": 1e-2, "weight_decay": 1e-2, "maximize": True}),
    # First (one_case_per_class: the scheduler tests) the row checked against the package's *Reference* class:
    # it keeps x, as the box does, so a scheduler cycling betas[0] moves both alike; AdamWScheduleFreePaper keeps
    # only y and z and reinterprets y when beta1 changes (optimlab recovers x with the beta y was made with).
    Case("AdamWScheduleFree", {"lr": 1e-2, "adam_debias": True}, reference=SF_ADAMW_REFERENCE),
    Case("AdamWScheduleFree", {"lr": 1e-2}, preset="schedulefree-adamw"),
    Case("AdamWScheduleFree", {"lr": 1e-2, "betas": (0.95, 0.99), "eps": 1e-6, "weight_decay": 0.05,
                               "warmup_steps": 20, "r": 1.0, "weight_lr_power": 1.0}),
    Case("AdamWScheduleFree", {"lr": 1e-2, "adam_debias": True, "weight_decay": 0.05, "warmup_steps": 20,
                               "r": 0.5}, reference=SF_ADAMW_REFERENCE),
    Case("SGDScheduleFree", {"lr": 0.5}, preset="schedulefree-sgd"),
    Case("SGDScheduleFree", {"lr": 0.5, "momentum": 0.8, "weight_decay": 1e-2, "warmup_steps": 20, "r": 0.5,
                             "weight_lr_power": 1.0}),
    # Muon: against torch.optim.Muon on the MLP's two weight matrices (MATRICES_ONLY below).
    Case("Muon", {"lr": 0.02}, preset="muon"),
    Case("Muon", {"lr": 0.02, "nesterov": False, "momentum": 0.9, "weight_decay": 0.0}),
    Case("Muon", {"lr": 0.01, "adjust_lr_fn": "match_rms_adamw", "weight_decay": 0.05}),
    Case("Muon", {"lr": 0.02, "adjust_lr_fn": "original", "ns_steps": 3, "eps": 1e-5,
                  "ns_coefficients": (1.875, -1.25, 0.375)}),  # the convergent quintic (15, −10, 3)/8
    Case("Adafactor", {}, preset="adafactor"),
    Case("Adafactor", {"lr": 0.05, "beta2_decay": -0.5, "eps": (1e-30, 1e-2), "d": 2.0, "weight_decay": 0.01}),
    Case("Adafactor", {"lr": 5e-3, "maximize": True}),
    # Prodigy: prodigyopt takes one lr for all groups (it refuses unequal nonzero ones), so its two groups differ
    # in weight decay instead. The default follows the paper's dₖ in the step's ε term; step_with_new_d=True is
    # prodigyopt's dₖ₊₁ (rules/prodigy.py), so the rows checked against prodigyopt set it.
    Case("Prodigy", {}, preset="prodigy", unreferenced=True, second_group={"weight_decay": 0.05}),
    Case("Prodigy", {"step_with_new_d": True}, second_group={"weight_decay": 0.05}),
    Case("Prodigy", {"step_with_new_d": True, "use_bias_correction": True, "safeguard_warmup": True,
                     "betas": (0.9, 0.99)}, second_group={"weight_decay": 0.02}),
    Case("Prodigy", {"step_with_new_d": True, "decouple": False, "weight_decay": 0.01, "betas": (0.0, 0.99),
                     "eps": 1e-6}, second_group={"eps": 1e-7}),
    Case("Prodigy", {"step_with_new_d": True, "growth_rate": 1.05, "d_coef": 0.5, "beta3": 0.9, "d0": 1e-5},
         second_group={"lr": 0.0}),
    Case("Prodigy", {"maximize": True, "weight_decay": 0.01}, unreferenced=True),
    Case("AdEMAMix", {"lr": 1e-2}, preset="ademamix"),
    Case("AdEMAMix", {"lr": 1e-2, "t_alpha_beta3": 120, "weight_decay": 0.1}),
    Case("AdEMAMix", {"lr": 1e-2, "t_alpha_beta3": 50, "weight_decay": 1e-2, "weight_decouple": False,
                      "betas": (0.8, 0.99, 0.999), "alpha": 2.0, "eps": 1e-6, "maximize": True}),
    Case("AdEMAMix", {"lr": 5e-3, "weight_decay": 0.1, "fixed_decay": True, "t_alpha_beta3": 10}),
    # SOAP: pytorch_optimizer runs the refresh's QR in float32, optimlab by default in the parameter's precision;
    # float32_qr=True reproduces it (bit for bit here). The default's rows are checked by the paper transcription.
    Case("SOAP", {"lr": 1e-2, "float32_qr": True}, preset="soap"),
    Case("SOAP", {"lr": 1e-2, "float32_qr": True, "precondition_frequency": 3, "precondition_1d": True,
                  "shampoo_beta": 0.9, "betas": (0.9, 0.99)}),
    Case("SOAP", {"lr": 1e-2, "float32_qr": True, "precondition_frequency": 2, "normalize_gradient": True,
                  "max_precondition_dim": 5, "weight_decay": 0.0, "eps": 1e-6, "maximize": True}),
    Case("SOAP", {"lr": 5e-3, "float32_qr": True, "correct_bias": False, "weight_decay": 0.1}),
    # Refreshes in float64, rotating only the sides whose statistics have full rank from the first gradient on
    # (W1 8x5: the right, W2 3x8: the left); the next row rotates both and is sensitive (see _SOAP_SENSITIVE).
    Case("SOAP", {"lr": 1e-2, "precondition_frequency": 2, "max_precondition_dim": 5, "normalize_gradient": True},
         unreferenced=True),
    Case("SOAP", {"lr": 1e-2, "precondition_frequency": 2}, unreferenced=True, sensitive=_SOAP_SENSITIVE),
)
"""Every case; each hyperparameter flag appears in at least one row."""

SPARSE_ONLY_CASES: tuple[Case, ...] = (
    Case("SparseAdam", {}, preset="sparseadam"),
    Case("SparseAdam", {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6, "maximize": True}),
)
"""The rows of the classes that refuse dense gradients (SparseAdam, as torch.optim.SparseAdam does). This is the
one place that keeps them out of the suites that train the MLP, whose gradients are dense: they are not in
:data:`CASES`. tests/test_optim_vs_torch.py runs them against torch on ``nn.Embedding(sparse=True)`` (trajectory,
state_dict cross-over and round trip); the rule's dense reading (update where g != 0) is checked by the
population and paper tests."""

SPARSE_ONLY_CLASSES: frozenset[str] = frozenset(c.cls for c in SPARSE_ONLY_CASES)
"""The classes that take sparse gradients only (a test that feeds one a gradient gives it ``g.to_sparse()``)."""

ALL_CASES: tuple[Case, ...] = CASES + SPARSE_ONLY_CASES
"""Every row, for the coverage checks (every preset, class, flag and rule has one)."""

TORCH_CASES: tuple[Case, ...] = tuple(c for c in CASES if (ref := c.reference_impl()) is not None and ref.is_torch)
"""The cases whose reference is ``torch.optim`` (state_dicts, defaults and schedulers cross over)."""


def one_case_per_class() -> tuple[Case, ...]:
    """The first case of every class (for tests that are expensive per case)."""
    seen: dict[str, Case] = {}
    for case in CASES:
        seen.setdefault(case.cls, case)
    return tuple(seen.values())


# ---------------------------------------------------------------------------------------------------------------
# Valid ranges of every numeric constructor argument, written out independently of the rules' declarations
# (torch.optim's own checks, tightened where optimlab documents it: RMSprop's alpha is an average, so <= 1).
# (low, high, low_open, high_open); None = unbounded.
Range = tuple[float | None, float | None, bool, bool]
GE0: Range = (0.0, None, False, False)
UNIT_CLOSED: Range = (0.0, 1.0, False, False)
UNIT_HALF_OPEN: Range = (0.0, 1.0, False, True)

VALID_RANGES: dict[str, dict[str, Range]] = {
    "SGD": {"lr": GE0, "momentum": GE0, "dampening": UNIT_CLOSED, "weight_decay": GE0},
    "Adagrad": {"lr": GE0, "lr_decay": GE0, "weight_decay": GE0, "initial_accumulator_value": GE0, "eps": GE0},
    "RMSprop": {"lr": GE0, "alpha": UNIT_CLOSED, "eps": GE0, "weight_decay": GE0, "momentum": GE0},
    "Adadelta": {"lr": GE0, "rho": UNIT_CLOSED, "eps": GE0, "weight_decay": GE0},
    "Adam": {"lr": GE0, "betas[0]": UNIT_HALF_OPEN, "betas[1]": UNIT_HALF_OPEN, "eps": GE0, "weight_decay": GE0},
    "Adamax": {"lr": GE0, "betas[0]": UNIT_HALF_OPEN, "betas[1]": UNIT_HALF_OPEN, "eps": GE0, "weight_decay": GE0},
    "NAdam": {
        "lr": GE0, "betas[0]": UNIT_HALF_OPEN, "betas[1]": UNIT_HALF_OPEN, "eps": GE0, "weight_decay": GE0,
        "momentum_decay": GE0,
    },
    "RAdam": {"lr": GE0, "betas[0]": UNIT_HALF_OPEN, "betas[1]": UNIT_HALF_OPEN, "eps": GE0, "weight_decay": GE0},
}
VALID_RANGES["Lion"] = {"lr": GE0, "betas[0]": UNIT_HALF_OPEN, "betas[1]": UNIT_HALF_OPEN, "weight_decay": GE0}
VALID_RANGES["Signum"] = {"lr": GE0, "momentum": UNIT_HALF_OPEN, "weight_decay": GE0}
VALID_RANGES["ASGD"] = {"lr": GE0, "lambd": GE0, "alpha": GE0, "t0": GE0, "weight_decay": GE0}
# torch.optim.Rprop checks 0 < etas[0] < 1 < etas[1]; optimlab adds step_sizes[0] >= 0 and step_sizes[1] > 0
# (a largest step of 0 never moves) and, between the two, step_sizes[0] <= step_sizes[1].
VALID_RANGES["Rprop"] = {
    "lr": GE0, "etas[0]": (0.0, 1.0, True, True), "etas[1]": (1.0, None, True, False),
    "step_sizes[0]": GE0, "step_sizes[1]": (0.0, None, True, False),
}
VALID_RANGES["ADOPT"] = {
    "lr": GE0, "betas[0]": UNIT_HALF_OPEN, "betas[1]": UNIT_HALF_OPEN, "eps": GE0, "weight_decay": GE0,
}
# Schedule-Free: x = (y − (1 − β)·z)/β needs β > 0 (schedulefree's SGD checks 0 < momentum < 1); warmup_steps
# must also be a whole number.
UNIT_OPEN: Range = (0.0, 1.0, True, True)
SCHEDULE_FREE: dict[str, Range] = {
    "lr": GE0, "weight_decay": GE0, "warmup_steps": GE0, "r": GE0, "weight_lr_power": GE0,
}
VALID_RANGES["SGDScheduleFree"] = {**SCHEDULE_FREE, "momentum": UNIT_OPEN}
VALID_RANGES["AdamWScheduleFree"] = {**SCHEDULE_FREE, "betas[0]": UNIT_OPEN, "betas[1]": UNIT_HALF_OPEN, "eps": GE0}
# Muon: momentum is an average (< 1) and eps must be > 0 (torch checks neither); ns_steps an integer in [0, 99]
# (torch raises at the first step from 100 on); ns_coefficients any finite numbers.
VALID_RANGES["Muon"] = {
    "lr": GE0, "weight_decay": GE0, "momentum": UNIT_HALF_OPEN, "eps": (0.0, None, True, False),
    "ns_steps": (0, 99, False, False), "ns_coefficients": (None, None, False, False),
}
VALID_RANGES["Adafactor"] = {
    "lr": GE0, "beta2_decay": (None, 0.0, False, False), "eps[0]": GE0, "eps[1]": GE0, "d": (1.0, None, False, False),
    "weight_decay": GE0,
}
VALID_RANGES["Prodigy"] = {
    "lr": GE0, "betas[0]": UNIT_HALF_OPEN, "betas[1]": UNIT_HALF_OPEN, "eps": GE0, "weight_decay": GE0,
    "d0": (0.0, None, True, False), "d_coef": (0.0, None, True, False), "growth_rate": (1.0, None, False, False),
    "slice_p": (1.0, 1.0, False, False),  # only 1 is implemented (rules/prodigy.py)
    "beta3": UNIT_HALF_OPEN,  # None (the default) derives √β₂
}
VALID_RANGES["AdEMAMix"] = {
    "lr": GE0, "betas[0]": UNIT_HALF_OPEN, "betas[1]": UNIT_HALF_OPEN, "betas[2]": UNIT_CLOSED, "weight_decay": GE0,
    "alpha": GE0, "t_alpha_beta3": GE0, "eps": GE0,
}
# pytorch_optimizer: precondition_frequency and max_precondition_dim positive (whole numbers, optimlab adds).
VALID_RANGES["SOAP"] = {
    "lr": GE0, "betas[0]": UNIT_HALF_OPEN, "betas[1]": UNIT_HALF_OPEN, "shampoo_beta": UNIT_HALF_OPEN,
    "weight_decay": GE0, "precondition_frequency": (1.0, None, False, False),
    "max_precondition_dim": (1.0, None, False, False), "eps": GE0,
}
# torch.optim.SparseAdam: 0 < lr, 0 < eps (both strict), betas in [0, 1).
GT0: Range = (0.0, None, True, False)
VALID_RANGES["SparseAdam"] = {"lr": GT0, "betas[0]": UNIT_HALF_OPEN, "betas[1]": UNIT_HALF_OPEN, "eps": GT0}
VALID_RANGES["AdamW"] = VALID_RANGES["Adam"]
VALID_RANGES["AMSGrad"] = VALID_RANGES["Adam"]
VALID_RANGES["Momentum"] = VALID_RANGES["SGD"]
# Nesterov momentum needs momentum > 0 (a constraint between arguments, checked with nesterov=True).
VALID_RANGES["Nesterov"] = {"lr": GE0, "momentum": (0.0, None, True, False), "weight_decay": GE0}


def invalid_values(r: Range) -> list[float]:
    """Values just outside range ``r`` (and NaN, and infinity where the range is bounded above)."""
    low, high, low_open, high_open = r
    out = [math.nan]
    if low is not None:
        out.append(low if low_open else low - 0.5)
    if high is not None:
        out.append(high if high_open else high + 0.5)
        out.append(math.inf)
    return out


def edge_values(r: Range) -> list[float]:
    """Values on the closed edges of ``r``: they must be accepted."""
    low, high, low_open, high_open = r
    return [v for v, is_open in ((low, low_open), (high, high_open)) if v is not None and not is_open]


def constructor_kwargs(cls: str, arg: str, value: float) -> dict[str, Any]:
    """Keyword arguments of class ``cls`` that set ``arg`` to ``value``; ``arg`` may name one element of a
    packed argument (``betas[0]``, ``etas[1]`` ...), whose other elements keep the class's defaults."""
    name, bracket, index = arg.partition("[")
    if not bracket:
        return {arg: value}
    packed = list(inspect.signature(getattr(optim, cls).__init__).parameters[name].default)
    packed[int(index.rstrip("]"))] = value
    return {name: tuple(packed)}


def rule_hyper_name(cls: str, arg: str) -> str:
    """The rule hyperparameter an argument sets (``betas[0]`` -> ``beta1``), from the class's packed arguments."""
    klass: type[optim.RuleOptimizer] = getattr(optim, cls)
    return {shown: hyper for hyper, shown in klass.argument_names().items()}.get(arg, arg)


# ---------------------------------------------------------------------------------------------------------------
# The small problem every case trains on: a 2-layer tanh MLP regressing random data (float64 by default).

N_IN, N_HIDDEN, N_OUT, N_DATA = 5, 8, 3, 32


def mlp_params(seed: int = 0, dtype: torch.dtype = torch.float64) -> list[torch.Tensor]:
    """``[W1, b1, W2, b2]`` as leaf tensors that require grad."""
    gen = torch.Generator().manual_seed(seed)
    shapes = [(N_HIDDEN, N_IN), (N_HIDDEN,), (N_OUT, N_HIDDEN), (N_OUT,)]
    return [(0.5 * torch.randn(s, generator=gen, dtype=dtype)).requires_grad_() for s in shapes]


def mlp_data(seed: int = 1, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(N_DATA, N_IN, generator=gen, dtype=dtype)
    y = torch.sin(x[:, :N_OUT] * 2.0) + 0.1 * torch.randn(N_DATA, N_OUT, generator=gen, dtype=dtype)
    return x, y


def mlp_loss(params: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    w1, b1, w2, b2 = params
    out = torch.tanh(x @ w1.T + b1) @ w2.T + b2
    return ((out - y) ** 2).mean()


def clone_params(params: list[torch.Tensor]) -> list[torch.Tensor]:
    return [p.detach().clone().requires_grad_() for p in params]


MATRICES_ONLY = {"Muon"}
"""Classes whose torch.optim namesake takes only 2-D parameters: their groups hold the MLP's weights, W1 and W2
(optimlab's Muon also takes the biases, with AdamW: tests/test_matrix_rules.py checks that part)."""


def param_groups(case: Case, params: list[torch.Tensor]) -> list[dict[str, Any]]:
    """Two parameter groups: by default with different learning rates (the second at 0.4 times the case's lr),
    else with the row's :attr:`Case.second_group` settings. Classes in ``MATRICES_ONLY`` get the two weight
    matrices only (one per group), as their torch reference takes nothing else."""
    first, second = ([params[0]], [params[2]]) if case.cls in MATRICES_ONLY else (params[:2], params[2:])
    if case.second_group is not None:
        return [{"params": first}, {"params": second, **case.second_group}]
    lr = case.kwargs.get("lr", case.optimlab_class()([torch.zeros(1, 1, requires_grad=True)]).defaults["lr"])
    return [{"params": first}, {"params": second, "lr": 0.4 * lr}]


def train(
    opt: torch.optim.Optimizer, params: list[torch.Tensor], steps: int, data: Any = None, keep_grads: bool = False
) -> list[float]:
    """``steps`` full-batch steps on the MLP; returns the losses. ``keep_grads``: zero the gradients in place
    (``zero_grad(set_to_none=False)``, backward accumulates into them) instead of setting them to ``None``."""
    x, y = data if data is not None else mlp_data()
    losses = []
    for _ in range(steps):
        opt.zero_grad(set_to_none=not keep_grads)
        loss = mlp_loss(params, x, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def rel_error(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    """max over tensors of ‖a − b‖∞ / ‖b‖∞ (NaN if either side is not finite)."""
    worst = 0.0
    for x, y in zip(a, b, strict=True):
        x, y = x.detach(), y.detach()
        if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
            return math.nan
        scale = y.abs().max().item() or 1.0
        worst = max(worst, (x - y).abs().max().item() / scale)
    return worst
