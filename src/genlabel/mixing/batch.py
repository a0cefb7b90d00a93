"""``mix_pairs``: mixup of a labelled batch, the composition of a draw and its application."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._validation import as_label_tensor
from .params import MixParams, apply_mix, draw_mix_params, one_hot

__all__ = ["MixedBatch", "mix_pairs"]


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
    params : MixParams
        The draw itself, to apply to anything else of the batch (features, weights).
    """

    inputs: torch.Tensor
    labels_a: torch.Tensor
    labels_b: torch.Tensor
    targets_a: torch.Tensor
    targets_b: torch.Tensor
    lam: torch.Tensor
    permutation: torch.Tensor
    params: MixParams | None = None

    @classmethod
    def from_params(
        cls, inputs: torch.Tensor, labels: torch.Tensor, num_classes: int, params: MixParams
    ) -> MixedBatch:
        """The record of a batch mixed with ``params``.

        Parameters
        ----------
        inputs : Tensor of shape (n, ...)
            The inputs, already mixed.
        labels : Tensor of shape (n,)
            The class indices of the unmixed batch.
        num_classes : int
        params : MixParams
            The draw that mixed them.

        Returns
        -------
        MixedBatch
        """
        targets_a = one_hot(labels, num_classes)
        return cls(
            inputs=inputs,
            labels_a=labels,
            labels_b=labels[params.perm],
            targets_a=targets_a,
            targets_b=targets_a[params.perm],
            lam=params.lam_per_point(),
            permutation=params.perm,
            params=params,
        )

    @property
    def mix_targets(self) -> torch.Tensor:
        """Mixup's linear label lam * y_a + (1 - lam) * y_b, shape (n, k).

        The record's own copy of ``label_mixed("linear", ...).mix_targets`` (the dispatcher
        of :mod:`genlabel.labels`, which this package sits below and so cannot call).
        """
        return apply_mix(self.targets_a, MixParams(self.lam, self.permutation))


def check_batch(inputs: object, labels: object) -> None:
    """Errors for a batch that cannot be mixed: inputs (n, ...) floating, labels (n,) integer.

    Parameters
    ----------
    inputs : object
        Must be a floating-point tensor with a batch dimension.
    labels : object
        Must be an integer tensor of shape (n,) (class indices, not soft targets).

    Raises
    ------
    ValueError
        The first problem found.
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
        soft = isinstance(labels, torch.Tensor) and labels.ndim == 2
        raise ValueError(
            f"Expected labels to be a tensor of shape ({inputs.shape[0]},), got {shape}"
            + ("; soft targets cannot be mixed and relabelled: pass class indices" if soft else "")
        )
    if labels.is_floating_point() or labels.dtype == torch.bool or labels.is_complex():
        as_label_tensor(labels, "labels")  # raises, in the one wording of a label error


def mix_pairs(
    inputs: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    *,
    alpha: float = 1.0,
    generator: torch.Generator,
    per_sample: bool = False,
) -> MixedBatch:
    """Mix a batch with a random permutation of itself (mixup).

    ``draw_mix_params`` followed by ``apply_mix`` on the inputs and the one-hot labels.

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

    Returns
    -------
    MixedBatch
        The mixed inputs, both source labels, lam, the permutation and the draw.
    """
    check_batch(inputs, labels)
    params = draw_mix_params(
        inputs.shape[0], alpha=alpha, per_sample=per_sample, generator=generator
    ).to(inputs.device)
    labels = labels.to(inputs.device)
    return MixedBatch.from_params(apply_mix(inputs, params), labels, num_classes, params)
