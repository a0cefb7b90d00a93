"""This process's place in a ``torch.distributed`` process group, for every part of the package.

Outside ``torchrun`` (no process group) a process is rank 0 of a world of one. The
density, the trainer, the steps and the image experiment all ask these functions, so the
check "is a group initialised" is written once; :mod:`genlabel.images.distributed` joins
the group and re-exports :func:`is_main_process`.
"""

from __future__ import annotations

from typing import Any

import torch.distributed as dist

__all__ = ["is_distributed", "is_main_process", "rank_and_world"]


def _initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of processes: ``(0, 1)`` outside a process group."""
    if _initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_distributed(group: Any = None) -> bool:
    """Whether a process group of more than one process is initialised.

    Parameters
    ----------
    group : ProcessGroup or None, default=None
        The group whose size counts; ``None`` is the default group.
    """
    return _initialized() and dist.get_world_size(group) > 1


def is_main_process() -> bool:
    """Rank 0, or the only process."""
    return rank_and_world()[0] == 0
