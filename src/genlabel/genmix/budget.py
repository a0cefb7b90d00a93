"""The compute budget of the GenMix experiment: every setting that changes its results.

Defaults are the budget of the reported table (3 data sets x 5 schemes x 5 trials in under
30 minutes on two shared CPU cores); a test passes a tiny one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .._validation import is_int_at_least, is_real_in, parameter_error

__all__ = ["GANBudget", "GenMixBudget"]


@dataclass(frozen=True)
class GANBudget:
    """The conditional GAN of one kind of data and its inversion (GenMix's GAN case).

    Attributes
    ----------
    latent_dim : int or None
        None: the data's dimension (2 for circle, 3 for circle3d). A latent space of more
        dimensions than the data leaves low-probability holes the generator maps anywhere.
    hidden : int
        Hidden units of the MLP generator and discriminator (two layers each).
    steps, batch_size, lr :
        GAN training (Adam, betas (0.5, 0.999)).
    restarts, inversion_steps, ratio_steps :
        GAN inversion per point and class (``GANClassDensity``): latent starts, Adam steps,
        Gauss-Newton steps of ``find_ratio_points``.
    latent_quantile : float
        The manifolds are the outputs of codes with ||z|| at most this quantile of the
        latent norm under N(0, I).
    sigma_points : int
        sigma of p_c(x) ∝ exp(-d(x, M_c)^2 / (2 sigma^2)) is the root mean square distance of
        this many training points (the first ones of the trial's draw) to their own class's
        manifold.
    """

    latent_dim: int | None
    hidden: int
    steps: int
    lr: float
    batch_size: int = 64
    restarts: int = 4
    inversion_steps: int = 100
    ratio_steps: int = 10
    latent_quantile: float = 0.99
    sigma_points: int = 100

    def errors(self, prefix: str) -> list[str]:
        """Every bad setting, as messages naming ``prefix.name``."""
        owner = "GenMixBudget"
        out = []
        for name in ("hidden", "steps", "restarts", "inversion_steps", "ratio_steps"):
            if not is_int_at_least(getattr(self, name), 1):
                out.append(
                    parameter_error(owner, f"{prefix}.{name}", "an int >= 1", getattr(self, name))
                )
        for name, low in (("batch_size", 2), ("sigma_points", 2)):
            if not is_int_at_least(getattr(self, name), low):
                out.append(
                    parameter_error(
                        owner, f"{prefix}.{name}", f"an int >= {low}", getattr(self, name)
                    )
                )
        if self.latent_dim is not None and not is_int_at_least(self.latent_dim, 1):
            out.append(
                parameter_error(
                    owner, f"{prefix}.latent_dim", "None or an int >= 1", self.latent_dim
                )
            )
        if not is_real_in(self.lr, 0, low_open=True):
            out.append(
                parameter_error(owner, f"{prefix}.lr", "a float in the range (0, inf)", self.lr)
            )
        if not is_real_in(self.latent_quantile, 0, 1, low_open=True, high_open=True):
            out.append(
                parameter_error(
                    owner,
                    f"{prefix}.latent_quantile",
                    "a float in the range (0, 1)",
                    self.latent_quantile,
                )
            )
        return [str(e) for e in out]


@dataclass(frozen=True)
class GenMixBudget:
    """Everything that defines a cell of the GenMix experiment besides (data set, scheme,
    trial).

    Attributes
    ----------
    epochs, batch_size, lr, weight_decay :
        The classifier's training (Adam), the same for every scheme: ``epochs`` passes over
        its training set (D, or D ∪ D_mix for the GenMix schemes).
    toy_hidden, image_hidden : tuple of int
        Hidden layers of the ReLU MLP: d -> 64 -> 64 -> 2 on the toy sets, 784 -> 256 ->
        128 -> 2 on MNIST 7 vs 9.
    mixup_alpha : float
        Beta(alpha, alpha) of mixup and manifold mixup.
    n_aug, lam, eps, max_tries :
        GenMix: points per ordered class pair, the share of class j asked for (0.5: on the
        density's decision boundary, labelled (1/2, 1/2)), the margin of the ratio test,
        blocks of candidate segments per pair.
    gm_reg : float
        Ridge of the Gaussian class densities (``GaussianClassDensity(reg=...)``).
    gm_components : int
        On images the Gaussians live in the span of this many principal components of the
        trial's training images (500 points do not determine a 784-d covariance).
    toy_gan, image_gan : GANBudget
    n_train_toy, n_test_toy, n_train_images : int
        Training and test points of the toy sets (a fresh draw per trial), training images
        of MNIST 7 vs 9 (its test set is every 7 and 9 of MNIST's test split).
    """

    epochs: int = 200
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    toy_hidden: tuple[int, ...] = (64, 64)
    image_hidden: tuple[int, ...] = (256, 128)
    mixup_alpha: float = 1.0
    n_aug: int = 200
    lam: float | str = 0.5
    eps: float = 0.05
    max_tries: int = 10
    gm_reg: float = 1e-4
    gm_components: int = 50
    toy_gan: GANBudget = field(
        default_factory=lambda: GANBudget(latent_dim=None, hidden=128, steps=5000, lr=1e-3)
    )
    image_gan: GANBudget = field(
        default_factory=lambda: GANBudget(
            latent_dim=16, hidden=256, steps=3000, lr=2e-4, restarts=2
        )
    )
    n_train_toy: int = 300
    n_test_toy: int = 2000
    n_train_images: int = 500

    def check(self) -> GenMixBudget:
        """``self``, or one ValueError listing every bad setting."""
        errors = self._own_errors()
        errors += self.toy_gan.errors("toy_gan") + self.image_gan.errors("image_gan")
        if errors:
            raise ValueError("\n".join(errors))
        return self

    def _own_errors(self) -> list[str]:
        owner = "GenMixBudget"
        out = []
        for name in ("epochs", "batch_size", "n_aug", "max_tries", "gm_components"):
            if not is_int_at_least(getattr(self, name), 1):
                out.append(parameter_error(owner, name, "an int >= 1", getattr(self, name)))
        for name in ("n_train_toy", "n_test_toy", "n_train_images"):
            if not is_int_at_least(getattr(self, name), 2):
                out.append(parameter_error(owner, name, "an int >= 2", getattr(self, name)))
        for name in ("toy_hidden", "image_hidden"):
            value = getattr(self, name)
            if (
                not isinstance(value, tuple)
                or not value
                or not all(is_int_at_least(h, 1) for h in value)
            ):
                out.append(parameter_error(owner, name, "a non-empty tuple of ints >= 1", value))
        for name, positive in (
            ("lr", True),
            ("mixup_alpha", True),
            ("weight_decay", False),
            ("gm_reg", False),
        ):
            value = getattr(self, name)
            if not is_real_in(value) or value < 0 or (positive and value == 0):
                expected = "(0, inf)" if positive else "[0, inf)"
                out.append(parameter_error(owner, name, f"a float in the range {expected}", value))
        if not is_real_in(self.eps, 0, 1, low_open=True, high_open=True):
            out.append(parameter_error(owner, "eps", "a float in the range (0, 1)", self.eps))
        lam = self.lam
        if not (lam == "uniform" or is_real_in(lam, 0, 1)):
            out.append(parameter_error(owner, "lam", "a float in [0, 1] or 'uniform'", self.lam))
        return [str(e) for e in out]

    def fingerprint(self) -> dict[str, Any]:
        """The settings as plain values (the store's record of how cells were computed)."""
        return asdict(self)
