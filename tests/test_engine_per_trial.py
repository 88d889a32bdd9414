"""The per-trial executor: bit for bit a hand-written torch.optim loop (float64) on models the population cannot
batch, the population's numbers where both run, isolation, schedules and the evaluation point."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from engine_models import PROBLEMS, bn_problem, dropout_problem, gru_problem, mlp_problem
from optimlab.engine import PerTrialExecutor, PopulationExecutor
from optimlab.engine.per_trial import TRAINING_SEED_OFFSET
from optimlab.population import Trial
from optimlab.problems.base import Data, ModuleProblem, Problem, Split
from optimlab.schedules import Schedule
from optimlab.training import BatchStream, batch_size_for, train_alone

STEPS = 12

TORCH_OPTIMIZERS: dict[str, tuple[type[torch.optim.Optimizer], dict[str, Any], dict[str, Any]]] = {
    # preset: (torch class, the trial's hyperparameters, what the preset adds in torch.optim's words)
    "momentum": (torch.optim.SGD, {"lr": 0.05}, {"momentum": 0.9}),
    "adam": (torch.optim.Adam, {"lr": 0.01}, {}),
    "adamw": (torch.optim.AdamW, {"lr": 0.01, "weight_decay": 0.1}, {}),
    "rmsprop": (torch.optim.RMSprop, {"lr": 0.005}, {}),
}


@pytest.fixture(autouse=True)
def _float64(float64_default: None) -> None:
    """Every test here runs in float64 (the shared fixture), so bit-identity is checked to the last bit."""


def hand_written_loop(
    problem: ModuleProblem, trial: Trial, optimizer: torch.optim.Optimizer | None = None, steps: int = STEPS,
    make: Any = None, settings: dict[str, Any] | None = None,
) -> tuple[list[float], float]:
    """What a user writes: a module, a torch.optim optimizer (and scheduler), ``model.train()`` for the steps,
    ``model.eval()`` to validate. Seeds as the executor documents them; batches from the trial's BatchStream."""
    with torch.random.fork_rng(devices=[]):
        model = problem.module_for(trial.seed)
        torch.manual_seed(trial.seed + TRAINING_SEED_OFFSET)
        opt = make(model.parameters(), **{**(settings or {}), **trial.hypers})
        scheduler = None
        if trial.schedule is not None:
            schedule = trial.schedule
            scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: schedule.factor(s, steps))
        stream = BatchStream(len(problem.data.train), batch_size_for(trial, problem), trial.seed)
        losses = []
        model.train()
        for _ in range(steps):
            inputs, targets = problem.data.train.take(stream.next())
            opt.zero_grad()
            loss = problem.loss_fn(model(inputs), targets)
            losses.append(loss.item())
            loss.backward()
            opt.step()
            if scheduler is not None:
                scheduler.step()
        model.eval()
        with torch.no_grad():
            valid = problem.data.valid
            valid_loss = problem.loss_fn(model(valid.inputs), valid.targets).item()
    return losses, valid_loss


@pytest.mark.parametrize("optimizer", list(TORCH_OPTIMIZERS))
@pytest.mark.parametrize("model", list(PROBLEMS))
def test_per_trial_equals_a_hand_written_torch_loop_to_the_last_bit(model: str, optimizer: str) -> None:
    """optimlab's drop-in optimizer in the executor's loop against torch.optim's in a plain loop: the training
    losses are identical in float64, and so is the validation loss (model.eval(): BatchNorm's own running
    statistics, no dropout) up to the one rounding of the executor's mean over the split."""
    problem = PROBLEMS[model]()
    torch_class, hypers, settings = TORCH_OPTIMIZERS[optimizer]
    trial = Trial(optimizer, hypers, seed=2)
    result = PerTrialExecutor().run(problem, [trial], STEPS, eval_splits=("valid",))
    losses, valid_loss = hand_written_loop(problem, trial, make=torch_class, settings=settings)
    assert result.train_loss[0].tolist() == losses
    assert result.final("valid")[0].item() == pytest.approx(valid_loss, rel=1e-14, abs=0)
    assert losses[-1] < losses[0]  # it trains


@pytest.mark.parametrize("model", ["gru", "bn-cnn"])
def test_schedule_is_a_lambda_lr_of_the_same_factors(model: str) -> None:
    problem = PROBLEMS[model]()
    trial = Trial("adam", {"lr": 0.02}, seed=4, schedule=Schedule("warmup-cosine", warmup=3))
    result = PerTrialExecutor().run(problem, [trial], STEPS, eval_splits=("valid",))
    losses, _ = hand_written_loop(problem, trial, make=torch.optim.Adam)
    assert result.train_loss[0].tolist() == losses
    flat = PerTrialExecutor().run(problem, [Trial("adam", {"lr": 0.02}, seed=4)], STEPS, eval_splits=())
    assert result.train_loss[0, 1:].tolist() != flat.train_loss[0, 1:].tolist()  # the schedule changed something


@pytest.mark.parametrize("model", ["bn-cnn", "dropout-mlp", "gru"])
def test_a_trial_does_not_depend_on_the_other_trials(model: str) -> None:
    """Each trial has its own module (BatchNorm statistics) and its own random stream (dropout)."""
    problem = PROBLEMS[model]()
    twin = Trial("adam", {"lr": 0.01}, seed=5)
    crowd = [Trial("momentum", {"lr": 0.05}, seed=s) for s in (0, 1)]
    together = PerTrialExecutor().run(problem, [*crowd, twin], STEPS, eval_every=4)
    alone = PerTrialExecutor().run(problem, [twin], STEPS, eval_every=4)
    assert torch.equal(together.train_loss[-1], alone.train_loss[0])
    for split in ("valid", "test"):
        for metric in problem.metric_goals:
            assert torch.equal(together.evals[split][metric][-1], alone.evals[split][metric][0])


def test_dropout_is_seeded_per_trial_and_off_for_evaluation() -> None:
    problem = dropout_problem()
    a, b = Trial("adam", {"lr": 0.01}, seed=1), Trial("adam", {"lr": 0.01}, seed=2)
    first = PerTrialExecutor().run(problem, [a, b], STEPS)
    torch.manual_seed(123)  # the caller's generator plays no part
    again = PerTrialExecutor().run(problem, [a, b], STEPS)
    assert torch.equal(first.train_loss, again.train_loss)
    assert not torch.equal(first.train_loss[0], first.train_loss[1])  # two seeds, two streams
    # Evaluating mid-run (eval mode: no dropout masks drawn) does not move the trial's random stream.
    evaluated = PerTrialExecutor().run(problem, [a], STEPS, eval_every=STEPS // 4)
    assert torch.equal(evaluated.train_loss[0], first.train_loss[0])


def test_a_diverged_trial_is_stopped_and_the_others_are_bit_identical() -> None:
    problem = bn_problem()
    good = [Trial("adam", {"lr": 0.01}, seed=0), Trial("momentum", {"lr": 0.05}, seed=1)]
    bad = Trial("minibatch", {"lr": 1e300}, seed=2, label="far too large")
    with_bad = PerTrialExecutor().run(problem, [good[0], bad, good[1]], STEPS)
    without = PerTrialExecutor().run(problem, good, STEPS)
    at = with_bad.diverged_at[1]
    assert at is not None and 1 < at <= STEPS
    assert with_bad.train_loss[1, : at - 1].isfinite().all() and with_bad.train_loss[1, at - 1 :].isnan().all()
    assert math.isnan(with_bad.final("valid")[1].item())
    assert with_bad.diverged_at[0] is None and with_bad.diverged_at[2] is None
    assert torch.equal(with_bad.train_loss[[0, 2]], without.train_loss)
    assert torch.equal(with_bad.evals["test"]["accuracy"][[0, 2]], without.evals["test"]["accuracy"])


def test_population_and_per_trial_give_the_same_numbers(_float64: None) -> None:
    """Float32 arithmetic, a model both executors run: losses, evaluations, divergence and layout agree."""
    torch.set_default_dtype(torch.float32)
    problem = mlp_problem(steps=20)
    trials = [Trial(name, {"lr": lr}, seed=s) for name, lr in (("adam", 0.01), ("momentum", 0.05), ("rmsprop", 0.003))
              for s in (0, 1)]
    trials.append(Trial("adam", {"lr": 0.02}, seed=3, schedule=Schedule("cosine")))
    trials.append(Trial("schedulefree-adamw", {"lr": 0.02, "warmup_steps": 3}, seed=2))  # evaluated at x by both
    trials.append(Trial("minibatch", {"lr": 1e38}, seed=1, label="diverges"))
    population = PopulationExecutor().run(problem, trials, eval_every=5)
    per_trial = PerTrialExecutor().run(problem, trials, eval_every=5)
    assert per_trial.diverged_at == population.diverged_at and population.diverged_at[-1] is not None
    assert per_trial.batch_sizes == population.batch_sizes and per_trial.eval_steps == population.eval_steps
    torch.testing.assert_close(per_trial.train_loss, population.train_loss, rtol=2e-5, atol=2e-6, equal_nan=True)
    for split in ("valid", "test"):
        for metric in ("loss", "accuracy"):
            torch.testing.assert_close(per_trial.evals[split][metric], population.evals[split][metric],
                                       rtol=2e-5, atol=2e-6, equal_nan=True)


@pytest.mark.parametrize("optimizer", ["schedulefree-adamw", "asgd"])
def test_evaluation_is_at_the_rules_point_and_training_goes_on_unchanged(optimizer: str) -> None:
    """Schedule-Free is evaluated at x (the drop-in's ``eval()``), ASGD at its average (on a GRU, which only this
    executor runs); evaluating does not change the training curve."""
    problem = gru_problem(steps=20)
    hypers = {"lr": 0.05, "warmup_steps": 3} if optimizer == "schedulefree-adamw" else {"lr": 0.5, "t0": 5}
    trial = Trial(optimizer, hypers, seed=1)
    evaluated = PerTrialExecutor().run(problem, [trial], eval_every=5, eval_splits=("valid",))
    assert evaluated.train_loss[0].tolist() == train_alone(problem, trial).tolist()
    # By hand: train with the drop-in class, then move to the evaluation point the way its users do.
    with torch.random.fork_rng(devices=[]):
        model = problem.module_for(trial.seed)
        opt = trial.preset.make(model.parameters(), **trial.hypers)
        stream = BatchStream(len(problem.data.train), batch_size_for(trial, problem), trial.seed)
        for _ in range(problem.default_steps):
            inputs, targets = problem.data.train.take(stream.next())
            opt.zero_grad()
            problem.loss_fn(model(inputs), targets).backward()
            opt.step()
        at_training_point = problem.evaluate_module(model.eval(), "valid")["loss"].item()
        if optimizer == "asgd":
            with torch.no_grad():
                for p in model.parameters():
                    p.copy_(opt.state[p]["ax"])
        else:
            opt.eval()  # type: ignore[attr-defined]
        at_evaluation_point = problem.evaluate_module(model, "valid")["loss"].item()
    assert abs(at_evaluation_point - at_training_point) > 1e-6
    assert evaluated.final("valid")[0].item() == pytest.approx(at_evaluation_point, rel=1e-12)


class LinearRegression(Problem):
    """A problem written against the batched interface only (no module): per-trial runs it as a population of one."""

    name, default_steps, default_batch_size = "linreg", 15, 8

    def __init__(self) -> None:
        self.metric_goals = {"loss": "min"}
        g = torch.Generator().manual_seed(0)
        x = torch.randn(64, 4, generator=g)
        y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1 * torch.randn(64, generator=g)
        self.data = Data(Split(x[:48], y[:48]), Split(x[48:56], y[48:56]), Split(x[56:], y[56:]))

    def init_params(self, seed: int) -> dict[str, torch.Tensor]:
        return {"w": torch.randn(4, generator=torch.Generator().manual_seed(seed))}

    def losses(self, params: dict[str, torch.Tensor], inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return ((torch.einsum("kbi,ki->kb", inputs, params["w"]) - targets) ** 2).mean(dim=1)

    def evaluate(self, params: dict[str, torch.Tensor], split: str, max_examples: int | None = None
                 ) -> dict[str, torch.Tensor]:
        data = self.data.split(split)
        return {"loss": self.shared_losses(params, data.inputs, data.targets)}


def test_a_problem_without_a_module_runs_trial_by_trial_too() -> None:
    problem = LinearRegression()
    trials = [Trial("adam", {"lr": 0.1}, seed=0), Trial("schedulefree-sgd", {"lr": 0.1}, seed=1)]
    per_trial = PerTrialExecutor().run(problem, trials, eval_every=5)
    population = PopulationExecutor().run(problem, trials, eval_every=5)
    torch.testing.assert_close(per_trial.train_loss, population.train_loss, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(per_trial.evals["valid"]["loss"], population.evals["valid"]["loss"], rtol=1e-6,
                               atol=1e-7)
    assert per_trial.train_loss[:, -1].max() < per_trial.train_loss[:, 0].min()
