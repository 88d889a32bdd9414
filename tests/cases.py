"""The table of optimizer cases that drives the optimizer-core test suite.

One row per (drop-in class, hyperparameter setting). Every preset of :data:`optimlab.registry.PRESETS` must
be covered by a row that names it (``test_every_preset_has_a_case`` fails otherwise), and every class of
:mod:`optimlab.optim` must have rows. ``torch_equivalent`` says which ``torch.optim`` class and arguments
compute the same thing, for the classes torch lacks (``Momentum``, ``Nesterov``, ``AMSGrad``).
"""

from __future__ import annotations

import importlib
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


@dataclass(frozen=True)
class Reference:
    """A trusted implementation to test a class against: ``module.cls`` called with the case's arguments,
    renamed by ``rename`` (optimlab name -> reference name), plus ``fixed`` arguments."""

    module: str
    cls: str
    fixed: dict[str, Any] = field(default_factory=dict)
    rename: dict[str, str] = field(default_factory=dict)

    @property
    def is_torch(self) -> bool:
        return self.module == "torch.optim"

    def load(self) -> type[torch.optim.Optimizer]:
        """The reference class (an ImportError here means ``.ci/run`` lacks a test dependency)."""
        cls: type[torch.optim.Optimizer] = getattr(importlib.import_module(self.module), self.cls)
        return cls

    def make(self, params: Any, kwargs: dict[str, Any]) -> torch.optim.Optimizer:
        args = {self.rename.get(k, k): v for k, v in kwargs.items()}
        return self.load()(params, **{**self.fixed, **args})


NO_REFERENCE = Reference("", "")
"""A row's ``reference=`` when no library computes its setting (the paper transcription checks it instead)."""

REFERENCES: dict[str, Reference] = {
    **{n: Reference("torch.optim", n) for n in TORCH_CLASS_NAMES},
    **{n: Reference("torch.optim", cls, fixed) for n, (cls, fixed) in TORCH_EQUIVALENT.items()},
    # Classes whose reference is another library (test-only dependencies installed by .ci/run) go here.
    # AdEMAMix: the paper decays decoupled (our default); pytorch_optimizer's default is L2, so pin it.
    "AdEMAMix": Reference("pytorch_optimizer", "AdEMAMix", fixed={"weight_decouple": True}),
    # SOAP: pytorch_optimizer ignores the unknown float32_qr keyword (its **kwargs); rows matching it set it True.
    "SOAP": Reference("pytorch_optimizer", "SOAP"),
}
"""The default reference of every class that has one; a :class:`Case` may name its own."""


@dataclass(frozen=True)
class Case:
    """One optimizer setting: ``cls`` names an :mod:`optimlab.optim` class, ``kwargs`` its arguments."""

    cls: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    preset: str | None = None
    """The registry preset this row stands for (its class and settings must match)."""
    reference: Reference | None = None
    """The implementation this row is checked against; ``None``: the class's entry in :data:`REFERENCES`."""
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
        if self.reference is NO_REFERENCE:
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
        return Case(self.cls, {**self.kwargs, **extra}, self.preset, self.reference, self.sensitive)


def _short(v: Any) -> str:
    if isinstance(v, tuple):
        return "(" + ",".join(_short(x) for x in v) + ")"
    return f"{v:g}" if isinstance(v, float) else str(v)


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
         reference=NO_REFERENCE),
    Case("SOAP", {"lr": 1e-2, "precondition_frequency": 2}, reference=NO_REFERENCE, sensitive=_SOAP_SENSITIVE),
)
"""Every case; each hyperparameter flag appears in at least one row."""

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


def constructor_kwargs(arg: str, value: float, cls: str = "Adam") -> dict[str, Any]:
    """Constructor keyword arguments of class ``cls`` that set ``arg`` (``betas[0]`` etc.) to ``value``."""
    if arg.startswith("betas["):
        betas = list(getattr(optim, cls)([torch.zeros(1, requires_grad=True)]).defaults["betas"])
        betas[int(arg[6])] = value
        return {"betas": tuple(betas)}
    return {arg: value}


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


def param_groups(case: Case, params: list[torch.Tensor]) -> list[dict[str, Any]]:
    """Two parameter groups with different learning rates (the second at 0.4 times the case's lr)."""
    lr = case.kwargs.get("lr", case.optimlab_class()([torch.zeros(1, requires_grad=True)]).defaults["lr"])
    return [{"params": params[:2]}, {"params": params[2:], "lr": 0.4 * lr}]


def train(opt: torch.optim.Optimizer, params: list[torch.Tensor], steps: int, data: Any = None) -> list[float]:
    """``steps`` full-batch steps on the MLP; returns the losses."""
    x, y = data if data is not None else mlp_data()
    losses = []
    for _ in range(steps):
        opt.zero_grad()
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
