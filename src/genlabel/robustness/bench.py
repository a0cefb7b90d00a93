"""Robust accuracy inside the benchmark runner (SPEC §9: eps is a fraction of the range)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from torch import nn

from .attacks import robust_accuracy

__all__ = ["attack_factory"]


def attack_factory(
    settings,
) -> Callable[[nn.Module, np.ndarray, np.ndarray, np.ndarray], dict[float, float]]:
    """For a run's settings: module, test data, training inputs -> {eps: robust accuracy}.

    The bounds are the training inputs' value range after preprocessing; each eps is a
    fraction of it. The attack sees the standardised inputs.
    """

    def attack(
        module: nn.Module, X_test: np.ndarray, y_test: np.ndarray, X_train: np.ndarray
    ) -> dict[float, float]:
        low, high = float(X_train.min()), float(X_train.max())
        X_in = np.clip(X_test, low, high)  # test points outside the training range are clipped in
        return {
            eps: robust_accuracy(
                module,
                X_in,
                y_test,
                attack=settings.attack,
                eps=eps * (high - low),
                bounds=(low, high),
            )
            for eps in settings.eps
        }

    return attack
