"""Callbacks of the :class:`~genlabel.training.Trainer`, skorch-style: no-op hooks to override."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = ["Callback", "History"]


class Callback:
    """Base class: override the hooks you need; each gets the trainer first.

    A hook may set ``trainer.stop_training = True`` to end training after the current
    epoch (early stopping).
    """

    # Each hook documents its parameters (numpydoc); those the hooks share (trainer, epoch, logs)
    # read alike, and the callbacks that override them restate them.
    def on_train_begin(self, trainer: Trainer) -> None:
        """Before the first epoch (also when resuming from a checkpoint).

        Parameters
        ----------
        trainer : Trainer
        """

    def on_epoch_begin(self, trainer: Trainer, epoch: int) -> None:
        """Before the batches of ``epoch`` (counted from 0).

        Parameters
        ----------
        trainer : Trainer
        epoch : int
            Counted from 0.
        """

    def on_batch_end(self, trainer: Trainer, batch: int, logs: dict[str, Any]) -> None:
        """After the optimizer step of batch ``batch``; ``logs["loss"]`` is a 0-D tensor.

        Parameters
        ----------
        trainer : Trainer
        batch : int
            The batch's index in the epoch.
        logs : dict
            ``{"loss": ...}``.
        """

    def on_epoch_log(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        """After the epoch's last step and the scheduler step, before its checkpoint: what
        the hook adds to ``logs`` (the epoch's history row) is checkpointed with the row,
        so a resumed run's ``history_`` has it for the epochs done before.

        Parameters
        ----------
        trainer : Trainer
        epoch : int
            Counted from 0.
        logs : dict
            The epoch's history row.
        """

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        """After the epoch's last step and the scheduler step; ``logs`` is its history row.

        Parameters
        ----------
        trainer : Trainer
        epoch : int
            Counted from 0.
        logs : dict
            The epoch's history row.
        """

    def on_train_end(self, trainer: Trainer) -> None:
        """After the last epoch.

        Parameters
        ----------
        trainer : Trainer
        """


class History(Callback):
    """Collects every batch loss (as floats), e.g. for a loss curve per step."""

    def __init__(self) -> None:
        self.batch_losses: list[float] = []

    def on_batch_end(self, trainer: Trainer, batch: int, logs: dict[str, Any]) -> None:
        """Append the batch's loss to ``batch_losses``.

        Parameters
        ----------
        trainer : Trainer
        batch : int
        logs : dict
            ``{"loss": ...}``.
        """
        self.batch_losses.append(float(logs["loss"]))
