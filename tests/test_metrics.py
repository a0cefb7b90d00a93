"""Calibration metrics against slow, obviously correct references."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss

from genlabel.metrics import expected_calibration_error, negative_log_likelihood, reliability_bins


def _slow_ece(proba: np.ndarray, y: np.ndarray, n_bins: int) -> float:
    total = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        members = [
            i for i in range(len(y))
            if lo <= proba[i].max() < hi or (b == n_bins - 1 and proba[i].max() == 1.0)
        ]  # fmt: skip
        if members:
            conf = np.mean([proba[i].max() for i in members])
            acc = np.mean([proba[i].argmax() == y[i] for i in members])
            total += len(members) / len(y) * abs(acc - conf)
    return total


@pytest.mark.parametrize("seed", range(4))
def test_ece_and_nll_match_references(seed) -> None:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(300, 4)) * (seed + 1)
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = rng.integers(0, 4, 300)
    assert expected_calibration_error(proba, y) == pytest.approx(_slow_ece(proba, y, 15))
    assert negative_log_likelihood(proba, y) == pytest.approx(log_loss(y, proba, labels=range(4)))
    bins = reliability_bins(proba, y)
    assert bins["count"].sum() == 300 and len(bins["count"]) == 15


def test_a_perfectly_calibrated_confident_model_has_zero_ece() -> None:
    proba = np.eye(3)[[0, 1, 2, 1]]
    assert expected_calibration_error(proba, np.array([0, 1, 2, 1])) == 0.0
    assert expected_calibration_error(proba, np.array([1, 1, 2, 1])) == pytest.approx(0.25)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match=r"proba must be \(n, k\)"):
        expected_calibration_error(np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        negative_log_likelihood(np.full((2, 2), np.nan), np.zeros(2))
