"""The GenMix report's figures, drawn on ``matplotlib.figure.Figure`` (no pyplot).

They read the ``.npz`` files the experiment leaves for its figure trial (trial 0):

* ``genmix_points_circle.png``: the GenMix points of the GM and the GAN densities over the
  circle's training points;
* ``decision_regions_circle.png``: P(class 1) and the decision boundary of the vanilla,
  mixup, GenMix-GM and GenMix-GAN models on the circle;
* ``genmix_images_mnist79.png``: generated 7/9 images of GenMix with the GM and the GAN.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..bench.plots import save

__all__ = ["decision_regions", "genmix_figures", "genmix_images", "genmix_points"]

_TITLES = {
    "vanilla": "vanilla",
    "mixup": "mixup",
    "manifold_mixup": "manifold mixup",
    "genmix_gm": "GenMix, GM",
    "genmix_gan": "GenMix, GAN",
}
_COLORS = ("tab:blue", "tab:red")


def _load(path: Path) -> dict[str, np.ndarray] | None:
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as arrays:
        return {key: arrays[key] for key in arrays.files}


def _lam_text(lam: np.ndarray) -> str:
    if lam.size and np.allclose(lam, lam[0]):
        return f"λ = {lam[0]:g}"
    return "λ ~ U(0, 1)"


def _scatter_data(ax, data: dict[str, np.ndarray]) -> None:
    X, y = data["X_train"], data["y_train"]
    for c in np.unique(y):
        ax.scatter(*X[y == c, :2].T, s=6, color=_COLORS[int(c) % 2], label=f"class {c}")


def _panel_row(
    panels: dict[str, dict[str, np.ndarray]], width: float, height: float
) -> tuple[Figure, Iterator[tuple[Any, tuple[str, dict[str, np.ndarray]]]]]:
    """A figure of one row of ``width`` x ``height`` panels, and (axes, (scheme, arrays)) pairs."""
    fig = Figure(figsize=(width * len(panels), height))
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    return fig, zip(axes, panels.items(), strict=True)


def genmix_points(
    data: dict[str, np.ndarray], generated: dict[str, dict[str, np.ndarray]], path: Path
) -> Path:
    """One panel per density: training points and the GenMix points (black) over them."""
    fig, panels = _panel_row(generated, 5, 5)
    for ax, (scheme, arrays) in panels:
        _scatter_data(ax, data)
        ax.scatter(*arrays["mix_x"][:, :2].T, s=8, color="black", label="GenMix points")
        ax.set_title(
            f"{_TITLES[scheme]}: {len(arrays['mix_x'])} points, {_lam_text(arrays['mix_lam'])}"
        )
        ax.set_aspect("equal")
        ax.legend(loc="upper right", fontsize=7)
    return save(fig, path)


def decision_regions(
    data: dict[str, np.ndarray], grids: dict[str, dict[str, np.ndarray]], path: Path
) -> Path:
    """One panel per scheme: P(class 1) on a grid, the 0.5 contour, the training points."""
    fig, panels = _panel_row(grids, 4.2, 4.4)
    for ax, (scheme, arrays) in panels:
        gx, gy, proba = arrays["grid_x"], arrays["grid_y"], arrays["grid_proba"]
        ax.contourf(gx, gy, proba, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.45)
        ax.contour(gx, gy, proba, levels=[0.5], colors="black", linewidths=1.5)
        _scatter_data(ax, data)
        ax.set_title(_TITLES[scheme])
        ax.set_aspect("equal")
    return save(fig, path)


def _mosaic(images: np.ndarray, shape: tuple[int, int], columns: int = 8) -> np.ndarray:
    """Images (n, h*w) tiled into rows of ``columns``, one light grey pixel between them."""
    h, w = shape
    rows = -(-len(images) // columns)
    canvas = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1), 0.25)
    for n, image in enumerate(np.clip(images, 0, 1).reshape(-1, h, w)):
        r, c = divmod(n, columns)
        canvas[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = image
    return canvas


def genmix_images(generated: dict[str, dict[str, np.ndarray]], path: Path) -> Path:
    """One mosaic of generated images per density (the first points of each ordered pair)."""
    fig, panels = _panel_row(generated, 5.5, 3.6)
    for ax, (scheme, arrays) in panels:
        ax.imshow(_mosaic(arrays["mix_x"], (28, 28)), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"{_TITLES[scheme]} ({_lam_text(arrays['mix_lam'])}): 7 ↔ 9")
        ax.axis("off")
    return save(fig, path)


def _present(folder: Path, dataset: str, schemes: tuple[str, ...], key: str) -> dict:
    found = {s: _load(folder / f"{dataset}_{s}.npz") for s in schemes}
    return {s: arrays for s, arrays in found.items() if arrays is not None and key in arrays}


def genmix_figures(artifacts: Path, out: Path) -> tuple[list[str], list[Path]]:
    """The figures that the artifacts of the figure trial allow, and report lines on them."""
    out.mkdir(parents=True, exist_ok=True)
    lines = ["## Figures (trial 0)", ""]
    paths: list[Path] = []
    circle = _load(artifacts / "circle_data.npz")
    points = _present(artifacts, "circle", ("genmix_gm", "genmix_gan"), "mix_x")
    if circle is not None and points:
        paths.append(genmix_points(circle, points, out / "genmix_points_circle.png"))
        lines.append(f"- `{paths[-1].name}`: GenMix points over the circle's training points.")
    schemes = ("vanilla", "mixup", "genmix_gm", "genmix_gan")
    grids = _present(artifacts, "circle", schemes, "grid_proba")
    if circle is not None and grids:
        paths.append(decision_regions(circle, grids, out / "decision_regions_circle.png"))
        lines.append(
            f"- `{paths[-1].name}`: P(class 1) and the decision boundary (black) on the circle."
        )
    images = _present(artifacts, "mnist79", ("genmix_gm", "genmix_gan"), "mix_x")
    if images:
        paths.append(genmix_images(images, out / "genmix_images_mnist79.png"))
        lines.append(f"- `{paths[-1].name}`: GenMix images between 7s and 9s.")
    if not paths:
        lines.append(f"No figure data in {artifacts} (the run of trial 0 writes them).")
    return [*lines, ""], paths
