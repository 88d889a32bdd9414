"""The drop-in classes whose algorithm ``torch.optim`` has: same names, arguments, defaults, groups and state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor

from ..rules import RULES
from ..rules.muon import NS_COEFFICIENTS
from ._base import Params, RuleOptimizer, _switched_on


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
    optional_keys = frozenset({"cautious"})

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

    fixed_values: ClassVar[Mapping[str, Any]] = {"decoupled_weight_decay": True}
    argument_defaults: ClassVar[Mapping[str, Any]] = {"weight_decay": 1e-2}

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
    optional_keys = frozenset({"cautious"})

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
    optional_keys = frozenset({"cautious"})

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
    optional_keys = frozenset({"cautious"})

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

    fixed_values: ClassVar[Mapping[str, Any]] = {"nesterov": False}
    argument_defaults: ClassVar[Mapping[str, Any]] = {"momentum": 0.9}

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

    fixed_values: ClassVar[Mapping[str, Any]] = {"dampening": 0.0, "nesterov": True}
    argument_defaults: ClassVar[Mapping[str, Any]] = {"momentum": 0.9}

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

    fixed_values: ClassVar[Mapping[str, Any]] = {"amsgrad": True}

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
    optional_keys = frozenset({"newton_schulz_dtype", "use_muon", "adam_beta1", "adam_beta2", "adam_eps"})

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
