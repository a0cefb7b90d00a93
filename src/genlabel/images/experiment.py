"""One cell of the image protocol: train a (dataset, method, model, trial), evaluate it.

:class:`ImageSettings` holds everything that defines a cell's result besides (method,
trial); :func:`run_image_cell` trains the cell's model with the
:class:`~genlabel.training.Trainer` (SGD with momentum, the data set's standard
augmentation, a model whose first layer normalises, so inputs are in [0, 1]) and returns
the store's records: clean accuracy with ECE, NLL and the reliability bins, or robust
accuracy under an attack at each eps.

Training is resumable: with ``checkpoint_dir`` the Trainer writes a checkpoint after every
epoch and a killed cell resumes from it; the finished model is kept there as ``model.pt``
(weights only), so a robust run attacks the very models of the clean run instead of
training them again.
"""

from __future__ import annotations

import functools
import json
import math
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch import nn

from .._distributed import is_main_process
from .._validation import (
    checkpoint_error,
    is_int_at_least,
    is_real_in,
    load_checkpoint,
    resolve_device,
)
from ..bench.protocol import (
    attack_names,
    calibration,
    floats_as_floats,
    measure_label,
    one_attack_spelling,
    unknown_attacks,
)
from ..bench.store import config_hash
from ..data import DataError
from ..data.augment import DATASET_STATS, default_augment
from ..data.images import IMAGE_DATASETS, ImageSet, load_images
from ..labels import LABEL_CLASSES
from ..mixing import ManifoldMixup, capture_output
from ..models import build_model
from ..registry import IMAGE_MODELS, check_method
from ..robustness import ATTACKS, robust_accuracy
from ..training import LabelDiagnostics, Trainer
from ..training.diagnostics import DIAGNOSTICS
from ..training.steps import build_step, manifold_layers
from ..training.trainer import CHECKPOINT_NAME, model_proba

__all__ = [
    "MODEL_FILE",
    "ImageError",
    "ImageSettings",
    "build_image_model",
    "cell_seeds",
    "check_layers",
    "load_image_data",
    "predict_proba",
    "run_image_cell",
    "select_gamma",
    "validation_split",
]

#: The finished model of a cell, weights only, in its checkpoint folder.
MODEL_FILE = "model.pt"
_SCHEDULES = ("cosine", "step")
_EVAL_BATCH = 1000


class ImageError(ValueError):
    """An image experiment that cannot run as asked; the message says what to change."""


# The float settings, stored as floats whatever number type they were given in.
_FLOAT_SETTINGS = (
    "lr",
    "momentum",
    "weight_decay",
    "alpha",
    "gamma",
    "gamma_grid",
    "val_split",
    "beta",
    "eps",
)


@dataclass(frozen=True)
class ImageSettings:
    """Everything that defines an image cell's result besides (method, trial).

    :meth:`errors` lists every problem with the settings.

    Parameters
    ----------
    dataset : str, default="digits"
        One of ``IMAGE_DATASETS``.
    model : {"cnn", "preact_resnet18"}, default="cnn"
        ``SmallCNN`` or ``PreActResNet18``.
    epochs : int, default=5
    batch_size : int, default=128
        Per process under torch.distributed.
    lr : float, default=0.05
    momentum : float, default=0.9
    weight_decay : float, default=5e-4
        SGD's settings.
    schedule : {"cosine", "step"}, default="cosine"
        Annealed to 0 over the epochs, or divided by 10 at 50 % and 75 % of them.
    alpha : float, default=1.0
        Beta(alpha, alpha) of every mix (one lam per batch).
    gamma : float, default=0.5
        GenLabel's loss ratio gamma CE(y_gen) + (1 - gamma) CE(y_mix).
    gamma_grid : tuple of float, optional
        With ``val_split``: GenLabel's gamma is chosen among these by the accuracy on a
        validation split of ``val_split`` of the training images, then the model is
        retrained on all of them with it (see ``select_gamma``); ``gamma`` is then unused.
    val_split : float in (0, 1), optional
        The share of the validation split (with ``gamma_grid``).
    label_classes : {"mixed", "all"}, default="mixed"
        y_gen over the two classes each point was mixed from, or over every class
        (Algorithm 3 as the paper writes it). "mixed" is the image default: with "all",
        GenLabel cost Fashion-MNIST 3.3-4.7 points of clean accuracy against the mix it
        relabels, with "mixed" 0.4-0.5 (docs/results/image-classifiers.md).
    beta : float in [0, 1), default=0.5
        The memory ratio of the online class statistics (Algorithm 3).
    bias_correction : bool, default=True
        Divide the statistics' EMA by 1 - beta^t, so the start values (mu_c = 0,
        sigma_c^2 = 1) carry no weight (see ``OnlineGaussianLabeler``).
    train_subset : int, optional
        Train on this many training images (a fixed random subset, the same for every
        method and trial); all when None.
    amp : {None, "bf16", "fp16"}, optional
        Mixed precision: ``bf16`` on the CPU or CUDA, ``fp16`` on CUDA only.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"``, ...
    data_dir : str, optional
        The folder of the image data sets (see ``load_images``).
    layers : tuple of str, optional
        Manifold mixup's layers (default: the model's ``manifold_layers``).
    features : str, default="features"
        The module whose output the class Gaussians (and AdaMixup's discriminator) see.
    update_every : int, default=1
    update_warmup : int, default=100
        The GenLabel methods update the class statistics on every ``update_every``-th
        batch (1: every batch, Algorithm 3 as written; the update is an extra forward pass
        of the clean batch, see ``GenLabelStep``), after ``update_warmup`` batches that
        all update them.
    channels_last : bool, optional
        The channels-last memory format for the model and batches (None: on CUDA only).
    measure : {"clean", "robust"}, default="clean"
    attack : str, default="autoattack"
        With measure "robust": ``autoattack``, ``pgd``, ``fgsm``, ``square``, or several,
        comma-separated, each run on the same model.
    eps : tuple of float, default=(0.1, 0.2)
        The attacks' L-inf radii on [0, 1] pixels.
    robust_subset : int, default=500
        How many test images (the first ones) are attacked.
    """

    dataset: str = "digits"
    model: str = "cnn"
    epochs: int = 5
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    alpha: float = 1.0
    gamma: float = 0.5
    gamma_grid: tuple[float, ...] | None = None
    val_split: float | None = None
    label_classes: str = "mixed"
    beta: float = 0.5
    bias_correction: bool = True
    train_subset: int | None = None
    amp: str | None = None
    device: str = "cpu"
    data_dir: str | None = None
    layers: tuple[str, ...] | None = None
    features: str = "features"
    update_every: int = 1
    update_warmup: int = 100
    channels_last: bool | None = None
    measure: str = "clean"
    attack: str = "autoattack"
    eps: tuple[float, ...] = (0.1, 0.2)
    robust_subset: int = 500

    def errors(self) -> list[str]:
        """Every problem with these settings (empty when they can run)."""
        checks = (
            ("dataset", self.dataset in IMAGE_DATASETS, "one of " + ", ".join(IMAGE_DATASETS)),
            ("model", self.model in IMAGE_MODELS, "one of " + ", ".join(IMAGE_MODELS)),
            ("epochs", is_int_at_least(self.epochs, 1), "an int >= 1"),
            ("batch_size", is_int_at_least(self.batch_size, 1), "an int >= 1"),
            ("lr", is_real_in(self.lr, 0, low_open=True), "a float > 0"),
            ("momentum", is_real_in(self.momentum, 0, 1), "a float in [0, 1]"),
            ("weight_decay", is_real_in(self.weight_decay, 0), "a float >= 0"),
            ("schedule", self.schedule in _SCHEDULES, "cosine or step"),
            ("alpha", is_real_in(self.alpha, 0), "a float >= 0"),
            ("gamma", is_real_in(self.gamma, 0, 1), "a float in [0, 1]"),
            ("label_classes", self.label_classes in LABEL_CLASSES, "all or mixed"),
            ("gamma_grid", self.gamma_grid is None or (
                isinstance(self.gamma_grid, tuple) and len(self.gamma_grid) > 0
                and all(is_real_in(g, 0, 1) for g in self.gamma_grid)),
             "None or one or more floats in [0, 1]"),
            ("val_split", self.val_split is None or (
                is_real_in(self.val_split, 0, 1, low_open=True, high_open=True)),
             "None or a float in (0, 1)"),
            ("beta", is_real_in(self.beta, 0, 1, high_open=True), "a float in [0, 1)"),
            ("train_subset", self.train_subset is None or is_int_at_least(self.train_subset, 1),
             "an int >= 1 or None"),
            ("amp", self.amp in (None, "bf16", "fp16"), "None, bf16 or fp16"),
            ("measure", self.measure in ("clean", "robust"), "clean or robust"),
            ("attack", not unknown_attacks(self),
             "one of " + ", ".join(ATTACKS) + " (or several, comma-separated)"),
            ("eps", len(self.eps) > 0 and all(is_real_in(e, 0, 1) for e in self.eps),
             "one or more numbers in [0, 1] (pixels are in [0, 1])"),
            ("robust_subset", is_int_at_least(self.robust_subset, 1), "an int >= 1"),
            ("update_every", is_int_at_least(self.update_every, 1), "an int >= 1"),
            ("update_warmup", is_int_at_least(self.update_warmup, 0), "an int >= 0"),
            ("channels_last", self.channels_last in (None, True, False), "None, True or False"),
        )  # fmt: skip
        errors = [f"{name} must be {expected}; got {getattr(self, name)!r}"
                  for name, ok, expected in checks if not ok]  # fmt: skip
        if (self.gamma_grid is None) != (self.val_split is None):
            errors.append(
                "gamma_grid and val_split go together: several gammas are chosen on a "
                "validation split (--gamma 0,0.1,0.25,0.5 --val-split 0.1)"
            )
        try:
            device = resolve_device(self.device, "genlabel images")
            if self.amp == "fp16" and device.type != "cuda":
                errors.append("amp fp16 needs a CUDA device; use bf16 on the CPU")
        except ValueError as exc:
            errors.append(str(exc))
        return errors

    def __post_init__(self) -> None:
        one_attack_spelling(self)
        floats_as_floats(self, _FLOAT_SETTINGS)
        if isinstance(self.gamma_grid, (list, tuple)):  # one spelling: a tuple, no repeats
            object.__setattr__(self, "gamma_grid", tuple(dict.fromkeys(self.gamma_grid)))

    def check(self) -> ImageSettings:
        """These settings, or an ImageError listing every problem."""
        errors = self.errors()
        if errors:
            raise ImageError("; ".join(errors))
        return self

    def fingerprint(self) -> dict[str, Any]:
        """The settings that change results (not where data live nor the device)."""
        out = asdict(self)
        drop = ["data_dir", "device", "channels_last"]  # the memory format: speed only
        drop += ["label_classes"] if self.label_classes == "all" else []  # as before
        drop += ["gamma_grid", "val_split"] if self.gamma_grid is None else ["gamma"]
        drop += ["update_every", "update_warmup"] if self.update_every == 1 else []  # as before
        if self.measure == "clean":
            drop += ["attack", "eps", "robust_subset"]
        for key in drop:
            out.pop(key)
        return out

    def training_key(self) -> str:
        """A short hash of the settings that change the trained model (names its folder)."""
        out = self.fingerprint()
        for key in ("measure", "attack", "eps", "robust_subset"):
            out.pop(key, None)
        return config_hash(out)[:10]

    @classmethod
    def field_names(cls) -> list[str]:
        """The names of the settings, in declaration order."""
        return [f.name for f in fields(cls)]


@functools.lru_cache(maxsize=4)
def _load_split(name: str, data_dir: str | None, split: str) -> ImageSet:
    return load_images(name, root=data_dir, split=split)


def load_image_data(settings: ImageSettings) -> tuple[ImageSet, ImageSet]:
    """The training set (the ``train_subset`` when set) and the test set, uint8.

    The subset is a fixed random one (seed 0), the same for every method and trial.

    Parameters
    ----------
    settings : ImageSettings
        Its ``dataset``, ``data_dir`` and ``train_subset`` are used.

    Returns
    -------
    train, test : ImageSet

    Raises
    ------
    DataError
        The data set cannot be found or read, or ``train_subset`` is larger than its
        training set.
    """
    train = _load_split(settings.dataset, settings.data_dir, "train")
    test = _load_split(settings.dataset, settings.data_dir, "test")
    n = settings.train_subset
    if n is not None and n > len(train):
        raise DataError(
            f"train_subset {n} is larger than the training set of {settings.dataset} "
            f"({len(train)} images); leave it out to train on all of them"
        )
    if n is not None and n < len(train):
        rows = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:n]
        train = ImageSet(train.x[rows], train.y[rows], train.classes, train.name, train.split)
    return train, test


def cell_seeds(trial: int) -> dict[str, int]:
    """The seeds of a trial: the model's initial weights (shared by every method of the
    trial), the mix step's draws, the augmentation, the shuffling."""
    base = int(trial) * 1_000_003
    return {"model": base, "step": base + 1, "augment": base + 2, "shuffle": base + 3}


def build_image_model(settings: ImageSettings, train: ImageSet, seed: int) -> nn.Module:
    """The settings' model for the data set, normalising in its first layer."""
    return build_model(
        settings.model,
        num_classes=train.n_classes,
        in_channels=int(train.x.shape[1]),
        image_size=tuple(train.x.shape[-2:]),
        normalize=DATASET_STATS[settings.dataset],
        seed=seed,
    )


def check_layers(settings: ImageSettings, model: nn.Module, methods: list[str]) -> None:
    """An ImageError when the model lacks the ``features`` module or a manifold layer."""
    try:
        with capture_output(model, settings.features):
            pass
        if any(check_method(m, settings.model).mixes_layers for m in methods):
            ManifoldMixup(model, settings.layers or manifold_layers(model))
    except ValueError as exc:
        raise ImageError(str(exc)) from None


def _feature_dim(model: nn.Module, features: str, sample: torch.Tensor) -> int:
    """Width of the ``features`` output: a dry pass of one image in eval mode."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), capture_output(model, features) as captured:
            model(sample[:1].float().div(255))
    finally:
        model.train(was_training)
    return int(captured.output[0].numel())


@dataclass
class _Trained:
    """A cell's trained model, its training seconds and per-epoch label diagnostics."""

    model: nn.Module
    seconds: float
    diagnostics: list[dict[str, float]]


def _counts_labels(method: str, model: str) -> bool:
    """Whether the method's step labels mixes (and so has label diagnostics)."""
    spec = check_method(method, model)
    return spec.mixes and not spec.adaptive


def _train(
    settings: ImageSettings, method: str, trial: int, train: ImageSet, folder: Path | None,
    verbose: int,
) -> _Trained:  # fmt: skip
    """The cell's trained model (loaded when finished before), its seconds, diagnostics."""
    seeds = cell_seeds(trial)
    device = resolve_device(settings.device)
    model = build_image_model(settings, train, seeds["model"])
    final = None if folder is None else folder / MODEL_FILE
    if final is not None and final.is_file():
        restart = "delete it to train that cell again"
        saved = load_checkpoint(final, restart=restart)
        try:
            model.load_state_dict(saved["model"])
            diagnostics = [dict(row) for row in saved.get("diagnostics", [])]
            return _Trained(model.to(device), float(saved["seconds"]), diagnostics)
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
            raise checkpoint_error(final, exc, restart) from None
    step = build_step(
        method, num_classes=train.n_classes, in_channels=int(train.x.shape[1]),
        feature_dim=_feature_dim(model, settings.features, train.x), alpha=settings.alpha,
        gamma=settings.gamma, label_classes=settings.label_classes, memory=settings.beta,
        bias_correction=settings.bias_correction, layers=settings.layers,
        features=settings.features, update_every=settings.update_every,
        update_warmup=settings.update_warmup, seed=seeds["step"],
    )  # fmt: skip
    counting = _counts_labels(method, settings.model)
    trainer = Trainer(
        model, mixer=step, optimizer="sgd", lr=settings.lr, momentum=settings.momentum,
        weight_decay=settings.weight_decay, epochs=settings.epochs,
        batch_size=settings.batch_size, scheduler=settings.schedule, device=device,
        amp=settings.amp, channels_last=settings.channels_last,
        transform=default_augment(settings.dataset, seed=seeds["augment"]),
        callbacks=[LabelDiagnostics()] if counting else [],
        checkpoint_dir=folder, random_state=seeds["shuffle"], verbose=verbose,
    ).fit((train.x, train.y))  # fmt: skip
    seconds = sum(row["seconds"] for row in trainer.history_)
    diagnostics = [
        {"epoch": int(row["epoch"]), **{key: float(row[key]) for key in DIAGNOSTICS}}
        for row in trainer.history_
        if counting and DIAGNOSTICS[0] in row
    ]
    if final is not None and is_main_process():
        tmp = final.with_suffix(".tmp")
        state = {"model": model.state_dict(), "seconds": seconds, "diagnostics": diagnostics}
        torch.save(state, tmp)
        tmp.replace(final)
        (final.parent / CHECKPOINT_NAME).unlink(missing_ok=True)
    return _Trained(model, seconds, diagnostics)


def validation_split(train: ImageSet, share: float) -> tuple[ImageSet, ImageSet]:
    """The training part and the validation part of ``train``: a stratified random split
    (seed 0, the same for every method and trial), ``share`` of the images for validation."""
    rows = np.arange(len(train))
    labels = train.y.numpy()
    counts = np.bincount(labels)
    stratify = labels if counts[counts > 0].min() >= 2 else None
    fit, val = train_test_split(rows, test_size=share, stratify=stratify, random_state=0)
    part = [torch.from_numpy(np.sort(r)) for r in (fit, val)]
    return tuple(  # type: ignore[return-value]
        ImageSet(train.x[r], train.y[r], train.classes, train.name, train.split) for r in part
    )


def _accuracy(model: nn.Module, images: ImageSet, device: torch.device) -> float:
    proba = predict_proba(model, images.x, device)
    return float((proba.argmax(1) == images.y.numpy()).mean())


def gamma_name(gamma: float) -> str:
    """``gamma`` as a short name that tells every two values apart: ``0.25`` (``:g``) when
    that reads back as the same float, else the float's repr (``:g`` keeps 6 significant
    digits, so 0.1 and 0.1000001 would share a checkpoint folder)."""
    short = f"{gamma:g}"
    return short if float(short) == gamma else repr(float(gamma))


def select_gamma(
    settings: ImageSettings, method: str, trial: int, train: ImageSet, folder: Path | None,
    verbose: int = 0,
) -> tuple[_Trained, dict[str, Any]]:  # fmt: skip
    """GenLabel's gamma chosen on a validation split, then the model retrained with it.

    One model per gamma of ``settings.gamma_grid`` is trained on the training part (``1 -
    val_split`` of ``train``) and scored by its accuracy on the validation part; the
    highest wins, ties going to the smaller gamma (gamma = 0 is the mix itself, so the
    choice falls back to it when the labels do not help). The cell's model is then trained
    on the whole of ``train`` with the chosen gamma, with the same seeds as every other
    cell of the trial. Each candidate keeps its finished model in ``folder/val-gamma<g>``,
    so an interrupted selection resumes where it stopped.

    Returns the trained cell (its seconds those of every model trained for it) and the
    choice: ``gamma``, ``gamma_grid``, ``val_split`` and ``val_accuracy`` (gamma ->
    accuracy).
    """
    assert settings.gamma_grid and settings.val_split is not None  # checked by the settings
    fit, val = validation_split(train, settings.val_split)
    device = resolve_device(settings.device)
    scores: dict[float, float] = {}
    seconds = 0.0
    for gamma in settings.gamma_grid:
        sub = None if folder is None else folder / f"val-gamma{gamma_name(gamma)}"
        trained = _train(replace(settings, gamma=gamma), method, trial, fit, sub, verbose)
        scores[gamma] = _accuracy(trained.model, val, device)
        seconds += trained.seconds
    best = max(sorted(scores), key=lambda g: scores[g])  # first (smallest) of the best
    final = _train(replace(settings, gamma=best), method, trial, train, folder, verbose)
    final = _Trained(final.model, final.seconds + seconds, final.diagnostics)
    choice = {
        "gamma": best,
        "gamma_grid": list(settings.gamma_grid),
        "val_split": settings.val_split,
        "val_accuracy": {gamma_name(g): acc for g, acc in scores.items()},
    }
    return final, choice


def predict_proba(model: nn.Module, images: torch.Tensor, device: torch.device) -> np.ndarray:
    """Class probabilities (n, k), float64, of uint8 images (n, c, h, w), in eval mode.

    Parameters
    ----------
    model : nn.Module
        The classifier; its training mode is restored afterwards.
    images : Tensor of shape (n, c, h, w), uint8
        Scaled to [0, 1] in batches on ``device``.
    device : torch.device

    Returns
    -------
    ndarray of shape (n, k), float64
    """
    return model_proba(model, images, device, batch_size=_EVAL_BATCH).double().numpy()


def _params(settings: ImageSettings, method: str) -> dict[str, Any]:
    spec = check_method(method, settings.model)
    keys = ["epochs", "batch_size", "lr", "momentum", "weight_decay", "schedule", "amp"]
    keys += ["train_subset"] if settings.train_subset else []
    keys += ["alpha"] if spec.draws_alpha else []
    keys += ["gamma", "beta", "bias_correction", "features"] if spec.is_genlabel else []
    keys += ["label_classes"] if spec.is_genlabel and settings.label_classes != "all" else []
    keys += (
        ["update_every", "update_warmup"] if spec.is_genlabel and settings.update_every != 1 else []
    )
    out = {key: getattr(settings, key) for key in keys}
    if spec.mixes_layers:
        out["layers"] = list(settings.layers) if settings.layers else "model default"
    return out


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _diagnostic_columns(diagnostics: list[dict[str, float]]) -> dict[str, Any]:
    """The store's diagnostic columns: the last epoch's values, and every epoch's as JSON
    (none for methods whose step does not label mixes)."""
    if not diagnostics:
        return {}
    last = diagnostics[-1]
    rows = [{key: _finite(v) if key != "epoch" else v for key, v in r.items()} for r in diagnostics]
    return {key: _finite(last[key]) for key in DIAGNOSTICS} | {
        "label_diagnostics": json.dumps(rows)
    }


def _trained_cell(
    settings: ImageSettings, method: str, trial: int, train: ImageSet, folder: Path | None,
    verbose: int,
) -> tuple[_Trained, dict[str, Any]]:  # fmt: skip
    """The cell's model, and the gamma chosen for it (GenLabel with a ``gamma_grid``)."""
    if settings.gamma_grid and check_method(method, settings.model).is_genlabel:
        return select_gamma(settings, method, trial, train, folder, verbose)
    return _train(settings, method, trial, train, folder, verbose), {}


def run_image_cell(
    settings: ImageSettings,
    method: str,
    trial: int,
    *,
    checkpoint_dir: str | Path | None = None,
    verbose: int = 0,
) -> list[dict[str, Any]]:
    """Train and evaluate one cell; returns its records for the ResultStore.

    Parameters
    ----------
    settings : ImageSettings
    method : str
        An image method of :mod:`genlabel.registry` (aliases accepted).
    trial : int
        Seeds the model's initial weights, the draws, the augmentation and the shuffling.
    checkpoint_dir : path, optional
        The cell's folder: checkpoints after every epoch (a killed cell resumes), then the
        finished model (``model.pt``), which later calls load instead of training.
    verbose : int, default=0
        1: the Trainer's progress bar.

    Returns
    -------
    list of dict
        measure "clean": one record with test_accuracy, ece, nll, reliability; measure
        "robust": one per attack and eps (``robust-<attack>-eps<e>``), with the clean test accuracy
        and the robust accuracy on the first ``robust_subset`` test images.
    """
    settings.check()
    name = check_method(method, settings.model).name
    train, test = load_image_data(settings)
    folder = None if checkpoint_dir is None else Path(checkpoint_dir)
    trained, choice = _trained_cell(settings, name, trial, train, folder, verbose)
    model, seconds = trained.model, trained.seconds
    start = time.perf_counter()  # the evaluation's time is added to the training's
    device = resolve_device(settings.device)
    proba = predict_proba(model, test.x, device)
    y = test.y.numpy()
    base = {
        "dataset": settings.dataset, "method": name, "model": settings.model, "trial": trial,
        "alpha": settings.alpha, "test_accuracy": float((proba.argmax(1) == y).mean()),
        "params": json.dumps(_params(settings, name) | choice, sort_keys=True),
    } | _diagnostic_columns(trained.diagnostics)  # fmt: skip
    if settings.measure == "clean":
        evaluated = time.perf_counter() - start
        return [base | {"measure": "clean", "seconds": seconds + evaluated} | calibration(proba, y)]
    model.eval()
    x = test.x[: settings.robust_subset].to(device).float().div(255)
    yr = test.y[: settings.robust_subset].to(device)
    records = []
    for attack in attack_names(settings):
        for eps in settings.eps:
            robust = robust_accuracy(model, x, yr, attack=attack, eps=eps, bounds=(0.0, 1.0))
            measure = measure_label(settings, eps, attack)
            records.append(base | {"measure": measure, "robust_accuracy": robust})
    total = seconds + time.perf_counter() - start
    return [r | {"seconds": total} for r in records]
