"""The runner: the tuning protocol end to end, defaults-only studies, interruption and resume (in process),
populations fixed by the plan, and problems that fail."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import pytest

import optimlab.engine.executor as engine_module
from optimlab.errors import UserError
from optimlab.registry import get_preset
from optimlab.study import bench, load_results
from optimlab.study.store import Store

SMALL = {"sparse-logreg": {"n_features": 20, "n_train": 200, "n_eval": 100},
         "quadratic": {"dim": 5, "n_train": 64, "n_eval": 32}}
ARGS: dict[str, Any] = {"problems": ["quadratic", "sparse-logreg"], "optimizers": "adam,gd,momentum", "seeds": 2,
                        "steps": 12, "lr_grid": [1e-3, 1e-1, 1e4], "problem_options": SMALL, "max_population": 4,
                        "stream": None}


def _metrics(path: Path) -> dict[str, tuple[str, str | None, Any]]:
    with Store(path, readonly=True) as store:
        study = store.study()["id"]
        return {r["key"]: (r["status"], r["metrics_json"], r["diverged_at"]) for r in store.trials(study)}


def test_protocol_tunes_on_validation_never_picks_diverged_and_scores_on_test(tmp_path: Path) -> None:
    results = bench(store=tmp_path / "s.sqlite", **ARGS)
    trials = results.trials
    assert results.status == "done" and set(trials["status"]) <= {"done", "diverged"}
    tune, final = trials[trials["phase"] == "tune"], trials[trials["phase"] == "final"]
    assert len(tune) == 2 * 3 * 3
    # lr = 1e4 on the quadratic blows up: marked diverged, with no metrics.
    blown = tune[(tune["problem"] == "quadratic") & (tune["lr"] == 1e4) & (tune["optimizer"] == "gd")]
    assert (blown["status"] == "diverged").all() and blown["valid_loss"].isna().all()
    chosen = results.selected()
    for problem in ARGS["problems"]:
        metric = results.plan["selection_metric"][problem]
        sign = -1 if metric.endswith("accuracy") else 1
        for optimizer in ("adam", "gd", "momentum"):
            mine = tune[(tune["problem"] == problem) & (tune["optimizer"] == optimizer) & (tune["status"] == "done")]
            best = mine.sort_values([metric, "valid_loss", "lr"], key=lambda c, s=sign, m=metric: c * s
                                    if c.name == m else c).iloc[0]
            row = chosen[(chosen["problem"] == problem) & (chosen["optimizer"] == optimizer)].iloc[0]
            assert row["lr"] == best["lr"] and row["value"] == best[metric]
            assert row["at_edge"] == (row["lr"] != 0.1)  # the grid is 1e-3, 0.1, 1e4
            runs = final[(final["problem"] == problem) & (final["optimizer"] == optimizer)]
            assert sorted(runs["seed"]) == [0, 1] and set(runs["lr"]) == {best["lr"]}
    # Test metrics exist only for the final runs; tuning never looks at the test split.
    assert tune["test_loss"].isna().all() and final["test_loss"].notna().all()
    assert final["test_accuracy"].notna().sum() == 3 * 2
    # Curves: every step of the training loss, validation metrics at the evaluation points.
    first = final.iloc[0]["trial_id"]
    curve = results.curves[(results.curves["trial_id"] == first) & (results.curves["kind"] == "train_loss")]
    assert list(curve["step"]) == list(range(1, 13)) and curve["value"].notna().all()
    valid = results.curves[(results.curves["trial_id"] == first) & (results.curves["kind"] == "valid_loss")]
    assert list(valid["step"])[-1] == 12
    ranking = results.ranking()
    assert list(ranking.columns) == ["optimizer", "quadratic", "sparse-logreg", "mean_rank"]
    assert ranking["mean_rank"].is_monotonic_increasing


def test_defaults_only_study_runs_each_default_lr_on_every_seed(tmp_path: Path) -> None:
    results = bench(["quadratic"], "adam,adadelta", 3, store=tmp_path / "s.sqlite", tune=False, steps=5,
                    problem_options=SMALL, stream=None)
    trials = results.trials
    assert set(trials["phase"]) == {"defaults"} and len(trials) == 6
    for optimizer in ("adam", "adadelta"):
        assert set(trials[trials["optimizer"] == optimizer]["lr"]) == {get_preset(optimizer).defaults()["lr"]}
    assert trials["test_loss"].notna().all()
    assert set(results.selected()["lr"]) == {1e-3, 1.0}
    assert "defaults only" in results.name


ENGINE = engine_module.train


class _Interrupt:
    """Wraps the engine: records each population it trains and raises KeyboardInterrupt on call ``stop_at``."""

    def __init__(self, stop_at: int | None) -> None:
        self.stop_at, self.calls, self.populations = stop_at, 0, []
        self.memory_budgets: set[int] = set()
        self.train = ENGINE

    def __call__(self, problem: Any, trials: Any, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        self.populations.append((problem.name, [(t.optimizer, t.overrides["lr"], t.seed) for t in trials]))
        self.memory_budgets.add(kwargs["memory_budget"])
        return self.train(problem, trials, *args, **kwargs)


def test_interrupted_study_resumes_with_identical_numbers_and_no_repeats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _Interrupt(None)
    monkeypatch.setattr(engine_module, "train", whole)
    bench(store=tmp_path / "whole.sqlite", **ARGS)
    reference = _metrics(tmp_path / "whole.sqlite")

    path = tmp_path / "cut.sqlite"
    first = _Interrupt(stop_at=4)
    monkeypatch.setattr(engine_module, "train", first)
    with pytest.raises(KeyboardInterrupt):
        bench(store=path, **ARGS)
    with Store(path, readonly=True) as store:
        info = store.study()
        rows = store.trials(info["id"])
    assert info["status"] == "interrupted"
    assert {r["status"] for r in rows} == {"done", "diverged", "pending"}  # nothing left "running"
    kept = {r["key"]: (r["id"], r["metrics_json"]) for r in rows if r["status"] in ("done", "diverged")}
    assert len(kept) > 0

    second = _Interrupt(None)
    monkeypatch.setattr(engine_module, "train", second)
    resumed = bench(store=path, resume=True, stream=None)
    assert resumed.status == "done"
    # Exactly the populations an uninterrupted run trains, each once: the grouping is fixed by the plan.
    assert first.populations + second.populations == whole.populations
    # The engine's memory chunks are cut by the budget recorded in the plan, not by this machine's memory now.
    assert first.memory_budgets == second.memory_budgets == {resumed.plan["memory_budget"]}
    after = {r["key"]: (r["id"], r["metrics_json"]) for r in Store(path, readonly=True).trials(resumed.study_id)}
    assert all(after[key] == value for key, value in kept.items())  # finished trials untouched
    assert _metrics(path) == reference  # same trials, bit-identical numbers
    with pytest.raises(UserError, match="no unfinished study"):
        bench(store=path, resume=True, stream=None)


def _fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


PROBLEM_FILE = '''
import torch
from torch import nn
from optimlab.problems.base import Data, ModuleProblem, Split

CALLS = {"n": 0}

def broken():
    raise RuntimeError("no data here")

def fails_later():
    x, y = torch.randn(80, 4, generator=torch.Generator().manual_seed(0)), torch.zeros(80)

    def loss(out, target):
        CALLS["n"] += 1
        if CALLS["n"] > 12:
            raise FloatingPointError("the loss gave up")
        return ((out.squeeze(-1) - target) ** 2).mean()

    data = Data(Split(x[:40], y[:40]), Split(x[40:60], y[40:60]), Split(x[60:], y[60:]))
    return ModuleProblem(name="fails-later", make_module=lambda: nn.Linear(4, 1), data=data, loss_fn=loss,
                         default_steps=3, default_batch_size=8)

INTERRUPTS = {"n": 0}

def interrupted_later():
    x, y = torch.randn(80, 4, generator=torch.Generator().manual_seed(0)), torch.zeros(80)

    def loss(out, target):
        INTERRUPTS["n"] += 1
        if INTERRUPTS["n"] > 12:
            try:
                raise KeyboardInterrupt
            finally:  # a cleanup that fails while the interrupt unwinds
                raise RuntimeError("cleanup failed on the way out")
        return ((out.squeeze(-1) - target) ** 2).mean()

    data = Data(Split(x[:40], y[:40]), Split(x[40:60], y[40:60]), Split(x[60:], y[60:]))
    return ModuleProblem(name="interrupted-later", make_module=lambda: nn.Linear(4, 1), data=data, loss_fn=loss,
                         default_steps=3, default_batch_size=8)
'''


def test_problem_that_raises_when_built_leaves_the_store_untouched(tmp_path: Path) -> None:
    source = tmp_path / "mine.py"
    source.write_text(PROBLEM_FILE)
    path = tmp_path / "s.sqlite"
    bench(["quadratic"], "adam", 1, store=path, steps=2, lr_grid=[0.01], problem_options=SMALL, stream=None)
    before = _fingerprint(path)
    with pytest.raises(UserError, match=r"broken.*raised RuntimeError: no data here") as info:
        bench([f"{source}:broken"], "adam", 1, store=path, stream=None)
    assert "\n" not in str(info.value)
    assert _fingerprint(path) == before and len(Store(path, readonly=True).studies()) == 1


def test_problem_that_raises_while_training_fails_clearly_and_keeps_finished_trials(tmp_path: Path) -> None:
    source = tmp_path / "later.py"
    source.write_text(PROBLEM_FILE)
    path = tmp_path / "s.sqlite"
    with pytest.raises(UserError, match=r"Training on problem 'fails-later' failed .*FloatingPointError") as info:
        bench([f"{source}:fails_later"], "adam,momentum", 1, store=path, steps=3, lr_grid=[0.01, 0.1],
              max_population=2, stream=None)
    assert "\n" not in str(info.value)
    results = load_results(path)
    assert results.status == "failed"
    statuses = list(results.trials["status"])
    assert statuses[:2] == ["done", "done"] and "failed" in statuses
    failed = results.trials[results.trials["status"] == "failed"]
    assert failed["error"].str.contains("the loss gave up").all()
    assert math.isfinite(results.trials.iloc[0]["valid_loss"])
    assert json.loads(Store(path, readonly=True).study()["plan_json"])["problems"] == [f"{source}:fails_later"]


def test_an_error_raised_while_an_interrupt_unwinds_stops_the_study_as_interrupted(tmp_path: Path) -> None:
    source = tmp_path / "interrupted.py"
    source.write_text(PROBLEM_FILE)
    path = tmp_path / "s.sqlite"
    with pytest.raises(KeyboardInterrupt):
        bench([f"{source}:interrupted_later"], "adam,momentum", 1, store=path, steps=3, lr_grid=[0.01, 0.1],
              max_population=2, stream=None)
    statuses = list(load_results(path).trials["status"])
    assert statuses[:2] == ["done", "done"] and "failed" not in statuses and "running" not in statuses


def test_resume_skips_a_claims_study_and_continues_the_latest_benchmark(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    results = bench(["quadratic"], "adam", 1, store=path, steps=2, lr_grid=[0.01], problem_options=SMALL, stream=None)
    with Store(path) as store:
        store.set_status(results.study_id, "interrupted")
        claims = store.create_study("claims (quick)", {**results.plan, "kind": "claims", "problems": []})
        store.set_status(claims, "failed")
    resumed = bench(store=path, resume=True, stream=None)
    assert resumed.study_id == results.study_id and resumed.status == "done"
    with pytest.raises(UserError, match="claims study"):
        bench(store=path, resume=True, study=claims, stream=None)
