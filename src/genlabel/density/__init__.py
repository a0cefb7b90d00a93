"""Class-conditional densities p_c(x), evaluated in log space for all classes at once."""

from __future__ import annotations

from typing import Any

from ._base import ClassDensity
from .gaussian import GaussianClassDensity
from .kde import KDEClassDensity
from .online import OnlineGaussianLabeler
from .pca_gaussian import PCAGaussianDensity
from .protocol import LabelDensity
from .targets import genlabel_targets

__all__ = [
    "ClassDensity",
    "GaussianClassDensity",
    "KDEClassDensity",
    "LabelDensity",
    "OnlineGaussianLabeler",
    "PCAGaussianDensity",
    "genlabel_targets",
    "make_density",
]

DENSITIES = {"gm": GaussianClassDensity, "kde": KDEClassDensity}


def make_density(name: str, **params: Any) -> ClassDensity:
    """Build a density by name: ``"gm"`` (:class:`GaussianClassDensity`) or ``"kde"``.

    Parameters
    ----------
    name : {"gm", "kde"}
        The kind of density.
    **params
        Passed to the class (``covariance``, ``reg`` for the Gaussian; ``bandwidth`` for the
        KDE).

    Returns
    -------
    ClassDensity
        Unfitted: call ``fit(X, y)``.

    Raises
    ------
    ValueError
        An unknown name.
    """
    if name not in DENSITIES:
        raise ValueError(f"Unknown density {name!r}; expected one of {sorted(DENSITIES)}")
    return DENSITIES[name](**params)
