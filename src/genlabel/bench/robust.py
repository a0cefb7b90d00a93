"""Robust accuracy inside the benchmark runner: eps is a fraction of each feature's range."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from torch import nn

from ..robustness import robust_accuracy
from .protocol import attack_names

__all__ = ["attack_factory"]


def attack_factory(
    settings,
) -> Callable[[nn.Module, np.ndarray, np.ndarray, np.ndarray], dict[tuple[str, float], float]]:
    """For a run's settings: module, test data, training inputs -> {(attack, eps): robust
    accuracy}, for every attack the settings name and every eps.

    The bounds are each feature's value range in the training inputs after preprocessing
    and eps is that fraction of every feature's range. (One global range is dominated by
    the rarest one-hot columns, which standardisation stretches to tens of standard
    deviations.) The attack sees the standardised inputs; test points outside the training
    range are clipped into it.
    """

    def attack(
        module: nn.Module, X_test: np.ndarray, y_test: np.ndarray, X_train: np.ndarray
    ) -> dict[tuple[str, float], float]:
        low, high = X_train.min(0), X_train.max(0)
        X_in = np.clip(X_test, low, high)
        return {
            (name, eps): robust_accuracy(
                module,
                X_in,
                y_test,
                attack=name,
                eps=eps * (high - low),
                bounds=(low, high),
            )
            for name in attack_names(settings)
            for eps in settings.eps
        }

    return attack
