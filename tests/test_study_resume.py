"""A real `optimlab bench` process killed mid-study (SIGKILL, then SIGINT) resumes to the same numbers as an
uninterrupted run, losing and repeating no finished trial."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
STUDY = ["bench", "--problems", "sparse-logreg", "--optimizers", "adam,momentum,adagrad,gd", "--seeds", "2",
         "--steps", "300", "--lr-grid", "1e-3:1:3", "--max-population", "2"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "optimlab.cli", *args]


def _rows(path: Path) -> dict[str, tuple]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return {r[0]: r[1:] for r in conn.execute("SELECT key, id, status, metrics_json, diverged_at FROM trials")}
    finally:
        conn.close()


def _curves(path: Path) -> dict[tuple, str]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return {(k, kind): v for k, kind, v in conn.execute(
            "SELECT t.key, c.kind, c.values_json FROM curves c JOIN trials t ON t.id = c.trial_id")}
    finally:
        conn.close()


def _finished(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        return sum(status in ("done", "diverged") for _, status, _, _ in _rows(path).values())
    except sqlite3.Error:  # the file is being created
        return 0


def _interrupt_midway(path: Path, sig: signal.Signals, extra: tuple[str, ...] = ()
                      ) -> tuple[subprocess.Popen, dict[str, tuple]]:
    # A shell's background job (as CI may run us) inherits SIGINT ignored; a terminal's Ctrl-C does not.
    proc = subprocess.Popen(_cli(*STUDY, "--store", str(path), *extra), env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while _finished(path) < 2:
        assert proc.poll() is None, f"the study ended before it could be interrupted: {proc.communicate()}"
        assert time.monotonic() < deadline, "no trial finished within two minutes"
        time.sleep(0.05)
    proc.send_signal(sig)
    proc.wait(timeout=60)
    return proc, _rows(path)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, tuple], dict[tuple, str]]:
    path = tmp_path_factory.mktemp("whole") / "whole.sqlite"
    done = subprocess.run(_cli(*STUDY, "--store", str(path), "--quiet"), env=_env(), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return _rows(path), _curves(path)


def _check_resumed(path: Path, before: dict[str, tuple], reference: tuple[dict[str, tuple], dict[tuple, str]],
                   extra: tuple[str, ...] = ()) -> None:
    kept = {k: v for k, v in before.items() if v[1] in ("done", "diverged")}
    assert 0 < len(kept) < len(reference[0]), "the interruption should fall mid-study"
    resumed = subprocess.run(_cli("bench", "--resume", "--store", str(path), *extra), env=_env(), capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming study" in resumed.stderr and "adam" in resumed.stdout
    after = _rows(path)
    assert all(after[k] == v for k, v in kept.items())  # finished trials kept as they were (same row, same numbers)
    assert set(after) == set(reference[0])  # no trial lost, none added twice (keys are unique per study)
    same = {k: v[1:] for k, v in after.items()}
    assert same == {k: v[1:] for k, v in reference[0].items()}  # status and metrics identical, bit for bit
    assert _curves(path) == reference[1]
    runs = subprocess.run(_cli("runs", "--store", str(path)), env=_env(), capture_output=True, text=True, timeout=60)
    assert runs.returncode == 0 and " done " in runs.stdout
    total = len(reference[0])
    assert f"{total}/{total}" in runs.stdout


def test_kill_9_mid_study_then_resume_matches_an_uninterrupted_run(
    tmp_path: Path, reference: tuple[dict[str, tuple], dict[tuple, str]]
) -> None:
    path = tmp_path / "killed.sqlite"
    proc, before = _interrupt_midway(path, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    assert any(v[1] == "running" for v in before.values())  # really killed mid-population
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    _check_resumed(path, before, reference)


def test_ctrl_c_stops_cleanly_keeping_finished_trials(
    tmp_path: Path, reference: tuple[dict[str, tuple], dict[tuple, str]]
) -> None:
    path = tmp_path / "interrupted.sqlite"
    proc, before = _interrupt_midway(path, signal.SIGINT)
    _, err = proc.communicate()
    assert proc.returncode == 130 and "Traceback" not in err and "finished results are kept" in err, err[-2000:]
    assert not any(v[1] == "running" for v in before.values())  # the unfinished population went back to pending
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    assert conn.execute("SELECT status FROM studies").fetchone()[0] == "interrupted"
    conn.close()
    _check_resumed(path, before, reference)


@pytest.mark.slow
def test_kill_9_of_a_ray_driver_then_resume_on_ray_matches_a_local_run(
    tmp_path: Path, reference: tuple[dict[str, tuple], dict[tuple, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver alone writes the store: killed mid-study, `--resume --backend ray` finishes it with the numbers of
    an uninterrupted local run (each plan population is one Ray task on one thread)."""
    pytest.importorskip("ray")
    temp = tempfile.mkdtemp(prefix="/tmp/ol-rk-")  # Ray's sockets need a short path (at most 107 bytes)
    for key, value in {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "RAY_TMPDIR": temp}.items():
        monkeypatch.setenv(key, value)
    path = tmp_path / "ray-killed.sqlite"
    proc, before = _interrupt_midway(path, signal.SIGKILL, ("--backend", "ray"))
    assert proc.returncode == -signal.SIGKILL
    _check_resumed(path, before, reference, ("--backend", "ray"))
