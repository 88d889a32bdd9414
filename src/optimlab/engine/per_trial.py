"""The per-trial executor: every trial an ordinary PyTorch training loop on a module of its own.

It runs what the population cannot batch: GRU/LSTM kernels, BatchNorm (each trial's module keeps its own running
statistics; ``module.train()`` while training, ``module.eval()`` to evaluate), dropout, custom autograd functions.
A trial computes the same thing as in the population:

* its module holds :meth:`~optimlab.problems.base.ModuleProblem.init_params` for its seed;
* its optimizer is its preset's drop-in class (or ``optimizer_factory``), its schedule a ``LambdaLR`` of the same
  factors the population uses, its batches the same :class:`~optimlab.training.BatchStream`, read with
  ``split.take(index)``;
* randomness inside the model (dropout) comes from torch's global generator, forked for the trial and seeded
  with ``trial.seed + TRAINING_SEED_OFFSET`` after its module is built: a trial's numbers do not depend on what
  else is in the sweep, and the caller's generator is left as it was;
* a non-finite loss marks the trial diverged at that step (``diverged_at``, as the population counts steps) and
  stops it; its curve and later evaluations stay NaN. Non-finite parameters show as the next step's loss;
* evaluation happens where the trial's rule says (:meth:`optimlab.rules.Rule.evaluation_point`: Schedule-Free's x,
  ASGD's average), on a copy of the point swapped in for the evaluation only: training continues bit for bit.

Problems other than :class:`~optimlab.problems.base.ModuleProblem` run too: their parameters are plain tensors and
their loss is the problem's own ``losses`` with a population of one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from ..heap import retain_all_if_roomy, retained_heap
from ..optim._base import RuleOptimizer
from ..population import Trial
from ..problems.base import ModuleProblem, Params, Problem
from ..rules import Rule
from ..training import (
    BatchStream,
    Progress,
    TrainResult,
    batch_size_for,
    evaluation_steps,
    micro_batch_size,
    saved_activation_bytes,
)
from .results import merge_parts

TRAINING_SEED_OFFSET = 2**32
"""A trial's model randomness (dropout) is seeded with ``seed + TRAINING_SEED_OFFSET``: apart from the stream its
initial parameters came from, and still a function of its seed alone."""

OptimizerFactory = Callable[..., torch.optim.Optimizer]
"""``factory(params, **settings)``: an optimizer class such as ``torch.optim.Adam`` (settings: the preset's plus
the trial's hyperparameters, ``torch.optim`` names)."""

TrialsDone = Callable[[list[int], TrainResult], None]


class PerTrialExecutor:
    """Trains the trials one after another, each with an ordinary loop (see the module docstring)."""

    name = "per-trial"

    def __init__(self, *, optimizer_factory: OptimizerFactory | None = None) -> None:
        self.optimizer_factory = optimizer_factory

    def run(
        self,
        problem: Problem,
        trials: Sequence[Trial],
        steps: int | None = None,
        *,
        eval_every: int | None = None,
        eval_splits: Sequence[str] = ("valid", "test"),
        max_eval_examples: int | None = None,
        progress: Progress | None = None,
        on_done: TrialsDone | None = None,
    ) -> TrainResult:
        steps = problem.default_steps if steps is None else steps
        if steps < 1:
            raise ValueError(f"Invalid steps={steps}: must be >= 1.")
        if not trials:
            raise ValueError("Nothing to train: no trials given.")
        for split in eval_splits:
            problem.data.split(split)
        eval_at = evaluation_steps(steps, eval_every)
        started = time.perf_counter()
        parts = []
        micro: dict[int, int] = {}  # batch size -> examples per forward pass, measured once per run
        for k, trial in enumerate(trials):

            def report(step: int, done: int = k * steps) -> None:
                if progress is not None:
                    progress(done + step, steps * len(trials))

            part = train_trial(problem, trial, steps, eval_at, eval_splits, max_eval_examples, report,
                               self.optimizer_factory, micro)
            parts.append(([k], part))
            if on_done is not None:
                on_done([k], part)
        return merge_parts(trials, parts, time.perf_counter() - started)


@retained_heap()
def train_trial(
    problem: Problem,
    trial: Trial,
    steps: int,
    eval_at: Sequence[int],
    eval_splits: Sequence[str] = ("valid", "test"),
    max_eval_examples: int | None = None,
    report: Callable[[int], None] | None = None,
    optimizer_factory: OptimizerFactory | None = None,
    micro: dict[int, int] | None = None,
) -> TrainResult:
    """One trial trained alone for ``steps`` steps, evaluated after each step in ``eval_at`` (1-based)."""
    started = time.perf_counter()
    batch_size = batch_size_for(trial, problem)
    train = problem.data.train
    losses: list[float] = []  # a Python list: writing into a tensor each step cost ~7 % of a tiny model's step
    evals = {s: {m: torch.full((len(eval_at),), math.nan) for m in problem.metric_goals} for s in eval_splits}
    diverged_at: int | None = None
    with torch.random.fork_rng(devices=[]):
        model = _Model.build(problem, trial.seed)
        torch.manual_seed(trial.seed + TRAINING_SEED_OFFSET)
        params = list(model.parameters())
        optimizer: torch.optim.Optimizer
        if optimizer_factory is None:
            optimizer = trial.preset.make(params, **trial.hypers)
            # The reference path: fused=None decides from a timed step (optimlab.flat), which would make the
            # numbers depend on the machine's load; a trial must give the same numbers for the same seed.
            for group in optimizer.param_groups:
                group["fused"] = False
        else:
            optimizer = optimizer_factory(params, **{**trial.preset.settings, **trial.hypers})
        schedule = trial.schedule
        scheduler = None
        if schedule is not None:
            scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: schedule.factor(s, steps))
        stream = BatchStream(len(train), batch_size, trial.seed)
        known = micro if micro is not None else {}
        if batch_size not in known:
            known[batch_size] = micro_batch_size(problem, batch_size, model.saved_bytes(batch_size))
        part = known[batch_size]
        next_eval = 0
        model.train()
        for step in range(steps):
            index = stream.next()
            optimizer.zero_grad()
            loss = model.loss_and_backward(index, part)
            if not math.isfinite(loss):
                diverged_at = step + 1
                break
            losses.append(loss)
            optimizer.step()
            if step == 0:
                retain_all_if_roomy()  # one step's footprint is known now
            if scheduler is not None:
                scheduler.step()
            if step + 1 == eval_at[next_eval] and eval_splits:
                for split, values in model.evaluate(optimizer, eval_splits, max_eval_examples).items():
                    for metric, value in values.items():
                        evals[split][metric][next_eval] = value
            if step + 1 == eval_at[next_eval]:
                next_eval += 1
            if report is not None:
                report(step + 1)
        if report is not None and diverged_at is not None:
            report(steps)
        state_bytes = sum(
            t.numel() * t.element_size() for s in optimizer.state.values() for t in s.values() if isinstance(t, Tensor)
        )
    param_bytes = sum(p.numel() * p.element_size() for p in params)
    curve = torch.full((steps,), math.nan)
    curve[: len(losses)] = torch.tensor(losses, dtype=torch.float64)
    return TrainResult(
        problem=problem.name, trials=[trial], steps=steps, batch_sizes=[batch_size], train_loss=curve.unsqueeze(0),
        eval_steps=list(eval_at), evals={s: {m: v.unsqueeze(0) for m, v in ms.items()} for s, ms in evals.items()},
        diverged_at=[diverged_at], seconds=time.perf_counter() - started, chunks=1,
        bytes_per_trial=2 * param_bytes + state_bytes, metric_goals=dict(problem.metric_goals),
    )


class _Model:
    """One trial's model: a module of its own (a :class:`ModuleProblem`), or a problem's parameters as leaves."""

    def __init__(self, problem: Problem, module: nn.Module | None, leaves: Params | None = None) -> None:
        self.problem, self.module = problem, module
        self.leaves: Params = leaves or {}

    @classmethod
    def build(cls, problem: Problem, seed: int) -> _Model:
        if isinstance(problem, ModuleProblem):
            return cls(problem, problem.module_for(seed))
        leaves = {name: p.detach().clone().requires_grad_(True) for name, p in problem.init_params(seed).items()}
        return cls(problem, None, leaves)

    def parameters(self) -> list[Tensor]:
        return list(self.module.parameters()) if self.module is not None else list(self.leaves.values())

    def train(self) -> None:
        if self.module is not None:
            self.module.train()

    def _loss(self, inputs: Tensor, targets: Tensor) -> Tensor:
        if self.module is not None:
            assert isinstance(self.problem, ModuleProblem)
            loss: Tensor = self.problem.loss_fn(self.module(inputs), targets)
            return loss
        stacked = {name: p.unsqueeze(0) for name, p in self.leaves.items()}
        return self.problem.losses(stacked, inputs.unsqueeze(0), targets.unsqueeze(0))[0]

    def loss_and_backward(self, index: Tensor, micro: int) -> float:
        """The batch's mean loss, its gradient accumulated into the parameters' ``.grad`` (in parts of ``micro``
        examples, each part's loss weighted by its share, when the whole batch would save too much for backward)."""
        train = self.problem.data.train
        size = len(index)
        if micro >= size:
            loss = self._loss(*train.take(index))
            value = loss.item()
            if math.isfinite(value):
                loss.backward()
            return value
        total = 0.0
        for start in range(0, size, micro):
            part = index[start : start + micro]
            loss = self._loss(*train.take(part)) * (len(part) / size)
            loss.backward()
            total += loss.item()
        return total

    def saved_bytes(self, batch_size: int) -> int:
        """What one forward pass over ``batch_size`` examples saves for backward (measured on at most 256 of them,
        on a copy of the model so that buffers such as BatchNorm statistics stay as they are)."""
        if self.module is None:
            return 0
        import copy

        probe = _Model(self.problem, copy.deepcopy(self.module))
        with torch.random.fork_rng(devices=[]):
            return saved_activation_bytes(lambda inputs, targets: probe._loss(inputs, targets), self.problem,
                                          batch_size)

    def evaluate(
        self, optimizer: torch.optim.Optimizer, splits: Sequence[str], max_examples: int | None
    ) -> dict[str, dict[str, float]]:
        """Every metric on every split, at the optimizer's evaluation point, the module in eval mode; the
        random stream and the training point are as they were afterwards."""
        out: dict[str, dict[str, float]] = {}
        with torch.random.fork_rng(devices=[]), at_evaluation_point(optimizer):
            if self.module is not None:
                assert isinstance(self.problem, ModuleProblem)
                self.module.eval()
                try:
                    for split in splits:
                        values = self.problem.evaluate_module(self.module, split, max_examples)
                        out[split] = {m: v.item() for m, v in values.items()}
                finally:
                    self.module.train()
            else:
                stacked = {name: p.detach().unsqueeze(0) for name, p in self.leaves.items()}
                for split in splits:
                    out[split] = {m: v.item() for m, v in self.problem.evaluate(stacked, split, max_examples).items()}
        return out


@contextmanager
def at_evaluation_point(optimizer: torch.optim.Optimizer) -> Iterator[None]:
    """Inside the block the parameters hold the optimizer's evaluation point; afterwards their training values,
    bit for bit. Optimizers built from a rule (optimlab's) say where that is (:meth:`Rule.evaluation_point`);
    others (``torch.optim``'s) evaluate at their parameters."""
    if not isinstance(optimizer, RuleOptimizer) or type(optimizer.rule).evaluation_point is Rule.evaluation_point:
        yield
        return
    rule = optimizer.rule
    saved: list[tuple[Tensor, Tensor]] = []
    try:
        with torch.no_grad():
            for group in optimizer.param_groups:
                hp = optimizer.group_values(group)
                for p in group["params"]:
                    state = optimizer.state.get(p)
                    if not state:
                        continue
                    x = torch.view_as_real(p) if p.is_complex() else p
                    point = rule.evaluation_point(x, state, hp)
                    if point is not x:
                        saved.append((x, x.clone()))
                        x.copy_(point)
        yield
    finally:
        with torch.no_grad():
            for x, training_value in saved:
                x.copy_(training_value)
