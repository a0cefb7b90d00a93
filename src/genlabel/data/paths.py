"""Where data live when the user does not say: ``GENLABEL_DATA``, then a checkout's shared folder.

The lookup, in order: an explicit ``data_dir``/``--data-dir``; the environment variable
``GENLABEL_DATA`` (a folder holding ``openml/`` and ``images/``); ``../shared/data`` beside a
development checkout (the folder of this package's ``pyproject.toml``). An installed package
has no checkout, so it needs one of the first two.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from pathlib import Path

__all__ = ["DataError", "data_root", "dataset_folder", "default_data_dir"]

ENV_VAR = "GENLABEL_DATA"


class DataError(ValueError):
    """A data set could not be found or read; the message says which and how to fix it."""


def _checkout_root() -> Path | None:
    # A development checkout holds this file under src/genlabel/data/ and a pyproject.toml at
    # its top; we look for that marker rather than trusting a fixed depth.
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "src" / "genlabel").is_dir():
            return parent
    return None


def data_root() -> Path | None:
    """The data root: ``$GENLABEL_DATA``, else ``../shared/data`` beside a checkout, else None."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    checkout = _checkout_root()
    if checkout is not None and (checkout.parent / "shared" / "data").is_dir():
        return checkout.parent / "shared" / "data"
    return None


# numpydoc alike in shape only to the other data loaders' (each public function documents its own).
def default_data_dir(kind: str) -> Path:
    """The default folder of ``kind`` ("openml" or "images") under the data root.

    The data root is ``$GENLABEL_DATA``, else ``../shared/data`` beside a checkout.

    Parameters
    ----------
    kind : str
        ``"openml"`` or ``"images"``.

    Returns
    -------
    Path

    Raises
    ------
    DataError
        There is no data root (the message says how to give one).
    """
    root = data_root()
    if root is None:
        raise DataError(
            f"no data directory given for the {kind} data: pass --data-dir (data_dir=... in "
            f"Python) or set {ENV_VAR} to a folder holding {kind}/"
        )
    return root / kind


def dataset_folder(
    root: Path,
    folder_name: str,
    markers: Sequence[str],
    what: str,
    *,
    other_folders: Collection[str] = (),
) -> Path:
    """The folder of one data set under ``root``: ``root/folder_name`` (``root`` is the
    parent, as torchvision's ``root``), or ``root`` itself when it holds one of ``markers``
    (the user gave the folder holding the files).

    ``other_folders`` are the folder names of the other data sets of the same format: a
    ``root`` of one of those names is not taken for this data set (MNIST's files for
    Fashion-MNIST, say). The error lists both places looked in.
    """
    nested = root / folder_name
    if nested.is_dir():
        return nested
    holds_files = any((root / marker).is_file() for marker in markers)
    if holds_files and root.name not in other_folders:
        return root
    note = f" (it holds the files of {root.name}, another data set)" if holds_files else ""
    raise DataError(
        f"{what} not found: looked in {nested} and in {root}{note}; pass --data-dir "
        "(root= in Python) as the folder holding the files or its parent"
    )
