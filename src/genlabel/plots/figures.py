"""The analysis figures, written as PNG files by ``genlabel figures``.

Drawn on ``matplotlib.figure.Figure`` objects: no pyplot, no backend change at import.
Each PNG has a JSON sidecar (``decision_boundaries.json`` beside ``decision_boundaries.png``)
holding a hash of what the picture depends on; a figure whose hash is unchanged is kept, not
redrawn (a resumed ``genlabel demo`` skips them).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from ..analysis import intrusion_share, mixed_top1, proposition1_labels
from ..analysis.theorem1 import theorem1_losses
from ..analysis.toy_training import TOY_METHODS, train_toy_mlp
from ..data.toy import make_toy
from ..labels import LABEL_RULES

__all__ = ["FIGURES", "FIGURE_STEPS", "unchanged_figures", "write_figures"]

#: A figure's progress: called once per step it has done (a model trained, a rule labelled).
Tick = Callable[[], None]


def _no_tick() -> None:
    pass


_TITLES = {"vanilla": "vanilla", "mixup": "mixup", "genlabel": "mixup + GenLabel"}


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def _subplots(*shape: int, **kwargs):
    """A Figure (no pyplot, no backend change) and its axes."""
    fig = Figure(figsize=kwargs.pop("figsize"))
    return fig, fig.subplots(*shape, **kwargs)


def intrusion_maps(out: Path, seed: int = 0, *, tick: Tick = _no_tick) -> Path:
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
        tick()
    axes[0].set_ylabel("x2")
    fig.suptitle(
        "Top-1 label of mixed points on gaussian9 (colour = class; large dots = training data)"
    )
    return _save(fig, out / "intrusion_maps.png")


#: The decision boundaries' training epochs and evaluation grid (points per axis).
BOUNDARY_EPOCHS = 60
BOUNDARY_GRID = 250


def decision_boundaries(
    out: Path,
    seed: int = 0,
    *,
    epochs: int = BOUNDARY_EPOCHS,
    grid_size: int = BOUNDARY_GRID,
    tick: Tick = _no_tick,
) -> Path:
    """Decision regions of vanilla, mixup and mixup + GenLabel on three toy sets."""
    # GM suits Gaussian blobs; the curved classes need the KDE density.
    sets = [("gaussian9", 900, "gm"), ("two_circles", 600, "kde"), ("moons", 600, "kde")]
    fig, axes = _subplots(len(sets), len(TOY_METHODS), figsize=(13.5, 12))
    cmap = matplotlib.colormaps["tab10"]
    for row, (name, n, density) in enumerate(sets):
        X, y = make_toy(name, n, random_state=seed)
        pad = 0.5
        xs = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, grid_size)
        ys = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, grid_size)
        gx, gy = np.meshgrid(xs, ys)
        grid = torch.tensor(np.c_[gx.ravel(), gy.ravel()], dtype=torch.float32)
        k = int(y.max()) + 1
        for col, method in enumerate(TOY_METHODS):
            model = train_toy_mlp(X, y, method, density=density, epochs=epochs, seed=seed)
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
            tick()
    fig.suptitle(f"Decision boundaries (2-hidden-layer ReLU MLP, {epochs} epochs, Adam)")
    return _save(fig, out / "decision_boundaries.png")


def proposition1(out: Path, *, tick: Tick = _no_tick) -> Path:
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
    tick()
    return _save(fig, out / "proposition1.png")


def theorem1(out: Path, *, tick: Tick = _no_tick) -> Path:
    """Mixup, GenLabel and adversarial losses of theta = 10 (cos phi, sin phi)."""
    phi = np.linspace(-np.pi / 4, np.pi / 4, 61)
    losses = theorem1_losses(phi)
    tick()
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


def intrusion_bars(out: Path, seed: int = 0, *, tick: Tick = _no_tick) -> Path:
    """Share of mixed points labelled off their region, per label rule, on two toy sets."""
    # (name, n, toy regions, density): Bayes regions where known, else nearest training point.
    sets = [("gaussian9", 900, "gaussian9", "gm"), ("moons", 600, None, "kde")]
    fig, ax = _subplots(figsize=(10, 5))
    width = 0.38
    pos = np.arange(len(LABEL_RULES))
    for s, (name, n, toy, density) in enumerate(sets):
        X, y = make_toy(name, n, random_state=seed)
        shares = []
        for rule in LABEL_RULES:
            shares.append(
                100 * intrusion_share(X, y, rule, toy=toy, density=density, random_state=seed)
            )
            tick()
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
#: How many times each figure ticks its progress (its steps).
FIGURE_STEPS = {
    "intrusion_maps": 2,
    "decision_boundaries": 9,
    "proposition1": 1,
    "theorem1": 1,
    "intrusion_share": 2 * len(LABEL_RULES),
}

# What every picture depends on besides its settings (which are in its code): the sources
# of the analyses, the toy data and what trains and labels them, and the libraries that
# compute and draw. (More than a figure needs: a change there redraws, at worst, in vain.)
_SOURCES = (
    "plots/figures.py", "analysis/*.py", "data/toy.py", "labels/*.py", "density/*.py",
    "mixing/*.py", "losses.py", "models/*.py", "training/*.py", "_validation.py",
)  # fmt: skip


@functools.cache
def _sources_digest() -> str:
    """The hash of the sources and library versions every figure depends on, read once per
    process (every figure's hash, checked and written, shares it)."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for pattern in _SOURCES:
        for path in sorted(package.glob(pattern)):
            digest.update(path.read_bytes())
    from .. import __version__

    for version in (__version__, torch.__version__, matplotlib.__version__, np.__version__):
        digest.update(version.encode())
    return digest.hexdigest()


def _inputs_hash(name: str) -> str:
    """A hash of what figure ``name`` depends on (its code and its settings are in the
    sources hashed here; a redraw of unchanged inputs gives the same picture)."""
    return hashlib.sha256(f"{name}\n{_sources_digest()}".encode()).hexdigest()


def _sidecar(out: Path, name: str) -> Path:
    return out / f"{name}.json"


def unchanged_figures(out: str | Path, names: list[str] | None = None) -> list[str]:
    """The figures among ``names`` (all by default) whose PNG in ``out`` was drawn from the
    same inputs as now (their JSON sidecar holds the same hash); ``write_figures`` keeps them.

    Parameters
    ----------
    out : str or Path
        The folder of the figures.
    names : list of str, optional
        The figures to check (default: all of them).

    Returns
    -------
    list of str
        The names of the figures that need not be drawn again.
    """
    out = Path(out)
    kept = []
    for name in list(FIGURES) if names is None else names:
        try:
            stored = json.loads(_sidecar(out, name).read_text()).get("inputs")
        except (OSError, ValueError, AttributeError):
            continue  # no sidecar, or not one we wrote: draw again
        if stored == _inputs_hash(name) and (out / f"{name}.png").is_file():
            kept.append(name)
    return kept


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def write_figures(
    out: str | Path,
    names: list[str] | None = None,
    *,
    redraw: bool = False,
    progress: bool = False,
) -> list[Path]:
    """Write the named figures (all by default) into ``out``; return their paths.

    A figure whose inputs did not change since it was drawn there is kept (see
    :func:`unchanged_figures`).

    Parameters
    ----------
    out : str or Path
        The folder (created if needed).
    names : list of str, optional
        Names of :data:`FIGURES`; all of them by default.
    redraw : bool, default False
        Draw every figure, changed or not.
    progress : bool, default False
        Show a bar that moves with each figure's steps (:data:`FIGURE_STEPS`).

    Returns
    -------
    list of Path
        The PNG files, drawn or kept.

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
    kept = set() if redraw else set(unchanged_figures(out, names))
    todo = [name for name in names if name not in kept]
    bar = tqdm(
        total=sum(FIGURE_STEPS[name] for name in todo), desc="figures", unit="step",
        disable=not progress or not todo,
    )  # fmt: skip
    # One thread: these models and batches are tiny, and a second thread only adds
    # synchronisation (20 times slower on a busy 2-core machine).
    with bar, _torch_threads(1):
        for name in todo:
            bar.set_postfix_str(name)
            _sidecar(out, name).unlink(missing_ok=True)  # a drawing cut short is not kept
            FIGURES[name](out, tick=lambda: bar.update(1))
            record = {"figure": name, "inputs": _inputs_hash(name)}
            _sidecar(out, name).write_text(json.dumps(record, indent=1) + "\n")
    return [out / f"{name}.png" for name in names]
