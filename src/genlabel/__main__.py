"""``python -m genlabel``: the ``genlabel`` command."""

from .cli import main

main()
