"""Toy data sets: Gaussian blobs, circles, moons, cubes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.datasets import make_circles, make_moons
from sklearn.utils import check_random_state

from .._validation import is_int_at_least

__all__ = ["TOY_DATASETS", "make_toy", "gaussian9_centers"]

GAUSSIAN9_SPACING = 1.0


def gaussian9_centers() -> np.ndarray:
    """Centers of the 3x3 grid of ``gaussian9``, class c at row c // 3, column c % 3."""
    grid = np.arange(3) * GAUSSIAN9_SPACING
    return np.array([(gx, gy) for gy in grid for gx in grid], dtype=np.float64)


def _split_counts(n: int, k: int) -> np.ndarray:
    counts = np.full(k, n // k)
    counts[: n % k] += 1
    return counts


def _gaussian9(n: int, noise: float, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    centers = gaussian9_centers()
    y = np.repeat(np.arange(9), _split_counts(n, 9))
    X = centers[y] + noise * rng.standard_normal((n, 2))
    return X, y


def _circle(n: int, noise: float, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    # A disk of radius 0.5 (class 0) inside a ring 0.8 <= r <= 1 (class 1).
    y = np.repeat(np.arange(2), _split_counts(n, 2))
    radius = np.where(y == 0, 0.5 * np.sqrt(rng.uniform(size=n)), rng.uniform(0.8, 1.0, size=n))
    angle = rng.uniform(0, 2 * np.pi, size=n)
    X = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return X + noise * rng.standard_normal(X.shape), y


def _circle3d(n: int, noise: float, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    # ``circle`` in three dimensions: a ball of radius 0.5 (class 0, uniform in volume)
    # inside a shell 0.8 <= r <= 1 (class 1, radius uniform as in the 2-D set).
    y = np.repeat(np.arange(2), _split_counts(n, 2))
    radius = np.where(y == 0, 0.5 * rng.uniform(size=n) ** (1 / 3), rng.uniform(0.8, 1.0, size=n))
    direction = rng.standard_normal((n, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    X = radius[:, None] * direction
    return X + noise * rng.standard_normal(X.shape), y


def _two_circles(n: int, noise: float, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    return make_circles(n_samples=n, factor=0.5, noise=noise, random_state=rng)


def _moons(n: int, noise: float, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    return make_moons(n_samples=n, noise=noise, random_state=rng)


def _cube(dim: int) -> Callable[[int, float, np.random.RandomState], tuple[np.ndarray, np.ndarray]]:
    def make(n: int, noise: float, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
        # Uniform points in [0, 1]^dim; the class is the cell of a 2-per-axis grid
        # (4 classes in 2-D, 8 octants in 3-D), read as a binary number.
        X = rng.uniform(size=(n, dim))
        y = ((X >= 0.5).astype(np.int64) * (2 ** np.arange(dim))).sum(1)
        return X + noise * rng.standard_normal(X.shape), y

    return make


TOY_DATASETS: dict[str, tuple[Callable[..., tuple[np.ndarray, np.ndarray]], float]] = {
    "gaussian9": (_gaussian9, 0.1),
    "circle": (_circle, 0.02),
    "circle3d": (_circle3d, 0.02),
    "two_circles": (_two_circles, 0.05),
    "moons": (_moons, 0.1),
    "cube2d": (_cube(2), 0.0),
    "cube3d": (_cube(3), 0.0),
}


def make_toy(
    name: str,
    n_samples: int = 900,
    *,
    noise: float | None = None,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Generate a toy classification set.

    Parameters
    ----------
    name : str
        ``gaussian9`` (3x3 grid of Gaussian blobs, 9 classes), ``circle`` (a disk inside a
        ring), ``circle3d`` (a ball inside a spherical shell), ``two_circles``, ``moons``, ``cube2d`` and ``cube3d`` (class = cell of a
        2-per-axis grid on the unit cube: 4 and 8 classes).
    n_samples : int, default=900
    noise : float, optional
        Standard deviation of the Gaussian noise (each set has its own default).
    random_state : int, RandomState or None

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,), int64
    """
    if name not in TOY_DATASETS:
        raise ValueError(f"Unknown toy data set {name!r}; known names: {', '.join(TOY_DATASETS)}")
    if not is_int_at_least(n_samples, 1):
        raise ValueError(f"n_samples must be a positive integer; got {n_samples!r}")
    maker, default_noise = TOY_DATASETS[name]
    noise = default_noise if noise is None else noise
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a float >= 0; got {noise!r}")
    rng = check_random_state(random_state)
    X, y = maker(int(n_samples), float(noise), rng)
    return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)
