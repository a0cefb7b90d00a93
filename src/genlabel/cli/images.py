"""``genlabel images``: the image methods on an image data set, into a resumable store."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..registry import ATTACKS, IMAGE_DATASETS, IMAGE_MODELS, method_names
from .app import (
    app,
    claim_timeout_option,
    fail,
    floats,
    number,
    only_with,
    report_out_option,
    run_session,
    split_list,
    unset_option,
)

if TYPE_CHECKING:
    from ..images import ImageSettings

_METHODS = ", ".join(method_names(models=IMAGE_MODELS))


# Typer keeps a help paragraph's line breaks, so the paragraphs are one string each here.
_IMAGES_HELP = (
    "Train and evaluate image methods (one cell per method and trial), then the report.\n\n"
    "Finished cells are skipped and a killed cell resumes from its last epoch (checkpoints in "
    "<db stem>-checkpoints/ beside the store); --measure robust attacks the models the clean "
    "run trained (training them first if it has not). Under torchrun every process trains "
    "its part of each batch."
)


# Long only by its typer signature: every option is declared, with its help, as a parameter.
@app.command(help=_IMAGES_HELP)
def images(
    ctx: typer.Context,
    dataset: str = typer.Option(..., "--dataset", help=f"one of: {', '.join(IMAGE_DATASETS)}"),
    data_dir: Path = unset_option(
        "--data-dir",
        help="folder of the image data sets (mnist/, fashion_mnist/, cifar-10-batches-bin/, "
        "...) or the folder holding one set's files; default: $GENLABEL_DATA/images or ../shared/data/images beside a checkout; "
        "digits needs none",
    ),
    model: str = typer.Option("cnn", help=f"{' | '.join(IMAGE_MODELS)}"),
    methods: str = typer.Option("", help=f"comma-separated methods (default: all), of: {_METHODS}"),
    epochs: int = typer.Option(5, help="training epochs", callback=number(1)),
    trials: int = typer.Option(1, help="trials, seeds 0..trials-1", callback=number(1)),
    train_subset: int = unset_option(
        "--train-subset", help="train on a fixed random subset of N images", callback=number(1)
    ),
    batch_size: int = typer.Option(
        128, "--batch-size", help="batch size (per process)", callback=number(1)
    ),
    lr: float = typer.Option(
        0.05,
        help="SGD learning rate > 0 (momentum 0.9, weight decay 5e-4)",
        callback=number(0, low_open=True),
    ),
    schedule: str = typer.Option("cosine", help="cosine | step"),
    # As intrusion's --alpha: alike but for the help, which says what it does here.
    alpha: float = typer.Option(
        1.0, help="Beta(alpha, alpha) of every mix, alpha >= 0", callback=number(0)
    ),
    gamma: str = typer.Option(
        "0.5",
        help="GenLabel's loss ratio in [0, 1]; several, comma-separated (e.g. "
        "0,0.1,0.25,0.5), are chosen among on a validation split (needs --val-split)",
        callback=number(0, 1, many=True),
    ),
    val_split: float = unset_option(
        "--val-split",
        help="with several --gamma: the share of the training images held out to choose "
        "gamma (one model per gamma), before the cell's model is retrained on all of them",
        callback=number(0, 1, low_open=True, high_open=True),
    ),
    beta: float = typer.Option(
        0.5,
        help="memory of the online class statistics, in [0, 1)",
        callback=number(0, 1, high_open=True),
    ),
    # As bench's and images' --label-classes: alike but for the help, which says what the
    # option does in each command.
    label_classes: str = typer.Option(
        "mixed",
        "--label-classes",
        help="GenLabel methods: the classes a label may use: mixed (only the two classes "
        "each image was mixed from; the image default, as measured) | all (Algorithm 3)",
    ),
    layers: str = typer.Option(
        "",
        help="manifold mixup's layers, comma-separated module names or 'input' "
        "(default: the model's: cnn input,features.block1,features.block2)",
    ),  # fmt: skip
    update_every: int = typer.Option(
        1,
        "--update-every",
        help="GenLabel methods: update the class statistics on every k-th batch (1: every "
        "batch, as Algorithm 3; the update is an extra forward pass of the clean batch)",
        callback=number(1),
    ),
    update_warmup: int = typer.Option(
        100,
        "--update-warmup",
        help="with --update-every > 1: the first N batches all update the statistics",
        callback=number(0),
    ),
    channels_last: bool = unset_option(
        "--channels-last/--no-channels-last",
        help="channels-last memory format (default: on CUDA only; faster for cnn on the CPU)",
    ),
    device: str = typer.Option("cpu", help="cpu | cuda | cuda:N"),
    amp: str = unset_option(help="bf16 (CPU or CUDA) | fp16 (CUDA only) mixed precision"),
    measure: str = typer.Option("clean", help="clean | robust"),
    attack: str = typer.Option(
        "autoattack",
        help=f"{' | '.join(ATTACKS)}, or several comma-separated (with --measure robust)",
    ),
    eps: str = typer.Option(
        "0.1,0.2",
        help="L-inf radii in [0, 1] (pixels are in [0, 1]), comma-separated",
        callback=number(0, 1, many=True),
    ),
    robust_subset: int = typer.Option(
        500, "--robust-subset", help="test images attacked", callback=number(1)
    ),
    db: Path = typer.Option(..., "--db", help="SQLite store (resumable: stored cells are skipped)"),
    out: Path = report_out_option(),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    claim_timeout: float = claim_timeout_option(),
) -> None:
    """``genlabel images`` (its help is ``_IMAGES_HELP``)."""
    from ..images import ImageSettings

    only_with(ctx, measure == "robust", "--measure robust", "attack", "eps", "robust_subset")
    only_with(ctx, update_every > 1, "--update-every > 1", "update_warmup")
    only_with(
        ctx, _relabels(split_list(methods)), "a GenLabel method in --methods",
        "gamma", "val_split", "label_classes",
    )  # fmt: skip
    gammas = floats(gamma, "--gamma")
    if not gammas:
        fail("--gamma takes one or more comma-separated numbers in [0, 1]")
    if len(gammas) > 1 and val_split is None:
        fail("several --gamma values are chosen on a validation split: add --val-split 0.1")
    if len(gammas) == 1 and val_split is not None:
        fail("--val-split chooses among several --gamma values; give several, e.g. 0,0.5")
    grid = tuple(gammas) if len(gammas) > 1 else None
    settings = ImageSettings(
        dataset=dataset, model=model, epochs=epochs, batch_size=batch_size, lr=lr,
        schedule=schedule, alpha=alpha, gamma=gammas[0], gamma_grid=grid, val_split=val_split,
        label_classes=label_classes, beta=beta,
        train_subset=train_subset,
        amp=amp, device=device, data_dir=str(data_dir) if data_dir else None,
        layers=tuple(split_list(layers)) or None, update_every=update_every,
        update_warmup=update_warmup, channels_last=channels_last, measure=measure, attack=attack,
        eps=tuple(floats(eps, "--eps")), robust_subset=robust_subset,
    )  # fmt: skip
    _run(
        settings, methods=split_list(methods), trials=trials, db=db, out=out, progress=progress,
        claim_timeout=claim_timeout,
    )  # fmt: skip


def _run(
    settings: ImageSettings,
    *,
    methods: list[str],
    trials: int,
    db: Path,
    out: Path | None,
    progress: bool,
    claim_timeout: float,
):
    """Plan, run and report a session (one process, or every process under torchrun)."""
    from ..images import ImageError, ImageSession
    from ..images.distributed import close_distributed, init_distributed

    try:
        settings = replace(settings.check(), device=init_distributed(settings.device))
        session = ImageSession(
            settings, methods=methods, trials=trials, db=db, out=out, progress=progress,
            log=typer.echo, claim_timeout=claim_timeout,
        )  # fmt: skip
    except (ImageError, ImportError) as exc:
        close_distributed()
        fail(str(exc))
    run_session(session, (ImageError, ImportError), log=session.log, cleanup=close_distributed)


def _relabels(methods: list[str]) -> bool:
    """Whether the run trains a GenLabel method (all methods when none are named; an
    unknown name counts as one here, and the session reports it)."""
    from ..labels.mixed import GENLABEL_RULES
    from ..registry import resolve_method

    if not methods:
        return True
    for name in methods:
        try:
            if resolve_method(name).rule in GENLABEL_RULES:
                return True
        except ValueError:
            return True
    return False
