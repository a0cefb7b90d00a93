"""Points of a given class-likelihood ratio on mixup segments.

GenMix (Algorithm 4 of the GenLabel paper) needs points x with
log p_j(x) - log p_i(x) = logit(lam). It looks for them on the segment
x(t) = a + t (b - a), t in [0, 1], between a point a of class i and a point b of class j:

* :func:`gaussian_segment_roots` solves the equation exactly for Gaussian class densities,
  where it is a quadratic in t;
* :func:`bisection_segment_roots` brackets and bisects it with nothing but ``log_prob``, for
  any class density.

Both are batched over segments and return at most one root per segment: of several roots in
[0, 1], the one nearest t = sigmoid(logit) = lam, the mixup point a + lam (b - a) whose mixup
label gives class j the wanted share lam. That keeps the generated point where mixup would
have put it (between the two classes, not on a far branch of a quadric) and gives every
segment the same weight.
"""

from __future__ import annotations

import math
from typing import Any

import torch

__all__ = ["bisection_segment_roots", "gaussian_segment_roots", "gaussian_precisions"]


def gaussian_precisions(density: Any) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Precision matrices and half log-determinants of a fitted ``GaussianClassDensity``.

    Parameters
    ----------
    density : GaussianClassDensity
        Fitted; its ``covariances_`` (ridge included) define the class Gaussians.

    Returns
    -------
    (precisions, half_log_det) : tuple of Tensor, or None
        float64, of shapes (k, d, d) and (k,): P_c = Sigma_c^{-1} and 1/2 log det Sigma_c.
        None when a covariance does not factorise (a singular one fitted with ``reg=0``):
        the density then adds a jitter of its own, which only the generic bisection on its
        ``log_prob`` reproduces.
    """
    cov = density.covariances_.to(torch.float64)
    cov = 0.5 * (cov + cov.mT)
    chol, info = torch.linalg.cholesky_ex(cov)
    if bool((info > 0).any()):
        return None
    precisions = torch.cholesky_inverse(chol)
    half_log_det = torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
    return precisions, half_log_det


def _class_terms(
    precisions: torch.Tensor,
    means: torch.Tensor,
    a: torch.Tensor,
    u: torch.Tensor,
    cls: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """u^T P u, u^T P r and r^T P r with r = a - mu, for class ``cls[s]`` of each segment s."""
    present = torch.unique(cls).tolist()
    if len(present) == 1:  # GenMix's blocks: one pair, no masking
        c = present[0]
        r = a - means[c]
        Pu = u @ precisions[c]  # P is symmetric: (P u)^T = u^T P
        return (Pu * u).sum(-1), (Pu * r).sum(-1), ((r @ precisions[c]) * r).sum(-1)
    uPu, uPr, rPr = (a.new_zeros(a.shape[0]) for _ in range(3))
    for c in present:  # k is small; each class is one batched product
        rows = cls == c
        r = a[rows] - means[c]
        Pu = u[rows] @ precisions[c]
        uPu[rows] = (Pu * u[rows]).sum(-1)
        uPr[rows] = (Pu * r).sum(-1)
        rPr[rows] = ((r @ precisions[c]) * r).sum(-1)
    return uPu, uPr, rPr


def _quadratic_roots(
    A: torch.Tensor, B: torch.Tensor, C: torch.Tensor, linear: torch.Tensor
) -> torch.Tensor:
    """Both real roots of A t^2 + B t + C (NaN or inf where there is none), shape (s, 2).

    The numerically stable form (Numerical Recipes, section 5.6): q = -(B + sign(B) sqrt(B^2 -
    4AC)) / 2, roots q / A and C / q, so that no root is the difference of two close numbers.
    Where ``linear`` (A is rounding noise: equal covariances make the QDA boundary a
    hyperplane) the single root is -C / B.
    """
    disc = B * B - 4.0 * A * C
    sqrt_disc = torch.sqrt(disc)  # NaN where disc < 0: no real root
    q = -0.5 * (B + torch.where(B >= 0, sqrt_disc, -sqrt_disc))
    # q = 0 only for a double root at t = 0 (B = C = 0); C / q would be 0 / 0 there.
    t1 = q / A
    t2 = torch.where(q == 0, t1, C / q)
    t_lin = -C / B  # inf or NaN where B = 0 too: a constant ratio, no isolated root
    nan = torch.full_like(t_lin, math.nan)
    return torch.stack([torch.where(linear, t_lin, t1), torch.where(linear, nan, t2)], 1)


def _nearest_in_unit(
    roots: torch.Tensor, preferred: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Among candidate roots (s, r) the one in [0, 1] nearest ``preferred`` (s,), and a found mask."""
    valid = torch.isfinite(roots) & (roots >= 0) & (roots <= 1)
    gap = torch.where(valid, (roots - preferred.unsqueeze(1)).abs(), torch.inf)
    best = gap.argmin(1, keepdim=True)
    t = roots.gather(1, best).squeeze(1)
    found = valid.any(1)
    return torch.where(found, t, torch.zeros_like(t)), found


def gaussian_segment_roots(
    density: Any,
    a: torch.Tensor,
    b: torch.Tensor,
    i: torch.Tensor,
    j: torch.Tensor,
    logit: torch.Tensor,
    precisions: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact t in [0, 1] with log p_j(x(t)) - log p_i(x(t)) = logit, x(t) = a + t (b - a).

    For Gaussian classes N(mu_c, Sigma_c), with P_c = Sigma_c^{-1}, u = b - a and
    r_c = a - mu_c, log N_c(x(t)) = const_c - 1/2 (r_c + t u)^T P_c (r_c + t u), so the
    log-ratio minus ``logit`` is the quadratic q(t) = A t^2 + B t + C with

        A = -1/2 (u^T P_j u - u^T P_i u)
        B = -(u^T P_j r_j - u^T P_i r_i)
        C = -1/2 (log det Sigma_j - log det Sigma_i) - 1/2 (r_j^T P_j r_j - r_i^T P_i r_i)
            - logit

    (the QDA decision boundary shifted by logit(lam)); its roots are solved in closed form,
    in float64, for every segment at once.

    Parameters
    ----------
    density : GaussianClassDensity
        Fitted (full, diag or spherical covariances).
    a, b : Tensor of shape (s, d)
        Segment ends: a point of class i and a point of class j.
    i, j : Tensor of shape (s,), int64
        Column indices of the two classes in ``density.classes_``.
    logit : Tensor of shape (s,)
        The wanted log p_j - log p_i, logit(lam) = log(lam / (1 - lam)).
    precisions : tuple, optional
        ``gaussian_precisions(density)``, to reuse across calls.

    Returns
    -------
    t : Tensor of shape (s,), float64
        The root in [0, 1] nearest t = sigmoid(logit) (0 where there is none).
    found : Tensor of shape (s,), bool
        False where the quadratic has no real root in [0, 1] (discard those segments).
    """
    if precisions is None:
        precisions = gaussian_precisions(density)
        if precisions is None:
            raise ValueError("the density's covariances are not positive definite")
    P, half_log_det = precisions
    means = density.means_.to(torch.float64)
    a, b, logit = a.to(torch.float64), b.to(torch.float64), logit.to(torch.float64)
    u = b - a
    uPu_i, uPr_i, rPr_i = _class_terms(P, means, a, u, i)
    uPu_j, uPr_j, rPr_j = _class_terms(P, means, a, u, j)
    A = -0.5 * (uPu_j - uPu_i)
    B = -(uPr_j - uPr_i)
    C = -(half_log_det[j] - half_log_det[i]) - 0.5 * (rPr_j - rPr_i) - logit
    # Equal covariances cancel A exactly in theory; in float64 it is left as noise of the
    # size of the terms' rounding, which would put a spurious second root far away.
    linear = A.abs() <= 64 * torch.finfo(torch.float64).eps * (uPu_i.abs() + uPu_j.abs())
    return _nearest_in_unit(_quadratic_roots(A, B, C, linear), torch.sigmoid(logit))


def _log_ratio(
    density: Any,
    points: torch.Tensor,
    i: torch.Tensor,
    j: torch.Tensor,
    logit: torch.Tensor,
    shape: tuple[int, ...],
) -> torch.Tensor:
    """f = log p_j - log p_i - logit at points (s, g, D), evaluated in one log_prob call."""
    s, g, _ = points.shape
    lp = density.log_prob(points.reshape(s * g, *shape)).to(torch.float64).reshape(s, g, -1)
    diff = lp.gather(2, j.view(s, 1, 1).expand(s, g, 1)) - lp.gather(
        2, i.view(s, 1, 1).expand(s, g, 1)
    )
    return diff.squeeze(2) - logit.unsqueeze(1)


# Its first parameters restate gaussian_segment_roots': the same problem, solved another way.
# Long only by its docstring; the bisection itself is one vectorised loop.
def bisection_segment_roots(
    density: Any,
    a: torch.Tensor,
    b: torch.Tensor,
    i: torch.Tensor,
    j: torch.Tensor,
    logit: torch.Tensor,
    *,
    grid: int = 32,
    tol: float = 1e-10,
    shape: tuple[int, ...] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """t in [0, 1] with log p_j(x(t)) - log p_i(x(t)) = logit, by bracketing and bisection.

    Works with any class density: f(t) = log p_j - log p_i - logit is evaluated on a grid of
    ``grid + 1`` values of t for all segments at once, the sign change whose bracket is
    nearest t = sigmoid(logit) is kept, and bisection halves every bracket together until it
    is narrower than ``tol``. A root between grid points with no sign change (a double
    root, two roots in one cell) is missed.

    Parameters
    ----------
    density : object with ``log_prob(Z) -> (m, k)``
    a, b : Tensor of shape (s, D)
        Segment ends, flattened.
    i, j : Tensor of shape (s,), int64
        Column indices of the two classes in ``log_prob``.
    logit : Tensor of shape (s,)
    grid : int, default=32
    tol : float, default=1e-10
        Width in t of the final bracket.
    shape : tuple of int, optional
        The shape of one point as ``log_prob`` takes it (images); default (D,).

    Returns
    -------
    t : Tensor of shape (s,)
        float64; 0 where no root was found.
    found : Tensor of shape (s,), bool
    """
    a, b, logit = a.to(torch.float64), b.to(torch.float64), logit.to(torch.float64)
    shape = shape or (a.shape[1],)
    s = a.shape[0]
    u = b - a
    ts = torch.linspace(0.0, 1.0, grid + 1, dtype=torch.float64)
    f = _log_ratio(density, a[:, None] + ts[None, :, None] * u[:, None], i, j, logit, shape)
    sign_change = f[:, :-1] * f[:, 1:] <= 0
    mid = 0.5 * (ts[:-1] + ts[1:])
    gap = torch.where(sign_change, (mid - torch.sigmoid(logit).unsqueeze(1)).abs(), torch.inf)
    cell = gap.argmin(1)
    found = sign_change.any(1)
    lo, hi = ts[cell], ts[cell + 1]
    f_lo = f.gather(1, cell.unsqueeze(1)).squeeze(1)
    for _ in range(max(0, math.ceil(math.log2(1.0 / (grid * tol))))):
        t = 0.5 * (lo + hi)
        f_t = _log_ratio(density, (a + t.unsqueeze(1) * u).unsqueeze(1), i, j, logit, shape)
        f_t = f_t.squeeze(1)
        same = f_t * f_lo > 0  # the root lies in [t, hi]
        lo, f_lo = torch.where(same, t, lo), torch.where(same, f_t, f_lo)
        hi = torch.where(same, hi, t)
    t = 0.5 * (lo + hi)
    return torch.where(found, t, torch.zeros(s, dtype=torch.float64)), found
