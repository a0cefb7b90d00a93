"""``Trainer``: one model, any mix step, soft targets and sample weights, resumable.

The images methods and GenMix train with it; a mix step (the drop-in ``GenLabelMixup``,
the image methods' steps) plugs in as ``mixer``. A plain PyTorch loop underneath: no
hidden global state (shuffling comes from the trainer's own seed, mixing from the mixer's
generator), so a run is reproducible and a killed one resumes from its last checkpoint to
the same final weights on the CPU.
"""

from __future__ import annotations

import math
import os
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .._distributed import is_main_process, rank_and_world
from .._repr import ParamsRepr
from .._validation import (
    all_finite,
    checkpoint_error,
    is_int_at_least,
    is_real,
    load_checkpoint,
    parameter_error,
    resolve_device,
)
from ..losses import soft_cross_entropy
from .callbacks import Callback

__all__ = ["MixStep", "Trainer", "model_proba", "plain_loss"]

CHECKPOINT_NAME = "last.pt"
_AMP = {"bf16": torch.bfloat16, "fp16": torch.float16}


@runtime_checkable
class MixStep(Protocol):
    """What the trainer needs of a mixer: the training loss of one batch.

    ``labels`` are class indices (n,) or soft targets (n, k); ``weight`` per-sample weights
    (n,) or None. A mixer may also have ``state_dict``/``load_state_dict`` (checkpointed
    with the model: its generator, online statistics) and ``trainable_parameters()``
    (trained by the same optimizer, e.g. AdaMixup's policy network).
    """

    # Restated by every step in training/steps.py (each documents its own shapes).
    def training_loss(
        self,
        model: nn.Module,
        inputs: torch.Tensor,
        labels: torch.Tensor,
        weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The training loss of ``model`` on one batch (0-D, differentiable).

        Parameters
        ----------
        model : nn.Module
        inputs : Tensor of shape (n, ...)
        labels : Tensor of shape (n,) or (n, k)
            Class indices or soft targets.
        weight : Tensor of shape (n,), optional
            Per-sample weights.

        Returns
        -------
        Tensor
        """
        ...


def plain_loss(
    logits: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross entropy against class indices (n,) or soft targets (n, k), weighted mean."""
    if labels.ndim == 1 and weight is None:
        return F.cross_entropy(logits, labels)
    if labels.ndim == 1:
        labels = F.one_hot(labels, logits.shape[-1])
    return soft_cross_entropy(logits, labels, weight)


def _as_tensor(value: Any, name: str) -> torch.Tensor:
    tensor = value if isinstance(value, torch.Tensor) else torch.as_tensor(value)
    if tensor.ndim == 0:
        raise ValueError(f"{name} must have a batch dimension; got a scalar")
    return tensor


def _check_tensors(data: Sequence[Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    if len(data) not in (2, 3):
        raise ValueError(
            "fit takes a DataLoader or tensors (X, Y) or (X, Y, sample_weight); "
            f"got a sequence of {len(data)}"
        )
    X = _as_tensor(data[0], "X")
    Y = _as_tensor(data[1], "Y")
    W = None if len(data) == 2 or data[2] is None else _as_tensor(data[2], "sample_weight")
    n = X.shape[0]
    if n == 0:
        raise ValueError("fit needs at least one sample; X has none")
    if Y.shape[0] != n or (W is not None and tuple(W.shape) != (n,)):
        shapes = [tuple(t.shape) for t in (X, Y, W) if t is not None]
        raise ValueError(f"X, Y (and sample_weight) must have the same rows; got shapes {shapes}")
    if Y.ndim == 1:
        if Y.is_floating_point():
            raise ValueError("Y of shape (n,) must hold integer class indices")
        Y = Y.long()
    elif Y.ndim != 2 or not Y.is_floating_point():
        raise ValueError(
            f"Y must be class indices (n,) or soft targets (n, k); got shape {tuple(Y.shape)}"
        )
    for name, t in (("X", X), ("Y", Y), ("sample_weight", W)):
        if t is not None and t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} contains NaN or infinite values")
    if W is not None and bool((W < 0).any()):
        raise ValueError("sample_weight must be >= 0")
    return X, Y, W


class _TensorBatches:
    """Shuffled minibatches of in-memory tensors; epoch e's order comes from (seed, e).

    Under torch.distributed every rank draws the same order; global batch b is rows
    [b*B*W, (b+1)*B*W) of it and rank r trains on its r-th part of B rows, so N workers
    step on exactly the batches one process with batch size B*W would. A last, partial
    global batch is split evenly (its remainder of fewer than W rows is dropped), so every
    rank steps on as many rows as the others and none waits on an empty batch.
    """

    def __init__(self, tensors, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        self.tensors = tensors
        self.batch_size, self.seed, self.rank, self.world = batch_size, seed, rank, world

    def __len__(self) -> int:
        return math.ceil(self.tensors[0].shape[0] / (self.batch_size * self.world))

    def epoch(self, epoch: int) -> Iterator[tuple[Any, ...]]:
        n = self.tensors[0].shape[0]
        gen = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) % (1 << 63))
        order = torch.randperm(n, generator=gen)
        step = self.batch_size * self.world
        for start in range(0, n, step):
            rows = order[start : start + step]
            part = len(rows) // self.world
            if part == 0:
                return
            rows = rows[self.rank * part : (self.rank + 1) * part]
            yield tuple(t[rows] if t is not None else None for t in self.tensors)


class _LoaderBatches:
    """Batches of a user's DataLoader (or any re-iterable of (x, y[, w]) tuples)."""

    def __init__(self, loader: Iterable[Any]):
        self.loader = loader

    def __len__(self) -> int:
        try:
            return len(self.loader)  # type: ignore[arg-type]
        except TypeError:
            return 0

    def epoch(self, epoch: int) -> Iterator[tuple[Any, ...]]:
        set_epoch = getattr(getattr(self.loader, "sampler", None), "set_epoch", None)
        if callable(set_epoch):
            set_epoch(epoch)  # DistributedSampler: a new shuffle per epoch
        for batch in self.loader:
            if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
                raise ValueError(
                    "a DataLoader given to fit must yield (x, y) or (x, y, sample_weight) batches"
                )
            x, y = batch[0], batch[1]
            w = batch[2] if len(batch) == 3 else None
            yield x, y, w


def _to_inputs(
    x: torch.Tensor, device: torch.device, channels_last: bool, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """A batch on the device, floating: integer images (uint8) are scaled to [0, 1]; with
    ``dtype`` (the model's), floating inputs of another precision are cast to it (NumPy
    arrays arrive as float64)."""
    x = x.to(device, non_blocking=True)
    if not x.is_floating_point():
        x = x.float().div_(255.0)
    if dtype is not None and x.dtype != dtype:
        x = x.to(dtype)
    if channels_last and x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


@torch.no_grad()
def model_proba(
    model: nn.Module,
    X: torch.Tensor,
    device: torch.device,
    *,
    batch_size: int,
    channels_last: bool = False,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Class probabilities (n, k) of a model on the CPU, in eval mode, in batches.

    The one prediction loop of the package: :meth:`Trainer.predict_proba` and the image
    experiment's ``predict_proba`` call it.

    Parameters
    ----------
    model : nn.Module
        The classifier; its training mode is restored afterwards.
    X : Tensor of shape (n, ...)
        Inputs; integer images (uint8) are scaled to [0, 1].
    device : torch.device
        Where the forward passes run.
    batch_size : int
        Rows per forward pass.
    channels_last : bool, default=False
        Pass 4-d inputs in channels-last memory format.
    dtype : torch.dtype, optional
        Cast floating inputs to this dtype (the model's).

    Returns
    -------
    Tensor of shape (n, k), float32
        An empty (0, 0) tensor when ``X`` has no rows.
    """
    was_training = model.training
    model.eval()
    try:
        out = []
        for part in torch.split(X, batch_size):
            logits = model(_to_inputs(part, device, channels_last, dtype))
            out.append(torch.softmax(logits.float(), dim=-1).cpu())
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, 0)


def _check_config(model, mixer, optimizer, scheduler, epochs, batch_size, lr, amp) -> None:
    """Every configuration error of a Trainer, reported together in one ValueError."""
    errors = []
    if not isinstance(model, nn.Module):
        errors.append(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if mixer is not None and not isinstance(mixer, MixStep):
        errors.append("mixer must have a training_loss(model, inputs, labels, weight) method")
    choices = (
        ("optimizer", optimizer, callable(optimizer) or optimizer in ("adam", "sgd"),
         "'adam', 'sgd' or a callable"),
        ("scheduler", scheduler,
         scheduler is None or callable(scheduler) or scheduler in ("cosine", "step"),
         "None, 'cosine', 'step' or a callable"),
        ("amp", amp, amp in (None, *_AMP), "None, 'bf16' or 'fp16'"),
        ("lr", lr, is_real(lr) and lr > 0, "a float > 0"),
    )  # fmt: skip
    for name, value, ok, expected in choices:
        if not ok:
            errors.append(str(parameter_error("Trainer", name, expected, value)))
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not is_int_at_least(value, 1):
            errors.append(str(parameter_error("Trainer", name, "an int >= 1", value)))
    if errors:
        raise ValueError("\n".join(errors))


class Trainer(ParamsRepr):
    """Train one PyTorch classifier, with or without a mix step.

    Parameters
    ----------
    model : nn.Module
        Returns logits (n, k).
    mixer : MixStep, optional
        Computes the loss of a batch: ``GenLabelMixup`` or an image method's step. None
        trains plainly (cross entropy against the labels or soft targets).
    optimizer : {"adam", "sgd"} or callable, default="adam"
        "sgd" uses ``momentum`` (and Nesterov with ``nesterov=True``); a callable gets the
        parameters and returns a ``torch.optim.Optimizer``.
    lr : float, default=1e-3
    weight_decay : float, default=0.0
        The optimizer's settings.
    momentum : float, default=0.9
    nesterov : bool, default=False
        SGD's settings.
    epochs : int, default=10
    batch_size : int, default=128
        Per process under torch.distributed.
    scheduler : {None, "cosine", "step"} or callable, default=None
        Stepped once per epoch: cosine annealing to 0 over ``epochs``; "step" divides the
        learning rate by 10 at 50 % and 75 % of the epochs; a callable gets the optimizer.
    device : str, default="cpu"
    amp : {None, "bf16", "fp16"}
        Mixed precision (``torch.autocast``); "fp16" (with a gradient scaler) needs CUDA,
        "bf16" also runs on the CPU.
    channels_last : bool, optional
        Keep the model and image batches (n, c, h, w) in the channels-last memory format.
        None (default): on CUDA only. On the CPU it makes convolutions faster too (see
        ``benchmarks/images.py``), at the cost of other rounding than the default layout.
    transform : callable, optional
        Applied to every training batch of inputs on the device (augmentation); not used by
        ``predict``.
    callbacks : sequence of Callback
    checkpoint_dir : str or Path, optional
        A checkpoint (model, optimizer, scheduler, mixer, history) is written there after
        every epoch, and ``fit`` resumes from it when it exists.
    random_state : int, optional
        Seed of the shuffling (epoch e's order comes from (seed, e)); None draws one.
    verbose : int, default=1
        0: silent; 1: a progress bar.

    Attributes
    ----------
    history_ : list of dict
        One row per epoch: ``epoch``, ``loss`` (mean training loss), ``lr``, ``seconds``,
        and what callbacks add to it in ``on_epoch_log`` (e.g. ``LabelDiagnostics``).
    loss_curve_ : list of float
        The ``loss`` column of ``history_``.
    optimizer_ : torch.optim.Optimizer
        The optimizer in use.
    scheduler_ : LRScheduler or None
        The learning-rate scheduler in use.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from genlabel import GenLabelMixup
    >>> g = torch.Generator().manual_seed(0)
    >>> X, y = torch.randn(64, 2, generator=g), torch.arange(64) % 2
    >>> mixer = GenLabelMixup(num_classes=2, seed=0).fit(X, y)
    >>> trainer = Trainer(nn.Linear(2, 2), mixer=mixer, epochs=2, random_state=0, verbose=0)
    >>> trainer.fit((X, y)).predict(X[:4]).shape
    torch.Size([4])
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        mixer: MixStep | None = None,
        optimizer: str | Callable[..., torch.optim.Optimizer] = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        nesterov: bool = False,
        epochs: int = 10,
        batch_size: int = 128,
        scheduler: str | Callable[..., Any] | None = None,
        device: str | torch.device = "cpu",
        amp: str | None = None,
        channels_last: bool | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        callbacks: Sequence[Callback] = (),
        checkpoint_dir: str | os.PathLike[str] | None = None,
        random_state: int | None = None,
        verbose: int = 1,
    ):
        _check_config(model, mixer, optimizer, scheduler, epochs, batch_size, lr, amp)
        self.device = resolve_device(device, "Trainer")
        if amp == "fp16" and self.device.type != "cuda":
            raise ValueError("amp='fp16' needs a CUDA device; use amp='bf16' on the CPU")
        self.model, self.mixer = model, mixer
        self.optimizer, self.lr, self.weight_decay = optimizer, float(lr), float(weight_decay)
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self.epochs, self.batch_size = epochs, batch_size
        self.scheduler, self.amp, self.transform = scheduler, amp, transform
        self.channels_last = channels_last
        self.callbacks = list(callbacks)
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.random_state = random_state
        self.verbose = verbose
        self.stop_training = False
        self.history_: list[dict[str, float]] = []

    # -- set-up -------------------------------------------------------------------------
    @property
    def loss_curve_(self) -> list[float]:
        return [row["loss"] for row in self.history_]

    def _parameters(self) -> list[nn.Parameter]:
        params = list(self.model.parameters())
        extra = getattr(self.mixer, "trainable_parameters", None)
        return params + (list(extra()) if callable(extra) else [])

    def _initialize(self) -> None:
        """Build ``module_`` (DDP-wrapped under torch.distributed), the optimizer and scheduler."""
        rank, world = rank_and_world()
        self.channels_last_ = (
            self.device.type == "cuda" if self.channels_last is None else bool(self.channels_last)
        )
        self.model.to(self.device)
        if self.channels_last_:
            self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        if hasattr(self.mixer, "to"):
            self.mixer.to(self.device)  # type: ignore[union-attr]
        self.module_: nn.Module = self.model
        if world > 1 and not isinstance(self.model, nn.parallel.DistributedDataParallel):
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.module_ = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        params = self._parameters()
        if callable(self.optimizer):
            self.optimizer_ = self.optimizer(params)
        elif self.optimizer == "sgd":
            self.optimizer_ = torch.optim.SGD(
                params,
                lr=self.lr,
                momentum=self.momentum,
                weight_decay=self.weight_decay,
                nesterov=self.nesterov,
            )
        else:
            self.optimizer_ = torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        self.scheduler_ = self._make_scheduler()
        use_scaler = self.amp == "fp16"
        self.scaler_ = torch.amp.GradScaler(self.device.type, enabled=use_scaler)

    def _make_scheduler(self) -> Any:
        if self.scheduler is None:
            return None
        if callable(self.scheduler):
            return self.scheduler(self.optimizer_)
        if self.scheduler == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer_, T_max=self.epochs)
        milestones = sorted({max(1, self.epochs // 2), max(1, (3 * self.epochs) // 4)})
        return torch.optim.lr_scheduler.MultiStepLR(self.optimizer_, milestones, gamma=0.1)

    def _batches(self, data: Any, seed: int) -> _TensorBatches | _LoaderBatches:
        if isinstance(data, (tuple, list)):
            rank, world = rank_and_world()
            return _TensorBatches(_check_tensors(data), self.batch_size, seed, rank, world)
        if isinstance(data, Iterable):
            return _LoaderBatches(data)
        raise ValueError(
            "fit takes a DataLoader or a tuple of tensors (X, Y[, sample_weight]); "
            f"got {type(data).__name__}"
        )

    # -- checkpoints ----------------------------------------------------------------------
    def _checkpoint_path(self) -> Path | None:
        return None if self.checkpoint_dir is None else self.checkpoint_dir / CHECKPOINT_NAME

    def _state(self, epoch: int, seed: int) -> dict[str, Any]:
        state: dict[str, Any] = {
            "epoch": epoch,
            "seed": seed,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer_.state_dict(),
            "scheduler": None if self.scheduler_ is None else self.scheduler_.state_dict(),
            "scaler": self.scaler_.state_dict(),
            "history": self.history_,
        }
        for name, part in (("mixer", self.mixer), ("transform", self.transform)):
            if hasattr(part, "state_dict"):
                state[name] = part.state_dict()  # type: ignore[union-attr]
        return state

    def _save(self, epoch: int, seed: int) -> None:
        path = self._checkpoint_path()
        if path is None or not is_main_process():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(self._state(epoch, seed), tmp)
        os.replace(tmp, path)  # atomic: a kill leaves the previous checkpoint or this one

    def _resume(self) -> tuple[int, int | None]:
        """Load the last checkpoint if there is one; returns (epochs done, its seed)."""
        path = self._checkpoint_path()
        if path is None or not path.is_file():
            return 0, None
        restart = "delete it to restart this training (a benchmark's cell) from its first epoch"
        state = load_checkpoint(path, map_location=self.device, restart=restart)
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer_.load_state_dict(state["optimizer"])
            if self.scheduler_ is not None and state["scheduler"] is not None:
                self.scheduler_.load_state_dict(state["scheduler"])
            self.scaler_.load_state_dict(state["scaler"])
            for name, part in (("mixer", self.mixer), ("transform", self.transform)):
                if name in state and hasattr(part, "load_state_dict"):
                    part.load_state_dict(state[name])  # type: ignore[union-attr]
            self.history_ = [dict(row) for row in state["history"]]
            return int(state["epoch"]), int(state["seed"])
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
            raise checkpoint_error(path, exc, restart) from None

    def _input_dtype(self) -> torch.dtype | None:
        """The dtype of the model's floating parameters when they all share one (inputs are
        cast to it); None for a model of mixed precisions (or none), whose inputs are left
        as they come."""
        dtypes = {p.dtype for p in self.model.parameters() if p.is_floating_point()}
        return dtypes.pop() if len(dtypes) == 1 else None

    # -- training -------------------------------------------------------------------------
    def _batch_loss(self, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
        dtype = _AMP.get(self.amp or "")
        with torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None):
            if self.mixer is not None:
                return self.mixer.training_loss(self.module_, x, y, w)
            return plain_loss(self.module_(x), y, w)

    def _step(self, loss: torch.Tensor) -> None:
        self.optimizer_.zero_grad(set_to_none=True)
        self.scaler_.scale(loss).backward()
        self.scaler_.step(self.optimizer_)
        self.scaler_.update()

    def _run_epoch(self, batches: Any, epoch: int, bar: Any) -> dict[str, float]:
        self.module_.train()
        start = time.perf_counter()
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        count = 0
        dtype = self._input_dtype()
        for b, (x, y, w) in enumerate(batches.epoch(epoch)):
            x = _to_inputs(x, self.device, self.channels_last_, dtype)
            y = y.to(self.device, non_blocking=True)
            w = None if w is None else w.to(self.device, non_blocking=True)
            if self.transform is not None:
                x = self.transform(x)
            loss = self._batch_loss(x, y, w)
            self._step(loss)
            total += loss.detach() * x.shape[0]
            count += x.shape[0]
            for cb in self.callbacks:
                cb.on_batch_end(self, b, {"loss": loss.detach()})
            bar.update(1)
        if self.scheduler_ is not None:
            self.scheduler_.step()
        if count == 0:
            raise ValueError(f"the training data yielded no batch in epoch {epoch}")
        # Checked once per epoch, not per batch: a per-batch check would sync the GPU.
        if not math.isfinite(float(total)):
            raise FloatingPointError(
                f"the training loss became {float(total)} in epoch {epoch}: lower the learning "
                "rate, or check the data for NaN or infinite values (a DataLoader's batches are "
                "not checked)"
            )
        row = {
            "epoch": float(epoch),
            "loss": float(total) / max(count, 1),
            "lr": float(self.optimizer_.param_groups[0]["lr"]),
            "seconds": time.perf_counter() - start,
        }
        bar.set_postfix(epoch=epoch + 1, loss=f"{row['loss']:.4f}")
        return row

    def fit(self, data: Any) -> Trainer:
        """Train for ``epochs`` (the rest of them, when a checkpoint exists).

        Parameters
        ----------
        data : DataLoader or tuple (X, Y) / (X, Y, sample_weight)
            X of shape (n, ...) (integer images are scaled to [0, 1]); Y class indices (n,)
            or soft targets (n, k); sample_weight (n,) >= 0. A DataLoader yields such tuples.

        Returns
        -------
        self
        """
        self._initialize()
        done, saved_seed = self._resume()
        if saved_seed is not None:
            seed = saved_seed
        elif self.random_state is not None:
            seed = int(self.random_state)
        else:
            seed = secrets.randbits(40)
        batches = self._batches(data, seed)
        self.stop_training = False
        for cb in self.callbacks:
            cb.on_train_begin(self)
        total = (self.epochs - done) * len(batches) or None
        with tqdm(
            total=total,
            desc="training",
            unit="batch",
            disable=self.verbose < 1 or not is_main_process(),
            dynamic_ncols=True,
        ) as bar:
            for epoch in range(done, self.epochs):
                for cb in self.callbacks:
                    cb.on_epoch_begin(self, epoch)
                row = self._run_epoch(batches, epoch, bar)
                for cb in self.callbacks:
                    cb.on_epoch_log(self, epoch, row)
                self.history_.append(row)
                self._save(epoch + 1, seed)
                for cb in self.callbacks:
                    cb.on_epoch_end(self, epoch, row)
                if self.stop_training:
                    break
        for cb in self.callbacks:
            cb.on_train_end(self)
        return self

    # -- prediction -------------------------------------------------------------------------
    def predict_proba(self, X: Any, *, batch_size: int | None = None) -> torch.Tensor:
        """Class probabilities (n, k) on the CPU, in eval mode, in batches.

        Parameters
        ----------
        X : array-like or Tensor of shape (n, ...)
            Finite inputs.
        batch_size : int, optional
            Rows per forward pass (default: the larger of the training batch size and 256).

        Returns
        -------
        Tensor of shape (n, k), float32
            The model's training mode is restored afterwards.

        Raises
        ------
        RuntimeError
            The trainer is not fitted.
        ValueError
            ``X`` holds NaN or infinite values.
        """
        if not hasattr(self, "module_"):
            raise RuntimeError("This Trainer is not fitted yet; call 'fit' first")
        X = _as_tensor(X, "X")
        if X.is_floating_point() and not all_finite(X):
            raise ValueError("X contains NaN or infinite values")
        return model_proba(
            self.model, X, self.device, batch_size=batch_size or max(self.batch_size, 256),
            channels_last=self.channels_last_, dtype=self._input_dtype(),
        )  # fmt: skip

    def predict(self, X: Any, *, batch_size: int | None = None) -> torch.Tensor:
        """Predicted class indices (n,): the argmax of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like or Tensor of shape (n, ...)
        batch_size : int, optional
            As in :meth:`predict_proba`.

        Returns
        -------
        Tensor of shape (n,), int64
        """
        return self.predict_proba(X, batch_size=batch_size).argmax(-1)
