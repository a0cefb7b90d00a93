"""PyTorch training: the drop-in mixer, the online labeler, the single-model Trainer."""

from .callbacks import Callback, History
from .diagnostics import LabelDiagnostics
from .dropin import GenLabelMixup, MixupBatch
from .online import OnlineGaussianLabeler
from .trainer import MixStep, Trainer

__all__ = [
    "Callback",
    "GenLabelMixup",
    "History",
    "LabelDiagnostics",
    "MixStep",
    "MixupBatch",
    "OnlineGaussianLabeler",
    "Trainer",
]
