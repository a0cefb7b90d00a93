"""The ``genlabel`` command line (typer)."""

import warnings

from . import analysis, bench, genmix, images  # noqa: F401  (register the commands)
from .app import app

__all__ = ["app", "main"]


def _one_line(message, category, filename, lineno, line=None) -> str:
    return f"warning: {message}\n"


def main() -> None:
    """The console script: each warning as one line (``warning: ...``, no source line), as
    errors are (``error: ...``); then the typer app."""
    warnings.formatwarning = _one_line
    app(prog_name="genlabel")
