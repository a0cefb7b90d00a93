"""A benchmark session: plan -> conflict check -> run segment -> report, from Python.

The CLI's ``genlabel bench`` and ``genlabel demo`` are thin wrappers around it::

    from genlabel.bench import BenchSession, BenchSettings
    session = BenchSession(datasets=["iris", "wine"], methods=["mixup", "genlabel_cv"],
                           trials=2, settings=BenchSettings(epochs=20), db="runs/r.sqlite")
    summary = session.run()          # resumable: finished cells are skipped
    session.report()                 # report.md, results.csv, PNGs in runs/r/ (next to r.sqlite)
    frame = session.results()        # one row per cell
"""

from __future__ import annotations

import functools
import json
import math
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from .._validation import is_integer, is_real
from ..data import DataError, csv_name, load_dataset, suite_ids
from ..data.tabular import check_csv_files
from ..data.user_csv import SavedIndexWarning, data_summary
from ..labels import LABEL_CLASSES
from ..registry import SUITES, TABULAR_MODELS, check_method, resolve_method
from ..robustness import ATTACKS
from ..training.grid import DEFAULT_LATENT, LATENTS, TrainSettings, check_warmup
from ..training.selection import check_grid
from .protocol import BenchSettings, attack_names, unknown_attacks
from .report import report_folder, write_report
from .runner import SchedulerError, applicable, plan_jobs, planned_keys, run_bench
from .store import CLAIM_TIMEOUT, ResultStore, StoreError, check_claim_timeout

__all__ = ["BenchError", "BenchPlan", "BenchSession", "RunSummary", "StoreSession"]

BACKENDS = ("joblib", "dask")


class BenchError(ValueError):
    """A benchmark that cannot run as asked; the message says what to change."""


@dataclass
class BenchPlan:
    """What a run would do: every cell of the plan, those stored, the tasks for the rest.

    Messages call the units of work tasks: "jobs" is only ever the number of parallel
    worker processes (``--jobs``).

    Parameters
    ----------
    db : Path
        The store the run writes.
    keys : list of tuple
        The key of every cell of the plan.
    done : set of tuple
        The keys already in the store.
    jobs : list
        The tasks (units of work) for the missing cells: :class:`Job` for the tabular
        runner, (method, trial) pairs for an image session, (data set, trial, schemes) for
        the GenMix experiment.
    unit : str, default="tasks"
        What :meth:`describe` calls the tasks.
    """

    db: Path
    keys: list[tuple]
    done: set[tuple]
    jobs: list[Any]
    unit: str = "tasks"

    @property
    def total(self) -> int:
        return len(self.keys)

    @property
    def todo(self) -> int:
        return sum(1 for k in self.keys if k not in self.done)

    def describe(self) -> str:
        """One line: the cells, how many are done, how many to run in how many tasks, and
        the store."""
        unit = self.unit.replace("tasks", "task", 1) if len(self.jobs) == 1 else self.unit
        return (
            f"{self.total} cells, {self.total - self.todo} done, {self.todo} to run in "
            f"{len(self.jobs)} {unit} -> {self.db}"
        )


@dataclass
class RunSummary:
    """The outcome of a run segment.

    Attributes
    ----------
    cells_written : int
        Cells this segment wrote.
    cells_stored : int
        Cells of the plan in the store after the run.
    cells_total : int
        Cells of the plan.
    seconds : float
        The segment's wall-clock time.
    interrupted : bool, default=False
        The run was interrupted (Ctrl-C or SIGTERM).
    terminated : bool, default=False
        The interruption was SIGTERM (the CLI exits 143 instead of Ctrl-C's 130).
    held : str, optional
        When cells of the plan are missing after an uninterrupted run: which other drivers
        hold them; the report is partial.
    """

    cells_written: int
    cells_stored: int  # cells of the plan in the store after the run
    cells_total: int
    seconds: float
    interrupted: bool = False
    #: The interruption was SIGTERM (the CLI exits 143 instead of Ctrl-C's 130).
    terminated: bool = False
    #: When cells of the plan are missing after an uninterrupted run: which other drivers
    #: hold them ("3 cells held by host H, pid P, last seen T ago"); the report is partial.
    held: str | None = None


@contextmanager
def sigterm_as_interrupt() -> Iterator[dict[str, bool]]:
    """SIGTERM raises KeyboardInterrupt (once) while the block runs, so that a terminated
    run ends as Ctrl-C ends it: claims released, the segment closed. The yielded dict's
    ``"fired"`` says whether it came; after ``state["armed"] = False`` it is only noted.
    Outside the main thread nothing changes."""
    state = {"fired": False, "armed": True}

    def handler(signum: int, frame: object) -> None:
        if not state["fired"]:  # a second SIGTERM while cleaning up is ignored
            state["fired"] = True
            if state["armed"]:
                raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: signals cannot be handled here
        yield state
        return
    try:
        yield state
    finally:
        signal.signal(signal.SIGTERM, previous)


class StoreSession:
    """What every session does with its result store, written once.

    The tabular benchmark (:class:`BenchSession`), the image session and the GenMix
    experiment differ in their cells and how a job computes them; the store's side is the
    same: open it (a file that is not a store is the session's error), check that it holds
    none of the planned cells under other settings, run a segment (recorded in the store's
    ``runs`` table; Ctrl-C stops it cleanly), read the results and write the report.
    Subclasses set ``db``, ``out``, ``error`` (their ValueError subclass) and ``settings_word``
    (what the fingerprint is called in the conflict message), and may set ``claim_timeout``
    (see :meth:`_set_claim_timeout`).
    """

    db: Path
    out: Path
    error: type[ValueError] = ValueError
    settings_word: str = "other settings"
    claim_timeout: float = CLAIM_TIMEOUT
    #: After a run that ended with cells held by other drivers: which (the report says so).
    partial: str | None = None

    def _set_claim_timeout(self, value: float) -> None:
        """Seconds after its driver was last seen that another driver's claim lapses."""
        try:
            self.claim_timeout = check_claim_timeout(value)
        except StoreError as exc:
            raise self.error(str(exc)) from None

    def _store(self, *, read_only: bool = False) -> ResultStore:
        """The store; ``read_only`` for reading an existing one without touching the file
        (a store not written yet is created, as before, so reading it gives no cells)."""
        try:
            return ResultStore(
                self.db, read_only=read_only and self.db.is_file(),
                claim_timeout=self.claim_timeout,
            )  # fmt: skip
        except StoreError as exc:
            raise self.error(str(exc)) from None

    def _stored_keys(self, fingerprint: dict[str, Any], keys: list[tuple]) -> set[tuple]:
        """The keys already stored, after checking that the store holds none of ``keys``
        computed with another fingerprint (those would silently not be recomputed)."""
        with self._store() as store:
            clash = store.conflicting(fingerprint, keys)
            done = store.done_keys()
            stored = store.stored_config(clash[0]) if clash else None
        if clash:
            raise self.error(
                f"{self.db} already holds {len(clash)} of these cells computed with "
                f"{self.settings_word} (e.g. {clash[0]}{_differences(stored, fingerprint)});"
                " use another --db"
            )
        return done

    def _run_segment(
        self,
        plan: BenchPlan,
        work: Callable[[ResultStore, int], int],
        *,
        n_jobs: int,
        backend: str,
        command: str | None,
        writer: bool = True,
    ) -> RunSummary:
        """Run ``work(store, run_id)`` (it returns the cells it wrote) as one run segment.

        The segment is a row of the store's ``runs`` table (start, end, cells) written by
        the ``writer`` (rank 0 under torch.distributed), whose heartbeat renews its claims
        while ``work`` runs. Ctrl-C or SIGTERM ends it cleanly (claims released, every
        finished job stored) and the summary says so; cells left to other drivers are
        named in ``summary.held`` and in :attr:`partial`.
        """
        start = time.perf_counter()
        interrupted, written, held = False, 0, None
        with self._store() as store, sigterm_as_interrupt() as term:
            run_id = 0
            try:
                if writer:
                    command = command or " ".join(sys.argv)
                    run_id = store.begin_run(n_jobs=n_jobs, backend=backend, command=command)
                with store.heartbeat(run_id) if writer else nullcontext():
                    written = work(store, run_id)
            except KeyboardInterrupt:
                interrupted = True
            finally:
                if writer and run_id:
                    store.end_run(run_id)
                term["armed"] = False
            interrupted = interrupted or term["fired"]
            stored = len(set(plan.keys) & store.done_keys())
            if not interrupted and stored < plan.total:
                held = self._held(store, run_id, plan.total - stored)
        self.partial = held
        return RunSummary(
            written, stored, plan.total, time.perf_counter() - start, interrupted,
            terminated=term["fired"], held=held,
        )  # fmt: skip

    @staticmethod
    def _held(store: ResultStore, run_id: int, missing: int) -> str:
        """Who holds the ``missing`` cells of a plan that this run left to other drivers."""
        holders = store.holders(run_id)
        if holders:
            return "; ".join(h.describe() for h in holders)
        return (
            f"{missing} cells were left to another driver that stopped before storing them;"
            " run the same command to compute them"
        )

    def results(self) -> pd.DataFrame:
        """Every stored cell of the store (one row per cell)."""
        with self._store(read_only=True) as store:
            return store.frame()

    def _frame_and_runs(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The stored cells and run segments, for the report."""
        with self._store(read_only=True) as store:
            return store.frame(), store.runs()


def _jobs(jobs: Any) -> int:
    """The number of parallel jobs: a positive int, or as in joblib -1 for every core, -2
    for all but one, ..."""
    if not is_integer(jobs) or jobs == 0:
        raise BenchError(
            f"jobs (parallel jobs) must be at least 1 (or -1 for every core); got {jobs!r}"
        )
    return int(jobs) if jobs > 0 else max(1, (os.cpu_count() or 1) + 1 + int(jobs))


def _names(values: Sequence[str] | str | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = values.split(",")
    return [v.strip() for v in values if str(v).strip()]


class BenchSession(StoreSession):
    """One benchmark over a store: which cells, where they are stored and reported.

    Parameters
    ----------
    suite : {"quick", "paper-logistic", "paper-mlp"}, default="quick"
        Sets the default data sets, model, trials and methods.
    datasets : sequence of str, optional
        Data set ids (OpenML ids, embedded names); with the ``csv`` files' stems they
        replace the suite's. Run smallest first, so a run stopped early has whole sets.
    csv : sequence of paths, optional
        Your own CSV (or CSV.gz) files, each a data set named by its file's stem (two files
        of one stem, or a stem that is an embedded name or an OpenML id, are an error).
        Their cells are stored with each file's sha256: an edited file is not resumed from
        the cells of the old one.
    label : str, optional
        The CSV files' class column (checked: see ``genlabel.data.load_csv``; ``label``
        without ``csv`` is an error).
    methods : sequence of str, optional
        Method names (aliases accepted); the suite's by default. A method named here that
        ``model`` cannot train is an error (the suite's are skipped).
    model : str, optional
        ``"logistic"`` or ``"mlp"``; the suite's by default.
    trials : int, optional
        Trials 0..trials-1 (split and training seeds); the suite's by default.
    alphas : sequence of float, default=(1.0,)
    settings : BenchSettings, optional
        Epochs, split, measure (clean or robust), data location, ...
    db : path, optional
        The SQLite store (default ``reports/<suite>/results.sqlite``, or
        ``reports/custom/results.sqlite`` for custom data sets).
    out : path, optional
        Where the report goes (default: beside the store, named after it:
        ``runs/x.sqlite`` -> ``runs/x/``).
    jobs : int, default=1
        Parallel jobs on this machine (joblib processes or Dask workers).
    backend : {"joblib", "dask"}, default="joblib"
    scheduler : str, optional
        The address of a Dask scheduler (``backend="dask"``).
    progress : bool, default=True
    log : callable, default=print
        Where the session's messages go.
    claim_timeout : float, default=300
        Seconds after its driver was last seen (its heartbeat) that another driver's claim
        on a job lapses and this session takes the job over.
    """

    error = BenchError

    def __init__(
        self,
        *,
        suite: str = "quick",
        datasets: Sequence[str] | str | None = None,
        csv: Sequence[str | Path] = (),
        label: str | None = None,
        methods: Sequence[str] | str | None = None,
        model: str | None = None,
        trials: int | None = None,
        alphas: Sequence[float] = (1.0,),
        settings: BenchSettings | None = None,
        db: str | Path | None = None,
        out: str | Path | None = None,
        jobs: int = 1,
        backend: str = "joblib",
        scheduler: str | None = None,
        progress: bool = True,
        log: Callable[[str], None] = print,
        claim_timeout: float = CLAIM_TIMEOUT,
    ):
        self._set_claim_timeout(claim_timeout)
        if suite not in SUITES:
            raise BenchError(f"unknown suite {suite!r}; expected one of {', '.join(SUITES)}")
        spec = SUITES[suite]
        self.suite = suite
        self.settings = settings or BenchSettings()
        self._resolve_csv(csv, label)
        self.model = model or spec.model
        if self.model not in TABULAR_MODELS:
            raise BenchError(
                f"unknown model {self.model!r}; expected one of {', '.join(TABULAR_MODELS)}"
            )
        self._resolve_latent()
        self.trials = spec.trials if trials is None else int(trials)
        if self.trials < 1:
            raise BenchError(f"trials must be at least 1; got {trials!r}")
        named = _names(methods)
        self.methods = self._methods(named or list(spec.methods), named=bool(named))
        self.alphas = [float(a) for a in alphas]
        # NaN too (every comparison with it is false): a NaN alpha was stored as NULL.
        if not self.alphas or not all(0 <= a < math.inf for a in self.alphas):
            raise BenchError(f"alpha must be one or more finite numbers >= 0; got {list(alphas)!r}")
        self._check_settings()
        if backend not in BACKENDS:
            raise BenchError(f"unknown backend {backend!r}; expected joblib or dask")
        if scheduler and backend != "dask":
            raise BenchError(
                f"a Dask scheduler ({scheduler}) only applies with the dask backend; "
                "add --backend dask (backend='dask'), or drop --scheduler"
            )
        self.jobs, self.backend, self.scheduler = _jobs(jobs), backend, scheduler
        self._warn_jobs()
        self.progress, self.log = progress, log
        stems = [csv_name(p) for p in self.settings.csv_files]
        custom = list(dict.fromkeys(_names(datasets) + stems))
        self.datasets = self._datasets(custom)
        default_db = Path("reports") / (suite if not custom else "custom") / "results.sqlite"
        self.db = Path(db) if db is not None else default_db
        self.out = Path(out) if out is not None else report_folder(self.db)

    # -- checks -------------------------------------------------------------------------
    def _warn_jobs(self) -> None:
        """A warning when more jobs than cores run on this machine (an existing Dask
        scheduler's workers run elsewhere): they would only compete for the cores."""
        cores = os.cpu_count() or 1
        if self.jobs > cores and not self.scheduler:
            warnings.warn(
                f"jobs={self.jobs} is more than the {cores} CPU cores of this machine: the "
                f"jobs compete for them (at most one per job to run is started); "
                f"--jobs {cores} or -1 uses every core",
                stacklevel=3,
            )

    def _resolve_csv(self, csv: Sequence[str | Path], label: str | None) -> None:
        """The CSV files (each once) and their label column, into the settings."""
        if csv or label:
            csv_files = tuple(dict.fromkeys(str(p) for p in csv)) or self.settings.csv_files
            self.settings = replace(
                self.settings, csv_files=csv_files, label=label or self.settings.label
            )
        if self.settings.label is not None and not self.settings.csv_files:
            raise BenchError(
                "--label names the class column of --csv files (label= of csv= in Python); "
                "give the files with --csv PATH, or drop --label"
            )
        if self.settings.csv_files:
            self.settings_word = "other settings or another version of a --csv file"

    def _resolve_latent(self) -> None:
        """The MLP's GenLabel variant is recorded in the settings (so that stores of two
        variants never mix); the logistic model has none."""
        latent = self.settings.latent
        if self.model != "mlp":
            if latent is not None:
                raise BenchError(
                    f"--latent {latent} chooses where GenLabel fits its densities with the MLP;"
                    " the logistic model has no hidden layer"
                )
            return
        if latent is not None and latent not in LATENTS:
            raise BenchError(f"unknown latent {latent!r}; expected one of {', '.join(LATENTS)}")
        self.settings = replace(self.settings, latent=latent or DEFAULT_LATENT)

    def _methods(self, names: list[str], *, named: bool) -> list[str]:
        """The canonical names; a method ``named`` by the user must train the model (the
        suite's that do not, e.g. manifold mixup with the logistic model, are skipped)."""
        try:
            canonical = [resolve_method(n).name for n in names]
        except ValueError as exc:
            raise BenchError(str(exc)) from None
        tabular = [m for m in canonical if applicable(m, "logistic") or applicable(m, "mlp")]
        if len(tabular) != len(canonical):
            bad = sorted(set(canonical) - set(tabular))
            raise BenchError(f"methods {bad} train image models; use 'genlabel images'")
        for method in canonical if named else ():
            try:
                check_method(method, self.model, cli=True)
            except ValueError as exc:
                raise BenchError(str(exc)) from None
        return list(dict.fromkeys(canonical))

    def _check_settings(self) -> None:
        s = self.settings
        if s.measure not in ("clean", "robust"):
            raise BenchError(f"unknown measure {s.measure!r}; expected clean or robust")
        if unknown := unknown_attacks(s):
            raise BenchError(
                f"unknown attack {unknown[0]!r}; expected one of {', '.join(ATTACKS)}"
                " (or several, comma-separated)"
            )
        if s.epochs < 1:
            raise BenchError(f"epochs must be at least 1; got {s.epochs}")
        if s.label_classes not in LABEL_CLASSES:
            raise BenchError(f"unknown label classes {s.label_classes!r}; expected all or mixed")
        numbers = [
            ("batch_size", s.batch_size, is_integer(s.batch_size) and s.batch_size >= 1,
             "an integer >= 1"),
            ("cv", s.cv, is_integer(s.cv) and s.cv >= 2, "an integer >= 2"),
            ("warmup_epochs", s.warmup_epochs,
             is_integer(s.warmup_epochs) and s.warmup_epochs >= 0, "an integer >= 0"),
            ("weight_decay", s.weight_decay,
             is_real(s.weight_decay) and 0 <= s.weight_decay < math.inf, "a number >= 0"),
            # As in scikit-learn's train_test_split: a share, or a number of rows.
            ("test_size", s.test_size,
             (is_integer(s.test_size) and s.test_size >= 1)
             or (is_real(s.test_size) and 0 < s.test_size < 1),
             "a number in (0, 1) or a number of rows >= 1"),
        ]  # fmt: skip
        for name, value, ok, expected in numbers:
            if not ok:
                raise BenchError(f"{name} must be {expected}; got {value!r}")
        try:
            check_grid("BenchSettings", lr_grid=s.lr_grid, gamma_grid=s.gamma_grid)
        except ValueError as exc:
            raise BenchError(str(exc)) from None
        if s.measure == "robust" and (not s.eps or not all(0 <= e <= 1 for e in s.eps)):
            raise BenchError(
                "eps (the attack radius, a fraction of each feature's training range) must be "
                f"one or more numbers in [0, 1]; got {list(s.eps)!r}"
            )
        for method in (m for m in self.methods if applicable(m, self.model)):
            train = TrainSettings(
                model=self.model, method=method, epochs=s.epochs,
                warmup_epochs=s.warmup_epochs, latent=s.latent,
            )  # fmt: skip
            try:
                check_warmup(train, cli=True)
            except ValueError as exc:
                raise BenchError(str(exc)) from None

    def _datasets(self, custom: list[str]) -> list[str]:
        """The ids, checked (a clear error before any work), smallest first."""
        s = self.settings
        try:
            check_csv_files(s.csv_files)
            ids = custom or suite_ids(self.suite, s.data_dir)
            sizes = {i: len(self._load(i).y) for i in ids}
        except DataError as exc:
            raise BenchError(str(exc)) from None
        # Smallest first: a long run stopped early has finished whole data sets (the report
        # needs every method and trial of a set); the largest sets run last.
        return sorted(dict.fromkeys(ids), key=lambda i: sizes[i])

    def _load(self, dataset: str):
        s = self.settings
        return load_dataset(
            dataset, s.data_dir, online=s.online, csv_files=s.csv_files, label=s.label
        )

    # -- the session's steps ------------------------------------------------------------
    def _keys(self) -> list[tuple]:
        return planned_keys(
            self.datasets, self.methods, self.model, range(self.trials), self.alphas, self.settings
        )

    def _by_fingerprint(self, items: list, dataset_of: Callable) -> list[tuple[dict, list]]:
        """``items`` (cell keys or jobs) grouped by the fingerprint of their data set: one
        group without CSV files; a CSV file's cells carry its hash, so a group of their own."""
        try:
            prints = {d: self.settings.fingerprint(d) for d in self.datasets}
        except DataError as exc:
            raise BenchError(str(exc)) from None
        groups: dict[str, tuple[dict, list]] = {}
        for item in items:
            fp = prints[dataset_of(item)]
            key = json.dumps(fp, sort_keys=True, default=str)
            groups.setdefault(key, (fp, []))[1].append(item)
        return list(groups.values())

    def plan(self) -> BenchPlan:
        """The cells to compute, after checking that the store holds none of them computed
        with other settings (those would silently not be recomputed)."""
        keys = self._keys()
        done: set[tuple] = set()
        groups = self._by_fingerprint(keys, lambda key: key[0])
        for fingerprint, group in groups or [(self.settings.fingerprint(), [])]:
            done |= self._stored_keys(fingerprint, group)
        jobs = plan_jobs(
            self.datasets, self.methods, self.model, range(self.trials), self.alphas,
            self.settings, done,
        )  # fmt: skip
        return BenchPlan(self.db, keys, done, jobs, unit="tasks (data set x trial x α)")

    def data_summary(self) -> list[str]:
        """What the benchmark makes of each --csv file: rows, features before and after
        encoding, the one-hot encoded columns, the values imputed, the classes."""
        return list(self._csv_summary)

    @functools.cached_property
    def _csv_summary(self) -> tuple[str, ...]:
        # Once per session: the run logs it and the report writes it (each a reload of
        # every file and a fit of its preprocessing otherwise).
        try:
            with warnings.catch_warnings():  # said once already, when the sets were checked
                warnings.simplefilter("ignore", SavedIndexWarning)
                return tuple(
                    line
                    for path in self.settings.csv_files
                    for line in data_summary(self._load(csv_name(path)))
                )
        except DataError as exc:
            raise BenchError(str(exc)) from None

    def _attack_factory(self):
        if self.settings.measure != "robust":
            return None
        from .robust import attack_factory

        if "autoattack" in attack_names(self.settings):
            from ..robustness import autoattack_attacks

            for d in self.datasets:
                k = self._load(d).n_classes
                self.log(
                    f"AutoAttack on {d} ({k} classes) runs: {', '.join(autoattack_attacks(k))}"
                )
        return attack_factory

    # The run contract's numpydoc, restated by each session (bench, images, GenMix).
    def run(self, plan: BenchPlan | None = None, *, command: str | None = None) -> RunSummary:
        """Compute the missing cells as one run segment of the store (Ctrl-C stops cleanly:
        every finished job is stored, and the same call resumes).

        Parameters
        ----------
        plan : BenchPlan, optional
            What to run (default: :meth:`plan`).
        command : str, optional
            The command line recorded with the run segment (default: ``sys.argv``).

        Returns
        -------
        RunSummary

        Raises
        ------
        BenchError
            The store cannot be opened or holds cells of the plan computed with other
            settings, or the Dask scheduler cannot be reached.
        """
        plan = plan or self.plan()
        if plan.todo:
            for line in self.data_summary():
                self.log(line)
        factory = self._attack_factory()

        def work(store: ResultStore, run_id: int) -> int:
            # One runner call per fingerprint (the store writes one per call); without CSV
            # files that is one call for the whole plan.
            written = 0
            for fingerprint, jobs in self._by_fingerprint(plan.jobs, lambda j: j.dataset):
                try:
                    written += run_bench(
                        jobs, store, fingerprint, n_jobs=self._n_jobs(plan), backend=self.backend,
                        scheduler=self.scheduler, attack_factory=factory,
                        progress=self.progress, run_id=run_id,
                    )  # fmt: skip
                except SchedulerError as exc:
                    raise BenchError(str(exc)) from None
            return written

        return self._run_segment(
            plan, work, n_jobs=self._n_jobs(plan), backend=self.backend, command=command
        )

    def _n_jobs(self, plan: BenchPlan) -> int:
        """``jobs``, at most one per job of the plan: more workers would only start and wait."""
        return max(1, min(self.jobs, len(plan.jobs)))

    def report(self, *, complete_only: bool = False) -> list[Path]:
        """Write report.md, results.csv and the plots into ``out``; returns the paths.

        Parameters
        ----------
        complete_only : bool, default=False
            Keep only the data sets with as many cells as the most complete one (see
            :func:`write_report`).

        Returns
        -------
        list of Path
            The files written, report.md last.
        """
        frame, runs = self._frame_and_runs()
        return write_report(
            frame, self.out, data_dir=self.settings.data_dir, runs=runs,
            complete_only=complete_only, data_summary=self.data_summary(),
            partial=self.partial,
        )  # fmt: skip


def _differences(stored: dict[str, Any] | None, wanted: dict[str, Any]) -> str:
    """``: label_classes 'mixed' here, not set there`` -- the settings that differ between a
    stored cell's configuration and this run's (for the conflict message)."""
    if not stored:
        return ""
    wanted = json.loads(json.dumps(wanted, default=str))  # as the store wrote it
    names = sorted(k for k in stored.keys() | wanted.keys() if stored.get(k) != wanted.get(k))
    if not names:
        return ""

    def shown(config: dict[str, Any], name: str) -> str:
        return repr(config[name]) if name in config else "not set"

    return ": " + ", ".join(
        f"{name} {shown(wanted, name)} here, {shown(stored, name)} there" for name in names[:4]
    )
