"""Gaussian kernel density per class ("KDE")."""

from __future__ import annotations

import math

import torch

from .._validation import check_nonnegative, is_real_in, parameter_error
from ._base import ClassDensity, stable_cholesky

__all__ = ["KDEClassDensity"]


def _logsumexp_last(scores: torch.Tensor) -> torch.Tensor:
    """logsumexp over the last dimension, overwriting ``scores``; shifted scores are clamped.

    Far kernels give shifted scores of -100s; their exp lands in the subnormal range, which
    is very slow on x86 (and torch.logsumexp is slow there too). Clamping at -80 (float32;
    -700 in float64) changes the sum by less than n * e^-80, below the dtype's resolution.
    """
    floor = -80.0 if scores.dtype in (torch.float32, torch.float16, torch.bfloat16) else -700.0
    top = scores.amax(-1, keepdim=True)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))  # rows of padding only
    # In place: ``scores`` is a temporary of the caller (no extra allocation).
    return scores.sub_(top).clamp_(min=floor).exp_().sum(-1).log_() + top.squeeze(-1)


class KDEClassDensity(ClassDensity):
    """Class-conditional Gaussian KDE: p_c(x) = 1/n_c sum_i N(x; x_i, h^2 Sigma_c + reg I).

    Sigma_c is the class data covariance (unbiased, as ``scipy.stats.gaussian_kde``),
    so with the same bandwidth rule the result equals scipy's up to rounding.

    Parameters
    ----------
    bandwidth : {"scott", "silverman"} or float, default="scott"
        The factor h: Scott's rule n_c^(-1/(d+4)), Silverman's rule
        (n_c (d+2)/4)^(-1/(d+4)), or a fixed positive value (scipy's scalar ``bw_method``).
    reg : float, default=1e-8
        Ridge added to every kernel covariance (constant features, d > n_c).

    Notes
    -----
    A class with a single point has no covariance; it borrows the pooled within-class
    covariance of the whole training set (the identity if that is empty too).
    Evaluation is one padded batched matrix product over all classes, in chunks of
    query points so that memory stays bounded for large n * m.
    """

    def __init__(self, *, bandwidth: str | float = "scott", reg: float = 1e-8):
        self.bandwidth = bandwidth
        self.reg = reg

    def _check_params(self) -> None:
        name = type(self).__name__
        bw = self.bandwidth
        ok = (
            bw in ("scott", "silverman")
            if isinstance(bw, str)
            else is_real_in(bw, 0, low_open=True)
        )
        if not ok:
            raise parameter_error(
                name, "bandwidth", "'scott', 'silverman' or a float in the range (0.0, inf)", bw
            )
        check_nonnegative(self.reg, "reg", name)

    def _factor(self, n: int, d: int) -> float:
        if self.bandwidth == "scott":
            return n ** (-1.0 / (d + 4))
        if self.bandwidth == "silverman":
            return (n * (d + 2) / 4.0) ** (-1.0 / (d + 4))
        return float(self.bandwidth)

    def _fit_classes(self, X: torch.Tensor, index: torch.Tensor, k: int) -> dict[str, torch.Tensor]:
        n, d = X.shape
        counts = torch.bincount(index, minlength=k)
        n_max = int(counts.max())
        eye = torch.eye(d, dtype=X.dtype, device=X.device)
        centers = torch.zeros(k, d, dtype=X.dtype, device=X.device)
        data_cov = torch.zeros(k, d, d, dtype=X.dtype, device=X.device)
        pooled = torch.zeros(d, d, dtype=X.dtype, device=X.device)
        for c in range(k):
            Xc = X[index == c]
            if Xc.shape[0] == 0:
                continue
            centers[c] = Xc.mean(0)
            if Xc.shape[0] >= 2:
                centered = Xc - centers[c]
                scatter = centered.T @ centered  # once: d^2 n_c, most of a wide fit
                data_cov[c] = scatter / (Xc.shape[0] - 1)
                pooled += scatter
        dof = int((counts[counts >= 2] - 1).sum())
        pooled = pooled / dof if dof > 0 else eye.clone()
        factors = torch.ones(k, dtype=X.dtype, device=X.device)
        for c in range(k):
            nc = int(counts[c])
            if nc == 1:
                data_cov[c] = pooled
            if nc >= 1:
                factors[c] = self._factor(nc, d)
        kernel_cov = factors[:, None, None] ** 2 * data_cov + self.reg * eye
        chol = stable_cholesky(kernel_cov)
        whiten = torch.linalg.solve_triangular(chol, eye.expand(k, d, d), upper=False).mT
        points = torch.zeros(k, max(n_max, 1), d, dtype=X.dtype, device=X.device)
        log_w = torch.full((k, max(n_max, 1)), -math.inf, dtype=X.dtype, device=X.device)
        for c in range(k):
            nc = int(counts[c])
            if nc:
                points[c, :nc] = (X[index == c] - centers[c]) @ whiten[c]
                log_w[c, :nc] = -math.log(nc)
        self.factors_ = factors.cpu()
        self.kernel_covariances_ = kernel_cov.cpu()
        log_norm = torch.log(torch.diagonal(whiten, dim1=-2, dim2=-1)).sum(-1)
        const = log_norm - 0.5 * self._log_2pi(d)
        return {
            "centers": centers,
            "whiten": whiten,
            "points_t": points.mT.contiguous(),
            # log w_i - |b_i|^2 / 2 per kernel center; -inf on padding.
            "point_bias": (log_w - 0.5 * points.square().sum(-1)).unsqueeze(1),
            "const": torch.where(counts > 0, const, torch.finfo(X.dtype).min),
        }

    def _elements_per_row(self) -> int:
        k = int(self.classes_.numel())
        return k * (int(self.class_counts_.max()) + self.n_features_in_)

    def _affine_rows(
        self, X: torch.Tensor, params: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        white = torch.bmm(X.unsqueeze(0) - params["centers"].unsqueeze(1), params["whiten"])
        scores = torch.baddbmm(params["point_bias"], white, params["points_t"])  # (k, n, n_max)
        # Padding kernels score -inf, and a mix with weight 0 of -inf is NaN: a finite floor
        # far below the logsumexp's (exp(-1e300) is 0 as exp(-inf) is).
        return {
            "white": white.transpose(0, 1).contiguous(),  # (n, k, d)
            "scores": scores.clamp_min_(-1e300).transpose(0, 1).contiguous(),  # (n, k, n_max)
        }

    def _finish_rows(
        self, parts: dict[str, torch.Tensor], params: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        log_prob = _logsumexp_last(parts["scores"]) - 0.5 * parts["white"].square().sum(-1)
        return log_prob + params["const"]

    def _log_prob_t(self, Z: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        # Whiten the queries per class around the class center (less cancellation); then
        # log sum_i w_i exp(-|a - b_i|^2 / 2) = -|a|^2/2 + logsumexp_i(a.b_i - |b_i|^2/2 + log w_i),
        # one fused batched matmul over the classes padded to the largest one.
        white = torch.bmm(Z.unsqueeze(0) - params["centers"].unsqueeze(1), params["whiten"])
        scores = torch.baddbmm(params["point_bias"], white, params["points_t"])  # (k, m, n_max)
        log_prob = _logsumexp_last(scores) - 0.5 * white.square().sum(-1)
        return log_prob + params["const"].unsqueeze(1)
