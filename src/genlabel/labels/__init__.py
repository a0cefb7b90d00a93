"""Label rules for mixed points: linear, logistic, nearest neighbour, exclusion, GenLabel."""

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
    "LABEL_RULES",
    "genlabel_targets",
    "intrusion_keep_mask",
    "linear_labels",
    "logistic_labels",
    "logistic_ratio",
    "nearest_neighbor_indices",
    "nearest_neighbor_labels",
]

#: Names of the label rules of SPEC §3, as accepted by :class:`genlabel.GenLabelMixup`.
LABEL_RULES = (
    "linear",
    "logistic",
    "nearest_neighbor",
    "exclude_intrusion",
    "genlabel",
    "genlabel_top2",
)
