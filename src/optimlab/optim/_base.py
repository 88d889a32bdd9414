"""The machinery every drop-in class shares: :class:`RuleOptimizer` walks parameter groups and calls its rule."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.optim.optimizer import Optimizer

from .. import flat as _flat
from .. import fused as _fused
from ..rules import Rule, Scalar
from ..rules._math import descent_gradient
from ..rules.nadam import scalar_dtype

Params = Iterable[Tensor] | Iterable[dict[str, Any]] | Iterable[tuple[str, Tensor]]


class RuleOptimizer(Optimizer):
    """A ``torch.optim.Optimizer`` whose update is one :class:`~optimlab.rules.Rule` applied per tensor."""

    rule: ClassVar[Rule]
    """The update rule, whose :class:`~optimlab.rules.Hyper` declarations are the one schema of the class's
    hyperparameters: names, defaults, valid ranges and docs (:meth:`hyper_arguments` reads them)."""
    fixed_values: ClassVar[Mapping[str, Any]] = {}
    """Rule hyperparameters a class fixes rather than takes as arguments (AdamW: decoupled decay)."""
    argument_defaults: ClassVar[Mapping[str, Any]] = {}
    """Constructor arguments whose default is the class's own, not its rule's: torch's or the classic texts'
    (AdamW's ``weight_decay=1e-2``, Momentum's ``momentum=0.9``), or a reference library's ``None`` for a value it
    derives (SOAP's ``shampoo_beta``)."""
    optional_keys: ClassVar[frozenset[str]] = frozenset()
    """Rule hyperparameters a parameter group may lack (its torch namesake has no such key); a missing key means
    the rule's default. Either keyword-only constructor arguments that join the groups only when switched on
    (:func:`_switched_on`: Adam's ``cautious``, so a default optimizer's groups are torch's exactly), or keys taken
    only in parameter groups (Muon's auxiliary AdamW ``adam_beta1`` ...), which presets put into every group
    (:meth:`optimlab.registry.Preset.make`)."""
    class_options: ClassVar[frozenset[str]] = frozenset()
    """Constructor arguments that only the drop-in class understands (the rule, hence the population, does not)."""
    packed: ClassVar[Mapping[str, tuple[str, ...]]] = {"betas": ("beta1", "beta2")}
    """Arguments that pack several rule hyperparameters, as torch.optim writes them (``betas`` -> β₁, β₂;
    Adafactor's ``eps`` -> ε₁, ε₂)."""
    renamed: ClassVar[Mapping[str, str]] = {}
    """Rule hyperparameters the constructor takes under another name and form, converted by :meth:`rule_values`
    (ADOPT: the schedule ``clip_lambda`` for the flag ``clip``)."""

    @classmethod
    def argument_names(cls) -> dict[str, str]:
        """The argument a user types for each rule hyperparameter named otherwise (``beta1`` -> ``betas[0]``)."""
        return {
            **{h: f"{arg}[{i}]" for arg, names in cls.packed.items() for i, h in enumerate(names)},
            **cls.renamed,
        }

    @classmethod
    def hyper_arguments(cls) -> dict[str, Any]:
        """Every rule hyperparameter the class takes, as its argument (``betas``, not β₁ and β₂) with its default,
        in the rule's order: read from the rule's schema, with :attr:`argument_defaults` where the class's own
        default differs. Fixed values are left out; :attr:`optional_keys` are in (the signature may lack them)."""
        out: dict[str, Any] = {}
        for h in cls.rule.hypers:
            if h.name in cls.fixed_values:
                continue
            arg = next((a for a, names in cls.packed.items() if h.name in names), cls.renamed.get(h.name, h.name))
            if arg in cls.packed:
                members = cls.packed[arg]
                value: Any = tuple(cls.rule.hyper(n).default for n in members)
            else:
                value = h.default
            out.setdefault(arg, cls.argument_defaults.get(arg, value))
        return out

    @classmethod
    def rule_values(cls, arguments: Mapping[str, Any]) -> dict[str, Scalar]:
        """The rule's hyperparameter values from a parameter group or the constructor's arguments (packed
        arguments such as ``betas`` unpacked)."""
        values = dict(arguments)
        for arg, names in cls.packed.items():
            if arg in values:
                values.update(zip(names, values[arg], strict=True))
        out: dict[str, Scalar] = {}
        for h in cls.rule.hypers:
            if h.name in values:
                value = values[h.name]
            elif h.name in cls.optional_keys:
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
        self.rule.validate(self.group_values(group), name, self.argument_names())
        if group.get("fused") is True and not _flat.kept_ahead(self.rule, group["params"], self.group_values(group),
                                                               group):
            _fused.prepare_compiler()  # imports Inductor in the background while the model takes its first step

    def group_values(self, group: Mapping[str, Any]) -> dict[str, Scalar]:
        """The rule's hyperparameter values for one parameter group (see :meth:`rule_values`)."""
        return self.rule_values(group)

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
        flat_plans: dict[int, _flat.FlatPlan] = self.__dict__.setdefault("_flat_plans", {})
        for index, group in enumerate(self.param_groups):
            hp = self.group_values(group)
            flat_plan = flat_plans.setdefault(index, _flat.FlatPlan()) if _flat.supports(rule, hp) else None
            if flat_plan is not None:
                if flat_plan.step(rule, group, hp, self.state):
                    continue
            elif plans.setdefault(index, _fused.GroupPlan()).step(rule, group, hp, self.state):
                continue
            started = time.perf_counter()
            for p in group["params"]:
                prepared = self._prepare(p, group, hp)
                if prepared is None:
                    continue
                x, g, state, t = prepared
                rule.update(x, g, state, hp, t)
                if not state:
                    del self.state[p]
            if flat_plan is not None:
                flat_plan.timed(time.perf_counter() - started)
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
            made = self.rule.init_shared(self.group_values(first), torch.zeros((), dtype=torch.float64))
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
        hps = [{**self.group_values(group), **shared} for group in groups]
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
    """The optional flags that are true: the group keys an optimlab-only option adds (see ``optional_keys``)."""
    return {name: True for name, value in flags.items() if value}
