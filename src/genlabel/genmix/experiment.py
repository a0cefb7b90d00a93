"""The GenMix experiment: error of vanilla, mixup, manifold mixup and GenMix (GM, GAN).

One job is a (data set, trial): its data are drawn once, then every scheme still missing
from the store trains the same MLP (:mod:`genlabel.genmix.schemes`) and its cell is stored
at once, so a run stopped at any moment resumes with exactly the missing cells::

    from genlabel.genmix.experiment import GenMixExperiment
    experiment = GenMixExperiment(trials=5, db="runs/genmix.sqlite")
    experiment.run()       # resumable
    experiment.report()    # report.md (test error in percent), results.csv, figures

Cells go into a :class:`~genlabel.bench.ResultStore` as (data set, scheme, "mlp", trial,
"clean", alpha) with the budget's fingerprint; a store holding cells of another budget is
refused. Trial 0 also leaves what the figures need (training points, GenMix points,
decision regions of the 2-D set, generated images) as ``.npz`` files in
``<db stem>_artifacts/`` beside the store.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .._validation import is_int_at_least
from ..bench.protocol import calibration
from ..bench.report import report_folder, write_report
from ..bench.session import BenchPlan, RunSummary, StoreSession
from ..bench.store import CLAIM_TIMEOUT, ResultStore
from ..data.paths import DataError
from .budget import GenMixBudget
from .datasets import GENMIX_DATASETS, GenMixData, load_genmix_data
from .schemes import GENMIX_SCHEMES, SchemeOutcome, run_scheme

__all__ = ["FIGURE_TRIAL", "MODEL", "GenMixError", "GenMixExperiment", "GenMixPlan"]

MODEL = "mlp"
MEASURE = "clean"
#: The trial whose points, decision regions and images the figures show.
FIGURE_TRIAL = 0
_GRID = 201  # decision-region grid points per axis (2-D data)
_MAX_SAVED_IMAGES = 64


class GenMixError(ValueError):
    """An experiment that cannot run as asked; the message says what to change."""


#: The GenMix experiment's plan: its jobs are (data set, trial, schemes still to run).
GenMixPlan = BenchPlan


def _names(values: Sequence[str] | str, known: Sequence[str], what: str) -> list[str]:
    if isinstance(values, str):
        values = values.split(",")
    names = [str(v).strip() for v in values if str(v).strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise GenMixError(f"unknown {what} {unknown}; expected some of {', '.join(known)}")
    if not names:
        raise GenMixError(f"no {what} given; expected some of {', '.join(known)}")
    return list(dict.fromkeys(names))


class GenMixExperiment(StoreSession):
    """The GenMix table: data sets x schemes x trials, resumable, with its report.

    Parameters
    ----------
    datasets : sequence of str, default=("circle", "circle3d", "mnist79")
    schemes : sequence of str, default=all five
        "vanilla", "mixup", "manifold_mixup", "genmix_gm", "genmix_gan".
    trials : int, default=5
        Trials 0..trials-1: each draws its own data and seeds every random choice.
    budget : GenMixBudget, optional
        Epochs, GenMix and GAN settings (see its defaults).
    db : path
        The SQLite store.
    out : path, optional
        Where the report goes (default: beside the store, named after it:
        ``runs/x.sqlite`` -> ``runs/x/``).
    data_dir : path, optional
        The folder holding ``mnist/`` (default: ``images/`` under the data root).
    progress : bool, default=True
    log : callable, default=print
    claim_timeout : float, default=300
        Seconds after its driver was last seen that another driver's claim on a job lapses
        and this experiment takes the job over.
    """

    error = GenMixError
    settings_word = "another budget"

    def __init__(
        self,
        *,
        datasets: Sequence[str] | str = GENMIX_DATASETS,
        schemes: Sequence[str] | str = GENMIX_SCHEMES,
        trials: int = 5,
        budget: GenMixBudget | None = None,
        db: str | os.PathLike[str],
        out: str | os.PathLike[str] | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        progress: bool = True,
        log: Callable[[str], None] = print,
        claim_timeout: float = CLAIM_TIMEOUT,
    ):
        self._set_claim_timeout(claim_timeout)
        self.datasets = _names(datasets, GENMIX_DATASETS, "data sets")
        self.schemes = _names(schemes, GENMIX_SCHEMES, "schemes")
        if not is_int_at_least(trials, 1):
            raise GenMixError(f"trials must be an integer >= 1; got {trials!r}")
        self.trials = int(trials)
        try:
            self.budget = (budget or GenMixBudget()).check()
        except ValueError as exc:
            raise GenMixError(str(exc)) from None
        self.db = Path(db)
        self.out = Path(out) if out is not None else report_folder(self.db)
        self.artifacts = self.db.parent / f"{self.db.stem}_artifacts"
        self.data_dir = None if data_dir is None else str(data_dir)
        self.progress, self.log = progress, log
        if "mnist79" in self.datasets:
            self._load("mnist79", 0)  # a missing data folder fails now, not mid-run

    # -- cells --------------------------------------------------------------------------
    def _key(self, dataset: str, scheme: str, trial: int) -> tuple:
        return (dataset, scheme, MODEL, trial, MEASURE, float(self.budget.mixup_alpha))

    def _keys(self) -> list[tuple]:
        return [
            self._key(d, s, t)
            for t in range(self.trials)
            for d in self.datasets
            for s in self.schemes
        ]

    def _load(self, dataset: str, trial: int) -> GenMixData:
        b = self.budget
        try:
            return load_genmix_data(
                dataset, trial, n_train_toy=b.n_train_toy, n_test_toy=b.n_test_toy,
                n_train_images=b.n_train_images, root=self.data_dir,
            )  # fmt: skip
        except DataError as exc:
            raise GenMixError(str(exc)) from None

    def plan(self) -> BenchPlan:
        """The cells to compute, after checking that the store holds none of them computed
        with another budget (those would silently not be recomputed)."""
        keys = self._keys()
        done = self._stored_keys(self.budget.fingerprint(), keys)
        jobs = []
        for trial in range(self.trials):  # trial-major: a stopped run has whole trials
            for dataset in self.datasets:
                todo = [s for s in self.schemes if self._key(dataset, s, trial) not in done]
                if todo:
                    jobs.append((dataset, trial, todo))
        return BenchPlan(self.db, keys, done, jobs, unit="tasks (data set x trial)")

    # -- running ------------------------------------------------------------------------
    def _record(self, dataset: str, trial: int, data: GenMixData, outcome: SchemeOutcome) -> dict:
        y_test = data.y_test.numpy()
        accuracy = float((outcome.proba.argmax(1) == y_test).mean())
        return {
            "dataset": dataset,
            "method": outcome.scheme,
            "model": MODEL,
            "trial": trial,
            "measure": MEASURE,
            "alpha": float(self.budget.mixup_alpha),
            "test_accuracy": accuracy,
            "robust_accuracy": None,
            "params": json.dumps(outcome.params, sort_keys=True),
            "seconds": outcome.seconds,
            **calibration(outcome.proba, y_test),
        }

    def _run_job(
        self, store: ResultStore, run_id: int, job: tuple[str, int, list[str]], bar: Any
    ) -> int:
        dataset, trial, schemes = job
        data = self._load(dataset, trial)
        written = 0
        for scheme in schemes:
            outcome = run_scheme(scheme, data, self.budget, trial)
            record = self._record(dataset, trial, data, outcome)
            written += store.add([record], self.budget.fingerprint(), run_id=run_id)
            if trial == FIGURE_TRIAL:
                save_artifacts(self.artifacts, data, outcome)
            bar.update(1)
            error = 100 * (1 - record["test_accuracy"])
            line = (
                f"{dataset} trial {trial} {scheme}: error {error:.2f} % ({outcome.seconds:.1f} s)"
            )
            (bar.write if self.progress else self.log)(line)
        return written

    # The run contract's numpydoc, restated by each session (bench, images, GenMix).
    def run(self, plan: BenchPlan | None = None, *, command: str | None = None) -> RunSummary:
        """Compute the missing cells as one run segment of the store (Ctrl-C stops cleanly:
        every finished cell is stored, and the same call resumes)."""
        plan = plan or self.plan()

        def work(store: ResultStore, run_id: int) -> int:
            written = 0
            with tqdm(
                total=plan.todo, desc="genmix", unit="cell", disable=not self.progress
            ) as bar:
                for job in plan.jobs:
                    key = f"genmix:{job[0]}:{job[1]}"
                    cells = [self._key(job[0], scheme, job[1]) for scheme in job[2]]
                    if store.claim(key, run_id, len(cells), cells):
                        written += self._run_job(store, run_id, job, bar)
                        store.release(key, run_id)
            return written

        return self._run_segment(plan, work, n_jobs=1, backend="genmix", command=command)

    # -- results ------------------------------------------------------------------------
    def report(self) -> list[Path]:
        """report.md (test error in percent, mean ± std, lowest in bold), results.csv and
        the figures into ``out``; returns the paths (report.md last)."""
        from .figures import genmix_figures

        frame, runs = self._frame_and_runs()
        order = [s for s in GENMIX_SCHEMES if s in set(frame.method)]
        return write_report(
            frame, self.out, runs=runs, error=True, order=order,
            title="GenMix experiment report", partial=self.partial,
            sections=lambda out: genmix_figures(self.artifacts, out),
        )  # fmt: skip


# -- figure artifacts (trial 0) ------------------------------------------------------------
def _atomic_savez(path: Path, arrays: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def _decision_grid(outcome: SchemeOutcome, data: GenMixData) -> dict[str, np.ndarray]:
    """P(class 1) on a square grid around the training points (2-D data)."""
    X = data.X_train.numpy()
    low, high = X.min(0) - 0.25, X.max(0) + 0.25
    axes = [np.linspace(low[i], high[i], _GRID) for i in range(2)]
    gx, gy = np.meshgrid(*axes)
    points = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], 1)).float()
    proba = outcome.trainer.predict_proba(points)[:, 1].numpy().reshape(_GRID, _GRID)
    return {"grid_x": axes[0], "grid_y": axes[1], "grid_proba": proba}


def save_artifacts(folder: Path, data: GenMixData, outcome: SchemeOutcome) -> None:
    """What the figures need of one scheme on the figure trial, as ``.npz`` (no pickle)."""
    _atomic_savez(
        folder / f"{data.name}_data.npz",
        {"X_train": data.X_train.numpy(), "y_train": data.y_train.numpy()},
    )
    arrays: dict[str, np.ndarray] = {}
    if data.n_features == 2:
        arrays |= _decision_grid(outcome, data)
    if outcome.generated is not None:
        result = outcome.generated
        rows = torch.arange(result.x.shape[0])
        if data.image_shape is not None:  # a few images of each ordered pair
            per_pair = _MAX_SAVED_IMAGES // max(int((result.counts > 0).sum()), 1)
            first = result.pair[:, 0] * result.counts.shape[0] + result.pair[:, 1]
            parts = [rows[first == p][:per_pair] for p in torch.unique(first)]
            rows = torch.cat(parts) if parts else rows[:0]
        arrays |= {
            "mix_x": result.x[rows].float().numpy(),
            "mix_targets": result.targets[rows].float().numpy(),
            "mix_pair": result.pair[rows].numpy(),
            "mix_lam": result.lam[rows].numpy(),
        }
    if arrays:
        _atomic_savez(folder / f"{data.name}_{outcome.scheme}.npz", arrays)
