"""Theorem 1 experiment: mixup, GenLabel and adversarial losses of a linear model."""

from __future__ import annotations

import numpy as np
import torch

from ..density import GaussianClassDensity
from ..labels import genlabel_targets
from ..mixing import convex_mix

__all__ = ["theorem1_data", "theorem1_losses"]


def theorem1_data(n_per_class: int = 20, random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """x+ ~ N([+1, 0], I/100) (label 1) and x- ~ N([-1, 0], I/100) (label 0).

    Parameters
    ----------
    n_per_class : int, default=20
    random_state : int, default=0

    Returns
    -------
    X : ndarray of shape (2 n_per_class, 2)
        The positive points first.
    y : ndarray of shape (2 n_per_class,), int64

    Examples
    --------
    >>> X, y = theorem1_data(n_per_class=3)
    >>> X.shape, y.tolist()
    ((6, 2), [1, 1, 1, 0, 0, 0])
    """
    rng = np.random.default_rng(random_state)
    pos = rng.normal([1.0, 0.0], 0.1, size=(n_per_class, 2))
    neg = rng.normal([-1.0, 0.0], 0.1, size=(n_per_class, 2))
    X = np.vstack([pos, neg])
    y = np.r_[np.ones(n_per_class, dtype=np.int64), np.zeros(n_per_class, dtype=np.int64)]
    return X, y


def _soft_logistic_loss(margin_logit: np.ndarray, target: np.ndarray) -> np.ndarray:
    """CE of the target t (probability of class 1) against sigmoid(logit), stable."""
    # -t log s(z) - (1 - t) log(1 - s(z)) = t softplus(-z) + (1 - t) softplus(z)
    return target * np.logaddexp(0.0, -margin_logit) + (1 - target) * np.logaddexp(
        0.0, margin_logit
    )


def theorem1_losses(
    phi: np.ndarray,
    *,
    n_per_class: int = 20,
    random_state: int = 0,
    n_lambda: int = 200,
    eps: float | None = None,
) -> dict[str, np.ndarray]:
    """Expected losses of theta = 10 (cos phi, sin phi) (no bias), one value per angle.

    ``mixup``: E over lam ~ Beta(1, 1) (midpoint quadrature with ``n_lambda`` nodes) and all
    ordered pairs (i, j) of CE(y_mix, f(x_mix)). ``genlabel``: the same with y_gen from a GM
    density fitted on the data. ``adversarial``: mean over points of the worst-case loss in an
    L2 ball of radius ``eps``; for a linear model the margin drops by eps * ||theta||.
    The default eps is the matching perturbation of mixup: the expected distance from a
    cross-class mixed point to its nearer source, E[min(lam, 1 - lam)] * ||mu+ - mu-|| = 0.5.

    Parameters
    ----------
    phi : numpy.ndarray
        The angles of theta, in radians.
    n_per_class : int, default=20
        Training points per class (N(+-[1, 0], I/100)).
    random_state : int, default=0
        The seed of the data.
    n_lambda : int, default=200
        Quadrature nodes over lam.
    eps : float, optional
        The adversarial radius; 0.5 by default (see above).

    Returns
    -------
    dict of numpy.ndarray
        ``mixup``, ``genlabel`` and ``adversarial``, one value per angle.
    """
    phi = np.atleast_1d(np.asarray(phi, dtype=np.float64))
    X, y = theorem1_data(n_per_class, random_state)
    eps = 0.25 * 2.0 if eps is None else float(eps)
    lam = (np.arange(n_lambda) + 0.5) / n_lambda  # Beta(1, 1) = uniform
    grid_i, grid_j = np.meshgrid(np.arange(len(X)), np.arange(len(X)), indexing="ij")
    i, j = grid_i.ravel(), grid_j.ravel()
    lam_t = torch.from_numpy(lam)
    x_mix = convex_mix(torch.from_numpy(X[i][None]), torch.from_numpy(X[j][None]), lam_t).numpy()
    y_i, y_j = (torch.from_numpy(y[idx][None].astype(np.float64)) for idx in (i, j))
    y_mix = convex_mix(y_i, y_j, lam_t).numpy()  # (L, P): P(class 1)
    dens = GaussianClassDensity().fit(X, y)
    flat = torch.from_numpy(x_mix.reshape(-1, 2))
    y_gen = genlabel_targets(dens.log_prob(flat))[:, 1].numpy().reshape(y_mix.shape)
    theta = 10.0 * np.stack([np.cos(phi), np.sin(phi)], 1)  # (A, 2)
    out: dict[str, list[float]] = {"mixup": [], "genlabel": [], "adversarial": []}
    sign = 2 * y - 1
    for t in theta:
        logits = x_mix @ t
        out["mixup"].append(float(_soft_logistic_loss(logits, y_mix).mean()))
        out["genlabel"].append(float(_soft_logistic_loss(logits, y_gen).mean()))
        worst = sign * (X @ t) - eps * np.linalg.norm(t)
        out["adversarial"].append(float(np.logaddexp(0.0, -worst).mean()))
    return {key: np.asarray(val) for key, val in out.items()} | {"phi": phi}
