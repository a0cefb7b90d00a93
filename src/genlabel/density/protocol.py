"""The contract every class-density model of GenLabel meets."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch

__all__ = ["LabelDensity"]


@runtime_checkable
class LabelDensity(Protocol):
    """Class-conditional densities p_c, as GenLabel relabels with them.

    Anything with these two methods relabels mixed points: the Gaussian and KDE densities,
    the online labeler of Algorithm 3, a GAN-based density. ``isinstance(obj, LabelDensity)``
    checks that both methods exist.

    ``log_prob(Z)``
        log p_c(z) up to a constant shared by all classes, shape (m, k), finite.
    ``targets(Z, top_k=None)``
        GenLabel's labels softmax_c(log p_c(z)), shape (m, k): finite, non-negative rows
        summing to one; ``top_k`` keeps only the most likely classes.
    """

    def log_prob(self, Z: Any) -> torch.Tensor:
        """log p_c(z) up to a constant shared by all classes.

        Parameters
        ----------
        Z : array-like or tensor of shape (m, ...)

        Returns
        -------
        Tensor of shape (m, k)
            Finite.
        """
        ...

    def targets(self, Z: Any, *, top_k: int | None = None) -> torch.Tensor:
        """GenLabel's labels softmax_c(log p_c(z)).

        Parameters
        ----------
        Z : array-like or tensor of shape (m, ...)
        top_k : int, optional
            Keep only the ``top_k`` most likely classes.

        Returns
        -------
        Tensor of shape (m, k)
            Finite, non-negative rows summing to one.
        """
        ...
