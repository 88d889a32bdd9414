"""The population engine on model problems: equivalence with ordinary training, isolation, determinism,
fair randomness, memory chunks and schedules."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from optimlab import fused, training
from optimlab.population import Population, Trial
from optimlab.problems.base import Data, ModuleProblem, Split, accuracy
from optimlab.registry import SETS
from optimlab.schedules import Schedule
from optimlab.training import BatchStream, _in_gradient_layout, train, train_alone


def toy_problem(steps: int = 40) -> ModuleProblem:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 12, generator=g)
    y = (x[:, :3].sum(1) > 0).long() + (x[:, 3] > 1).long()
    data = Data(Split(x[:200], y[:200]), Split(x[200:250], y[200:250]), Split(x[250:], y[250:]))
    return ModuleProblem(
        name="toy",
        make_module=lambda: nn.Sequential(nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 3)),
        data=data,
        loss_fn=nn.functional.cross_entropy,
        metrics={"accuracy": accuracy},
        default_steps=steps,
        default_batch_size=8,
    )


@pytest.fixture(scope="module")
def problem() -> ModuleProblem:
    return toy_problem()


LRS = {"gd": 0.5, "sgd": 0.05, "minibatch": 0.2, "momentum": 0.05, "adagrad": 0.1, "rmsprop": 0.003,
       "adadelta": 1.0, "adam": 0.01, "adamw": 0.01, "amsgrad": 0.01, "adamax": 0.01, "nadam": 0.01, "radam": 0.01}


def test_every_trial_equals_the_same_trial_trained_alone(problem: ModuleProblem) -> None:
    names = [*SETS["seed"], *SETS["descendants"]]
    trials = [Trial(name, {"lr": LRS[name]}, seed=seed) for name in dict.fromkeys(names) for seed in (0, 1)]
    trials.append(Trial("adam", {"lr": 0.02}, seed=3, schedule=Schedule("warmup-cosine", warmup=5)))
    trials.append(Trial("momentum", {"lr": 0.1, "weight_decay": 0.01}, seed=3, schedule=Schedule("step", every=10)))
    result = train(problem, trials)
    assert result.train_loss.shape == (len(trials), problem.default_steps)
    for k, trial in enumerate(trials):
        alone = train_alone(problem, trial)
        assert torch.isfinite(alone).all()
        torch.testing.assert_close(
            result.train_loss[k], alone, rtol=2e-5, atol=2e-6, msg=lambda m, t=trial: f"{t}: {m}"
        )
    # GD's loss on the full batch goes down monotonically at this small learning rate: a real training run.
    gd = result.train_loss[[t.optimizer for t in trials].index("gd")]
    assert (gd[1:] <= gd[:-1] + 1e-6).all() and gd[-1] < gd[0] * 0.9


def test_diverged_trial_is_frozen_and_others_are_bit_identical(problem: ModuleProblem) -> None:
    good = [Trial("adam", {"lr": lr}, seed=s) for lr in (1e-3, 1e-2) for s in (0, 1)]
    bad = Trial("adam", {"lr": 2e38}, seed=0, label="too large")  # float32 overflows within two steps
    bad_sgd = Trial("minibatch", {"lr": 1e38}, seed=1)
    with_bad = train(problem, [good[0], bad, *good[1:], bad_sgd])
    without = train(problem, good)
    diverged = [with_bad.diverged_at[1], with_bad.diverged_at[-1]]
    assert all(d is not None for d in diverged), with_bad.diverged_at
    assert with_bad.train_loss[-1, -1].isnan() and math.isnan(with_bad.final("valid")[-1].item())
    rows = [0, 2, 3, 4]
    assert torch.equal(with_bad.train_loss[rows], without.train_loss)
    for split in ("valid", "test"):
        assert torch.equal(with_bad.evals[split]["loss"][rows], without.evals[split]["loss"])
    assert all(d is None for d in without.diverged_at)


@pytest.mark.skipif(not fused.available(warn=False), reason="no C++ compiler: nothing to compile")
def test_compiled_update_trains_the_same_trials(problem: ModuleProblem, monkeypatch: pytest.MonkeyPatch) -> None:
    from optimlab.population_flat import FlatGroupRows

    calls = []
    compiled_step, flat_step = Population._fused_update, FlatGroupRows.step
    monkeypatch.setattr(Population, "_fused_update", lambda self, *a: calls.append(1) or compiled_step(self, *a))
    monkeypatch.setattr(FlatGroupRows, "step", lambda self, *a: calls.append(1) or flat_step(self, *a))
    trials = [Trial("adam", {"lr": lr}, seed=s) for lr in (1e-3, 1e-2) for s in (0, 1)]
    eager = train(problem, trials, 12, fused=False)
    assert not calls
    compiled = train(problem, trials, 12, fused=True)
    assert len(calls) == 11  # every step after the first (which creates the state on the reference path)
    torch.testing.assert_close(compiled.train_loss, eager.train_loss, rtol=2e-5, atol=2e-6)


def test_same_population_twice_is_bit_identical(problem: ModuleProblem) -> None:
    trials = [Trial(name, {"lr": LRS[name]}, seed=1) for name in ("sgd", "momentum", "rmsprop", "adam")]
    first, second = train(problem, trials), train(problem, trials)
    assert torch.equal(first.train_loss, second.train_loss)
    assert torch.equal(first.evals["test"]["accuracy"], second.evals["test"]["accuracy"])


def test_same_seed_sees_same_batches_whatever_else_runs(problem: ModuleProblem) -> None:
    # Identical trials with the same seed have identical curves, alone or next to others.
    twin = Trial("adam", {"lr": 0.01}, seed=5)
    crowd = [Trial("rmsprop", {"lr": 0.01}, seed=s) for s in range(4)]
    together = train(problem, [*crowd, twin, twin])
    alone = train(problem, [twin])
    assert torch.equal(together.train_loss[-1], together.train_loss[-2])
    torch.testing.assert_close(together.train_loss[-1], alone.train_loss[0], rtol=1e-6, atol=1e-7)


def test_batch_stream_is_a_function_of_seed_and_covers_epochs() -> None:
    a, b, c = BatchStream(50, 10, 3), BatchStream(50, 10, 3), BatchStream(50, 10, 4)
    first = [a.next() for _ in range(10)]
    assert all(torch.equal(x, b.next()) for x in first)
    assert not torch.equal(torch.cat(first[:5]), torch.cat([c.next() for _ in range(5)]))
    assert sorted(torch.cat(first[:5]).tolist()) == list(range(50))  # one epoch sees every example once
    assert torch.equal(BatchStream(7, 7, 0).next(), torch.arange(7))
    with pytest.raises(ValueError, match="batch size"):
        BatchStream(5, 6, 0)


def test_memory_budget_splits_into_chunks_with_identical_results(problem: ModuleProblem) -> None:
    trials = [Trial("adam", {"lr": 0.01}, seed=s) for s in range(6)]
    whole = train(problem, trials)
    assert whole.chunks == 1 and whole.bytes_per_trial > 0
    split = train(problem, trials, memory_budget=whole.bytes_per_trial * 2)
    assert split.chunks == 3
    assert torch.equal(split.train_loss, whole.train_loss)


def test_batch_policies_give_their_batch_sizes(problem: ModuleProblem) -> None:
    trials = [Trial("gd", {"lr": 0.1}), Trial("sgd", {"lr": 0.01}), Trial("minibatch", {"lr": 0.1}),
              Trial("adam", {"lr": 0.01}, batch_size=20)]
    result = train(problem, trials, steps=3)
    assert result.batch_sizes == [200, 1, 8, 20]
    frame = result.to_frame()
    assert list(frame["batch_size"]) == [200, 1, 8, 20]
    assert {"valid_loss", "valid_accuracy", "test_accuracy", "diverged_at"} <= set(frame.columns)


def test_eval_every_records_curves(problem: ModuleProblem) -> None:
    result = train(problem, [Trial("adam", {"lr": 0.01})], steps=30, eval_every=10)
    assert result.eval_steps == [10, 20, 30]
    assert result.evals["valid"]["accuracy"].shape == (1, 3)


def test_progress_reaches_the_total(problem: ModuleProblem) -> None:
    seen: list[tuple[int, int]] = []
    train(problem, [Trial("gd", {"lr": 0.1}), Trial("adam", {"lr": 0.01})], steps=5,
          progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (10, 10) and all(a <= b for (a, _), (b, _) in itertools.pairwise(seen))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"steps": 0}, "steps=0"), ({"eval_splits": ("dev",)}, "Unknown split"), ({"eval_every": 0}, "eval_every")],
)
def test_bad_arguments_are_clear(problem: ModuleProblem, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        train(problem, [Trial("adam")], **{"steps": 5, **kwargs})


def test_bad_trial_is_rejected_when_made() -> None:
    with pytest.raises(ValueError, match="Unknown hyperparameter 'betas' for sgd"):
        Trial("sgd", {"betas": (0.9, 0.99)})
    with pytest.raises(ValueError, match=r"Invalid lr=-1"):
        Trial("adam", {"lr": -1})


def test_schedule_factors() -> None:
    assert Schedule().factor(7, 10) == 1.0
    warm = Schedule("warmup-cosine", warmup=4)
    assert [warm.factor(s, 20) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert warm.factor(19, 20) < 0.02
    assert Schedule("step", every=5, gamma=0.5).factor(12, 100) == 0.25
    assert Schedule("linear", final=0.1).factor(100, 100) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="Unknown schedule"):
        Schedule("exponential")  # type: ignore[arg-type]


@pytest.mark.parametrize("optimizer", ["adam", "gd"])
def test_isolation_holds_when_all_trials_share_one_batch(problem: ModuleProblem, optimizer: str) -> None:
    # One seed (or the full batch): the batch is broadcast to every trial instead of copied per trial.
    good = [Trial(optimizer, {"lr": lr}, seed=0) for lr in (1e-3, 1e-2, 3e-2)]
    with_bad = train(problem, [good[0], Trial(optimizer, {"lr": 2e38}, seed=0), *good[1:]])
    assert with_bad.diverged_at[1] is not None
    assert torch.equal(with_bad.train_loss[[0, 2, 3]], train(problem, good).train_loss)


def test_large_parameters_take_their_gradients_memory_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    """A large weight whose batched gradient comes transposed is stored transposed (same values), so the update
    reads both in order; a gradient with no dense layout (an expanded one) leaves the parameter as it is, and so
    does a small tensor (its module's layout makes faster matmuls; copying its gradient is cheap)."""
    param = torch.randn(3, 4, 5)
    transposed_grad = torch.randn(3, 5, 4).transpose(1, 2)
    assert _in_gradient_layout(param, transposed_grad) is param  # 60 elements: small
    monkeypatch.setattr(training, "GRADIENT_LAYOUT_MIN_ELEMENTS", 60)
    moved = _in_gradient_layout(param, transposed_grad)
    assert moved.stride() == transposed_grad.stride() and not moved.is_contiguous()
    assert torch.equal(moved, param)
    expanded_grad = torch.randn(3, 4, 1).expand(3, 4, 5)
    assert _in_gradient_layout(param, expanded_grad) is param
    assert _in_gradient_layout(param, torch.randn(3, 4, 5)) is param


@pytest.mark.parametrize("optimizer", ["gd", "adam"])
def test_large_batches_run_in_micro_batches_with_the_same_results(
    problem: ModuleProblem, optimizer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch that would save too much for backward goes through in micro-batches whose weighted losses and
    gradients sum to the whole batch's (float32 rounding apart); the footprint counts one micro-batch."""
    trials = [Trial(optimizer, {"lr": 0.05}, seed=s) for s in range(3)]
    whole = train(problem, trials, steps=8)
    monkeypatch.setattr(training, "ACCUMULATE_ABOVE_BYTES", 1)  # every batch: micro-batches of one example
    parts = train(problem, trials, steps=8)
    assert whole.batch_sizes == parts.batch_sizes and max(parts.batch_sizes) > 1
    assert parts.bytes_per_trial < whole.bytes_per_trial
    torch.testing.assert_close(parts.train_loss, whole.train_loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(parts.final("valid"), whole.final("valid"), rtol=1e-5, atol=1e-6)


def test_micro_batch_size_follows_the_saved_bytes(problem: ModuleProblem) -> None:
    limit = training.ACCUMULATE_ABOVE_BYTES
    assert training.micro_batch_size(problem, 100, limit) == 100  # at the limit: one pass
    assert training.micro_batch_size(problem, 100, 4 * limit) == 25
    assert training.micro_batch_size(problem, 100, 1000 * limit) == 1
