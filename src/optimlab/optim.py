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

_BETAS = {"beta1": "betas[0]", "beta2": "betas[1]"}


class RuleOptimizer(Optimizer):
    """A ``torch.optim.Optimizer`` whose update is one :class:`~optimlab.rules.Rule` applied per tensor (a rule with
    group-level state, such as Prodigy's step-size estimate, steps all the optimizer's tensors together:
    :meth:`shared`)."""

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
        if rule.shared_state:
            self._reducing_step()
            return loss
        plans: dict[int, _fused.GroupPlan] = self.__dict__.setdefault("_fused_plans", {})
        for index, group in enumerate(self.param_groups):
            hp = self.hypers(group)
            if plans.setdefault(index, _fused.GroupPlan()).step(rule, group, hp, self.state):
                continue
            for p in group["params"]:
                prepared = self._prepare(p, group, hp)
                if prepared is None:
                    continue
                x, g, state, t = prepared
                rule.update(x, g, state, hp, t)
                if not state:
                    del self.state[p]
        return loss

    def _prepare(self, p: Tensor, group: Mapping[str, Any], hp: Mapping[str, Scalar]) -> Any:
        """``(x, g, state, step)`` for one tensor of ``group`` as its rule takes them, or ``None`` (no gradient):
        the descent gradient, complex numbers as pairs of reals, the state created and the step counted."""
        g = p.grad
        if g is None:
            return None
        rule = self.rule
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
        if not rule.counts_steps:
            return x, g, state, 0
        state["step"] += 1
        return x, g, state, int(state["step"].item())

    def shared(self) -> dict[str, Tensor]:
        """The group-level state of a rule that reduces over its tensors (``Rule.shared_state``), one set for the
        whole optimizer: the sums run over every parameter group, as the whole model is one point x. Kept as
        0-d float64 tensors in every parameter group under the rule's names (the same tensors in each), so
        logging and schedulers read them (``optimizer.param_groups[0]["d"]``) and ``state_dict`` carries them."""
        keys = self.rule.shared_state
        first = self.param_groups[0]
        if not all(isinstance(first.get(k), Tensor) for k in keys):
            made = self.rule.init_shared(self.hypers(first), torch.zeros((), dtype=torch.float64))
            first.update(made)
        values = {k: first[k] for k in keys}
        for group in self.param_groups[1:]:
            if any(group.get(k) is not v for k, v in values.items()):
                group.update(values)
        return values

    def _reducing_step(self) -> None:
        """One step of a rule with group-level state (see ``Rule.update_group``) over every parameter group."""
        rule, groups = self.rule, self.param_groups
        shared = self.shared()
        hps = [{**self.hypers(group), **shared} for group in groups]
        if len(groups) == 1:  # the compiled path covers one group (its reduction is then the whole model)
            plan = self.__dict__.setdefault("_fused_plans", {}).setdefault(0, _fused.GroupPlan())
            if plan.step(rule, groups[0], hps[0], self.state):
                return
        walk: list[tuple[Tensor, Tensor, Any, Mapping[str, Scalar], int]] = []
        for group, hp in zip(groups, hps, strict=True):
            for p in group["params"]:
                prepared = self._prepare(p, group, hp)
                if prepared is not None:
                    walk.append((*prepared, hp))
        xs, gs, states, steps, tensor_hps = (list(column) for column in zip(*walk, strict=True)) if walk else ([],) * 5
        rule.update_group(xs, gs, states, tensor_hps, steps, shared, hps[0])


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


class Prodigy(RuleOptimizer):
    """Prodigy: Adam with a learning-rate-free step size d estimated online (Mishchenko & Defazio 2024).

    Arguments, order and defaults of ``prodigyopt.Prodigy`` (version 1.1.2); ``lr`` multiplies the estimated step
    size (keep 1.0 and schedule it, e.g. cosine with warm-up). Math, paper and every departure from prodigyopt:
    :mod:`optimlab.rules.prodigy`.

    The estimate is one for the whole optimizer: its sums run over every parameter group (prodigyopt does the
    same). Its state (``d``, ``d_max``, ``d_numerator``, ``d_denom``, ``d_hat`` and ``d_prev``, the d the last
    step used) lives in every parameter group as 0-d float64 tensors, the same tensors in each group, updated in
    place: ``optimizer.param_groups[0]["d"]`` is the current d (``float()`` it to log it), and ``state_dict``
    carries them (the tensors themselves, as it does the per-parameter state), so a resumed run continues bit
    for bit. ``d0``, ``d_coef``, ``growth_rate`` and ``beta3`` are
    read from the first group. ``fused=True`` compiles the step when there is one parameter group; with several
    it runs the eager loop. ``step_with_new_d=True`` reproduces prodigyopt's use of the new d in the ε term.
    Under ``ZeroRedundancyOptimizer`` (or any sharding) each rank estimates d from its own shard only, which is not
    the unsharded algorithm: the sums are not all-reduced here, and ``fsdp_in_use=True`` (prodigyopt's all-reduce)
    is refused.
    """

    rule = RULES["prodigy"]

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1.0,
        betas: tuple[float, float] = (0.9, 0.999),
        beta3: float | None = None,
        eps: float = 1e-8,
        weight_decay: float = 0,
        decouple: bool = True,
        use_bias_correction: bool = False,
        safeguard_warmup: bool = False,
        d0: float = 1e-6,
        d_coef: float = 1.0,
        growth_rate: float = float("inf"),
        fsdp_in_use: bool = False,
        slice_p: int = 1,
        *,
        step_with_new_d: bool = False,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr, betas=betas, beta3=beta3, eps=eps, weight_decay=weight_decay, decouple=decouple,
                use_bias_correction=use_bias_correction, safeguard_warmup=safeguard_warmup, d0=d0, d_coef=d_coef,
                growth_rate=growth_rate, fsdp_in_use=fsdp_in_use, slice_p=slice_p, step_with_new_d=step_with_new_d,
                maximize=maximize, foreach=foreach, differentiable=differentiable, fused=fused,
            ),
        )
        self.shared()

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        if len(self.param_groups) > 1:
            self.shared()  # a group added later shares the estimate

    def hypers(self, group: Mapping[str, Any]) -> dict[str, Scalar]:
        hp: dict[str, Any] = self.rule.resolve(super().hypers(group))
        return hp


__all__ = [
    "SGD",
    "AMSGrad",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Momentum",
    "NAdam",
    "Nesterov",
    "Prodigy",
    "RAdam",
    "RMSprop",
    "RuleOptimizer",
]
