"""Train a population of trials on a :class:`~optimlab.problems.base.Problem`.

:func:`train` is the engine: trials are split into *cohorts* by batch size (a batch of one and the full batch
cannot share one tensor), each cohort into *chunks* that fit the memory budget, and each chunk runs as one
:class:`~optimlab.population.Population`: one batched forward/backward for all its trials per step, one rule
call per optimizer group. :func:`train_alone` trains one trial with the drop-in optimizer and an ordinary loop
(the per-trial executor, :mod:`optimlab.engine.per_trial`); the tests check both give the same losses.

Fair randomness: a trial's seed fixes its initial parameters and the order of its batches
(:class:`BatchStream`), whatever else is in the population, so trials with the same seed are paired.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from .heap import retain_all_if_roomy, retained_heap
from .population import Population, Trial
from .problems.base import ModuleProblem, Params, Problem

Progress = Callable[[int, int], None]
"""``progress(steps_done, steps_total)`` over the whole run (all chunks)."""
ChunkDone = Callable[[list[int], "TrainResult"], None]
"""``on_chunk(rows, part)``: the trials ``rows`` (indices into the given trials) finished; ``part`` holds them."""


class BatchStream:
    """The example indices one seed sees, step after step: shuffled epochs from the seed's own generator.

    The full batch is every example in order. Otherwise each epoch is a fresh permutation, cut into batches;
    a remainder smaller than a batch is dropped so every step sees exactly ``batch_size`` examples.
    """

    def __init__(self, n_examples: int, batch_size: int, seed: int) -> None:
        if not 1 <= batch_size <= n_examples:
            raise ValueError(f"Invalid batch size {batch_size} for {n_examples} training examples.")
        self.n, self.batch_size = n_examples, batch_size
        self._generator = torch.Generator().manual_seed(seed)
        self._order = torch.empty(0, dtype=torch.long)
        self._pos = 0

    def next(self) -> Tensor:
        if self.batch_size == self.n:
            return torch.arange(self.n)
        if self._pos + self.batch_size > len(self._order):
            self._order = torch.randperm(self.n, generator=self._generator)
            self._pos = 0
        batch = self._order[self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        return batch


def batch_size_for(trial: Trial, problem: Problem) -> int:
    """The trial's own batch size, else its preset's batch policy on this problem."""
    n = len(problem.data.train)
    if trial.batch_size is not None:
        return min(trial.batch_size, n)
    return trial.preset.batch.batch_size(n, problem.default_batch_size)


@dataclass
class TrainResult:
    """What a population run produced. Curves are ``[K, ...]`` in the order the trials were given."""

    problem: str
    trials: list[Trial]
    steps: int
    batch_sizes: list[int]
    train_loss: Tensor
    """``[K, steps]``: each trial's loss on its own batch before each update (NaN after divergence)."""
    eval_steps: list[int]
    evals: dict[str, dict[str, Tensor]]
    """``evals[split][metric]`` is ``[K, len(eval_steps)]`` (NaN for diverged trials)."""
    diverged_at: list[int | None]
    seconds: float
    chunks: int
    bytes_per_trial: int
    metric_goals: dict[str, str] = field(default_factory=dict)

    def final(self, split: str, metric: str = "loss") -> Tensor:
        """``[K]``: the metric at the last evaluation."""
        return self.evals[split][metric][:, -1]

    def to_frame(self) -> Any:
        """One row per trial: its configuration, final metrics and divergence (a pandas DataFrame)."""
        import pandas as pd

        rows = []
        for k, trial in enumerate(self.trials):
            row: dict[str, Any] = {
                "optimizer": trial.optimizer,
                "label": trial.name,
                "seed": trial.seed,
                "batch_size": self.batch_sizes[k],
                "schedule": trial.schedule.kind if trial.schedule else "constant",
                **{f"hp_{key}": _plain(value) for key, value in trial.overrides.items()},
                "final_train_loss": _last_finite(self.train_loss[k]),
            }
            for split, metrics in self.evals.items():
                for metric, values in metrics.items():
                    row[f"{split}_{metric}"] = values[k, -1].item()
            row["diverged_at"] = self.diverged_at[k]
            rows.append(row)
        return pd.DataFrame(rows)


@retained_heap()
def train(
    problem: Problem,
    trials: Sequence[Trial],
    steps: int | None = None,
    *,
    eval_every: int | None = None,
    eval_splits: Sequence[str] = ("valid", "test"),
    max_eval_examples: int | None = None,
    memory_budget: int | None = None,
    progress: Progress | None = None,
    fused: bool | None = None,
    on_chunk: ChunkDone | None = None,
) -> TrainResult:
    """Train every trial for ``steps`` steps (default: the problem's budget) and evaluate on ``eval_splits``.

    Evaluation runs every ``eval_every`` steps (default: only at the end) and always after the last step.
    ``memory_budget`` (bytes; default a quarter of this machine's memory) caps one chunk's footprint.
    ``fused`` chooses the per-rule update (:class:`optimlab.population.Population`): ``True`` compiles it
    (2–3× faster per step; the first compile costs seconds, ~9 s for Adam on the K = 64 MNIST-1D MLP with an
    empty Inductor cache; the elementwise optimizers compile once for every shape and K, ~2 s in a new process),
    ``False`` never, ``None`` only for large groups.
    ``on_chunk(rows, part)`` is called as each chunk finishes, with the result of its trials.
    """
    steps = problem.default_steps if steps is None else steps
    if steps < 1:
        raise ValueError(f"Invalid steps={steps}: must be >= 1.")
    if not trials:
        raise ValueError("Nothing to train: no trials given.")
    for split in eval_splits:
        problem.data.split(split)
    eval_at = evaluation_steps(steps, eval_every)
    budget = memory_budget or _default_budget()
    k_total = len(trials)
    sizes = [batch_size_for(t, problem) for t in trials]
    train_loss = torch.full((k_total, steps), math.nan)
    evals = {s: {m: torch.full((k_total, len(eval_at)), math.nan) for m in problem.metric_goals} for s in eval_splits}
    diverged: list[int | None] = [None] * k_total
    started = time.perf_counter()
    done = 0
    chunk_count = 0
    bytes_per_trial = 0
    for batch_size in sorted(set(sizes)):
        cohort = [k for k in range(k_total) if sizes[k] == batch_size]
        fixed, saved = _footprint(problem, trials[cohort[0]], batch_size)
        micro = micro_batch_size(problem, batch_size, saved)
        per_trial = fixed + saved * micro // batch_size
        bytes_per_trial = max(bytes_per_trial, per_trial)
        chunk = max(1, budget // max(1, per_trial))
        for start in range(0, len(cohort), chunk):
            rows = cohort[start : start + chunk]
            chunk_count += 1

            def report(step: int, rows: list[int] = rows, done: int = done) -> None:
                if progress is not None:
                    progress(done + step * len(rows), steps * k_total)

            part = _run_chunk(problem, [trials[k] for k in rows], batch_size, micro, steps, eval_at, eval_splits,
                              max_eval_examples, report, fused)
            index = torch.tensor(rows)
            train_loss[index] = part.train_loss
            for split in eval_splits:
                for metric in problem.metric_goals:
                    evals[split][metric][index] = part.evals[split][metric]
            for i, k in enumerate(rows):
                diverged[k] = part.diverged_at[i]
            done += steps * len(rows)
            if on_chunk is not None:
                on_chunk(rows, TrainResult(
                    problem=problem.name, trials=[trials[k] for k in rows], steps=steps,
                    batch_sizes=[batch_size] * len(rows), train_loss=part.train_loss, eval_steps=eval_at,
                    evals=part.evals, diverged_at=part.diverged_at, seconds=time.perf_counter() - started, chunks=1,
                    bytes_per_trial=per_trial, metric_goals=dict(problem.metric_goals),
                ))
    return TrainResult(
        problem=problem.name, trials=list(trials), steps=steps, batch_sizes=sizes, train_loss=train_loss,
        eval_steps=eval_at, evals=evals, diverged_at=diverged, seconds=time.perf_counter() - started,
        chunks=chunk_count, bytes_per_trial=bytes_per_trial, metric_goals=dict(problem.metric_goals),
    )


@dataclass
class _ChunkResult:
    train_loss: Tensor
    evals: dict[str, dict[str, Tensor]]
    diverged_at: list[int | None]


def _run_chunk(
    problem: Problem,
    trials: list[Trial],
    batch_size: int,
    micro: int,
    steps: int,
    eval_at: list[int],
    eval_splits: Sequence[str],
    max_eval_examples: int | None,
    report: Callable[[int], None],
    fused: bool | None,
) -> _ChunkResult:
    k = len(trials)
    params = stack_params([problem.init_params(seed) for seed in _each_seed(trials)], trials)
    names = list(params)
    tensors = [params[name] for name in names]
    population: Population | None = None  # made after the first backward pass, see _in_gradient_layout
    # The full batch is the same for every seed: one stream serves all trials.
    seeds = [0] if batch_size == len(problem.data.train) else sorted({t.seed for t in trials})
    streams = [BatchStream(len(problem.data.train), batch_size, seed) for seed in seeds]
    seed_row = torch.tensor([seeds.index(t.seed) if len(seeds) > 1 else 0 for t in trials])
    losses_seen = torch.full((k, steps), math.nan)
    evals = {s: {m: torch.full((k, len(eval_at)), math.nan) for m in problem.metric_goals} for s in eval_splits}
    schedules = [t.schedule for t in trials]
    has_schedule = any(s is not None for s in schedules)
    next_eval = 0
    for step in range(steps):
        leaves = [p.detach().requires_grad_(True) for p in tensors]
        stacked = dict(zip(names, leaves, strict=True))
        if len(streams) == 1:  # every trial sees the same batch (one seed, or the full batch)
            index = streams[0].next()
        else:
            index = torch.stack([stream.next() for stream in streams])[seed_row]  # [K, B]
        losses, grads = _losses_and_gradients(problem, stacked, leaves, index, micro)
        if population is None:
            tensors = [_in_gradient_layout(p, g) for p, g in zip(tensors, grads, strict=True)]
            population = Population(trials, tensors, fused=fused)
            retain_all_if_roomy()  # one step's footprint is known now
        factor = None
        if has_schedule:
            factor = torch.tensor([s.factor(step, steps) if s else 1.0 for s in schedules], dtype=torch.float64)
        population.step(grads, losses, factor)
        frozen = population.diverged
        losses_seen[:, step] = torch.where(frozen, math.nan, losses.float())
        if step + 1 == eval_at[next_eval]:
            # Each trial is evaluated where its rule says (Schedule-Free: the average x, not the gradient point y).
            live = dict(zip(names, population.evaluation_params(), strict=True))
            for split in eval_splits:
                for metric, values in problem.evaluate(live, split, max_eval_examples).items():
                    evals[split][metric][:, next_eval] = torch.where(frozen, math.nan, values.float())
            next_eval += 1
        report(step + 1)
    assert population is not None
    return _ChunkResult(losses_seen, evals, population.diverged_at)


GRADIENT_LAYOUT_MIN_ELEMENTS = 1_000_000
"""Stacked parameters from this size up are stored in their gradient's memory layout (see _in_gradient_layout)."""


def _losses_and_gradients(
    problem: Problem, stacked: Params, leaves: list[Tensor], index: Tensor, micro: int
) -> tuple[Tensor, list[Tensor]]:
    """Every trial's loss on its batch (``index``: ``[B]`` shared by all trials, or ``[K, B]``) and the gradients
    of their sum, in one pass or, when ``micro`` is smaller than the batch, summed over micro-batches (each part's
    mean loss weighted by its share of the batch)."""
    train = problem.data.train
    size = index.shape[-1]
    shared = index.dim() == 1
    losses: Tensor | None = None
    grads: list[Tensor] = []
    for start in range(0, size, micro):
        part = index[..., start : start + micro]
        inputs, targets = train.take(part)
        part_losses = problem.shared_losses(stacked, inputs, targets) if shared else problem.losses(
            stacked, inputs, targets
        )
        if micro < size:
            part_losses = part_losses * (part.shape[-1] / size)
        part_grads = torch.autograd.grad(part_losses.sum(), leaves)
        if losses is None:
            losses, grads = part_losses.detach(), list(part_grads)
        else:
            losses = losses + part_losses.detach()
            grads = [total + g for total, g in zip(grads, part_grads, strict=True)]
    assert losses is not None
    return losses, grads


def _in_gradient_layout(param: Tensor, grad: Tensor) -> Tensor:
    """The parameter stored in the memory layout its gradient comes in (same shape and values), when it is large.

    A batched linear layer computes its weight's gradient transposed (``xᵀ·dy`` for ``W``, stored ``[out, in]``);
    a contiguous copy of it every step costs a full pass over the weights. Storing the weights in the
    gradient's layout instead lets every elementwise pass of the update read both in order, with no copy.
    Small tensors keep their own layout: their copy is cheap, and the layout decides which matmul kernels run,
    where the module's own layout was measured as fast or faster (K = 64, the 256→10 output layer of the MNIST-1D
    MLP: forward 1.45 → 0.71 ms, input gradient 0.66 → 0.31 ms per step; ``benchmarks/RESULTS.md``).
    """
    if grad.stride() == param.stride() or param.numel() < GRADIENT_LAYOUT_MIN_ELEMENTS:
        return param
    like = torch.empty_like(grad)  # keeps the gradient's strides when they describe a dense layout
    return like.copy_(param) if like.stride() == grad.stride() else param


def stack_params(per_trial: Sequence[Params], trials: Sequence[Trial] | None = None) -> Params:
    """``{name: [K, ...]}`` from K per-trial parameter dicts (a copy: the population updates it in place)."""
    return {name: torch.stack([p[name] for p in per_trial]).contiguous() for name in per_trial[0]}


def _each_seed(trials: Iterable[Trial]) -> list[int]:
    return [t.seed for t in trials]


def train_alone(
    problem: Problem,
    trial: Trial,
    steps: int | None = None,
    optimizer_factory: Callable[..., torch.optim.Optimizer] | None = None,
) -> Tensor:
    """Train one trial with an ordinary loop (module, optimizer, scheduler); returns its loss per step.

    ``optimizer_factory(params, **settings)`` (the preset's settings, then the trial's overrides) defaults to the
    trial's drop-in optimizer; pass a ``torch.optim`` class to train with PyTorch's own. Stops early, leaving NaN,
    when the loss stops being finite. This is the per-trial executor
    (:class:`optimlab.engine.per_trial.PerTrialExecutor`) on one trial, without evaluations.
    """
    from .engine.per_trial import PerTrialExecutor  # the engine sits above this module

    result = PerTrialExecutor(optimizer_factory=optimizer_factory).run(problem, [trial], steps, eval_splits=())
    return result.train_loss[0]


def evaluation_steps(steps: int, every: int | None) -> list[int]:
    """The 1-based steps after which a run of ``steps`` steps evaluates: every ``every`` steps and after the last."""
    if every is None or every >= steps:
        return [steps]
    if every < 1:
        raise ValueError(f"Invalid eval_every={every}: must be >= 1.")
    return [*range(every, steps, every), steps]


def _default_budget() -> int:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 2**30
    return max(2**28, total // 4)


_FOOTPRINT_PROBE_EXAMPLES = 256
"""The saved activations are measured on at most this many examples and scaled to the batch (they grow linearly)."""


def _footprint(problem: Problem, trial: Trial, batch_size: int) -> tuple[int, int]:
    """One trial's bytes: parameters, gradients and optimizer state (≤ 4 copies of the parameters), and the
    activations its forward pass over ``batch_size`` examples saves for backward, measured on a probe step."""
    params = problem.init_params(trial.seed)
    param_bytes = sum(p.numel() * p.element_size() for p in params.values())
    stacked = {name: p.unsqueeze(0).requires_grad_(True) for name, p in params.items()}

    def losses(inputs: Tensor, targets: Tensor) -> Tensor:
        return problem.losses(stacked, inputs.unsqueeze(0), targets.unsqueeze(0))

    return 6 * param_bytes, saved_activation_bytes(losses, problem, batch_size)


def saved_activation_bytes(loss_of: Callable[[Tensor, Tensor], Tensor], problem: Problem, batch_size: int) -> int:
    """What ``loss_of(inputs, targets)`` saves for backward on a batch of ``batch_size`` training examples, measured
    on at most ``_FOOTPRINT_PROBE_EXAMPLES`` of them and scaled to the batch."""
    saved = 0

    def pack(t: Tensor) -> Tensor:
        nonlocal saved
        saved += t.numel() * t.element_size()
        return t

    train = problem.data.train
    probe = min(batch_size, len(train), _FOOTPRINT_PROBE_EXAMPLES)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss_of(*train.take(torch.arange(probe)))
    return saved * batch_size // probe


ACCUMULATE_ABOVE_BYTES = 64 * 2**20
"""A batch whose forward pass would save more than this for backward, per trial, is run in micro-batches."""


def micro_batch_size(problem: Problem, batch_size: int, saved: int) -> int:
    """How many examples of a batch go through one forward/backward pass; their gradients are summed.

    Only :class:`ModuleProblem` losses are known to be batch means (what makes the weighted sum of the parts'
    losses and gradients equal the whole batch's). Measured on ``char-lm``'s full batch (5001 windows, ≈ 0.96 MB
    saved per window and trial, two trials, 2 threads): one pass 30.8 s and 9.7 GB per step; parts of 64 windows
    6.5 s and 0.7 GB, of 128 windows 6.3 s and 0.9 GB. This limit gives parts of 70 windows there.
    """
    if not isinstance(problem, ModuleProblem) or saved <= ACCUMULATE_ABOVE_BYTES:
        return batch_size
    per_example = max(1, saved // batch_size)
    return max(1, min(batch_size, ACCUMULATE_ABOVE_BYTES // per_example))


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _last_finite(curve: Tensor) -> float:
    finite = curve[torch.isfinite(curve)]
    return finite[-1].item() if len(finite) else math.nan
