"""Online class statistics in a latent space (Algorithm 3)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from .._distributed import is_distributed
from .._repr import ParamsRepr
from .._validation import is_integer, is_real
from .targets import genlabel_targets

__all__ = ["OnlineGaussianLabeler"]


class OnlineGaussianLabeler(ParamsRepr, nn.Module):
    """EMA class Gaussians N(mu_c, sigma_c^2 I) on features, and top-2 GenLabel labels.

    Every :meth:`update` (Algorithm 3, step 1), for each class c in the batch:
    ``mu_c <- (1-beta) mean_c + beta mu_c``; ``sigma_c^2 <- (1-beta) s_c + beta sigma_c^2``,
    where s_c = trace(cov of the class features around the new mu_c) / d. Classes absent
    from the batch keep their statistics. Start: mu_c = 0, sigma_c^2 = 1.

    The log-density is the proper Gaussian one, with the 1/2 in the exponent (the paper's
    pseudo-code drops it).

    With ``bias_correction=True`` the start values do not count: a class seen in t updates
    has the EMA divided by 1 - beta^t, as Adam corrects its moments, i.e. the update uses
    the memory beta (1 - beta^(t-1)) / (1 - beta^t) instead of beta (0 at the first sight:
    the batch's own statistics). Without it, during the first ~1/(1 - beta) updates every
    mean is pulled toward 0 by the same factor and every variance toward 1, so the class
    with the largest mean wins the label of nearly every point; a network trained from
    scratch on such labels can lock into predicting that class. Both give the same
    statistics once beta^t is negligible.

    Under ``torch.distributed`` the per-class counts, sums and sums of squared norms are
    all-reduced before the update, so N workers see the statistics of the global batch and
    produce the same labels as one worker with the concatenated batch.

    Parameters
    ----------
    num_classes : int
    dim : int
        Feature width d.
    memory : float, default=0.9
        The memory ratio beta in [0, 1).
    top_k : int or None, default=2
        Classes kept in the label (Algorithm 3: the two most likely).
    min_variance : float, default=1e-6
        Floor of sigma_c^2 (a class seen once has zero spread).
    process_group : optional
        The torch.distributed group to reduce over (default: the world, when initialised).
    bias_correction : bool, default=False
        Divide the EMA by 1 - beta^t (t: the updates that saw the class), so the start
        values mu_c = 0, sigma_c^2 = 1 carry no weight.

    Attributes
    ----------
    means : Tensor of shape (num_classes, dim), float64
    variances : Tensor of shape (num_classes,), float64
    seen : Tensor of shape (num_classes,), int64
        Points of each class seen so far.
    updates : Tensor of shape (num_classes,), int64
        Updates in which each class was present.
    """

    means: torch.Tensor
    variances: torch.Tensor
    seen: torch.Tensor
    updates: torch.Tensor

    def __init__(
        self,
        num_classes: int,
        dim: int,
        *,
        memory: float = 0.9,
        top_k: int | None = 2,
        min_variance: float = 1e-6,
        process_group: Any = None,
        bias_correction: bool = False,
    ):
        super().__init__()
        for name, value in (("num_classes", num_classes), ("dim", dim)):
            if not is_integer(value) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        if not 0.0 <= memory < 1.0:
            raise ValueError(f"memory must be in [0, 1); got {memory!r}")
        if not (is_real(min_variance) and 0 < min_variance < math.inf):
            raise ValueError(f"min_variance must be a finite number > 0; got {min_variance!r}")
        self.num_classes: int = int(num_classes)
        self.dim: int = int(dim)
        self.memory = float(memory)
        self.top_k = top_k
        self.min_variance = float(min_variance)
        self.process_group = process_group
        self.bias_correction = bool(bias_correction)
        self.register_buffer("means", torch.zeros(num_classes, dim, dtype=torch.float64))
        self.register_buffer("variances", torch.ones(num_classes, dtype=torch.float64))
        self.register_buffer("seen", torch.zeros(num_classes, dtype=torch.int64))
        self.register_buffer("updates", torch.zeros(num_classes, dtype=torch.int64))

    def _check_features(
        self, features: torch.Tensor, name: str, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        if features.ndim != 2 or features.shape[1] != self.dim:
            raise ValueError(
                f"{name} must be of shape (batch_size, {self.dim}); got {tuple(features.shape)}"
            )
        ok = torch.isfinite(features).all()
        if labels is not None:  # checked in the same sync
            ok = ok & ((labels >= 0) & (labels < self.num_classes)).all().to(ok.device)
        if not bool(ok):
            if labels is not None and bool(((labels < 0) | (labels >= self.num_classes)).any()):
                raise ValueError(f"labels must hold class indices in [0, {self.num_classes})")
            raise ValueError(f"{name} contains NaN or infinite values")
        return features

    @torch.no_grad()
    def update(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        """Update the class statistics with a batch of clean features (step 1).

        Under torch.distributed the batch statistics are summed over the process group
        first, so every process sees the global batch. Classes absent from the batch keep
        their statistics.

        Parameters
        ----------
        features : Tensor of shape (n, dim)
            Detached before use.
        labels : Tensor of shape (n,)
            Integer class indices.

        Raises
        ------
        ValueError
            Labels of another shape, not integers or outside [0, num_classes), or features
            of the wrong shape or not finite.
        """
        if labels.shape != features.shape[:1]:
            raise ValueError(
                f"Expected labels to be a tensor of shape ({features.shape[0]},), got {tuple(labels.shape)}"
            )
        if labels.is_floating_point() or labels.is_complex():
            raise ValueError(f"labels must be integer class indices; got {labels.dtype}")
        features = self._check_features(features.detach(), "features", labels)
        z = features.to(device=self.means.device, dtype=torch.float64)
        labels = labels.to(self.means.device).long()
        k, d = self.num_classes, self.dim
        # Packed per-class statistics [count, sum_1..sum_d, sum of squared norms], reduced
        # in one collective so that the update sees the global batch.
        stats = torch.zeros(k, d + 2, dtype=torch.float64, device=z.device)
        stats[:, 0].index_add_(0, labels, torch.ones_like(labels, dtype=torch.float64))
        stats[:, 1 : d + 1].index_add_(0, labels, z)
        stats[:, d + 1].index_add_(0, labels, z.square().sum(-1))
        if is_distributed(self.process_group):
            dist.all_reduce(stats, op=dist.ReduceOp.SUM, group=self.process_group)
        counts, sums, sq = stats[:, 0], stats[:, 1 : d + 1], stats[:, d + 1]
        present = counts > 0
        safe = counts.clamp_min(1.0)
        beta = self._memory(present)
        new_means = (1 - beta[:, None]) * sums / safe[:, None] + beta[:, None] * self.means
        # sum ||z - mu||^2 = sum ||z||^2 - 2 mu . sum z + n ||mu||^2 around the new mean.
        spread = sq - 2 * (new_means * sums).sum(-1) + counts * new_means.square().sum(-1)
        batch_var = (spread.clamp_min(0.0) / (safe * d)).clamp_min(self.min_variance)
        new_vars = (1 - beta) * batch_var + beta * self.variances
        self.means.copy_(torch.where(present[:, None], new_means, self.means))
        self.variances.copy_(torch.where(present, new_vars, self.variances))
        self.seen.add_(counts.long())
        self.updates.add_(present.long())

    def _memory(self, present: torch.Tensor) -> torch.Tensor:
        """The memory of this update per class, shape (k,): beta, or bias-corrected
        beta (1 - beta^t') / (1 - beta^(t'+1)) with t' the class's earlier updates."""
        beta = torch.full_like(self.variances, self.memory)
        if not self.bias_correction:
            return beta
        before = 1 - beta.pow(self.updates.to(beta.dtype))  # weight of the earlier batches
        return beta * before / (1 - beta * (1 - before)).clamp_min(1e-300)

    def log_prob(self, features: torch.Tensor) -> torch.Tensor:
        """log N(z; mu_c, sigma_c^2 I) for every class, shape (n, k), in features' dtype.

        Parameters
        ----------
        features : Tensor of shape (n, dim)
            Detached: no gradient flows through the labels.

        Returns
        -------
        Tensor of shape (n, k)
            On the features' device, in their dtype (float32 unless they are float32 or
            float64).
        """
        features = self._check_features(features, "features")
        z = features.detach().to(device=self.means.device, dtype=torch.float64)
        sq = torch.cdist(z, self.means).square()  # (n, k)
        var = self.variances.clamp_min(self.min_variance)
        log_prob = -0.5 * (sq / var + self.dim * torch.log(2 * math.pi * var))
        dtype = (
            features.dtype if features.dtype in (torch.float32, torch.float64) else torch.float32
        )
        return log_prob.to(device=features.device, dtype=dtype)

    # Parameters restate genlabel_targets' (density/targets.py), which it calls on the online
    # statistics: a public method documents its own arguments.
    def targets(
        self,
        features_mix: torch.Tensor,
        *,
        top_k: int | None | str = "default",
        log_prior: torch.Tensor | None = None,
        allowed: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """GenLabel labels of mixed features (step 2), shape (n, k).

        Parameters
        ----------
        features_mix : Tensor of shape (n, dim)
            The features of the mixed points.
        top_k : int or None, optional
            Defaults to the labeler's own (2: the two most likely classes, as in
            Algorithm 3); ``None`` keeps every class.
        log_prior : Tensor of shape (k,), optional
            Added to the log-densities (log pi_c).
        allowed : Tensor of shape (n, k), bool, optional
            The classes each label may use, e.g. ``mixed_class_mask(labels, perm, k)`` for
            the two mixed classes only (Algorithm 3's top-2 is then those two); None: every
            class.

        Returns
        -------
        Tensor of shape (n, k)
            Rows summing to one.
        """
        k = self.top_k if top_k == "default" else top_k
        if isinstance(k, str):
            raise ValueError(f"top_k must be a positive integer or None; got {top_k!r}")
        return genlabel_targets(
            self.log_prob(features_mix), top_k=k, log_prior=log_prior, allowed=allowed
        )
