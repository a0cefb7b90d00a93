"""The mix steps live in :mod:`genlabel.training.steps` (they train any model); re-exported."""

# Re-exported so that the old import path keeps working; images/__init__ lists the same names.
from ..training.steps import (
    MIXES,
    AdaMixupPolicy,
    AdaMixupStep,
    GenLabelStep,
    MixupStep,
    PlainStep,
    build_step,
    manifold_layers,
)

__all__ = [
    "MIXES",
    "AdaMixupPolicy",
    "AdaMixupStep",
    "GenLabelStep",
    "MixupStep",
    "PlainStep",
    "build_step",
    "manifold_layers",
]
