"""The five training schemes of the GenMix experiment, each training the same MLP.

* ``vanilla``: cross entropy on the training set.
* ``mixup``: input mixup, ``GenLabelMixup(method="mixup")`` as the trainer's mix step.
* ``manifold_mixup``: per batch, mixup of the input or of one hidden layer's output, drawn
  uniformly (``MixupStep("manifold")`` of :mod:`genlabel.images`, the image
  methods' step).
* ``genmix_gm``: GenMix (Algorithm 4) with one Gaussian per class, then training on the
  data and the generated points with their soft labels (D ∪ D_mix). On images the
  Gaussians live in a PCA space (:class:`PCAGaussianDensity`).
* ``genmix_gan``: the same with a conditional GAN trained on the trial's training data and
  p_c(x) ∝ exp(-d(x, M_c)^2 / (2 sigma^2)) by GAN inversion (``GANClassDensity``).

Every random choice comes from a seed derived from the trial: the MLP's initial weights
(the same for every scheme of a trial), the shuffling, the mixing, GenMix's draws, the GAN.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from scipy.stats import chi2

from ..density.gan import GANClassDensity
from ..density.gaussian import GaussianClassDensity
from ..density.pca_gaussian import PCAGaussianDensity
from ..models.gan import ConditionalGAN
from ..models.stacked import mlp_module
from ..training.steps import GenLabelMixup, MixupStep
from ..training.trainer import MixStep, Trainer
from .budget import GANBudget, GenMixBudget
from .datasets import GenMixData
from .sampler import GenMixResult, GenMixWarning, genmix

__all__ = [
    "GENMIX_SCHEMES",
    "PCAGaussianDensity",
    "SchemeOutcome",
    "fit_gan",
    "gan_class_density",
    "run_scheme",
]

GENMIX_SCHEMES = ("vanilla", "mixup", "manifold_mixup", "genmix_gm", "genmix_gan")


@dataclass
class SchemeOutcome:
    """One scheme's trained classifier on one trial.

    Attributes
    ----------
    scheme : str
    proba : ndarray of shape (m, k)
        Test-set class probabilities.
    params : dict
        What the cell records besides its accuracy: sizes, sigma, per-stage seconds.
    seconds : float
        Everything the scheme cost, GAN training and GenMix included.
    trainer : Trainer
    generated : GenMixResult, optional
        The GenMix points (GenMix schemes).
    """

    scheme: str
    proba: np.ndarray
    params: dict[str, Any]
    seconds: float
    trainer: Trainer
    generated: GenMixResult | None = field(default=None)


def _hidden(data: GenMixData, budget: GenMixBudget) -> tuple[int, ...]:
    return budget.image_hidden if data.image_shape is not None else budget.toy_hidden


def _fit_classifier(
    data: GenMixData,
    budget: GenMixBudget,
    trial: int,
    train: tuple[torch.Tensor, torch.Tensor],
    mixer: MixStep | None,
) -> Trainer:
    sizes = [data.n_features, *_hidden(data, budget), data.n_classes]
    model = mlp_module(sizes, torch.Generator().manual_seed(trial))
    trainer = Trainer(
        model,
        mixer=mixer,
        lr=budget.lr,
        weight_decay=budget.weight_decay,
        epochs=budget.epochs,
        batch_size=budget.batch_size,
        random_state=trial,
        verbose=0,
    )
    return trainer.fit(train)


def _gan_budget(data: GenMixData, budget: GenMixBudget) -> GANBudget:
    return budget.image_gan if data.image_shape is not None else budget.toy_gan


def fit_gan(data: GenMixData, gan_budget: GANBudget, seed: int) -> ConditionalGAN:
    """The MLP conditional GAN of GenMix's GAN case, trained on the trial's training data."""
    latent = gan_budget.latent_dim or data.n_features
    gan = ConditionalGAN(
        data.n_features, data.n_classes, latent_dim=latent, hidden=gan_budget.hidden, seed=seed
    )
    return gan.fit(
        data.X_train,
        data.y_train,
        steps=gan_budget.steps,
        batch_size=gan_budget.batch_size,
        lr=gan_budget.lr,
    )


def gan_class_density(
    gan: ConditionalGAN, data: GenMixData, gan_budget: GANBudget, seed: int
) -> GANClassDensity:
    """``GANClassDensity`` of a trained GAN, its sigma the root mean square distance of
    ``sigma_points`` evenly spaced training points to their own class's manifold."""
    radius = math.sqrt(float(chi2.ppf(gan_budget.latent_quantile, gan.latent_dim)))
    options: dict[str, Any] = {
        "restarts": gan_budget.restarts,
        "steps": gan_budget.inversion_steps,
        "ratio_steps": gan_budget.ratio_steps,
        "latent_radius": radius,
        "seed": seed,
    }
    n = data.X_train.shape[0]
    rows = torch.linspace(0, n - 1, min(gan_budget.sigma_points, n)).round().long()
    probe = GANClassDensity(gan, 1.0, **options)
    own = probe.distance(data.X_train[rows]).gather(1, data.y_train[rows, None])
    sigma = max(float(own.double().square().mean().sqrt()), 1e-6)
    return GANClassDensity(gan, sigma, **options)


def _genmix(density: Any, data: GenMixData, budget: GenMixBudget, trial: int) -> GenMixResult:
    with warnings.catch_warnings():
        # A shortfall shows in the cell's params (n_mix against n_aug); no console noise.
        warnings.simplefilter("ignore", GenMixWarning)
        return genmix(
            density,
            data.X_train.to(torch.float64),
            data.y_train,
            n_aug=budget.n_aug,
            lam=budget.lam,
            eps=budget.eps,
            max_tries=budget.max_tries,
            generator=torch.Generator().manual_seed(trial),
        )


def _generate(
    scheme: str, data: GenMixData, budget: GenMixBudget, trial: int
) -> tuple[GenMixResult, dict[str, Any]]:
    """The GenMix points of ``genmix_gm`` or ``genmix_gan``, and what to record of them."""
    start = time.perf_counter()
    params: dict[str, Any] = {}
    density: Any
    if scheme == "genmix_gm" and data.image_shape is not None:
        density = PCAGaussianDensity(n_components=budget.gm_components, reg=budget.gm_reg)
        density.fit(data.X_train, data.y_train)
    elif scheme == "genmix_gm":
        density = GaussianClassDensity(reg=budget.gm_reg).fit(data.X_train.double(), data.y_train)
    else:
        gan = fit_gan(data, _gan_budget(data, budget), trial)
        params["gan_seconds"] = round(time.perf_counter() - start, 2)
        density = gan_class_density(gan, data, _gan_budget(data, budget), trial)
        params["sigma"] = density.sigma
    mid = time.perf_counter()
    result = _genmix(density, data, budget, trial)
    params["genmix_seconds"] = round(time.perf_counter() - mid, 2)
    params["n_mix"] = int(result.counts.sum())
    params["acceptance"] = round(int(result.counts.sum()) / max(int(result.candidates.sum()), 1), 4)
    return result, params


def _mixer(scheme: str, data: GenMixData, budget: GenMixBudget, trial: int) -> MixStep | None:
    if scheme == "mixup":
        return GenLabelMixup(data.n_classes, method="mixup", alpha=budget.mixup_alpha, seed=trial)
    if scheme == "manifold_mixup":
        # The input and the output of every hidden ReLU: "1", "3", ... of the nn.Sequential.
        depth = len(_hidden(data, budget))
        layers = ("input", *(str(2 * i + 1) for i in range(depth)))
        return MixupStep(
            "manifold",
            layers=layers,
            alpha=budget.mixup_alpha,
            generator=torch.Generator().manual_seed(trial),
        )
    return None


def run_scheme(scheme: str, data: GenMixData, budget: GenMixBudget, trial: int) -> SchemeOutcome:
    """Train the MLP of ``data`` with ``scheme`` on trial ``trial``; test probabilities.

    Parameters
    ----------
    scheme : one of :data:`GENMIX_SCHEMES`
    data : GenMixData
    budget : GenMixBudget
    trial : int
        Seeds every random choice.

    Returns
    -------
    SchemeOutcome
    """
    if scheme not in GENMIX_SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; expected one of {', '.join(GENMIX_SCHEMES)}")
    start = time.perf_counter()
    train: tuple[torch.Tensor, torch.Tensor] = (data.X_train, data.y_train)
    generated: GenMixResult | None = None
    params: dict[str, Any] = {}
    if scheme.startswith("genmix"):
        generated, params = _generate(scheme, data, budget, trial)
        X_all, Y_all = generated.union(data.X_train.double(), data.y_train)
        train = (X_all.float(), Y_all.float())
    trainer = _fit_classifier(data, budget, trial, train, _mixer(scheme, data, budget, trial))
    proba = trainer.predict_proba(data.X_test).double().numpy()
    params["n_train"] = int(train[0].shape[0])
    return SchemeOutcome(scheme, proba, params, time.perf_counter() - start, trainer, generated)
