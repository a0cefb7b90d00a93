"""Reports from the store: report.md (tables), results.csv and PNG plots."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..data import EMBEDDED, DataError, openml_dir, read_manifest  # noqa: E402
from .protocol import BENCH_METHODS  # noqa: E402

__all__ = ["write_report", "RESULT_COLUMNS", "win_tie_loss", "complete_data_sets"]

RESULT_COLUMNS = [
    "dataset",
    "method",
    "model",
    "trial",
    "alpha",
    "test_accuracy",
    "robust_accuracy",
    "params",
    "seconds",
    "measure",
]
TIE_POINTS = 0.5


def _order(methods) -> list[str]:
    known = [m for m in BENCH_METHODS if m in set(methods)]
    return known + sorted(set(methods) - set(known))


def _names(datasets, data_dir: str | None) -> dict[str, str]:
    try:
        manifest = read_manifest(str(openml_dir(data_dir)))
    except DataError:  # no data folder: name the sets by their ids
        manifest = {}
    return {
        d: (d if d in EMBEDDED else f"{manifest.get(d, {}).get('name', d)} ({d})") for d in datasets
    }


def win_tie_loss(means: pd.DataFrame, method: str = "genlabel_cv") -> pd.DataFrame:
    """Share of data sets where ``method`` is higher (> +0.5 points), on par or lower than each baseline.

    ``means``: mean test accuracy in percent, a row per data set and a column per method.
    """
    rows = []
    for base in means.columns:
        if base == method:
            continue
        pair = means[[method, base]].dropna()
        if pair.empty:
            continue
        diff = pair[method] - pair[base]
        n = len(diff)
        rows.append(
            {
                "baseline": base,
                "data sets": n,
                "higher": f"{100 * (diff > TIE_POINTS).mean():.0f} %",
                "on par": f"{100 * (diff.abs() <= TIE_POINTS).mean():.0f} %",
                "lower": f"{100 * (diff < -TIE_POINTS).mean():.0f} %",
                "mean difference (points)": f"{diff.mean():+.2f}",
            }
        )
    return pd.DataFrame(rows)


def complete_data_sets(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of the data sets with every cell that the most complete data set has."""
    group = ["model", "alpha", "measure"]
    counts = frame.groupby([*group, "dataset"]).size().rename("cells").reset_index()
    full = counts.groupby(group).cells.transform("max")
    keep = counts[counts.cells == full][[*group, "dataset"]]
    return frame.merge(keep, on=[*group, "dataset"])


def _markdown(df: pd.DataFrame) -> str:
    header = "| " + " | ".join(str(c) for c in df.columns) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([header, sep, *body])


def _accuracy_table(
    clean: pd.DataFrame, names: dict[str, str], value: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    stats = clean.groupby(["dataset", "method"])[value].agg(["mean", "std", "count"]).reset_index()
    stats["mean"] *= 100
    stats["std"] = stats["std"].fillna(0.0) * 100
    means = stats.pivot(index="dataset", columns="method", values="mean")
    means = means[_order(means.columns)]
    table = pd.DataFrame({"data set": [names[d] for d in means.index]})
    best = means.max(axis=1)
    for method in means.columns:
        cells = []
        for d in means.index:
            row = stats[(stats.dataset == d) & (stats.method == method)]
            if row.empty:
                cells.append("")
                continue
            text = f"{row['mean'].iloc[0]:.1f} ± {row['std'].iloc[0]:.1f}"
            cells.append(f"**{text}**" if np.isclose(row["mean"].iloc[0], best[d]) else text)
        table[method] = cells
    return table, means


def write_report(
    frame: pd.DataFrame,
    out: str | Path,
    *,
    data_dir: str | None = None,
    runs: pd.DataFrame | None = None,
    complete_only: bool = False,
) -> list[Path]:
    """Write report.md, results.csv and the PNG plots into ``out``; return the paths.

    ``runs`` (``ResultStore.runs()``): the run segments, whose wall-clock time is reported.
    ``complete_only``: keep only the data sets that have as many cells as the most complete
    one (per model, alpha and measure), e.g. to report on a suite that is still running.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    note: list[str] = []
    if complete_only and not frame.empty:
        before = frame.dataset.nunique()
        frame = complete_data_sets(frame)
        note = [
            f"Only the {frame.dataset.nunique()} of {before} data sets that have every cell"
            " (`--complete-only`).",
            "",
        ]
    written = []
    csv_path = out / "results.csv"
    frame.reindex(columns=RESULT_COLUMNS).to_csv(csv_path, index=False)
    written.append(csv_path)
    if frame.empty:
        (out / "report.md").write_text(
            "# GenLabel benchmark report\n\nThe store holds no results yet.\n"
        )
        return [*written, out / "report.md"]
    names = _names(frame.dataset.unique(), data_dir)
    lines = ["# GenLabel benchmark report", "", *note]
    clean = frame[frame.measure == "clean"]
    for (model, alpha), part in clean.groupby(["model", "alpha"]):
        trials = part.groupby(["dataset", "method"]).size()
        lines += [
            f"## Test accuracy — model `{model}`, α = {alpha:g}",
            "",
            f"Mean ± std in percent over {trials.min()}–{trials.max()} trials per cell; best of each data set in bold.",
            "",
        ]
        table, means = _accuracy_table(part, names, "test_accuracy")
        lines += [_markdown(table), ""]
        if "genlabel_cv" in means.columns and means.shape[1] > 1:
            lines += [
                f"### GenLabel (CV) against each baseline (±{TIE_POINTS} points = on par)",
                "",
                _markdown(win_tie_loss(means)),
                "",
            ]
            if "mixup" in means.columns:
                written.append(_difference_histogram(means, model, alpha, out))
        written.append(_method_plot(means, model, alpha, out))
    robust = frame[frame.measure != "clean"]
    for (model, alpha, measure), part in robust.groupby(["model", "alpha", "measure"]):
        lines += [
            f"## Robust accuracy — model `{model}`, α = {alpha:g}, `{measure}`",
            "",
            "Mean ± std in percent; a point counts only if its clean and attacked predictions are both correct.",
            "",
        ]
        table, _ = _accuracy_table(part, names, "robust_accuracy")
        lines += [_markdown(table), ""]
    for (model, alpha), part in robust.groupby(["model", "alpha"]):
        if part.measure.nunique() > 1:
            written += _robust_vs_eps(part, model, alpha, names, out)
    lines += ["## Run settings", ""]
    for config, versions in frame[["config", "versions"]].drop_duplicates().itertuples(index=False):
        lines += [f"- settings: `{config}`", f"- versions: `{versions}`"]
    seconds = frame.drop_duplicates(
        subset=["dataset", "method", "model", "trial", "alpha"]
    ).seconds.sum()
    lines += [f"- cells: {len(frame)}; compute time summed over cells: {seconds / 60:.1f} min"]
    if runs is not None and len(runs):
        killed = int(runs.finished.isna().sum())
        jobs = ", ".join(str(j) for j in sorted(runs.n_jobs.unique()))
        lines += [
            f"- wall-clock: {runs.wall_seconds.sum() / 60:.1f} min over {len(runs)} run"
            f" segment(s) (--jobs {jobs}; {killed} without an end, stopped or still running,"
            f" counted to their last stored job); cells written by them: {int(runs.cells.sum())}"
        ]
    lines += [""]
    lines += ["Plots: " + ", ".join(f"`{p.name}`" for p in written if p.suffix == ".png"), ""]
    report = out / "report.md"
    report.write_text("\n".join(lines))
    return [*written, report]


def _difference_histogram(means: pd.DataFrame, model: str, alpha: float, out: Path) -> Path:
    diff = (means["genlabel_cv"] - means["mixup"]).dropna()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.hist(
        diff,
        bins=np.arange(np.floor(diff.min()) - 0.5, np.ceil(diff.max()) + 1.0, 1.0),
        color="tab:blue",
        edgecolor="black",
    )
    ax.axvline(0, color="black", lw=1)
    ax.axvspan(-TIE_POINTS, TIE_POINTS, color="grey", alpha=0.2, label="on par (±0.5)")
    ax.set_xlabel("GenLabel (CV) − mixup, test accuracy [points]")
    ax.set_ylabel("data sets")
    ax.set_title(f"Per-data-set difference, model {model}, α = {alpha:g} ({len(diff)} data sets)")
    ax.legend()
    path = out / f"hist_genlabel_cv_minus_mixup_{model}_alpha{alpha:g}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _method_plot(means: pd.DataFrame, model: str, alpha: float, out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * means.shape[1]), 4.8))
    data = [means[m].dropna().to_numpy() for m in means.columns]
    ax.boxplot(data, showmeans=True)
    ax.set_xticks(range(1, len(means.columns) + 1), means.columns, rotation=30, ha="right")
    ax.set_ylabel("mean test accuracy per data set [%]")
    ax.set_title(f"Accuracy by method, model {model}, α = {alpha:g} (triangle = mean)")
    ax.grid(axis="y", alpha=0.3)
    path = out / f"accuracy_by_method_{model}_alpha{alpha:g}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _robust_vs_eps(
    part: pd.DataFrame, model: str, alpha: float, names: dict[str, str], out: Path
) -> list[Path]:
    part = part.assign(eps=part.measure.str.extract(r"eps([0-9.eE+-]+)$")[0].astype(float))
    paths = []
    for dataset, rows in part.groupby("dataset"):
        curve = rows.groupby(["method", "eps"]).robust_accuracy.mean().reset_index()
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        for method in _order(curve.method.unique()):
            c = curve[curve.method == method].sort_values("eps")
            ax.plot(c.eps, 100 * c.robust_accuracy, marker="o", label=method)
        ax.set_xlabel("eps (fraction of the training value range)")
        ax.set_ylabel("robust accuracy [%]")
        ax.set_title(f"{names[dataset]}: robust accuracy vs eps ({model}, α = {alpha:g})")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        path = out / f"robust_vs_eps_{dataset}_{model}_alpha{alpha:g}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    return paths


def params_of(frame: pd.DataFrame) -> pd.Series:
    return frame.params.map(json.loads)
