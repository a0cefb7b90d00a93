"""Label rules for mixed points.

Every function is batched over points (no Python loop over samples) and returns rows
that are finite, non-negative and sum to one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..density.targets import genlabel_targets  # re-exported: its home is density/
from ..mixing.params import convex_mix

__all__ = [
    "linear_labels",
    "logistic_labels",
    "logistic_ratio",
    "nearest_neighbor_labels",
    "nearest_neighbor_indices",
    "first_argmin",
    "intrusion_keep_mask",
    "genlabel_targets",
]

_NN_CHUNK_ELEMENTS = 1 << 22


def _lam_column(lam: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    if not like.is_floating_point():  # an integer mix would round lam to 0 or 1
        raise ValueError(
            f"targets must be floating point (e.g. one-hot .float()); got {like.dtype}"
        )
    lam_f = torch.as_tensor(lam, dtype=torch.float64)
    if not bool(((lam_f >= 0) & (lam_f <= 1)).all()):  # NaN fails too
        raise ValueError(f"lam must be in [0, 1]; got {lam!r}")
    lam_t = torch.as_tensor(lam, dtype=like.dtype, device=like.device)
    if lam_t.ndim == 0:
        return lam_t
    if lam_t.shape != like.shape[:1]:
        raise ValueError(
            f"lam must be a scalar or of shape ({like.shape[0]},); got {tuple(lam_t.shape)}"
        )
    return lam_t.unsqueeze(-1)


def linear_labels(
    targets_a: torch.Tensor, targets_b: torch.Tensor, lam: torch.Tensor | float
) -> torch.Tensor:
    """Mixup's label lam * y_a + (1 - lam) * y_b; lam a scalar or of shape (n,).

    Parameters
    ----------
    targets_a, targets_b : torch.Tensor, shape (n, k)
        The soft or one-hot labels of the two points of each pair (floating point).
    lam : float or torch.Tensor of shape (n,)
        The mixing weight of ``targets_a``, in [0, 1].

    Returns
    -------
    torch.Tensor, shape (n, k)

    Raises
    ------
    ValueError
        Integer targets, a lam outside [0, 1] (or NaN), or a lam of another length.

    Examples
    --------
    >>> import torch
    >>> from genlabel import linear_labels
    >>> linear_labels(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]]), 0.75)
    tensor([[0.7500, 0.2500]])
    """
    return convex_mix(targets_a, targets_b, _lam_column(lam, targets_a))


def logistic_ratio(lam: torch.Tensor | float, sigma2: float = 0.1) -> torch.Tensor:
    """rho = 1 / (1 + exp(-2 (lam - 1/2) / sigma^2)).

    Parameters
    ----------
    lam : float or Tensor
        The mix ratio(s); integers are taken as float64.
    sigma2 : float, default=0.1
        The temperature sigma^2, > 0.

    Returns
    -------
    Tensor
        rho, of ``lam``'s shape.

    Raises
    ------
    ValueError
        ``sigma2`` is not > 0.

    Examples
    --------
    >>> float(logistic_ratio(0.5))
    0.5
    """
    if not sigma2 > 0:
        raise ValueError(f"sigma2 must be a float in the range (0.0, inf); got {sigma2!r}")
    lam_t = torch.as_tensor(lam)
    if not lam_t.is_floating_point():
        lam_t = lam_t.double()
    return torch.sigmoid(2.0 * (lam_t - 0.5) / sigma2)


# Parameters, Returns and Raises restate linear_labels': both public rules take a pair's labels
# and lam.
def logistic_labels(
    targets_a: torch.Tensor,
    targets_b: torch.Tensor,
    lam: torch.Tensor | float,
    sigma2: float = 0.1,
) -> torch.Tensor:
    """The logistic label rho * y_a + (1 - rho) * y_b.

    rho = :func:`logistic_ratio` (lam, sigma2), the label of Proposition 1 of the paper:
    GenLabel's label for two Gaussian classes of variance sigma2.

    Parameters
    ----------
    targets_a, targets_b : torch.Tensor, shape (n, k)
        The labels of the two points of each pair (floating point).
    lam : float or torch.Tensor of shape (n,)
        The mixing weight of ``targets_a``, in [0, 1].
    sigma2 : float, default=0.1
        The variance; smaller makes the label closer to a step at lam = 1/2.

    Returns
    -------
    torch.Tensor, shape (n, k)

    Raises
    ------
    ValueError
        As :func:`linear_labels`, and ``sigma2 <= 0``.
    """
    rho = logistic_ratio(
        torch.as_tensor(lam, dtype=targets_a.dtype, device=targets_a.device), sigma2
    )
    return linear_labels(targets_a, targets_b, rho)


def first_argmin(scores: torch.Tensor) -> torch.Tensor:
    """``scores.argmin(-1)``: the index of the first minimum of every row, NaN first.

    Through ``min(-1)``, whose indices are the same (the first minimum; a NaN counts as the
    minimum, as in argmin) but whose CPU kernel is faster than argmin's over a long last
    dimension: the nearest-row search of the intrusion rule spends most of its time here.
    """
    return scores.min(-1).indices


def nearest_neighbor_indices(points: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Index of the nearest reference point (Euclidean) for every point, shape (m,).

    Parameters
    ----------
    points : Tensor of shape (m, ...)
    reference : Tensor of shape (r, ...)
        At least one point, with the features of ``points``.

    Returns
    -------
    Tensor of shape (m,), int64

    Raises
    ------
    ValueError
        An empty ``reference`` or a different number of features.
    """
    if reference.shape[0] == 0:
        raise ValueError("reference must hold at least one point")
    if points.shape[-1] != reference.shape[-1]:
        raise ValueError(
            f"points have {points.shape[-1]} features but reference has {reference.shape[-1]}"
        )
    points = points.reshape(points.shape[0], -1)
    reference = reference.reshape(reference.shape[0], -1).to(points)
    rows = max(1, _NN_CHUNK_ELEMENTS // max(1, reference.shape[0]))
    out = []
    sq_ref = reference.square().sum(-1)
    for chunk in torch.split(points, rows):
        # argmin_j |x - r_j|^2 = argmin_j (|r_j|^2 - 2 x.r_j): one fused matmul per chunk
        # (addmm's alpha = -2 scales exactly: on one host the scores equal |r|^2 - 2 (x r^T)).
        scores = torch.addmm(sq_ref, chunk, reference.T, alpha=-2)
        out.append(first_argmin(scores))
    return torch.cat(out) if out else points.new_zeros((0,), dtype=torch.long)


def _nearest_or_search(
    points: torch.Tensor | None, reference: torch.Tensor, nearest: torch.Tensor | None
) -> torch.Tensor:
    if nearest is not None:
        return nearest
    if points is None:
        raise ValueError("the nearest-neighbour rules need the points (or their nearest=...)")
    return nearest_neighbor_indices(points, reference)


def nearest_neighbor_labels(
    points: torch.Tensor | None,
    reference: torch.Tensor,
    reference_labels: torch.Tensor,
    num_classes: int,
    *,
    nearest: torch.Tensor | None = None,
) -> torch.Tensor:
    """One-hot label of the nearest reference point (the nearest-neighbour rule).

    ``nearest``: the nearest reference index of every point, when the caller has it
    (``points`` is then only read for its dtype, and may be None: float32).

    Parameters
    ----------
    points : torch.Tensor of shape (m, d), or None
        The mixed points.
    reference : torch.Tensor, shape (n, d)
        The training points.
    reference_labels : torch.Tensor, shape (n,)
        Their class indices.
    num_classes : int
        k, the width of the labels.
    nearest : torch.Tensor of shape (m,), optional
        See above.

    Returns
    -------
    torch.Tensor, shape (m, k)

    Raises
    ------
    ValueError
        No reference point, mismatched shapes, or neither points nor ``nearest``.
    """
    idx = _nearest_or_search(points, reference, nearest)
    dtype = torch.float32 if points is None else points.dtype
    return F.one_hot(reference_labels.to(idx.device)[idx], num_classes).to(dtype)


# Parameters restate nearest_neighbor_labels': both public rules take the same points.
def intrusion_keep_mask(
    points: torch.Tensor | None,
    reference: torch.Tensor,
    reference_labels: torch.Tensor,
    labels_a: torch.Tensor,
    labels_b: torch.Tensor,
    *,
    nearest: torch.Tensor | None = None,
) -> torch.Tensor:
    """True where a mixed point is kept: its nearest training point's label is one of the pair's.

    Mixup + excluding manifold intrusion drops the other points. ``nearest``: the nearest
    reference index of every point, when the caller has it (``points`` is then unused).

    Parameters
    ----------
    points : torch.Tensor of shape (m, d), or None
        The mixed points.
    reference : torch.Tensor, shape (n, d)
        The training points.
    reference_labels : torch.Tensor, shape (n,)
        Their class indices.
    labels_a, labels_b : torch.Tensor, shape (m,)
        The class indices of the two points each mixed point was made from.
    nearest : torch.Tensor of shape (m,), optional
        See above.

    Returns
    -------
    torch.Tensor of bool, shape (m,)

    Raises
    ------
    ValueError
        As :func:`nearest_neighbor_labels`.
    """
    idx = _nearest_or_search(points, reference, nearest)
    nearest_label = reference_labels.to(idx.device)[idx]
    return (nearest_label == labels_a) | (nearest_label == labels_b)
