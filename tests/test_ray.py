"""The Ray executor: same numbers as local runs, faults survived, user errors in one sentence.

One local Ray cluster (2 CPUs, no dashboard, its files in a temporary folder) serves the whole module; the
two-node case runs in a subprocess with ``ray.cluster_utils.Cluster`` (a driver joins one cluster per process).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

from optimlab import Trial
from optimlab.engine import run_trials
from optimlab.problems.base import Data, ModuleProblem, Split
from optimlab.problems.catalog import get_problem

ray = pytest.importorskip("ray")

from optimlab.engine.ray_executor import (  # noqa: E402
    RayExecutor,
    RayUnavailableError,
    TaskCounts,
    WorkerError,
    require_ray,
    task_units,
)

RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    temp = tempfile.mkdtemp(prefix="/tmp/ol-ray-")  # short: Ray's socket paths must stay under 107 bytes
    os.environ.update({**RAY_ENV, "RAY_TMPDIR": temp})
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=temp)
    # This module's classes and functions define the test problems; the workers cannot import a test module.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        yield
    finally:
        ray.shutdown()


def _trials() -> list[Trial]:
    return [Trial(o, {"lr": lr}, seed=s) for o in ("adam", "momentum") for lr in (1e-3, 1e-2) for s in range(2)]


def test_same_numbers_as_local_units(cluster: None) -> None:
    problem, trials, steps = get_problem("mnist1d-mlp"), _trials(), 20
    counts: list[str] = []
    delivered: list[list[int]] = []
    out = RayExecutor(task_progress=lambda c: counts.append(str(c))).run(
        problem, trials, steps, eval_splits=("valid",), on_done=lambda rows, part: delivered.append(rows))
    units = task_units(problem, trials, steps, 2)
    assert sorted(r for rows in delivered for r in rows) == list(range(len(trials)))
    assert sorted(map(tuple, delivered)) == sorted(map(tuple, units))
    assert counts[-1].startswith(f"ray tasks: {len(units)}/{len(units)} finished, 0 running, 0 retried")
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the tasks' thread count: then every number is bit-identical
    try:
        for unit in units:
            local = run_trials(problem, [trials[k] for k in unit], steps, eval_splits=("valid",))
            assert torch.equal(local.train_loss, out.train_loss[unit])
            assert torch.equal(local.final("valid"), out.final("valid")[unit])
            assert [out.trials[k] for k in unit] == [trials[k] for k in unit]
    finally:
        torch.set_num_threads(before)


def test_run_units_keeps_the_callers_populations(cluster: None) -> None:
    problem = get_problem("mnist1d-mlp")
    units = [[Trial("adam", {"lr": 1e-3}, seed=0), Trial("adam", {"lr": 3e-3}, seed=0)],
             [Trial("rmsprop", {"lr": 1e-3}, seed=1)]]
    out = RayExecutor().run_units(problem, units, 10, eval_splits=("valid",))
    torch.set_num_threads(1)
    flat = [t for u in units for t in u]
    assert out.trials == flat
    for start, unit in ((0, units[0]), (2, units[1])):
        local = run_trials(problem, unit, 10, eval_splits=("valid",))
        assert torch.equal(local.train_loss, out.train_loss[start : start + len(unit)])


def _task_worker_pids() -> list[int]:
    """Worker processes running an optimlab task now (Ray titles a busy worker ``ray::<function>``); found in
    /proc, because Ray's state API needs the dashboard, which the test cluster leaves out."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(b"ray::_run_unit"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _kill_one_busy_worker(killed: list[int], timeout: float = 120) -> None:
    """SIGKILL to the first worker seen running an optimlab task (its pid appended to ``killed``)."""
    deadline = time.time() + timeout
    while not killed and time.time() < deadline:
        for pid in _task_worker_pids():
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            break
        time.sleep(0.02)


def _slow_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy that takes its time, so a test can kill the worker mid-task."""
    time.sleep(0.01)
    return nn.functional.cross_entropy(outputs, targets)


def _tiny_problem(loss: object, steps: int = 200) -> ModuleProblem:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(96, 6, generator=g), torch.randint(0, 3, (96,), generator=g)
    data = Data(train=Split(x[:64], y[:64]), valid=Split(x[64:80], y[64:80]), test=Split(x[80:], y[80:]))
    return ModuleProblem(name="tiny", make_module=lambda: nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)),
                         data=data, loss_fn=loss, default_steps=steps)  # type: ignore[arg-type]


def test_a_killed_worker_is_retried_and_loses_nothing(cluster: None) -> None:
    problem = _tiny_problem(_slow_loss)
    units = [[Trial("adam", {"lr": 1e-2}, seed=s)] for s in range(2)]
    killed: list[int] = []
    killer = threading.Thread(target=_kill_one_busy_worker, args=(killed,))
    killer.start()
    executor = RayExecutor()
    delivered: list[list[int]] = []
    out = executor.run_units(problem, units, 60, eval_splits=("valid",),
                             on_done=lambda rows, part: delivered.append(rows))
    killer.join()
    assert killed and executor.counts.retried >= 1
    assert sorted(r for rows in delivered for r in rows) == [0, 1]  # each trial delivered exactly once
    torch.set_num_threads(1)
    plain = _tiny_problem(nn.functional.cross_entropy)
    for k, unit in enumerate(units):
        local = run_trials(plain, unit, 60, eval_splits=("valid",))
        assert torch.equal(local.train_loss, out.train_loss[k : k + 1])


def _failing_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    raise ArithmeticError("the user's loss broke on purpose")


def test_a_problem_the_workers_cannot_load_is_named(cluster: None) -> None:
    ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    try:
        with pytest.raises(WorkerError, match=r"could not load the problem .*No module named 'test_ray'"):
            RayExecutor().run(_tiny_problem(_failing_loss), [Trial("adam", {"lr": 1e-3})], 5, eval_splits=("valid",))
    finally:
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def test_bad_user_code_fails_with_the_workers_sentence(cluster: None) -> None:
    with pytest.raises(WorkerError, match="ArithmeticError: the user's loss broke on purpose") as info:
        RayExecutor().run(_tiny_problem(_failing_loss), [Trial("adam", {"lr": 1e-3})], 5, eval_splits=("valid",))
    assert "\n" not in str(info.value)


def test_a_users_problem_file_travels_by_value(cluster: None, tmp_path: Path) -> None:
    source = tmp_path / "my_problem.py"
    source.write_text(textwrap.dedent("""
        import torch
        from torch import nn
        from optimlab.problems.base import Data, ModuleProblem, Split

        class Net(nn.Module):  # defined only in this file: the workers cannot import it
            def __init__(self):
                super().__init__()
                self.layer = nn.Linear(4, 2)

            def forward(self, x):
                return self.layer(x)

        def make():
            g = torch.Generator().manual_seed(3)
            x, y = torch.randn(40, 4, generator=g), torch.randint(0, 2, (40,), generator=g)
            data = Data(Split(x[:24], y[:24]), Split(x[24:32], y[24:32]), Split(x[32:], y[32:]))
            return ModuleProblem(name="file-net", make_module=Net, data=data,
                                 loss_fn=nn.functional.cross_entropy, default_steps=10)
    """))
    problem = get_problem(f"{source}:make")
    trial = Trial("adam", {"lr": 1e-2})
    out = RayExecutor().run(problem, [trial], 10, eval_splits=("valid",))
    torch.set_num_threads(1)
    assert torch.equal(out.train_loss, run_trials(problem, [trial], 10, eval_splits=("valid",)).train_loss)


def test_task_units_are_deterministic_and_cover_every_trial() -> None:
    problem = get_problem("mnist1d-mlp")
    trials = [Trial(o, {"lr": 1e-2}, seed=s) for o in ("sgd", "adam", "gd") for s in range(5)]
    units = task_units(problem, trials, 50, cpus=2)
    assert units == task_units(problem, trials, 50, cpus=2)
    assert sorted(k for u in units for k in u) == list(range(len(trials)))
    for unit in units:  # trials of different batch sizes never share a task (they never share a population)
        assert len({trials[k].optimizer for k in unit}) == 1
    assert all(len(u) * 50 >= 2000 or len(u) == 5 for u in units)
    assert str(TaskCounts(total=3, finished=1, retried=2)) == "ray tasks: 1/3 finished, 2 running, 2 retried"


def test_a_study_on_ray_stores_the_same_numbers_as_a_local_one(cluster: None, tmp_path: Path) -> None:
    from optimlab.study import bench

    def study(store: Path, executor: object) -> object:
        return bench(["sparse-logreg"], "adam,momentum", 2, "quick", steps=30, tune_seeds=1, lr_grid=[0.01, 0.1],
                     max_population=2, store=store, stream=None, executor=executor).trials  # type: ignore[arg-type]

    torch.set_num_threads(1)
    local, on_ray = study(tmp_path / "local.sqlite", None), study(tmp_path / "ray.sqlite", RayExecutor())
    volatile = [c for c in local.columns if c in ("study_id", "trial_id", "seconds", "finished_at", "started_at")
                or (c.endswith("_at") and c != "diverged_at")]
    key = ["phase", "optimizer", "lr", "seed"]
    a = local.drop(columns=volatile).sort_values(key).reset_index(drop=True)
    b = on_ray.drop(columns=volatile).sort_values(key).reset_index(drop=True)
    assert len(a) == 8 and list(a.columns) == list(b.columns)
    numeric = [c for c in a.columns if c.startswith(("valid_", "test_", "final_"))]
    assert numeric, a.columns
    assert (a[key] == b[key]).all().all()
    assert a[numeric].equals(b[numeric])  # bit-identical: the same populations on one thread each


def test_without_ray_installed_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(RayUnavailableError, match=r"pip install 'optimlab\[ray\]'"):
        require_ray()
    from optimlab.cli import main

    assert main(["bench", "--backend", "ray", "--problems", "quadratic", "--quiet"]) == 2


@pytest.mark.slow
def test_two_node_cluster_same_numbers(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import torch
        from ray.cluster_utils import Cluster
        import ray
        from optimlab import Trial
        from optimlab.engine import run_trials
        from optimlab.engine.ray_executor import RayExecutor, task_units
        from optimlab.problems.catalog import get_problem
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
        cluster.add_node(num_cpus=1)
        ray.init(address=cluster.address, log_to_driver=False)
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        problem = get_problem("mnist1d-mlp")
        trials = [Trial("adam", {"lr": lr}, seed=s) for lr in (1e-3, 1e-2) for s in range(2)]
        out = RayExecutor().run(problem, trials, 10, eval_splits=("valid",))
        torch.set_num_threads(1)
        for unit in task_units(problem, trials, 10, 2):
            local = run_trials(problem, [trials[k] for k in unit], 10, eval_splits=("valid",))
            assert torch.equal(local.train_loss, out.train_loss[unit]), unit
        # a study and an advisor tournament on the two nodes: the numbers of local runs
        from optimlab.advise import advise
        from optimlab.study import bench
        def study(store, executor):
            rows = bench(["sparse-logreg"], "adam,momentum", 2, "quick", steps=20, tune_seeds=1, lr_grid=[0.01, 0.1],
                         max_population=2, store=store, stream=None, executor=executor).trials
            key = ["phase", "optimizer", "lr", "seed"]
            numbers = [c for c in rows.columns if c.startswith(("valid_", "test_", "final_"))]
            assert numbers
            return rows.sort_values(key).reset_index(drop=True)[key + numbers]
        assert study(STORE + "-local", None).equals(study(STORE + "-ray", RayExecutor()))
        def advice(executor):
            result = advise("sparse-logreg", budget=4000, candidates="adam,momentum", seeds=2, steps=40,
                            executor=executor)
            return result.winner.candidate, result.winner.lr, result.bracket["score"].tolist()
        assert advice(None) == advice(RayExecutor())
        ray.shutdown(); cluster.shutdown()
        print("two nodes ok")
    """).replace("STORE", repr(str(tmp_path / "two-node.sqlite")))
    temp = tempfile.mkdtemp(prefix="/tmp/ol-rayc-")  # Ray's files for this cluster (RAY_TMPDIR), not /tmp/ray
    env = {**os.environ, **RAY_ENV, "RAY_TMPDIR": temp}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=env)
    assert "two nodes ok" in done.stdout, done.stderr[-3000:]


FLAKY_PROBLEM = '''
import os
import sqlite3
import time

import torch
from torch import nn
from optimlab.problems.base import Data, ModuleProblem, Split, accuracy

BROKEN = {broken!r}  # while this file exists, the loss breaks on full batches (the gd trials)


def _wait_for_finished_trials(store, count, timeout=120.0):
    """Break only once the store holds ``count`` finished trials: the test is that those are kept."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with sqlite3.connect(store) as db:
            if db.execute("SELECT COUNT(*) FROM trials WHERE status='done'").fetchone()[0] >= count:
                return
        time.sleep(0.1)


def loss(outputs, targets):
    if outputs.shape[0] == 48 and os.path.exists(BROKEN):
        _wait_for_finished_trials(open(BROKEN).read(), 2)
        raise ArithmeticError("the full-batch loss broke on purpose")
    return nn.functional.cross_entropy(outputs, targets)


def make():
    g = torch.Generator().manual_seed(5)
    x, y = torch.randn(80, 6, generator=g), torch.randint(0, 3, (80,), generator=g)
    data = Data(Split(x[:48], y[:48]), Split(x[48:64], y[48:64]), Split(x[64:], y[64:]))
    return ModuleProblem(name="flaky", make_module=lambda: nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)),
                         data=data, loss_fn=loss, metrics={{"accuracy": accuracy}}, default_steps=30,
                         default_batch_size=16)
'''


def test_bad_user_code_fails_the_study_in_one_sentence_and_resume_finishes_it(
    cluster: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A study on Ray whose user code raises in some tasks: exit 2 with the worker's sentence, the trials that
    finished are in the store, and once the code is mended ``--resume`` ends with a local run's numbers."""
    from optimlab.cli import main
    from optimlab.study import load_results

    store = tmp_path / "ray.sqlite"
    broken = tmp_path / "broken"
    broken.write_text(str(store))
    source = tmp_path / "flaky_problem.py"
    source.write_text(FLAKY_PROBLEM.format(broken=str(broken)))
    common = ["bench", "--problems", "", "--problem-file", f"{source}:make", "--optimizers", "adam,gd",
              "--seeds", "2", "--steps", "30", "--tune-seeds", "1", "--lr-grid", "0.01,0.1", "--max-population", "2",
              "--quiet"]
    assert main([*common, "--store", str(store), "--backend", "ray"]) == 2
    err = capsys.readouterr().err.strip()
    assert "ArithmeticError: the full-batch loss broke on purpose" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    rows = load_results(store, curves=False).trials
    kept = rows[rows["status"].isin(("done", "diverged"))]
    assert len(kept) and set(kept["optimizer"]) == {"adam"}, rows[["optimizer", "phase", "status"]]
    assert set(rows.loc[rows["optimizer"] == "gd", "status"]) == {"failed"}, rows[["optimizer", "status"]]

    broken.unlink()  # the user mends the code
    assert main(["bench", "--resume", "--store", str(store), "--backend", "ray", "--quiet"]) == 0
    local = tmp_path / "local.sqlite"
    torch.set_num_threads(1)
    assert main([*common, "--store", str(local)]) == 0
    capsys.readouterr()
    key = ["phase", "optimizer", "lr", "seed"]
    a = load_results(local, curves=False).trials.sort_values(key).reset_index(drop=True)
    b = load_results(store, curves=False).trials.sort_values(key).reset_index(drop=True)
    numeric = [c for c in a.columns if c.startswith(("valid_", "test_", "final_"))]
    assert len(a) == len(b) and len(b) > len(kept)
    assert (a[key] == b[key]).all().all() and a[numeric].equals(b[numeric])


def test_advise_on_ray_gives_the_local_advice(cluster: None, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """``optimlab advise --backend ray``: the same tournament, rung by rung and seed by seed, as a local run."""
    from optimlab.advise import advise
    from optimlab.cli import main

    source = tmp_path / "flaky_problem.py"
    source.write_text(FLAKY_PROBLEM.format(broken=str(tmp_path / "absent")))
    torch.set_num_threads(1)
    runs = {name: advise(f"{source}:make", budget=6000, candidates="adam,momentum,rmsprop", seeds=3,
                         executor=executor) for name, executor in (("local", None), ("ray", RayExecutor()))}
    local, on_ray = runs["local"], runs["ray"]
    assert local.winner is not None and on_ray.winner is not None
    assert (local.winner.candidate, local.winner.lr) == (on_ray.winner.candidate, on_ray.winner.lr)
    assert local.trial_steps() == on_ray.trial_steps()
    for frame in ("bracket", "final"):
        a, b = getattr(local, frame), getattr(on_ray, frame)
        numbers = [c for c in a.columns if c not in ("seconds",)]
        assert len(a) and a[numbers].equals(b[numbers]), frame
    out = tmp_path / "advice"
    assert main(["advise", f"{source}:make", "--budget", "6000", "--candidates", "adam,momentum,rmsprop",
                 "--seeds", "3", "--backend", "ray", "--out", str(out), "--quiet"]) == 0
    assert f"{on_ray.winner.candidate.optimizer} at lr " in capsys.readouterr().out
    assert (out / "index.html").is_file()


def test_a_study_on_ray_plans_populations_that_keep_the_cluster_busy(cluster: None, tmp_path: Path) -> None:
    """No ``max_population``: the Ray study cuts its largest phase into about ``units_wanted()`` populations,
    stores that size in its plan, and a local run given the same size reproduces its numbers."""
    from optimlab.study import bench

    executor = RayExecutor()
    assert executor.units_wanted() == 4  # 2 CPUs, one thread per task, two tasks per CPU
    on_ray = bench(["sparse-logreg"], "adam,momentum", 2, "standard", steps=20, tune_seeds=1, lr_grid=[0.01, 0.1],
                   store=tmp_path / "ray.sqlite", stream=None, executor=executor)
    assert on_ray.plan["max_population"] == 1  # largest phase: 2 optimizers x 2 seeds = 4 trials, 4 units
    assert executor.counts.total == 4
    torch.set_num_threads(1)
    local = bench(["sparse-logreg"], "adam,momentum", 2, "standard", steps=20, tune_seeds=1, lr_grid=[0.01, 0.1],
                  max_population=1, store=tmp_path / "local.sqlite", stream=None)
    key = ["phase", "optimizer", "lr", "seed"]
    a, b = (r.trials.sort_values(key).reset_index(drop=True) for r in (local, on_ray))
    numeric = [c for c in a.columns if c.startswith(("valid_", "test_", "final_"))]
    assert len(a) == 8 and a[numeric].equals(b[numeric])


def test_a_worker_killed_mid_study_is_retried_and_the_store_has_every_trial_once(cluster: None,
                                                                                 tmp_path: Path) -> None:
    """SIGKILL to a worker busy with a task, mid-study: Ray's task is submitted again, the study finishes, every
    trial is in the store exactly once, with a local run's numbers."""
    from optimlab.study import bench

    killed: list[int] = []
    retried = [0]  # the most retries one rung's tasks needed (the counts start again with every rung)

    def count(counts: TaskCounts) -> None:
        retried[0] = max(retried[0], counts.retried)

    killer = threading.Thread(target=_kill_one_busy_worker, args=(killed,))
    killer.start()
    args = (["sparse-logreg"], "adam,momentum", 2, "quick")
    options = {"steps": 300, "tune_seeds": 1, "lr_grid": [0.01, 0.1], "max_population": 2, "stream": None}
    on_ray = bench(*args, store=tmp_path / "ray.sqlite", executor=RayExecutor(task_progress=count), **options)
    killer.join()
    assert killed and retried[0] >= 1
    torch.set_num_threads(1)
    local = bench(*args, store=tmp_path / "local.sqlite", **options)
    key = ["phase", "optimizer", "lr", "seed"]
    a, b = (r.trials.sort_values(key).reset_index(drop=True) for r in (local, on_ray))
    assert len(b) == 8 and not b["key"].duplicated().any() and set(b["status"]) == {"done"}
    numeric = [c for c in a.columns if c.startswith(("valid_", "test_", "final_"))]
    assert a[numeric].equals(b[numeric])


GRID_CLAIMS = ("when unsure, use Adam", "sparse data → adaptive methods", "AdaDelta needs no learning rate",
               "with much data, AdaDelta, RMSProp and Adam perform about the same",
               "Adam does better than RMSProp as gradients get sparse")
"""The claims decided by lr-grid sweeps (what the executor runs); the others time steps or trace one population."""


def test_a_claims_run_on_ray_gives_the_local_verdicts_and_numbers(cluster: None, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from optimlab.study import claims as C

    tiny = C.ClaimsBudget(
        "tiny", steps=(15, 30), seeds=(0,), grid=(1e-2, 1e-1, 1.0),
        problems={"quadratic": {"dim": 5, "n_train": 128, "n_eval": 64},
                  "sparse-logreg": {"n_features": 20, "n_train": 200, "n_eval": 100}},
        sparsity_exponents=(0.0, 1.0), adagrad_steps=30, batch_steps=30, batch_problem={"hidden": 8, "n_train": 200},
        cost_widths=(16,), ravine_steps=30, basin_steps=32, basin_lrs=(0.1,), adam_steps=(5,),
        data_sizes=(100, 200),
    )
    monkeypatch.setitem(C.BUDGETS, "tiny", tiny)
    torch.set_num_threads(1)
    runs = {name: C.run_claims(tmp_path / f"{name}.sqlite", "tiny", progress=lambda _: None, executor=executor)
            for name, executor in (("local", None), ("ray", RayExecutor()))}
    by_name = {name: {c.name: c for c in result.claims} for name, result in runs.items()}
    assert set(GRID_CLAIMS) <= set(by_name["local"])
    for claim in GRID_CLAIMS:
        local, on_ray = by_name["local"][claim], by_name["ray"][claim]
        assert local.evidence["numbers"], claim
        assert (local.verdict, local.evidence["numbers"]) == (on_ray.verdict, on_ray.evidence["numbers"]), claim
