"""The drop-in mixer lives in :mod:`genlabel.training.steps` with the other mix steps;
re-exported."""

from .steps import GenLabelMixup, MixupBatch

__all__ = ["GenLabelMixup", "MixupBatch"]
