"""Kept importable: ``genlabel.datasets.make_toy`` now lives in :mod:`genlabel.data`."""

from .data.toy import TOY_DATASETS, gaussian9_centers, make_toy

__all__ = ["TOY_DATASETS", "gaussian9_centers", "make_toy"]
