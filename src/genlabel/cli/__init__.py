"""The ``genlabel`` command line (typer)."""

from . import analysis, bench, genmix, images  # noqa: F401  (register the commands)
from .app import app

__all__ = ["app"]
