"""``genlabel genmix``: the GenMix experiment (circle, circle3d, MNIST 7 vs 9)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import typer

from .app import (
    app,
    claim_timeout_option,
    fail,
    number,
    report_out_option,
    run_session,
    split_list,
    unset_option,
)

_DATASETS = "circle, circle3d, mnist79"
_SCHEMES = "vanilla, mixup, manifold_mixup, genmix_gm, genmix_gan"


def _lam(text: str) -> float | str:
    if text.strip() == "uniform":
        return "uniform"
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 1:  # NaN too
        fail(f"--lam takes a number in [0, 1] or 'uniform'; got {text!r}")
    return value


def _budget(epochs, n_aug, lam, eps, gan_steps, inversion_steps):
    """The default budget with the options given on the command line (checked by their
    callbacks, so that an error names the option, not the budget's field)."""
    from ..genmix.budget import GenMixBudget

    budget = GenMixBudget()
    changes: dict = {"lam": _lam(lam), "eps": eps}
    if epochs is not None:
        changes["epochs"] = epochs
    if n_aug is not None:
        changes["n_aug"] = n_aug
    gan: dict = {}
    if gan_steps is not None:
        gan["steps"] = gan_steps
    if inversion_steps is not None:
        gan["inversion_steps"] = inversion_steps
    if gan:
        changes["toy_gan"] = replace(budget.toy_gan, **gan)
        changes["image_gan"] = replace(budget.image_gan, **gan)
    return replace(budget, **changes)


# Long only by its typer signature: every option is declared, with its help, as a parameter.
@app.command()
def genmix(
    datasets: str = typer.Option(_DATASETS.replace(" ", ""), help=f"comma-separated: {_DATASETS}"),
    schemes: str = typer.Option(_SCHEMES.replace(" ", ""), help=f"comma-separated: {_SCHEMES}"),
    trials: int = typer.Option(
        5, help="trials, seeds 0..trials-1 (data draw and training)", callback=number(1)
    ),
    db: Path = typer.Option(..., "--db", help="SQLite store (resumable: stored cells are kept)"),
    out: Path = report_out_option(),
    data_dir: Path = unset_option(
        "--data-dir",
        help="folder holding mnist/ (default: $GENLABEL_DATA/images, or ../shared/data/images "
        "beside a checkout)",
    ),
    epochs: int = unset_option(help="classifier epochs (default 200)", callback=number(1)),
    n_aug: int = unset_option(
        "--n-aug", help="GenMix points per ordered class pair (default 200)", callback=number(1)
    ),
    lam: str = typer.Option(
        "0.5", help="GenMix's share of class j: a number in [0, 1] or 'uniform'"
    ),
    eps: float = typer.Option(
        0.05,
        help="GenMix's margin of the ratio test, in (0, 1)",
        callback=number(0, 1, low_open=True, high_open=True),
    ),
    gan_steps: int = unset_option(
        "--gan-steps", help="GAN training steps (default 5000 toy, 3000 MNIST)", callback=number(1)
    ),
    inversion_steps: int = unset_option(
        "--inversion-steps", help="Adam steps per GAN inversion (default 100)", callback=number(1)
    ),
    threads: int = typer.Option(
        1,
        help="torch CPU threads (1: these small models run fastest on a shared machine)",
        callback=number(1),
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    claim_timeout: float = claim_timeout_option(),
) -> None:
    """Error of vanilla, mixup, manifold mixup and GenMix (GM, GAN) on the same MLP.

    Resumable; then report.md (error in percent), results.csv and figures.
    """
    import torch

    from ..genmix.experiment import GenMixError, GenMixExperiment

    # The GAN and GenMix options are kept with any schemes: they are the store's budget, the
    # same for a run of some schemes and its resumption with the others.
    torch.set_num_threads(threads)
    try:
        experiment = GenMixExperiment(
            datasets=split_list(datasets), schemes=split_list(schemes), trials=trials,
            budget=_budget(epochs, n_aug, lam, eps, gan_steps, inversion_steps),
            db=db, out=out, data_dir=data_dir, progress=progress, log=typer.echo,
            claim_timeout=claim_timeout,
        )  # fmt: skip
    except GenMixError as exc:
        fail(str(exc).replace("\n", "; "))
    run_session(experiment, (GenMixError,))
