"""Models of SPEC §8: logistic regression and the d -> 128 -> 128 -> k ReLU network."""

from .stacked import MODEL_NAMES, StackedMLP, init_linear, layer_sizes

__all__ = ["MODEL_NAMES", "StackedMLP", "init_linear", "layer_sizes"]
