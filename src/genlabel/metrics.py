"""Evaluation metrics shared by the tabular and image benchmarks."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["expected_calibration_error", "negative_log_likelihood", "reliability_bins"]


def _check(proba: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    proba, y = np.asarray(proba, dtype=np.float64), np.asarray(y)
    if proba.ndim != 2 or y.shape != (proba.shape[0],):
        raise ValueError(f"proba must be (n, k) and y (n,); got {proba.shape} and {y.shape}")
    if proba.shape[0] == 0:
        raise ValueError("proba must hold at least one row")
    if not np.isfinite(proba).all():
        raise ValueError("proba contains NaN or infinite values")
    return proba, y.astype(np.int64)


def reliability_bins(proba: Any, y: Any, n_bins: int = 15) -> dict[str, np.ndarray]:
    """Per equal-width confidence bin over [0, 1]: count, mean confidence, accuracy.

    The confidence of a point is its largest class probability; a point with confidence c
    falls in bin min(floor(c * n_bins), n_bins - 1). Empty bins have count 0 (and NaN means).

    Parameters
    ----------
    proba : array-like, shape (n, k)
        Predicted class probabilities (finite).
    y : array-like, shape (n,)
        The true class indices.
    n_bins : int, default=15
        Equal-width bins over [0, 1].

    Returns
    -------
    dict of numpy.ndarray
        ``count``, ``confidence`` and ``accuracy``, one value per bin.

    Raises
    ------
    ValueError
        Shapes that do not match, no rows, or NaN / inf probabilities.
    """
    proba, y = _check(proba, y)
    confidence = proba.max(1)
    correct = (proba.argmax(1) == y).astype(np.float64)
    index = np.minimum((confidence * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(index, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(index, confidence, minlength=n_bins) / count
        acc = np.bincount(index, correct, minlength=n_bins) / count
    return {"count": count, "confidence": conf, "accuracy": acc}


# The Parameters and Raises text restates reliability_bins': each public metric documents
# its own arguments (numpydoc), and they take the same ones.
def expected_calibration_error(proba: Any, y: Any, n_bins: int = 15) -> float:
    """ECE = sum over bins of (bin count / n) * |accuracy - mean confidence|, equal-width bins.

    Parameters
    ----------
    proba : array-like, shape (n, k)
        Predicted class probabilities (finite).
    y : array-like, shape (n,)
        The true class indices.
    n_bins : int, default=15
        Equal-width bins over [0, 1].

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    ValueError
        Shapes that do not match, no rows, or NaN / inf probabilities.

    Examples
    --------
    >>> from genlabel.metrics import expected_calibration_error
    >>> round(expected_calibration_error([[0.9, 0.1], [0.2, 0.8]], [0, 1]), 4)
    0.15
    """
    bins = reliability_bins(proba, y, n_bins)
    used = bins["count"] > 0
    weights = bins["count"][used] / bins["count"].sum()
    return float((weights * np.abs(bins["accuracy"][used] - bins["confidence"][used])).sum())


# The Parameters and Raises text restates reliability_bins': each public metric documents
# its own arguments (numpydoc), and they take the same ones.
def negative_log_likelihood(proba: Any, y: Any) -> float:
    """Mean of -log p(y | x) over the points (probabilities clipped at 1e-12).

    Parameters
    ----------
    proba : array-like, shape (n, k)
        Predicted class probabilities (finite).
    y : array-like, shape (n,)
        The true class indices.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Shapes that do not match, no rows, or NaN / inf probabilities.
    """
    proba, y = _check(proba, y)
    return float(-np.log(np.clip(proba[np.arange(len(y)), y], 1e-12, None)).mean())
