"""Class-conditional densities p_c(x), evaluated in log space for all classes at once.

Every ``LabelDensity`` lives here: the Gaussian and KDE densities, the online labeler of
Algorithm 3, the PCA Gaussian and the GAN density of GenMix, and ``genlabel_targets``, the
label all of them give. This package imports nothing above it (labels, training, ...).
"""

from __future__ import annotations

from typing import Any

from ._base import ClassDensity
from .gan import ConditionalGenerator, GANClassDensity
from .gaussian import GaussianClassDensity
from .kde import KDEClassDensity
from .online import OnlineGaussianLabeler
from .pca_gaussian import PCAGaussianDensity
from .protocol import LabelDensity
from .targets import genlabel_targets

__all__ = [
    "ClassDensity",
    "ConditionalGenerator",
    "GANClassDensity",
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
    name : str
        The kind of density: ``"gm"`` or ``"kde"``.
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

    Examples
    --------
    >>> make_density("kde", bandwidth=0.5)
    KDEClassDensity(bandwidth=0.5)
    """
    if name not in DENSITIES:
        raise ValueError(f"Unknown density {name!r}; expected one of {sorted(DENSITIES)}")
    return DENSITIES[name](**params)
