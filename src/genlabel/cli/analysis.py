"""``genlabel intrusion`` and ``genlabel figures``: the paper's analyses on toy data."""

from __future__ import annotations

from pathlib import Path

import typer

from ..registry import FIGURE_NAMES, LABEL_RULES, TOY_NAMES
from .app import app, fail, markdown, number, split_list


@app.command()
def intrusion(
    toy: str = typer.Option("gaussian9", help=f"toy data set: {', '.join(TOY_NAMES)}"),
    n_samples: int = typer.Option(900, help="training points", callback=number(1)),
    n_mix: int = typer.Option(4000, help="mixed points per rule", callback=number(1)),
    # As images' --alpha: alike but for the help, which says what it does here.
    alpha: float = typer.Option(
        1.0, help="Beta(alpha, alpha) mixing, alpha >= 0", callback=number(0)
    ),
    density: str = typer.Option(
        "gm",
        help="class density of the GenLabel rules: gm (one Gaussian per class) | kde (kernel "
        "density; for curved classes such as moons and circle)",
    ),
    seed: int = typer.Option(0, help="random seed, 0..2**32-1", callback=number(0, 2**32 - 1)),
) -> None:
    """Share of mixed points whose top-1 label is not their region's class, per label rule."""
    from ..analysis import intrusion_share
    from ..data import make_toy
    from ..density import DENSITIES

    if density not in DENSITIES:
        fail(f"unknown --density {density!r}; expected one of: {', '.join(DENSITIES)}")
    try:
        X, y = make_toy(toy, n_samples, random_state=seed)
    except ValueError as exc:
        fail(str(exc))
    rows = []
    for rule in LABEL_RULES:
        try:
            share = intrusion_share(
                X, y, rule, toy=toy, n_mix=n_mix, alpha=alpha, density=density, random_state=seed
            )
        except ValueError as exc:  # e.g. too few training points for a class's density
            fail(f"{rule}: {exc}")
        rows.append([rule, f"{100 * share:.1f} %"])
    typer.echo(
        f"Manifold intrusion on {toy} ({n_samples} points, {n_mix} mixed points, alpha={alpha}, "
        f"GenLabel density {density}):\n"
    )
    typer.echo(markdown(["label rule", "mixed points labelled off their region"], rows))
    region = (
        "its Bayes class"
        if toy == "gaussian9"
        else "the nearest training point's class (so nearest_neighbor is 0 by construction)"
    )
    hint = (
        " A Gaussian per class does not fit curved classes: try --density kde."
        if density == "gm" and toy != "gaussian9"
        else ""
    )
    typer.echo(
        f"\nA mixed point is off its region when the top-1 class of its label is not {region}; "
        f"exclude_intrusion counts only the points it keeps. Lower is better.{hint}"
    )


@app.command()
def figures(
    out: Path = typer.Option(Path("figures"), "--out", help="folder for the PNG files"),
    only: str = typer.Option(
        "", help=f"comma-separated subset of: {', '.join(FIGURE_NAMES)} (default: all)"
    ),
    redraw: bool = typer.Option(
        False,
        "--redraw",
        help="draw every figure (default: keep those whose inputs did not change since they "
        "were drawn in --out; a JSON file beside each PNG holds their hash)",
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Write the analysis figures as PNG files and list them."""
    from ..plots import unchanged_figures, write_figures

    names = split_list(only) or list(FIGURE_NAMES)
    unknown = [n for n in names if n not in FIGURE_NAMES]
    if unknown:
        fail(f"unknown figures {unknown}; known: {', '.join(FIGURE_NAMES)}")
    kept = set() if redraw else set(unchanged_figures(out, names))
    paths = write_figures(out, names, redraw=redraw, progress=progress)
    for name, path in zip(names, paths, strict=True):
        typer.echo(f"{path} (unchanged, kept)" if name in kept else str(path))
