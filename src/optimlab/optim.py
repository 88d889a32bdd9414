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
  :data:`optimlab.fused.AUTO_MIN_ELEMENTS` elements up; ``fused=False`` always runs the reference loop;
* the Adam family (``Adam``, ``AdamW``, ``Adamax``, ``NAdam``, ``RAdam``) takes one keyword-only argument torch
  lacks, after torch's: ``cautious`` (Liang et al. 2024, see :func:`optimlab.rules._math.cautious_`). It joins the
  parameter groups only when true, so a default optimizer's groups and ``state_dict`` are torch's exactly.

``Lion`` and ``Signum`` have no torch namesake: they follow ``lion-pytorch`` 0.2.5 and ``pytorch-optimizer``
4.1.0's ``SignSGD`` (see their docstrings).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.optim.optimizer import Optimizer

from . import fused as _fused
from .rules import RULES, Rule, Scalar, ScheduleFreeRule
from .rules._math import descent_gradient
from .rules.adopt import clip_flag
from .rules.adopt import clip_lambda as adopt_clip
from .rules.muon import NS_COEFFICIENTS
from .rules.nadam import scalar_dtype

Params = Iterable[Tensor] | Iterable[dict[str, Any]] | Iterable[tuple[str, Tensor]]


class RuleOptimizer(Optimizer):
    """A ``torch.optim.Optimizer`` whose update is one :class:`~optimlab.rules.Rule` applied per tensor."""

    rule: ClassVar[Rule]
    fixed_hypers: ClassVar[Mapping[str, Any]] = {}
    """Rule hyperparameters a class fixes rather than takes as arguments (AdamW: decoupled decay)."""
    optional_hypers: ClassVar[Mapping[str, Any]] = {}
    """optimlab-only rule hyperparameters a group may lack (its torch namesake has no such key), with the value a
    missing key means: they join the groups only when switched on (:func:`_switched_on`)."""
    class_options: ClassVar[frozenset[str]] = frozenset()
    """Constructor arguments that only the drop-in class understands (the rule, hence the population, does not)."""
    packed: ClassVar[Mapping[str, tuple[str, ...]]] = {"betas": ("beta1", "beta2")}
    """Arguments that pack several rule hyperparameters, as torch.optim writes them (``betas`` -> β₁, β₂;
    Adafactor's ``eps`` -> ε₁, ε₂)."""
    group_keys: ClassVar[tuple[str, ...]] = ()
    """Rule hyperparameters the class takes only as parameter-group keys (its torch namesake's signature has no
    place for them); a group without the key uses the rule's default (Muon: the auxiliary AdamW's betas). Presets
    put such settings into every group (:meth:`optimlab.registry.Preset.make`)."""

    @classmethod
    def argument_names(cls) -> dict[str, str]:
        """The argument a user types for each packed rule hyperparameter (``beta1`` -> ``betas[0]``)."""
        return {h: f"{arg}[{i}]" for arg, names in cls.packed.items() for i, h in enumerate(names)}

    @classmethod
    def rule_hypers(cls, values: Mapping[str, Any]) -> dict[str, Scalar]:
        """The rule's hyperparameters from a parameter group or the constructor's arguments (packed arguments
        such as ``betas`` unpacked)."""
        values = dict(values)
        for arg, names in cls.packed.items():
            if arg in values:
                values.update(zip(names, values[arg], strict=True))
        out: dict[str, Scalar] = {}
        for h in cls.rule.hypers:
            if h.name in values:
                value = values[h.name]
            elif h.name in cls.optional_hypers:
                value = cls.optional_hypers[h.name]
            elif h.name in cls.group_keys:
                value = h.default
            else:
                raise KeyError(f"{cls.__name__}: parameter group lacks {h.name!r}")
            # torch.optim accepts a 1-element tensor lr (and betas) and reads it as a Python number.
            out[h.name] = value.item() if isinstance(value, Tensor) and value.numel() == 1 else value
        return out

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
        for arg, names in self.packed.items():
            value = group.get(arg)
            if arg in group and (not isinstance(value, (tuple, list)) or len(value) != len(names)):
                what = "a pair" if len(names) == 2 else f"a tuple of {len(names)}"
                raise ValueError(f"Invalid {arg}={value!r} for {name}: must be {what} ({', '.join(names)}).")
        self.rule.validate(self.hypers(group), name, self.argument_names())

    def hypers(self, group: Mapping[str, Any]) -> dict[str, Scalar]:
        """The rule's hyperparameters for one parameter group (see :meth:`rule_hypers`)."""
        return self.rule_hypers(group)

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
        g = descent_gradient(g, group.get("maximize", False))  # Muon has no maximize
        state = self.state[p]
        x = p
        if p.is_complex() and not rule.supports_complex:
            raise RuntimeError(f"{type(self).__name__} does not support complex parameters.")
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


def _switched_on(**flags: bool) -> dict[str, bool]:
    """The optional flags that are true: the group keys an optimlab-only option adds (see ``optional_hypers``)."""
    return {name: True for name, value in flags.items() if value}


_CAUTIOUS_OFF: Mapping[str, Any] = {"cautious": False}


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
    optional_hypers = _CAUTIOUS_OFF

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
        cautious: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused,
                decoupled_weight_decay=decoupled_weight_decay, **_switched_on(cautious=cautious),
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
        cautious: bool = False,
    ) -> None:
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
            capturable=capturable, differentiable=differentiable, fused=fused, decoupled_weight_decay=True,
            cautious=cautious,
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
    optional_hypers = _CAUTIOUS_OFF

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
        cautious: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach, maximize=maximize,
                differentiable=differentiable, capturable=capturable, **_switched_on(cautious=cautious),
            ),
        )


class NAdam(RuleOptimizer):
    """NAdam, Adam with Nesterov momentum (``torch.optim.NAdam``).

    Math and paper: :class:`optimlab.rules.nadam.NAdamRule`.
    """

    rule = RULES["nadam"]
    optional_hypers = _CAUTIOUS_OFF

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
        cautious: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                capturable=capturable, differentiable=differentiable, **_switched_on(cautious=cautious),
            ),
        )


class RAdam(RuleOptimizer):
    """RAdam, Adam with a rectified adaptive step (``torch.optim.RAdam``).

    Math and paper: :class:`optimlab.rules.radam.RAdamRule`.
    """

    rule = RULES["radam"]
    optional_hypers = _CAUTIOUS_OFF

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
        cautious: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize, foreach=foreach,
                capturable=capturable, decoupled_weight_decay=decoupled_weight_decay, differentiable=differentiable,
                **_switched_on(cautious=cautious),
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
        cautious: bool = False,
    ) -> None:
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad=True, maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay, cautious=cautious,
        )


class Lion(RuleOptimizer):
    """Lion (Chen et al. 2023), with lion-pytorch 0.2.5's arguments and defaults (``lion_pytorch.Lion``).

    Math, paper and departures: :mod:`optimlab.rules.lion`. ``decoupled_weight_decay=True`` is lion-pytorch's
    option: λ is divided by the constructor's ``lr``, so each step decays by λ·ηₜ/η₀ (a class option: the
    population and presets do not take it). ``use_triton`` exists so code written for lion-pytorch constructs;
    ``True`` raises (``fused=True`` is optimlab's fast path). Added after lion-pytorch's arguments, keyword-only:
    ``cautious`` (C-Lion, Liang et al. 2024), ``maximize``, ``foreach``, ``differentiable``, ``fused``.
    """

    rule = RULES["lion"]
    class_options = frozenset({"use_triton", "decoupled_weight_decay"})

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-4,
        betas: tuple[float | Tensor, float | Tensor] = (0.9, 0.99),
        weight_decay: float = 0.0,
        use_triton: bool = False,
        decoupled_weight_decay: bool = False,
        *,
        cautious: bool = False,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        if use_triton:
            raise ValueError("Invalid use_triton=True for Lion: optimlab has no Triton kernel (use fused=True).")
        self._init_lr = float(lr)
        if decoupled_weight_decay and not self._init_lr > 0:
            raise ValueError(f"Invalid lr={lr!r} for Lion: must be > 0 with decoupled_weight_decay=True.")
        super().__init__(
            params,
            dict(
                lr=lr, betas=betas, weight_decay=weight_decay, decoupled_weight_decay=decoupled_weight_decay,
                cautious=cautious, maximize=maximize, foreach=foreach, differentiable=differentiable, fused=fused,
            ),
        )

    def hypers(self, group: Mapping[str, Any]) -> dict[str, Scalar]:
        hp = super().hypers(group)
        if group["decoupled_weight_decay"]:  # lion-pytorch: wd / init_lr, then multiplied by the current lr
            hp["weight_decay"] = hp["weight_decay"] / self._init_lr
        return hp


class Signum(RuleOptimizer):
    """Signum, sign of the momentum (Bernstein et al. 2018), with the arguments and defaults of
    pytorch-optimizer 4.1.0's ``SignSGD`` (``momentum=0`` is signSGD).

    Math, paper and departures: :class:`optimlab.rules.lion.SignumRule`. Added keyword-only: ``cautious``,
    ``differentiable``, ``fused``.
    """

    rule = RULES["signum"]

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-3,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        weight_decouple: bool = True,
        foreach: bool | None = None,
        maximize: bool = False,
        *,
        cautious: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr, momentum=momentum, weight_decay=weight_decay, weight_decouple=weight_decouple,
                cautious=cautious, foreach=foreach, maximize=maximize, differentiable=differentiable, fused=fused,
            ),
        )


class ASGD(RuleOptimizer):
    """Averaged SGD (``torch.optim.ASGD``, torch 2.13): SGD with Bottou's decaying step and a running average
    of the iterates kept in ``state["ax"]``.

    Math, paper and departures: :class:`optimlab.rules.asgd.ASGDRule`. As in torch.optim, the parameters are
    the raw iterates: the averaged point ``ax`` is where the theory says to evaluate, and
    ``optimizer.state[p]["ax"]`` is the tensor to copy into the model for that.
    """

    rule = RULES["asgd"]

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
                maximize=maximize, differentiable=differentiable, capturable=capturable,
            ),
        )


class Rprop(RuleOptimizer):
    """Rprop, resilient backpropagation (``torch.optim.Rprop``, torch 2.13): a step size per weight, moved by the
    gradient's sign only. A full-batch method (mini-batch noise flips the signs).

    Math, paper and the departure (no weight-backtracking): :class:`optimlab.rules.rprop.RpropRule`.
    """

    rule = RULES["rprop"]
    packed: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "etas": ("etaminus", "etaplus"),
        "step_sizes": ("step_size_min", "step_size_max"),
    }

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
                differentiable=differentiable, capturable=capturable,
            ),
        )


class ADOPT(RuleOptimizer):
    """ADOPT (Taniguchi et al. 2024), with the arguments and defaults of the ``torch-adopt`` package's
    ``adopt.ADOPT`` (version 0.1.0): ``decouple=True`` for AdamW-style decay.

    ``clip_lambda`` is the clip schedule cₜ: the default is the paper's t^¼ (the object
    :data:`optimlab.rules.adopt.clip_lambda`), ``None`` the unclipped first version. Other schedules are refused
    with a ``ValueError``: the rule computes cₜ in tensor ops so that the population and ``fused=True`` can run
    it. A parameter group stores the choice as ``clip`` (True/False), which is what ``state_dict`` saves (the
    reference keeps its callable on the optimizer, outside the state_dict).
    Math, paper and departures: :class:`optimlab.rules.adopt.ADOPTRule`.
    """

    rule = RULES["adopt"]

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.9999),
        eps: float = 1e-6,
        clip_lambda: Callable[[int], float] | None = adopt_clip,
        weight_decay: float = 0.0,
        decouple: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, decouple=decouple,
                clip=clip_flag(clip_lambda), maximize=maximize, foreach=foreach, capturable=capturable,
                differentiable=differentiable, fused=fused,
            ),
        )

    @classmethod
    def rule_hypers(cls, values: Mapping[str, Any]) -> dict[str, Scalar]:
        if "clip_lambda" in values:  # the constructor's arguments (registry presets) rather than a group
            values = {**values, "clip": clip_flag(values["clip_lambda"])}
        return super().rule_hypers(values)


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


class Muon(RuleOptimizer):
    """Muon: momentum orthogonalized by Newton–Schulz (``torch.optim.Muon`` of torch 2.13: same arguments, defaults
    and state; on matrices the same numbers, Newton–Schulz in bfloat16 as there).

    Unlike torch's class it also takes the parameters torch rejects, with the rule's documented treatment: tensors
    of more dimensions (conv filters) are orthogonalized flattened to [out, in·kh·kw]; vectors and scalars run
    AdamW with the same ``lr`` and ``weight_decay``. Parameter-group keys torch lacks: ``use_muon`` (False: AdamW
    for the whole group, for embeddings and output heads), ``adam_beta1``/``adam_beta2``/``adam_eps`` (that
    AdamW's, default 0.9/0.95/1e-10), ``newton_schulz_dtype`` ("bfloat16", "float32" or "param"), ``fused``.
    Math and papers: :class:`optimlab.rules.muon.MuonRule`.
    """

    rule = RULES["muon"]
    group_keys = ("newton_schulz_dtype", "use_muon", "adam_beta1", "adam_beta2", "adam_eps")

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        weight_decay: float = 0.1,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
        eps: float = 1e-7,
        ns_steps: int = 5,
        adjust_lr_fn: str | None = None,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn,
            ),
        )


class Adafactor(RuleOptimizer):
    """Adafactor: factored second moments, relative step sizes, update clipping (``torch.optim.Adafactor`` of
    torch 2.13: same arguments, defaults, state and numbers). ``eps`` is the pair (ε₁, ε₂); ε₁ = None means the
    parameter dtype's machine epsilon. Math, paper and where torch departs from it:
    :class:`optimlab.rules.adafactor.AdafactorRule`.
    """

    rule = RULES["adafactor"]
    packed: ClassVar[Mapping[str, tuple[str, ...]]] = {"eps": ("eps1", "eps2")}

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-2,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 1e-3),
        d: float = 1.0,
        weight_decay: float = 0.0,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay, foreach=foreach,
                 maximize=maximize),
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


class AdEMAMix(RuleOptimizer):
    """AdEMAMix: Adam with a mixture of a fast and a slow momentum (Pagliardini et al. 2024).

    Arguments, order and defaults of ``pytorch_optimizer.AdEMAMix`` (pytorch_optimizer 4.1.0) except one default:
    ``weight_decouple=True`` here (the paper's Algorithm 1 decays θ directly, scaled by η), ``False`` there (L2
    added to the gradient); pass ``weight_decouple=False`` for the reference's behaviour. ``betas`` is
    (β₁, β₂, β₃); ``t_alpha_beta3=None`` (or 0) turns the α and β₃ warm-ups off, as in the reference.
    Math and paper: :class:`optimlab.rules.ademamix.AdEMAMixRule`.
    """

    rule = RULES["ademamix"]
    packed: ClassVar[Mapping[str, tuple[str, ...]]] = {"betas": ("beta1", "beta2", "beta3")}

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


class SparseAdam(RuleOptimizer):
    """Lazy Adam for sparse gradients (``torch.optim.SparseAdam``, torch 2.13.0: same arguments and defaults).

    Only parameters whose gradients have a sparse layout (``nn.Embedding(sparse=True)``) can be stepped: a dense
    gradient raises ``RuntimeError`` before any parameter changes (torch raises at that tensor, after updating the
    ones before it). Sparse or complex parameters are refused at construction, as torch does. No ``fused``
    option: the compiled path handles dense gradients only, so sparse ones always take the reference loop.
    Math: :class:`optimlab.rules.sparse_adam.SparseAdamRule`.
    """

    rule = RULES["sparse_adam"]

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize))
        for kind, refused in (("Sparse", lambda p: p.is_sparse), ("Complex", lambda p: p.is_complex())):
            where = [[i, j] for i, group in enumerate(self.param_groups) for j, p in enumerate(group["params"])
                     if refused(p)]
            if where:
                raise ValueError(
                    f"{kind} params at indices {where}: SparseAdam takes dense, real parameter tensors "
                    "(only their gradients are sparse)."
                )

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """Perform one optimization step; ``closure`` re-evaluates the model and returns the loss."""
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
            self._check_sparse()
            super().step()
            return loss
        self._check_sparse()
        return super().step()

    def _check_sparse(self) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None and not p.grad.is_sparse:
                    raise RuntimeError(
                        "SparseAdam does not support dense gradients, please consider Adam instead "
                        "(give the parameters with dense gradients to a separate Adam)."
                    )


__all__ = [
    "ADOPT",
    "ASGD",
    "SGD",
    "SOAP",
    "AMSGrad",
    "AdEMAMix",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "AdamWScheduleFree",
    "Adamax",
    "Lion",
    "Momentum",
    "Muon",
    "NAdam",
    "Nesterov",
    "Prodigy",
    "RAdam",
    "RMSprop",
    "Rprop",
    "RuleOptimizer",
    "SGDScheduleFree",
    "Signum",
    "SparseAdam",
]
