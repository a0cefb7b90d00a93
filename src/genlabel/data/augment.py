"""Batch augmentation in torch with an explicit generator, and the normalisation layer.

``BatchAugment`` crops (with zero padding) and flips a whole batch on its device at once;
every random choice comes from its own ``torch.Generator`` on the CPU, whose state it
checkpoints (``state_dict``), so a resumed run draws what an uninterrupted one would have.
Models take inputs in [0, 1] and normalise them in their first layer (:class:`Normalize`),
which is what adversarial attacks need; ``default_augment`` is therefore crop/flip only.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .._validation import check_int_at_least

__all__ = [
    "DATASET_STATS",
    "AugmentParams",
    "BatchAugment",
    "Normalize",
    "default_augment",
]

#: Per-channel (mean, std) of the training images in [0, 1], by data set name.
DATASET_STATS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "digits": ((0.3056,), (0.3760,)),  # measured on load_images("digits") (the 70 % split)
    "mnist": ((0.1307,), (0.3081,)),
    "fashion_mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "tiny_imagenet": ((0.4802, 0.4481, 0.3975), (0.2770, 0.2691, 0.2821)),
}

#: Crop padding and horizontal flip of the standard augmentation of each data set.
_DEFAULT_AUGMENT = {
    "digits": (0, False),  # 8x8 digits: a shift of 2 pixels would move a quarter of the image
    "mnist": (2, False),  # digits are not mirror-symmetric
    "fashion_mnist": (2, False),
    "cifar10": (4, True),
    "cifar100": (4, True),
    "tiny_imagenet": (8, True),
}


def _channel_stats(
    mean: Sequence[float], std: Sequence[float], owner: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """mean and std as float32 tensors of shape (1, c, 1, 1), checked."""
    mean_t = torch.as_tensor(mean, dtype=torch.float32).flatten()
    std_t = torch.as_tensor(std, dtype=torch.float32).flatten()
    if mean_t.numel() == 0 or mean_t.shape != std_t.shape:
        raise ValueError(
            f"{owner}: mean and std must have one value per channel, the same number; got "
            f"{mean_t.numel()} and {std_t.numel()}"
        )
    if not bool(torch.isfinite(mean_t).all()) or not bool((std_t > 0).all()):
        raise ValueError(f"{owner}: std must be > 0 and mean finite; got {mean!r}, {std!r}")
    return mean_t.view(1, -1, 1, 1), std_t.view(1, -1, 1, 1)


def _check_images(x: Any, channels: int | None, owner: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(
            f"{owner} expects a floating-point batch of images of shape (n, c, h, w); got {shape}"
        )
    if channels is not None and channels != 1 and x.shape[1] != channels:
        raise ValueError(
            f"{owner} was built for {channels} channels; got a batch of shape {tuple(x.shape)}"
        )
    return x


class Normalize(nn.Module):
    """(x - mean) / std per channel: a model's first layer, so the model takes [0, 1] inputs.

    Parameters
    ----------
    mean, std : sequence of float
        One value per channel (or one for all).

    The statistics are buffers (they follow ``.to(device)``) but not part of the
    ``state_dict``: they are the model's configuration, given again when it is built.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        mean_t, std_t = _channel_stats(mean, std, "Normalize")
        self.register_buffer("mean", mean_t, persistent=False)
        self.register_buffer("std", std_t, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x of shape (n, c, h, w) -> the same shape, normalised."""
        x = _check_images(x, self.mean.shape[1], "Normalize")
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def extra_repr(self) -> str:
        return f"mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()}"


@dataclass(frozen=True)
class AugmentParams:
    """The random draws of one augmentation of a batch of n images.

    Attributes
    ----------
    offsets : Tensor of shape (n, 2), int64
        Top and left corner of each crop in the zero-padded image, in [0, 2 * padding].
    flip : Tensor of shape (n,), bool
        Which images are mirrored left-right.
    """

    offsets: torch.Tensor
    flip: torch.Tensor


def _crop_flip(
    x: torch.Tensor, padding: int, offsets: torch.Tensor, flip: torch.Tensor
) -> torch.Tensor:
    """Crop every zero-padded image at its offset and mirror the chosen ones, at once.

    Two gathers (rows, then columns) with per-image index vectors; a mirrored crop reads
    the crop's columns in reverse, so the flip costs nothing extra.
    """
    n, c, h, w = x.shape
    padded = nn.functional.pad(x, (padding, padding, padding, padding)) if padding else x
    offsets, flip = offsets.to(x.device), flip.to(x.device)
    rows = offsets[:, :1] + torch.arange(h, device=x.device)  # (n, h)
    cols = torch.arange(w, device=x.device).expand(n, w)
    cols = torch.where(flip[:, None], w - 1 - cols, cols) + offsets[:, 1:]  # (n, w)
    out = padded.gather(2, rows[:, None, :, None].expand(n, c, h, padded.shape[3]))
    return out.gather(3, cols[:, None, None, :].expand(n, c, h, w))


class BatchAugment:
    """Random crop with zero padding, horizontal flip, then optional normalisation.

    Parameters
    ----------
    crop_padding : int, default=0
        Pad each side with this many zero pixels and crop back to the original size at a
        random offset (drawn per image, uniformly in [0, 2 * crop_padding] per axis).
    hflip : bool, default=False
        Mirror each image left-right with probability 0.5.
    mean, std : sequence of float, optional
        Normalise after augmenting: (x - mean) / std per channel. Our models normalise
        in their first layer instead; this is for models that expect normalised inputs.
    generator : torch.Generator, optional
        A CPU generator for every random choice (it is advanced by each call).
    seed : int, optional
        Seeds a new generator instead. With neither, a fresh seed is drawn (not
        reproducible).

    A call takes a floating batch (n, c, h, w) in [0, 1] on any device and returns a new
    batch of the same shape, dtype and device; the draws are made on the CPU, so a seed
    gives the same augmentation on every device. ``state_dict``/``load_state_dict`` carry
    the generator's state (the Trainer checkpoints them with the model).
    """

    def __init__(
        self,
        *,
        crop_padding: int = 0,
        hflip: bool = False,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        generator: torch.Generator | None = None,
        seed: int | None = None,
    ):
        padding = check_int_at_least(crop_padding, "crop_padding", "BatchAugment", 0)
        if (mean is None) != (std is None):
            raise ValueError("BatchAugment: give both mean and std, or neither")
        if generator is not None and seed is not None:
            raise ValueError("BatchAugment: give a generator or a seed, not both")
        if generator is not None and (
            not isinstance(generator, torch.Generator) or generator.device.type != "cpu"
        ):
            raise ValueError(
                f"The 'generator' parameter of BatchAugment must be a CPU torch.Generator. "
                f"Got {generator!r} instead."
            )
        self.crop_padding, self.hflip = padding, bool(hflip)
        self.stats = None
        if mean is not None and std is not None:
            self.stats = _channel_stats(mean, std, "BatchAugment")
        if generator is None:
            generator = torch.Generator().manual_seed(
                secrets.randbits(63) if seed is None else int(seed)
            )
        self.generator = generator

    def draw(self, n: int) -> AugmentParams:
        """Draw the crops, then the flips, of n images from the generator."""
        high = 2 * self.crop_padding + 1
        offsets = (
            torch.randint(0, high, (n, 2), generator=self.generator)
            if self.crop_padding
            else torch.zeros(n, 2, dtype=torch.int64)
        )
        flip = (
            torch.rand(n, generator=self.generator) < 0.5
            if self.hflip
            else torch.zeros(n, dtype=torch.bool)
        )
        return AugmentParams(offsets=offsets, flip=flip)

    def apply(self, x: torch.Tensor, params: AugmentParams) -> torch.Tensor:
        """Augment a batch x (n, c, h, w) with given draws; returns a new (n, c, h, w) batch."""
        x = _check_images(x, None, "BatchAugment")
        n = x.shape[0]
        if tuple(params.offsets.shape) != (n, 2) or tuple(params.flip.shape) != (n,):
            raise ValueError(
                f"AugmentParams of {params.flip.shape[0]} images do not fit a batch of shape "
                f"{tuple(x.shape)}"
            )
        if self.crop_padding or self.hflip:
            x = _crop_flip(x, self.crop_padding, params.offsets, params.flip)
        if self.stats is not None:
            mean, std = (s.to(x.device, x.dtype) for s in self.stats)
            x = (x - mean) / std
        return x

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = _check_images(x, None, "BatchAugment")
        return self.apply(x, self.draw(x.shape[0]))

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The generator's state: loading it resumes the same stream of draws."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if "generator" not in state:
            raise ValueError(
                f"BatchAugment.load_state_dict expects a dict with key 'generator'; got "
                f"keys {sorted(state)}"
            )
        # A checkpoint loaded with map_location="cuda" puts the state on the GPU; the
        # generator lives on the CPU.
        self.generator.set_state(state["generator"].cpu())

    def __repr__(self) -> str:
        norm = "" if self.stats is None else ", normalize=True"
        return f"BatchAugment(crop_padding={self.crop_padding}, hflip={self.hflip}{norm})"


def default_augment(
    name: str, *, generator: torch.Generator | None = None, seed: int | None = None
) -> BatchAugment:
    """The standard augmentation of a data set: random crop (and flip), no normalisation.

    digits: none; mnist, fashion_mnist: crop with padding 2; cifar10, cifar100: padding 4
    and horizontal flip; tiny_imagenet: padding 8 and flip. (Our models normalise in their
    first layer; ``DATASET_STATS[name]`` gives the statistics.)
    """
    if name not in _DEFAULT_AUGMENT:
        raise ValueError(
            f"no default augmentation for {name!r}; expected one of {', '.join(_DEFAULT_AUGMENT)}"
        )
    padding, hflip = _DEFAULT_AUGMENT[name]
    return BatchAugment(crop_padding=padding, hflip=hflip, generator=generator, seed=seed)
