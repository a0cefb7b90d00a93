"""``genlabel`` commands. Each is a thin layer over the library."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from tqdm import tqdm

from ..labels import LABEL_RULES

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="GenLabel: mixup relabeling with generative models.",
)


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


@app.command()
def intrusion(
    toy: str = typer.Option("gaussian9", help="toy data set"),
    n_samples: int = typer.Option(900, help="training points"),
    n_mix: int = typer.Option(4000, help="mixed points per rule"),
    alpha: float = typer.Option(1.0, help="Beta(alpha, alpha) mixing"),
    seed: int = typer.Option(0, help="random seed"),
) -> None:
    """Share of mixed points whose top-1 label is not their region's class, per label rule."""
    from ..analysis import intrusion_share
    from ..datasets import make_toy

    try:
        X, y = make_toy(toy, n_samples, random_state=seed)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    rows = []
    for rule in LABEL_RULES:
        share = intrusion_share(X, y, rule, toy=toy, n_mix=n_mix, alpha=alpha, random_state=seed)
        rows.append([rule, f"{100 * share:.1f} %"])
    typer.echo(
        f"Manifold intrusion on {toy} ({n_samples} points, {n_mix} mixed points, alpha={alpha}):\n"
    )
    typer.echo(_markdown(["label rule", "mixed points labelled off their region"], rows))


@app.command()
def figures(
    out: Path = typer.Option(Path("figures"), "--out", help="folder for the PNG files"),
    only: str = typer.Option("", help="comma-separated subset of the figures"),
) -> None:
    """Write the analysis figures (SPEC §11) as PNG files and list them."""
    from ..plots import FIGURES, write_figures

    names = [n.strip() for n in only.split(",") if n.strip()] or None
    try:
        paths = []
        for name in tqdm(names or list(FIGURES), desc="figures", unit="fig"):
            paths += write_figures(out, [name])
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    for path in paths:
        typer.echo(str(path))


@app.command()
def demo(
    out: Path = typer.Option(Path("reports/demo"), "--out", help="folder for the demo's figures"),
) -> None:
    """The main job on embedded data (no download): relabeling on a toy set, and the figures."""
    start = time.perf_counter()
    intrusion(toy="gaussian9", n_samples=900, n_mix=4000, alpha=1.0, seed=0)
    typer.echo("")
    figures(out=out, only="")
    typer.echo(f"\ndone in {time.perf_counter() - start:.1f} s")
