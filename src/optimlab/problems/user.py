"""``make_problem``: a problem every verb accepts, from a model factory, data and a loss — what users have.

>>> import torch
>>> from torch import nn
>>> from optimlab import make_problem
>>> from optimlab.problems.base import accuracy
>>> g = torch.Generator().manual_seed(0)
>>> x, y = torch.randn(120, 4, generator=g), torch.randint(0, 3, (120,), generator=g)
>>> problem = make_problem(lambda: nn.Linear(4, 3), train=(x[:80], y[:80]), valid=(x[80:], y[80:]),
...                        loss=nn.functional.cross_entropy, metrics={"accuracy": accuracy}, name="tiny")
>>> dict(problem.metric_goals)
{'loss': 'min', 'accuracy': 'max'}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..errors import DataError, ModelError, UserError
from .base import Data, MetricFn, ModuleProblem, Split
from .splits import as_split

Goal = Literal["min", "max"]
PROBE_EXAMPLES = 4
"""Examples of each split the model, the loss and the metrics are tried on when the problem is made."""


def make_problem(
    model: Callable[[], nn.Module],
    train: Any,
    valid: Any,
    test: Any = None,
    *,
    loss: Callable[[Tensor, Tensor], Tensor],
    metrics: Mapping[str, MetricFn | tuple[MetricFn, Goal]] | None = None,
    name: str = "my-problem",
    steps: int = 500,
    batch_size: int | None = None,
    eval_batch_size: int = 1024,
    materialize: bool | None = None,
    description: str = "",
) -> ModuleProblem:
    """A :class:`~optimlab.problems.base.ModuleProblem` for ``advise``, ``bench``, ``train`` and the executors.

    ``model()`` builds a fresh ``nn.Module`` (called once per trial under the trial's seed, so the seed decides
    the initialization). ``train``, ``valid`` and ``test`` are each a map-style ``torch.utils.data.Dataset``
    whose items are ``(input, target)`` pairs, a ``DataLoader``, or a pair ``(inputs, targets)`` of tensors;
    without ``test`` the validation split also serves as the test split (test scores are then validation
    scores). ``loss(outputs, targets)`` returns the batch's mean loss; ``metrics`` maps a name to
    ``fn(outputs, targets) -> scalar`` (higher is better) or to ``(fn, "min" | "max")``.

    From a ``DataLoader`` optimlab takes the dataset, the ``collate_fn`` and the ``batch_size`` (the default
    batch size when ``batch_size`` is not given); its sampler and shuffling are replaced by optimlab's own
    per-seed batch order, so trials with the same seed see the same batches (paired comparisons) whatever else
    runs beside them (its ``drop_last`` and worker processes are not used either). A dataset is read into
    tensors once when it fits comfortably in memory (estimated from its first example, see
    :mod:`optimlab.problems.splits`; random transforms in ``__getitem__`` are then drawn once) and streamed batch
    by batch otherwise; ``materialize=True``/``False`` decides instead.

    The model, the loss and every metric are tried on a few examples of each split here, so a model or data that
    cannot work fails now with one sentence (:class:`~optimlab.errors.ModelError`,
    :class:`~optimlab.errors.DataError`) instead of deep inside training.
    """
    if isinstance(model, nn.Module):
        raise ModelError("The model must be a function that builds a fresh nn.Module (lambda: MyNet()), not a "
                         "module instance: every trial starts from its own.")
    if not callable(model):
        raise ModelError(f"The model must be a function that builds an nn.Module, not a {type(model).__name__}.")
    if not callable(loss):
        raise ModelError(f"The loss must be a function loss(outputs, targets), not a {type(loss).__name__}.")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise UserError(f"Invalid steps={steps!r}: the number of training steps must be a positive integer.")
    fns, goals = _metrics(metrics or {})
    train_split, loader_batch = as_split(train, "training", materialize)
    valid_split, _ = as_split(valid, "validation", materialize)
    test_split = valid_split if test is None else as_split(test, "test", materialize)[0]
    batch = _batch_size(batch_size, loader_batch, len(train_split))
    module = build_module(model)
    for what, split in (("training", train_split), ("validation", valid_split), ("test", test_split)):
        probe(module, split, what, loss, fns)
    return ModuleProblem(
        name=name, make_module=model, data=Data(train=train_split, valid=valid_split, test=test_split),
        loss_fn=loss, metrics=fns, goals=goals, default_steps=steps, default_batch_size=batch,
        eval_batch_size=eval_batch_size, description=description,
    )


def _metrics(metrics: Mapping[str, Any]) -> tuple[dict[str, MetricFn], dict[str, Goal]]:
    fns: dict[str, MetricFn] = {}
    goals: dict[str, Goal] = {}
    for key, value in metrics.items():
        fn, goal = value if isinstance(value, tuple) else (value, "max")
        if key == "loss":
            raise UserError("The metric name 'loss' is taken: the loss is always evaluated; rename the metric.")
        if not callable(fn):
            raise UserError(f"Metric {key!r} must be a function fn(outputs, targets), not a {type(fn).__name__}.")
        if goal not in ("min", "max"):
            raise UserError(f"Metric {key!r} has goal {goal!r}: use 'min' (lower is better) or 'max'.")
        fns[key], goals[key] = fn, goal
    return fns, goals


def _batch_size(given: int | None, from_loader: int | None, n_train: int) -> int:
    if given is None:
        return min(from_loader or 32, n_train)  # a loader's last short batch is what a larger one gives here
    if isinstance(given, bool) or not isinstance(given, int) or not 1 <= given <= n_train:
        raise DataError(f"Invalid batch_size={given!r}: give a whole number from 1 to the {n_train} training "
                        "examples.")
    return given


def build_module(model: Callable[[], nn.Module]) -> nn.Module:
    """One module from the factory (the global random state is left as it was), or a :class:`ModelError`."""
    with torch.random.fork_rng(devices=[]):
        try:
            module = model()
        except Exception as exc:
            raise ModelError(f"The model factory raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(module, nn.Module):
        raise ModelError(f"The model factory returned a {type(module).__name__}, not a torch.nn.Module.")
    if not any(p.requires_grad for p in module.parameters()):
        raise ModelError(f"The model ({type(module).__name__}) has no trainable parameters.")
    return module


def probe(module: nn.Module, split: Split, what: str, loss: Callable[[Tensor, Tensor], Tensor],
          metrics: Mapping[str, MetricFn]) -> None:
    """Run the model, the loss and each metric on the first examples of ``split``; say which one does not fit."""
    inputs, targets = split.take(torch.arange(min(PROBE_EXAMPLES, len(split))))
    shapes = f"inputs of shape {tuple(inputs.shape)}"
    with torch.random.fork_rng(devices=[]):  # dropout in the probe must not move the user's random state
        try:
            outputs = module(inputs)
        except Exception as exc:
            raise ModelError(f"The model failed on {what} {shapes}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(outputs, Tensor):
        raise ModelError(f"The model returned a {type(outputs).__name__} on {what} {shapes}; the loss needs a "
                         "tensor (wrap the model so forward returns one).")
    pair = f"model outputs of shape {tuple(outputs.shape)} and {what} targets of shape {tuple(targets.shape)}"
    try:
        value = loss(outputs, targets)
    except Exception as exc:
        raise ModelError(f"The loss does not fit the model: on {pair} it raised {type(exc).__name__}: {exc}") from exc
    _check_scalar(value, "The loss", pair)
    if not value.requires_grad:
        raise ModelError("The loss does not depend on the model's parameters (no gradient flows back to them).")
    with torch.no_grad():
        for key, fn in metrics.items():
            try:
                metric = fn(outputs, targets)
            except Exception as exc:
                raise ModelError(f"Metric {key!r} failed on {pair}: {type(exc).__name__}: {exc}") from exc
            _check_scalar(metric, f"Metric {key!r}", pair)


def _check_scalar(value: object, who: str, pair: str) -> None:
    if not isinstance(value, Tensor):
        raise ModelError(f"{who} returned a {type(value).__name__} on {pair}, not a tensor.")
    if value.dim() != 0:
        raise ModelError(f"{who} must return a scalar (the batch mean) but gave shape {tuple(value.shape)} on "
                         f"{pair}; use reduction='mean'.")
