"""The hyper-parameter grids and :class:`Config` live in :mod:`genlabel.training.grids`;
re-exported."""

from .grids import DEFAULT_DENSITY_GRID, DEFAULT_GAMMA_GRID, DEFAULT_LR_GRID, Config

__all__ = ["Config", "DEFAULT_DENSITY_GRID", "DEFAULT_GAMMA_GRID", "DEFAULT_LR_GRID"]
