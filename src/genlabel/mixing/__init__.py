"""Mixing: Beta draws, random pairings and the mixed batch."""

from ._mix import MixedBatch, mix_pairs, one_hot, sample_lambda, sample_permutation

__all__ = ["MixedBatch", "mix_pairs", "one_hot", "sample_lambda", "sample_permutation"]
