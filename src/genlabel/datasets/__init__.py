"""Data sets: toy generators (and, later, OpenML and image loaders)."""

from .toy import TOY_DATASETS, gaussian9_centers, make_toy

__all__ = ["TOY_DATASETS", "gaussian9_centers", "make_toy"]
