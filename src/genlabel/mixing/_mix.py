"""Mixup draws and mixing (SPEC §1), every draw from an explicit generator."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import betaincinv

__all__ = ["MixedBatch", "sample_lambda", "sample_permutation", "mix_pairs", "one_hot"]


@dataclass(frozen=True)
class MixedBatch:
    """The result of mixing a batch with a permutation of itself.

    Attributes
    ----------
    inputs : Tensor of shape (n, ...)
        x_mix = lam * x + (1 - lam) * x[permutation].
    labels_a, labels_b : Tensor of shape (n,)
        Integer labels of the two sources.
    targets_a, targets_b : Tensor of shape (n, k)
        Their one-hot labels.
    lam : Tensor of shape (n,)
        The mixing coefficient of every point (equal entries in per-batch mode).
    permutation : Tensor of shape (n,)
        Partner index of every point.
    """

    inputs: torch.Tensor
    labels_a: torch.Tensor
    labels_b: torch.Tensor
    targets_a: torch.Tensor
    targets_b: torch.Tensor
    lam: torch.Tensor
    permutation: torch.Tensor

    @property
    def mix_targets(self) -> torch.Tensor:
        """Mixup's linear label lam * y_a + (1 - lam) * y_b, shape (n, k)."""
        lam = self.lam.to(self.targets_a.dtype).unsqueeze(-1)
        return lam * self.targets_a + (1 - lam) * self.targets_b


def _check_generator(generator: torch.Generator | None) -> torch.Generator:
    if generator is None:
        raise ValueError(
            "generator must be a torch.Generator (e.g. torch.Generator().manual_seed(0)); "
            "GenLabel draws nothing from global random state"
        )
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator; got {type(generator).__name__}")
    return generator


def sample_lambda(
    alpha: float,
    n: int,
    *,
    generator: torch.Generator,
    per_sample: bool = False,
) -> torch.Tensor:
    """Draw mixing coefficients lam ~ Beta(alpha, alpha), as a float64 tensor of shape (n,).

    One value repeated n times (per batch, the reference protocol) or n values
    (``per_sample=True``). ``alpha=0`` means no mixing: lam = 1.
    """
    if isinstance(alpha, bool) or not np.isfinite(alpha) or alpha < 0:
        raise ValueError(f"alpha must be a float in the range [0.0, inf); got {alpha!r}")
    generator = _check_generator(generator)
    if alpha == 0 or n == 0:
        return torch.ones(n, dtype=torch.float64)
    # torch's Beta sampler takes no generator: draw uniforms from the caller's generator
    # and map them through Beta's inverse CDF (exact, and cheap at batch sizes).
    u = torch.rand(n if per_sample else 1, generator=generator, dtype=torch.float64)
    draws = u if alpha == 1 else torch.from_numpy(betaincinv(alpha, alpha, u.numpy()))
    return draws.expand(n).clone()


def sample_permutation(n: int, *, generator: torch.Generator) -> torch.Tensor:
    """A random pairing of a batch: a permutation of range(n)."""
    return torch.randperm(n, generator=_check_generator(generator))


def one_hot(
    labels: torch.Tensor, num_classes: int, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """One-hot rows of shape (n, num_classes), with a clear error for out-of-range labels."""
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(
            f"labels must be class indices in [0, {num_classes}); got values in "
            f"[{int(labels.min())}, {int(labels.max())}]"
        )
    return F.one_hot(labels.long(), num_classes).to(dtype)


def mix_pairs(
    inputs: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    *,
    alpha: float = 1.0,
    generator: torch.Generator,
    per_sample: bool = False,
) -> MixedBatch:
    """Mix a batch with a random permutation of itself (mixup, SPEC §1).

    Parameters
    ----------
    inputs : Tensor of shape (n, ...)
        Any batch of floating inputs (features, images, hidden representations).
    labels : Tensor of shape (n,)
        Integer class indices in [0, num_classes).
    num_classes : int
    alpha : float, default=1.0
        Beta(alpha, alpha) parameter; 0 means no mixing.
    generator : torch.Generator
        Source of every random draw (on the CPU; results move to inputs' device).
    per_sample : bool, default=False
        One lam per point instead of one per batch.
    """
    if not isinstance(inputs, torch.Tensor) or not inputs.is_floating_point():
        raise ValueError("inputs must be a floating-point torch.Tensor of shape (batch_size, ...)")
    if inputs.ndim < 1:
        raise ValueError("inputs must have a batch dimension; got a 0-D tensor")
    if (
        not isinstance(labels, torch.Tensor)
        or labels.ndim != 1
        or labels.shape[0] != inputs.shape[0]
    ):
        shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(
            f"Expected labels to be a tensor of shape ({inputs.shape[0]},), got {shape}"
        )
    if labels.is_floating_point():
        raise ValueError("labels must be integer class indices, not floating point")
    n = inputs.shape[0]
    lam = sample_lambda(alpha, n, generator=generator, per_sample=per_sample)
    perm = sample_permutation(n, generator=generator) if alpha > 0 else torch.arange(n)
    device = inputs.device
    lam = lam.to(device)
    perm = perm.to(device)
    labels = labels.to(device)
    lam_x = lam.to(inputs.dtype).reshape((n,) + (1,) * (inputs.ndim - 1))
    mixed = lam_x * inputs + (1 - lam_x) * inputs[perm]
    targets_a = one_hot(labels, num_classes)
    return MixedBatch(
        inputs=mixed,
        labels_a=labels,
        labels_b=labels[perm],
        targets_a=targets_a,
        targets_b=targets_a[perm],
        lam=lam,
        permutation=perm,
    )
