"""The drop-in classes beyond ``torch.optim``, each with its reference library's names and defaults (each docstring
names the package and version)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor

from ..rules import RULES, Scalar, ScheduleFreeRule
from ..rules.adopt import clip_flag
from ..rules.adopt import clip_lambda as adopt_clip
from ._base import Params, RuleOptimizer


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

    def group_values(self, group: Mapping[str, Any]) -> dict[str, Scalar]:
        hp = super().group_values(group)
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
    renamed: ClassVar[Mapping[str, str]] = {"clip": "clip_lambda"}
    argument_defaults: ClassVar[Mapping[str, Any]] = {"clip_lambda": adopt_clip}

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
    def rule_values(cls, arguments: Mapping[str, Any]) -> dict[str, Scalar]:
        if "clip_lambda" in arguments:  # the constructor's arguments (registry presets) rather than a group
            arguments = {**arguments, "clip": clip_flag(arguments["clip_lambda"])}
        return super().rule_values(arguments)


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
            hp = self.group_values(group)
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

    def group_values(self, group: Mapping[str, Any]) -> dict[str, Scalar]:
        hp: dict[str, Any] = self.rule.resolve(super().group_values(group))
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
    argument_defaults: ClassVar[Mapping[str, Any]] = {"t_alpha_beta3": None}  # the reference's "no warm-up"

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
    def rule_values(cls, arguments: Mapping[str, Any]) -> dict[str, Any]:
        hp = super().rule_values(arguments)
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
    class_options = frozenset({"merge_dims", "data_format"})  # checked here; the rule has neither
    argument_defaults: ClassVar[Mapping[str, Any]] = {"shampoo_beta": None}  # the reference's "same as β₂"

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
    def rule_values(cls, arguments: Mapping[str, Any]) -> dict[str, Any]:
        values = dict(arguments)
        if values.get("shampoo_beta") is None:  # the reference's default: the statistics decay like V (β₂)
            values["shampoo_beta"] = values["betas"][1]
        return super().rule_values(values)
