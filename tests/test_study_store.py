"""The SQLite store: schema, one transaction per write, claims and curves, and files that are not ours."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from optimlab.errors import UserError
from optimlab.study import load_results
from optimlab.study.plan import TrialSpec
from optimlab.study.store import MAX_CURVE_POINTS, SCHEMA_VERSION, Store, check_store


def _fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def _study(store: Store) -> str:
    plan = {"problems": ["p"], "optimizers": ["adam"], "tune": True, "lr_grid": [0.1], "seeds": [0],
            "tune_seeds": [1000], "budget": "quick", "steps": {"p": 3}, "eval_every": 1, "max_eval_examples": None,
            "max_population": None, "problem_options": {}, "selection_metric": {"p": "valid_loss"},
            "score_metric": {"p": "test_loss"}, "goals": {"p": {"valid_loss": "min", "test_loss": "min"}}}
    return store.create_study("test", plan)


def test_new_store_has_the_contract_tables_wal_and_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "s.sqlite"
    with Store(path) as store:
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"meta", "studies", "trials", "curves", "claims"} <= tables
        meta = dict(store.conn.execute("SELECT key, value FROM meta").fetchall())
        assert meta["schema_version"] == str(SCHEMA_VERSION) and meta["created_by"].startswith("optimlab ")
    assert check_store(path) is True


def test_trials_curves_and_claims_round_trip_through_load_results(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        study = _study(store)
        specs = [TrialSpec("tune", "p", "adam", 0.1, 1000), TrialSpec("tune", "p", "adam", 0.1, 1001)]
        store.add_trials(study, specs, [8, 8], [3, 3])
        store.add_trials(study, specs, [8, 8], [3, 3])  # registering twice keeps one row per key
        long = list(range(1, 2001))
        store.finish(study, [{
            "key": specs[0].key, "status": "done", "diverged_at": None, "seconds": 1.5, "batch_size": 8,
            "metrics": {"valid_loss": 0.25, "final_train_loss": float("nan")},
            "curves": {"train_loss": (long, [float(s) for s in long]), "valid_loss": ([3], [0.25])},
        }])
        store.put_claim(study, "adam-default", "supported", "Adam wins.", {"wins": 3, "gap": float("inf")})
    results = load_results(path)
    assert results.study_id == study and len(results.trials) == 2
    first = results.trials.iloc[0]
    assert first["status"] == "done" and first["valid_loss"] == 0.25 and first["batch_size"] == 8
    assert results.trials.iloc[1]["status"] == "pending"
    curve = results.curves[results.curves["kind"] == "train_loss"]
    assert len(curve) <= MAX_CURVE_POINTS and curve["step"].iloc[0] == 1 and curve["step"].iloc[-1] == 2000
    assert (curve["value"] == curve["step"]).all()  # subsampled points keep their own step
    claim = results.claims.iloc[0]
    assert claim["verdict"] == "supported" and claim["evidence"] == {"wins": 3, "gap": None}


def test_a_failed_write_leaves_nothing_half_written(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        study = _study(store)
        spec = TrialSpec("tune", "p", "adam", 0.1, 1000)
        store.add_trials(study, [spec], [8], [3])
        bad = {"key": spec.key, "status": "done", "diverged_at": None, "seconds": 1.0, "batch_size": 8,
               "metrics": {"valid_loss": 0.1}, "curves": {"train_loss": ([1, 2], [0.1])}}  # mismatched curve
        with pytest.raises(ValueError):
            store.finish(study, [bad])
        row = store.trials(study)[0]
        assert row["status"] == "pending" and row["metrics_json"] is None
        assert store.conn.execute("SELECT COUNT(*) FROM curves").fetchone()[0] == 0


def _refused(path: Path, message: str) -> None:
    before = _fingerprint(path)
    for open_it in (lambda: Store(path), lambda: Store(path, readonly=True), lambda: load_results(path)):
        with pytest.raises(UserError, match=message) as info:
            open_it()
        assert "\n" not in str(info.value)
    assert _fingerprint(path) == before
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # a read-only look at a WAL store leaves no changes


def test_text_file_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_text("my precious notes\n" * 50)
    _refused(path, "not a SQLite file")


def test_foreign_sqlite_file_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers(id INTEGER, name TEXT)")
    conn.execute("INSERT INTO customers VALUES (1, 'Ada')")
    conn.commit()
    conn.close()
    _refused(path, "without optimlab's tables")


def test_store_from_a_newer_schema_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite"
    with Store(path) as store:
        _study(store)
        with store.transaction() as c:
            c.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    _refused(path, "newer optimlab")


def test_truncated_file_is_refused_and_untouched(tmp_path: Path) -> None:
    good = tmp_path / "good.sqlite"
    with Store(good) as store:
        _study(store)
    path = tmp_path / "broken.sqlite"
    path.write_bytes(good.read_bytes()[:100] + b"\x00garbage" * 200)
    _refused(path, "damaged|without optimlab")


def test_missing_store_for_reading_and_directory_are_clear(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="No optimlab store"):
        load_results(tmp_path / "none.sqlite")
    assert not (tmp_path / "none.sqlite").exists()
    with pytest.raises(UserError, match="is a directory"):
        Store(tmp_path)
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    with Store(empty) as store:  # an empty file is a new store
        assert store.studies() == []


def test_study_lookup_by_prefix_latest_and_unfinished(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        first = _study(store)
        store.set_status(first, "done")
        second = _study(store)
        assert store.study()["id"] == second
        assert store.study(unfinished=True)["id"] == second
        assert store.study(first[:-2])["id"] == first
        store.set_status(second, "done")
        with pytest.raises(UserError, match="no unfinished study"):
            store.study(unfinished=True)
        with pytest.raises(UserError, match="No single study"):
            store.study("zzz")
        plan = json.loads(store.study(first)["plan_json"])
        assert plan["budget"] == "quick"
