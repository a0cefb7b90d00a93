"""Reports from the store: report.md (Markdown tables), results.csv and PNG plots."""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import EMBEDDED, DataError, openml_dir, read_manifest
from ..registry import IMAGE_MODELS, METHODS
from .plots import (
    FEW_DATA_SETS,
    TIE_POINTS,
    difference_histogram,
    label_diagnostics_plot,
    method_boxplot,
    method_points,
    reliability_diagram,
    robust_vs_eps,
)

__all__ = [
    "RESULT_COLUMNS",
    "complete_data_sets",
    "mean_accuracy",
    "results_lines",
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
    "third_class_share",
    "one_hot_share",
    "mixed_weight",
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
    """Mean ± std (times ``scale``) per data set and method, the mean alone where every
    cell has one trial; the best of each data set (the largest, or the smallest with
    ``lower``) in bold."""
    stats = part.groupby(["dataset", "method"])[value].agg(["mean", "std", "size"])
    spread = bool(stats["size"].max() > 1)
    stats = stats[["mean", "std"]] * scale
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
            digits = 1 if scale == 100 else 3
            text = f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if spread else "")
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
        lines += [
            f"## {heading} — model `{model}`, α = {alpha:g}",
            "",
            _table_note(part, best),
            "",
            markdown_table(_accuracy_table(part, names, value, lower=error, order=order)),
            "",
        ]
        lines += _calibration_lines(part, names, order)
        if error:  # the comparisons and box plot below are of accuracy over many data sets
            continue
        means = mean_accuracy(part)
        if "genlabel_cv" in means.columns and means.shape[1] > 1:
            lines += _comparison_lines(means, names)
            if "mixup" in means.columns and len(means) >= FEW_DATA_SETS:
                diff = (means["genlabel_cv"] - means["mixup"]).dropna()
                label = "GenLabel (CV) − mixup"
                written.append(difference_histogram(diff, model, alpha, out, label=label))
        lines += _chosen_lines(part, names, order)
        if len(means) >= FEW_DATA_SETS:
            written.append(method_boxplot(means, model, alpha, out))
        else:  # a box of one point per data set says nothing: every trial, and the mean
            ordered = functools.partial(_order, order=order)
            written.append(method_points(part, model, alpha, names, ordered, out))
        if model in IMAGE_MODELS:
            image_lines, plots = _image_sections(part, names, model, alpha, out)
            lines += image_lines
            written += plots
    return lines, written


def _table_note(part: pd.DataFrame, best: str) -> str:
    counts = part.groupby(["dataset", "method"]).size()
    if counts.max() == 1:
        return f"In percent, one trial per cell (so no spread); {best} of each data set in bold."
    return (
        f"Mean ± std in percent over {_trials(counts)} per cell; {best} of each data set in bold."
    )


def _comparison_lines(means: pd.DataFrame, names: dict[str, str]) -> list[str]:
    """The win/tie/loss table of GenLabel (CV) against each baseline; with one data set,
    a sentence (a share of one data set is 0 or 100 %, whatever the spread)."""
    if len(means) >= 2:
        return [
            f"### GenLabel (CV) against each baseline (±{TIE_POINTS} points = on par)",
            "",
            markdown_table(win_tie_loss(means)),
            "",
        ]
    row = means.iloc[0]
    diffs = ", ".join(
        f"{row['genlabel_cv'] - row[base]:+.1f} points against {base}"
        for base in means.columns
        if base != "genlabel_cv" and pd.notna(row[base])
    )
    return [
        f"One data set, so no win/tie/loss count (that needs two or more): on "
        f"{names[means.index[0]]} GenLabel (CV) scores {diffs} (mean over the trials; "
        "with one trial there is no spread to weigh them against).",
        "",
    ]


def _chosen_lines(part: pd.DataFrame, names: dict[str, str], order) -> list[str]:
    """The hyper-parameters cross-validation chose, per data set and method (``params``)."""
    if "params" not in part:
        return []
    chosen = part.assign(params=part.params.map(_parse_params))
    chosen = chosen[chosen.params.map(bool)]
    if chosen.empty:
        return []
    cells = chosen.groupby(["dataset", "method"]).params.agg(_chosen_cell).unstack("method")
    cells = cells[_order(cells.columns, order)].fillna("")
    table = pd.DataFrame({"data set": [names[d] for d in cells.index]})
    for method in cells.columns:
        table[method] = cells[method].to_list()
    several = chosen.groupby(["dataset", "method"]).size().max() > 1
    return [
        "Hyper-parameters chosen by cross-validation on each trial's training part"
        + (" (×n: chosen in n trials)" if several else "")
        + ". γ weighs GenLabel's label against mixup's; γ = 0 trains on mixup's label "
        "alone, so where CV chose it the GenLabel method was mixup.",
        "",
        markdown_table(table),
        "",
    ]


def _parse_params(text: object) -> dict:
    if not isinstance(text, str) or not text.strip():
        return {}
    try:
        params = json.loads(text)
    except ValueError:
        return {}
    return params if isinstance(params, dict) else {}


_SHOWN = ("lr", "gamma", "density")  # the order of the parameters in a cell


def _chosen_cell(params: pd.Series) -> str:
    """ "lr 0.01 ×2, 0.001 ×1; γ 0 (mixup); gm": each parameter's values over the trials."""
    keys = list(dict.fromkeys(k for p in params for k in p))
    keys.sort(key=lambda k: _SHOWN.index(k) if k in _SHOWN else len(_SHOWN))
    parts = []
    for key in keys:
        counts = Counter(_param_text(key, p[key]) for p in params if key in p)
        values = [v if len(counts) == 1 else f"{v} ×{n}" for v, n in counts.most_common()]
        label = {"gamma": "γ ", "density": ""}.get(key, f"{key} ")
        parts.append(label + ", ".join(values))
    return "; ".join(parts)


def _param_text(key: str, value: object) -> str:
    if key == "gamma" and isinstance(value, (int, float)) and value == 0:
        return "0 (mixup)"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _image_sections(part: pd.DataFrame, names, model: str, alpha: float, out: Path):
    """Image models: the seconds per cell, and a reliability diagram per data set (tabular
    suites have a hundred small data sets, too sparse for 15 bins each)."""
    lines = [
        "Seconds per cell (training and evaluation, mean ± std over trials):",
        "",
        markdown_table(_seconds_table(part, names)),
        "",
    ]
    lines += _gamma_lines(part, names)
    plots = []
    if "reliability" in part and part.reliability.notna().any():
        for dataset, rows in part[part.reliability.notna()].groupby("dataset"):
            plots.append(
                reliability_diagram(rows, dataset, model, alpha, names[dataset], _order, out)
            )
    if "label_diagnostics" in part and part.label_diagnostics.notna().any():
        for dataset, rows in part[part.label_diagnostics.notna()].groupby("dataset"):
            plots.append(
                label_diagnostics_plot(rows, dataset, model, alpha, names[dataset], _order, out)
            )
    return lines, plots


def _gamma_lines(part: pd.DataFrame, names) -> list[str]:
    """The gamma each GenLabel cell chose on its validation split (``--val-split``), a row
    per data set and trial; nothing when no cell chose one."""
    params = part.params.map(_parse_params)
    chose = params.map(lambda p: "gamma_grid" in p)
    if not chose.any():
        return []
    rows = part[chose].assign(gamma=params[chose].map(lambda p: f"{p['gamma']:g}"))
    table = rows.pivot_table(
        index=["dataset", "trial"], columns="method", values="gamma", aggfunc="first"
    )
    table = table[_order(table.columns)].reset_index()
    table["dataset"] = [names[d] for d in table.dataset]
    grids = sorted({tuple(p["gamma_grid"]) for p in params[chose]})
    grid = "; ".join(", ".join(f"{g:g}" for g in gammas) for gammas in grids)
    return [
        f"γ chosen on the validation split (grid {grid}; the cell's model retrained on the"
        " whole training set with it):",
        "",
        markdown_table(table.rename(columns={"dataset": "data set"}).astype(str)),
        "",
    ]


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
        genlabel = any(METHODS[m].is_genlabel for m in set(frame.method) if m in METHODS)
        lines += [f"- settings: `{_applicable(config, genlabel)}`", f"- versions: `{versions}`"]
    seconds = frame.drop_duplicates(
        subset=["dataset", "method", "model", "trial", "alpha"]
    ).seconds.sum()
    lines += [f"- cells: {len(frame)}; compute time summed over cells: {_duration(seconds)}"]
    if runs is not None and len(runs):
        killed = int(runs.finished.isna().sum())
        jobs = ", ".join(str(j) for j in sorted(runs.n_jobs.unique()))
        stopped = (
            f"; {killed} of them stopped or still running, counted to their last stored task"
            if killed
            else ""
        )
        lines += [
            f"- wall-clock: {_duration(_covered_seconds(runs))} over {len(runs)} run"
            f" segment(s) with --jobs {jobs} (parallel worker processes){stopped};"
            f" segments that overlapped counted once; cells they wrote: {int(runs.cells.sum())}"
        ]
    return [*lines, ""]


def _applicable(config: str, genlabel: bool = True) -> str:
    """The run's settings without those that did not apply: ``warmup_epochs`` is the
    vanilla warm-up of the MLP's ``reference`` variant only, ``gamma_grid`` the grid of
    the GenLabel methods (``genlabel``: whether the report has any)."""
    try:
        settings = json.loads(config)
    except (TypeError, ValueError):
        return str(config)
    if not isinstance(settings, dict):
        return str(config)
    if settings.get("latent") != "reference":
        settings.pop("warmup_epochs", None)
    if not genlabel:
        settings.pop("gamma_grid", None)
    return json.dumps(settings, sort_keys=True)


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
    data_summary: Sequence[str] = (),
    partial: str | None = None,
) -> list[Path]:
    """Write report.md, results.csv and the PNG plots into ``out``.

    Parameters
    ----------
    frame : DataFrame
        The cells (``ResultStore.frame()``), one row per cell.
    out : str or Path
        The folder to write; created if missing.
    data_dir : str, optional
        The OpenML folder, to name the data sets.
    runs : DataFrame, optional
        The run segments (``ResultStore.runs()``), whose wall-clock time is reported.
    complete_only : bool, default=False
        Keep only the data sets that have as many cells as the most complete one (per
        model, alpha and measure), e.g. to report on a suite that is still running.
    error : bool, default=False
        The clean table shows the test error 1 - accuracy, lowest in bold, and results.csv
        a ``test_error`` column (no accuracy comparisons or plots).
    order : sequence of str, optional
        The methods' column order (default: the registry's).
    title : str, default="GenLabel benchmark report"
        The heading.
    sections : callable, optional
        ``sections(out) -> (lines, plots)``: more of the report (an experiment's figures),
        written after the tables.
    data_summary : sequence of str, default=()
        Lines of :func:`genlabel.data.user_csv.data_summary`, a "Data" section at the top.
    partial : str, optional
        Who holds the missing cells (the title says the report is partial).

    Returns
    -------
    list of Path
        The files written, report.md last.
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
    robust = frame[frame.measure != "clean"]
    clean, attacked = _clean_cells(frame)
    heading = "Test error" if error else "Test accuracy"
    if attacked:
        heading = "Clean test accuracy of the attacked models"
    clean_lines, written = _clean_sections(clean, names, out, heading, error=error, order=order)
    robust_lines, robust_plots = _robust_sections(robust, names, out)
    data = _data_lines(data_summary)
    lines = [f"# {title}", "", *why, *data, *note, *clean_lines, *robust_lines]
    if sections is not None:
        more_lines, more_plots = sections(out)
        lines, written = lines + more_lines, written + more_plots
    lines += _run_lines(frame, runs)
    plots = [*written, *robust_plots]
    lines += ["Plots: " + ", ".join(f"`{p.name}`" for p in plots), ""]
    report.write_text("\n".join(lines))
    return [csv_path, *plots, report]


def _data_lines(summary: Sequence[str]) -> list[str]:
    """The data summary as a list: a data set's line, its details indented below it."""
    if not summary:
        return []
    items = [f"  - {line.strip()}" if line.startswith(" ") else f"- {line}" for line in summary]
    return ["## Data", "", *items, ""]


def _clean_cells(frame: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """The clean cells, and whether they are a robust run's instead: a robust run stores the
    clean accuracy of every attacked model beside it (one row per model kept)."""
    clean = frame[frame.measure == "clean"]
    if not clean.empty:
        return clean, False
    robust = frame[frame.measure != "clean"]
    return robust.drop_duplicates(["dataset", "method", "model", "trial", "alpha"]), True


def results_lines(frame: pd.DataFrame, data_dir: str | None = None) -> list[str]:
    """The clean test accuracy per data set and method, a table per model and alpha, for
    the terminal (the report's table, without bold)."""
    clean, _ = _clean_cells(frame)
    if clean.empty:
        return []
    names = _names(clean.dataset.unique(), data_dir)
    lines: list[str] = []
    for (model, alpha), part in clean.groupby(["model", "alpha"]):
        table = _accuracy_table(part, names, "test_accuracy").replace(r"\*\*", "", regex=True)
        counts = part.groupby(["dataset", "method"]).size()
        per_cell = "one trial" if counts.max() == 1 else f"mean ± std over {_trials(counts)}"
        lines += [
            f"Test accuracy in percent, model {model}, α = {alpha:g} ({per_cell}):",
            "",
            markdown_table(table),
            "",
        ]
    return lines
