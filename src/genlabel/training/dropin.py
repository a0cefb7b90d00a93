"""GenLabelMixup: a drop-in mixup replacement for a PyTorch training loop (Algorithms 1, 2)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch

from .._validation import as_float_tensor, as_label_tensor, check_choice
from ..density import ClassDensity, make_density
from ..labels import (
    LABEL_RULES,
    intrusion_keep_mask,
    logistic_labels,
    nearest_neighbor_labels,
)
from ..losses import genlabel_loss, soft_cross_entropy
from ..mixing import MixedBatch, mix_pairs

__all__ = ["GenLabelMixup", "MixupBatch"]

FeatureExtractor = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class MixupBatch:
    """What :class:`GenLabelMixup` returns for one batch.

    Attributes
    ----------
    inputs : Tensor of shape (n, ...)
        The mixed inputs to feed the model.
    targets : Tensor of shape (n, k)
        The rule's label (y_gen for GenLabel).
    mix_targets : Tensor of shape (n, k)
        Mixup's linear label.
    weight : Tensor of shape (n,)
        1 for points that count, 0 for points dropped by ``exclude_intrusion``.
    mixed : MixedBatch
        The draw itself (lam, permutation, both source labels).
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    mix_targets: torch.Tensor
    weight: torch.Tensor
    mixed: MixedBatch


class GenLabelMixup:
    """Mixup with relabeling, for your own PyTorch training loop.

    Three lines::

        mixer = GenLabelMixup(num_classes=3, gamma=0.8, seed=0).fit(X_train, y_train)
        batch = mixer(x, y)                           # in the loop
        loss = mixer.loss(model(batch.inputs), batch)

    Parameters
    ----------
    num_classes : int
    rule : str, default="genlabel"
        One of ``genlabel_top2``, ``genlabel``, ``linear``, ``logistic``,
        ``nearest_neighbor``, ``exclude_intrusion`` (SPEC §3).
    density : {"gm", "kde"} or ClassDensity, default="gm"
        The class-conditional density for the GenLabel rules.
    gamma : float, default=1.0
        Loss ratio: gamma * CE(y_gen) + (1 - gamma) * CE(y_mix).
    alpha : float, default=1.0
        Beta(alpha, alpha) mixing; 0 disables mixing.
    per_sample : bool, default=False
        One lam per sample instead of per batch.
    sigma2 : float, default=0.1
        Temperature of the logistic rule.
    feature_extractor : callable, optional
        Algorithm 2: densities live in the space of ``feature_extractor(x)``; it is
        applied (without gradients) to the fit data and to every mixed batch.
    seed : int, optional / generator : torch.Generator, optional
        The source of every draw (give one or the other; neither gives a fresh seed).
    """

    def __init__(
        self,
        num_classes: int,
        *,
        rule: str = "genlabel",
        density: str | ClassDensity = "gm",
        gamma: float = 1.0,
        alpha: float = 1.0,
        per_sample: bool = False,
        sigma2: float = 0.1,
        feature_extractor: FeatureExtractor | None = None,
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ):
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive integer; got {num_classes!r}")
        check_choice(rule, "rule", "GenLabelMixup", LABEL_RULES)
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(
                f"The 'gamma' parameter of GenLabelMixup must be in [0, 1]. Got {gamma!r} instead."
            )
        if seed is not None and generator is not None:
            raise ValueError("give either seed or generator, not both")
        self.num_classes = num_classes
        self.rule = rule
        self.density = make_density(density) if isinstance(density, str) else density
        self.gamma = float(gamma)
        self.alpha = alpha
        self.per_sample = per_sample
        self.sigma2 = sigma2
        self.feature_extractor = feature_extractor
        if generator is None:
            generator = torch.Generator()
            if seed is None:
                generator.seed()
            else:
                generator.manual_seed(seed)
        self.generator = generator
        self._reference: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def needs_fit(self) -> bool:
        return self.rule not in ("linear", "logistic")

    # -- fitting ----------------------------------------------------------------------
    def _features(self, x: torch.Tensor) -> torch.Tensor:
        if self.feature_extractor is None:
            return x.reshape(x.shape[0], -1)
        with torch.no_grad():
            z = self.feature_extractor(x)
        return z.reshape(z.shape[0], -1)

    def fit(self, X: Any, y: Any = None) -> GenLabelMixup:
        """Fit the class densities on training inputs (or their features).

        ``X`` is an array or tensor of shape (n, ...) with labels ``y``, or an iterable
        of ``(x, y)`` batches (a DataLoader) with ``y=None``; with a
        ``feature_extractor`` the densities are fitted on its outputs (Algorithm 2).
        """
        if y is None:
            if not isinstance(X, Iterable):
                raise ValueError("fit needs (X, y) arrays or an iterable of (x, y) batches")
            feats, labels = [], []
            for batch in X:
                xb, yb = batch[0], batch[1]
                feats.append(self._features(torch.as_tensor(xb)).detach())
                labels.append(torch.as_tensor(yb).detach().cpu())
            if not feats:
                raise ValueError("the data loader given to fit yielded no batch")
            Z = torch.cat([f.cpu() for f in feats])
            y_t = torch.cat(labels)
        else:
            X_t = X if isinstance(X, torch.Tensor) else torch.as_tensor(X)
            if X_t.ndim < 2:
                raise ValueError(
                    f"X must be of shape (n_samples, ...); got shape {tuple(X_t.shape)}"
                )
            Z = self._features(X_t).detach().cpu()
            y_t = torch.as_tensor(y)
        Z = as_float_tensor(Z, "X")
        y_t = as_label_tensor(y_t, "y", n_samples=Z.shape[0])
        if y_t.numel() and (int(y_t.min()) < 0 or int(y_t.max()) >= self.num_classes):
            raise ValueError(f"y must hold class indices in [0, {self.num_classes})")
        self._reference = (Z, y_t)
        if self.rule in ("genlabel", "genlabel_top2"):
            self.density.fit(Z, y_t, classes=list(range(self.num_classes)))
        return self

    # -- per batch ----------------------------------------------------------------------
    def __call__(self, inputs: torch.Tensor, labels: torch.Tensor) -> MixupBatch:
        """Mix a batch and label the mixed points with the chosen rule."""
        if self.needs_fit and self._reference is None:
            raise RuntimeError(
                f"GenLabelMixup(rule={self.rule!r}) must be fitted before use; call fit"
            )
        mixed = mix_pairs(
            inputs,
            labels,
            self.num_classes,
            alpha=self.alpha,
            generator=self.generator,
            per_sample=self.per_sample,
        )
        mix_targets = mixed.mix_targets
        weight = torch.ones(inputs.shape[0], device=inputs.device)
        rule = self.rule
        if rule == "linear":
            targets = mix_targets
        elif rule == "logistic":
            targets = logistic_labels(
                mixed.targets_a, mixed.targets_b, mixed.lam.float(), self.sigma2
            )
        else:
            z = self._features(mixed.inputs)
            assert self._reference is not None
            ref_z, ref_y = (t.to(z.device) for t in self._reference)
            if rule == "nearest_neighbor":
                targets = nearest_neighbor_labels(z, ref_z.to(z.dtype), ref_y, self.num_classes)
            elif rule == "exclude_intrusion":
                targets = mix_targets
                keep = intrusion_keep_mask(
                    z, ref_z.to(z.dtype), ref_y, mixed.labels_a, mixed.labels_b
                )
                weight = keep.to(weight.dtype)
            else:
                top_k = 2 if rule == "genlabel_top2" else None
                targets = self.density.targets(z, top_k=top_k)
        return MixupBatch(
            inputs=mixed.inputs,
            targets=targets.to(mix_targets.dtype),
            mix_targets=mix_targets,
            weight=weight,
            mixed=mixed,
        )

    def loss(self, logits: torch.Tensor, batch: MixupBatch) -> torch.Tensor:
        """The training loss of the rule: the gamma-loss for GenLabel, else soft CE."""
        if self.rule in ("genlabel", "genlabel_top2"):
            return genlabel_loss(
                logits, batch.targets, batch.mix_targets, self.gamma, weight=batch.weight
            )
        return soft_cross_entropy(logits, batch.targets, weight=batch.weight)
