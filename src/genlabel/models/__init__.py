"""Models: logistic regression and the ReLU MLP (as stacks of G models), image models, and the
conditional GAN of GenMix."""

from .cnn import (
    IMAGE_MODELS,
    PreActBlock,
    PreActResNet18,
    SmallCNN,
    build_model,
    init_weights,
    split_model,
)
from .gan import ConditionalGAN
from .stacked import MODEL_NAMES, StackedMLP, init_linear, layer_sizes, mlp_module

__all__ = [
    "ConditionalGAN",
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
    "mlp_module",
    "split_model",
]
