"""A user's own CSV file as a benchmark data set, with its label column checked."""

from __future__ import annotations

import functools
import hashlib
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from .dataset import Dataset, encode_labels
from .paths import DataError

__all__ = [
    "SavedIndexWarning",
    "check_scalable",
    "csv_name",
    "csv_sha256",
    "data_summary",
    "load_csv",
    "read_table",
]

#: A floating-point label column with more distinct values than this looks like a feature.
MAX_FLOAT_CLASSES = 20


def csv_name(path: str | Path) -> str:
    """The data set's name: the file's stem (``my_data.csv.gz`` -> ``my_data``).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    str

    Examples
    --------
    >>> csv_name("runs/my_data.csv.gz")
    'my_data'
    """
    name = Path(path).name
    for suffix in (".csv.gz", ".csv"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(path).stem


def csv_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes (hex), so that a store can tell two versions apart."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no CSV file at {path}")
    stat = path.stat()
    return _sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    # Keyed by size and modification time too: an edited file is hashed again.
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class SavedIndexWarning(UserWarning):
    """A CSV file's first column was the row index pandas saved with it, and was dropped."""


def _drop_saved_index(frame: pd.DataFrame, label: str, path: Path) -> pd.DataFrame:
    """Without the column ``DataFrame.to_csv`` writes for the index (``Unnamed: 0`` holding
    0..n-1): it numbers the rows, and as a feature it would leak the file's row order."""
    first = frame.columns[0]
    if first != "Unnamed: 0" or first == label:
        return frame
    values = frame[first]
    if not (
        pd.api.types.is_integer_dtype(values)
        and np.array_equal(values.to_numpy(), np.arange(len(frame)))
    ):
        return frame
    warnings.warn(
        f"{path.name}: dropped its first column 'Unnamed: 0' (0..{len(frame) - 1}), the row "
        "index pandas saved with it; save with to_csv(..., index=False) to avoid it",
        SavedIndexWarning,
        stacklevel=3,
    )
    return frame.drop(columns=[first])


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV or CSV.gz file with a header row ('?' marks a missing value, as in ARFF)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no CSV file at {path}")
    try:
        # pandas opens .gz transparently; '?' is how ARFF-derived files mark missing values.
        frame = pd.read_csv(path, na_values=["?"], keep_default_na=True, low_memory=False)
        # The header row as written: pandas renames a repeated name ('y' -> 'y.1').
        header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
    except (
        OSError,
        EOFError,
        UnicodeDecodeError,
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
    ) as exc:
        raise DataError(f"could not parse {path}: {exc}") from exc
    if frame.shape[1] < 2 or len(frame) < 2:
        raise DataError(
            f"could not parse {path}: expected a header, feature columns and a label column"
        )
    _check_unique_names(header.iloc[0].tolist() if len(header) else [], path)
    return frame


def _check_unique_names(names: list[str], path: Path) -> None:
    """A DataError naming the column names that the header repeats: pandas would keep the
    first and rename the others ('y' -> 'y.1'), so a copy of the label column would become
    a feature (and give perfect scores on noise)."""
    repeated = [name for name, count in Counter(names).items() if count > 1 and name != ""]
    if repeated:
        where = "; ".join(
            f"{name!r} in columns {', '.join(str(i + 1) for i, n in enumerate(names) if n == name)}"
            for name in repeated
        )
        raise DataError(
            f"{path.name}: the header repeats column name(s) {where}; give each column its own "
            "name (pandas would rename a copy, e.g. to 'y.1', and use it as a feature)"
        )


def check_scalable(features: pd.DataFrame, path: str | Path) -> None:
    """A DataError naming the numeric columns whose standardised values are not finite in
    float32 (values near 1e300: their variance overflows), which would train on NaN.

    Checked on the whole column (the benchmark standardises on its training part; a column
    that passes here has a finite variance on any part of it)."""
    numeric = features.select_dtypes("number")
    if numeric.shape[1] == 0:
        return
    values = numeric.to_numpy(dtype=np.float64)
    present = ~np.isnan(values)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column's mean
        mean, std = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
        scaled = ((values - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)
    ok = np.isfinite(mean) & np.isfinite(std) & (np.isfinite(scaled) | ~present).all(axis=0)
    ok |= ~present.any(axis=0)  # all missing: imputed as a constant
    bad = [str(c) for c, good in zip(numeric.columns, ok, strict=True) if not good]
    if bad:
        largest = np.nanmax(np.abs(values[:, ~ok]))
        raise DataError(
            f"{Path(path).name}: column(s) {', '.join(map(repr, bad))} hold values too large to "
            f"standardise (up to {largest:.3g}: their variance overflows, the scaled values "
            "would not be finite in float32); rescale them, e.g. to other units or logs"
        )


def _check_label(frame: pd.DataFrame, label: str, path: Path) -> None:
    columns = ", ".join(map(str, frame.columns))
    how = f"pick the class column with --label COLUMN (label=... in Python); columns: {columns}"
    if label not in frame.columns:
        raise DataError(f"{path.name} has no column {label!r}; {how}")
    values = frame[label].dropna()
    n_classes = values.nunique()
    if pd.api.types.is_float_dtype(values) and not np.all(np.mod(values, 1) == 0):
        if n_classes > MAX_FLOAT_CLASSES:
            raise DataError(
                f"the label column {label!r} of {path.name} holds {n_classes} distinct "
                "non-integer numbers: that looks like a feature, not a class label; " + how
            )
    if n_classes > len(frame) / 2:
        raise DataError(
            f"the label column {label!r} of {path.name} has {n_classes} classes for "
            f"{len(frame)} rows (more than half the rows): that looks like an id or a "
            "feature, not a class label; " + how
        )
    if n_classes < 2:
        raise DataError(f"the label column {label!r} of {path.name} has fewer than 2 classes")


def _check_finite(features: pd.DataFrame, path: Path) -> None:
    """A DataError naming the numeric columns that hold inf or -inf (a missing value is
    imputed; an infinite one has no value to impute from, and would break the scaling)."""
    numeric = features.select_dtypes("number")
    bad = [str(c) for c in numeric.columns if np.isinf(numeric[c].to_numpy(float)).any()]
    if bad:
        first = int(np.flatnonzero(np.isinf(numeric[bad[0]].to_numpy(float)))[0])
        raise DataError(
            f"{path.name}: column(s) {', '.join(map(repr, bad))} hold an infinite value (first "
            f"in data row {first + 1} of {bad[0]!r}); replace it with a number, or leave the "
            "cell empty to have it imputed"
        )


# numpydoc alike in shape only to the other data loaders' (each public function documents its own).
def load_csv(path: str | Path, label: str) -> Dataset:
    """A classification data set from a CSV (or CSV.gz) file with a header row.

    Parameters
    ----------
    path : str or Path
        The file; the data set is named by its stem.
    label : str
        The class column. It is checked: a missing column, a floating-point column of many
        distinct values, or more classes than half the rows raise a DataError that says why
        and lists the columns. Every other column is a feature (categorical columns are
        one-hot encoded by the benchmark's preprocessing), except a row index that pandas
        saved with the file (a first column ``Unnamed: 0`` holding 0..n-1): it is dropped,
        with a warning.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        The file cannot be read, or the label column fails the checks above.
    """
    path = Path(path)
    if not label:
        columns = ", ".join(map(str, read_table(path).columns))
        raise DataError(
            f"a CSV data set needs its label column (--label COLUMN); columns of {path.name}: {columns}"
        )
    frame = read_table(path)
    _check_label(frame, label, path)
    frame = _drop_saved_index(frame, label, path)
    if frame.shape[1] < 2:
        raise DataError(f"{path.name} has no feature column besides its label {label!r}")
    _check_finite(frame.drop(columns=[label]), path)
    check_scalable(frame.drop(columns=[label]), path)
    name = csv_name(path)
    data = encode_labels(frame.drop(columns=[label]), frame[label], name, name, str(path))
    data.extra["rows_without_label"] = int(frame[label].isna().sum())
    return data


def data_summary(data: Dataset) -> list[str]:
    """What the benchmark makes of a data set, in a few lines: rows, features before and
    after encoding, the one-hot encoded columns, the values imputed, the classes.

    The encoding is the benchmark's preprocessing fitted on the whole set (each trial fits
    it on its training part, where a rare category may be absent)."""
    from .preprocess import categorical_columns, make_preprocessor

    X = data.X
    n_out = len(make_preprocessor(X).fit(X).get_feature_names_out())
    dropped = data.extra.get("rows_without_label", 0)
    rows = f"{len(data.y)} rows" + (f" ({dropped} without a label dropped)" if dropped else "")
    lines = [
        f"data {data.name} ({Path(data.source).name or data.name}): {rows}, {X.shape[1]} "
        f"feature columns -> {n_out} features after encoding and scaling"
    ]
    categorical = categorical_columns(X)
    if categorical:
        encoded = ", ".join(f"{c} ({X[c].nunique()} values)" for c in categorical)
        lines.append(f"  one-hot encoded: {encoded}")
    missing = X.isna().sum()
    missing = missing[missing > 0]
    if len(missing):
        where = ", ".join(f"{c} {n}" for c, n in missing.items())
        lines.append(
            f"  imputed: {int(missing.sum())} missing values ({where}; mean, most frequent "
            "value for categorical columns)"
        )
    counts = np.bincount(data.y, minlength=data.n_classes)
    classes = ", ".join(f"{c} {n}" for c, n in zip(data.classes, counts, strict=True))
    lines.append(f"  classes ({data.n_classes}): {classes}")
    return lines
