"""`Problem`: something a population of trials minimizes, with data splits and evaluation metrics.

A problem gives, for a trial's seed, the initial parameters; for stacked parameters ``{name: [K, ...]}`` and
per-trial batches ``inputs[K, B, ...]``/``targets[K, B, ...]``, the loss of every trial at once (``[K]``); and
metrics on held-out data. Most problems are a :class:`ModuleProblem`: any ``nn.Module`` factory, a dataset
and a loss, batched over trials with ``torch.func.vmap`` over ``functional_call``.

Bring your own problem::

    import torch
    from torch import nn
    from optimlab.problems.base import Data, ModuleProblem, Split, accuracy

    def my_problem() -> ModuleProblem:
        x, y = torch.randn(600, 20), torch.randint(0, 3, (600,))
        data = Data(train=Split(x[:400], y[:400]), valid=Split(x[400:500], y[400:500]),
                    test=Split(x[500:], y[500:]))
        return ModuleProblem(
            name="my-mlp",
            make_module=lambda: nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 3)),
            data=data,
            loss_fn=nn.functional.cross_entropy,
            metrics={"accuracy": accuracy},
            default_steps=300,
            default_batch_size=32,
        )
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from ..errors import DataError

Params = dict[str, Tensor]
MetricFn = Callable[[Tensor, Tensor], Tensor]
"""``metric(outputs, targets) -> scalar`` for one trial's batch (vmapped over trials by the problem)."""


@dataclass(frozen=True)
class Split:
    """Inputs and targets of one data split (first dimension: examples)."""

    inputs: Tensor
    targets: Tensor

    def __post_init__(self) -> None:
        if len(self.inputs) != len(self.targets):
            raise DataError(f"A split has {len(self.inputs)} inputs but {len(self.targets)} targets.")
        if len(self.inputs) == 0:
            raise DataError("A data split is empty.")

    def __len__(self) -> int:
        return len(self.inputs)

    def take(self, index: Tensor) -> tuple[Tensor, Tensor]:
        """The examples at ``index`` (``[B]`` or ``[K, B]``): ``(inputs[index], targets[index])``.

        Every executor reads batches through this method, so a split backed by a dataset that is not held in
        memory only has to provide it (and ``len``).
        """
        return self.inputs[index], self.targets[index]


@dataclass(frozen=True)
class Data:
    train: Split
    valid: Split
    test: Split

    def split(self, name: str) -> Split:
        if name not in ("train", "valid", "test"):
            raise ValueError(f"Unknown split {name!r}: use train, valid or test.")
        split: Split = getattr(self, name)
        return split


class Problem:
    """The interface the population engine trains on. See :class:`ModuleProblem` for the usual case."""

    name: str
    data: Data
    default_steps: int
    default_batch_size: int
    metric_goals: Mapping[str, Literal["min", "max"]]
    """Every metric :meth:`evaluate` returns and whether lower or higher is better; ``loss`` comes first."""
    source: tuple[str, dict[str, object]] | None = None
    """How to build this problem again in another process: ``(name, options)`` for
    :func:`~optimlab.problems.catalog.get_problem` (a catalog name or ``"file.py:function"``); set by it."""

    def init_params(self, seed: int) -> Params:
        """One trial's initial parameters; the same seed always gives the same values."""
        raise NotImplementedError

    def losses(self, params: Params, inputs: Tensor, targets: Tensor) -> Tensor:
        """Mean training loss of each trial on its own batch: params/batches ``[K, ...]`` -> ``[K]``."""
        raise NotImplementedError

    def shared_losses(self, params: Params, inputs: Tensor, targets: Tensor) -> Tensor:
        """Like :meth:`losses` when every trial sees the same batch ``inputs[B, ...]`` (full batch, one seed).

        Override it where sharing the batch is cheaper than copying it K times (see :class:`ModuleProblem`).
        """
        k = len(next(iter(params.values())))
        return self.losses(params, inputs.expand(k, *inputs.shape), targets.expand(k, *targets.shape))

    def evaluate(self, params: Params, split: str, max_examples: int | None = None) -> dict[str, Tensor]:
        """Every metric in :attr:`metric_goals` for every trial on a whole split (``[K]`` each)."""
        raise NotImplementedError


def accuracy(outputs: Tensor, targets: Tensor) -> Tensor:
    """Fraction of examples whose arg-max class is the target."""
    return (outputs.argmax(dim=-1) == targets).to(outputs.dtype).mean()


@dataclass
class ModuleProblem(Problem):
    """A problem made of an ``nn.Module`` factory, data and a loss; batched over trials with vmap.

    ``loss_fn(outputs, targets)`` returns the mean loss of one trial's batch. ``metrics`` are extra
    evaluation metrics (``accuracy`` ...), each with its goal in ``goals`` (default ``"max"``); ``loss`` is
    always evaluated. ``from_loss`` derives metrics from the split's mean loss (perplexity = exp(loss)).

    Any module works: one vmap can batch trains as a population; one with buffers that training changes
    (BatchNorm running statistics), dropout, RNN kernels (GRU, LSTM) or custom autograd functions trains trial by
    trial, each trial on its own module (:mod:`optimlab.engine.probe` chooses, once per problem).
    """

    name: str
    make_module: Callable[[], nn.Module]
    data: Data
    loss_fn: Callable[[Tensor, Tensor], Tensor]
    metrics: Mapping[str, MetricFn] = field(default_factory=dict)
    from_loss: Mapping[str, Callable[[Tensor], Tensor]] = field(default_factory=dict)
    goals: Mapping[str, Literal["min", "max"]] = field(default_factory=dict)
    default_steps: int = 500
    default_batch_size: int = 32
    eval_batch_size: int = 1024
    description: str = ""

    def __post_init__(self) -> None:
        with torch.random.fork_rng(devices=[]):  # building a problem must not advance the global RNG
            self.module = self.make_module()
        buffers = dict(self.module.named_buffers())
        self._buffers = buffers
        extra = [*self.metrics, *self.from_loss]
        self.metric_goals = {"loss": "min", **{m: self.goals.get(m, "max") for m in extra}}

        def one_loss(params: Params, inputs: Tensor, targets: Tensor) -> Tensor:
            return self.loss_fn(functional_call(self.module, (params, self._buffers), (inputs,)), targets)

        def one_eval(params: Params, inputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
            return self._metric_values(functional_call(self.module, (params, self._buffers), (inputs,)), targets)

        self._losses = vmap(one_loss, in_dims=(0, 0, 0))
        self._shared_losses = vmap(one_loss, in_dims=(0, None, None))
        self._eval = vmap(one_eval, in_dims=(0, None, None))

    def __getstate__(self) -> dict[str, object]:
        # The module and its vmapped functions are rebuilt on unpickling (vmapped closures do not pickle).
        built = ("module", "_buffers", "_losses", "_shared_losses", "_eval", "metric_goals")
        return {key: value for key, value in self.__dict__.items() if key not in built}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self.__post_init__()

    def _metric_values(self, outputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
        values = {"loss": self.loss_fn(outputs, targets)}
        values.update({m: fn(outputs, targets) for m, fn in self.metrics.items()})
        return values

    def init_params(self, seed: int) -> Params:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            module = self.make_module()
        return {name: p.detach().clone() for name, p in module.named_parameters()}

    def module_for(self, seed: int) -> nn.Module:
        """A fresh module holding :meth:`init_params` for ``seed`` (for training a trial alone)."""
        module = self.make_module()
        start = self.init_params(seed)
        with torch.no_grad():
            for name, p in module.named_parameters():
                p.copy_(start[name])
        return module

    def losses(self, params: Params, inputs: Tensor, targets: Tensor) -> Tensor:
        return self._losses(params, inputs, targets)

    def shared_losses(self, params: Params, inputs: Tensor, targets: Tensor) -> Tensor:
        # The batch is not copied per trial: vmap broadcasts it, and a linear layer becomes one wide matmul.
        return self._shared_losses(params, inputs, targets)

    @torch.no_grad()
    def evaluate(self, params: Params, split: str, max_examples: int | None = None) -> dict[str, Tensor]:
        return self._split_means(split, max_examples, lambda inputs, targets: self._eval(params, inputs, targets))

    @torch.no_grad()
    def evaluate_module(self, module: nn.Module, split: str, max_examples: int | None = None) -> dict[str, Tensor]:
        """:meth:`evaluate` for one trial that has its own module (``[1]`` each), run in the module's current mode
        (the per-trial executor calls ``module.eval()`` first)."""

        def values(inputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
            return {key: value.unsqueeze(0) for key, value in self._metric_values(module(inputs), targets).items()}

        return self._split_means(split, max_examples, values)

    def _split_means(
        self, split: str, max_examples: int | None, values_of: Callable[[Tensor, Tensor], dict[str, Tensor]]
    ) -> dict[str, Tensor]:
        """Each metric's mean over the split's first ``max_examples`` examples, read in ``eval_batch_size`` parts."""
        data = self.data.split(split)
        n = len(data) if max_examples is None else min(len(data), max_examples)
        totals: dict[str, Tensor] = {}
        for start in range(0, n, self.eval_batch_size):
            stop = min(n, start + self.eval_batch_size)
            values = values_of(*data.take(torch.arange(start, stop)))
            for key, value in values.items():
                totals[key] = totals.get(key, 0) + value * (stop - start)
        means = {key: value / n for key, value in totals.items()}
        means.update({name: fn(means["loss"]) for name, fn in self.from_loss.items()})
        return means
