"""One Gaussian per class in a PCA space, as a density on the full space (GenMix on images)."""

from __future__ import annotations

from typing import Any

import torch

from .gaussian import GaussianClassDensity
from .targets import genlabel_targets

__all__ = ["PCAGaussianDensity"]


class PCAGaussianDensity:
    """One Gaussian per class in the span of the leading principal components.

    log p_c(x) = log N(V (x - m); mu_c, Sigma_c + reg I) with m the training mean and V the
    first ``n_components`` principal directions of the training points: a class density
    on the full space (a function of the projection), so GenMix searches mixup segments
    between real images and keeps their full detail, while the Gaussians are fitted where
    500 points determine them.

    Parameters
    ----------
    n_components : int
    reg : float
        Ridge of ``GaussianClassDensity``.
    """

    def __init__(self, *, n_components: int, reg: float):
        self.n_components, self.reg = n_components, reg

    def fit(self, X: torch.Tensor, y: torch.Tensor) -> PCAGaussianDensity:
        """Fit the projection on ``X`` and one Gaussian per class in the projected space.

        Parameters
        ----------
        X : Tensor of shape (n, ...)
            Flattened to (n, D), float64.
        y : Tensor of shape (n,)
            Class indices.

        Returns
        -------
        PCAGaussianDensity
            ``self``.
        """
        X = X.reshape(X.shape[0], -1).to(torch.float64)
        self.mean_ = X.mean(0)
        q = min(self.n_components, *X.shape)
        # Right singular vectors of the centred data: the principal directions.
        self.components_ = torch.linalg.svd(X - self.mean_, full_matrices=False).Vh[:q]
        self.gaussians_ = GaussianClassDensity(reg=self.reg).fit(self.transform(X), y)
        self.classes_ = self.gaussians_.classes_
        return self

    # transform, log_prob and targets are alike in their numpydoc layout; log_prob and targets
    # implement LabelDensity (protocol.py) and restate its docstrings for this density.
    def transform(self, Z: Any) -> torch.Tensor:
        """The centred points projected on the principal directions.

        Parameters
        ----------
        Z : array-like or tensor of shape (m, ...)

        Returns
        -------
        Tensor of shape (m, q), float64
            q = min(n_components, n, D) of the fit data.
        """
        Z = torch.as_tensor(Z, dtype=torch.float64)
        return (Z.reshape(Z.shape[0], -1) - self.mean_) @ self.components_.T

    def log_prob(self, Z: Any) -> torch.Tensor:
        """log p_c(z) for every point and class, shape (m, k), float64.

        Parameters
        ----------
        Z : array-like or tensor of shape (m, ...)

        Returns
        -------
        Tensor of shape (m, k), float64
        """
        return self.gaussians_.log_prob(self.transform(Z))

    def targets(self, Z: Any, *, top_k: int | None = None) -> torch.Tensor:
        """GenLabel's labels softmax_c(log p_c(z)), shape (m, k).

        Parameters
        ----------
        Z : array-like or tensor of shape (m, ...)
        top_k : int, optional
            Keep only the ``top_k`` most likely classes.

        Returns
        -------
        Tensor of shape (m, k)
        """
        return genlabel_targets(self.log_prob(Z), top_k=top_k)
