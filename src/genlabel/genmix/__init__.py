"""GenMix: generate mixed points of a chosen class-likelihood ratio (Algorithm 4).

:func:`genmix` works with any class density; Gaussian class densities are solved in
closed form, and :class:`GANClassDensity` turns a conditional GAN (:class:`ConditionalGAN`)
into class densities p_c(x) ∝ exp(-d(x, M_c)^2 / (2 sigma^2)) by GAN inversion. Both are
re-exported here: the density lives in :mod:`genlabel.density`, the GAN in :mod:`genlabel.models`.
"""

from __future__ import annotations

from ..density.gan import ConditionalGenerator, GANClassDensity
from ..models.gan import ConditionalGAN
from .sampler import GenMixResult, GenMixWarning, genmix
from .segments import bisection_segment_roots, gaussian_precisions, gaussian_segment_roots

__all__ = [
    "ConditionalGAN",
    "ConditionalGenerator",
    "GANClassDensity",
    "GenMixResult",
    "GenMixWarning",
    "bisection_segment_roots",
    "gaussian_precisions",
    "gaussian_segment_roots",
    "genmix",
]
