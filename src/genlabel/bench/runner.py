"""Plan the missing cells, run them (joblib or Dask), write results as they arrive."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from tqdm.auto import tqdm

from ..data import SavedIndexWarning
from ..registry import resolve_method
from .protocol import Job, measure_labels, run_job
from .store import ResultStore, cpu

__all__ = ["SchedulerError", "applicable", "job_key", "plan_jobs", "planned_keys", "run_bench"]


class SchedulerError(ValueError):
    """The Dask scheduler named by ``scheduler`` cannot be reached."""


def applicable(method: str, model: str) -> bool:
    """Whether ``method`` can train ``model`` (manifold mixup mixes hidden layers: MLP only)."""
    return model in resolve_method(method).models


def planned_keys(datasets, methods, model, trials, alphas, settings) -> list[tuple]:
    """Every cell key (dataset, method, model, trial, measure, alpha) of a plan."""
    return [
        (d, m, model, t, meas, float(a))
        for d in datasets
        for a in alphas
        for t in trials
        for m in methods
        if applicable(m, model)
        for meas in measure_labels(settings)
    ]


def plan_jobs(
    datasets: Iterable[str],
    methods: Iterable[str],
    model: str,
    trials: Iterable[int],
    alphas: Iterable[float],
    settings: Any,
    done: set[tuple],
) -> list[Job]:
    """One job per (dataset, trial, alpha) with at least one missing cell, in the order given.

    Parameters
    ----------
    datasets, methods : iterable of str
        The plan's data sets and methods; methods that do not apply to ``model`` are left
        out.
    model : str
        ``logistic`` or ``mlp``.
    trials : iterable of int
    alphas : iterable of float
    settings : BenchSettings
        The settings every job carries (they also name the measures).
    done : set of tuple
        The keys of the cells already stored: (dataset, method, model, trial, measure,
        alpha).

    Returns
    -------
    list of Job
        Each job lists only the methods with a missing cell.
    """
    methods = [m for m in methods if applicable(m, model)]
    trials, alphas = list(trials), list(alphas)
    measures = measure_labels(settings)
    jobs = []
    for dataset in datasets:
        for alpha in alphas:
            for trial in trials:
                missing = tuple(
                    m
                    for m in methods
                    if any(
                        (dataset, m, model, trial, ms, float(alpha)) not in done for ms in measures
                    )
                )
                if missing:
                    jobs.append(Job(dataset, trial, model, float(alpha), missing, settings))
    return jobs


def job_keys(job: Job) -> list[tuple]:
    """The cell keys a job computes."""
    return planned_keys(
        [job.dataset], job.methods, job.model, [job.trial], [job.alpha], job.settings
    )


def job_key(job: Job) -> str:
    """The name under which a driver claims a job in the store."""
    return f"{job.dataset}|{job.model}|{job.trial}|{job.alpha:g}|{','.join(job.methods)}"


def _worker(
    job: Job, threads: int, attack_factory: Callable | None, worker: bool = False
) -> list[dict[str, Any]]:
    # Each worker process gets its share of the cores (no oversubscription).
    torch.set_num_threads(threads)
    attack_fn = attack_factory(job.settings) if attack_factory is not None else None
    # The worker's CPU, not the driver's: on a cluster they can differ (and round differently).
    here = cpu()
    if worker:  # another process than the driver's
        _quiet_worker()
    return [record | {"cpu": here} for record in run_job(job, attack_fn=attack_fn)]


_QUIET = False


def _quiet_worker() -> None:
    """In a worker process, once: ignore the saved-index warning, which the driver showed
    when it loaded every data set before the run. (Once per process: every change to the
    filters makes Python show each other warning again.)"""
    global _QUIET
    if not _QUIET:
        warnings.filterwarnings("ignore", category=SavedIndexWarning)
        _QUIET = True


def run_bench(
    jobs: list[Job],
    store: ResultStore,
    config: dict[str, Any],
    *,
    n_jobs: int = 1,
    backend: str = "joblib",
    scheduler: str | None = None,
    attack_factory: Callable | None = None,
    progress: bool = True,
    run_id: int | None = None,
) -> int:
    """Run ``jobs``; every finished job's cells are written by this (driver) process.

    Parameters
    ----------
    jobs : list of Job
        The tasks, from :func:`plan_jobs`.
    store : ResultStore
        Where the cells go.
    config : dict
        The run's configuration, stored (and hashed) with every cell.
    n_jobs : int, default=1
        Parallel worker processes.
    backend : {"joblib", "dask"}, default="joblib"
        How the workers run; ``dask`` needs the optional ``dask`` extra.
    scheduler : str, optional
        The address of a Dask scheduler (``backend="dask"``); None starts a local cluster.
    attack_factory : callable, optional
        ``attack_factory(settings) -> attack_fn`` for robust measures (see
        :func:`run_job`).
    progress : bool, default=True
        Show a progress bar of the cells.
    run_id : int, optional
        The run segment: each job is claimed in the store just before it is dispatched
        (and released once its cells are stored), and jobs whose claim another driver
        holds are left to it.

    Returns
    -------
    int
        The number of cells written.

    Raises
    ------
    ValueError
        An unknown ``backend``.
    """

    def cells(job: Job) -> int:
        return len(job.methods) * len(measure_labels(job.settings))

    bar = tqdm(
        total=sum(map(cells, jobs)), desc="cells", unit="cell", disable=not progress,
        dynamic_ncols=True,
    )  # fmt: skip
    written = 0
    threads = max(1, (os.cpu_count() or 1) // max(1, n_jobs))
    # A plan has one job per (dataset, trial, alpha): how a job's records name it.
    by_cell = {(job.dataset, job.trial, job.alpha): job for job in jobs}

    def claimed() -> Iterator[Job]:
        for job in jobs:
            if run_id is None or store.claim(job_key(job), run_id, cells(job), job_keys(job)):
                yield job
            else:  # another driver runs it, or has finished it since this run planned
                bar.update(cells(job))

    try:
        for records in _results(claimed(), n_jobs, backend, scheduler, threads, attack_factory):
            written += store.add(records, config, run_id)
            bar.update(len(records))
            first = records[0] if records else None
            if run_id is not None and first is not None:
                job = by_cell.get((first["dataset"], int(first["trial"]), float(first["alpha"])))
                if job is not None:
                    store.release(job_key(job), run_id)
    finally:
        bar.close()
    return written


def _results(jobs: Iterable[Job], n_jobs, backend, scheduler, threads, attack_factory):
    if backend == "joblib":
        if n_jobs == 1:
            for job in jobs:
                yield _worker(job, threads, attack_factory)
            return
        from joblib import Parallel, delayed

        parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        yield from parallel(delayed(_worker)(job, threads, attack_factory, True) for job in jobs)
        return
    if backend == "dask":
        yield from _dask_results(list(jobs), n_jobs, scheduler, attack_factory)
        return
    raise ValueError(f"Unknown backend {backend!r}; expected 'joblib' or 'dask'")


def _dask_results(jobs, n_jobs, scheduler, attack_factory):
    if not jobs:
        return
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as exc:
        raise ImportError(
            "the dask backend needs the optional 'dask' extra: pip install 'genlabel[dask]'"
        ) from exc
    cluster = None
    if scheduler:
        try:
            client = Client(scheduler)
        except (OSError, ValueError, TypeError) as exc:  # refused, timed out, bad address
            raise SchedulerError(
                f"cannot reach the Dask scheduler at {scheduler} ({exc}); start one with "
                "'dask scheduler', or drop --scheduler to run a local cluster"
            ) from None
    else:
        cluster = LocalCluster(
            n_workers=n_jobs, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    try:
        # Workers only compute; the driver writes, so the store stays consistent.
        futures = client.map(
            _worker, jobs, threads=1, attack_factory=attack_factory, worker=True, pure=False
        )
        for future in as_completed(futures):
            yield future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
