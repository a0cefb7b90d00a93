"""Hyper-parameter grids of the reference protocol and one grid point (:class:`Config`).

The methods themselves (how each mixes and labels, which models it trains) live in
:mod:`genlabel.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Config", "DEFAULT_DENSITY_GRID", "DEFAULT_GAMMA_GRID", "DEFAULT_LR_GRID"]

DEFAULT_LR_GRID = (0.1, 0.01, 0.001, 0.0001)
DEFAULT_GAMMA_GRID = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
DEFAULT_DENSITY_GRID = ("gm", "kde")


@dataclass(frozen=True)
class Config:
    """One point of a grid, on one CV fold: the fold index and the hyper-parameters."""

    fold: int
    lr: float
    gamma: float = 1.0
    density: str = "gm"
