"""Label diagnostics of a mix step: where the labels of cross-class mixes put their weight.

For the mixes of two different classes a and b in an epoch:

- ``third_class_share``: the share whose label puts its largest share on a class that is
  neither a nor b;
- ``one_hot_share``: the share whose label is one-hot, its largest share >= 0.99;
- ``mixed_weight``: the mean weight the labels put on a and b together.

Mixup's linear label has third_class_share 0 and mixed_weight 1; GenLabel's labels over
every class may leave the pair (see ``label_classes``). A mix step that supports them (the
image steps, the drop-in ``GenLabelMixup``) counts them while its ``label_counts`` is a
tensor; :class:`LabelDiagnostics`, a Trainer callback, switches that on, resets the counts
every epoch and adds the three values to the epoch's history row.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist

from .._distributed import is_distributed
from ..labels.mixed import mixed_class_mask
from .callbacks import Callback

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = [
    "DIAGNOSTICS",
    "ONE_HOT_AT",
    "LabelCounting",
    "LabelDiagnostics",
    "label_counts",
    "label_diagnostics",
]

#: The diagnostics' names (history keys, result columns).
DIAGNOSTICS = ("third_class_share", "one_hot_share", "mixed_weight")
#: A label counts as one-hot when its largest share is at least this.
ONE_HOT_AT = 0.99


def label_counts(targets: torch.Tensor, labels: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """The sums behind the diagnostics of one mixed batch, float64 of shape (4,):
    [cross-class mixes, of them with the largest share on a third class, of them one-hot,
    their summed weight on the two mixed classes].

    ``targets`` (n, k): the labels of the mixed points; ``labels``: the unmixed batch's
    class indices (n,) (or soft targets (n, k)); ``perm``: each point's partner. No host
    sync: the counts stay on the targets' device.
    """
    targets = targets.detach()
    k = targets.shape[1]
    classes = labels if labels.ndim == 1 else labels.argmax(1)
    classes = classes.to(targets.device).long()
    perm = perm.to(targets.device)
    cross = classes != classes[perm]
    pair = mixed_class_mask(classes, perm, k)
    top = targets.argmax(1, keepdim=True)
    third = ~pair.gather(1, top).squeeze(1)
    one_hot = targets.max(1).values >= ONE_HOT_AT
    # The share of each label's mass on the pair: a float32 label sums to 1 only up to
    # rounding, and its raw sum on the pair could read as a share above 1.
    weight = (targets.double() * pair).sum(1) / targets.double().sum(1).clamp_min(1e-300)
    cross_f = cross.double()
    return torch.stack(
        [
            cross_f.sum(),
            (third.double() * cross_f).sum(),
            (one_hot.double() * cross_f).sum(),
            (weight * cross_f).sum(),
        ]
    )


def label_diagnostics(counts: torch.Tensor) -> dict[str, float]:
    """The three diagnostics from summed :func:`label_counts` (NaN when no cross-class mix)."""
    cross, third, one_hot, weight = (float(v) for v in counts.detach().cpu())
    if cross == 0:
        return dict.fromkeys(DIAGNOSTICS, math.nan)
    return {
        "third_class_share": third / cross,
        "one_hot_share": one_hot / cross,
        "mixed_weight": weight / cross,
    }


class LabelCounting:
    """Mixin of the mix steps that report their labels: ``label_counts`` is None (off) or
    the running :func:`label_counts` of the batches since the last reset."""

    label_counts: torch.Tensor | None = None

    def count_labels(self, targets: torch.Tensor, labels: torch.Tensor, perm: Any) -> None:
        """Add a mixed batch's counts (when counting is on)."""
        if self.label_counts is None:
            return
        counts = label_counts(targets, labels, perm)
        self.label_counts = self.label_counts.to(counts.device) + counts


class LabelDiagnostics(Callback):
    """Trainer callback: the label diagnostics of every epoch (see the module docstring).

    Each epoch's values are added to the Trainer's history row (so a checkpoint keeps them
    and a resumed run has every epoch's) and to ``history`` here. Under torch.distributed
    the counts of every process are summed. The Trainer's ``mixer`` must count its labels
    (the image steps and ``GenLabelMixup`` do); anything else is a ValueError.

    Example::

        diag = LabelDiagnostics()
        Trainer(model, mixer=step, callbacks=[diag]).fit((X, y))
        diag.history   # [{"epoch": 0, "third_class_share": ..., ...}, ...]
    """

    def __init__(self) -> None:
        self.history: list[dict[str, float]] = []

    @staticmethod
    def _mixer(trainer: Trainer) -> LabelCounting:
        mixer = trainer.mixer
        if not isinstance(mixer, LabelCounting):
            raise ValueError(
                f"LabelDiagnostics needs a mix step that counts its labels (the image steps, "
                f"GenLabelMixup); got {type(mixer).__name__}"
            )
        return mixer

    # The hooks override Callback's: they restate its signatures and parameter docs.
    def on_train_begin(self, trainer: Trainer) -> None:
        """Turn the mixer's label counting on.

        Parameters
        ----------
        trainer : Trainer
        """
        self._mixer(trainer).label_counts = torch.zeros(4, dtype=torch.float64)

    def on_epoch_begin(self, trainer: Trainer, epoch: int) -> None:
        """Reset the mixer's label counts.

        Parameters
        ----------
        trainer : Trainer
        epoch : int
            Counted from 0.
        """
        self._mixer(trainer).label_counts = torch.zeros(
            4, dtype=torch.float64, device=trainer.device
        )

    def on_epoch_log(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        """Add the epoch's diagnostics to ``logs`` and to ``history`` (counts summed over
        the processes under torch.distributed).

        Parameters
        ----------
        trainer : Trainer
        epoch : int
            Counted from 0.
        logs : dict
            The epoch's history row.
        """
        mixer = self._mixer(trainer)
        counts = mixer.label_counts
        assert counts is not None  # set at the epoch's start
        counts = counts.clone()
        if is_distributed():
            dist.all_reduce(counts, op=dist.ReduceOp.SUM)
        values = label_diagnostics(counts)
        logs.update(values)
        self.history.append({"epoch": float(epoch), **values})

    def on_train_end(self, trainer: Trainer) -> None:
        """Turn the mixer's label counting off.

        Parameters
        ----------
        trainer : Trainer
        """
        self._mixer(trainer).label_counts = None
