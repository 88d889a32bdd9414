"""The results store: one SQLite file holding studies, their trials, curves and claims.

Safety: the file runs in WAL mode and every write is one transaction, so a killed process (even ``kill -9``)
leaves every committed trial intact and nothing half-written. A file that is not ours — not SQLite, SQLite
without our tables, or written by a newer optimlab — is refused with one sentence and never modified:
it is inspected read-only before anything is written.
"""

from __future__ import annotations

import json
import math
import sqlite3
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import StoreError, UnknownNameError

SCHEMA_VERSION = 1
DEFAULT_STORE = Path("optimlab-runs") / "optimlab.sqlite"
MAX_CURVE_POINTS = 500
_HEADER = b"SQLite format 3\x00"
_TABLES = ("meta", "studies", "trials", "curves", "claims")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS studies(id TEXT PRIMARY KEY, name TEXT, created TEXT, status TEXT, plan_json TEXT);
CREATE TABLE IF NOT EXISTS trials(
    id INTEGER PRIMARY KEY, study_id TEXT, key TEXT, phase TEXT, problem TEXT, optimizer TEXT, lr REAL,
    hypers_json TEXT, seed INTEGER, batch_size INTEGER, steps INTEGER, status TEXT, diverged_at INTEGER,
    seconds REAL, error TEXT, metrics_json TEXT, UNIQUE(study_id, key));
CREATE TABLE IF NOT EXISTS curves(
    trial_id INTEGER, kind TEXT, steps_json TEXT, values_json TEXT, PRIMARY KEY(trial_id, kind));
CREATE TABLE IF NOT EXISTS claims(
    study_id TEXT, name TEXT, verdict TEXT, summary TEXT, evidence_json TEXT, PRIMARY KEY(study_id, name));
CREATE INDEX IF NOT EXISTS trials_by_study ON trials(study_id, phase, problem);
"""

FINISHED = ("done", "diverged")


def check_store(path: Path) -> bool:
    """Whether ``path`` is an existing optimlab store (``False``: nothing there yet, or an empty file).

    Raises :class:`UserError` for anything else: a directory, a file that is not SQLite, a SQLite file
    without our tables, or a store from a newer schema. Reads only.
    """
    if not path.exists():
        return False
    if path.is_dir():
        suggestion = str(path / "optimlab.sqlite")
        raise StoreError(f"Store {str(path)!r} is a directory; give a file path such as {suggestion!r}.")
    with path.open("rb") as f:
        head = f.read(len(_HEADER))
    if not head:
        return False
    if head != _HEADER:
        raise StoreError(f"{str(path)!r} is not an optimlab store (not a SQLite file); it was left untouched.")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            version = None
            if "meta" in names:
                row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
                version = row[0] if row else None
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(
            f"{str(path)!r} is a damaged or unreadable SQLite file ({exc}); it was left as it is."
        ) from exc
    if not names:
        return False  # a fresh SQLite file with nothing in it
    if not set(_TABLES) <= names or version is None:
        raise StoreError(f"{str(path)!r} is a SQLite file without optimlab's tables; it was left untouched.")
    try:
        number = int(version)
    except ValueError:
        raise StoreError(
            f"{str(path)!r} has an unreadable schema version {version!r}; it was left untouched."
        ) from None
    if number > SCHEMA_VERSION:
        raise StoreError(
            f"{str(path)!r} was written by a newer optimlab (store schema {number}, this one reads up to "
            f"{SCHEMA_VERSION}); upgrade optimlab to use it."
        )
    return True


class Store:
    """An open results store. ``Store(path)`` creates the file when it does not exist; ``readonly=True``
    requires it to exist and never writes."""

    def __init__(self, path: str | Path = DEFAULT_STORE, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        exists = check_store(self.path)
        if readonly and not exists:
            raise StoreError(f"No optimlab store at {str(self.path)!r}; run `optimlab bench` first or give --store.")
        if not exists:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if readonly:
                self.conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
            else:
                self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=NORMAL")
                if not exists:
                    with self.transaction() as c:
                        for statement in _SCHEMA.strip().split(";"):
                            if statement.strip():
                                c.execute(statement)
                        c.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                        from .. import __version__

                        c.execute("INSERT OR IGNORE INTO meta VALUES ('created_by', ?)", (f"optimlab {__version__}",))
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot open the store {str(self.path)!r}: {exc}.") from exc
        self.conn.row_factory = sqlite3.Row

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: everything inside commits together or not at all."""
        if self.readonly:
            raise RuntimeError("This store was opened read-only.")
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # ------------------------------------------------------------------------------------------ studies

    def create_study(self, name: str, plan: Mapping[str, Any]) -> str:
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        study_id = f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
        with self.transaction() as c:
            c.execute("INSERT INTO studies VALUES (?, ?, ?, 'running', ?)",
                      (study_id, name, created, json.dumps(plan)))
        return study_id

    def set_status(self, study_id: str, status: str) -> None:
        with self.transaction() as c:
            c.execute("UPDATE studies SET status=? WHERE id=?", (status, study_id))

    def studies(self) -> list[dict[str, Any]]:
        """Every study, oldest first, with its trial counts (``done`` counts finished trials: done or diverged)."""
        rows = self.conn.execute(
            "SELECT s.id, s.name, s.created, s.status, s.plan_json, COUNT(t.id) AS total, "
            "SUM(CASE WHEN t.status IN ('done', 'diverged') THEN 1 ELSE 0 END) AS finished "
            "FROM studies s LEFT JOIN trials t ON t.study_id = s.id GROUP BY s.id ORDER BY s.created, s.rowid"
        ).fetchall()
        return [{**dict(r), "finished": r["finished"] or 0} for r in rows]

    def study(self, study_id: str | None = None, *, unfinished: bool = False) -> dict[str, Any]:
        """One study by id (a unique prefix works), or the latest (``unfinished``: the latest not done)."""
        studies = self.studies()
        if unfinished:
            studies = [s for s in studies if s["status"] != "done"]
        if study_id is not None:
            matches = [s for s in studies if s["id"] == study_id]
            matches = matches or [s for s in studies if s["id"].startswith(study_id)]
            if len(matches) != 1:
                what = "unfinished study" if unfinished else "study"
                raise UnknownNameError(
                    f"No single {what} {study_id!r} in {str(self.path)!r}; `optimlab runs` lists them."
                )
            return matches[0]
        if not studies:
            what = "unfinished study to resume" if unfinished else "study"
            raise StoreError(f"There is no {what} in {str(self.path)!r}.")
        return studies[-1]

    # ------------------------------------------------------------------------------------------ trials

    def add_trials(self, study_id: str, specs: Sequence[Any], batch_sizes: Sequence[int], steps: Sequence[int]) -> None:
        """Register planned trials as pending (already registered ones are left as they are)."""
        with self.transaction() as c:
            c.executemany(
                "INSERT OR IGNORE INTO trials(study_id, key, phase, problem, optimizer, lr, hypers_json, seed, "
                "batch_size, steps, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
                [(study_id, s.key, s.phase, s.problem, s.optimizer, s.lr, json.dumps({"lr": s.lr}), s.seed, b, n)
                 for s, b, n in zip(specs, batch_sizes, steps, strict=True)],
            )

    def trials(self, study_id: str, phase: str | None = None, problem: str | None = None) -> list[dict[str, Any]]:
        """Trial rows with their metrics merged in, in insertion order."""
        query, args = "SELECT * FROM trials WHERE study_id=?", [study_id]
        if phase is not None:
            query, args = query + " AND phase=?", [*args, phase]
        if problem is not None:
            query, args = query + " AND problem=?", [*args, problem]
        out = []
        for row in self.conn.execute(query + " ORDER BY id", args):
            record = dict(row)
            record.update(json.loads(row["metrics_json"] or "{}"))
            out.append(record)
        return out

    def mark(self, study_id: str, keys: Sequence[str], status: str, error: str | None = None) -> None:
        with self.transaction() as c:
            c.executemany("UPDATE trials SET status=?, error=? WHERE study_id=? AND key=?",
                          [(status, error, study_id, k) for k in keys])

    def finish(self, study_id: str, results: Sequence[Mapping[str, Any]]) -> None:
        """Write a finished population: each trial's status, metrics and curves, all in one transaction."""
        with self.transaction() as c:
            for r in results:
                c.execute(
                    "UPDATE trials SET status=?, diverged_at=?, seconds=?, error=NULL, metrics_json=?, batch_size=? "
                    "WHERE study_id=? AND key=?",
                    (r["status"], r["diverged_at"], r["seconds"], json.dumps(_clean(r["metrics"])), r["batch_size"],
                     study_id, r["key"]),
                )
                found = c.execute("SELECT id FROM trials WHERE study_id=? AND key=?", (study_id, r["key"])).fetchone()
                trial_id = found[0]
                for kind, (steps, values) in r["curves"].items():
                    if len(steps) != len(values):
                        raise ValueError(f"Curve {kind!r} of trial {r['key']!r} has {len(steps)} steps but "
                                         f"{len(values)} values.")
                    if len(steps) > MAX_CURVE_POINTS:
                        last = len(steps) - 1
                        picks = sorted({round(i * last / (MAX_CURVE_POINTS - 1)) for i in range(MAX_CURVE_POINTS)})
                        steps, values = [steps[i] for i in picks], [values[i] for i in picks]
                    c.execute("INSERT OR REPLACE INTO curves VALUES (?, ?, ?, ?)",
                              (trial_id, kind, json.dumps(list(steps)), json.dumps(_clean(list(values)))))

    def curves(self, trial_ids: Sequence[int]) -> list[dict[str, Any]]:
        rows = []
        for start in range(0, len(trial_ids), 500):
            part = list(trial_ids[start : start + 500])
            marks = ",".join("?" * len(part))
            rows += [dict(r) for r in self.conn.execute(f"SELECT * FROM curves WHERE trial_id IN ({marks})", part)]
        return rows

    # ------------------------------------------------------------------------------------------ claims

    def put_claim(self, study_id: str, name: str, verdict: str, summary: str, evidence: Mapping[str, Any]) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?)",
                      (study_id, name, verdict, summary, json.dumps(_clean(evidence))))

    def claims(self, study_id: str) -> list[dict[str, Any]]:
        return [{"name": r["name"], "verdict": r["verdict"], "summary": r["summary"],
                 "evidence": json.loads(r["evidence_json"] or "{}")}
                for r in self.conn.execute("SELECT * FROM claims WHERE study_id=? ORDER BY rowid", (study_id,))]


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value
