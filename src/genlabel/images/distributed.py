"""Several processes from ``torchrun``: the process group from the environment.

``torchrun --nproc_per_node N -m genlabel images ...`` starts N processes with ``RANK``,
``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` set;
:func:`init_distributed` joins them into one process group (``nccl`` on CUDA, one GPU per
process, ``gloo`` on the CPU). The Trainer then wraps the model in DistributedDataParallel
and gives each process its part of every global batch, the online class statistics are
all-reduced, and only rank 0 writes checkpoints and results.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from .._distributed import is_main_process
from .._validation import resolve_device

__all__ = ["close_distributed", "init_distributed", "is_main_process"]


def init_distributed(device: str = "cpu") -> str:
    """Join torchrun's process group when ``WORLD_SIZE`` > 1; returns this process's device.

    On CUDA each process takes the GPU ``LOCAL_RANK`` (``"cuda:<LOCAL_RANK>"``, NCCL); on
    the CPU the device is unchanged (gloo). Outside torchrun (no ``WORLD_SIZE``, or 1), or
    when the process group is already initialised, nothing is initialised and ``device``
    is returned as given.

    Parameters
    ----------
    device : str, default="cpu"
        The device the run asked for.

    Returns
    -------
    str
        This process's device.

    Raises
    ------
    ValueError
        ``device`` is not one this torch build can use.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or (dist.is_available() and dist.is_initialized()):
        return device
    dev = resolve_device(device, "genlabel images")
    backend = "gloo"
    if dev.type == "cuda":
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(dev)
        backend = "nccl"
    dist.init_process_group(backend)  # env://: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE
    return str(dev)


def close_distributed() -> None:
    """Leave the process group, if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
