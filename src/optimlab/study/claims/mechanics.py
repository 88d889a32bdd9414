"""Measurements of the optimizers themselves, not of training: running the update rules on one gradient
sequence, an optimizer step's time and state memory, and how much a batch gradient varies around the full one.

* :func:`adam_decomposition`: Adam, RMSProp and heavy-ball SGD run side by side (in float64) on the same
  gradients; how far Adam's state and step are from RMSProp's second moment, SGD's momentum buffer and the
  bias-corrected ratio built from them;
* :func:`step_costs`: per optimizer, seconds per ``step()`` of its drop-in class on a real model's parameters
  (taking turns, best of several rounds), state bytes per parameter, and the cost of one gradient and of one
  Hessian-vector product (what an actual second-derivative computation costs) on the same model;
* :func:`gradient_noise`: the relative spread of batch gradients around the full-batch gradient at given
  parameters, for several batch sizes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ...problems.base import Params, Problem
from ...rules import RULES


def adam_decomposition(steps: int, dim: int = 64, seed: int = 0, beta1: float = 0.9, beta2: float = 0.999,
                       eps: float = 1e-8, lr: float = 1e-3) -> dict[str, float]:
    """Run the rules on one random gradient sequence (scale varying by coordinate and over time) and return
    the largest relative differences, over all ``steps``:

    * ``second moment``: Adam's ``exp_avg_sq`` against RMSProp's ``square_avg`` with α = β₂;
    * ``first moment``: Adam's ``exp_avg`` against SGD's momentum buffer (μ = β₁, dampening τ = β₁, so (1 − τ)·g
      enters) started
      from rest (SGD first fed one zero gradient, since torch's buffer starts at g₁, not at 0);
    * ``bias-corrected step``: Adam's step against −lr·(m/(1−β₁ᵗ))/(√(v/(1−β₂ᵗ)) + ε) built from those states;
    * ``beta1=0 vs RMSProp``: Adam with β₁ = 0, ε = 0 against RMSProp (ε = 0) whose lr is lr·√(1−β₂ᵗ);
    * ``without bias correction``: the same RMSProp at the plain lr, first step (how much the correction does);
    * ``RMSProp momentum``: Adam against torch-style RMSProp momentum (μ = β₁ on g/√v, lr·(1−β₁)), last step.
    """
    gen = torch.Generator().manual_seed(seed)
    scale = torch.logspace(-3, 1, dim, dtype=torch.float64)
    grads = [torch.randn(dim, generator=gen, dtype=torch.float64) * scale * (1 + 0.5 * math.sin(t / 7))
             for t in range(steps)]
    adam, rms, sgd = RULES["adam"], RULES["rmsprop"], RULES["sgd"]
    hp_adam = {**_defaults(adam), "lr": lr, "beta1": beta1, "beta2": beta2, "eps": eps}
    hp_rms = {**_defaults(rms), "lr": lr, "alpha": beta2, "eps": eps}
    hp_sgd = {**_defaults(sgd), "lr": lr, "momentum": beta1, "dampening": beta1}
    hp_adam0 = {**hp_adam, "beta1": 0.0, "eps": 0.0}
    hp_rms0 = {**hp_rms, "eps": 0.0}
    hp_rms_mom = {**hp_rms, "momentum": beta1, "lr": lr * (1 - beta1)}
    p = {k: torch.zeros(dim, dtype=torch.float64) for k in ("adam", "rms", "sgd", "adam0", "rms0", "plain", "rmsm")}
    s_adam, s_rms, s_sgd = adam.init_state(p["adam"], hp_adam), rms.init_state(p["rms"], hp_rms), {}
    s_adam0, s_rms0 = adam.init_state(p["adam0"], hp_adam0), rms.init_state(p["rms0"], hp_rms0)
    s_plain, s_rmsm = rms.init_state(p["plain"], hp_rms0), rms.init_state(p["rmsm"], hp_rms_mom)
    s_sgd = sgd.init_state(p["sgd"], hp_sgd)
    sgd.update(p["sgd"], torch.zeros(dim, dtype=torch.float64), s_sgd, hp_sgd, 1)  # from rest: buffer = 0
    worst = {"second moment": 0.0, "first moment": 0.0, "bias-corrected step": 0.0, "beta1=0 vs RMSProp": 0.0}
    first_plain = math.nan
    for t, g in enumerate(grads, start=1):
        before = p["adam"].clone()
        adam.update(p["adam"], g.clone(), s_adam, hp_adam, t)
        rms.update(p["rms"], g.clone(), s_rms, hp_rms, t)
        sgd.update(p["sgd"], g.clone(), s_sgd, hp_sgd, t + 1)
        m, v = s_sgd["momentum_buffer"], s_rms["square_avg"]
        built = -lr * (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + eps)
        worst["second moment"] = max(worst["second moment"], _rel(s_adam["exp_avg_sq"], v))
        worst["first moment"] = max(worst["first moment"], _rel(s_adam["exp_avg"], m))
        worst["bias-corrected step"] = max(worst["bias-corrected step"], _rel(p["adam"] - before, built))
        b0, r0 = p["adam0"].clone(), p["rms0"].clone()
        adam.update(p["adam0"], g.clone(), s_adam0, hp_adam0, t)
        rms.update(p["rms0"], g.clone(), s_rms0, {**hp_rms0, "lr": lr * math.sqrt(1 - beta2**t)}, t)
        worst["beta1=0 vs RMSProp"] = max(worst["beta1=0 vs RMSProp"], _rel(p["adam0"] - b0, p["rms0"] - r0))
        pb = p["plain"].clone()
        rms.update(p["plain"], g.clone(), s_plain, hp_rms0, t)
        if t == 1:
            first_plain = float(((p["plain"] - pb).norm() / (p["adam0"] - b0).norm()).item())
        rb = p["rmsm"].clone()
        rms.update(p["rmsm"], g.clone(), s_rmsm, hp_rms_mom, t)
        last_rmsm = _rel(p["adam"] - before, p["rmsm"] - rb)
    return {**worst, "without bias correction (step 1 size ratio)": first_plain,
            "RMSProp momentum (last step)": last_rmsm, "steps": float(steps)}


def _defaults(rule: Any) -> dict[str, Any]:
    return {h.name: h.default for h in rule.hypers}


def _rel(a: Tensor, b: Tensor) -> float:
    """‖a − b‖ / ‖b‖ (0 when both are zero)."""
    den = float(b.norm())
    num = float((a - b).norm())
    return num / den if den > 0 else num


# ---------------------------------------------------------------------------------------------- step costs


def cost_model(width: int, depth: int = 3, inputs: int = 64, seed: int = 0) -> nn.Module:
    """The model whose parameters the cost measurement steps: a tanh MLP of ``depth`` hidden layers."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    size = inputs
    for _ in range(depth):
        layers += [nn.Linear(size, width), nn.Tanh()]
        size = width
    layers.append(nn.Linear(size, 10))
    return nn.Sequential(*layers)


def step_costs(names: Sequence[str], width: int, batch: int = 64, rounds: int = 5, steps: int = 10,
               seed: int = 0) -> dict[str, Any]:
    """Per optimizer: ``seconds`` per ``step()`` (its fastest round's median; the optimizers take turns, so a burst
    of load hits them alike) and ``state_bytes_per_param`` after a step; ``gradient`` and ``hvp`` seconds: one
    forward-backward, and one Hessian-vector product (double backward) on the same model and batch."""
    from ...registry import get_preset

    model = cost_model(width, seed=seed)
    params = [p for p in model.parameters()]
    n_params = sum(p.numel() for p in params)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 64, generator=gen)
    y = torch.randint(0, 10, (batch,), generator=gen)
    loss_fn = nn.CrossEntropyLoss()
    grads = torch.autograd.grad(loss_fn(model(x), y), params)
    copies = {n: [p.detach().clone() for p in params] for n in names}
    optimizers = {}
    for n in names:
        for p, g in zip(copies[n], grads, strict=True):
            p.grad = g.clone()
        optimizers[n] = get_preset(n).make(copies[n])  # eager: these tensors are far below the fast path's size
        optimizers[n].step()  # state is created on the first step
    best = {n: math.inf for n in names}
    for _ in range(rounds):
        for n, opt in optimizers.items():
            stamps = [time.perf_counter()]
            for _ in range(steps):
                opt.step()
                stamps.append(time.perf_counter())
            best[n] = min(best[n], float(np.median(np.diff(stamps))))
    state = {n: sum(t.numel() * t.element_size() for s in opt.state.values() for t in s.values()
                    if isinstance(t, Tensor) and t.dim() > 0) / n_params for n, opt in optimizers.items()}
    grad_s, hvp_s = math.inf, math.inf
    vec = [torch.randn(p.shape, generator=gen) for p in params]
    for _ in range(rounds):
        t0 = time.perf_counter()
        torch.autograd.grad(loss_fn(model(x), y), params)
        t1 = time.perf_counter()
        first = torch.autograd.grad(loss_fn(model(x), y), params, create_graph=True)
        dot = torch.stack([(a * b).sum() for a, b in zip(first, vec, strict=True)]).sum()
        torch.autograd.grad(dot, params)
        t2 = time.perf_counter()
        grad_s, hvp_s = min(grad_s, t1 - t0), min(hvp_s, t2 - t1)
    return {"seconds": best, "state_bytes_per_param": state, "gradient": grad_s, "hvp": hvp_s,
            "params": n_params, "param_bytes": params[0].element_size()}


# ---------------------------------------------------------------------------------------------- gradient noise


def gradient_noise(problem: Problem, params: Params, batch_sizes: Sequence[int], draws: int = 32,
                   seed: int = 0) -> dict[int, float]:
    """For each batch size B: E‖g_B − g‖² / ‖g‖² over ``draws`` random batches, at ``params`` (one trial's,
    without the trial dimension); g is the full training-set gradient. Above 1, the random part of an update is
    larger than its useful part."""
    train = problem.data.train
    n = len(train)
    full = _batch_grads(problem, params, torch.arange(n).unsqueeze(0))[0]
    gen = torch.Generator().manual_seed(seed)
    out: dict[int, float] = {}
    for b in batch_sizes:
        b = min(int(b), n)
        index = torch.stack([torch.randperm(n, generator=gen)[:b] for _ in range(draws)])
        g = _batch_grads(problem, params, index)
        out[b] = float(((g - full) ** 2).sum(dim=1).mean() / (full**2).sum())
    return out


def _batch_grads(problem: Problem, params: Params, index: Tensor) -> Tensor:
    """The flattened gradient of the mean loss on each batch ``index[k]`` at ``params``: ``[K, n_params]``."""
    k = len(index)
    stacked = {name: p.detach().unsqueeze(0).expand(k, *p.shape).clone().requires_grad_(True)
               for name, p in sorted(params.items())}
    inputs, targets = problem.data.train.take(index)
    loss = problem.losses(stacked, inputs, targets).sum()
    grads = torch.autograd.grad(loss, list(stacked.values()))
    return torch.cat([g.reshape(k, -1).double() for g in grads], dim=1)


def train_minibatch(problem: Problem, seed: int, lr: float, steps: int, batch: int | None = None) -> Params:
    """One trial's parameters after ``steps`` of plain mini-batch SGD at ``lr`` (where gradient noise is read)."""
    from ...training import BatchStream

    params = {k: v.detach().clone() for k, v in problem.init_params(seed).items()}
    stream = BatchStream(len(problem.data.train), batch or problem.default_batch_size, seed)
    for _ in range(steps):
        g = _batch_grads(problem, params, stream.next().unsqueeze(0))[0]
        offset = 0
        for name in sorted(params):
            size = params[name].numel()
            params[name] -= lr * g[offset : offset + size].reshape(params[name].shape).to(params[name].dtype)
            offset += size
    return params


def finite_mapping(values: Mapping[Any, float]) -> bool:
    return all(math.isfinite(v) for v in values.values())
