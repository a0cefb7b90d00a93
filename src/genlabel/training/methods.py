"""The training methods of SPEC §7 and their hyper-parameter grids (SPEC §9)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Method",
    "METHODS",
    "DEFAULT_LR_GRID",
    "DEFAULT_GAMMA_GRID",
    "DEFAULT_DENSITY_GRID",
    "Config",
]

DEFAULT_LR_GRID = (0.1, 0.01, 0.001, 0.0001)
DEFAULT_GAMMA_GRID = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
DEFAULT_DENSITY_GRID = ("gm", "kde")


@dataclass(frozen=True)
class Method:
    """How a method mixes and labels.

    mix: "none" (vanilla), "input" (mixup in input space), "manifold" (mix a hidden layer
    chosen at random per batch), "adaptive" (AdaMixup's learned policy).
    rule: the label rule of SPEC §3 for the mixed points.
    """

    mix: str
    rule: str
    mlp_only: bool = False


METHODS: dict[str, Method] = {
    "vanilla": Method("none", "linear"),
    "mixup": Method("input", "linear"),
    "mixup_exclude_mi": Method("input", "exclude_intrusion"),
    "mixup_logistic": Method("input", "logistic"),
    "mixup_nn": Method("input", "nearest_neighbor"),
    "adamixup": Method("adaptive", "linear"),
    "manifold_mixup": Method("manifold", "linear", mlp_only=True),
    "genlabel": Method("input", "genlabel"),
}


@dataclass(frozen=True)
class Config:
    """One point of a grid, on one CV fold: the fold index and the hyper-parameters."""

    fold: int
    lr: float
    gamma: float = 1.0
    density: str = "gm"
