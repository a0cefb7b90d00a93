"""Models of SPEC §8 (logistic regression, the d -> 128 -> 128 -> k ReLU network) and images."""

from .cnn import (
    IMAGE_MODELS,
    PreActBlock,
    PreActResNet18,
    SmallCNN,
    build_model,
    init_weights,
    split_model,
)
from .stacked import MODEL_NAMES, StackedMLP, init_linear, layer_sizes

__all__ = [
    "IMAGE_MODELS",
    "MODEL_NAMES",
    "PreActBlock",
    "PreActResNet18",
    "SmallCNN",
    "StackedMLP",
    "build_model",
    "init_linear",
    "init_weights",
    "layer_sizes",
    "split_model",
]
