"""Model selection by K-fold CV over a grid, trained as one batched stack (SPEC §9)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import KFold, StratifiedKFold

from ..models import StackedMLP
from .grid import TrainSettings, train_grid
from .methods import Config

__all__ = ["REFIT_STREAM", "param_grid", "cv_splits", "select_hyperparameters", "fit_configuration"]

#: The random stream of a refit on the whole training set (distinct from the CV folds').
REFIT_STREAM = 1000


def param_grid(
    method: str,
    *,
    lr_grid: tuple[float, ...],
    gamma_grid: tuple[float, ...] = (1.0,),
    density_grid: tuple[str, ...] = ("gm",),
) -> list[dict[str, Any]]:
    """The grid a method searches: lr for every method; gamma (and density) for GenLabel."""
    if method == "genlabel":
        return [
            {"lr": lr, "gamma": g, "density": d}
            for d, lr, g in itertools.product(density_grid, lr_grid, gamma_grid)
        ]
    return [{"lr": lr} for lr in lr_grid]


def cv_splits(y: np.ndarray, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified K-fold (shuffled, seeded); fewer folds when the smallest class is tiny."""
    counts = np.bincount(y)
    smallest = int(counts[counts > 0].min())
    if smallest >= 2:
        splitter = StratifiedKFold(
            n_splits=min(n_splits, smallest), shuffle=True, random_state=seed
        )
    else:
        splitter = KFold(n_splits=min(n_splits, len(y)), shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y))


def select_hyperparameters(
    X: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    settings: TrainSettings,
    grid: list[dict[str, Any]],
    *,
    cv: int = 5,
    refit: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]] | tuple[dict[str, Any], dict[str, Any], StackedMLP]:
    """Train every (fold, grid point) as one stack; pick the best mean validation accuracy.

    Returns the best parameters and ``cv_results`` shaped like ``GridSearchCV.cv_results_``
    (``params``, ``mean_test_score``, ``std_test_score``, ``split<i>_test_score``,
    ``rank_test_score``). Ties go to the earliest grid point.

    With ``refit=True`` the refits of *every* grid point on all of X train in the same stack
    (on :data:`REFIT_STREAM`, so each equals :func:`fit_configuration`), which costs almost
    no extra time; the stack holding the best one is returned third (index 0).
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
    stack = train_grid(X, y, num_classes, folds, configs, settings, streams=streams)
    scores = np.zeros((len(splits), len(grid)))
    preds = stack.predict_logits(X.to(settings.device)).argmax(-1).cpu()  # (G, n)
    y_np = y.cpu().numpy()
    for g, c in enumerate(configs[: len(splits) * len(grid)]):
        val = splits[c.fold][1]
        scores[c.fold, g % len(grid)] = float((preds[g, val].numpy() == y_np[val]).mean())
    mean, std = scores.mean(0), scores.std(0)
    best = int(np.argmax(mean))
    order = np.argsort(-mean, kind="stable")
    rank = np.empty(len(grid), dtype=np.int64)
    rank[order] = np.arange(1, len(grid) + 1)
    results: dict[str, Any] = {
        "params": grid,
        "mean_test_score": mean,
        "std_test_score": std,
        "rank_test_score": rank,
    }
    for f in range(len(splits)):
        results[f"split{f}_test_score"] = scores[f]
    for key in grid[0]:
        results[f"param_{key}"] = np.array([p[key] for p in grid], dtype=object)
    if refit:
        return dict(grid[best]), results, stack.select(len(splits) * len(grid) + best)
    return dict(grid[best]), results


def fit_configuration(
    X: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    settings: TrainSettings,
    params: dict[str, Any],
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
        replace(settings),
        streams=[REFIT_STREAM],
    )
