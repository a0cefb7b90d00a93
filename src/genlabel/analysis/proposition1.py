"""Proposition 1: GenLabel on two 1-D Gaussians is logistic labeling."""

from __future__ import annotations

import numpy as np
import torch

from ..density import GaussianClassDensity
from ..labels import genlabel_targets

__all__ = ["proposition1_labels"]


def proposition1_labels(lam: np.ndarray, sigma2: float) -> dict[str, np.ndarray]:
    """Labels of class 1 for x = lam under (x|0) ~ N(0, s2), (x|1) ~ N(1, s2).

    Returns ``mixup`` (lam), ``logistic`` (the closed form 1/(1 + exp(-(lam - 1/2)/s2)))
    and ``genlabel`` (computed: a GM density fitted on points whose ML mean and variance
    are exactly 0, 1 and s2, then softmax of the log-densities).

    Parameters
    ----------
    lam : numpy.ndarray
        The points x = lam on the segment between the two class means.
    sigma2 : float
        The classes' variance, > 0.

    Returns
    -------
    dict of numpy.ndarray
        ``mixup``, ``logistic`` and ``genlabel``, each of lam's shape.

    Raises
    ------
    ValueError
        ``sigma2 <= 0``.
    """
    lam = np.asarray(lam, dtype=np.float64)
    if not sigma2 > 0:
        raise ValueError(f"sigma2 must be > 0; got {sigma2!r}")
    s = np.sqrt(sigma2)
    X = np.array([[-s], [s], [1 - s], [1 + s]])
    dens = GaussianClassDensity(reg=0.0).fit(X, [0, 0, 1, 1])
    gen = genlabel_targets(dens.log_prob(torch.from_numpy(lam[:, None])))[:, 1].numpy()
    return {
        "mixup": lam.copy(),
        "logistic": 1.0 / (1.0 + np.exp(-(lam - 0.5) / sigma2)),
        "genlabel": gen,
    }
