"""A small class-conditional GAN, the generative model of GenMix's GAN case.

Two architectures: an MLP pair for low-dimensional data and a DCGAN-style convolutional
pair for 28x28 single-channel images in [0, 1]. Both condition on the class by a one-hot
code (concatenated to the latent code and the discriminator's input; for images, as k
constant channels). Training is the standard non-saturating GAN (Goodfellow et al., 2014):
the discriminator minimises BCE(D(x), 1) + BCE(D(G(z)), 0), the generator BCE(D(G(z)), 1),
both with Adam(betas=(0.5, 0.999)) (Radford et al., 2016).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._repr import ParamsRepr
from .._validation import (
    CheckpointError,
    as_float_tensor,
    as_label_tensor,
    checkpoint_error,
    is_int_at_least,
    is_integer,
    is_real_in,
    load_checkpoint,
    parameter_error,
    resolve_device,
)

__all__ = ["ConditionalGAN"]

CHECKPOINT_NAME = "gan.pt"
_KINDS = ("mlp", "conv")
_IMAGE = (1, 28, 28)


class _MLPGenerator(nn.Module):
    def __init__(self, latent_dim: int, num_classes: int, hidden: int, out_dim: int):
        super().__init__()
        self.num_classes = num_classes
        self.net = nn.Sequential(
            nn.Linear(latent_dim + num_classes, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, out_dim),
        )

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        code = F.one_hot(c, self.num_classes).to(z.dtype)
        return self.net(torch.cat([z, code], 1))


class _MLPDiscriminator(nn.Module):
    def __init__(self, in_dim: int, num_classes: int, hidden: int):
        super().__init__()
        self.num_classes = num_classes
        self.net = nn.Sequential(
            nn.Linear(in_dim + num_classes, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        code = F.one_hot(c, self.num_classes).to(x.dtype)
        return self.net(torch.cat([x.flatten(1), code], 1)).squeeze(1)


class _ConvGenerator(nn.Module):
    """(z, one-hot) -> 2*width x 7 x 7 -> width x 14 x 14 -> 1 x 28 x 28, sigmoid output."""

    def __init__(self, latent_dim: int, num_classes: int, width: int):
        super().__init__()
        self.num_classes, self.width = num_classes, width
        self.project = nn.Sequential(
            nn.Linear(latent_dim + num_classes, 2 * width * 49),
            nn.BatchNorm1d(2 * width * 49),
            nn.ReLU(),
        )
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1),
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        code = F.one_hot(c, self.num_classes).to(z.dtype)
        h = self.project(torch.cat([z, code], 1)).view(-1, 2 * self.width, 7, 7)
        return self.up(h)


class _ConvDiscriminator(nn.Module):
    """(image, one-hot as k constant channels) -> strided convs -> one logit."""

    def __init__(self, num_classes: int, width: int):
        super().__init__()
        self.num_classes = num_classes
        self.net = nn.Sequential(
            nn.Conv2d(1 + num_classes, width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(2 * width * 49, 1),
        )

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        x = x.reshape(-1, *_IMAGE)
        code = F.one_hot(c, self.num_classes).to(x.dtype)[:, :, None, None]
        return self.net(torch.cat([x, code.expand(-1, -1, 28, 28)], 1)).squeeze(1)


def _init_weights(module: nn.Module, generator: torch.Generator, dcgan: bool) -> None:
    """Initialise every layer from ``generator`` (torch's own init draws from global state).

    MLP layers get torch's default (Kaiming-uniform weights, uniform biases), the conv pair
    DCGAN's N(0, 0.02) weights and N(1, 0.02) batch-norm scales (Radford et al., 2016).
    """
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            # Every layer here is built with a bias; the check narrows the Optional type.
            if layer.bias is None:
                raise RuntimeError(f"{type(layer).__name__} was built without a bias")
            if dcgan:
                nn.init.normal_(layer.weight, 0.0, 0.02, generator=generator)
                nn.init.zeros_(layer.bias)
            else:
                nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
                bound = 1 / math.sqrt(layer.weight[0].numel())
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
        elif isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(layer.weight, 1.0, 0.02, generator=generator)
            nn.init.zeros_(layer.bias)
            layer.reset_running_stats()


class ConditionalGAN(ParamsRepr):
    """A class-conditional GAN G(z, c) with z ~ N(0, I), trained on labelled data.

    Parameters
    ----------
    data_shape : int or tuple of int
        The shape of one point: ``d`` for vectors, e.g. ``(1, 28, 28)`` or ``(28, 28)`` or
        ``784`` for images (``kind="conv"`` needs 784 values per point, in [0, 1]).
    num_classes : int
        Classes 0..num_classes-1.
    latent_dim : int, default=16
    hidden : int, optional
        Width: hidden units of the MLP pair (default 128) or base channels of the conv pair
        (default 64).
    kind : {"mlp", "conv"}, default="mlp"
        "mlp": two hidden layers each side (ReLU generator, LeakyReLU(0.2) discriminator).
        "conv": DCGAN-style, generator Linear -> 7x7 -> 14x14 -> 28x28 by transposed
        convolutions with batch norm and a sigmoid output, discriminator two strided
        convolutions.
    seed : int, default=0
        Seeds the GAN's own generator: initial weights, then every batch and latent draw of
        :meth:`fit`. The same seed gives the same weights.
    device : str or torch.device, default="cpu"

    Attributes
    ----------
    generator_net_, discriminator_net_ : nn.Module
        Built by :meth:`fit` (or :meth:`load_state_dict`); the generator is left in eval
        mode.
    losses_ : Tensor of shape (steps, 2)
        Discriminator and generator loss of every training step.
    steps_ : int
        Training steps done.
    """

    def __init__(
        self,
        data_shape: int | tuple[int, ...],
        num_classes: int,
        *,
        latent_dim: int = 16,
        hidden: int | None = None,
        kind: str = "mlp",
        seed: int = 0,
        device: str | torch.device = "cpu",
    ):
        self.data_shape = data_shape
        self.num_classes = num_classes
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.kind = kind
        self.seed = seed
        self.device = device

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the networks (float32): latent codes are cast to it."""
        return torch.float32

    # -- building ------------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        """Checked parameters, as stored in checkpoints."""
        name = type(self).__name__
        shape = (self.data_shape,) if not isinstance(self.data_shape, tuple) else self.data_shape
        if not shape or not all(is_int_at_least(s, 1) for s in shape):
            raise parameter_error(name, "data_shape", "a positive int or tuple of them", shape)
        for param in ("num_classes", "latent_dim"):
            if not is_int_at_least(getattr(self, param), 1):
                raise parameter_error(name, param, "an integer >= 1", getattr(self, param))
        if self.hidden is not None and not is_int_at_least(self.hidden, 1):
            raise parameter_error(name, "hidden", "an integer >= 1 or None", self.hidden)
        if self.kind not in _KINDS:
            raise parameter_error(name, "kind", "one of 'mlp', 'conv'", self.kind)
        if self.kind == "conv" and math.prod(shape) != math.prod(_IMAGE):
            raise parameter_error(
                name, "data_shape", "28x28 single-channel images for kind='conv'", shape
            )
        if not is_integer(self.seed):
            raise parameter_error(name, "seed", "an integer", self.seed)
        hidden = self.hidden or (128 if self.kind == "mlp" else 64)
        return {
            "data_shape": [int(s) for s in shape],
            "num_classes": int(self.num_classes),
            "latent_dim": int(self.latent_dim),
            "hidden": int(hidden),
            "kind": self.kind,
        }

    def _build(self) -> None:
        """Fresh networks, initialised from a generator seeded with ``seed``."""
        config = self._config()
        self.device_ = resolve_device(self.device, type(self).__name__)
        self.shape_ = tuple(config["data_shape"])
        self._rng = torch.Generator().manual_seed(int(self.seed))
        k, latent, hidden = config["num_classes"], config["latent_dim"], config["hidden"]
        # Built on the meta device, then initialised from our generator: nn.Linear's own
        # reset_parameters would draw from the global RNG.
        with torch.device("meta"):
            if self.kind == "mlp":
                dim = math.prod(self.shape_)
                gen: nn.Module = _MLPGenerator(latent, k, hidden, dim)
                disc: nn.Module = _MLPDiscriminator(dim, k, hidden)
            else:
                gen, disc = _ConvGenerator(latent, k, hidden), _ConvDiscriminator(k, hidden)
        for net in (gen, disc):
            # Initialised on the CPU, where our generator lives, then moved.
            net.to_empty(device="cpu")
            _init_weights(net, self._rng, dcgan=self.kind == "conv")
        self.generator_net_ = gen.to(self.device_).eval()
        self.discriminator_net_ = disc.to(self.device_)
        self._config_ = config
        self.steps_ = 0
        self.losses_ = torch.zeros(0, 2)

    def _check_fitted(self) -> None:
        if not hasattr(self, "generator_net_"):
            raise RuntimeError(
                f"This {type(self).__name__} instance is not fitted yet; call 'fit' first"
            )

    # -- training ------------------------------------------------------------------------
    def _check_data(self, X: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
        X = as_float_tensor(X, "X", ndim=(2, 3, 4), dtype=torch.float32)
        dim = math.prod(self.shape_)
        if X.shape[0] == 0 or X[0].numel() != dim:
            raise ValueError(
                f"X must hold points of shape {self.shape_} ({dim} values each); got X of "
                f"shape {tuple(X.shape)}"
            )
        y = as_label_tensor(y, "y", n_samples=X.shape[0])
        if bool(((y < 0) | (y >= self.num_classes)).any()):
            bad = torch.unique(y[(y < 0) | (y >= self.num_classes)]).tolist()
            raise ValueError(f"y must hold labels in 0..{self.num_classes - 1}; got {bad}")
        return X.reshape(-1, *self.shape_).to(self.device_), y.to(self.device_)

    def _train_step(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer],
    ) -> torch.Tensor:
        """One discriminator then one generator step; returns (d_loss, g_loss)."""
        gen, disc = self.generator_net_, self.discriminator_net_
        opt_g, opt_d = optimizers
        # Drawn on the CPU from the GAN's generator: the same on every device.
        idx = torch.randint(X.shape[0], (batch_size,), generator=self._rng)
        z = torch.randn(batch_size, self.latent_dim, generator=self._rng)
        x, c = X[idx.to(self.device_)], y[idx.to(self.device_)]
        fake = gen(z.to(self.device_), c).view_as(x)
        real_logit, fake_logit = disc(x, c), disc(fake.detach(), c)
        d_loss = F.binary_cross_entropy_with_logits(
            real_logit, torch.ones_like(real_logit)
        ) + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        # Non-saturating generator loss: -log D(G(z)) rather than log(1 - D(G(z))).
        gen_logit = disc(fake, c)
        g_loss = F.binary_cross_entropy_with_logits(gen_logit, torch.ones_like(gen_logit))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        return torch.stack([d_loss.detach(), g_loss.detach()]).cpu()

    # Long only by its docstring and its parameter checks; the loop itself is short.
    def fit(
        self,
        X: Any,
        y: Any,
        *,
        steps: int = 2000,
        batch_size: int = 64,
        lr: float = 2e-4,
        checkpoint_dir: str | Path | None = None,
        checkpoint_every: int = 500,
        verbose: int = 0,
    ) -> ConditionalGAN:
        """Train from the seed, or resume from ``checkpoint_dir``, up to ``steps`` steps.

        Parameters
        ----------
        X : array-like or tensor of shape (n, *data_shape) or (n, prod(data_shape))
        y : array-like or tensor of shape (n,)
            Labels in 0..num_classes-1.
        steps : int, default=2000
            Total training steps (one discriminator and one generator update each, on a
            batch drawn with replacement).
        batch_size : int, default=64
            At least 2 (batch norm of the conv generator).
        lr : float, default=2e-4
            Adam's learning rate, betas (0.5, 0.999), for both networks.
        checkpoint_dir : str or Path, optional
            Where ``gan.pt`` is written every ``checkpoint_every`` steps and at the end
            (atomically). A run that finds one there resumes from it: an interrupted run,
            resumed, ends with the same weights as an uninterrupted one.
        checkpoint_every : int, default=500
        verbose : int, default=0
            1 prints the losses ten times per run.

        Returns
        -------
        self
        """
        name = type(self).__name__
        for param, value in (("steps", steps), ("checkpoint_every", checkpoint_every)):
            if not is_int_at_least(value, 1):
                raise parameter_error(name, param, "an integer >= 1", value)
        if not is_int_at_least(batch_size, 2):
            raise parameter_error(name, "batch_size", "an integer >= 2", batch_size)
        if not is_real_in(lr, 0, low_open=True):
            raise parameter_error(name, "lr", "a float in the range (0, inf)", lr)
        self._build()
        X, y = self._check_data(X, y)
        optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer] = (
            torch.optim.Adam(self.generator_net_.parameters(), lr=lr, betas=(0.5, 0.999)),
            torch.optim.Adam(self.discriminator_net_.parameters(), lr=lr, betas=(0.5, 0.999)),
        )
        path = None if checkpoint_dir is None else Path(checkpoint_dir) / CHECKPOINT_NAME
        losses = [self._resume(path, optimizers, steps)] if path is not None else []
        self.generator_net_.train()
        report = max(1, steps // 10)
        for step in range(self.steps_, steps):
            losses.append(self._train_step(X, y, int(batch_size), optimizers).unsqueeze(0))
            self.steps_ = step + 1
            if verbose and (self.steps_ % report == 0 or self.steps_ == steps):
                d_loss, g_loss = losses[-1][0].tolist()
                print(f"step {self.steps_}/{steps}  d_loss {d_loss:.4f}  g_loss {g_loss:.4f}")
            if path is not None and (self.steps_ % checkpoint_every == 0 or self.steps_ == steps):
                self.losses_ = torch.cat(losses)
                self._save(path, optimizers)
        self.losses_ = torch.cat(losses)
        self.generator_net_.eval()
        return self

    # -- checkpoints ---------------------------------------------------------------------
    def _save(self, path: Path, optimizers: tuple[torch.optim.Optimizer, ...]) -> None:
        state = self.state_dict()
        state["optimizers"] = [opt.state_dict() for opt in optimizers]
        state["rng"] = self._rng.get_state()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)  # atomic: a kill leaves the previous checkpoint or this one

    def _resume(
        self, path: Path, optimizers: tuple[torch.optim.Optimizer, ...], steps: int
    ) -> torch.Tensor:
        """Load ``path`` when it exists; returns the losses recorded so far."""
        if not path.is_file():
            return torch.zeros(0, 2)
        restart = "delete it to train this GAN (that cell) again from its first step"
        state = load_checkpoint(path, restart=restart)
        try:
            self._load_weights(state)  # its ValueError names a configuration that differs
        except (KeyError, TypeError, RuntimeError, IndexError) as exc:
            raise checkpoint_error(path, exc, restart) from None
        if self.steps_ > steps:
            raise CheckpointError(
                f"The checkpoint {path} is at step {self.steps_}, past steps={steps}; "
                "ask for at least as many steps or use another checkpoint_dir"
            )
        try:
            for opt, opt_state in zip(optimizers, state["optimizers"], strict=True):
                opt.load_state_dict(opt_state)
            self._rng.set_state(state["rng"])
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
            raise checkpoint_error(path, exc, restart) from None
        return self.losses_

    def state_dict(self) -> dict[str, Any]:
        """Configuration, weights of both networks, steps done and losses (tensors and
        plain values only: loadable with ``torch.load(..., weights_only=True)``)."""
        self._check_fitted()
        return {
            "config": dict(self._config_),
            "generator": self.generator_net_.state_dict(),
            "discriminator": self.discriminator_net_.state_dict(),
            "steps": self.steps_,
            "losses": self.losses_,
        }

    def load_state_dict(self, state: dict[str, Any]) -> ConditionalGAN:
        """Rebuild the networks and load a :meth:`state_dict` of a GAN of the same
        configuration.

        Parameters
        ----------
        state : dict
            What :meth:`state_dict` returned.

        Returns
        -------
        ConditionalGAN
            ``self``.

        Raises
        ------
        ValueError
            The state is of a GAN of another configuration (the message names the
            differences).
        """
        self._build()
        self._load_weights(state)
        return self

    def _load_weights(self, state: dict[str, Any]) -> None:
        """Load a state into the networks built already (the optimizers hold their tensors)."""
        saved = state["config"]
        diff = {key: (saved.get(key), value) for key, value in self._config_.items()}
        diff = {key: pair for key, pair in diff.items() if pair[0] != pair[1]}
        if diff:
            listed = ", ".join(f"{k}: saved {s!r}, here {h!r}" for k, (s, h) in diff.items())
            raise ValueError(f"The saved GAN has another configuration ({listed})")
        self.generator_net_.load_state_dict(state["generator"])
        self.discriminator_net_.load_state_dict(state["discriminator"])
        self.steps_ = int(state["steps"])
        self.losses_ = state["losses"].cpu()

    # -- generating ----------------------------------------------------------------------
    def generate(self, z: torch.Tensor, c: int | torch.Tensor) -> torch.Tensor:
        """G(z, c): differentiable in ``z``.

        Parameters
        ----------
        z : Tensor of shape (n, latent_dim)
        c : int or Tensor of shape (n,)
            The class of every point.

        Returns
        -------
        Tensor of shape (n, *data_shape)
            float32, on the GAN's device.
        """
        self._check_fitted()
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must be of shape (n, {self.latent_dim}); got {tuple(z.shape)}")
        c = torch.as_tensor(c, dtype=torch.int64, device=self.device_)
        c = c.expand(z.shape[0]) if c.ndim == 0 else c
        if c.shape != z.shape[:1]:
            raise ValueError(f"c must be an int or of shape ({z.shape[0]},); got {tuple(c.shape)}")
        out = self.generator_net_(z.to(self.device_, self.dtype), c)
        return out.view(z.shape[0], *self.shape_)

    def sample(self, n: int, c: int | torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
        """``n`` points G(z, c), z ~ N(0, I) drawn from ``generator``; shape (n, *data_shape).

        Parameters
        ----------
        n : int
            At least 0.
        c : int or Tensor of shape (n,)
            The class of every point (an int: the same for all).
        generator : torch.Generator
            The source of z.

        Returns
        -------
        Tensor of shape (n, *data_shape)
            Without gradients.

        Raises
        ------
        ValueError
            ``n`` is not an integer >= 0.
        """
        if not is_int_at_least(n, 0):
            raise parameter_error(type(self).__name__, "n", "an integer >= 0", n)
        z = torch.randn(int(n), self.latent_dim, generator=generator)
        with torch.no_grad():
            return self.generate(z, c)
