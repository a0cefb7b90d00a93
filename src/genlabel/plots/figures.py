"""The analysis figures, written as PNG files by ``genlabel figures``.

Drawn on ``matplotlib.figure.Figure`` objects: no pyplot, no backend change at import.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure

from ..analysis import intrusion_share, mixed_top1, proposition1_labels
from ..analysis.theorem1 import theorem1_losses
from ..analysis.toy_training import TOY_METHODS, train_toy_mlp
from ..data.toy import make_toy
from ..labels import LABEL_RULES

__all__ = ["FIGURES", "write_figures"]

_TITLES = {"vanilla": "vanilla", "mixup": "mixup", "genlabel": "mixup + GenLabel"}


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def _subplots(*shape: int, **kwargs):
    """A Figure (no pyplot, no backend change) and its axes."""
    fig = Figure(figsize=kwargs.pop("figsize"))
    return fig, fig.subplots(*shape, **kwargs)


def intrusion_maps(out: Path, seed: int = 0) -> Path:
    """Top-1 label of mixed points on gaussian9 under y_mix and y_gen, side by side."""
    X, y = make_toy("gaussian9", 900, random_state=seed)
    fig, axes = _subplots(1, 2, figsize=(11, 5.2), sharex=True, sharey=True)
    cmap = matplotlib.colormaps["tab10"]
    for ax, rule, title in zip(
        axes, ("linear", "genlabel"), ("mixup label y_mix", "GenLabel label y_gen"), strict=False
    ):
        points, top1, _ = mixed_top1(X, y, rule, n_mix=6000, random_state=seed)
        share = intrusion_share(X, y, rule, toy="gaussian9", n_mix=6000, random_state=seed)
        ax.scatter(points[:, 0], points[:, 1], c=cmap(top1 % 10), s=3, alpha=0.5)
        ax.scatter(X[:, 0], X[:, 1], c=cmap(y % 10), s=12, edgecolors="black", linewidths=0.4)
        ax.set_title(f"{title}: {100 * share:.1f} % labelled off their region")
        ax.set_xlabel("x1")
        ax.set_aspect("equal")
    axes[0].set_ylabel("x2")
    fig.suptitle(
        "Top-1 label of mixed points on gaussian9 (colour = class; large dots = training data)"
    )
    return _save(fig, out / "intrusion_maps.png")


def decision_boundaries(out: Path, seed: int = 0) -> Path:
    """Decision regions of vanilla, mixup and mixup + GenLabel on three toy sets."""
    # GM suits Gaussian blobs; the curved classes need the KDE density.
    sets = [("gaussian9", 900, "gm"), ("two_circles", 600, "kde"), ("moons", 600, "kde")]
    fig, axes = _subplots(len(sets), len(TOY_METHODS), figsize=(13.5, 12))
    cmap = matplotlib.colormaps["tab10"]
    for row, (name, n, density) in enumerate(sets):
        X, y = make_toy(name, n, random_state=seed)
        pad = 0.5
        xs = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, 250)
        ys = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, 250)
        gx, gy = np.meshgrid(xs, ys)
        grid = torch.tensor(np.c_[gx.ravel(), gy.ravel()], dtype=torch.float32)
        k = int(y.max()) + 1
        for col, method in enumerate(TOY_METHODS):
            model = train_toy_mlp(X, y, method, density=density, seed=seed)
            with torch.no_grad():
                pred = model(grid).argmax(1).numpy().reshape(gx.shape)
                acc = float(
                    (model(torch.tensor(X, dtype=torch.float32)).argmax(1).numpy() == y).mean()
                )
            ax = axes[row, col]
            ax.contourf(
                gx,
                gy,
                pred,
                levels=np.arange(k + 1) - 0.5,
                colors=[cmap(c % 10) for c in range(k)],
                alpha=0.3,
            )
            ax.contour(gx, gy, pred, levels=np.arange(k + 1) - 0.5, colors="black", linewidths=0.6)
            ax.scatter(X[:, 0], X[:, 1], c=cmap(y % 10), s=6, edgecolors="black", linewidths=0.2)
            title = _TITLES[method] + (f" ({density.upper()})" if method == "genlabel" else "")
            ax.set_title(f"{name}: {title}\ntrain accuracy {100 * acc:.0f} %", fontsize=10)
            ax.set_xlabel("x1")
            ax.set_ylabel("x2")
    fig.suptitle("Decision boundaries (2-hidden-layer ReLU MLP, 150 epochs, Adam)")
    return _save(fig, out / "decision_boundaries.png")


def proposition1(out: Path) -> Path:
    """Labels of class 1 at x = lam: mixup's, the logistic closed form and GenLabel's."""
    lam = np.linspace(0, 1, 201)
    fig, ax = _subplots(figsize=(7, 5))
    ax.plot(lam, lam, color="black", lw=2, label="mixup: y = λ")
    for sigma2, color in zip(
        (0.05, 0.1, 0.25, 0.5),
        matplotlib.colormaps["viridis"](np.linspace(0, 0.85, 4)),
        strict=False,
    ):
        labels = proposition1_labels(lam, sigma2)
        ax.plot(
            lam, labels["logistic"], color=color, lw=3, alpha=0.5, label=f"logistic, σ² = {sigma2}"
        )
        ax.plot(
            lam,
            labels["genlabel"],
            color=color,
            lw=1.2,
            ls="--",
            label=f"GenLabel (GM), σ² = {sigma2}",
        )
    ax.set_xlabel("mixing coefficient λ (x_mix = λ)")
    ax.set_ylabel("label of class 1")
    ax.set_title("Proposition 1: GenLabel on N(0, σ²) vs N(1, σ²) is logistic labeling")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, out / "proposition1.png")


def theorem1(out: Path) -> Path:
    """Mixup, GenLabel and adversarial losses of theta = 10 (cos phi, sin phi)."""
    phi = np.linspace(-np.pi / 4, np.pi / 4, 61)
    losses = theorem1_losses(phi)
    fig, ax = _subplots(figsize=(7, 5))
    for key, label, style in (
        ("mixup", "mixup loss", "-"),
        ("genlabel", "mixup + GenLabel loss", "-"),
        ("adversarial", "adversarial loss (ε = 0.5)", "--"),
    ):
        ax.plot(np.degrees(phi), losses[key], style, lw=2, label=label)
    ax.set_xlabel("angle φ of θ = 10 (cos φ, sin φ) [degrees]")
    ax.set_ylabel("expected loss")
    ax.set_title("Theorem 1: classes N(±[1, 0], I/100), 20 points each")
    ax.legend()
    ax.grid(alpha=0.3)
    return _save(fig, out / "theorem1.png")


def intrusion_bars(out: Path, seed: int = 0) -> Path:
    """Share of mixed points labelled off their region, per label rule, on two toy sets."""
    # (name, n, toy regions, density): Bayes regions where known, else nearest training point.
    sets = [("gaussian9", 900, "gaussian9", "gm"), ("moons", 600, None, "kde")]
    fig, ax = _subplots(figsize=(10, 5))
    width = 0.38
    pos = np.arange(len(LABEL_RULES))
    for s, (name, n, toy, density) in enumerate(sets):
        X, y = make_toy(name, n, random_state=seed)
        shares = [
            100 * intrusion_share(X, y, rule, toy=toy, density=density, random_state=seed)
            for rule in LABEL_RULES
        ]
        region = "Bayes class" if toy else "nearest training point"
        label = f"{name} (GenLabel: {density.upper()}; region = {region})"
        bars = ax.bar(pos + (s - 0.5) * width, shares, width, label=label)
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks(pos, LABEL_RULES, rotation=15)
    ax.set_ylabel("% of mixed points labelled off their region")
    ax.set_title(
        "Manifold intrusion per label rule (α = 1; exclusion: share among kept points;\n"
        "where the region is the nearest training point, nearest_neighbor is 0 by definition)",
        fontsize=10,
    )
    ax.legend()
    return _save(fig, out / "intrusion_share.png")


#: The figures by name (the names are ``FIGURE_NAMES``, importable without matplotlib).
FIGURES: dict[str, Callable[..., Path]] = {
    "intrusion_maps": intrusion_maps,
    "decision_boundaries": decision_boundaries,
    "proposition1": proposition1,
    "theorem1": theorem1,
    "intrusion_share": intrusion_bars,
}


def write_figures(out: str | Path, names: list[str] | None = None) -> list[Path]:
    """Write the named figures (all by default) into ``out``; return their paths.

    Parameters
    ----------
    out : str or Path
        The folder (created if needed).
    names : list of str, optional
        Names of :data:`FIGURES`; all of them by default.

    Returns
    -------
    list of Path
        The PNG files written.

    Raises
    ------
    ValueError
        An unknown figure name.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = list(FIGURES) if names is None else names
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise ValueError(f"Unknown figures {unknown}; known: {', '.join(FIGURES)}")
    return [FIGURES[name](out) for name in names]
