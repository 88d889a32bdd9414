"""Drop-in ``torch.optim`` optimizers built from optimlab's rules.

Each class has the same name, arguments, defaults, parameter-group keys and state layout as its
``torch.optim`` namesake, so changing the import line changes nothing else; ``state_dict``s load across the
two. The math lives in :mod:`optimlab.rules`; this module only walks parameter groups.

Differences from torch.optim, all on purpose:

* every parameter group is validated (torch checks only the constructor's arguments), and errors name the
  argument, the value and the valid range;
* ``foreach`` is accepted and has no effect; ``capturable`` and ``differentiable`` (CUDA graphs and
  differentiating through the step) are not supported and raise ``ValueError`` when set;
* ``fused=True`` selects the compiled fast path (:mod:`optimlab.fused`: the same rule, compiled over the whole
  group) for every class; classes whose torch namesake has no ``fused`` argument take it as a parameter-group
  key (``{"params": ..., "fused": True}``). ``fused=None`` (the default) compiles only large groups, from
  :data:`optimlab.fused.AUTO_MIN_ELEMENTS` elements up; ``fused=False`` always runs the reference loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.optim.optimizer import Optimizer

from . import fused as _fused
from .rules import RULES, Rule, Scalar
from .rules._math import descent_gradient
from .rules.nadam import scalar_dtype

Params = Iterable[Tensor] | Iterable[dict[str, Any]] | Iterable[tuple[str, Tensor]]

BETA_NAMES = {"beta1": "betas[0]", "beta2": "betas[1]", "beta3": "betas[2]"}
"""The rule's name of each ``betas`` entry -> the argument a user typed (for error messages)."""


class RuleOptimizer(Optimizer):
    """A ``torch.optim.Optimizer`` whose update is one :class:`~optimlab.rules.Rule` applied per tensor."""

    rule: ClassVar[Rule]
    fixed_hypers: ClassVar[Mapping[str, Any]] = {}
    """Rule hyperparameters a class fixes rather than takes as arguments (AdamW: decoupled decay)."""
    n_betas: ClassVar[int] = 2
    """How many entries ``betas`` has (AdEMAMix: three)."""

    def __init__(self, params: Params, defaults: dict[str, Any]) -> None:
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        name = type(self).__name__
        for flag in ("capturable", "differentiable"):
            if group.get(flag):
                raise ValueError(f"Invalid {flag}=True for {name}: optimlab does not support {flag} yet.")
        if group.get("fused") and group.get("foreach"):
            raise RuntimeError(f"{name}: `fused` and `foreach` cannot be `True` together.")
        n = self.n_betas
        if "betas" in group and (not isinstance(group["betas"], (tuple, list)) or len(group["betas"]) != n):
            what = "a pair (beta1, beta2)" if n == 2 else "a triple (beta1, beta2, beta3)"
            raise ValueError(f"Invalid betas={group['betas']!r} for {name}: must be {what}.")
        self.rule.validate(self.hypers(group), name, BETA_NAMES)

    @classmethod
    def rule_hypers(cls, args: Mapping[str, Any]) -> dict[str, Any]:
        """The rule's hyperparameters from constructor arguments or a parameter group: ``betas`` split into
        ``beta1``, ``beta2`` (, ``beta3``). Classes whose arguments take another form (``None`` for "off")
        translate them here; the registry reads presets through this too."""
        values = dict(args)
        if "betas" in values:
            values.update({f"beta{i + 1}": b for i, b in enumerate(values["betas"])})
        return {h.name: values[h.name] for h in cls.rule.hypers}

    def hypers(self, group: Mapping[str, Any]) -> dict[str, Scalar]:
        """The rule's hyperparameters for one parameter group (see :meth:`rule_hypers`)."""
        # torch.optim accepts a 1-element tensor lr (and betas) and reads it as a Python number.
        return {
            name: value.item() if isinstance(value, Tensor) and value.numel() == 1 else value
            for name, value in self.rule_hypers(group).items()
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            for key, value in self.defaults.items():
                group.setdefault(key, value)
            for p in group["params"]:
                p_state = self.state.get(p, {})
                if "step" in p_state and not torch.is_tensor(p_state["step"]):
                    p_state["step"] = torch.tensor(float(p_state["step"]), dtype=scalar_dtype())

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """Perform one optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        rule = self.rule
        plans: dict[int, _fused.GroupPlan] = self.__dict__.setdefault("_fused_plans", {})
        for index, group in enumerate(self.param_groups):
            hp = self.hypers(group)
            if plans.setdefault(index, _fused.GroupPlan()).step(rule, group, hp, self.state):
                continue
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if g.is_sparse and not rule.supports_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients.")
                g = descent_gradient(g, group["maximize"])
                state = self.state[p]
                x = p
                if p.is_complex():  # complex numbers update as pairs of real coordinates, as in torch.optim
                    x, g = torch.view_as_real(p), torch.view_as_real(g)
                if not state:
                    if rule.counts_steps:
                        state["step"] = torch.tensor(0.0, dtype=scalar_dtype())
                    state.update(rule.init_state(x, hp))
                if rule.counts_steps:
                    state["step"] += 1
                    rule.update(x, g, state, hp, int(state["step"].item()))
                else:
                    rule.update(x, g, state, hp, 0)
                if not state:
                    del self.state[p]
        return loss





class SGD(RuleOptimizer):
    """Stochastic gradient descent with optional momentum or Nesterov momentum (``torch.optim.SGD``).

    Math and paper: :class:`optimlab.rules.sgd.SGDRule`.
    """

    rule = RULES["sgd"]

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float | Tensor = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
                maximize=maximize, foreach=foreach, differentiable=differentiable, fused=fused,
            ),
        )


class Adagrad(RuleOptimizer):
    """AdaGrad (``torch.optim.Adagrad``). Math and paper: :class:`optimlab.rules.adagrad.AdagradRule`."""

    rule = RULES["adagrad"]

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                differentiable=differentiable, fused=fused,
            ),
        )


class RMSprop(RuleOptimizer):
    """RMSProp, plain, centered or with momentum (``torch.optim.RMSprop``).

    Math and sources: :class:`optimlab.rules.rmsprop.RMSpropRule`.
    """

    rule = RULES["rmsprop"]

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered, weight_decay=weight_decay,
                capturable=capturable, foreach=foreach, maximize=maximize, differentiable=differentiable,
            ),
        )


class Adadelta(RuleOptimizer):
    """AdaDelta (``torch.optim.Adadelta``); ``lr=1`` is Zeiler's Algorithm 1 exactly.

    Math and paper: :class:`optimlab.rules.adadelta.AdadeltaRule`.
    """

    rule = RULES["adadelta"]

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize, capturable=capturable,
                foreach=foreach, differentiable=differentiable,
            ),
        )


class Adam(RuleOptimizer):
    """Adam, with AMSGrad and decoupled weight decay options (``torch.optim.Adam``).

    Math and papers: :class:`optimlab.rules.adam.AdamRule`.
    """

    rule = RULES["adam"]

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-3,
        betas: tuple[float | Tensor, float | Tensor] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused,
                decoupled_weight_decay=decoupled_weight_decay,
            ),
        )


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay, default 0.01 (``torch.optim.AdamW``)."""

    fixed_hypers: ClassVar[Mapping[str, Any]] = {"decoupled_weight_decay": True}

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-3,
        betas: tuple[float | Tensor, float | Tensor] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
            capturable=capturable, differentiable=differentiable, fused=fused, decoupled_weight_decay=True,
        )

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True


class Adamax(RuleOptimizer):
    """Adamax, Adam's infinity-norm variant (``torch.optim.Adamax``).

    Math and paper: :class:`optimlab.rules.adamax.AdamaxRule`.
    """

    rule = RULES["adamax"]

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach, maximize=maximize,
                differentiable=differentiable, capturable=capturable,
            ),
        )


class NAdam(RuleOptimizer):
    """NAdam, Adam with Nesterov momentum (``torch.optim.NAdam``).

    Math and paper: :class:`optimlab.rules.nadam.NAdamRule`.
    """

    rule = RULES["nadam"]

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                capturable=capturable, differentiable=differentiable,
            ),
        )


class RAdam(RuleOptimizer):
    """RAdam, Adam with a rectified adaptive step (``torch.optim.RAdam``).

    Math and paper: :class:`optimlab.rules.radam.RAdamRule`.
    """

    rule = RULES["radam"]

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize, foreach=foreach,
                capturable=capturable, decoupled_weight_decay=decoupled_weight_decay, differentiable=differentiable,
            ),
        )


class Momentum(SGD):
    """SGD with heavy-ball momentum 0.9: the classic texts' "Momentum" (Polyak 1964)."""

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-3,
        momentum: float = 0.9,
        dampening: float = 0,
        weight_decay: float | Tensor = 0,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, momentum, dampening, weight_decay, nesterov=False, maximize=maximize)


class Nesterov(SGD):
    """SGD with Nesterov momentum 0.9: the classic texts' "Nesterov accelerated gradient" (Nesterov 1983)."""

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-3,
        momentum: float = 0.9,
        weight_decay: float | Tensor = 0,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, momentum, 0, weight_decay, nesterov=True, maximize=maximize)


class AMSGrad(Adam):
    """Adam with ``amsgrad=True`` (Reddi, Kale & Kumar 2018)."""

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-3,
        betas: tuple[float | Tensor, float | Tensor] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad=True, maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )


class AdEMAMix(RuleOptimizer):
    """AdEMAMix: Adam with a mixture of a fast and a slow momentum (Pagliardini et al. 2024).

    Arguments, order and defaults of ``pytorch_optimizer.AdEMAMix`` (pytorch_optimizer 4.1.0) except one default:
    ``weight_decouple=True`` here (the paper's Algorithm 1 decays θ directly, scaled by η), ``False`` there (L2
    added to the gradient); pass ``weight_decouple=False`` for the reference's behaviour. ``betas`` is
    (β₁, β₂, β₃); ``t_alpha_beta3=None`` (or 0) turns the α and β₃ warm-ups off, as in the reference.
    Math and paper: :class:`optimlab.rules.ademamix.AdEMAMixRule`.
    """

    rule = RULES["ademamix"]
    n_betas: ClassVar[int] = 3

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float, float] = (0.9, 0.999, 0.9999),
        weight_decay: float = 0.0,
        weight_decouple: bool = True,
        fixed_decay: bool = False,
        alpha: float = 5.0,
        t_alpha_beta3: float | None = None,
        eps: float = 1e-8,
        maximize: bool = False,
        foreach: bool | None = None,
        *,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr, betas=betas, weight_decay=weight_decay, weight_decouple=weight_decouple,
                fixed_decay=fixed_decay, alpha=alpha, t_alpha_beta3=t_alpha_beta3, eps=eps, maximize=maximize,
                foreach=foreach, differentiable=differentiable, fused=fused,
            ),
        )

    @classmethod
    def rule_hypers(cls, args: Mapping[str, Any]) -> dict[str, Any]:
        hp = super().rule_hypers(args)
        if hp["t_alpha_beta3"] is None:  # no warm-up: the rule's 0
            hp["t_alpha_beta3"] = 0.0
        return hp


class SOAP(RuleOptimizer):
    """SOAP: Adam in the eigenbasis of Shampoo's preconditioner (Vyas et al. 2024).

    Arguments, order and defaults of ``pytorch_optimizer.SOAP`` (pytorch_optimizer 4.1.0); ``shampoo_beta=None``
    means β₂. Not supported yet: ``merge_dims=True`` (raises ``ValueError``), hence ``data_format`` has no
    effect. One departure, switchable: the QR of the eigenbasis refresh runs in the parameter's precision
    (float64 for float64 parameters); ``float32_qr=True`` runs it in float32 as the reference does.
    Math, paper and what the algorithm box leaves open: :class:`optimlab.rules.soap.SOAPRule`.
    """

    rule = RULES["soap"]

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 3e-3,
        betas: tuple[float, float] = (0.95, 0.95),
        shampoo_beta: float | None = None,
        weight_decay: float = 1e-2,
        precondition_frequency: int = 10,
        max_precondition_dim: int = 10000,
        merge_dims: bool = False,
        precondition_1d: bool = False,
        correct_bias: bool = True,
        normalize_gradient: bool = False,
        data_format: str = "channels_first",
        eps: float = 1e-8,
        maximize: bool = False,
        *,
        float32_qr: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        if merge_dims:
            raise ValueError("Invalid merge_dims=True for SOAP: optimlab does not merge dimensions yet.")
        if data_format not in ("channels_first", "channels_last"):
            raise ValueError(
                f"Invalid data_format={data_format!r} for SOAP: must be 'channels_first' or 'channels_last'."
            )
        super().__init__(
            params,
            dict(
                lr=lr, betas=betas, shampoo_beta=shampoo_beta, weight_decay=weight_decay,
                precondition_frequency=precondition_frequency, max_precondition_dim=max_precondition_dim,
                merge_dims=merge_dims, precondition_1d=precondition_1d, correct_bias=correct_bias,
                normalize_gradient=normalize_gradient, data_format=data_format, eps=eps, maximize=maximize,
                float32_qr=float32_qr, foreach=foreach, differentiable=differentiable, fused=fused,
            ),
        )

    @classmethod
    def rule_hypers(cls, args: Mapping[str, Any]) -> dict[str, Any]:
        values = dict(args)
        if values.get("shampoo_beta") is None:  # the reference's default: the statistics decay like V (β₂)
            values["shampoo_beta"] = values["betas"][1]
        return super().rule_hypers(values)


__all__ = [
    "SGD",
    "SOAP",
    "AMSGrad",
    "AdEMAMix",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Momentum",
    "NAdam",
    "Nesterov",
    "RAdam",
    "RMSprop",
    "RuleOptimizer",
]
