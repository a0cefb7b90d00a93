"""Models: logistic regression and the d -> 128 -> 128 -> k ReLU network (as stacks)."""

from .stacked import MODEL_NAMES, StackedMLP, init_linear, layer_sizes, mlp_module

__all__ = ["MODEL_NAMES", "StackedMLP", "init_linear", "layer_sizes", "mlp_module"]
