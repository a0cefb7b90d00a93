"""GenLabel's label from class log-densities: softmax_c(log p_c(x)), with top-k, a prior and
a mask of allowed classes. Every density's ``targets`` goes through it."""

from __future__ import annotations

import math
from typing import Any

import torch

from .._validation import is_integer

__all__ = ["genlabel_targets"]


def _class_softmax(log_probs: torch.Tensor) -> torch.Tensor:
    """Softmax over the classes (dim 1) of an (n, k) tensor, in the layout it is stored in.

    The densities store log-probabilities class-first (a transposed view): softmax over
    that contiguous leading dimension is several times faster on CPU than over a short
    last one, and the result is again a transposed view.
    """
    if log_probs.shape[1] > 1 and log_probs.stride() == (1, log_probs.shape[0]):
        return torch.softmax(log_probs.T, dim=0).T
    return torch.softmax(log_probs, dim=1)


def _checked_log_probs(log_probs: Any) -> torch.Tensor:
    """``log_probs`` as a floating (n, k) tensor (NumPy arrays and lists too), or an error."""
    if not isinstance(log_probs, torch.Tensor):
        log_probs = torch.as_tensor(log_probs)
    if log_probs.ndim != 2:
        raise ValueError(
            f"log_probs must be of shape (n_samples, n_classes); got {tuple(log_probs.shape)}"
        )
    if not log_probs.is_floating_point():
        raise ValueError(f"log_probs must be floating point; got {log_probs.dtype}")
    return log_probs


def _checked_prior(log_prior: Any, work: torch.Tensor) -> torch.Tensor:
    """``log_prior`` in ``work``'s dtype: one per class, (k,) or (1, k), or one per point."""
    prior = torch.as_tensor(log_prior, dtype=work.dtype, device=work.device)
    n, k = work.shape
    if tuple(prior.shape) not in ((k,), (1, k), (n, k)):
        raise ValueError(
            f"log_prior must be of shape ({k},) (one per class), (1, {k}) or ({n}, {k}) "
            f"(one per point); got {tuple(prior.shape)}"
        )
    return prior


def _checked_allowed(allowed: Any, work: torch.Tensor) -> torch.Tensor:
    """``allowed`` as a bool (n, k) mask on ``work``'s device, or an error."""
    mask = torch.as_tensor(allowed, device=work.device)
    if mask.dtype is not torch.bool or tuple(mask.shape) != tuple(work.shape):
        raise ValueError(
            f"allowed must be a bool mask of shape {tuple(work.shape)}; got "
            f"{tuple(mask.shape)} of dtype {mask.dtype}"
        )
    return mask


def genlabel_targets(
    log_probs: torch.Tensor,
    top_k: int | None = None,
    log_prior: torch.Tensor | None = None,
    allowed: torch.Tensor | None = None,
) -> torch.Tensor:
    """GenLabel's label softmax_c(log p_c(x_mix)).

    Parameters
    ----------
    log_probs : Tensor of shape (n, k)
        Class log-densities of the mixed points.
    top_k : int, optional
        Keep only the ``top_k`` most likely classes (2 gives "GenLabel top-2").
    log_prior : Tensor of shape (k,) (or (1, k), or (n, k): one per point), optional
        Added to the log-densities (a prior-weighted label); none by default (GenLabel as stated uses no prior).
    allowed : bool Tensor of shape (n, k), optional
        The classes each label may use (e.g. the two classes a point was mixed from, see
        ``mixed_class_mask``): the others get weight 0, before ``top_k`` picks among the
        allowed ones. Every row must allow at least one class. None: every class.

    Returns
    -------
    Tensor of shape (n, k)
        Finite, non-negative rows that sum to one, in log_probs' dtype.

    Examples
    --------
    >>> import torch
    >>> genlabel_targets(torch.log(torch.tensor([[1.0, 3.0]])))
    tensor([[0.2500, 0.7500]])
    """
    log_probs = _checked_log_probs(log_probs)
    work = log_probs.float() if log_probs.dtype in (torch.float16, torch.bfloat16) else log_probs
    if log_prior is not None:
        work = work + _checked_prior(log_prior, work)
    unmasked = work
    if allowed is not None:
        allowed = _checked_allowed(allowed, work)
        work = work.masked_fill(~allowed, -torch.inf)
    if top_k is not None:
        if not is_integer(top_k) or top_k < 1:
            raise ValueError(f"top_k must be a positive integer or None; got {top_k!r}")
        top_k = int(top_k)
        if top_k < work.shape[1]:
            keep = torch.topk(work, top_k, dim=1).indices
            mask = torch.zeros_like(work, dtype=torch.bool).scatter_(1, keep, True)
            work = work.masked_fill(~mask, -torch.inf)
    labels = _class_softmax(work)
    # Fast path: a finite sum means every label is finite. Otherwise find out why: NaN or
    # +inf inputs are errors; rows that are -inf everywhere (0/0) get clamped and redone.
    if labels.numel() and not math.isfinite(labels.sum().item()):
        if bool(torch.isnan(unmasked).any()) or bool(torch.isposinf(unmasked).any()):
            raise ValueError(
                "log_probs (the classes' log-densities) contains NaN or +inf values: "
                "non-finite points, or points too far from every class for "
                f"{log_probs.dtype} (float64 reaches further)"
            )
        if allowed is not None and not bool(allowed.any(1).all()):
            raise ValueError("allowed must allow at least one class in every row")
        finite = unmasked.clamp_min(torch.finfo(unmasked.dtype).min)
        return genlabel_targets(finite, top_k=top_k, allowed=allowed).to(log_probs.dtype)
    return labels.to(log_probs.dtype)
