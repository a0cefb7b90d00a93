"""The report's PNG plots, drawn on ``matplotlib.figure.Figure`` objects.

No pyplot and no ``matplotlib.use``: importing the package never changes a notebook
user's backend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = ["difference_histogram", "method_boxplot", "robust_vs_eps", "save"]

TIE_POINTS = 0.5


def save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def difference_histogram(
    diff: pd.Series, model: str, alpha: float, out: Path, *, label: str
) -> Path:
    """Histogram of per-data-set accuracy differences (points), the on-par band shaded."""
    fig = histogram_figure(diff, model, alpha, label=label)
    return save(fig, out / f"hist_genlabel_cv_minus_mixup_{model}_alpha{alpha:g}.png")


def histogram_figure(diff: pd.Series, model: str, alpha: float, *, label: str) -> Figure:
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    ax.hist(
        diff,
        bins=np.arange(np.floor(diff.min()) - 0.5, np.ceil(diff.max()) + 1.0, 1.0).tolist(),
        color="tab:blue",
        edgecolor="black",
    )
    ax.axvline(0, color="black", lw=1)
    ax.axvspan(-TIE_POINTS, TIE_POINTS, color="grey", alpha=0.2, label=f"on par (±{TIE_POINTS})")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of data sets
    ax.set_xlabel(f"{label}, test accuracy [points]")
    ax.set_ylabel("data sets")
    ax.set_title(f"Per-data-set difference, model {model}, α = {alpha:g} ({len(diff)} data sets)")
    ax.legend()
    return fig


def method_boxplot(means: pd.DataFrame, model: str, alpha: float, out: Path) -> Path:
    """Box plot of the per-data-set mean accuracy of every method."""
    fig = Figure(figsize=(max(6, 1.1 * means.shape[1]), 4.8))
    ax = fig.subplots()
    ax.boxplot([means[m].dropna().to_numpy() for m in means.columns], showmeans=True)
    ax.set_xticks(range(1, len(means.columns) + 1), means.columns, rotation=30, ha="right")
    ax.set_ylabel("mean test accuracy per data set [%]")
    ax.set_title(f"Accuracy by method, model {model}, α = {alpha:g} (triangle = mean)")
    ax.grid(axis="y", alpha=0.3)
    return save(fig, out / f"accuracy_by_method_{model}_alpha{alpha:g}.png")


def robust_vs_eps(
    part: pd.DataFrame, model: str, alpha: float, names: dict[str, str], order, out: Path
) -> list[Path]:
    """Robust accuracy against eps, one plot per data set, one line per method."""
    part = part.assign(eps=part.measure.str.extract(r"eps([0-9.eE+-]+)$")[0].astype(float))
    paths = []
    for dataset, rows in part.groupby("dataset"):
        curve = rows.groupby(["method", "eps"]).robust_accuracy.mean().reset_index()
        fig = Figure(figsize=(6.5, 4.5))
        ax = fig.subplots()
        for method in order(curve.method.unique()):
            c = curve[curve.method == method].sort_values("eps")
            ax.plot(c.eps, 100 * c.robust_accuracy, marker="o", label=method)
        ax.set_xlabel("eps (fraction of the training value range)")
        ax.set_ylabel("robust accuracy [%]")
        ax.set_title(f"{names[dataset]}: robust accuracy vs eps ({model}, α = {alpha:g})")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        paths.append(save(fig, out / f"robust_vs_eps_{dataset}_{model}_alpha{alpha:g}.png"))
    return paths
