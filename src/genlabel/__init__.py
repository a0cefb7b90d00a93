"""GenLabel: mixup relabeling with class-conditional generative models."""

from __future__ import annotations

from .density import ClassDensity, GaussianClassDensity, KDEClassDensity, make_density
from .labels import (
    LABEL_RULES,
    genlabel_targets,
    intrusion_keep_mask,
    linear_labels,
    logistic_labels,
    nearest_neighbor_labels,
)
from .losses import genlabel_loss, soft_cross_entropy
from .mixing import MixedBatch, mix_pairs, sample_lambda
from .training import GenLabelMixup, MixupBatch, OnlineGaussianLabeler

__version__ = "0.1.0"

__all__ = [
    "LABEL_RULES",
    "ClassDensity",
    "GaussianClassDensity",
    "GenLabelMixup",
    "KDEClassDensity",
    "MixedBatch",
    "MixupBatch",
    "OnlineGaussianLabeler",
    "__version__",
    "genlabel_loss",
    "genlabel_targets",
    "intrusion_keep_mask",
    "linear_labels",
    "logistic_labels",
    "make_density",
    "mix_pairs",
    "nearest_neighbor_labels",
    "sample_lambda",
    "soft_cross_entropy",
]
