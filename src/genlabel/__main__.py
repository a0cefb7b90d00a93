"""``python -m genlabel``: the ``genlabel`` command."""

from .cli import app

app(prog_name="genlabel")
