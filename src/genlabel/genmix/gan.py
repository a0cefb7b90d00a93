"""The conditional GAN is a model: it lives in :mod:`genlabel.models.gan`; re-exported."""

from ..models.gan import CHECKPOINT_NAME as CHECKPOINT_NAME
from ..models.gan import ConditionalGAN

__all__ = ["ConditionalGAN"]
