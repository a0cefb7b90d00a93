"""The ``genlabel`` command (typer): one line per error, exit status 2 for bad input.

Each command is a thin layer over the library: it parses, calls, prints.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from typing import Any

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="GenLabel: mixup relabeling with class-conditional generative models.",
)


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"genlabel {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="print the version"
    ),
) -> None:
    # The app's own options (the commands are registered by the modules of genlabel.cli).
    pass


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


def run_session(
    session: Any,
    errors: tuple[type[Exception], ...],
    *,
    log: Callable[[str], None] = typer.echo,
    cleanup: Callable[[], None] = lambda: None,
) -> None:
    """Plan, run and report a session (bench, images, genmix) the same way everywhere.

    Bad input (one of ``errors``) is one line and exit 2; Ctrl-C says how many cells are
    stored and how to resume, exit 130; otherwise the run's time and the report's path.
    ``cleanup`` runs before any exit (the images command leaves its process group).
    """
    try:
        plan = session.plan()
        log(plan.describe())
        summary = session.run(plan, command=shlex.join(sys.argv))
    except errors as exc:
        cleanup()
        fail(str(exc).replace("\n", "; "))
        raise  # unreachable: fail exits
    if summary.interrupted:
        cleanup()
        typer.echo(
            f"interrupted: {summary.cells_stored} of {summary.cells_total} cells stored; "
            "run the same command to resume",
            err=True,
        )
        raise typer.Exit(130)
    log(f"finished in {summary.seconds:.1f} s")
    paths = session.report()
    cleanup()
    if paths:
        typer.echo(f"report: {paths[-1]}")
