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
from .rules import RULES, Rule, Scalar, ScheduleFreeRule
from .rules._math import descent_gradient
from .rules.nadam import scalar_dtype

Params = Iterable[Tensor] | Iterable[dict[str, Any]] | Iterable[tuple[str, Tensor]]

_BETAS = {"beta1": "betas[0]", "beta2": "betas[1]"}


class RuleOptimizer(Optimizer):
    """A ``torch.optim.Optimizer`` whose update is one :class:`~optimlab.rules.Rule` applied per tensor."""

    rule: ClassVar[Rule]
    fixed_hypers: ClassVar[Mapping[str, Any]] = {}
    """Rule hyperparameters a class fixes rather than takes as arguments (AdamW: decoupled decay)."""

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
        if "betas" in group and (not isinstance(group["betas"], (tuple, list)) or len(group["betas"]) != 2):
            raise ValueError(f"Invalid betas={group['betas']!r} for {name}: must be a pair (beta1, beta2).")
        self.rule.validate(self.hypers(group), name, _BETAS)

    def hypers(self, group: Mapping[str, Any]) -> dict[str, Scalar]:
        """The rule's hyperparameters for one parameter group (``betas`` split into ``beta1``, ``beta2``)."""
        values = dict(group)
        if "betas" in values:
            values["beta1"], values["beta2"] = values["betas"]
        out: dict[str, Scalar] = {}
        for h in self.rule.hypers:
            value = values[h.name]
            # torch.optim accepts a 1-element tensor lr (and betas) and reads it as a Python number.
            out[h.name] = value.item() if isinstance(value, Tensor) and value.numel() == 1 else value
        return out

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


class _ScheduleFree(RuleOptimizer):
    """The ``train()``/``eval()`` switch of Schedule-Free optimizers (the ``schedulefree`` package's contract).

    While training the parameters hold y, the point the gradient is taken at; ``eval()`` moves them to x, the
    averaged iterate to evaluate and save (:meth:`~optimlab.rules.Rule.evaluation_point`), and ``train()`` moves
    them back. Each parameter group keeps its mode in ``group["train_mode"]``, so a ``state_dict`` saved in
    either mode loads in that mode. ``step()`` in eval mode raises ``RuntimeError``, as the package raises.
    Unlike the package, a new optimizer starts in train mode: before the first step x = y, so ``train()``
    before training is harmless and not required.
    """

    @torch.no_grad()
    def eval(self) -> None:
        """Put the parameters at the evaluation point x (call it where you call ``model.eval()``)."""
        self._switch(to_train=False)

    @torch.no_grad()
    def train(self) -> None:
        """Put the parameters back at the training point y (call it where you call ``model.train()``)."""
        self._switch(to_train=True)

    def _switch(self, to_train: bool) -> None:
        rule = self.rule
        assert isinstance(rule, ScheduleFreeRule)
        move = rule.training_point if to_train else rule.evaluation_point
        for group in self.param_groups:
            if group["train_mode"] == to_train:
                continue
            hp = self.hypers(group)
            for p in group["params"]:
                state = self.state.get(p)
                if state:
                    x = torch.view_as_real(p) if p.is_complex() else p
                    x.copy_(move(x, state, hp))
            group["train_mode"] = to_train

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        if not all(group["train_mode"] for group in self.param_groups):
            raise RuntimeError(
                f"{type(self).__name__}.step() was called in eval mode: the parameters hold the averaged point x. "
                "Call optimizer.train() before training (and optimizer.eval() before evaluating or saving)."
            )
        return super().step(closure)


class SGDScheduleFree(_ScheduleFree):
    """Schedule-Free SGD (``schedulefree.SGDScheduleFree`` 1.4.1: same arguments, order and defaults; its
    ``foreach`` has no effect here). Call ``train()``/``eval()`` as documented in :class:`_ScheduleFree`.

    Math, paper and departures: :mod:`optimlab.rules.schedulefree`.
    """

    rule = RULES["schedulefree_sgd"]

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1.0,
        momentum: float = 0.9,
        weight_decay: float = 0,
        warmup_steps: int = 0,
        r: float = 0.0,
        weight_lr_power: float = 2,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr, momentum=momentum, weight_decay=weight_decay, warmup_steps=warmup_steps, r=r,
                weight_lr_power=weight_lr_power, train_mode=True, foreach=foreach, maximize=maximize,
                differentiable=differentiable, fused=fused,
            ),
        )


class AdamWScheduleFree(_ScheduleFree):
    """Schedule-Free AdamW (``schedulefree.AdamWScheduleFree`` 1.4.1: same arguments, order and defaults; its
    ``foreach`` has no effect here). Call ``train()``/``eval()`` as documented in :class:`_ScheduleFree`.

    ``adam_debias=False`` (default) is the paper's Algorithm 1 (``schedulefree.AdamWScheduleFreePaper``);
    ``adam_debias=True`` is the package's ``AdamWScheduleFree`` default (Adam-style √(v/(1 − β₂ᵗ)) + ε).
    Math, paper and departures: :mod:`optimlab.rules.schedulefree`.
    """

    rule = RULES["schedulefree_adamw"]

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 0.0025,
        betas: tuple[float | Tensor, float | Tensor] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        warmup_steps: int = 0,
        r: float = 0.0,
        weight_lr_power: float = 2.0,
        foreach: bool | None = None,
        *,
        adam_debias: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, warmup_steps=warmup_steps, r=r,
                weight_lr_power=weight_lr_power, adam_debias=adam_debias, train_mode=True, foreach=foreach,
                maximize=maximize, differentiable=differentiable, fused=fused,
            ),
        )


__all__ = [
    "SGD",
    "AMSGrad",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "AdamWScheduleFree",
    "Adamax",
    "Momentum",
    "NAdam",
    "Nesterov",
    "RAdam",
    "RMSprop",
    "RuleOptimizer",
    "SGDScheduleFree",
]
