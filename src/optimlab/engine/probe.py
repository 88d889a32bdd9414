"""Can the population batch this problem's model? One probe per problem, its verdict kept on the problem.

For a :class:`~optimlab.problems.base.ModuleProblem` the probe asks two questions, on two examples:

1. Does training change the module's buffers? A fresh module (built as the problem builds one) runs one
   training-mode forward pass and its buffers are compared before and after. This catches BatchNorm running
   statistics and any other buffer a forward pass writes (a custom counter, a running mean), which a check of
   module types (``track_running_stats``) would miss; in the population such buffers would be one tensor shared by
   every trial, so those models train trial by trial, each with its own buffers.
2. Does vmap over two stacked trials run the forward and backward pass? It does not for GRU/LSTM/RNN kernels
   (``Batching rule not implemented for aten::gru.input``), for dropout and other random operations (vmap refuses
   randomness by default) or for autograd functions without a vmap rule. The module running when the error was
   raised is named in the verdict.

A model that fails outside vmap too (a shape mismatch ...) is the user's to fix: :class:`ModelError`.
Other problems (surfaces, hand-written batched problems) are batched by construction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..errors import UserError
from ..problems.base import ModuleProblem, Problem
from ..training import stack_params

PROBE_EXAMPLES = 2
"""Examples per trial in the probe's forward and backward pass (two: BatchNorm refuses one example per channel)."""


class ModelError(UserError):
    """The model does not run on its own training data, batched or not."""


@dataclass(frozen=True)
class Verdict:
    """Whether the population can train the problem's trials, and if not, why (a phrase for the notice)."""

    batched: bool
    reason: str = ""


def probe(problem: Problem) -> Verdict:
    """The problem's verdict, measured on the first call and kept on the problem (``problem.executor_verdict``)."""
    known = problem.__dict__.get("executor_verdict")
    if isinstance(known, Verdict):
        return known
    verdict = _probe_module(problem) if isinstance(problem, ModuleProblem) else Verdict(True)
    problem.__dict__["executor_verdict"] = verdict
    return verdict


def _probe_module(problem: ModuleProblem) -> Verdict:
    n = min(PROBE_EXAMPLES, len(problem.data.train))
    inputs, targets = problem.data.train.take(torch.arange(n))
    changed = _changed_buffer(problem, inputs, targets)
    if changed is not None:
        return Verdict(False, changed)
    two = stack_params([problem.init_params(seed) for seed in (0, 1)])
    stacked = {name: p.requires_grad_(True) for name, p in two.items()}
    with torch.random.fork_rng(devices=[]), _innermost_module(problem.module) as running:
        try:
            losses = problem.losses(stacked, inputs.expand(2, *inputs.shape), targets.expand(2, *targets.shape))
            torch.autograd.grad(losses.sum(), list(stacked.values()), allow_unused=True)
        except Exception as exc:  # vmap's refusals are RuntimeErrors, but a model may raise anything under vmap
            return Verdict(False, _why_not_batched(exc, running[-1] if running else None))
    return Verdict(True)


def _changed_buffer(problem: ModuleProblem, inputs: Tensor, targets: Tensor) -> str | None:
    """Why training changes a buffer (the module and the buffer named), or None if no buffer changes."""
    with torch.random.fork_rng(devices=[]):
        module = problem.make_module()
        module.train()
        before = {name: b.clone() for name, b in module.named_buffers()}
        try:
            problem.loss_fn(module(inputs), targets).backward()
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ModelError(
                f"The model of problem {problem.name!r} fails on {len(inputs)} training examples: "
                f"{type(exc).__name__}: {first}"
            ) from exc
    for name, buffer in module.named_buffers():
        if name in before and not _same(before[name], buffer):
            owner = module.get_submodule(name.rpartition(".")[0]) if "." in name else module
            return f"the model's {type(owner).__name__} updates its buffer {name!r} while training"
    return None


def _same(a: Tensor, b: Tensor) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b) or (a.isnan() & b.isnan()).all())


@contextmanager
def _innermost_module(root: nn.Module) -> Iterator[list[nn.Module]]:
    """A stack of the modules whose forward pass is running (the last one is the innermost), kept by hooks."""
    running: list[nn.Module] = []  # a forward pass that raises never reaches its exit hook: it stays here

    def enter(module: nn.Module, args: object) -> None:
        running.append(module)

    def leave(module: nn.Module, args: object, output: object) -> None:
        running.pop()

    handles = []
    for module in root.modules():
        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(leave))
    try:
        yield running
    finally:
        for handle in handles:
            handle.remove()


def _why_not_batched(exc: BaseException, module: nn.Module | None) -> str:
    text = " ".join(str(exc).split())
    who = f"the model's {type(module).__name__}" if module is not None else "the model"
    op = re.search(r"Batching rule not implemented for (aten::\w+(?:\.\w+)?)", text)
    if op:
        return f"{who} has no batched (vmap) kernel ({op.group(1)})"
    if "randomness" in text:
        return f"{who} draws random numbers, which one batched (vmap) pass cannot draw for each trial apart"
    if "autograd.Function" in text:
        return f"{who} uses a custom autograd Function without a vmap rule"
    first = re.split(r"(?<=\.)\s", text, maxsplit=1)[0][:160]
    return f"{who} cannot run batched (vmap): {type(exc).__name__}: {first}"
