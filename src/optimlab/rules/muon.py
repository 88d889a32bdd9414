"""Muon: momentum orthogonalized by Newton–Schulz (K. Jordan et al. 2024, "Muon: An optimizer for hidden layers
in neural networks", kellerjordan.github.io/posts/muon; the ``match_rms_adamw`` scale from J. Liu et al. 2025,
"Muon is Scalable for LLM Training", arXiv:2502.16982, §2.2)::

    Bₜ = μ·Bₜ₋₁ + (1 − μ)·gₜ                      (momentum, as an average: see the departures)
    B̃ₜ = (1 − μ)·gₜ + μ·Bₜ   if nesterov,  else Bₜ
    Oₜ = NSₖ(B̃ₜ)                                  k Newton–Schulz steps toward U·Vᵀ of B̃ₜ = U·S·Vᵀ
    θₜ = θₜ₋₁·(1 − η·λ) − η·s(A, B)·Oₜ           θ is A×B; s = √max(1, A/B)  ("original", the default)
                                                              s = 0.2·√max(A, B)   ("match_rms_adamw", Liu et al.)

    NSₖ(X): X ← X/‖X‖_F (the wide orientation: transposed when A > B), then k times
            X ← a·X + (b·XXᵀ + c·(XXᵀ)²)·X     with (a, b, c) = (3.4445, −4.7750, 2.0315)

The quintic's coefficients maximise its slope at zero, so five steps push every singular value into about
[0.7, 1.2] rather than exactly to 1 (Jordan: no loss in model quality, and five steps suffice).

What runs on which parameter (one rule, by the parameter's own shape ``p.shape[trial_dims:]``):

* a matrix (2-D): Muon as above; this is everything ``torch.optim.Muon`` accepts, computed as it does;
* a tensor of more dimensions (a convolution's [out, in, kh, kw]): Muon on its [out, in·kh·kw] flattening, as
  Jordan's reference flattens conv filters; the scale s comes from the flattened shape (torch rejects such
  tensors; Jordan's code scales by the last two dimensions, kh/kw, which is 1 for square kernels);
* a vector or scalar (biases, LayerNorm gains — and on the 2-D surfaces every point, a [K, 2] vector): AdamW,
  the math of :class:`~optimlab.rules.adam.AdamRule`, with the same η and λ, β = (``adam_beta1``, ``adam_beta2``)
  = (0.9, 0.95) and ε = ``adam_eps`` = 1e-10 (the defaults of Jordan's ``MuonWithAuxAdam``). On the surfaces
  Muon therefore *is* AdamW with those betas: orthogonalizing a 1×2 "matrix" would only normalize it;
* ``use_muon=False`` (a parameter-group key, as in ``MuonWithAuxAdam``): AdamW on every tensor of the group.
  Jordan's recipe gives embeddings and the output head AdamW; they are 2-D, so only the user can tell them apart:
  put them in such a group. The population, which sees tensors only, runs Muon on every matrix.

Departures, as in torch.optim (torch 2.13) and Jordan's code: the momentum is an average (``lerp``), where the
blog writes Bₜ = μBₜ₋₁ + gₜ — a factor 1/(1 − μ) that the normalisation inside NS removes, except for how ε
compares with ‖B̃‖; Newton–Schulz runs in bfloat16 whatever the parameter's dtype (``newton_schulz_dtype``,
a parameter-group key, selects float32 or the parameter's own dtype instead: the float64 transcription of the
algorithm in the tests uses "param"); weight decay is decoupled and uses η, not the adjusted η·s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, cast

import torch
from torch import Tensor

from . import _common_hypers as common
from ._base import Hyper, Rule, Scalar, State
from ._math import decoupled_decay_, zeros_state
from .adam import AdamRule

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
_DTYPES = {"bfloat16": torch.bfloat16, "float32": torch.float32}
_ADAM = AdamRule()


def newton_schulz(m: Tensor, coefficients: Sequence[float], steps: int, eps: Scalar, dtype: torch.dtype) -> Tensor:
    """NSₖ of every trailing matrix of ``m[..., A, B]`` (leading dimensions batch: trials), computed in ``dtype``.

    Each matrix is transposed to its wide orientation and divided by its own Frobenius norm (at least ``eps``),
    so no matrix's numbers enter another's. A 2-D ``m`` takes exactly torch.optim.Muon's operations.
    """
    a, b, c = coefficients
    x = m.to(dtype, copy=True)
    tall = m.size(-2) > m.size(-1)
    if tall:
        x = x.mT
    if isinstance(eps, Tensor):
        eps = eps.to(dtype)
    x = x.div_(torch.linalg.vector_norm(x, dim=(-2, -1), keepdim=True).clamp(min=eps))
    fma = torch.addmm if x.dim() == 2 else torch.baddbmm  # bit-identical per matrix (checked in the tests)
    if x.dim() > 3:
        x = x.reshape(-1, *x.shape[-2:])
    for _ in range(steps):
        gram = x @ x.mT
        poly = fma(gram, gram, gram, beta=b, alpha=c)
        x = fma(x, poly, x, beta=a)
    if tall:
        x = x.mT
    return x.reshape(m.shape).contiguous()


@torch.library.custom_op("optimlab::newton_schulz", mutates_args=())
def _newton_schulz_op(m: Tensor, coefficients: list[float], steps: int, eps: Tensor, dtype: torch.dtype) -> Tensor:
    return newton_schulz(m, coefficients, steps, eps, dtype)


@_newton_schulz_op.register_fake
def _(m: Tensor, coefficients: list[float], steps: int, eps: Tensor, dtype: torch.dtype) -> Tensor:
    return m.new_empty(m.shape, dtype=dtype)


def orthogonalize(m: Tensor, coefficients: Sequence[float], steps: int, eps: Scalar, dtype: torch.dtype) -> Tensor:
    """:func:`newton_schulz`; inside ``torch.compile`` (``fused=True``) an opaque operator, so that Inductor
    neither fuses nor re-rounds the low-precision iteration and the compiled step equals the eager one."""
    if torch.compiler.is_compiling():
        eps_t = eps if isinstance(eps, Tensor) else torch.tensor(eps, dtype=torch.float64)
        return torch.ops.optimlab.newton_schulz(m, [float(v) for v in coefficients], steps, eps_t, dtype)
    return newton_schulz(m, coefficients, steps, eps, dtype)


def lr_scale(rows: int, cols: int, adjust_lr_fn: str | None) -> float:
    """s(A, B): Jordan's √max(1, A/B) (``None``/"original") or Liu et al.'s 0.2·√max(A, B) ("match_rms_adamw")."""
    if adjust_lr_fn == "match_rms_adamw":
        return 0.2 * math.sqrt(max(rows, cols))
    return math.sqrt(max(1, rows / cols))


def _matrix_hyper(x: Scalar, trial_dims: int) -> Scalar:
    """A per-trial hyperparameter shaped [K, 1, ..., 1] for p, reshaped for p's [K, A, B] flattening."""
    if isinstance(x, Tensor) and x.dim() > trial_dims + 2:
        return x.reshape(*x.shape[:trial_dims], 1, 1)
    return x


class MuonRule(Rule):
    name = "muon"
    supports_complex = False  # as torch.optim.Muon: a complex matrix is not a pair of real ones
    counts_steps = False  # torch.optim.Muon keeps no step count (the AdamW part counts its own: "adam_step")
    hypers = (
        common.lr(1e-3),
        Hyper("weight_decay", 0.1, low=0.0, doc="decoupled weight decay coefficient (θ ← θ·(1 − η·λ))"),
        # μ = 1 would freeze the average at zero; torch accepts any μ >= 0, optimlab keeps it an average.
        Hyper("momentum", 0.95, low=0.0, high=1.0, high_open=True, doc="momentum average's decay rate μ"),
        Hyper("nesterov", True, structural=True, doc="orthogonalize (1 − μ)·g + μ·B instead of B (Nesterov)"),
        Hyper("ns_coefficients", NS_COEFFICIENTS, structural=True, doc="(a, b, c) of the quintic iteration"),
        # ε = 0 would divide a zero gradient by zero; torch does not check ε.
        Hyper("eps", 1e-7, low=0.0, low_open=True, doc="lower bound of the norm that scales the matrix"),
        Hyper("ns_steps", 5, low=0, high=99, structural=True, doc="number of Newton–Schulz steps k"),
        Hyper("adjust_lr_fn", None, structural=True, choices=(None, "original", "match_rms_adamw"),
              doc="the learning-rate scale s(A, B): Jordan's (None = 'original') or Liu et al.'s"),
        Hyper("newton_schulz_dtype", "bfloat16", structural=True, choices=("bfloat16", "float32", "param"),
              doc="the dtype Newton–Schulz runs in ('param': the parameter's own, e.g. float64)"),
        Hyper("use_muon", True, structural=True, doc="False: AdamW on every tensor (embeddings, output heads)"),
        common.beta("adam_beta1", 0.9),
        common.beta("adam_beta2", 0.95),
        Hyper("adam_eps", 1e-10, low=0.0, doc="the AdamW part's ε (vectors, use_muon=False groups)"),
    )

    def _runs_adam(self, p: Tensor, hp: Mapping[str, Any]) -> bool:
        return not hp["use_muon"] or p.dim() - self.trial_dims(hp) < 2

    def init_state(self, p: Tensor, hp: Mapping[str, Scalar]) -> dict[str, Tensor]:
        if self._runs_adam(p, hp):
            return {"adam_step": p.new_zeros(()), **_ADAM.init_state(p, {"amsgrad": False})}
        return {"momentum_buffer": zeros_state(p)}

    def update(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Any], step: int) -> None:
        if self._runs_adam(p, hp):
            self._adamw(p, g, state, hp)
            return
        lr, mu, td = hp["lr"], hp["momentum"], self.trial_dims(hp)
        buf = state["momentum_buffer"]
        buf.lerp_(g, 1 - mu)  # an average (torch, Jordan's code); the blog sums: B = μB + g
        m = g.lerp(buf, mu) if hp["nesterov"] else buf
        rows, cols = p.shape[td], math.prod(p.shape[td + 1:])
        m = m.reshape(*p.shape[:td], rows, cols)  # conv filters: [out, in·kh·kw], as Jordan's reference
        name = hp["newton_schulz_dtype"]
        dtype = p.dtype if name == "param" else _DTYPES[name]
        eps = _matrix_hyper(hp["eps"], td)
        o = orthogonalize(m, hp["ns_coefficients"], hp["ns_steps"], eps, dtype).reshape(p.shape)
        decoupled_decay_(p, lr, hp["weight_decay"])  # with η itself (not η·s), as torch.optim.Muon
        step_size = lr * lr_scale(rows, cols, hp["adjust_lr_fn"])
        if isinstance(step_size, Tensor):
            p.addcmul_(o.to(p.dtype), step_size, value=-1)
        else:
            p.add_(o, alpha=-step_size)  # the bfloat16 result promotes exactly as in torch.optim.Muon

    def _adamw(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Any]) -> None:
        """The vectors' (and ``use_muon=False`` groups') AdamW: optimlab's Adam rule, decoupled decay."""
        count = state["adam_step"]
        count += 1
        adam = {
            "lr": hp["lr"], "beta1": hp["adam_beta1"], "beta2": hp["adam_beta2"], "eps": hp["adam_eps"],
            "weight_decay": hp["weight_decay"], "amsgrad": False, "decoupled_weight_decay": True,
            "cautious": False,
        }
        # The count is a tensor (no .item(): the compiled path keeps it in the graph); Adam's bias corrections
        # are plain arithmetic on it.
        _ADAM.update(p, g, state, adam, cast(int, count.to(p.dtype)))
