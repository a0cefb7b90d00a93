"""Where data live when the user does not say: ``GENLABEL_DATA``, then a checkout's shared folder.

The lookup, in order: an explicit ``data_dir``/``--data-dir``; the environment variable
``GENLABEL_DATA`` (a folder holding ``openml/`` and ``images/``); ``../shared/data`` beside a
development checkout (the folder of this package's ``pyproject.toml``). An installed package
has no checkout, so it needs one of the first two.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DataError", "data_root", "default_data_dir"]

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


def default_data_dir(kind: str) -> Path:
    """The default folder of ``kind`` ("openml" or "images") under the data root.

    Raises DataError (saying how to give one) when there is no data root.
    """
    root = data_root()
    if root is None:
        raise DataError(
            f"no data directory given for the {kind} data: pass --data-dir (data_dir=... in "
            f"Python) or set {ENV_VAR} to a folder holding {kind}/"
        )
    return root / kind
