"""The one data-set lookup: which kind of data set a name is, and where its files are.

Every loader asks :func:`resolve_dataset` before it reads a file: the tabular sets
(:func:`genlabel.data.load_dataset`: embedded names and OpenML ids), the image sets
(:func:`genlabel.data.images.load_images`) and the GenMix sets
(:func:`genlabel.genmix.datasets.load_genmix_data`). A new data set's name goes in the
table of its kind here; its reader goes beside the others of its format.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .. import registry
from .paths import DataError, default_data_dir
from .toy import TOY_DATASETS

__all__ = [
    "BUNDLED",
    "DATASET_KINDS",
    "EMBEDDED",
    "GENMIX_DATASETS",
    "IMAGE_DATASETS",
    "DatasetSource",
    "data_folder",
    "resolve_dataset",
]

#: scikit-learn's bundled tabular sets (``sklearn.datasets.load_<name>``).
BUNDLED = ("iris", "wine", "breast_cancer", "digits")
#: Tabular data sets that need no download: scikit-learn's bundled sets and the toy generators.
EMBEDDED = BUNDLED + tuple(TOY_DATASETS)
#: The image data sets (kept in the registry, for the CLI's help).
IMAGE_DATASETS = registry.IMAGE_DATASETS
#: The data sets of the GenMix experiment: two toy sets and MNIST's 7s and 9s.
GENMIX_DATASETS = ("circle", "circle3d", "mnist79")


@dataclass(frozen=True)
class _Kind:
    what: str  # how messages call a data set of this kind
    names: tuple[str, ...]  # the names it knows (OpenML ids, any digits, are tabular too)
    embedded: tuple[str, ...]  # those that need no files
    folder: str  # the default folder of its files under the data root


#: The kinds of data set, by the loader that asks.
DATASET_KINDS = {
    "tabular": _Kind("data set id", EMBEDDED, EMBEDDED, "openml"),
    "image": _Kind("image data set", IMAGE_DATASETS, ("digits",), "images"),
    "genmix": _Kind("GenMix data set", GENMIX_DATASETS, ("circle", "circle3d"), "images"),
}


@dataclass(frozen=True)
class DatasetSource:
    """Where a data set comes from.

    Attributes
    ----------
    kind : {"tabular", "image", "genmix"}
        The loader that asked.
    name : str
        The data set's name (an OpenML id for ``openml``).
    source : {"embedded", "openml", "files"}
        ``embedded``: generated or bundled, no files; ``openml``: ``<folder>/<id>.csv.gz``;
        ``files``: the image files under ``folder``.
    data_dir : Path or None
        The folder the user gave, if any.
    """

    kind: str
    name: str
    source: str
    data_dir: Path | None = None

    @property
    def folder(self) -> Path:
        """The folder to read: the one given, else the kind's default under the data root
        (looked up when asked for: a DataError when there is none)."""
        return data_folder(self.kind, self.data_dir)


def data_folder(kind: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The folder of the files of ``kind``'s data sets: ``data_dir`` when given, else the
    kind's default under the data root (``openml/`` or ``images/``, see
    :func:`genlabel.data.paths.default_data_dir`; a DataError when there is none).

    Parameters
    ----------
    kind : str
        ``"tabular"``, ``"image"`` or ``"genmix"``.
    data_dir : str or path, optional
        The folder the user gave.

    Returns
    -------
    Path
    """
    if data_dir is not None:
        return Path(data_dir)
    return default_data_dir(DATASET_KINDS[kind].folder)


def _unknown(name: object, kind: str) -> DataError:
    spec = DATASET_KINDS[kind]
    if kind == "tabular":
        expected = f"an OpenML id (digits) or one of {', '.join(spec.names)}"
        message = f"unknown {spec.what} {name!r}: expected {expected}"
    else:
        message = f"unknown {spec.what} {name!r}; expected one of {', '.join(spec.names)}"
    others = [k for k, other in DATASET_KINDS.items() if k != kind and name in other.names]
    if others:
        message += f" ({name!r} is a data set of another kind: {', '.join(others)})"
    return DataError(message)


def resolve_dataset(
    name: str, data_dir: str | os.PathLike[str] | None = None, *, kind: str
) -> DatasetSource:
    """What ``name`` is for the loader of ``kind``, and where its files are.

    Parameters
    ----------
    name : str
        A data set's name, or (tabular) an OpenML id.
    data_dir : str or path, optional
        The folder given by the user (``--data-dir``, ``data_dir=``/``root=``); default:
        ``openml/`` (tabular) or ``images/`` (image, GenMix's mnist79) under the data root
        (see :func:`genlabel.data.paths.default_data_dir`).
    kind : str
        The loader asking: ``"tabular"``, ``"image"`` or ``"genmix"``.

    Returns
    -------
    DatasetSource

    Raises
    ------
    DataError
        An unknown name for that kind: the message lists the names the kind knows, and
        says when the name is a data set of another kind.

    Examples
    --------
    >>> from genlabel.data import resolve_dataset
    >>> resolve_dataset("iris", kind="tabular").source
    'embedded'
    >>> str(resolve_dataset("mnist", "data/images", kind="image").folder)
    'data/images'
    """
    if kind not in DATASET_KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(DATASET_KINDS)}")
    spec = DATASET_KINDS[kind]
    given = Path(data_dir) if data_dir is not None else None
    if not isinstance(name, str):
        raise _unknown(name, kind)
    if name in spec.embedded:
        return DatasetSource(kind, name, "embedded")
    if name in spec.names:
        return DatasetSource(kind, name, "files", given)
    if kind == "tabular" and name.isdigit():
        return DatasetSource(kind, name, "openml", given)
    raise _unknown(name, kind)
