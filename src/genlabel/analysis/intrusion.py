"""Manifold intrusion made measurable."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..data.toy import gaussian9_centers
from ..labels import LABEL_RULES, nearest_neighbor_indices
from ..training import GenLabelMixup

__all__ = ["region_classes", "intrusion_share", "mixed_top1"]


def region_classes(
    points: np.ndarray, X: np.ndarray, y: np.ndarray, *, toy: str | None = None
) -> np.ndarray:
    """The class of the region each point falls in.

    For ``toy="gaussian9"`` (equal isotropic Gaussians, equal priors) that is the Bayes
    class, the nearest grid center; otherwise the class of the nearest training point.

    Parameters
    ----------
    points : ndarray of shape (m, d)
    X : ndarray of shape (n, d)
        The training points.
    y : ndarray of shape (n,)
        Their classes.
    toy : str, optional
        The toy data set's name (only ``gaussian9`` changes anything).

    Returns
    -------
    ndarray of shape (m,)
    """
    points = np.asarray(points, dtype=np.float64)
    if toy == "gaussian9":
        centers = gaussian9_centers()
        return ((points[:, None, :] - centers[None]) ** 2).sum(-1).argmin(1)
    idx = nearest_neighbor_indices(
        torch.from_numpy(points), torch.as_tensor(X, dtype=torch.float64)
    )
    return np.asarray(y)[idx.numpy()]


# A keyword-only signature, alike in shape only to others of the package.
def mixed_top1(
    X: Any,
    y: Any,
    rule: str,
    *,
    n_mix: int = 4000,
    alpha: float = 1.0,
    density: str = "gm",
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mix random pairs (one lam per pair) and label them with ``rule``.

    Parameters
    ----------
    X : array-like of shape (n, d)
    y : array-like of shape (n,)
        Class indices 0..k-1.
    rule : str
        A label rule of :class:`~genlabel.training.GenLabelMixup`.
    n_mix : int, default=4000
        Mixed points to draw (pairs drawn with replacement).
    alpha : float, default=1.0
        Beta(alpha, alpha) of lam.
    density : str, default="gm"
        The class densities of the GenLabel rules (fitted on ``X``, ``y``).
    random_state : int, default=0
        Seeds the pairs and the mixer.

    Returns
    -------
    points : ndarray of shape (n_mix, d)
        The mixed points.
    top1 : ndarray of shape (n_mix,)
        The top-1 class of each label.
    weight : ndarray of shape (n_mix,)
        The keep weight (0 where ``exclude_intrusion`` drops the point).
    """
    X_t = torch.as_tensor(np.asarray(X), dtype=torch.float64)
    y_t = torch.as_tensor(np.asarray(y), dtype=torch.long)
    k = int(y_t.max()) + 1
    mixer = GenLabelMixup(
        k, rule=rule, density=density, alpha=alpha, per_sample=True, seed=random_state
    )
    if mixer.needs_fit:
        mixer.fit(X_t, y_t)
    g = torch.Generator().manual_seed(random_state)
    points, top1, weight = [], [], []
    done = 0
    while done < n_mix:
        idx = torch.randint(0, len(X_t), (min(len(X_t), n_mix - done),), generator=g)
        batch = mixer(X_t[idx], y_t[idx])
        points.append(batch.inputs)
        top1.append(batch.targets.argmax(1))
        weight.append(batch.weight)
        done += len(idx)
    return torch.cat(points).numpy(), torch.cat(top1).numpy(), torch.cat(weight).numpy()


def intrusion_share(
    X: Any,
    y: Any,
    rule: str,
    *,
    toy: str | None = None,
    n_mix: int = 4000,
    alpha: float = 1.0,
    density: str = "gm",
    random_state: int = 0,
) -> float:
    """Share of (kept) mixed points whose top-1 label disagrees with their region's class.

    Parameters
    ----------
    X : array-like, shape (n, d)
        The training points.
    y : array-like, shape (n,)
        Their class indices.
    rule : str
        One of :data:`genlabel.labels.LABEL_RULES`.
    toy : str, optional
        The toy set's name, to use its Bayes classes as regions (``gaussian9``); otherwise
        a point's region is its nearest training point's class.
    n_mix : int, default=4000
        Mixed points drawn.
    alpha : float, default=1.0
        lam ~ Beta(alpha, alpha).
    density : {"gm", "kde"}, default="gm"
        The density of the GenLabel rules.
    random_state : int, default=0
        The seed of the draws.

    Returns
    -------
    float
        The share, in [0, 1], over the points the rule keeps (0 if it keeps none).

    Raises
    ------
    ValueError
        An unknown rule.
    """
    if rule not in LABEL_RULES:
        raise ValueError(f"Unknown label rule {rule!r}; expected one of {', '.join(LABEL_RULES)}")
    points, top1, weight = mixed_top1(
        X, y, rule, n_mix=n_mix, alpha=alpha, density=density, random_state=random_state
    )
    regions = region_classes(points, np.asarray(X), np.asarray(y), toy=toy)
    kept = weight > 0
    if not kept.any():
        return 0.0
    return float((top1[kept] != regions[kept]).mean())
