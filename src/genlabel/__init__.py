"""GenLabel: mixup relabeling with class-conditional generative models.

The names below load on first use (PEP 562), so that ``import genlabel.cli`` (the
``genlabel`` command, ``genlabel --help``) imports neither torch nor scikit-learn; the first
``genlabel.mix_pairs`` or ``from genlabel import GenLabelMixup`` imports torch.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

try:  # pyproject.toml's version, as installed (its one source)
    __version__ = version("genlabel")
except PackageNotFoundError:  # a source tree on sys.path, not installed
    __version__ = "0+unknown"

#: Each public name and the submodule that defines it.
_EXPORTS = {
    "ClassDensity": "density",
    "GaussianClassDensity": "density",
    "KDEClassDensity": "density",
    "make_density": "density",
    "LABEL_RULES": "labels",
    "genlabel_targets": "density",
    "intrusion_keep_mask": "labels",
    "linear_labels": "labels",
    "logistic_labels": "labels",
    "nearest_neighbor_labels": "labels",
    "genlabel_loss": "losses",
    "soft_cross_entropy": "losses",
    "MixedBatch": "mixing",
    "mix_pairs": "mixing",
    "sample_lambda": "mixing",
    "GenLabelMixup": "training",
    "MixupBatch": "training",
    "OnlineGaussianLabeler": "density",
}

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


def __getattr__(name: str) -> Any:
    """Import a public name's submodule on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'genlabel' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
