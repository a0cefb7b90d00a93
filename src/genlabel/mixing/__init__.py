"""Mixing: draw the random parameters of a mix, apply them to any tensor."""

from .batch import MixedBatch, check_batch, mix_pairs
from .manifold import Captured, ManifoldMixup, capture_output
from .params import (
    MixParams,
    apply_mix,
    check_generator,
    convex_mix,
    draw_cutmix_params,
    draw_mix_params,
    one_hot,
    sample_lambda,
    sample_permutation,
)

__all__ = [
    "Captured",
    "ManifoldMixup",
    "MixParams",
    "MixedBatch",
    "apply_mix",
    "capture_output",
    "check_batch",
    "check_generator",
    "convex_mix",
    "draw_cutmix_params",
    "draw_mix_params",
    "mix_pairs",
    "one_hot",
    "sample_lambda",
    "sample_permutation",
]
