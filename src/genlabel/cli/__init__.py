"""The ``genlabel`` command line (typer)."""

from .app import app

__all__ = ["app"]
