"""Tabular data sets: OpenML ids from a local folder (or openml.org), and embedded sets."""

from __future__ import annotations

import csv
import functools
from pathlib import Path

import pandas as pd
from sklearn import datasets as skdatasets

from .dataset import Dataset, encode_labels
from .lookup import BUNDLED, EMBEDDED, DatasetSource, data_folder, resolve_dataset
from .paths import DataError
from .toy import make_toy
from .user_csv import check_scalable, csv_name, csv_sha256, load_csv, read_table

__all__ = [
    "DataError",
    "Dataset",
    "EMBEDDED",
    "check_csv_files",
    "check_data_dir",
    "encode_labels",
    "openml_dir",
    "load_dataset",
    "load_openml",
    "read_manifest",
    "suite_ids",
]


#: The loaders of scikit-learn's bundled sets (their names live in genlabel.data.lookup).
_BUNDLED = {name: getattr(skdatasets, f"load_{name}") for name in BUNDLED}


def _embedded(name: str) -> Dataset:
    if name in _BUNDLED:
        bunch = _BUNDLED[name]()
        X = pd.DataFrame(
            bunch.data,
            columns=[str(c) for c in getattr(bunch, "feature_names", range(bunch.data.shape[1]))],
        )
        return encode_labels(X, pd.Series(bunch.target), name, name, "scikit-learn bundled data")
    X, y = make_toy(name, 600, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    return encode_labels(
        frame, pd.Series(y), name, name, "genlabel.datasets.make_toy(random_state=0)"
    )


@functools.lru_cache(maxsize=4)
def read_manifest(data_dir: str) -> dict[str, dict[str, str]]:
    """The folder's ``manifest.csv`` by OpenML id (empty if the folder has none)."""
    path = Path(data_dir) / "manifest.csv"
    if not path.is_file():
        return {}
    with path.open(newline="") as fh:
        return {row["openml_id"]: row for row in csv.DictReader(fh)}


# numpydoc alike in shape only to the other data loaders' (each public function documents its own).
def openml_dir(data_dir: str | Path | None = None) -> Path:
    """``data_dir``, or the default OpenML folder (``$GENLABEL_DATA/openml``, or
    ``../shared/data/openml`` beside a checkout).

    Parameters
    ----------
    data_dir : str or Path, optional

    Returns
    -------
    Path

    Raises
    ------
    DataError
        No ``data_dir`` and no data root.
    """
    return data_folder("tabular", data_dir)


def check_data_dir(
    data_dir: Path, dataset_id: str | None = None, *, online_hint: bool = True
) -> None:
    """A DataError naming the folder (and the id wanted from it) if it does not exist.

    Parameters
    ----------
    data_dir : Path
    dataset_id : str, optional
        The id wanted from it, named in the message.
    online_hint : bool, default=True
        Also suggest ``--online`` (for commands that have it).

    Raises
    ------
    DataError
        ``data_dir`` is not a folder.
    """
    if not data_dir.is_dir():
        what = f"cannot load OpenML id {dataset_id}: " if dataset_id else ""
        online = ", or use --online to fetch from OpenML" if online_hint else ""
        raise DataError(
            f"{what}data directory {data_dir} does not exist; pass --data-dir pointing at a folder "
            f"of <id>.csv.gz files (such as shared/data/openml){online}"
        )


# numpydoc alike in shape only to the other data loaders' (each public function documents its own).
def load_openml(
    dataset_id: str | int,
    data_dir: str | Path | None = None,
    *,
    online: bool = False,
    cache_dir: str | Path | None = None,
) -> Dataset:
    """An OpenML classification set by id: ``<data_dir>/<id>.csv.gz`` (label = last column).

    Parameters
    ----------
    dataset_id : str or int
        The OpenML id (digits).
    data_dir : str or Path, optional
        The folder of ``<id>.csv.gz`` files (and its ``manifest.csv``); default
        :func:`openml_dir`.
    online : bool, default=False
        Fetch a missing file with ``sklearn.datasets.fetch_openml``.
    cache_dir : str or Path, optional
        scikit-learn's cache for ``online``.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        A file name instead of an id, an id that is not digits, a missing file (without
        ``online``), a failed fetch, or a file that does not match its manifest row.
    """
    source = _resolve(dataset_id, data_dir)
    if source.source != "openml":
        raise DataError(
            f"{source.name!r} is an embedded data set, not an OpenML id: load it with "
            f"load_dataset({source.name!r})"
        )
    return _load_openml_file(source, online=online, cache_dir=cache_dir)


def _resolve(dataset_id: str | int, data_dir: str | Path | None) -> DatasetSource:
    """The tabular set ``dataset_id`` through :func:`resolve_dataset`, after the hint for a
    CSV file's name given as a data set id."""
    dataset_id = str(dataset_id).strip()
    if dataset_id.lower().endswith((".csv", ".csv.gz")):
        raise DataError(
            f"{dataset_id!r} is a file, not a data set id: give your own CSV file with "
            f"--csv {dataset_id} --label COLUMN (csv=[...], label=... in Python)"
        )
    return resolve_dataset(dataset_id, data_dir, kind="tabular")


def _load_openml_file(
    found: DatasetSource, *, online: bool, cache_dir: str | Path | None
) -> Dataset:
    dataset_id, data_dir = found.name, found.folder
    path = data_dir / f"{dataset_id}.csv.gz"
    if not path.is_file():
        if online:
            return _fetch_online(dataset_id, cache_dir)
        check_data_dir(data_dir, dataset_id)
        raise DataError(
            f"unknown OpenML id {dataset_id}: no {path.name} in {data_dir}; "
            "run 'genlabel datasets --data-dir DIR' to list the ids there, or use --online"
        )
    frame = read_table(path)
    meta = read_manifest(str(data_dir)).get(dataset_id, {})
    check_manifest_row(path, frame, meta)
    check_scalable(frame.iloc[:, :-1], path)
    name = meta.get("name") or dataset_id
    source = f"{path} ({meta.get('source_repo', 'no manifest entry')})"
    return encode_labels(frame.iloc[:, :-1], frame.iloc[:, -1], name, dataset_id, source)


def check_manifest_row(path: Path, frame: pd.DataFrame, meta: dict[str, str]) -> None:
    """A DataError when an OpenML file does not match its row of ``manifest.csv`` (its rows,
    its feature columns, and its sha256 where the manifest has one): a file replaced by
    another set's data would be reported under the manifest's name. No row: no check."""
    if not meta:
        return
    problems = []
    expected = {"n_rows": len(frame), "n_features": frame.shape[1] - 1}
    for key, what in (("n_rows", "rows"), ("n_features", "feature columns")):
        wanted = (meta.get(key) or "").strip()
        if wanted.isdigit() and int(wanted) != expected[key]:
            problems.append(f"{expected[key]} {what}, the manifest says {wanted}")
    digest = (meta.get("sha256") or "").strip().lower()
    if digest and csv_sha256(path) != digest:
        problems.append(f"its sha256 is not the manifest's {digest[:12]}...")
    if problems:
        raise DataError(
            f"{path} does not match its row in {path.parent / 'manifest.csv'} (id "
            f"{meta.get('openml_id', path.name.split('.')[0])}, {meta.get('name', '?')}): "
            f"{'; '.join(problems)}; restore the file from its source (the manifest's "
            "source_repo), or fix its manifest row"
        )


def _fetch_online(dataset_id: str, cache_dir: str | Path | None) -> Dataset:
    try:
        bunch = skdatasets.fetch_openml(
            data_id=int(dataset_id), as_frame=True, data_home=cache_dir, parser="auto"
        )
    except Exception as exc:  # network errors, unknown ids: one clear line
        raise DataError(f"could not fetch OpenML id {dataset_id}: {exc}") from exc
    return encode_labels(
        bunch.data, bunch.target, bunch.details.get("name", dataset_id), dataset_id, "openml.org"
    )


def load_dataset(
    dataset_id: str,
    data_dir: str | Path | None = None,
    *,
    online: bool = False,
    csv_files: tuple[str, ...] = (),
    label: str | None = None,
) -> Dataset:
    """An embedded set by name (``iris``, ``gaussian9``, ...), one of ``csv_files`` by its
    stem (with its ``label`` column), or an OpenML id.

    Parameters
    ----------
    dataset_id : str
        An embedded set's name, a CSV file's stem or an OpenML id.
    data_dir : str or Path, optional
        The OpenML folder (see :func:`default_data_dir`).
    online : bool, default=False
        Fetch a missing OpenML id with scikit-learn (cached).
    csv_files : tuple of str
        Paths of your own CSV files.
    label : str, optional
        Their label column.

    Returns
    -------
    Dataset
        The features, the encoded labels and the set's name and provenance.

    Raises
    ------
    DataError
        An unknown name or id, a missing data folder or file, or a file that does not parse.

    Examples
    --------
    >>> from genlabel.data import load_dataset
    >>> data = load_dataset("iris")
    >>> data.X.shape
    (150, 4)
    """
    check_csv_files(csv_files)
    for path in csv_files:
        if csv_name(path) == dataset_id:
            return load_csv(path, label or "")
    source = _resolve(dataset_id, data_dir)
    if source.source == "embedded":
        return _embedded(source.name)
    return _load_openml_file(source, online=online, cache_dir=None)


def check_csv_files(csv_files: tuple[str, ...] | list[str]) -> None:
    """A DataError if two CSV files share a stem, or a stem is an embedded set's name or an
    OpenML id (the file would silently replace that set or hide another file)."""
    seen: dict[str, str] = {}
    for path in map(str, csv_files):
        name = csv_name(path)
        if name in EMBEDDED or name.isdigit():
            what = "the embedded data set" if name in EMBEDDED else "the OpenML id"
            raise DataError(
                f"the CSV file {path} is named {name!r} by its stem, like {what} {name}; "
                "rename the file (its stem names the data set)"
            )
        other = seen.setdefault(name, path)
        if Path(other).resolve() != Path(path).resolve():
            raise DataError(
                f"two CSV files are both named {name!r} by their stems: {other} and {path}; "
                "rename one (a file's stem names its data set)"
            )


def suite_ids(suite: str, data_dir: str | Path | None = None) -> list[str]:
    """Data set ids of a suite: ``quick`` (embedded), ``paper-logistic``/``paper-mlp`` (the ids the
    manifest marks ``in_133_list``).

    Parameters
    ----------
    suite : str
        ``"quick"``, ``"paper-logistic"`` or ``"paper-mlp"``.
    data_dir : str or Path, optional
        The OpenML folder whose ``manifest.csv`` lists the paper's ids; default
        :func:`openml_dir`.

    Returns
    -------
    list of str
        The paper suites' ids in numeric order.

    Raises
    ------
    DataError
        An unknown suite, or (paper suites) a missing folder or manifest.

    Examples
    --------
    >>> suite_ids("quick")
    ['iris', 'wine', 'breast_cancer', 'gaussian9', 'moons', 'two_circles']
    """
    if suite == "quick":
        return ["iris", "wine", "breast_cancer", "gaussian9", "moons", "two_circles"]
    if suite in ("paper-logistic", "paper-mlp"):
        data_dir = openml_dir(data_dir)
        check_data_dir(data_dir)
        manifest = read_manifest(str(data_dir))
        if not manifest:
            raise DataError(f"{data_dir} has no manifest.csv: pass the ids with --datasets instead")
        ids = [i for i, row in manifest.items() if row.get("in_133_list") == "True"]
        return sorted(ids, key=int)
    raise DataError(f"unknown suite {suite!r}; expected quick, paper-logistic or paper-mlp")
