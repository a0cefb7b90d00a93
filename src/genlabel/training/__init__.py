"""PyTorch training helpers: the drop-in mixup relabeler and the online labeler."""

from .dropin import GenLabelMixup, MixupBatch
from .online import OnlineGaussianLabeler

__all__ = ["GenLabelMixup", "MixupBatch", "OnlineGaussianLabeler"]
