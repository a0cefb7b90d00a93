"""The ``genlabel`` command (typer): one line per error, exit status 2 for bad input.

Each command is a thin layer over the library: it parses, calls, prints.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="GenLabel: mixup relabeling with class-conditional generative models.",
)


def fail(message: str, code: int = 2) -> None:
    """Print one line on stderr and exit (2: bad input)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def split_list(text: str | None) -> list[str]:
    """A comma-separated option as a list of stripped, non-empty items."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def floats(text: str, option: str) -> list[float]:
    try:
        return [float(v) for v in split_list(text)]
    except ValueError:
        fail(f"{option} takes comma-separated numbers; got {text!r}")
        raise  # unreachable: fail exits


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
