"""Soft-target cross entropy and GenLabel's gamma-loss (SPEC §1, §3)."""

from __future__ import annotations

import torch

__all__ = ["soft_cross_entropy", "genlabel_loss"]


def soft_cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """CE(t, f(x)) = -sum_c t_c log softmax(f(x))_c, computed in float32 or wider.

    Parameters
    ----------
    logits, targets : Tensor of shape (n, k)
    weight : Tensor of shape (n,), optional
        Per-sample weights (0 drops a point, as mixup + excluding intrusion does); the
        mean is taken over the weight sum (0 if every weight is 0).
    reduction : {"mean", "sum", "none"}
    """
    if logits.shape != targets.shape:
        raise ValueError(
            f"logits and targets must have the same shape (n, k); got {tuple(logits.shape)} "
            f"and {tuple(targets.shape)}"
        )
    work = logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits
    per_sample = -(targets.to(work.dtype) * torch.log_softmax(work, dim=-1)).sum(-1)
    if weight is not None:
        per_sample = per_sample * weight.to(per_sample.dtype)
    if reduction == "none":
        return per_sample
    if reduction == "sum":
        return per_sample.sum()
    if reduction != "mean":
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none'; got {reduction!r}")
    if weight is None:
        return per_sample.mean()
    return per_sample.sum() / weight.to(per_sample.dtype).sum().clamp_min(1.0)


def genlabel_loss(
    logits: torch.Tensor,
    gen_targets: torch.Tensor,
    mix_targets: torch.Tensor,
    gamma: float,
    *,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """gamma * CE(y_gen, f(x_mix)) + (1 - gamma) * CE(y_mix, f(x_mix)) (SPEC §3).

    ``gamma`` ("loss ratio") may be a float in [0, 1] or a tensor of shape (n,).
    """
    g = torch.as_tensor(gamma, dtype=torch.float32, device=logits.device)
    if bool(((g < 0) | (g > 1) | torch.isnan(g)).any()):
        raise ValueError(f"gamma must be in [0, 1]; got {gamma!r}")
    # One CE against the blended target: CE is linear in the target.
    if g.ndim == 1:
        g = g.unsqueeze(-1)
    blended = g * gen_targets.float() + (1 - g) * mix_targets.float()
    return soft_cross_entropy(logits, blended, weight=weight)
