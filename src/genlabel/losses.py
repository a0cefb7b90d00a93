"""Soft-target cross entropy and GenLabel's gamma-loss.

Both take a batch of one model, logits (n, k), or of G stacked models, logits (G, n, k)
(a batched hyper-parameter grid): then every model gets its own weighted mean.
"""

from __future__ import annotations

import torch

from .mixing.params import convex_mix

__all__ = ["blend_targets", "genlabel_loss", "soft_cross_entropy", "weighted_mean"]

_LOW_PRECISION = (torch.float16, torch.bfloat16)


def _per_sample(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """-sum_c t_c log softmax(logits)_c, shape logits.shape[:-1]."""
    work = logits.float() if logits.dtype in _LOW_PRECISION else logits
    if work.ndim == 2:
        return -(targets.to(work.dtype) * torch.log_softmax(work, dim=-1)).sum(-1)
    # Stacked models: class-first, (..., k, n). torch's CPU reductions over a short last
    # dimension are an order of magnitude slower than over a contiguous leading one.
    logits_t = work.transpose(-1, -2).contiguous()
    targets_t = targets.transpose(-1, -2).contiguous().to(work.dtype)
    return -(targets_t * torch.log_softmax(logits_t, dim=-2)).sum(-2)


def soft_cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    weight: torch.Tensor | None = None,
    *,
    reduction: str = "mean",
) -> torch.Tensor:
    """CE(t, f(x)) = -sum_c t_c log softmax(f(x))_c, computed in float32 or wider.

    Parameters
    ----------
    logits, targets : Tensor of shape (n, k), or (G, n, k) for G stacked models
    weight : Tensor of shape (n,) (or (G, n)), optional
        Per-sample weights (0 drops a point, as mixup + excluding intrusion does); the
        mean is taken over the weight sum (0 if every weight is 0).
    reduction : {"mean", "sum", "none"}
        "mean" and "sum" reduce over the points of each model: a scalar for (n, k) inputs,
        shape (G,) for stacked ones; "none" gives one value per point.

    Returns
    -------
    Tensor
        Shape (), (G,), (n,) or (G, n), by ``reduction``.

    Examples
    --------
    >>> import torch
    >>> soft_cross_entropy(torch.zeros(1, 2), torch.tensor([[1.0, 0.0]]))
    tensor(0.6931)
    """
    if logits.shape != targets.shape or logits.ndim < 2:
        raise ValueError(
            "logits and targets must have the same shape (n, k) or (G, n, k); got "
            f"{tuple(logits.shape)} and {tuple(targets.shape)}"
        )
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none'; got {reduction!r}")
    if weight is not None and tuple(weight.shape) != tuple(logits.shape[:-1]):
        raise ValueError(
            f"weight must be of shape {tuple(logits.shape[:-1])}; got {tuple(weight.shape)}"
        )
    per_sample = _per_sample(logits, targets)
    if weight is None:
        if reduction == "none":
            return per_sample
        return per_sample.sum(-1) if reduction == "sum" else per_sample.mean(-1)
    if reduction == "mean":
        return weighted_mean(per_sample, weight)
    per_sample = per_sample * weight.to(per_sample.dtype)
    return per_sample if reduction == "none" else per_sample.sum(-1)


def weighted_mean(values: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """sum(w * v) / max(sum(w), 1) over the last dimension (0 when every weight is 0).

    Parameters
    ----------
    values : Tensor of shape (..., n)
    weight : Tensor of shape (..., n)
        Cast to ``values``' dtype.

    Returns
    -------
    Tensor of shape (...)

    Examples
    --------
    >>> import torch
    >>> weighted_mean(torch.tensor([1.0, 3.0, 5.0]), torch.tensor([1, 1, 0]))
    tensor(2.)
    """
    weight = weight.to(values.dtype)
    return (values * weight).sum(-1) / weight.sum(-1).clamp_min(1.0)


def genlabel_loss(
    logits: torch.Tensor,
    gen_targets: torch.Tensor,
    mix_targets: torch.Tensor,
    gamma: float | torch.Tensor,
    *,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """gamma * CE(y_gen, f(x_mix)) + (1 - gamma) * CE(y_mix, f(x_mix)).

    ``gamma`` (the "loss ratio", in [0, 1]) hedges against an imperfect density model: a
    float, a tensor of shape (n,) (one per point) or, for stacked logits (G, n, k), of
    shape (G,) (one per model). Computed as one cross entropy against the blended target
    of :func:`blend_targets` (cross entropy is linear in the target).

    Parameters
    ----------
    logits : torch.Tensor, shape (n, k) or (G, n, k)
        The model's outputs on the mixed points.
    gen_targets : torch.Tensor, same shape
        GenLabel's labels y_gen (e.g. ``density.targets(x_mix)``).
    mix_targets : torch.Tensor, same shape
        Mixup's labels y_mix.
    gamma : float or torch.Tensor
        The weight of y_gen, in [0, 1] (see above for its shapes).
    weight : torch.Tensor of shape (n,) or (G, n), optional
        Per-point weights, as in :func:`soft_cross_entropy`.

    Returns
    -------
    torch.Tensor
        A scalar, or one value per stacked model (G,).

    Raises
    ------
    ValueError
        Shapes that do not match, or a gamma outside [0, 1].
    """
    blended = blend_targets(gen_targets, mix_targets, gamma, logits_shape=tuple(logits.shape))
    return soft_cross_entropy(logits, blended, weight=weight)


def blend_targets(
    gen_targets: torch.Tensor,
    mix_targets: torch.Tensor,
    gamma: float | torch.Tensor,
    *,
    logits_shape: tuple[int, ...] | None = None,
) -> torch.Tensor:
    """gamma * y_gen + (1 - gamma) * y_mix: the one target of GenLabel's gamma-loss.

    Parameters
    ----------
    gen_targets, mix_targets : Tensor of shape (n, k) or (G, n, k)
        y_gen and y_mix.
    gamma : float or Tensor
        In [0, 1], as in :func:`genlabel_loss`: a float, one per point (n,) or one per
        stacked model (G,).
    logits_shape : tuple of int, optional
        The logits' shape (default: the targets' shape), which tells a per-point gamma
        from a per-model one.

    Returns
    -------
    Tensor
        The blended target, of the targets' shape, at least float32.

    Raises
    ------
    ValueError
        A gamma outside [0, 1] (or NaN), or of a shape that fits neither the points nor
        the models.
    """
    shape = tuple(gen_targets.shape) if logits_shape is None else logits_shape
    dtype = torch.promote_types(
        torch.promote_types(gen_targets.dtype, mix_targets.dtype), torch.float32
    )
    g = torch.as_tensor(gamma, dtype=dtype, device=gen_targets.device)
    if bool(((g < 0) | (g > 1) | torch.isnan(g)).any()):
        raise ValueError(f"gamma must be in [0, 1]; got {gamma!r}")
    if g.ndim:
        if g.ndim == 1 and len(shape) == 2 and g.shape[0] == shape[0]:
            g = g.unsqueeze(-1)  # one per point
        elif tuple(g.shape) == shape[:-2]:
            g = g.reshape(tuple(g.shape) + (1, 1))  # one per stacked model
        else:
            raise ValueError(
                f"gamma must be a float, one per point or one per stacked model; got shape "
                f"{tuple(g.shape)} for logits of shape {shape}"
            )
    return convex_mix(gen_targets.to(dtype), mix_targets.to(dtype), g)
