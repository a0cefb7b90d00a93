"""The result store: one SQLite file (WAL), a row per cell, nothing stored twice.

A cell is (dataset, method, model, trial, measure, alpha). Rows are inserted one job at a
time in a transaction, so a run killed at any moment (even ``kill -9``) leaves whole cells
only, and the next run computes exactly the missing ones.

Each ``genlabel bench`` invocation is also a row of ``runs`` (a segment of the suite): its
start, the time it last stored a job, its end (empty when it was killed) and the cells it
wrote, so that the wall-clock time of a suite run in several segments is on record.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["ResultStore", "CELL_KEY", "versions"]

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
    command TEXT NOT NULL
);
"""


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
    }


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


class ResultStore:
    """SQLite store of benchmark cells (stdlib ``sqlite3``, WAL journal)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=60)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._versions = json.dumps(versions(), sort_keys=True)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def done_keys(self) -> set[tuple]:
        rows = self._conn.execute(f"SELECT {', '.join(CELL_KEY)} FROM results")
        return {(d, me, mo, int(t), ms, float(a)) for d, me, mo, t, ms, a in rows}

    def conflicting(self, config: dict[str, Any], keys: Iterable[tuple]) -> list[tuple]:
        """Keys already stored under another configuration (they would not be recomputed)."""
        h = config_hash(config)
        wanted = set(keys)
        rows = self._conn.execute(f"SELECT {', '.join(CELL_KEY)}, config_hash FROM results")
        return [
            k
            for *key, ch in rows
            if (k := (key[0], key[1], key[2], int(key[3]), key[4], float(key[5]))) in wanted
            and ch != h
        ]

    def begin_run(self, *, n_jobs: int, backend: str, command: str) -> int:
        """Record the start of a run segment; returns its id (pass it to :meth:`add`)."""
        with self._conn:
            cur = self._conn.execute(
                "INSERT INTO runs (started, n_jobs, backend, command) VALUES (?, ?, ?, ?)",
                (time.time(), int(n_jobs), backend, command),
            )
        return int(cur.lastrowid)

    def end_run(self, run_id: int) -> None:
        with self._conn:
            self._conn.execute("UPDATE runs SET finished = ? WHERE id = ?", (time.time(), run_id))

    def runs(self) -> pd.DataFrame:
        """The run segments, with ``wall_seconds``: start to end, or to the last stored job
        for a segment that was killed."""
        runs = pd.read_sql_query("SELECT * FROM runs ORDER BY id", self._conn)
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
                r["params"],
                float(r["seconds"]),
                h,
                cfg,
                self._versions,
            )
            for r in records
        ]
        with self._conn:
            cur = self._conn.executemany(
                "INSERT OR IGNORE INTO results (dataset, method, model, trial, measure, alpha, test_accuracy,"
                " robust_accuracy, params, seconds, config_hash, config, versions)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        return pd.read_sql_query(
            "SELECT * FROM results ORDER BY dataset, method, model, alpha, trial, measure",
            self._conn,
        )
