"""Choosing an executor (the probe, its notice), streaming finished trials, and the local-processes executor."""

from __future__ import annotations

import io
import multiprocessing
import os
import time
import warnings
from collections.abc import Iterator

import pytest
import torch
from torch import Tensor, nn

from engine_models import bn_problem, dropout_problem, gru_problem, lstm_problem, mlp_problem
from optimlab._threads import torch_threads
from optimlab.engine import PerTrialExecutor, PopulationExecutor, ProcessExecutor, choose_executor, run_trials
from optimlab.engine.probe import ModelError, probe
from optimlab.engine.processes import ProblemNotShippable, WorkerDied, split_shares
from optimlab.errors import UserError
from optimlab.notices import ExecutorNotice, printed_as_lines
from optimlab.population import Trial
from optimlab.problems.base import ModuleProblem
from optimlab.problems.catalog import get_problem

TRIALS = [Trial("adam", {"lr": 0.01}, seed=0), Trial("momentum", {"lr": 0.05}, seed=1)]


def chosen(problem: ModuleProblem) -> tuple[str, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        executor = choose_executor(problem, TRIALS)
    return executor.name, [str(w.message) for w in caught if issubclass(w.category, ExecutorNotice)]


def test_the_population_runs_what_vmap_can_batch_without_a_notice() -> None:
    assert chosen(mlp_problem()) == ("population", [])
    assert chosen(get_problem("quadratic")) == ("population", [])  # buffers that training leaves alone are fine


@pytest.mark.parametrize(
    ("build", "notice"),
    [
        (gru_problem, "optimlab: training trials one by one: the model's GRU has no batched (vmap) kernel "
                      "(aten::gru.input)"),
        (lstm_problem, "optimlab: training trials one by one: the model's LSTM has no batched (vmap) kernel "
                       "(aten::lstm.input)"),
        (bn_problem, "optimlab: training trials one by one: the model's BatchNorm1d updates its buffer "
                     "'2.running_mean' while training"),
        (dropout_problem, "optimlab: training trials one by one: the model's Dropout draws random numbers, which "
                          "one batched (vmap) pass cannot draw for each trial apart"),
    ],
    ids=["gru", "lstm", "bn-cnn", "dropout"],
)
def test_the_fallback_is_chosen_by_itself_with_one_notice(build: object, notice: str) -> None:
    problem = build()  # type: ignore[operator]
    assert chosen(problem) == ("per-trial", [notice])
    assert chosen(problem) == ("per-trial", [])  # one notice per problem
    result = run_trials(problem, TRIALS, 3)  # and it trains, without a traceback from inside vmap
    assert result.train_loss.isfinite().all()


class Counter(nn.Module):
    """A buffer no module type announces: counts the forward passes (a BatchNorm-type check would miss it)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(16, 3)
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        self.calls += 1
        return self.linear(x)


def test_any_buffer_that_training_changes_is_found() -> None:
    problem = mlp_problem()
    problem = ModuleProblem(name="counter", make_module=Counter, data=problem.data, loss_fn=problem.loss_fn)
    verdict = probe(problem)
    assert not verdict.batched and "Counter updates its buffer 'calls'" in verdict.reason


def test_the_verdict_is_measured_once_per_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = gru_problem()
    first = probe(problem)
    monkeypatch.setattr(problem, "losses", lambda *a: pytest.fail("probed twice"))
    assert probe(problem) is first


def test_a_model_that_fails_on_its_own_data_is_one_sentence() -> None:
    base = mlp_problem()
    broken = ModuleProblem(name="broken", make_module=lambda: nn.Linear(15, 3), data=base.data, loss_fn=base.loss_fn)
    with pytest.raises(ModelError, match=r"^The model of problem 'broken' fails on 2 training examples: RuntimeError"):
        run_trials(broken, TRIALS, 2)


def test_a_caller_can_force_an_executor() -> None:
    problem = mlp_problem()
    forced = run_trials(problem, TRIALS, 4, executor=PerTrialExecutor())
    default = run_trials(problem, TRIALS, 4)
    torch.testing.assert_close(forced.train_loss, default.train_loss, rtol=2e-5, atol=2e-6)
    with pytest.raises(RuntimeError, match="gru"):  # the population cannot run a GRU, and says so from vmap
        run_trials(gru_problem(), TRIALS, 2, executor=PopulationExecutor())


def test_notices_print_as_one_line_on_the_cli() -> None:
    stream = io.StringIO()
    with printed_as_lines(stream), warnings.catch_warnings():
        warnings.simplefilter("always")
        choose_executor(gru_problem(), TRIALS)
    assert stream.getvalue() == (
        "optimlab: training trials one by one: the model's GRU has no batched (vmap) kernel (aten::gru.input)\n"
    )


@pytest.mark.parametrize("executor", [PopulationExecutor(memory_budget=1), PerTrialExecutor()], ids=lambda e: e.name)
def test_finished_trials_stream_out_exactly_once(executor: PopulationExecutor | PerTrialExecutor) -> None:
    problem = mlp_problem()
    trials = [Trial("adam", {"lr": 0.01}, seed=s) for s in range(3)]
    parts: list[tuple[list[int], Tensor]] = []
    result = run_trials(problem, trials, 4, executor=executor, on_done=lambda rows, part: parts.append(
        (rows, part.train_loss)))
    assert len(parts) == 3  # a budget of one byte: one trial per chunk
    assert sorted(k for rows, _ in parts for k in rows) == [0, 1, 2]
    for rows, losses in parts:
        assert torch.equal(losses, result.train_loss[rows])


def test_shares_cover_the_trials_in_order() -> None:
    assert split_shares(5, 2, one_per_trial=False) == [[0, 1], [2, 3, 4]]
    assert split_shares(1, 4, one_per_trial=False) == [[0]]
    assert split_shares(3, 2, one_per_trial=True) == [[0], [1], [2]]


# ------------------------------------------------------------------------------------------------ worker processes


@pytest.fixture(scope="module")
def two_workers() -> Iterator[ProcessExecutor]:
    with ProcessExecutor(workers=2) as executor:  # one pool for the module's tests: workers take seconds to start
        yield executor


def test_processes_give_the_in_process_numbers(two_workers: ProcessExecutor) -> None:
    """A catalog problem (rebuilt from its name in each worker) as two sub-populations, and a pickled BatchNorm
    problem trial by trial: bit for bit what the same executor computes here with one thread."""
    quadratic = get_problem("quadratic", n_train=128)
    trials = [Trial(name, {"lr": lr}, seed=s) for name, lr in (("adam", 0.01), ("sgd", 0.05)) for s in (0, 1)]
    done: list[list[int]] = []
    remote = run_trials(quadratic, trials, 10, executor=two_workers, on_done=lambda rows, part: done.append(rows))
    assert sorted(done) == [[0, 1], [2, 3]]
    with torch_threads(1):
        here = [PopulationExecutor().run(quadratic, share, 10) for share in (trials[:2], trials[2:])]
    assert torch.equal(remote.train_loss, torch.cat([r.train_loss for r in here]))
    assert torch.equal(remote.final("test"), torch.cat([r.final("test") for r in here]))

    problem = bn_problem()
    remote = run_trials(problem, TRIALS, 6, executor=two_workers)
    with torch_threads(1):
        here_bn = run_trials(problem, TRIALS, 6)
    assert torch.equal(remote.train_loss, here_bn.train_loss)
    assert torch.equal(remote.evals["valid"]["accuracy"], here_bn.evals["valid"]["accuracy"])
    assert remote.diverged_at == here_bn.diverged_at and remote.batch_sizes == here_bn.batch_sizes


def test_a_problem_that_does_not_pickle_is_one_sentence(two_workers: ProcessExecutor) -> None:
    base = mlp_problem()
    local = ModuleProblem(name="local", make_module=lambda: nn.Linear(16, 3), data=base.data, loss_fn=base.loss_fn)
    with pytest.raises(ProblemNotShippable, match=r"'path/to/file.py:function'"):
        run_trials(local, TRIALS, 2, executor=two_workers)


class DiesInAWorker(ModuleProblem):
    """Kills the worker process that builds trial seed 13's module (a stand-in for the out-of-memory killer)."""

    def module_for(self, seed: int) -> nn.Module:
        if seed == 13 and multiprocessing.parent_process() is not None:
            time.sleep(0.5)  # lets the earlier trials' results reach the parent first
            os._exit(9)
        return super().module_for(seed)


def test_a_dead_worker_is_one_sentence_after_the_finished_trials() -> None:
    base = bn_problem()
    problem = DiesInAWorker(name="dies", make_module=base.make_module, data=base.data, loss_fn=base.loss_fn)
    trials = [*TRIALS, Trial("adam", {"lr": 0.01}, seed=13)]
    done: list[int] = []
    with ProcessExecutor(workers=1, inner=PerTrialExecutor()) as executor, pytest.raises(WorkerDied) as caught:
        run_trials(problem, trials, 3, executor=executor, on_done=lambda rows, part: done.extend(rows))
    assert isinstance(caught.value, UserError)
    assert str(caught.value).startswith("A worker process died (killed, or out of memory?) after 2 of 3 shares")
    assert done == [0, 1]
