"""An image benchmark session: plan -> run the missing cells -> report, resumable.

The same store, plan, run segments and report as the tabular benchmark (``genlabel.bench``):
one row per (dataset, method, model, trial, measure, alpha), stored as each cell finishes,
so a stopped run resumes with the missing cells; each cell also checkpoints its training
after every epoch in ``<db stem>-checkpoints/`` beside the store::

    from genlabel.images import ImageSession, ImageSettings
    session = ImageSession(ImageSettings(dataset="mnist", epochs=4), methods=["vanilla",
                           "mixup", "mixup_genlabel"], trials=2, db="runs/mnist.sqlite")
    session.run()                    # resumable
    session.report()                 # report.md, results.csv, PNGs in runs/mnist/ beside the store

Under ``torchrun`` every process runs the session (initialise the process group first, see
:func:`genlabel.images.init_distributed`): they train each cell together, and only rank 0
writes the store and the checkpoints.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import torch.distributed as dist

from .._distributed import is_main_process, rank_and_world
from .._validation import is_int_at_least
from ..bench.report import report_folder, write_report
from ..bench.runner import planned_keys
from ..bench.session import BenchPlan, RunSummary, StoreSession
from ..bench.store import CLAIM_TIMEOUT, ResultStore
from ..data import DataError
from ..registry import check_method, method_names
from .experiment import (
    ImageError,
    ImageSettings,
    build_image_model,
    cell_seeds,
    check_layers,
    load_image_data,
    run_image_cell,
)

__all__ = ["ImageSession"]


class ImageSession(StoreSession):
    """The cells of one (dataset, model): methods x trials, in a result store.

    Parameters
    ----------
    settings : ImageSettings
        Data set, model, training and evaluation settings (checked here: an ImageError
        lists every problem).
    methods : sequence of str, optional
        Image methods of the registry (aliases accepted); default: all of them.
    trials : int, default=1
        Trials 0..trials-1 (the seeds of the initial weights, draws and shuffling).
    db : path
        The SQLite store.
    out : path, optional
        Where the report goes (default: beside the store, named after it:
        ``runs/x.sqlite`` -> ``runs/x/``).
    progress : bool, default=True
        The Trainer's progress bar.
    log : callable, default=print
        Where the session's messages go (rank 0 only).
    claim_timeout : float, default=300
        Seconds after its driver was last seen that another driver's claim on a cell lapses
        and this session takes the cell over.
    """

    error = ImageError

    def __init__(
        self,
        settings: ImageSettings,
        *,
        methods: Sequence[str] | None = None,
        trials: int = 1,
        db: str | Path,
        out: str | Path | None = None,
        progress: bool = True,
        log: Callable[[str], None] = print,
        claim_timeout: float = CLAIM_TIMEOUT,
    ):
        self._set_claim_timeout(claim_timeout)
        self.settings = settings.check()
        try:
            names = list(methods) if methods else method_names(settings.model)
            self.methods = list(dict.fromkeys(check_method(m, settings.model).name for m in names))
        except ValueError as exc:
            raise ImageError(str(exc)) from None
        if not is_int_at_least(trials, 1):
            raise ImageError(f"trials must be an int >= 1; got {trials!r}")
        self.trials = int(trials)
        self.db = Path(db)
        self.out = Path(out) if out is not None else report_folder(self.db)
        self.progress = progress
        self._log = log
        self._check_data()

    def log(self, message: str) -> None:
        """Show a progress message (on rank 0 only under torchrun).

        Parameters
        ----------
        message : str
        """
        if is_main_process():
            self._log(message)

    def _check_data(self) -> None:
        """Load the data and build the model once: a clear error before any work."""
        try:
            train, _ = load_image_data(self.settings)
        except DataError as exc:
            raise ImageError(str(exc)) from None
        model = build_image_model(self.settings, train, cell_seeds(0)["model"])
        check_layers(self.settings, model, self.methods)

    @property
    def checkpoint_root(self) -> Path:
        """``<db stem>-checkpoints`` beside the store: one folder per cell."""
        return self.db.parent / f"{self.db.stem}-checkpoints"

    def cell_folder(self, method: str, trial: int) -> Path:
        """The checkpoint folder of one cell, under ``checkpoint_root``; its name holds the
        data set, the model, the method, the trial and the training settings.

        Parameters
        ----------
        method : str
        trial : int

        Returns
        -------
        Path
        """
        s = self.settings
        name = f"{s.dataset}-{s.model}-{method}-trial{trial}-{s.training_key()}"
        return self.checkpoint_root / name

    def plan(self) -> BenchPlan:
        """Every cell, those stored, and the (method, trial) pairs still to run (trial by
        trial); an ImageError when the store holds some of them under other settings."""
        s = self.settings
        keys = planned_keys([s.dataset], self.methods, s.model, range(self.trials), [s.alpha], s)
        rank, world = rank_and_world()
        if rank != 0:
            dist.barrier()  # rank 0 creates the store first
        try:
            done = self._stored_keys(s.fingerprint(), keys)
        finally:
            if rank == 0 and world > 1:
                dist.barrier()
        jobs = [
            (m, t)
            for t in range(self.trials)
            for m in self.methods
            if not _key_done(keys, done, m, t)
        ]
        return BenchPlan(self.db, keys, done, jobs, unit="tasks (method x trial)")

    # The run contract's numpydoc, restated by each session (bench, images, GenMix).
    def run(self, plan: BenchPlan | None = None, *, command: str | None = None) -> RunSummary:
        """Compute the missing cells as one run segment (Ctrl-C stops cleanly: finished
        cells are stored, a cell's checkpoint keeps its finished epochs).

        Under torchrun every process trains; rank 0 writes the store.

        Parameters
        ----------
        plan : BenchPlan, optional
            What to run (default: :meth:`plan`).
        command : str, optional
            The command line recorded with the run segment (default: ``sys.argv``).

        Returns
        -------
        RunSummary
        """
        plan = plan or self.plan()
        rank, world = rank_and_world()
        return self._run_segment(
            plan, lambda store, run_id: self._run_cells(plan, store, run_id),
            n_jobs=world, backend="images", command=command, writer=rank == 0,
        )  # fmt: skip

    def _run_cells(self, plan: BenchPlan, store: ResultStore, run_id: int) -> int:
        rank, world = rank_and_world()
        written = 0
        for method, trial in plan.jobs:
            key = self._job_key(method, trial)
            cells = [k for k in plan.keys if k[1] == method and k[3] == trial]
            if world == 1 and not store.claim(key, run_id, len(cells), cells):
                self.log(f"{method} trial {trial}: another driver runs or ran it")
                continue
            records = run_image_cell(
                self.settings, method, trial, checkpoint_dir=self.cell_folder(method, trial),
                verbose=int(self.progress and rank == 0),
            )  # fmt: skip
            if rank == 0:
                written += store.add(records, self.settings.fingerprint(), run_id)
                if world == 1:
                    store.release(key, run_id)
            self.log(_describe(method, trial, records))
        return written

    def _job_key(self, method: str, trial: int) -> str:
        """The name under which a driver claims a cell (a clean and a robust run of the same
        model are different jobs)."""
        s = self.settings
        return f"images|{s.dataset}|{s.model}|{method}|{trial}|{s.measure}|{s.alpha:g}"

    def report(self) -> list[Path]:
        """Write report.md, results.csv and the plots into ``out`` (rank 0); the paths."""
        frame, runs = self._frame_and_runs()
        if not is_main_process():
            return []
        return write_report(frame, self.out, runs=runs, partial=self.partial)


def _key_done(keys: list[tuple], done: set[tuple], method: str, trial: int) -> bool:
    """Whether every measure of (method, trial) is stored."""
    return all(k in done for k in keys if k[1] == method and k[3] == trial)


def _describe(method: str, trial: int, records: list[dict]) -> str:
    first = records[0]
    text = f"{method} trial {trial}: clean {100 * first['test_accuracy']:.2f} %"
    if first.get("ece") is not None:
        text += f", ECE {100 * first['ece']:.2f} %"
    for r in records:
        if r.get("robust_accuracy") is not None:
            text += f", {r['measure']} {100 * r['robust_accuracy']:.1f} %"
    params = json.loads(first["params"])
    if "gamma_grid" in params:
        text += f", γ {params['gamma']:g} chosen on the validation split"
    return text + f" ({first['seconds']:.0f} s)"
