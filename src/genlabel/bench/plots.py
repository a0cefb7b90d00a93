"""The report's PNG plots, drawn on ``matplotlib.figure.Figure`` objects.

No pyplot and no ``matplotlib.use``: importing the package never changes a notebook
user's backend.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = [
    "diagnostics_curves",
    "difference_histogram",
    "label_diagnostics_plot",
    "method_boxplot",
    "method_points",
    "reliability_curves",
    "reliability_diagram",
    "robust_vs_eps",
    "safe_name",
    "save",
]

TIE_POINTS = 0.5
#: Fewer data sets than this: no histogram of the differences and no box plot of the
#: per-data-set means (a box of one or three points says nothing); the report plots every
#: trial's accuracy with the mean instead.
FEW_DATA_SETS = 5

#: The longest name part :func:`safe_name` keeps (the rest is replaced by a hash).
_NAME_CHARS = 80


def safe_name(name: object) -> str:
    """A name read from a store (data set, method, model, attack) as a part of a file name:
    letters, digits, ``.``, ``_`` and ``-`` only, no leading dot; a name that had to change
    gets a short hash of the original, so that two names never share a file
    (``x/../../escaped`` -> ``x_.._.._escaped-<hash>``)."""
    text = str(name)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", text).lstrip(".") or "_"
    if safe != text or len(safe) > _NAME_CHARS:  # a file name has at most 255 bytes
        safe = f"{safe[:_NAME_CHARS]}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"
    return safe


def _png(out: Path, stem: str) -> Path:
    """``out/stem.png``, checked to be a file directly in ``out``."""
    path = out / f"{stem}.png"
    if "/" in stem or "\\" in stem or path.resolve().parent != out.resolve():
        raise ValueError(f"refusing to write {path}: outside the report folder {out}")
    return path


def save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def difference_histogram(
    diff: pd.Series, model: str, alpha: float, out: Path, *, label: str
) -> Path:
    """Histogram of per-data-set accuracy differences (points), the on-par band shaded."""
    fig = histogram_figure(diff, model, alpha, label=label)
    return save(fig, _png(out, f"hist_genlabel_cv_minus_mixup_{safe_name(model)}_alpha{alpha:g}"))


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
    return save(fig, _png(out, f"accuracy_by_method_{safe_name(model)}_alpha{alpha:g}"))


def method_points(part: pd.DataFrame, model: str, alpha: float, names, order, out: Path) -> Path:
    """Every trial's test accuracy (points) and their mean (a bar) per method, one colour per
    data set: the plot for a few data sets, where a box plot would have a point per box."""
    methods = order(part.method.unique())
    datasets = list(dict.fromkeys(part.dataset))
    fig = Figure(figsize=(max(6, 1.1 * len(methods)), 4.8))
    ax = fig.subplots()
    width = 0.7 / len(datasets)
    for j, dataset in enumerate(datasets):
        rows = part[part.dataset == dataset]
        colour, label = f"C{j % 10}", str(names[dataset])
        for i, method in enumerate(methods):
            acc = 100 * rows.loc[rows.method == method, "test_accuracy"].to_numpy()
            if not len(acc):
                continue
            x = i + 1 + (j - (len(datasets) - 1) / 2) * width
            ax.scatter(np.full(len(acc), x), acc, s=20, color=colour, alpha=0.6, lw=0)
            ax.hlines(acc.mean(), x - width / 2.5, x + width / 2.5, color=colour, lw=2.5,
                      label=label)  # fmt: skip
            label = "_nolegend_"  # one legend entry per data set
    ax.set_xticks(range(1, len(methods) + 1), methods, rotation=30, ha="right")
    ax.set_ylabel("test accuracy [%]")
    trials = int(part.groupby(["dataset", "method"]).size().max())
    ax.set_title(
        f"Accuracy by method, model {model}, α = {alpha:g}\n"
        f"(dots: {'each trial' if trials > 1 else 'one trial'}; bar: mean)"
    )
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return save(fig, _png(out, f"accuracy_by_method_{safe_name(model)}_alpha{alpha:g}"))


def robust_vs_eps(
    part: pd.DataFrame,
    model: str,
    alpha: float,
    names: dict[str, str],
    order,
    out: Path,
    attack: str | None = None,
) -> list[Path]:
    """Robust accuracy against eps, one plot per data set, one line per method (``attack``
    names the attack in the title and the file name, when a run had several)."""
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
        by = f"{attack}, " if attack else ""
        ax.set_title(f"{names[dataset]}: robust accuracy vs eps ({by}{model}, α = {alpha:g})")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        which = f"{safe_name(attack)}_" if attack else ""
        stem = f"robust_vs_eps_{which}{safe_name(dataset)}_{safe_name(model)}_alpha{alpha:g}"
        paths.append(save(fig, _png(out, stem)))
    return paths


def reliability_curves(rows: pd.DataFrame) -> pd.DataFrame:
    """Pool the ``reliability`` bins (JSON) of several cells (trials) of one method.

    Per bin: the summed count, and the count-weighted mean confidence and accuracy (NaN
    for a bin no cell filled). Returns a frame with columns count, confidence, accuracy.
    """
    bins = [json.loads(text) for text in rows.reliability.dropna()]
    count = np.sum([np.asarray(b["count"], dtype=float) for b in bins], axis=0)
    sums = {}
    for key in ("confidence", "accuracy"):
        values = [np.nan_to_num(np.asarray(b[key], dtype=float)) * b["count"] for b in bins]
        sums[key] = np.sum(values, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({"count": count} | {key: total / count for key, total in sums.items()})


def reliability_diagram(
    part: pd.DataFrame, dataset: str, model: str, alpha: float, name: str, order, out: Path
) -> Path:
    """Accuracy against confidence per confidence bin, one line per method, pooled over
    trials; the diagonal is perfect calibration. ``part``: the clean cells of one data set,
    model and alpha, with their ``reliability`` JSON."""
    fig = Figure(figsize=(6.5, 5.5))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="calibrated")
    for method in order(part.method.unique()):
        rows = part[part.method == method]
        curve = reliability_curves(rows)
        curve = curve[curve["count"] > 0]
        ece = 100 * rows.ece.mean()
        ax.plot(
            curve.confidence, curve.accuracy, marker="o", ms=3, label=f"{method} (ECE {ece:.1f} %)"
        )
    ax.set_xlabel("mean confidence in the bin")
    ax.set_ylabel("accuracy in the bin")
    ax.set_title(f"{name}: reliability ({model}, α = {alpha:g}, 15 bins, trials pooled)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    stem = f"reliability_{safe_name(dataset)}_{safe_name(model)}_alpha{alpha:g}"
    return save(fig, _png(out, stem))


#: The label diagnostics as the plots name them.
_DIAGNOSTIC_TITLES = {
    "third_class_share": "largest share on a third class",
    "one_hot_share": "one-hot labels (≥ 0.99)",
    "mixed_weight": "mean weight on the two mixed classes",
}


def diagnostics_curves(rows: pd.DataFrame) -> pd.DataFrame:
    """Per-epoch label diagnostics of a method's cells, averaged over the trials: a row per
    epoch, a column per diagnostic. ``rows``: cells with their ``label_diagnostics`` JSON."""
    epochs = [
        pd.DataFrame(json.loads(text))
        for text in rows.label_diagnostics
        if isinstance(text, str) and text
    ]
    if not epochs:
        return pd.DataFrame(columns=["epoch", *_DIAGNOSTIC_TITLES])
    frame = pd.concat(epochs).astype(float)
    return frame.groupby("epoch", as_index=False).mean()


def label_diagnostics_plot(
    part: pd.DataFrame, dataset: str, model: str, alpha: float, name: str, order, out: Path
) -> Path:
    """The label diagnostics of cross-class mixes across the epochs, one line per method
    (mean over trials), a panel per diagnostic. ``part``: the cells of one data set, model
    and alpha, with their ``label_diagnostics`` JSON."""
    fig = Figure(figsize=(13, 4))
    axes = fig.subplots(1, len(_DIAGNOSTIC_TITLES))
    for method in order(part.method.unique()):
        curve = diagnostics_curves(part[part.method == method])
        if curve.empty:
            continue
        for ax, key in zip(axes, _DIAGNOSTIC_TITLES, strict=True):
            ax.plot(curve.epoch + 1, curve[key], marker="o", ms=3, label=method)
    for ax, title in zip(axes, _DIAGNOSTIC_TITLES.values(), strict=True):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylim(-0.02, 1.02)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{name}: labels of cross-class mixes ({model}, α = {alpha:g}, mean of trials)")
    stem = f"label_diagnostics_{safe_name(dataset)}_{safe_name(model)}_alpha{alpha:g}"
    return save(fig, _png(out, stem))
