"""The names of the analysis figures (kept in the registry, importable without matplotlib)."""

from ..registry import FIGURE_NAMES

__all__ = ["FIGURE_NAMES"]
