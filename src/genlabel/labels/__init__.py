"""Label rules for mixed points: linear, logistic, nearest neighbour, exclusion, GenLabel."""

from .mixed import (
    GENLABEL_RULES,
    LABEL_CLASSES,
    LABEL_RULES,
    REFERENCE_RULES,
    MixedLabels,
    check_label_classes,
    class_log_prior,
    density_targets,
    label_mixed,
    mixed_class_mask,
)
from .rules import (
    genlabel_targets,
    intrusion_keep_mask,
    linear_labels,
    logistic_labels,
    logistic_ratio,
    nearest_neighbor_indices,
    nearest_neighbor_labels,
)

__all__ = [
    "GENLABEL_RULES",
    "LABEL_CLASSES",
    "LABEL_RULES",
    "REFERENCE_RULES",
    "MixedLabels",
    "check_label_classes",
    "class_log_prior",
    "density_targets",
    "genlabel_targets",
    "intrusion_keep_mask",
    "label_mixed",
    "mixed_class_mask",
    "linear_labels",
    "logistic_labels",
    "logistic_ratio",
    "nearest_neighbor_indices",
    "nearest_neighbor_labels",
]
