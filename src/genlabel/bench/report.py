"""Reports from the store: report.md (Markdown tables), results.csv and PNG plots."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import EMBEDDED, DataError, openml_dir, read_manifest
from ..registry import IMAGE_MODELS, METHODS
from .plots import (
    TIE_POINTS,
    difference_histogram,
    method_boxplot,
    reliability_diagram,
    robust_vs_eps,
)

__all__ = [
    "RESULT_COLUMNS",
    "complete_data_sets",
    "mean_accuracy",
    "report_folder",
    "win_tie_loss",
    "write_report",
]

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
    "ece",
    "nll",
]


#: The file name of the default stores (``reports/<suite>/results.sqlite``).
DEFAULT_STORE_NAME = "results.sqlite"


def report_folder(db: str | Path) -> Path:
    """Where a store's report goes by default: beside it, named after it
    (``runs/wine.sqlite`` -> ``runs/wine/``), so two stores in one folder keep their own
    reports. The default stores, ``reports/<suite>/results.sqlite``, have a folder of their
    own: their report goes there (no other store's report can be in it); a store without
    a suffix: ``runs/wine`` -> ``runs/wine-report/``."""
    db = Path(db)
    if db.name == DEFAULT_STORE_NAME:
        return db.parent
    return db.parent / (db.stem if db.suffix else f"{db.name}-report")


def _order(methods, order: Sequence[str] | None = None) -> list[str]:
    """Methods in ``order`` (default: the registry's order), unknown names last."""
    present = set(methods)
    known = [m for m in (METHODS if order is None else order) if m in present]
    return known + sorted(present - set(known))


def _names(datasets, data_dir: str | None) -> dict[str, str]:
    """Display names: "name (id)" for manifest entries, else the id (embedded, own CSVs)."""
    try:
        manifest = read_manifest(str(openml_dir(data_dir)))
    except DataError:  # no data folder: name the sets by their ids
        manifest = {}
    names = {}
    for d in datasets:
        name = manifest.get(d, {}).get("name")
        names[d] = f"{name} ({d})" if name and d not in EMBEDDED else d
    return names


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def _trials(counts: pd.Series) -> str:
    low, high = int(counts.min()), int(counts.max())
    n = f"{low}" if low == high else f"{low}–{high}"
    return f"{n} trial" + ("" if high == 1 else "s")


def mean_accuracy(frame: pd.DataFrame, value: str = "test_accuracy") -> pd.DataFrame:
    """Mean accuracy in percent: a row per data set, a column per method (registry order)."""
    means = frame.groupby(["dataset", "method"])[value].mean().unstack("method") * 100
    return means[_order(means.columns)]


def win_tie_loss(means: pd.DataFrame, method: str = "genlabel_cv") -> pd.DataFrame:
    """Share of data sets where ``method`` is higher (> +0.5 points), on par or lower than each
    baseline. ``means``: mean accuracy in percent, a row per data set, a column per method."""
    rows: list[dict[str, object]] = []
    if method not in means.columns:
        return pd.DataFrame(rows)
    for base in means.columns:
        if base == method:
            continue
        pair = means[[method, base]].dropna()
        if pair.empty:
            continue
        diff = pair[method] - pair[base]
        rows.append(
            {
                "baseline": base,
                "data sets": len(diff),
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


def markdown_table(df: pd.DataFrame) -> str:
    header = "| " + " | ".join(str(c) for c in df.columns) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([header, sep, *body])


def _accuracy_table(
    part: pd.DataFrame,
    names: dict[str, str],
    value: str,
    *,
    scale: float = 100,
    lower=False,
    order: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Mean ± std (times ``scale``) per data set and method; the best of each data set
    (the largest, or the smallest with ``lower``) in bold."""
    stats = part.groupby(["dataset", "method"])[value].agg(["mean", "std"]) * scale
    stats["std"] = stats["std"].fillna(0.0)
    means = stats["mean"].unstack("method")
    means = means[_order(means.columns, order)]
    best = means.min(axis=1) if lower else means.max(axis=1)
    table = pd.DataFrame({"data set": [names[d] for d in means.index]})
    for method in means.columns:
        cells = []
        for d in means.index:
            if (d, method) not in stats.index:
                cells.append("")
                continue
            mean, std = stats.loc[(d, method)]
            text = f"{mean:.1f} ± {std:.1f}" if scale == 100 else f"{mean:.3f} ± {std:.3f}"
            cells.append(f"**{text}**" if np.isclose(mean, best[d]) else text)
        table[method] = cells
    return table


def _calibration_lines(
    part: pd.DataFrame, names: dict[str, str], order: Sequence[str] | None
) -> list[str]:
    """The ECE and NLL tables of the models in ``part``, each only where it has values
    (stores written before calibration was measured have neither)."""
    tables = (
        ("ece", 100, "Expected calibration error (15 equal-width bins, percent), lowest in bold:"),
        ("nll", 1, "Mean negative log-likelihood of the test set, lowest in bold:"),
    )
    lines: list[str] = []
    for column, scale, title in tables:
        if column not in part:
            continue
        values = part.assign(**{column: pd.to_numeric(part[column], errors="coerce")})
        values = values[values[column].notna()]
        if values.empty:
            continue
        table = _accuracy_table(values, names, column, scale=scale, lower=True, order=order)
        lines += [title, "", markdown_table(table), ""]
    return ["Calibration of the same models.", "", *lines] if lines else []


def _clean_sections(
    clean: pd.DataFrame,
    names,
    out: Path,
    heading: str,
    *,
    error: bool = False,
    order: Sequence[str] | None = None,
) -> tuple[list, list]:
    lines: list[str] = []
    written: list[Path] = []
    value, best = ("test_error", "lowest") if error else ("test_accuracy", "best")
    for (model, alpha), part in clean.groupby(["model", "alpha"]):
        trials = _trials(part.groupby(["dataset", "method"]).size())
        lines += [
            f"## {heading} — model `{model}`, α = {alpha:g}",
            "",
            f"Mean ± std in percent over {trials} per cell; {best} of each data set in bold.",
            "",
            markdown_table(_accuracy_table(part, names, value, lower=error, order=order)),
            "",
        ]
        lines += _calibration_lines(part, names, order)
        if error:  # the comparisons and box plot below are of accuracy over many data sets
            continue
        means = mean_accuracy(part)
        if "genlabel_cv" in means.columns and means.shape[1] > 1:
            lines += [
                f"### GenLabel (CV) against each baseline (±{TIE_POINTS} points = on par)",
                "",
                markdown_table(win_tie_loss(means)),
                "",
            ]
            if "mixup" in means.columns:
                diff = (means["genlabel_cv"] - means["mixup"]).dropna()
                label = "GenLabel (CV) − mixup"
                written.append(difference_histogram(diff, model, alpha, out, label=label))
        written.append(method_boxplot(means, model, alpha, out))
        if model in IMAGE_MODELS:
            image_lines, plots = _image_sections(part, names, model, alpha, out)
            lines += image_lines
            written += plots
    return lines, written


def _image_sections(part: pd.DataFrame, names, model: str, alpha: float, out: Path):
    """Image models: the seconds per cell, and a reliability diagram per data set (tabular
    suites have a hundred small data sets, too sparse for 15 bins each)."""
    lines = [
        "Seconds per cell (training and evaluation, mean ± std over trials):",
        "",
        markdown_table(_seconds_table(part, names)),
        "",
    ]
    plots = []
    if "reliability" in part and part.reliability.notna().any():
        for dataset, rows in part[part.reliability.notna()].groupby("dataset"):
            plots.append(
                reliability_diagram(rows, dataset, model, alpha, names[dataset], _order, out)
            )
    return lines, plots


def _seconds_table(part: pd.DataFrame, names) -> pd.DataFrame:
    stats = part.groupby(["dataset", "method"]).seconds.agg(["mean", "std"]).fillna(0.0)
    means = stats["mean"].unstack("method")
    table = pd.DataFrame({"data set": [names[d] for d in means.index]})
    for method in _order(means.columns):
        table[method] = [
            f"{stats.loc[(d, method), 'mean']:.0f} ± {stats.loc[(d, method), 'std']:.0f}"
            if (d, method) in stats.index
            else ""
            for d in means.index
        ]
    return table


def _robust_sections(robust: pd.DataFrame, names, out: Path) -> tuple[list, list]:
    lines: list[str] = []
    written: list[Path] = []
    for (model, alpha, measure), part in robust.groupby(["model", "alpha", "measure"]):
        lines += [
            f"## Robust accuracy — model `{model}`, α = {alpha:g}, `{measure}`",
            "",
            "Mean ± std in percent; a point counts only if its clean and attacked predictions"
            " are both correct.",
            "",
            markdown_table(_accuracy_table(part, names, "robust_accuracy")),
            "",
        ]
    attack = robust.measure.str.extract(r"^robust-(.+)-eps")[0]
    several = attack.nunique() > 1
    for (model, alpha, name), part in robust.assign(attack=attack).groupby(
        ["model", "alpha", "attack"]
    ):
        if part.measure.nunique() > 1:
            written += robust_vs_eps(
                part, model, alpha, names, _order, out, attack=name if several else None
            )
    return lines, written


def _run_lines(frame: pd.DataFrame, runs: pd.DataFrame | None) -> list[str]:
    lines = ["## Run settings", ""]
    for config, versions in frame[["config", "versions"]].drop_duplicates().itertuples(index=False):
        lines += [f"- settings: `{config}`", f"- versions: `{versions}`"]
    seconds = frame.drop_duplicates(
        subset=["dataset", "method", "model", "trial", "alpha"]
    ).seconds.sum()
    lines += [f"- cells: {len(frame)}; compute time summed over cells: {_duration(seconds)}"]
    if runs is not None and len(runs):
        killed = int(runs.finished.isna().sum())
        jobs = ", ".join(str(j) for j in sorted(runs.n_jobs.unique()))
        lines += [
            f"- wall-clock: {_duration(_covered_seconds(runs))} over {len(runs)} run"
            f" segment(s) ({jobs} parallel jobs or processes; {killed} without an end, stopped"
            " or still running,"
            f" counted to their last stored job; segments that ran at the same time counted"
            f" once); cells written by them: {int(runs.cells.sum())}"
        ]
    return [*lines, ""]


def _covered_seconds(runs: pd.DataFrame) -> float:
    """The length of the union of the run segments [started, started + wall_seconds]."""
    total, end = 0.0, -np.inf
    for start, seconds in sorted(zip(runs.started, runs.wall_seconds, strict=True)):
        stop = start + seconds
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


def _only_complete(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The data sets with every cell, and the report's line saying so."""
    if frame.empty:
        return frame, []
    before = frame.dataset.nunique()
    frame = complete_data_sets(frame)
    note = f"Only the {frame.dataset.nunique()} of {before} data sets that have every cell"
    return frame, [note + " (`--complete-only`).", ""]


def _partial_lines(partial: str | None) -> list[str]:
    """The line under the title of a partial report: which cells other drivers hold."""
    if not partial:
        return []
    return [
        f"Partial: {partial}; run the same command when they are done to report every cell.",
        "",
    ]


def write_report(
    frame: pd.DataFrame,
    out: str | Path,
    *,
    data_dir: str | None = None,
    runs: pd.DataFrame | None = None,
    complete_only: bool = False,
    error: bool = False,
    order: Sequence[str] | None = None,
    title: str = "GenLabel benchmark report",
    sections: Callable[[Path], tuple[list[str], list[Path]]] | None = None,
    partial: str | None = None,
) -> list[Path]:
    """Write report.md, results.csv and the PNG plots into ``out``; return the paths
    (report.md last).

    ``runs`` (``ResultStore.runs()``): the run segments, whose wall-clock time is reported.
    ``complete_only``: keep only the data sets that have as many cells as the most complete
    one (per model, alpha and measure), e.g. to report on a suite that is still running.
    ``error``: the clean table shows the test error 1 - accuracy, lowest in bold, and
    results.csv a ``test_error`` column (no accuracy comparisons or plots). ``order``: the
    methods' column order (default: the registry's); ``title``: the heading;
    ``sections(out) -> (lines, plots)``: more of the report (an experiment's figures),
    written after the tables. ``partial``: who holds the missing cells (the title says so).
    """
    out = Path(out)
    title = f"{title} (partial)" if partial else title
    out.mkdir(parents=True, exist_ok=True)
    frame, note = _only_complete(frame) if complete_only else (frame, [])
    if error:
        frame = frame.assign(test_error=1.0 - frame["test_accuracy"])
    csv_path = out / "results.csv"
    frame.reindex(columns=RESULT_COLUMNS + (["test_error"] if error else [])).to_csv(
        csv_path, index=False
    )
    report = out / "report.md"
    why = _partial_lines(partial)
    if frame.empty:
        report.write_text("\n".join([f"# {title}", "", *why, "The store holds no cells yet.", ""]))
        return [csv_path, report]
    names = _names(frame.dataset.unique(), data_dir)
    clean = frame[frame.measure == "clean"]
    robust = frame[frame.measure != "clean"]
    heading = "Test error" if error else "Test accuracy"
    if clean.empty:
        # A robust run stores the clean accuracy of every attacked model beside it.
        clean = robust.drop_duplicates(["dataset", "method", "model", "trial", "alpha"])
        heading = "Clean test accuracy of the attacked models"
    clean_lines, written = _clean_sections(clean, names, out, heading, error=error, order=order)
    robust_lines, robust_plots = _robust_sections(robust, names, out)
    lines = [f"# {title}", "", *why, *note, *clean_lines, *robust_lines]
    if sections is not None:
        more_lines, more_plots = sections(out)
        lines, written = lines + more_lines, written + more_plots
    lines += _run_lines(frame, runs)
    plots = [*written, *robust_plots]
    lines += ["Plots: " + ", ".join(f"`{p.name}`" for p in plots), ""]
    report.write_text("\n".join(lines))
    return [csv_path, *plots, report]
