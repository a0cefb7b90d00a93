"""The GAN density lives in :mod:`genlabel.density.gan`; re-exported."""

from ..density.gan import ConditionalGenerator, GANClassDensity

__all__ = ["ConditionalGenerator", "GANClassDensity"]
