"""Durable campaign state: one SQLite file, written only by the driver (the client).

Every unit is ``pending``, ``running``, ``done`` or ``failed``, with its attempts, last
error, timings, bytes and result (the entry and representation to record in the
catalog).  Each change is one transaction (``synchronous=FULL``), so after any crash
the file holds exactly what had happened; :meth:`State.recover` turns units that were
``running`` when the driver died back into ``pending``.  The rollback journal (not WAL)
keeps the file usable on parallel file systems without shared memory.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import CampaignError

SCHEMA_VERSION = "1"
STATUSES = ("pending", "running", "done", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS units (
    id TEXT PRIMARY KEY, seq INTEGER, name TEXT, kind TEXT, files INTEGER, bytes_in INTEGER,
    output TEXT, planned INTEGER DEFAULT 1,
    status TEXT NOT NULL DEFAULT 'pending', action TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL DEFAULT 0, error TEXT, detail TEXT,
    submitted REAL, started REAL, finished REAL, duration REAL, bytes_out INTEGER DEFAULT 0,
    host TEXT, worker TEXT, run_id INTEGER, result TEXT
);
CREATE INDEX IF NOT EXISTS units_status ON units (planned, status);
CREATE TABLE IF NOT EXISTS attempts (
    unit_id TEXT, attempt INTEGER, run_id INTEGER, status TEXT, error TEXT,
    started REAL, finished REAL, duration REAL, host TEXT, worker TEXT
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, started REAL, finished REAL, status TEXT, profile TEXT,
    max_jobs INTEGER, workers INTEGER, jobs TEXT DEFAULT '[]', dashboard TEXT, pid INTEGER, host TEXT,
    done INTEGER DEFAULT 0, failed INTEGER DEFAULT 0, retried INTEGER DEFAULT 0, heartbeat REAL
);
"""


#: Where a unit of a campaign is: waiting (or waiting to retry), submitted, finished, given up.
UnitStatus = Literal["pending", "running", "done", "failed"]


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What recording one unit's result did."""

    status: UnitStatus
    attempts: int
    #: When a failed unit may be tried again (epoch seconds; 0 = not scheduled).
    next_try: float = 0.0


class State:
    """The state database of one campaign."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=DELETE")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise CampaignError(f"{self.path}: cannot open campaign state: {exc}") from None
        self._migrate()
        version = self.meta("schema")
        if version is None:
            self.set_meta("schema", SCHEMA_VERSION)
        elif version != SCHEMA_VERSION:
            raise CampaignError(f"{self.path}: campaign state schema {version} is not {SCHEMA_VERSION}; "
                                "move the state directory away to start afresh")

    def _migrate(self) -> None:
        """Columns added since schema 1 (older state files stay usable)."""
        try:
            cols = {r[1] for r in self.db.execute("PRAGMA table_info(runs)")}
            if "heartbeat" not in cols:
                self.db.execute("ALTER TABLE runs ADD COLUMN heartbeat REAL")
        except sqlite3.Error as exc:
            raise CampaignError(f"{self.path}: cannot update campaign state: {exc}") from None

    @classmethod
    def open_existing(cls, path: str | os.PathLike[str]) -> State:
        """Open a state file that must exist (status, report)."""
        if not Path(path).is_file():
            raise CampaignError(f"{path}: no campaign state yet (run the campaign first)")
        return cls(path)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- meta -------------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- plan ----------------------------------------------------------------------------------------
    def sync(self, units: Sequence[Any]) -> int:
        """Make the plan's units the planned ones (new ones pending); return how many are new."""
        with self.transaction() as db:
            before = db.execute("SELECT COUNT(*) FROM units").fetchone()[0]
            db.execute("UPDATE units SET planned = 0")
            db.executemany(
                "INSERT INTO units (id, seq, name, kind, files, bytes_in, output, planned) VALUES (?,?,?,?,?,?,?,1) "
                "ON CONFLICT(id) DO UPDATE SET planned = 1, seq = excluded.seq",
                [(u.id, u.seq, u.name, u.kind, getattr(u, "file_count", 0) or len(u.files), u.bytes_in, u.output)
                 for u in units],
            )
            after = db.execute("SELECT COUNT(*) FROM units").fetchone()[0]
        return int(after - before)

    def recover(self) -> int:
        """Units left ``running`` by a driver that died become ``pending``; return how many."""
        with self.transaction() as db:
            return db.execute("UPDATE units SET status = 'pending', next_try = 0 WHERE status = 'running'").rowcount

    def reset_failed(self) -> int:
        """Failed units get a fresh set of attempts (``campaign retry``); return how many."""
        with self.transaction() as db:
            return db.execute("UPDATE units SET status = 'pending', attempts = 0, next_try = 0 "
                              "WHERE status = 'failed' AND planned = 1").rowcount

    # -- runs ------------------------------------------------------------------------------------------
    def start_run(self, *, profile: str, max_jobs: int, workers: int) -> int:
        with self.transaction() as db:
            now = time.time()
            cur = db.execute("INSERT INTO runs (started, status, profile, max_jobs, workers, pid, host, heartbeat) "
                             "VALUES (?, 'running', ?, ?, ?, ?, ?, ?)",
                             (now, profile, max_jobs, workers, os.getpid(), socket.gethostname(), now))
            return int(cur.lastrowid or 0)

    def update_run(self, run_id: int, **fields: Any) -> None:
        if "jobs" in fields:
            fields["jobs"] = json.dumps(list(fields["jobs"]))
        cols = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE runs SET {cols} WHERE id = ?", (*fields.values(), run_id))

    def runs(self) -> list[dict[str, Any]]:
        out = []
        for r in self.db.execute("SELECT * FROM runs ORDER BY id"):
            d = dict(r)
            d["jobs"] = json.loads(d.get("jobs") or "[]")
            out.append(d)
        return out

    # -- units ----------------------------------------------------------------------------------------
    def todo(self) -> list[sqlite3.Row]:
        """Planned units still to run: pending (incl. those waiting for a retry), in plan order."""
        return list(self.db.execute("SELECT id, attempts, next_try FROM units WHERE planned = 1 AND "
                                    "status = 'pending' ORDER BY seq"))

    def mark_running(self, ids: Iterable[str], run_id: int) -> None:
        now = time.time()
        with self.transaction() as db:
            db.executemany("UPDATE units SET status = 'running', submitted = ?, run_id = ? WHERE id = ?",
                           [(now, run_id, i) for i in ids])

    def record(self, results: Sequence[dict[str, Any]], *, run_id: int, retries: int, backoff: float,
               backoff_max: float) -> dict[str, Outcome]:
        """Record unit results of one task in one transaction; schedule retries with back-off."""
        out: dict[str, Outcome] = {}
        now = time.time()
        with self.transaction() as db:
            for r in results:
                row = db.execute("SELECT attempts FROM units WHERE id = ?", (r["id"],)).fetchone()
                if row is None:
                    continue
                attempts = int(row["attempts"]) + 1
                common = (r.get("started"), r.get("finished"), r.get("duration"), r.get("host"), r.get("worker"))
                db.execute("INSERT INTO attempts (unit_id, attempt, run_id, status, error, started, finished, "
                           "duration, host, worker) VALUES (?,?,?,?,?,?,?,?,?,?)",
                           (r["id"], attempts, run_id, r["status"], r.get("error"), *common))
                if r["status"] == "done":
                    result = {k: r[k] for k in ("entry", "representation") if r.get(k) is not None}
                    db.execute("UPDATE units SET status = 'done', action = ?, attempts = ?, next_try = 0, "
                               "error = NULL, detail = NULL, started = ?, finished = ?, duration = ?, host = ?, "
                               "worker = ?, bytes_out = ?, run_id = ?, result = ? WHERE id = ?",
                               (r.get("action"), attempts, *common, int(r.get("bytes_out") or 0), run_id,
                                json.dumps(result), r["id"]))
                    out[r["id"]] = Outcome(status="done", attempts=attempts)
                    continue
                status: UnitStatus
                if attempts <= retries:
                    status, next_try = "pending", now + min(backoff_max, backoff * 2 ** (attempts - 1))
                else:
                    status, next_try = "failed", 0.0
                db.execute("UPDATE units SET status = ?, attempts = ?, next_try = ?, error = ?, detail = ?, "
                           "started = ?, finished = ?, duration = ?, host = ?, worker = ?, run_id = ? WHERE id = ?",
                           (status, attempts, next_try, r.get("error"), r.get("detail"), *common, run_id, r["id"]))
                out[r["id"]] = Outcome(status=status, attempts=attempts, next_try=next_try)
        return out

    def preview(self, ids: Iterable[str]) -> dict[str, int]:
        """Statuses the given unit ids have (``new`` for unknown ones), without changing anything."""
        known = dict(self.db.execute("SELECT id, status FROM units"))
        out = {"new": 0, **dict.fromkeys(STATUSES, 0)}
        for i in ids:
            out[known.get(i, "new")] += 1
        return out

    def counts(self) -> dict[str, int]:
        """Planned units by status."""
        out = dict.fromkeys(STATUSES, 0)
        for status, n in self.db.execute("SELECT status, COUNT(*) FROM units WHERE planned = 1 GROUP BY status"):
            out[str(status)] = int(n)
        return out

    def units(self, status: UnitStatus | None = None) -> list[dict[str, Any]]:
        """Planned units (optionally of one status) in plan order, as dicts."""
        sql = "SELECT * FROM units WHERE planned = 1" + (" AND status = ?" if status else "") + " ORDER BY seq"
        return [dict(r) for r in self.db.execute(sql, (status,) if status else ())]

    def attempts(self, unit_id: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute("SELECT * FROM attempts WHERE unit_id = ? ORDER BY attempt",
                                                 (unit_id,))]

    def retried(self) -> int:
        """Failed attempts of planned units that were (or will be) tried again."""
        row = self.db.execute("SELECT COUNT(*) FROM attempts a JOIN units u ON u.id = a.unit_id "
                              "WHERE u.planned = 1 AND a.status = 'failed' AND a.attempt <= u.attempts "
                              "AND NOT (u.status = 'failed' AND a.attempt = u.attempts)").fetchone()
        return int(row[0])


def state_size(units: Sequence[Any]) -> int:
    """Bytes of the state database these units would create: built in a temporary directory, then removed."""
    with tempfile.TemporaryDirectory(prefix="geoshelf-state-") as tmp:
        st = State(Path(tmp) / "state.sqlite")
        try:
            st.db.execute("PRAGMA synchronous=OFF")  # a measurement: durability is not needed
            st.sync(units)
        finally:
            st.close()
        return (Path(tmp) / "state.sqlite").stat().st_size


__all__ = ["STATUSES", "Outcome", "State", "state_size"]
