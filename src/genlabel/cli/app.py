"""The ``genlabel`` command (typer): one line per error, exit status 2 for bad input.

Each command is a thin layer over the library: it parses, calls, prints.
"""

from __future__ import annotations

import math
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


#: The store's default lease in seconds (``genlabel.bench.store.CLAIM_TIMEOUT``, written
#: here so that the CLI starts without importing the store; a test checks they agree).
CLAIM_TIMEOUT = 300.0


def claim_timeout_option() -> Any:
    """``--claim-timeout``, the same on every command that runs a store."""
    return typer.Option(
        CLAIM_TIMEOUT,
        "--claim-timeout",
        help="seconds after another driver on the same store was last seen (it renews its "
        "claims every 30 s at most) that this run takes its claimed jobs over",
    )


def unset_option(*names: str, help: str, callback: Callable[..., Any] | None = None) -> Any:
    """An option that stays None unless given, its default left out of ``--help`` (the help
    text says what the command does without it), declared the same way on every command."""
    return typer.Option(None, *names, help=help, show_default=False, callback=callback)


def report_out_option(*aliases: str, example: str = "x") -> Any:
    """``--out`` (and ``aliases``): the report's folder, by default beside the store."""
    return unset_option(
        "--out",
        *aliases,
        help="folder for the report (default: beside the store, named after it: "
        f"runs/{example}.sqlite -> runs/{example}/)",
    )


def split_list(text: str | None) -> list[str]:
    """A comma-separated option as a list of stripped, non-empty items."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _interval(low: float, high: float | None, low_open: bool, high_open: bool) -> str:
    if high is None:
        return f"{'>' if low_open else '>='} {low}"
    return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"


def check_number(
    value: float,
    option: str,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """One line and exit 2 unless ``value`` is finite and in the range (``low``/``high`` are
    bounds, None for none; ``*_open`` excludes the bound). Click's own IntRange/FloatRange
    let NaN through (every comparison with NaN is false), hence this check."""
    integer = isinstance(value, int)
    ok = integer or math.isfinite(value)
    ok = ok and (low is None or (value > low if low_open else value >= low))
    ok = ok and (high is None or (value < high if high_open else value <= high))
    if not ok:
        kind = "an integer" if integer else "a finite number"
        rng = f" {_interval(low, high, low_open, high_open)}" if low is not None else ""
        fail(f"{option} must be {kind}{rng}; got {value!r}")


def _option_name(param: Any) -> str:
    """The option's longest name (``--batch-size``), as the user typed it."""
    return max(param.opts, key=len) if param.opts else str(param.name)


def number(
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    many: bool = False,
) -> Callable[..., Any]:
    """A typer callback that checks a numeric option as ``check_number`` does (None, an
    option's "not given", passes): ``typer.Option(1.0, callback=number(0))``. ``many``: the
    option is a comma-separated list of numbers (a string), each checked."""

    def callback(param: typer.CallbackParam, value: Any) -> Any:
        if value is None:
            return value
        option = _option_name(param)
        items = floats(value, option) if many else [value]
        if not items:
            fail(f"{option} takes one or more comma-separated numbers; got {value!r}")
        for item in items:
            check_number(item, option, low, high, low_open=low_open, high_open=high_open)
        return value

    return callback


def only_with(ctx: typer.Context, applies: bool, needs: str, *names: str) -> None:
    """One line and exit 2 when an option of ``names`` (parameter names) was given on the
    command line (or by the environment) though it does not apply: ``applies`` is false,
    ``needs`` says what it needs (an option it would only be ignored with)."""
    if applies:
        return
    # By the source's name: typer may carry its own copy of click (another enum class).
    sources = {p: ctx.get_parameter_source(p.name or "") for p in ctx.command.params}
    given = {
        _option_name(p)
        for p, source in sources.items()
        if p.name in names and getattr(source, "name", "") in ("COMMANDLINE", "ENVIRONMENT")
    }
    if given:
        verb, it = ("applies", "it") if len(given) == 1 else ("apply", "them")
        fail(f"{', '.join(sorted(given))} only {verb} with {needs}; drop {it} or use {needs}")


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
    stored and how to resume, exit 130 (SIGTERM the same, exit 143); otherwise the run's
    time, which cells other drivers still hold (the report is then partial), and the
    report's path. ``cleanup`` runs before any exit (the images command leaves its process
    group). A store that fails (damaged, read-only, locked) or a checkpoint that cannot be
    read is one line too, exit 2.
    """
    from .._validation import CheckpointError
    from ..bench.store import StoreError

    errors = (*errors, StoreError, CheckpointError)
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
        raise typer.Exit(143 if summary.terminated else 130)
    log(f"finished in {summary.seconds:.1f} s")
    if summary.held:
        typer.echo(f"{summary.held}; the report is partial", err=True)
    try:
        paths = session.report()
    except (StoreError, OSError) as exc:  # a store damaged since, an --out not writable
        cleanup()
        fail(f"cannot write the report: {exc}".replace("\n", "; "))
        raise  # unreachable: fail exits
    cleanup()
    if paths:
        typer.echo(f"report: {paths[-1]}")
