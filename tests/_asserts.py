"""Assertions reused across tests."""

from __future__ import annotations

import torch


def assert_valid_labels(labels: torch.Tensor, n: int | None = None, k: int | None = None) -> None:
    """Every row finite, non-negative, summing to one."""
    assert labels.ndim == 2
    if n is not None:
        assert labels.shape[0] == n
    if k is not None:
        assert labels.shape[1] == k
    assert bool(torch.isfinite(labels).all()), "labels contain NaN/inf"
    assert bool((labels >= 0).all()), "labels contain negative entries"
    tol = 1e-3 if labels.dtype in (torch.float16, torch.bfloat16) else 1e-5
    torch.testing.assert_close(
        labels.sum(1).double(), torch.ones(labels.shape[0], dtype=torch.float64), atol=tol, rtol=0
    )


def rounding_tolerance(dtype: torch.dtype, steps: int = 1, scale: float = 1.0) -> dict[str, float]:
    """``assert_close`` tolerances for two computations that differ only in float rounding
    (products of other shapes, which a BLAS may block or split otherwise on another host or
    thread count, so bit-equality holds on one host and not on another): a few hundred units
    in the last place of ``dtype``, times ``steps`` for values that went through that many
    training steps (rounding differences compound); ``scale`` is the values' magnitude, for
    the absolute part (an entry near 0 may be a sum of large terms)."""
    tol = 256 * torch.finfo(dtype).eps * max(1, steps)
    return {"rtol": tol, "atol": tol * max(1.0, float(scale))}
