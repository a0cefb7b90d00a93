"""The result store: one SQLite file (WAL), a row per cell, nothing stored twice.

A cell is (dataset, method, model, trial, measure, alpha). Rows are inserted one job at a
time in a transaction, so a run killed at any moment (even ``kill -9``) leaves whole cells
only, and the next run computes exactly the missing ones.

Each ``genlabel bench`` invocation is also a row of ``runs`` (a segment of the suite): its
start, the time it last stored a job, its end (empty when it was killed) and the cells it
wrote, so that the wall-clock time of a suite run in several segments is on record.

Drivers claim the jobs they run (table ``claims``): a second driver started on the same
store takes the jobs nobody has claimed, or whose claimant has ended or died, so two
drivers split the work instead of both computing every missing cell.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["CELL_KEY", "ResultStore", "StoreError", "versions"]

CELL_KEY = ("dataset", "method", "model", "trial", "measure", "alpha")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    dataset TEXT NOT NULL,
    method TEXT NOT NULL,
    model TEXT NOT NULL,
    trial INTEGER NOT NULL,
    measure TEXT NOT NULL,
    alpha REAL NOT NULL,
    test_accuracy REAL NOT NULL,
    robust_accuracy REAL,
    ece REAL,
    nll REAL,
    reliability TEXT,
    params TEXT NOT NULL,
    seconds REAL NOT NULL,
    config_hash TEXT NOT NULL,
    config TEXT NOT NULL,
    versions TEXT NOT NULL,
    created TEXT NOT NULL DEFAULT (datetime('now')),
    PRIMARY KEY (dataset, method, model, trial, measure, alpha)
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started REAL NOT NULL,
    last_write REAL,
    finished REAL,
    cells INTEGER NOT NULL DEFAULT 0,
    n_jobs INTEGER NOT NULL,
    backend TEXT NOT NULL,
    command TEXT NOT NULL,
    host TEXT,
    pid INTEGER
);
CREATE TABLE IF NOT EXISTS claims (
    job TEXT PRIMARY KEY,
    run_id INTEGER NOT NULL,
    claimed REAL NOT NULL
);
"""
# Columns added after the first release; older stores get them on open.
_ADDED_COLUMNS = {
    "runs": {"host": "TEXT", "pid": "INTEGER"},
    "results": {
        "ece": "REAL",
        "nll": "REAL",
        "reliability": "TEXT",
        "third_class_share": "REAL",
        "one_hot_share": "REAL",
        "mixed_weight": "REAL",
        "label_diagnostics": "TEXT",
    },
}
#: Optional per-cell values: calibration of clean cells (ECE, NLL, and the reliability
#: diagram's bins as JSON); the label diagnostics of image cells that mix (the last
#: epoch's, and every epoch's as JSON, see ``genlabel.training.diagnostics``).
OPTIONAL = tuple(_ADDED_COLUMNS["results"])
_REQUIRED = {
    "results": {"dataset", "method", "model", "trial", "measure", "alpha", "test_accuracy",
                "robust_accuracy", "params", "seconds", "config_hash", "config", "versions"},
    "runs": {"id", "started", "last_write", "finished", "cells", "n_jobs", "backend", "command"},
}  # fmt: skip


class StoreError(ValueError):
    """The file given as a store is not one: not SQLite, or tables of another schema."""


def _alive(host: str | None, pid: int | None) -> bool:
    """Whether a driver process still runs (on another host we cannot tell: assume so)."""
    if pid is None or host != socket.gethostname():
        return pid is not None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process with that pid: alive
        return True
    return True


#: Where Linux names the processor ("model name"); elsewhere platform's name is used.
CPUINFO = "/proc/cpuinfo"


def cpu() -> str:
    """The processor and the kernels torch picked for it, e.g. "<the processor's model
    name> (AVX512)": float32 training rounds by the kernel set, so the same seed gives other cells
    on another kind of CPU (the store records it beside the versions)."""
    import torch

    name = ""
    try:
        with open(CPUINFO, encoding="utf-8") as info:
            name = next(
                (ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), ""
            )
    except OSError:
        pass
    name = name or platform.processor() or platform.machine()
    return f"{name} ({torch.backends.cpu.get_cpu_capability()})"


def versions() -> dict[str, str]:
    import numpy
    import sklearn
    import torch

    from .. import __version__

    return {
        "genlabel": __version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scikit-learn": sklearn.__version__,
        "python": platform.python_version(),
        "cpu": cpu(),
    }


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


class ResultStore:
    """SQLite store of benchmark cells (stdlib ``sqlite3``, WAL journal).

    ``read_only=True`` opens an existing store for reading (reports, comparisons) without
    changing a byte of it: no switch to WAL, no schema migration, so reading a committed
    snapshot leaves the file as it was (an older store's missing columns read as empty).
    """

    def __init__(self, path: str | Path, *, read_only: bool = False):
        self.path = Path(path)
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a folder; --db takes the path of a SQLite file")
        if read_only and not self.path.is_file():
            raise StoreError(f"no store at {self.path}")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # The driver may store from joblib's dispatch thread: one connection, one lock.
        self._lock = threading.Lock()
        # mode=ro: SQLite refuses every write, the journal-mode switch included.
        target = f"{self.path.resolve().as_uri()}?mode=ro" if read_only else str(self.path)
        self._conn = sqlite3.connect(target, timeout=60, check_same_thread=False, uri=read_only)
        try:
            if read_only:
                self._check_schema(complete=True)
            else:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
                self._check_schema()
                self._conn.executescript(_SCHEMA)
                self._migrate()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StoreError(f"{self.path} is not a GenLabel result store: {exc}") from None
        except StoreError:
            self._conn.close()
            raise
        self._versions = json.dumps(versions(), sort_keys=True)

    def _columns(self, table: str) -> set[str]:
        return {row[1] for row in self._conn.execute(f"PRAGMA table_info({table})")}

    def _check_schema(self, *, complete: bool = False) -> None:
        """Tables of another schema are refused; with ``complete`` also missing ones."""
        for table, required in _REQUIRED.items():
            have = self._columns(table)
            if complete and not have:
                raise StoreError(f"{self.path} is not a GenLabel result store: no {table!r}")
            if have and not required <= have:
                raise StoreError(
                    f"{self.path} holds a table {table!r} of another schema (missing "
                    f"{', '.join(sorted(required - have))}); use another --db"
                )

    def _migrate(self) -> None:
        for table, columns in _ADDED_COLUMNS.items():
            have = self._columns(table)
            for name, kind in columns.items():
                if name not in have:
                    self._conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def done_keys(self) -> set[tuple]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {', '.join(CELL_KEY)} FROM results").fetchall()
        return {(d, me, mo, int(t), ms, float(a)) for d, me, mo, t, ms, a in rows}

    def conflicting(self, config: dict[str, Any], keys: Iterable[tuple]) -> list[tuple]:
        """Keys already stored under another configuration (they would not be recomputed)."""
        h = config_hash(config)
        wanted = set(keys)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {', '.join(CELL_KEY)}, config_hash FROM results"
            ).fetchall()
        return [
            k
            for *key, ch in rows
            if (k := (key[0], key[1], key[2], int(key[3]), key[4], float(key[5]))) in wanted
            and ch != h
        ]

    def begin_run(self, *, n_jobs: int, backend: str, command: str) -> int:
        """Record the start of a run segment; returns its id (pass it to :meth:`add`)."""
        with self._lock, self._conn:
            cur = self._conn.execute(
                "INSERT INTO runs (started, n_jobs, backend, command, host, pid)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), int(n_jobs), backend, command, socket.gethostname(), os.getpid()),
            )
        return int(cur.lastrowid or 0)

    def end_run(self, run_id: int) -> None:
        """Record the end of a run segment and release its claims."""
        with self._lock, self._conn:
            self._conn.execute("UPDATE runs SET finished = ? WHERE id = ?", (time.time(), run_id))
            self._conn.execute("DELETE FROM claims WHERE run_id = ?", (run_id,))

    def claim(self, job: str, run_id: int) -> bool:
        """Claim a job for run ``run_id``; False when a live, unfinished run holds it."""
        with self._lock, self._conn:
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO claims (job, run_id, claimed) VALUES (?, ?, ?)",
                (job, run_id, time.time()),
            )
            if cur.rowcount:
                return True
            owner = self._conn.execute(
                "SELECT r.id, r.finished, r.host, r.pid FROM claims c JOIN runs r"
                " ON r.id = c.run_id WHERE c.job = ?",
                (job,),
            ).fetchone()
            if owner is not None and owner[0] != run_id and owner[1] is None and _alive(*owner[2:]):
                return False
            self._conn.execute(
                "UPDATE claims SET run_id = ?, claimed = ? WHERE job = ?",
                (run_id, time.time(), job),
            )
            return True

    def runs(self) -> pd.DataFrame:
        """The run segments, with ``wall_seconds``: start to end, or to the last stored job
        for a segment that was killed."""
        with self._lock:
            runs = self._with_added(
                "runs", pd.read_sql_query("SELECT * FROM runs ORDER BY id", self._conn)
            )
        end = runs.finished.fillna(runs.last_write).fillna(runs.started)
        return runs.assign(wall_seconds=end - runs.started)

    def add(
        self, records: list[dict[str, Any]], config: dict[str, Any], run_id: int | None = None
    ) -> int:
        """Insert a job's records in one transaction; existing cells are left untouched.

        With ``run_id`` the run segment's last-write time and cell count are updated in the
        same transaction.
        """
        h, cfg = config_hash(config), json.dumps(config, sort_keys=True, default=str)
        mine = json.loads(self._versions)

        def versions_of(record: dict[str, Any]) -> str:
            # A worker elsewhere (Dask) names its own CPU in the record; else the driver's.
            if record.get("cpu") in (None, mine["cpu"]):
                return self._versions
            return json.dumps(mine | {"cpu": record["cpu"]}, sort_keys=True)

        rows = [
            (
                r["dataset"],
                r["method"],
                r["model"],
                int(r["trial"]),
                r["measure"],
                float(r["alpha"]),
                float(r["test_accuracy"]),
                None if r.get("robust_accuracy") is None else float(r["robust_accuracy"]),
                *(None if r.get(key) is None else r[key] for key in OPTIONAL),
                r["params"],
                float(r["seconds"]),
                h,
                cfg,
                versions_of(r),
            )
            for r in records
        ]
        with self._lock, self._conn:
            cur = self._conn.executemany(
                "INSERT OR IGNORE INTO results (dataset, method, model, trial, measure, alpha,"
                f" test_accuracy, robust_accuracy, {', '.join(OPTIONAL)}, params, seconds,"
                " config_hash, config, versions)"
                f" VALUES ({', '.join('?' * (13 + len(OPTIONAL)))})",
                rows,
            )
            written = cur.rowcount
            if run_id is not None:
                self._conn.execute(
                    "UPDATE runs SET last_write = ?, cells = cells + ? WHERE id = ?",
                    (time.time(), written, run_id),
                )
        return written

    def frame(self) -> pd.DataFrame:
        with self._lock:
            frame = pd.read_sql_query(
                "SELECT * FROM results ORDER BY dataset, method, model, alpha, trial, measure",
                self._conn,
            )
        return self._with_added("results", frame)

    @staticmethod
    def _with_added(table: str, frame: pd.DataFrame) -> pd.DataFrame:
        """The columns added after the first release, empty where an older store (read
        without migrating it) lacks them."""
        missing = [name for name in _ADDED_COLUMNS[table] if name not in frame.columns]
        return frame.assign(**dict.fromkeys(missing)) if missing else frame
