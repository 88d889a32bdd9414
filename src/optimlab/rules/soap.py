"""SOAP (Vyas, Morwani, Zhao, Shapira, Brandfonbrener, Janson & Kakade 2024, "SOAP: Improving and Stabilizing
Shampoo using Adam", arXiv 2409.11321; Algorithms 3 and 4): Adam run in the eigenbasis of Shampoo's
preconditioner. For an m×n weight with left and right statistics L (m×m), R (n×n), eigenbases Q_L, Q_R::

    G' = Q_Lᵀ G Q_R                         (the gradient in the eigenbasis)
    M  = β₁·M + (1 − β₁)·G                  (first moment, kept in the parameter's own basis)
    M' = Q_Lᵀ M Q_R
    V  = β₂·V + (1 − β₂)·G'⊙G'              (second moment, in the eigenbasis)
    N  = Q_L (M' / (√V + ε)) Q_Rᵀ
    W  = W − η·N
    L  = β_s·L + (1 − β_s)·G Gᵀ ;   R = β_s·R + (1 − β_s)·Gᵀ G      (β_s = ``shampoo_beta``, by default β₂)
    every f steps:  Q_L ← QR(L Q_L),  Q_R ← QR(R Q_R)             (one power iteration, Algorithm 4)

A tensor with any number of dimensions gets one statistic per dimension (the contraction of G with itself over
every other dimension) and one rotation per dimension; a dimension longer than ``max_precondition_dim`` is not
rotated (identity). A 1-D tensor (a bias) is not rotated unless ``precondition_1d=True``: it then runs plain Adam.
In the population (``p[K, ...]``, :meth:`Rule.trial_dims` = 1) every statistic, eigendecomposition and QR is
batched over the trial dimension (``L[K, m, m]``): no trial's numbers enter another's.

What the box leaves open, done as the authors' code (``nikhilvyas/SOAP``, which pytorch_optimizer 4.1.0 follows):

* step 1 only collects L, R from the first gradient and takes the first bases by ``eigh`` (eigenvalues in
  descending order; 1e-30·I added to L, R as they do); the parameters, M and V first move at step 2, and the
  bias corrections count Adam steps from there (n = t − 1);
* bias correction (``correct_bias=True``): η·√(1 − β₂ⁿ)/(1 − β₁ⁿ) multiplies N, ε is added to √V unscaled;
* at a refresh the columns of L Q are ordered by the estimated eigenvalues diag(Qᵀ L Q) (largest first) before
  the QR, and V's rows/columns are permuted the same way, so that V stays attached to its eigenvectors;
* decoupled weight decay W ← W·(1 − η·λ) after the step (the AdamW form, on the updated W);
* ``normalize_gradient=True`` divides N by its RMS (+ε) before the step.

Departures from that code: the QR runs in the parameter's precision (float64 for float64 parameters); the
reference casts to float32 (a bfloat16 workaround), reproduced by ``float32_qr=True``. Steps are counted per
tensor (torch.optim's convention) where pytorch_optimizer counts per parameter group: the same whenever every
tensor gets a gradient at every step; a tensor whose first gradient comes later takes its basis-only first
step then, where the reference would step it at once with the group's count in the bias corrections.

The refresh "every f steps" (and the first basis) depends on the step count. With Python numbers (the drop-in
classes) it is a Python ``if``. Where the count is a tensor (the compiled path) or f differs per trial (the
population) it runs inside one custom operation (``optimlab::soap_update_bases``), opaque to ``torch.compile``,
whose Python branch asks whether any trial is due; each trial then keeps its old basis unless its own count is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor

from . import _common_hypers as common
from ._base import Hyper, Rule, Scalar, State
from ._math import add_scaled_, bias_correction, decoupled_decay_, ema_, zeros_state

Flag = bool | Tensor


class SOAPRule(Rule):
    name = "soap"
    hypers = (
        common.lr(3e-3),
        common.beta("beta1", 0.95),
        common.beta("beta2", 0.95),
        common.beta("shampoo_beta", 0.95),
        dataclasses.replace(common.WEIGHT_DECAY, default=1e-2),  # pytorch_optimizer's default, as the class's
        Hyper("precondition_frequency", 10, low=1.0, doc="steps between eigenbasis refreshes (an integer)"),
        Hyper("max_precondition_dim", 10000, low=1.0, doc="longest dimension that gets a rotation (an integer)"),
        Hyper("precondition_1d", False, structural=True, doc="rotate 1-D tensors too"),
        Hyper("correct_bias", True, structural=True, doc="Adam's bias corrections"),
        Hyper("normalize_gradient", False, structural=True, doc="divide the update by its RMS"),
        common.eps(1e-8),
        Hyper("float32_qr", False, structural=True, doc="QR in float32, as pytorch_optimizer and the authors' code"),
    )

    def check_combination(self, hp: Mapping[str, object], owner: str) -> None:
        for name in ("precondition_frequency", "max_precondition_dim"):
            value = hp.get(name, 1)
            whole = bool((value == value.round()).all()) if isinstance(value, Tensor) else float(value).is_integer()  # type: ignore[arg-type]
            if not whole:
                raise ValueError(f"Invalid {name}={value!r} for {owner}: must be a whole number.")

    def init_state(self, p: Tensor, hp: Mapping[str, Scalar]) -> dict[str, Tensor]:
        t = Rule.trial_dims(hp)
        limit = hp["max_precondition_dim"]
        if isinstance(limit, Tensor):  # the population: a structural choice, so one value for every trial
            if bool((limit != limit.reshape(-1)[0]).any()):
                raise ValueError("SOAP: max_precondition_dim must be the same for every trial of a population.")
            limit = limit.reshape(-1)[0].item()
        shape = p.shape[t:]
        state = {"exp_avg": zeros_state(p), "exp_avg_sq": zeros_state(p)}
        if len(shape) == 1 and not hp["precondition_1d"]:
            return state
        basis_dtype = _basis_dtype(p.dtype)
        for i, d in enumerate(shape):
            if d <= limit:
                state[f"GG{i}"] = p.new_zeros((*p.shape[:t], d, d), dtype=basis_dtype)
                # Column-major, as LAPACK returns eigenvectors and Q factors: the products with Q then run the
                # same BLAS path as the reference's (see _project).
                state[f"Q{i}"] = p.new_zeros((*p.shape[:t], d, d), dtype=basis_dtype).mT
        return state

    def update(self, p: Tensor, g: Tensor, state: State, hp: Mapping[str, Scalar], step: int) -> None:
        t = Rule.trial_dims(hp)
        dims = [i for i in range(p.dim() - t) if f"Q{i}" in state]
        stats = [state[f"GG{i}"] for i in dims]
        bases = [state[f"Q{i}"] for i in dims]
        first: Flag = step == 1  # a 0-d tensor on the compiled path, where the step count is a tensor
        if isinstance(first, Tensor) or not first:
            _adam_step(p, g, state, hp, step - 1, dims, bases, first, t)
        shampoo_beta = _per_matrix(hp["shampoo_beta"], t)
        for i, stat in zip(dims, stats, strict=True):
            ema_(stat, _outer(g, i, t).to(stat.dtype), shampoo_beta)
        if not dims:
            return
        count = step - 1
        due: Flag = (count > 0) & (count % hp["precondition_frequency"] == 0)
        float32_qr = bool(hp["float32_qr"])
        if isinstance(first, Tensor) or isinstance(due, Tensor):  # the compiled path, or per-trial periods
            _update_bases_op(_as_tensor(first), _as_tensor(due), stats, bases, state["exp_avg_sq"], dims, t, float32_qr)
        else:
            _update_bases(first, due, stats, bases, state["exp_avg_sq"], dims, t, float32_qr)


def _adam_step(
    p: Tensor, g: Tensor, state: State, hp: Mapping[str, Scalar], n: int, dims: Sequence[int],
    bases: Sequence[Tensor], first: Flag, t: int,
) -> None:
    """Adam in the eigenbasis (Algorithm 3's first half); ``n`` counts Adam steps. With a tensor ``first``
    (the compiled path) the step is computed and then undone where it is step 1."""
    lr, beta1, beta2, eps = hp["lr"], hp["beta1"], hp["beta2"], hp["eps"]
    skip = isinstance(first, Tensor)
    keep = (~first).to(p.dtype) if isinstance(first, Tensor) else 1.0
    before = p.clone() if skip else p
    rotated = _project(g, dims, bases, t, forward=True)
    exp_avg = ema_(state["exp_avg"], g, (1 - keep) + keep * beta1 if skip else beta1)  # β = 1 on step 1: unchanged
    second = ema_(state["exp_avg_sq"], rotated * rotated, (1 - keep) + keep * beta2 if skip else beta2)
    denom = second.sqrt().add_(eps)
    direction = _project(_project(exp_avg, dims, bases, t, forward=True) / denom, dims, bases, t, forward=False)
    if hp["normalize_gradient"]:
        axes = tuple(range(t, p.dim()))
        rms = direction.square().mean(dim=axes, keepdim=True).sqrt() if axes else direction.abs()
        direction = direction / (rms + eps)
    step_size = lr
    if hp["correct_bias"]:
        step_size = lr * (bias_correction(beta2, n) ** 0.5 / bias_correction(beta1, n))
    add_scaled_(p, direction, -step_size)
    decoupled_decay_(p, lr, hp["weight_decay"])  # after the step, as the authors' code
    if isinstance(first, Tensor):
        p.copy_(torch.where(first, before, p))


def _basis_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64; half precisions get float32 bases (eigh and QR need at least float32)."""
    return dtype if dtype in (torch.float32, torch.float64) else torch.float32


def _per_matrix(x: Scalar, t: int) -> Scalar:
    """A per-trial value broadcast over ``p[K, ...]`` ([K, 1, ...]) reshaped to broadcast over ``[K, d, d]``."""
    if isinstance(x, Tensor) and x.dim() > 0:
        return x.reshape(*x.shape[:t], 1, 1)
    return x


def _as_tensor(flag: Flag) -> Tensor:
    return flag if isinstance(flag, Tensor) else torch.tensor(flag)


def _write(targets: Sequence[Tensor], values: Sequence[Tensor]) -> None:
    """Copy new bases (and V) into the state tensors, which stay the same objects (the compiled path needs it)."""
    for old, new in zip(targets, values, strict=True):
        if new is not old:
            old.copy_(new)


def _update_bases(
    first: bool, due: Flag, stats: Sequence[Tensor], bases: Sequence[Tensor], second: Tensor, dims: Sequence[int],
    t: int, float32_qr: bool,
) -> None:
    """The first bases (step 1, by eigh), or Algorithm 4's refresh where a trial is due; in place."""
    if first:
        _write(bases, _eigenbases(*stats))
        return
    if isinstance(due, Tensor):
        if not bool(due.any()):
            return
        mask = due
    elif not due:
        return
    else:
        mask = torch.tensor(True)
    _write((*bases, second), _refresher(dims, t, float32_qr)(*bases, second, *stats, mask))


@torch.library.custom_op("optimlab::soap_update_bases", mutates_args=("bases", "second"))
def _update_bases_op(
    first: Tensor, due: Tensor, stats: list[Tensor], bases: list[Tensor], second: Tensor, dims: list[int], t: int,
    float32_qr: bool,
) -> None:
    """:func:`_update_bases` as one opaque operation, for the compiled path: whether to refresh depends on the
    step count, a tensor there, and a Python branch on it would break the graph (``fullgraph=True`` forbids
    that). Inside the op the branch is plain Python, and eigh/QR run eagerly on the real tensors. (torch.cond
    was tried first: on torch 2.13 Inductor mispredicted the layout of its operands, which silently gave wrong
    steps with fused.py's size asserts off.) Costs one op call per tensor and step."""
    _update_bases(bool(first.any()), due, stats, bases, second, dims, t, float32_qr)


@_update_bases_op.register_fake
def _(
    first: Tensor, due: Tensor, stats: list[Tensor], bases: list[Tensor], second: Tensor, dims: list[int], t: int,
    float32_qr: bool,
) -> None:
    return None


def _eigenbases(*stats: Tensor) -> tuple[Tensor, ...]:
    """The first bases: eigenvectors of each statistic, largest eigenvalue first."""
    out = []
    for stat in stats:
        eye = torch.eye(stat.shape[-1], dtype=stat.dtype, device=stat.device)
        # A diverged trial's non-finite statistic would make eigh raise for the whole batch; its numbers no
        # longer matter (the population freezes it), the other trials' must not be stopped.
        stat = torch.where(torch.isfinite(stat), stat, 0.0)
        _, vectors = torch.linalg.eigh(stat + 1e-30 * eye)
        out.append(vectors.flip(-1))
    return tuple(out)


def _refresher(dims: Sequence[int], t: int, float32_qr: bool) -> Callable[..., tuple[Tensor, ...]]:
    """Algorithm 4 for every rotated dimension: Q ← QR(sorted columns of L·Q), V permuted to match."""
    k = len(dims)

    def refresh(*args: Tensor) -> tuple[Tensor, ...]:
        bases, second, stats, due = args[:k], args[k], args[k + 1 : 2 * k + 1], args[2 * k + 1]
        rows = due.reshape(*due.shape[:t], 1, 1) if due.dim() else due  # a trial's basis refreshes when it is due
        out, permuted = [], second
        for i, stat, basis in zip(dims, stats, bases, strict=True):
            product = stat @ basis
            order = torch.argsort((basis * product).sum(dim=-2), dim=-1, descending=True)
            view = order.reshape(*order.shape[:-1], *([1] * i), order.shape[-1], *([1] * (second.dim() - t - i - 1)))
            permuted = permuted.gather(t + i, view.expand_as(permuted))
            columns = product.gather(-1, order.unsqueeze(-2).expand_as(product))
            q = torch.linalg.qr(columns.float() if float32_qr else columns).Q.to(basis.dtype)
            out.append(torch.where(rows, q, basis))
        return (*out, torch.where(due, permuted, second))

    return refresh


def _outer(g: Tensor, i: int, t: int) -> Tensor:
    """The statistic of dimension ``i``: G contracted with itself over every other dimension ([*trials, d, d])."""
    if t == 0:  # contracted as the reference does, so that float32_qr sees the same bits (see _project)
        others = [j for j in range(g.dim()) if j != i]
        return torch.tensordot(g, g, dims=(others, others))
    x = g.movedim(t + i, -1)
    x = x.reshape(*g.shape[:t], -1, x.shape[-1])
    return x.mT @ x


def _project(x: Tensor, dims: Sequence[int], bases: Sequence[Tensor], t: int, forward: bool) -> Tensor:
    """Rotate each dimension ``i`` of ``x`` by its basis: into the eigenbasis (Qᵀ·) or back (Q·).

    Outside the population the contraction runs dimension by dimension with ``tensordot`` exactly as
    pytorch_optimizer does: the same matrix products bit for bit, which ``float32_qr=True`` needs to match it
    (a last-bit difference in float64 becomes a float32 rounding difference in Q, ~1e-7, which then grows).
    """
    if t == 0:
        rotated = dict(zip(dims, bases, strict=True))
        for i in range(x.dim()):
            q = rotated.get(i)
            if q is None:
                x = x.permute(*range(1, x.dim()), 0)
            else:
                x = torch.tensordot(x, q.to(x.dtype), dims=([0], [0 if forward else 1]))
        return x
    for i, basis in zip(dims, bases, strict=True):
        y = x.movedim(t + i, -1)
        shape = y.shape
        y = y.reshape(*x.shape[:t], -1, shape[-1]) @ (basis.to(x.dtype) if forward else basis.to(x.dtype).mT)
        x = y.reshape(shape).movedim(-1, t + i)
    return x
