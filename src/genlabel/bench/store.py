"""The result store: one SQLite file (WAL), a row per cell, nothing stored twice.

A cell is (dataset, method, model, trial, measure, alpha). Rows are inserted one job at a
time in a transaction, so a run killed at any moment (even ``kill -9``) leaves whole cells
only, and the next run computes exactly the missing ones.

Each ``genlabel bench`` invocation is also a row of ``runs`` (a segment of the suite): its
start, the time it last stored a job, its end (empty when it was killed) and the cells it
wrote, so that the wall-clock time of a suite run in several segments is on record.

Drivers claim the jobs they run (table ``claims``): a second driver started on the same
store takes the jobs nobody has claimed, so two drivers split the work instead of both
computing every missing cell. A claim is a lease: its driver's heartbeat (a thread writing
``runs.heartbeat`` at least every :data:`HEARTBEAT` seconds) renews it, and a claim whose
driver has not been seen for ``claim_timeout`` seconds (:data:`CLAIM_TIMEOUT` by default)
is taken over by the next driver, whatever host or pid it names (a driver killed by
``kill -9`` or the OOM killer, a store copied from another machine). A driver that ended
releases its claims; one known dead (its pid gone on this host) is taken over at once.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import socket
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .._validation import is_integer, is_real, is_real_in

__all__ = [
    "CELL_KEY",
    "CLAIM_TIMEOUT",
    "HEARTBEAT",
    "Holder",
    "ResultStore",
    "StoreError",
    "versions",
]

#: Seconds after its driver was last seen that a claim lapses (``--claim-timeout``).
CLAIM_TIMEOUT = 300.0
#: The longest gap between two heartbeats of a driver, in seconds (a quarter of a shorter
#: claim timeout); a heartbeat that waits for a busy store (up to 60 s) still lands well
#: within the default claim timeout.
HEARTBEAT = 30.0

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
    checksum TEXT,
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
    pid INTEGER,
    heartbeat REAL
);
CREATE TABLE IF NOT EXISTS claims (
    job TEXT PRIMARY KEY,
    run_id INTEGER NOT NULL,
    claimed REAL NOT NULL,
    cells INTEGER
);
"""
# Columns added after the first release; older stores get them on open.
_ADDED_COLUMNS = {
    "runs": {"host": "TEXT", "pid": "INTEGER", "heartbeat": "REAL"},
    "claims": {"cells": "INTEGER"},
    "results": {
        "ece": "REAL",
        "nll": "REAL",
        "reliability": "TEXT",
        "third_class_share": "REAL",
        "one_hot_share": "REAL",
        "mixed_weight": "REAL",
        "label_diagnostics": "TEXT",
        "checksum": "TEXT",
    },
}
#: Optional per-cell values: calibration of clean cells (ECE, NLL, and the reliability
#: diagram's bins as JSON); the label diagnostics of image cells that mix (the last
#: epoch's, and every epoch's as JSON, see ``genlabel.training.diagnostics``).
OPTIONAL = tuple(c for c in _ADDED_COLUMNS["results"] if c != "checksum")
#: Each optional column and the Python type its SQL type stores (in OPTIONAL's order).
_OPTIONAL_KINDS = tuple(
    (name, float if _ADDED_COLUMNS["results"][name] == "REAL" else str) for name in OPTIONAL
)
_REQUIRED = {
    "results": {"dataset", "method", "model", "trial", "measure", "alpha", "test_accuracy",
                "robust_accuracy", "params", "seconds", "config_hash", "config", "versions"},
    "runs": {"id", "started", "last_write", "finished", "cells", "n_jobs", "backend", "command"},
}  # fmt: skip


class StoreError(ValueError):
    """The file given as a store is not one: not SQLite, or tables of another schema."""


def _dead_here(host: str | None, pid: int | None) -> bool:
    """Whether a driver is known to have ended: its pid is gone on this host. (Elsewhere,
    or a live pid that may be another process now, only its lease can tell.)"""
    if pid is None or host != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, ValueError):  # someone else's process, or no pid
        return False
    return False


def check_claim_timeout(value: Any) -> float:
    """The claim timeout in seconds: a finite number > 0."""
    if not is_real_in(value, 0, low_open=True):
        raise StoreError(
            f"--claim-timeout (seconds after which a silent driver's claims lapse) must be a "
            f"number > 0; got {value!r}"
        )
    return float(value)


def heartbeat_gap(claim_timeout: float) -> float:
    """Seconds between two heartbeats: :data:`HEARTBEAT`, or a quarter of a shorter timeout."""
    return min(HEARTBEAT, claim_timeout / 4)


@dataclass(frozen=True)
class Holder:
    """Another driver with live claims: where it runs, when it was last seen, its cells."""

    run_id: int
    host: str | None
    pid: int | None
    seen: float  # seconds since its last heartbeat
    cells: int

    def describe(self) -> str:
        return (
            f"{self.cells} cell{'s' if self.cells != 1 else ''} held by host {self.host}, "
            f"pid {self.pid}, last seen {_ago(self.seen)} ago"
        )


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def folder_message(path: Path) -> str:
    """What to say when ``--db`` names a folder: the stores in it, if any."""
    stores = sorted(p.name for p in path.glob("*.sqlite"))[:5]
    hint = f" (in it: {', '.join(stores)})" if stores else ""
    return f"{path} is a folder; --db takes the path of a store file{hint}"


def _file_above(path: Path) -> str:
    """The first folder above ``path`` that is a file ("x/notes.txt is a file"), or ""."""
    for parent in path.parents:
        if parent.exists():
            return "" if parent.is_dir() else f"{parent} is a file"
    return ""


#: When a driver was last seen: its heartbeat, last stored job or start (older stores and
#: drivers have no heartbeat).
_SEEN = "max(coalesce(r.heartbeat, 0), coalesce(r.last_write, 0), r.started)"


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


#: The columns of a cell that its checksum covers (all but ``created`` and the checksum).
CHECKED = (
    *CELL_KEY, "test_accuracy", "robust_accuracy", *OPTIONAL, "params", "seconds",
    "config_hash", "config", "versions",
)  # fmt: skip


class StoreWarning(UserWarning):
    """Cells of a store that cannot be read (their values do not match their checksum)."""


def _as_stored(value: Any) -> Any:
    """A value as SQLite gives it back: NaN is stored as NULL and -0.0 comes back as 0.0."""
    if isinstance(value, float):
        return None if math.isnan(value) else value + 0.0
    return value


def checksum(values: Sequence[Any]) -> str:
    """The checksum of a cell's values (in :data:`CHECKED` order), taken by column name over
    the values that are not NULL, as SQLite returns them (floats written exactly): a column
    added later, NULL in older cells, leaves their checksums as they were."""
    stored = zip(CHECKED, map(_as_stored, values), strict=True)
    named = {name: value for name, value in stored if value is not None}
    return hashlib.sha256(json.dumps(named, sort_keys=True).encode()).hexdigest()[:16]


def _mismatch(values: Sequence[Any], stored: str | None) -> bool:
    """Whether a row's values do not match its stored checksum (a row from before
    checksums, ``stored`` None, matches)."""
    return stored is not None and stored != checksum(values)


def _maybe(kind: Callable[[Any], Any], value: Any) -> Any:
    return None if value is None else kind(value)


def _key(values: Sequence[Any]) -> tuple | None:
    """A cell's key from its first values, or None when they have the wrong types (a
    mangled row)."""
    d, me, mo, t, ms, a = values[: len(CELL_KEY)]
    texts_ok = all(isinstance(v, str) for v in (d, me, mo, ms))
    if not texts_ok or not is_integer(t):
        return None
    if not is_real(a):
        return None
    return (d, me, mo, t, ms, float(a))


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


class ResultStore:
    """SQLite store of benchmark cells (stdlib ``sqlite3``, WAL journal).

    Parameters
    ----------
    path : str or Path
        The SQLite file; created (with its folder) when it does not exist, unless
        ``read_only``.
    read_only : bool, default=False
        Open an existing store for reading (reports, comparisons) without changing a byte
        of it: no switch to WAL, no schema migration, so reading a committed snapshot
        leaves the file as it was (an older store's missing columns read as empty).
    claim_timeout : float, default=300.0
        Seconds after its driver was last seen that a claim lapses and :meth:`claim`
        takes the job over; a finite number > 0.

    Raises
    ------
    StoreError
        ``path`` is a folder, is not a SQLite store of this schema, cannot be created, or
        (``read_only``) does not exist; or ``claim_timeout`` is not a finite number > 0.
    """

    def __init__(
        self, path: str | Path, *, read_only: bool = False, claim_timeout: float = CLAIM_TIMEOUT
    ):
        self.path = Path(path)
        self.claim_timeout = check_claim_timeout(claim_timeout)
        self._warned = False
        if self.path.is_dir():
            raise StoreError(folder_message(self.path))
        if read_only and not self.path.is_file():
            raise StoreError(f"no store at {self.path}")
        new = not self.path.exists()
        if not read_only:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the store {self.path}: {_file_above(self.path) or exc}; "
                    "give --db a path in a folder you can write"
                ) from None
        # The driver may store from joblib's dispatch thread: one connection, one lock.
        self._lock = threading.Lock()
        try:
            if read_only:
                self._conn = self._open_read_only()
            else:
                self._conn = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False)
                # The check comes first: a file of another application is refused as it is
                # (no switch to WAL, no tables added).
                self._check_schema()
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
                self._conn.executescript(_SCHEMA)
                self._migrate()
        except (sqlite3.Error, StoreError) as exc:
            if hasattr(self, "_conn"):
                self._conn.close()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(self._explain(exc, opening=True, new=new)) from None
        self._versions = json.dumps(versions(), sort_keys=True)

    def _open_read_only(self) -> sqlite3.Connection:
        """A connection that cannot write (``mode=ro``: SQLite refuses every write, the
        journal-mode switch included). On a read-only mount a store in WAL mode cannot
        create its ``-shm`` file, so it is opened ``immutable=1`` there: nobody can write
        the file on that mount."""
        uri = self.path.resolve().as_uri()
        for query in ("mode=ro", "immutable=1"):
            conn = sqlite3.connect(f"{uri}?{query}", timeout=60, check_same_thread=False, uri=True)
            self._conn = conn
            try:
                self._check_schema(complete=True)
            except sqlite3.OperationalError as exc:
                conn.close()
                if query == "mode=ro" and "unable to open" in str(exc):
                    continue
                raise
            return conn
        raise AssertionError("unreachable")  # pragma: no cover

    def _explain(self, exc: BaseException, *, opening: bool = False, new: bool = False) -> str:
        """One line on a SQLite error: what happened to which store, and what to do."""
        cause = exc.__cause__ if isinstance(exc.__cause__, sqlite3.Error) else exc
        text = str(cause).split("\n")[0]
        low = text.lower()
        if "file is not a database" in low:
            return f"{self.path} is not a GenLabel result store ({text}); use another --db"
        if "malformed" in low or "corrupt" in low or "disk i/o" in low:
            return (
                f"the store {self.path} is damaged ({text}); restore it from a copy, or "
                "use another --db (its readable cells: sqlite3 FILE .recover)"
            )
        if "locked" in low or "busy" in low:
            return (
                f"the store {self.path} is locked by another process ({text}); wait for it "
                "to finish, or use another --db"
            )
        if "readonly" in low or "read-only" in low or "unable to open" in low:
            what = "create" if new else "write"
            return (
                f"cannot {what} the store {self.path} ({text}); give --db a path in a folder "
                "you can write (reading needs no write access: genlabel report --db PATH)"
            )
        return f"the store {self.path} cannot be used ({text}); use another --db"

    @contextmanager
    def _sql(self) -> Iterator[None]:
        """Under the lock; every SQLite error of a store call as a :class:`StoreError`."""
        try:
            with self._lock:
                yield
        except (sqlite3.Error, pd.errors.DatabaseError) as exc:
            raise StoreError(self._explain(exc)) from None

    def _columns(self, table: str) -> set[str]:
        return {row[1] for row in self._conn.execute(f"PRAGMA table_info({table})")}

    def _check_schema(self, *, complete: bool = False) -> None:
        """Tables of another schema are refused, and so is a database with tables but no
        ``results`` (another application's); with ``complete`` also missing tables."""
        tables = {
            row[0]
            for row in self._conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }
        if tables and "results" not in tables:
            listed = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
            raise StoreError(
                f"{self.path} is not a GenLabel result store (its tables: {listed}); "
                "use another --db"
            )
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
        """Close the connection (the store is also a context manager that closes it)."""
        self._conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _cells(self) -> tuple[list[tuple[tuple, str]], set[int]]:
        """The key and config hash of every sound cell, and the rowids of the damaged ones
        (values that do not match their checksum, or of the wrong types: reported once per
        store, never read)."""
        with self._sql():
            have = self._columns("results")  # an older store read as it is lacks some
            columns = ", ".join(c if c in have else "NULL" for c in (*CHECKED, "checksum"))
            rows = self._conn.execute(f"SELECT rowid, {columns} FROM results").fetchall()
        cells, damaged, rowids = [], [], set()
        for rowid, *values, stored in rows:
            key = _key(values)
            if key is None or _mismatch(values, stored):
                damaged.append(tuple(values[: len(CELL_KEY)]))
                rowids.add(rowid)
            else:
                cells.append((key, values[CHECKED.index("config_hash")]))
        self._report_damaged(damaged)
        return cells, rowids

    def _report_damaged(self, damaged: list[tuple]) -> None:
        if damaged and not self._warned:
            self._warned = True
            n = len(damaged)
            named = [key for key in damaged if None not in key]
            example = f", e.g. {named[0]}" if named else ""
            warnings.warn(
                f"{self.path}: {n} damaged cell{'s' if n != 1 else ''} (values that do not "
                f"match their checksum) not read{example}; a run with the same settings "
                "computes them again",
                StoreWarning,
                stacklevel=3,
            )

    def done_keys(self) -> set[tuple]:
        """The keys of the stored cells (damaged ones are not done)."""
        return {key for key, _ in self._cells()[0]}

    def conflicting(self, config: dict[str, Any], keys: Iterable[tuple]) -> list[tuple]:
        """Keys already stored under another configuration (they would not be recomputed).

        Parameters
        ----------
        config : dict
            The configuration a run would store with its cells.
        keys : iterable of tuple
            The cells of its plan.

        Returns
        -------
        list of tuple
            The keys among ``keys`` stored under another configuration.
        """
        h = config_hash(config)
        wanted = set(keys)
        return [key for key, ch in self._cells()[0] if key in wanted and ch != h]

    def begin_run(self, *, n_jobs: int, backend: str, command: str) -> int:
        """Record the start of a run segment, with this process's host and pid.

        Parameters
        ----------
        n_jobs : int
            The segment's worker processes.
        backend : str
            ``joblib`` or ``dask``.
        command : str
            The command line that started it.

        Returns
        -------
        int
            The run id (pass it to :meth:`add`, :meth:`claim`, :meth:`end_run`).
        """
        with self._sql(), self._conn:
            now = time.time()
            cur = self._conn.execute(
                "INSERT INTO runs (started, n_jobs, backend, command, host, pid, heartbeat)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (now, int(n_jobs), backend, command, socket.gethostname(), os.getpid(), now),
            )
        return int(cur.lastrowid or 0)

    @contextmanager
    def heartbeat(self, run_id: int) -> Iterator[None]:
        """Renew run ``run_id``'s claims while the block runs: a thread with its own
        connection writes ``runs.heartbeat`` every :func:`heartbeat_gap` seconds.

        Parameters
        ----------
        run_id : int
            The run segment, from :meth:`begin_run`.

        Yields
        ------
        None
            The thread stops when the block exits.
        """
        stop = threading.Event()
        gap = heartbeat_gap(self.claim_timeout)

        def beat() -> None:
            conn = sqlite3.connect(str(self.path), timeout=60)
            try:
                while not stop.wait(gap):
                    try:
                        with conn:
                            conn.execute(
                                "UPDATE runs SET heartbeat = ? WHERE id = ?", (time.time(), run_id)
                            )
                    except sqlite3.Error:  # a busy or failing store: the next beat tries again
                        pass
            finally:
                conn.close()

        thread = threading.Thread(target=beat, name="genlabel-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def end_run(self, run_id: int) -> None:
        """Record the end of a run segment and release its claims.

        Parameters
        ----------
        run_id : int
            The run segment, from :meth:`begin_run`.
        """
        with self._sql(), self._conn:
            self._conn.execute("UPDATE runs SET finished = ? WHERE id = ?", (time.time(), run_id))
            self._conn.execute("DELETE FROM claims WHERE run_id = ?", (run_id,))

    def _holds(self, finished: float | None, host: str | None, pid: int | None, seen: float,
               now: float) -> bool:  # fmt: skip
        """Whether a run's claims are live: unfinished, seen within the claim timeout, and
        not known dead."""
        return finished is None and now - seen < self.claim_timeout and not _dead_here(host, pid)

    def claim(self, job: str, run_id: int, cells: int = 0, keys: Iterable[tuple] = ()) -> bool:
        """Claim a job (of ``cells`` cells) for run ``run_id``.

        Another run holds a claim while it is unfinished, was seen within the claim
        timeout, and is not known to be dead; a claim that no live run holds is taken over.
        A job whose cells (``keys``) are all stored and sound is not claimed: another
        driver finished it after this run planned it (its claim is gone by then).

        Parameters
        ----------
        job : str
            The job's name (:func:`~genlabel.bench.runner.job_key`).
        run_id : int
            The run segment, from :meth:`begin_run`.
        cells : int, default=0
            The job's cells (reported by :meth:`holders`).
        keys : iterable of tuple, optional
            The job's cell keys (``CELL_KEY`` order); checked before the claim is taken.

        Returns
        -------
        bool
            True when the claim is this run's; False when another run holds it, or has
            stored every cell of ``keys`` already.
        """
        keys = list(keys)
        with self._sql(), self._conn:
            if keys and all(self._sound(key) for key in keys):
                return False
            now = time.time()
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO claims (job, run_id, claimed, cells) VALUES (?, ?, ?, ?)",
                (job, run_id, now, int(cells)),
            )
            if cur.rowcount:
                return True
            owner = self._conn.execute(
                f"SELECT r.id, r.finished, r.host, r.pid, {_SEEN} FROM claims c JOIN runs r"
                " ON r.id = c.run_id WHERE c.job = ?",
                (job,),
            ).fetchone()
            if owner is not None and owner[0] != run_id:
                _, finished, host, pid, seen = owner
                if self._holds(finished, host, pid, seen, now):
                    return False
            self._conn.execute(
                "UPDATE claims SET run_id = ?, claimed = ?, cells = ? WHERE job = ?",
                (run_id, now, int(cells), job),
            )
            return True

    def release(self, job: str, run_id: int) -> None:
        """Give up run ``run_id``'s claim of a job (its cells are stored).

        Parameters
        ----------
        job : str
        run_id : int
            The run segment, from :meth:`begin_run`.
        """
        with self._sql(), self._conn:
            self._conn.execute("DELETE FROM claims WHERE job = ? AND run_id = ?", (job, run_id))

    def holders(self, run_id: int | None = None) -> list[Holder]:
        """The other runs (not ``run_id``) whose claims are live, with their claimed cells.

        Parameters
        ----------
        run_id : int, optional
            The asking run, left out of the answer.

        Returns
        -------
        list of Holder
            Each with its host, pid, seconds since it was last seen and claimed cells.
        """
        with self._sql():
            rows = self._conn.execute(
                f"SELECT r.id, r.finished, r.host, r.pid, {_SEEN}, sum(coalesce(c.cells, 0))"
                " FROM claims c JOIN runs r ON r.id = c.run_id GROUP BY r.id ORDER BY r.id"
            ).fetchall()
        now = time.time()
        return [
            Holder(rid, host, pid, now - seen, int(cells))
            for rid, finished, host, pid, seen, cells in rows
            if rid != run_id and self._holds(finished, host, pid, seen, now)
        ]

    def runs(self) -> pd.DataFrame:
        """The run segments, with ``wall_seconds``: start to end, or to the last stored job
        for a segment that was killed."""
        with self._sql():
            runs = self._with_added(
                "runs", pd.read_sql_query("SELECT * FROM runs ORDER BY id", self._conn)
            )
        end = runs.finished.fillna(runs.last_write).fillna(runs.started)
        return runs.assign(wall_seconds=end - runs.started)

    def add(
        self, records: list[dict[str, Any]], config: dict[str, Any], run_id: int | None = None
    ) -> int:
        """Insert a job's records in one transaction; existing cells are left untouched.

        Parameters
        ----------
        records : list of dict
            The cells, as :func:`~genlabel.bench.run_job` returns them.
        config : dict
            The run's configuration, stored (and hashed) with every cell.
        run_id : int, optional
            The run segment, whose last-write time and cell count are updated in the same
            transaction.

        Returns
        -------
        int
            The number of cells inserted.
        """
        h, cfg = config_hash(config), json.dumps(config, sort_keys=True, default=str)
        mine = json.loads(self._versions)

        def versions_of(record: dict[str, Any]) -> str:
            # A worker elsewhere (Dask) names its own CPU in the record; else the driver's.
            if record.get("cpu") in (None, mine["cpu"]):
                return self._versions
            return json.dumps(mine | {"cpu": record["cpu"]}, sort_keys=True)

        rows = []
        for r in records:
            values = (
                str(r["dataset"]), str(r["method"]), str(r["model"]), int(r["trial"]),
                str(r["measure"]), float(r["alpha"]), float(r["test_accuracy"]),
                _maybe(float, r.get("robust_accuracy")),
                *(_maybe(kind, r.get(name)) for name, kind in _OPTIONAL_KINDS),
                str(r["params"]), float(r["seconds"]), h, cfg, versions_of(r),
            )  # fmt: skip
            values = tuple(_as_stored(v) for v in values)
            rows.append((*values, checksum(values)))
        insert = (
            f"INTO results ({', '.join(CHECKED)}, checksum)"
            f" VALUES ({', '.join('?' * (len(CHECKED) + 1))})"
        )
        written = 0
        with self._sql(), self._conn:
            for row in rows:
                cur = self._conn.execute(f"INSERT OR IGNORE {insert}", row)
                if not cur.rowcount and self._damaged(row[: len(CELL_KEY)]):
                    cur = self._conn.execute(f"INSERT OR REPLACE {insert}", row)
                written += cur.rowcount
            if run_id is not None:
                self._conn.execute(
                    "UPDATE runs SET last_write = ?, cells = cells + ? WHERE id = ?",
                    (time.time(), written, run_id),
                )
        return written

    def _stored(self, key: tuple) -> tuple | None:
        """The stored row of ``key`` (its checked values, then its checksum), or None."""
        where = " AND ".join(f"{name} = ?" for name in CELL_KEY)
        return self._conn.execute(
            f"SELECT {', '.join(CHECKED)}, checksum FROM results WHERE {where}", key
        ).fetchone()

    def stored_config(self, key: tuple) -> dict[str, Any] | None:
        """The settings a stored cell was computed with (its ``config``), or None.

        Parameters
        ----------
        key : tuple
            The cell's key, in ``CELL_KEY`` order.

        Returns
        -------
        dict or None
        """
        with self._sql():
            row = self._stored(key)
        if row is None:
            return None
        config = row[CHECKED.index("config")]
        return json.loads(config) if config else None

    def _damaged(self, key: tuple) -> bool:
        """Whether the stored cell of ``key`` is damaged (it is then replaced, not kept)."""
        row = self._stored(key)
        return row is not None and _mismatch(row[:-1], row[-1])

    def _sound(self, key: tuple) -> bool:
        """Whether ``key`` is stored and not damaged (a cell from before checksums counts)."""
        row = self._stored(key)
        return row is not None and not _mismatch(row[:-1], row[-1])

    def frame(self) -> pd.DataFrame:
        """Every sound cell, one row each (damaged cells are reported and left out)."""
        damaged = self._cells()[1]
        with self._sql():
            frame = pd.read_sql_query(
                "SELECT rowid AS _rowid, * FROM results"
                " ORDER BY dataset, method, model, alpha, trial, measure",
                self._conn,
            )
        frame = frame[~frame._rowid.isin(damaged)].reset_index(drop=True)
        frame = self._with_added("results", frame)
        return frame.drop(columns=["_rowid", "checksum"])

    @staticmethod
    def _with_added(table: str, frame: pd.DataFrame) -> pd.DataFrame:
        """The columns added after the first release, empty where an older store (read
        without migrating it) lacks them."""
        missing = [name for name in _ADDED_COLUMNS[table] if name not in frame.columns]
        return frame.assign(**dict.fromkeys(missing)) if missing else frame
