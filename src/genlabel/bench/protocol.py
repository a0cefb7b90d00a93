"""The reference tabular protocol: one job = one data set x trial x model x alpha.

A job computes the cells of several methods at once where they share work: with the
logistic model, ``mixup`` (= GenLabel with gamma = 0, exactly), ``genlabel_gm``,
``genlabel_kde`` and ``genlabel_cv`` are points of one batched grid; each cell is still
selected by its own CV over its own grid.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from ..data import Dataset, load_dataset, make_preprocessor
from ..estimators import GenerativeClassifier
from ..registry import METHODS, SUITES, resolve_method
from ..training.grid import TrainSettings
from ..training.methods import DEFAULT_GAMMA_GRID, DEFAULT_LR_GRID
from ..training.selection import GridSearchResult, grid_search, param_grid

__all__ = [
    "BENCH_METHODS",
    "PAPER_METHODS",
    "BenchSettings",
    "Job",
    "measure_label",
    "measure_labels",
    "run_job",
    "split_and_preprocess",
]

#: Methods the runner knows: every tabular method of the registry.
BENCH_METHODS = SUITES["quick"].methods
#: The methods of the reference tables.
PAPER_METHODS = SUITES["paper-logistic"].methods
#: The density kinds of each GenLabel method the runner trains in one grid.
GENLABEL_DENSITY = {m: METHODS[m].densities for m in BENCH_METHODS if METHODS[m].is_genlabel}


@dataclass(frozen=True)
class BenchSettings:
    """Everything that defines a cell's result besides (dataset, method, model, trial, alpha)."""

    epochs: int = 100
    batch_size: int = 128
    weight_decay: float = 1e-4
    warmup_epochs: int = 20
    cv: int = 5
    test_size: float = 0.3
    fixed_split: bool = False
    lr_grid: tuple[float, ...] = DEFAULT_LR_GRID
    gamma_grid: tuple[float, ...] = DEFAULT_GAMMA_GRID
    data_dir: str | None = None
    online: bool = False
    measure: str = "clean"  # or "robust"
    attack: str = "fgsm"
    eps: tuple[float, ...] = (0.1,)

    def fingerprint(self) -> dict[str, Any]:
        """The settings that change results (not where the data live)."""
        out = asdict(self)
        drop = ("data_dir", "online") + (("attack", "eps") if self.measure == "clean" else ())
        for key in drop:
            out.pop(key)
        return out


@dataclass(frozen=True)
class Job:
    dataset: str
    trial: int
    model: str
    alpha: float
    methods: tuple[str, ...]
    settings: BenchSettings = field(default_factory=BenchSettings)


@functools.lru_cache(maxsize=8)
def _cached_dataset(dataset: str, data_dir: str | None, online: bool) -> Dataset:
    return load_dataset(dataset, data_dir, online=online)


def measure_label(settings: BenchSettings, eps: float | None = None) -> str:
    """The store's ``measure`` of a cell: ``clean`` or ``robust-<attack>-eps<eps>``."""
    if settings.measure == "clean":
        return "clean"
    return f"robust-{settings.attack}-eps{eps:g}"


def measure_labels(settings: BenchSettings) -> list[str]:
    if settings.measure == "clean":
        return ["clean"]
    return [measure_label(settings, e) for e in settings.eps]


def split_and_preprocess(data: Dataset, trial: int, settings: BenchSettings):
    """70/30 stratified split (seed = trial, or 0 with fixed_split), preprocessing fitted on train."""
    split_seed = 0 if settings.fixed_split else trial
    idx = np.arange(len(data.y))
    counts = np.bincount(data.y)
    stratify = data.y if counts[counts > 0].min() >= 2 else None
    train, test = train_test_split(
        idx, test_size=settings.test_size, stratify=stratify, random_state=split_seed
    )
    pre = make_preprocessor(data.X).fit(data.X.iloc[train])
    X_train = pre.transform(data.X.iloc[train]).astype(np.float32)
    X_test = pre.transform(data.X.iloc[test]).astype(np.float32)
    return X_train, data.y[train], X_test, data.y[test]


def _train_settings(method: str, model: str, job: Job) -> TrainSettings:
    s = job.settings
    return TrainSettings(
        model=model,
        method=method,
        alpha=job.alpha,
        epochs=s.epochs,
        batch_size=s.batch_size,
        weight_decay=s.weight_decay,
        warmup_epochs=min(s.warmup_epochs, s.epochs),
        seed=job.trial,
    )


def _accuracy(stack, X: torch.Tensor, y: np.ndarray) -> float:
    return float((stack.predict_logits(X).argmax(-1)[0].numpy() == y).mean())


def run_job(job: Job, *, attack_fn=None) -> list[dict[str, Any]]:
    """Compute the cells of ``job``; returns one record per method.

    ``attack_fn(module, X_test, y_test, X_train) -> float`` (robust accuracy) is called on
    every fitted model when the settings ask for ``measure="robust"``.
    """
    data = _cached_dataset(job.dataset, job.settings.data_dir, job.settings.online)
    X_train, y_train, X_test, y_test = split_and_preprocess(data, job.trial, job.settings)
    k = data.n_classes
    Xtr, ytr = torch.from_numpy(X_train), torch.from_numpy(y_train)
    Xte = torch.from_numpy(X_test)
    records: list[dict[str, Any]] = []
    pending = list(job.methods)

    def emit(method: str, accuracy: float, params: dict, seconds: float, module=None) -> None:
        base = {
            "dataset": job.dataset,
            "method": method,
            "model": job.model,
            "trial": job.trial,
            "alpha": job.alpha,
            "test_accuracy": accuracy,
            "params": json.dumps(params, sort_keys=True),
            "seconds": seconds,
        }
        if job.settings.measure == "robust":
            if attack_fn is None:
                raise ValueError("measure='robust' needs an attack function")
            for eps, robust in attack_fn(module, X_test, y_test, X_train).items():
                records.append(
                    base | {"measure": measure_label(job.settings, eps), "robust_accuracy": robust}
                )
        else:
            records.append(base | {"measure": "clean", "robust_accuracy": None})

    if "generative_gm" in pending:
        pending.remove("generative_gm")
        start = time.perf_counter()
        clf = GenerativeClassifier().fit(X_train.astype(np.float64), y_train)
        acc = float((clf.predict(X_test.astype(np.float64)) == y_test).mean())
        emit("generative_gm", acc, {}, time.perf_counter() - start, clf.to_module())

    # The GenLabel family: one grid over lr x gamma x the densities asked for.
    family = [
        m for m in pending if m in GENLABEL_DENSITY or (m == "mixup" and job.model == "logistic")
    ]
    if any(m in GENLABEL_DENSITY for m in family):
        densities = tuple(sorted({d for m in family for d in GENLABEL_DENSITY.get(m, ())}))
        gammas = tuple(job.settings.gamma_grid)
        if "mixup" in family and 0.0 not in gammas:
            gammas = (0.0,) + gammas
        grid = param_grid(
            "genlabel", lr_grid=job.settings.lr_grid, gamma_grid=gammas, density_grid=densities
        )
        start = time.perf_counter()
        result = grid_search(
            Xtr, ytr, k, _train_settings("genlabel", job.model, job), grid, cv=job.settings.cv
        )
        share = (time.perf_counter() - start) / len(family)
        for method in family:
            if method == "mixup":
                cand = [
                    p
                    for p, g in enumerate(grid)
                    if g["gamma"] == 0.0 and g["density"] == densities[0]
                ]
            else:
                cand = [
                    p
                    for p, g in enumerate(grid)
                    if g["density"] in GENLABEL_DENSITY[method]
                    and g["gamma"] in job.settings.gamma_grid
                ]
            drop = ("gamma", "density") if method == "mixup" else ()
            accuracy, params, module = _refit_result(result, cand, Xte, y_test, drop=drop)
            emit(method, accuracy, params, share, module)
            pending.remove(method)
    for method in pending:
        if job.model not in resolve_method(method).models:
            continue
        start = time.perf_counter()
        result = grid_search(
            Xtr,
            ytr,
            k,
            _train_settings(method, job.model, job),
            param_grid(method, lr_grid=job.settings.lr_grid),
            cv=job.settings.cv,
        )
        accuracy, params, module = _refit_result(result, None, Xte, y_test)
        emit(method, accuracy, params, time.perf_counter() - start, module)
    return records


def _refit_result(result: GridSearchResult, candidates, X_test, y_test, drop=()):
    best = result.best(candidates)
    stack = result.refit(best)
    params = {key: val for key, val in result.grid[best].items() if key not in drop}
    module = stack.to_module(0).double().eval()
    return _accuracy(stack, X_test, y_test), params, module
