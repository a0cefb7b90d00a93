"""The paper's analysis experiments: intrusion, Proposition 1, Theorem 1."""

from .intrusion import intrusion_share, mixed_top1, region_classes
from .proposition1 import proposition1_labels
from .theorem1 import theorem1_data, theorem1_losses

__all__ = [
    "intrusion_share",
    "mixed_top1",
    "proposition1_labels",
    "region_classes",
    "theorem1_data",
    "theorem1_losses",
]
