"""Model selection by K-fold CV over a grid, trained as one batched stack."""

from __future__ import annotations

import itertools
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import KFold, StratifiedKFold, check_cv

from .._validation import is_real, parameter_error
from ..models import StackedMLP
from ..registry import resolve_method
from .grid import TrainSettings, train_grid
from .grids import Config

__all__ = [
    "REFIT_STREAM",
    "GridSearchResult",
    "check_grid",
    "cv_splits",
    "fit_configuration",
    "grid_search",
    "param_grid",
    "select_hyperparameters",
]

#: The random stream of a refit on the whole training set (distinct from the CV folds').
REFIT_STREAM = 1000


def check_grid(
    owner: str,
    *,
    lr_grid: Any = (0.1,),
    gamma_grid: Any = (1.0,),
    density_grid: Any = ("gm",),
) -> None:
    """A ValueError naming the grid that is empty or holds a value no model can train with:
    learning rates must be finite and > 0, gammas in [0, 1], densities 'gm' or 'kde'."""
    checks = [
        ("lr_grid", lr_grid, "finite numbers > 0", lambda v: math.isfinite(v) and v > 0),
        ("gamma_grid", gamma_grid, "numbers in [0, 1]", lambda v: 0 <= v <= 1),
        ("density_grid", density_grid, "'gm' or 'kde' each", lambda v: v in ("gm", "kde")),
    ]
    for name, values, expected, valid in checks:
        numeric = name != "density_grid"
        try:
            items = list(values)
            ok = bool(items) and all(
                (is_real(v) and valid(float(v))) if numeric else (isinstance(v, str) and valid(v))
                for v in items
            )
        except TypeError:
            ok = False
        if not ok:
            raise parameter_error(owner, name, f"a non-empty sequence of {expected}", values)


def param_grid(
    method: str,
    *,
    lr_grid: tuple[float, ...],
    gamma_grid: tuple[float, ...] = (1.0,),
    density_grid: tuple[str, ...] = ("gm",),
) -> list[dict[str, Any]]:
    """The grid a method searches: lr for every method; gamma (and density) for GenLabel."""
    if resolve_method(method).is_genlabel:
        return [
            {"lr": lr, "gamma": g, "density": d}
            for d, lr, g in itertools.product(density_grid, lr_grid, gamma_grid)
        ]
    return [{"lr": lr} for lr in lr_grid]


def cv_splits(y: np.ndarray, cv: Any, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (train, validation) row indices of model selection.

    ``cv``: an int (or None, meaning 5) is stratified K-fold, shuffled with ``seed``, with
    fewer folds when the smallest class is tiny; otherwise what ``GridSearchCV`` takes: a
    scikit-learn splitter (``split(X, y)``) or an iterable of (train, test) index arrays.
    """
    if cv is None or isinstance(cv, numbers.Integral):
        n_splits = 5 if cv is None else int(cv)
        counts = np.bincount(y)
        smallest = int(counts[counts > 0].min())
        if smallest >= 2:
            splitter = StratifiedKFold(
                n_splits=min(n_splits, smallest), shuffle=True, random_state=seed
            )
        else:
            splitter = KFold(n_splits=min(n_splits, len(y)), shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(len(y)), y))
    splits = list(check_cv(cv, y, classifier=True).split(np.zeros(len(y)), y))
    if not splits:
        raise ValueError("cv gave no splits")
    return [(_rows(train, len(y), "train"), _rows(test, len(y), "test")) for train, test in splits]


def _rows(index: Any, n: int, part: str) -> np.ndarray:
    """A split's part as row indices (a boolean mask is turned into them), checked."""
    rows = np.asarray(index)
    if rows.dtype == bool:
        if rows.shape != (n,):
            raise ValueError(f"cv: a boolean {part} mask must have {n} entries; got {rows.shape}")
        rows = np.flatnonzero(rows)
    if rows.ndim != 1 or len(rows) == 0 or not np.issubdtype(rows.dtype, np.integer):
        raise ValueError(f"cv: each {part} part must be a non-empty 1-d array of row indices")
    if rows.min() < -n or rows.max() >= n:
        raise ValueError(f"cv: a {part} index is out of range for {n} rows")
    return rows % n  # negative indices count from the end, as in numpy


@dataclass
class GridSearchResult:
    """Validation scores of every grid point on every fold, and the stack that made them.

    ``scores[f, p]`` is the accuracy of grid point p on fold f's validation rows. With
    refits, model ``refit_offset + p`` of ``stack`` is grid point p refitted on all rows.
    """

    grid: list[dict[str, Any]]
    scores: np.ndarray
    stack: StackedMLP
    refit_offset: int | None
    configs: list[Config] = field(default_factory=list)  # model g of the stack: configs[g]

    def as_phi(self) -> tuple[StackedMLP, dict[tuple[int, float], int]]:
        """This (vanilla) search's models as the feature models of a two-model GenLabel grid
        on the same folds: the stack and the model index of every (fold, lr)."""
        return self.stack, {(c.fold, c.lr): g for g, c in enumerate(self.configs)}

    def best(self, candidates: list[int] | None = None) -> int:
        """Index of the best mean validation accuracy among ``candidates`` (earliest on ties)."""
        candidates = list(range(len(self.grid))) if candidates is None else candidates
        means = self.scores.mean(0)
        return max(candidates, key=lambda p: (means[p], -candidates.index(p)))

    def refit(self, p: int) -> StackedMLP:
        if self.refit_offset is None:
            raise ValueError("this grid search ran without refits")
        return self.stack.select(self.refit_offset + p)

    def cv_results(self) -> dict[str, Any]:
        """Shaped like ``GridSearchCV.cv_results_``."""
        mean, std = self.scores.mean(0), self.scores.std(0)
        order = np.argsort(-mean, kind="stable")
        rank = np.empty(len(self.grid), dtype=np.int64)
        rank[order] = np.arange(1, len(self.grid) + 1)
        results: dict[str, Any] = {
            "params": self.grid,
            "mean_test_score": mean,
            "std_test_score": std,
            "rank_test_score": rank,
        }
        for f in range(self.scores.shape[0]):
            results[f"split{f}_test_score"] = self.scores[f]
        for key in self.grid[0]:
            results[f"param_{key}"] = np.array([p[key] for p in self.grid], dtype=object)
        return results


def grid_search(
    X: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    settings: TrainSettings,
    grid: list[dict[str, Any]],
    *,
    cv: Any = 5,
    refit: bool = True,
    sample_weight: torch.Tensor | None = None,
    phi: GridSearchResult | None = None,
) -> GridSearchResult:
    """Train every (fold, grid point) — and, with ``refit``, every grid point on all rows
    (on :data:`REFIT_STREAM`, each equal to :func:`fit_configuration`) — as one stack.

    ``phi``: a vanilla search with the same settings and refit (for two-model GenLabel with
    the MLP, whose feature models are exactly those vanilla models: trained once, shared).
    """
    splits = cv_splits(y.cpu().numpy(), cv, settings.seed)
    folds = [torch.as_tensor(train) for train, _ in splits]
    streams = list(range(len(splits)))
    if refit:
        folds.append(torch.arange(len(y)))
        streams.append(REFIT_STREAM)
    configs = [
        Config(fold=f, lr=p["lr"], gamma=p.get("gamma", 1.0), density=p.get("density", "gm"))
        for f in range(len(folds))
        for p in grid
    ]
    stack = train_grid(
        X, y, num_classes, folds, configs, settings, streams=streams,
        sample_weight=sample_weight, phi=None if phi is None else phi.as_phi(),
    )  # fmt: skip
    n_cv = len(splits) * len(grid)
    scores = np.zeros((len(splits), len(grid)))
    cv_stack = stack.select_range(0, n_cv)
    preds = cv_stack.predict_logits(X.to(settings.device)).argmax(-1).cpu().numpy()  # (n_cv, n)
    y_np = y.cpu().numpy()
    for g, c in enumerate(configs[:n_cv]):
        val = splits[c.fold][1]
        scores[c.fold, g % len(grid)] = float((preds[g, val] == y_np[val]).mean())
    return GridSearchResult(grid, scores, stack, n_cv if refit else None, configs)


# The signature restates grid_search's, which it runs (a public entry point of its own).
def select_hyperparameters(
    X: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    settings: TrainSettings,
    grid: list[dict[str, Any]],
    *,
    cv: Any = 5,
    refit: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]] | tuple[dict[str, Any], dict[str, Any], StackedMLP]:
    """Pick the grid point with the best mean validation accuracy (earliest on ties).

    Returns the best parameters and ``cv_results`` (as ``GridSearchCV.cv_results_``); with
    ``refit=True`` also a stack of one holding that point refitted on all of X, trained in
    the same batched run as the CV models at almost no extra cost.
    """
    result = grid_search(X, y, num_classes, settings, grid, cv=cv, refit=refit)
    best = result.best()
    if refit:
        return dict(grid[best]), result.cv_results(), result.refit(best)
    return dict(grid[best]), result.cv_results()


def fit_configuration(
    X: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    settings: TrainSettings,
    params: dict[str, Any],
    *,
    sample_weight: torch.Tensor | None = None,
) -> StackedMLP:
    """Train one configuration on all of X (a stack of one, on :data:`REFIT_STREAM`)."""
    config = Config(
        fold=0, lr=params["lr"], gamma=params.get("gamma", 1.0), density=params.get("density", "gm")
    )
    return train_grid(
        X,
        y,
        num_classes,
        [torch.arange(len(y))],
        [config],
        settings,
        streams=[REFIT_STREAM],
        sample_weight=sample_weight,
    )
