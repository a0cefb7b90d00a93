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
