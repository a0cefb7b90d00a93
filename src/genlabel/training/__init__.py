"""PyTorch training: the drop-in mixer, the online labeler, the single-model Trainer."""

from ..density.online import OnlineGaussianLabeler
from .callbacks import Callback, History
from .diagnostics import LabelDiagnostics
from .steps import GenLabelMixup, MixupBatch
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
