"""The mix steps of the :class:`~genlabel.training.Trainer`, one class per family.

Every step computes the training loss of one batch through the model it is given (under
``torch.distributed`` the Trainer passes its DistributedDataParallel wrapper, and every
forward pass goes through it), composed from the library's primitives: the draws of
``draw_mix_params`` / ``draw_cutmix_params``, the mixing forward of :class:`ManifoldMixup`,
``label_mixed`` for the labels and ``soft_cross_entropy`` / ``genlabel_loss`` for the loss.
Each step draws every random choice from its own ``torch.Generator``; its ``state_dict``
carries the generator's state (and the online class statistics, and AdaMixup's networks),
so a Trainer checkpoint resumes a run draw for draw.

- :class:`GenLabelMixup`: the drop-in mixer of a user's own loop (Algorithms 1, 2), also a
  Trainer mix step (labels by a fitted density, a rule, or the mixup label);
- :class:`PlainStep`: vanilla training (cross entropy on the batch);
- :class:`MixupStep`: mixup of the inputs, manifold mixup or CutMix, linear labels;
- :class:`GenLabelStep`: the same mixes, labelled by online class Gaussians on the model's
  features (Algorithm 3 of the GenLabel paper);
- :class:`AdaMixupStep`: AdaMixup's learned mixing policy and intrusion discriminator.

:func:`build_step` makes the step of a method name of :mod:`genlabel.registry`.
"""

from __future__ import annotations

import math
import secrets
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _NormBase

from .._distributed import is_distributed
from .._repr import ParamsRepr
from .._validation import (
    as_float_tensor,
    as_label_tensor,
    check_points,
    is_flag,
    is_int_at_least,
    is_integer,
    is_real,
    is_real_in,
    parameter_error,
)
from ..density import DENSITIES, ClassDensity, LabelDensity, make_density
from ..density.online import OnlineGaussianLabeler
from ..labels import (
    GENLABEL_RULES,
    LABEL_RULES,
    REFERENCE_RULES,
    check_label_classes,
    class_log_prior,
    label_mixed,
)
from ..losses import blend_targets, genlabel_loss, soft_cross_entropy, weighted_mean
from ..mixing import (
    ManifoldMixup,
    MixedBatch,
    MixParams,
    apply_mix,
    capture_output,
    check_batch,
    check_generator,
    draw_cutmix_params,
    draw_mix_params,
    one_hot,
    sample_permutation,
)
from ..registry import IMAGE_MODELS, MethodSpec, dropin_names, method_names, resolve_method
from .diagnostics import LabelCounting
from .trainer import MixStep, plain_loss

__all__ = [
    "MIXES",
    "GenLabelMixup",
    "MixupBatch",
    "AdaMixupPolicy",
    "AdaMixupStep",
    "GenLabelStep",
    "MixupStep",
    "PlainStep",
    "build_step",
    "manifold_layers",
]

#: The mixes a :class:`MixupStep` or :class:`GenLabelStep` can make.
MIXES = ("input", "manifold", "cutmix")


def _unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel wrapper, or the model itself."""
    return getattr(model, "module", model)


def manifold_layers(model: nn.Module) -> tuple[str, ...]:
    """The layers where manifold mixup mixes by default: the model's ``manifold_layers``.

    ``SmallCNN``: the input and its two blocks; ``PreActResNet18``: the input, layer1 and
    layer2.

    Parameters
    ----------
    model : nn.Module
        The classifier (a DistributedDataParallel wrapper is unwrapped).

    Returns
    -------
    tuple of str
        Module names as in ``model.named_modules()``, or ``"input"``.

    Raises
    ------
    ValueError
        The model has no ``manifold_layers``: give the layers explicitly.
    """
    layers = getattr(_unwrap(model), "manifold_layers", None)
    if not layers:
        raise ValueError(
            f"{type(_unwrap(model)).__name__} has no default manifold_layers; pass layers=[...] "
            "(module names as in model.named_modules(), or 'input')"
        )
    return tuple(layers)


def _make_generator(
    generator: torch.Generator | None, seed: int | None, owner: str
) -> torch.Generator:
    """The one seed-or-generator rule of every step and the drop-in: ``generator`` itself
    (checked), or a new one seeded with ``seed`` (a fresh random seed when None)."""
    if generator is not None and seed is not None:
        raise ValueError(f"{owner}: give a generator or a seed, not both")
    if seed is not None and not is_integer(seed):  # int(1.7) or int(True) would hide it
        raise parameter_error(owner, "seed", "None or an int", seed)
    if generator is not None:
        return check_generator(generator)
    return torch.Generator().manual_seed(secrets.randbits(63) if seed is None else int(seed))


def _check_float(owner: str, name: str, value: Any, low: float, high: float) -> float:
    if not is_real_in(value, low, high):
        expected = f"a float in [{low:g}, {'inf' if math.isinf(high) else f'{high:g}'}]"
        raise parameter_error(owner, name, expected, value)
    return float(value)


def _flat(features: torch.Tensor) -> torch.Tensor:
    """Features (n, ...) as rows (n, d)."""
    return features.reshape(features.shape[0], -1)


class _Drawing:
    """A step that draws from its own generator; ``state_dict`` carries the generator."""

    def __init__(self, generator: torch.Generator | None, seed: int | None):
        self.generator = _make_generator(generator, seed, type(self).__name__)

    def state_dict(self) -> dict[str, Any]:
        """The generator's state (a resumed run draws what the uninterrupted one would)."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned.

        Parameters
        ----------
        state : dict
        """
        self.generator.set_state(state["generator"].cpu())


class PlainStep:
    """Vanilla training: cross entropy of the model on the batch, nothing drawn."""

    # The MixStep protocol's signature and numpydoc (training/trainer.py), restated by each step.
    def training_loss(
        self,
        model: nn.Module,
        inputs: torch.Tensor,
        labels: torch.Tensor,
        weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Cross entropy of ``model`` on the batch as it is.

        Parameters
        ----------
        model : nn.Module
        inputs : Tensor of shape (n, c, h, w)
        labels : Tensor of shape (n,) or (n, k)
            Class indices or soft targets.
        weight : Tensor of shape (n,), optional
            Per-sample weights.

        Returns
        -------
        Tensor
            The weighted mean loss (0-D).
        """
        return plain_loss(model(inputs), labels, weight)

    def __repr__(self) -> str:
        return "PlainStep()"


class _MixingStep(_Drawing, LabelCounting):
    """The draws and the mixed forward pass shared by :class:`MixupStep` and
    :class:`GenLabelStep`."""

    def __init__(self, mix, alpha, layers, generator, seed):
        owner = type(self).__name__
        if mix not in MIXES:
            raise parameter_error(owner, "mix", "one of " + ", ".join(map(repr, MIXES)), mix)
        self.mix = mix
        self.alpha = _check_float(owner, "alpha", alpha, 0.0, math.inf)
        if isinstance(layers, str):
            layers = [layers]
        self.layers: tuple[str, ...] | None = None if layers is None else tuple(layers)
        if self.layers is not None and mix != "manifold":
            raise ValueError(f"{owner}: layers are for mix='manifold'; got mix={mix!r}")
        super().__init__(generator, seed)
        self._mixers: dict[int, ManifoldMixup] = {}

    def _mixer(self, model: nn.Module) -> ManifoldMixup:
        """The ManifoldMixup of this model (its layers checked once, then cached)."""
        mixer = self._mixers.get(id(model))
        if mixer is None or mixer.model is not model:
            layers: tuple[str, ...] = ("input",)
            if self.mix == "manifold":
                layers = self.layers or manifold_layers(model)
            mixer = self._mixers[id(model)] = ManifoldMixup(model, layers)
        return mixer

    def draw(self, model: nn.Module, inputs: torch.Tensor) -> MixParams:
        """The mix of a batch (n, c, h, w): the layer (manifold), lam, the pairing (and
        CutMix's box), from the step's generator."""
        n = inputs.shape[0]
        if self.mix == "cutmix":
            height, width = inputs.shape[-2:]
            return draw_cutmix_params(n, height, width, alpha=self.alpha, generator=self.generator)
        if self.mix == "manifold":
            return self._mixer(model).draw(n, alpha=self.alpha, generator=self.generator)
        return draw_mix_params(n, alpha=self.alpha, generator=self.generator)

    def mixed_forward(
        self, model: nn.Module, inputs: torch.Tensor, params: MixParams, capture: str | None
    ) -> Any:
        """One pass of the model with the mix applied (at the input, or at ``params.layer``);
        with ``capture``, also that module's output in the same pass."""
        return self._mixer(model)(inputs, params, capture=capture)

    def __repr__(self) -> str:
        layers = f", layers={list(self.layers)}" if self.layers else ""
        return f"{type(self).__name__}(mix={self.mix!r}, alpha={self.alpha:g}{layers})"


class MixupStep(_MixingStep):
    """Mixup, manifold mixup or CutMix with mixup's linear labels.

    Parameters
    ----------
    mix : {"input", "manifold", "cutmix"}, default="input"
        "input": x_mix = lam x + (1 - lam) x[perm]; "manifold": the same at a layer drawn
        per batch among ``layers``; "cutmix": a box of the partner pasted, lam the share
        kept. The label is lam y + (1 - lam) y[perm].
    alpha : float, default=1.0
        lam ~ Beta(alpha, alpha), one per batch; 0 disables mixing.
    layers : sequence of str, optional
        Manifold mixup's layers (module names, or "input"); default: the model's
        ``manifold_layers``.
    generator : torch.Generator, optional
    seed : int, optional
        The source of every draw (neither: a fresh seed).
    """

    def __init__(
        self,
        mix: str = "input",
        *,
        alpha: float = 1.0,
        layers: Sequence[str] | None = None,
        generator: torch.Generator | None = None,
        seed: int | None = None,
    ):
        super().__init__(mix, alpha, layers, generator, seed)

    # The MixStep protocol's signature and numpydoc (training/trainer.py), restated by each step.
    def training_loss(
        self,
        model: nn.Module,
        inputs: torch.Tensor,
        labels: torch.Tensor,
        weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Mix the batch (its inputs, a hidden layer or a CutMix box) and train on mixup's
        linear label.

        Parameters
        ----------
        model : nn.Module
        inputs : Tensor of shape (n, c, h, w)
        labels : Tensor of shape (n,) or (n, k)
            Class indices or soft targets.
        weight : Tensor of shape (n,), optional
            Per-sample weights; they mix like labels.

        Returns
        -------
        Tensor
            The weighted mean loss (0-D).
        """
        params = self.draw(model, inputs)
        logits = self.mixed_forward(model, inputs, params, None)
        mixed = label_mixed("linear", params, labels, logits.shape[-1], sample_weight=weight)
        self.count_labels(mixed.targets, labels, params.perm)
        # Without sample weights, the plain mean (mixed.weight is then all ones).
        return soft_cross_entropy(logits, mixed.targets, None if weight is None else mixed.weight)


@contextmanager
def _running_stats_kept(model: nn.Module) -> Iterator[None]:
    """Batch-norm running statistics as they were before the block (a measuring pass)."""
    norms = [
        m
        for m in model.modules()
        if isinstance(m, _NormBase) and m.track_running_stats and m.running_mean is not None
    ]
    saved = [[b.clone() for b in m.buffers()] for m in norms]
    try:
        yield
    finally:
        with torch.no_grad():
            for module, buffers in zip(norms, saved, strict=True):
                for current, old in zip(module.buffers(), buffers, strict=True):
                    current.copy_(old)


def _class_indices(labels: torch.Tensor, owner: str) -> torch.Tensor:
    if labels.ndim != 1 or labels.is_floating_point():
        raise ValueError(
            f"{owner} needs class indices of shape (n,) to update the class statistics; got "
            f"labels of shape {tuple(labels.shape)} and dtype {labels.dtype}"
        )
    return labels


class GenLabelStep(_MixingStep):
    """Mixup, manifold mixup or CutMix relabelled by online class Gaussians (Algorithm 3).

    Every batch:

    1. a forward pass of the clean batch without gradients, through the model, captures
       the output of the ``features`` module; the labeler's class means and spherical
       variances take an EMA step with it (under ``torch.distributed`` over the global
       batch). The pass is a measurement: batch-norm running statistics are left as they
       were, so with ``gamma=0`` the step trains exactly as :class:`MixupStep` does;
    2. the batch is mixed (``mix``), and one forward pass gives the logits and the
       features of the mixed points (for manifold mixup, those of the mixed pass, where
       the mix happened at a hidden layer);
    3. y_gen: softmax of log N(z_mix; mu_c, sigma_c^2 I) over the two most likely classes
       (of every class, or of the two classes mixed with ``label_classes="mixed"``); the
       loss is gamma CE(y_gen) + (1 - gamma) CE(y_mix).

    Any other :class:`~genlabel.density.LabelDensity` on the features works as well: one
    with an ``update(z, y)`` method is updated in step 1 like the online Gaussians; one
    without (densities fitted on the features of a trained model, a GAN density) is used
    as it is, and step 1 is skipped.

    Parameters
    ----------
    labeler : OnlineGaussianLabeler or LabelDensity
        The class statistics (its ``dim`` is the width of the features, its ``memory`` is
        beta); its ``top_k``, 2 (the paper's top-2 label) or None (every class), sets the
        label. For another density, ``top_k`` below.
    top_k : {2, None}, default=2
        For a density without a ``top_k`` attribute: the label over the two most likely
        classes, or over every class.
    mix : {"input", "manifold", "cutmix"}, default="input"
    alpha : float, default=1.0
    gamma : float in [0, 1], default=0.5
        The loss ratio.
    label_classes : {"mixed", "all"}, default="mixed"
        The classes y_gen may use: only the two classes each point was mixed from (the
        same two for CutMix and manifold mixup; the image default) or every class ("all",
        Algorithm 3 as written; it cost Fashion-MNIST accuracy from scratch).
    layers : sequence of str, optional
        Manifold mixup's layers (default: the model's ``manifold_layers``).
    features : str, default="features"
        The module whose output (n, d) the Gaussians model.
    update_every : int, default=1
        After the warm-up, step 1 runs on every ``update_every``-th batch; 1 is Algorithm
        3. Step 1 is an extra forward pass of the clean batch, about a third of a training
        step's compute, so ``update_every=k`` cuts that overhead k-fold; the statistics are
        EMAs with memory beta per update, so they follow the features k times more slowly
        in batches (choose beta accordingly).
    update_warmup : int, default=100
        With ``update_every > 1``: step 1 runs on every one of the first ``update_warmup``
        batches. Early on the features move fast, and statistics left stale for k batches
        can let one class win the label of nearly every point.
    generator : torch.Generator, optional
    seed : int, optional
        The source of every draw (neither: a fresh seed).
    """

    def __init__(
        self,
        labeler: OnlineGaussianLabeler | LabelDensity,
        mix: str = "input",
        *,
        top_k: int | None = 2,
        alpha: float = 1.0,
        gamma: float = 0.5,
        label_classes: str = "mixed",
        layers: Sequence[str] | None = None,
        features: str = "features",
        update_every: int = 1,
        update_warmup: int = 100,
        generator: torch.Generator | None = None,
        seed: int | None = None,
    ):
        if not isinstance(labeler, LabelDensity):
            raise parameter_error(
                "GenLabelStep", "labeler", "an OnlineGaussianLabeler or a LabelDensity", labeler
            )
        top_k = getattr(labeler, "top_k", top_k)
        if top_k not in (2, None):
            raise ValueError(f"GenLabelStep needs top_k 2 or None; got {top_k!r} ({labeler!r})")
        super().__init__(mix, alpha, layers, generator, seed)
        self.labeler = labeler
        self.online = callable(getattr(labeler, "update", None))  # step 1 updates it
        self.gamma = _check_float("GenLabelStep", "gamma", gamma, 0.0, 1.0)
        self.label_classes = check_label_classes("GenLabelStep", label_classes)
        self.features = features
        self.rule = "genlabel_top2" if top_k == 2 else "genlabel"
        if not is_int_at_least(update_every, 1):
            raise parameter_error("GenLabelStep", "update_every", "an int >= 1", update_every)
        self.update_every = update_every
        if not is_int_at_least(update_warmup, 0):
            raise parameter_error("GenLabelStep", "update_warmup", "an int >= 0", update_warmup)
        self.update_warmup = update_warmup
        self.batches_seen = 0  # counts training_loss calls; checkpointed with the step

    @torch.no_grad()
    def update_statistics(self, model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor):
        """Step 1: the clean batch's features (no gradients) update the class Gaussians.

        Batch norm's running statistics are left as they were.

        Parameters
        ----------
        model : nn.Module
        inputs : Tensor of shape (n, c, h, w)
            The clean batch.
        labels : Tensor of shape (n,)
            Class indices.
        """
        with _running_stats_kept(model), capture_output(model, self.features) as captured:
            model(inputs)
        self.labeler.update(_flat(captured.output), labels)  # type: ignore[union-attr]

    # The MixStep protocol's signature and numpydoc (training/trainer.py), restated by each step.
    def training_loss(
        self,
        model: nn.Module,
        inputs: torch.Tensor,
        labels: torch.Tensor,
        weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Algorithm 3 on one batch: update the class statistics (step 1, when due), mix,
        and train on GenLabel's gamma-loss (step 2).

        Parameters
        ----------
        model : nn.Module
        inputs : Tensor of shape (n, c, h, w)
        labels : Tensor of shape (n,)
            Class indices.
        weight : Tensor of shape (n,), optional
            Per-sample weights; they mix like labels.

        Returns
        -------
        Tensor
            The loss (0-D).
        """
        labels = _class_indices(labels, "GenLabelStep")
        seen = self.batches_seen
        if self.online and (seen < self.update_warmup or seen % self.update_every == 0):
            self.update_statistics(model, inputs, labels)
        self.batches_seen += 1
        params = self.draw(model, inputs)
        logits, z_mix = self.mixed_forward(model, inputs, params, self.features)
        mixed = label_mixed(
            self.rule, params, labels, logits.shape[-1], points=_flat(z_mix.detach()),
            density=self.labeler, label_classes=self.label_classes, sample_weight=weight,
        )  # fmt: skip
        self.count_labels(mixed.targets, labels, params.perm)
        return genlabel_loss(
            logits, mixed.targets, mixed.mix_targets, self.gamma,
            weight=None if weight is None else mixed.weight,
        )  # fmt: skip

    def to(self, device: torch.device | str) -> GenLabelStep:
        """Move the class statistics to ``device`` (the Trainer calls it).

        Parameters
        ----------
        device : torch.device or str

        Returns
        -------
        GenLabelStep
            ``self``.
        """
        move = getattr(self.labeler, "to", None)
        if callable(move):
            move(device)
        return self

    def state_dict(self) -> dict[str, Any]:
        """The generator's state, the labeler's buffers (means, variances, counts) and the
        number of batches seen."""
        state = {**super().state_dict(), "batches_seen": torch.tensor(self.batches_seen)}
        if self.online:  # a fixed density is not trained: nothing of it to checkpoint
            state["labeler"] = self.labeler.state_dict()  # type: ignore[union-attr]
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned.

        Parameters
        ----------
        state : dict
        """
        super().load_state_dict(state)
        if self.online:
            self.labeler.load_state_dict(state["labeler"])  # type: ignore[union-attr]
        self.batches_seen = int(state.get("batches_seen", 0))  # absent before update_every

    def __repr__(self) -> str:
        every = (
            f", update_every={self.update_every}, update_warmup={self.update_warmup}"
            if self.update_every != 1
            else ""
        )
        classes = f", label_classes={self.label_classes!r}" if self.label_classes != "mixed" else ""
        return (
            super().__repr__()[:-1]
            + f", gamma={self.gamma:g}{classes}{every}, labeler={self.labeler!r})"
        )


class AdaMixupPolicy(nn.Module):
    """AdaMixup's policy network: a pair of images -> the shares (a, d, 1 - a - d).

    Two stride-2 3x3 convolutions with ReLU on the channel-stacked pair (n, 2c, h, w),
    global average pooling and a linear layer to 3 logits; their softmax gives a and d,
    and lam = a + u d with u ~ U(0, 1) lies in [a, a + d] inside [0, 1].

    Parameters
    ----------
    in_channels : int
        Channels c of one image (the network sees the pair stacked, 2c channels).
    width : int, default=16
        Channels of the first convolution (the second has twice as many).
    """

    def __init__(self, in_channels: int, width: int = 16):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(2 * in_channels, width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(2 * width, 3),
        )

    def forward(self, pair: torch.Tensor) -> torch.Tensor:
        """pair (n, 2c, h, w) -> shares (n, 3), float32, rows summing to one.

        Parameters
        ----------
        pair : Tensor of shape (n, 2c, h, w)
            Each image stacked with its partner along the channels.

        Returns
        -------
        Tensor of shape (n, 3), float32
            The shares (a, d, 1 - a - d).
        """
        return torch.softmax(self.net(pair).float(), dim=-1)


def adamixup_draw(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """AdaMixup's draws for a batch of ``n``: the pairing, then u ~ U(0, 1) per point
    (float64), in this order from ``generator`` (the image step and the batched grid)."""
    perm = sample_permutation(n, generator=generator)
    return perm, torch.rand(n, generator=generator, dtype=torch.float64)


def adamixup_lam(shares: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """AdaMixup's policy: lam = a + u d from the policy's shares (a, d, 1 - a - d) (..., 3)
    and the uniforms u (...), so lam lies in [a, a + d] inside [0, 1]."""
    return shares[..., 0] + u * shares[..., 1]


class AdaMixupStep(_Drawing):
    """AdaMixup (Guo et al., 2019): a learned mixing policy and an intrusion discriminator.

    Every batch: a pairing (a permutation) and u ~ U(0, 1) per point are drawn; the policy
    network sees each pair of images and gives lam = a + u d per point; the classifier
    runs once on the mixed and the clean points together (2n rows; batch norm sees both),
    and a linear intrusion discriminator on its ``features`` output tells the mixed points
    (target 0) from the clean ones (target 1). The loss, minimised jointly by the model,
    the policy and the discriminator:
    CE(y_mix, f(x_mix)) + CE(y, f(x)) + BCE(D(z_mix), 0) + BCE(D(z), 1).

    Parameters
    ----------
    in_channels : int
        Channels of the images.
    feature_dim : int
        Width of the model's ``features`` output (the discriminator's input).
    features : str, default="features"
    width : int, default=16
        Channels of the policy's first convolution.
    generator : torch.Generator, optional
    seed : int, optional
        The source of the networks' initial weights and of every draw.

    Notes
    -----
    The policy and the discriminator are trained by the Trainer's optimizer
    (:meth:`trainable_parameters`); under ``torch.distributed`` they are wrapped in
    DistributedDataParallel at the first batch, so their gradients are averaged too.
    """

    def __init__(
        self,
        in_channels: int,
        feature_dim: int,
        *,
        features: str = "features",
        width: int = 16,
        generator: torch.Generator | None = None,
        seed: int | None = None,
    ):
        super().__init__(generator, seed)
        for name, value in (("in_channels", in_channels), ("feature_dim", feature_dim)):
            if not is_int_at_least(value, 1):
                raise parameter_error("AdaMixupStep", name, "an int >= 1", value)
        self.features = features
        with torch.random.fork_rng(devices=[]):  # layers draw from the global RNG as built
            self.policy = AdaMixupPolicy(in_channels, width)
            self.discriminator = nn.Linear(feature_dim, 1)
        # Here, not at the top: genlabel.models imports genlabel.data (pandas, scikit-learn),
        # which `from genlabel import GenLabelMixup` must not load.
        from ..models.cnn import init_weights

        init_weights(self.policy, self.generator)
        init_weights(self.discriminator, self.generator)
        self._nets: tuple[nn.Module, nn.Module] | None = None

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The policy's and the discriminator's parameters (for the Trainer's optimizer)."""
        return [*self.policy.parameters(), *self.discriminator.parameters()]

    def to(self, device: torch.device | str) -> AdaMixupStep:
        """Move the policy and the discriminator to ``device`` (the Trainer calls it).

        Parameters
        ----------
        device : torch.device or str

        Returns
        -------
        AdaMixupStep
            ``self``.
        """
        self.policy.to(device)
        self.discriminator.to(device)
        return self

    def _networks(self) -> tuple[nn.Module, nn.Module]:
        if self._nets is None:
            nets: tuple[nn.Module, nn.Module] = (self.policy, self.discriminator)
            if is_distributed():
                device = next(self.policy.parameters()).device
                ids = [device.index] if device.type == "cuda" else None
                nets = tuple(nn.parallel.DistributedDataParallel(m, device_ids=ids) for m in nets)  # type: ignore[assignment]
            self._nets = nets
        return self._nets

    # The MixStep protocol's signature and numpydoc (training/trainer.py), restated by each step.
    def training_loss(
        self,
        model: nn.Module,
        inputs: torch.Tensor,
        labels: torch.Tensor,
        weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """AdaMixup's joint loss on one batch (see the class).

        Parameters
        ----------
        model : nn.Module
        inputs : Tensor of shape (n, c, h, w)
        labels : Tensor of shape (n,) or (n, k)
            Class indices or soft targets.
        weight : Tensor of shape (n,), optional
            Per-sample weights.

        Returns
        -------
        Tensor
            The loss (0-D).
        """
        policy, discriminator = self._networks()
        n = inputs.shape[0]
        perm, u = adamixup_draw(n, self.generator)
        perm, u = perm.to(inputs.device), u.to(inputs.device)
        shares = policy(torch.cat([inputs, inputs[perm]], dim=1))
        params = MixParams(lam=adamixup_lam(shares, u.float()), perm=perm)
        with capture_output(model, self.features) as captured:
            logits = model(torch.cat([apply_mix(inputs, params), inputs]))
        k = logits.shape[-1]
        mixed = label_mixed("linear", params, labels, k)
        clean = one_hot(labels, k) if labels.ndim == 1 else labels.float()
        loss = soft_cross_entropy(logits[:n], mixed.targets, weight)
        loss = loss + soft_cross_entropy(logits[n:], clean, weight)
        scores = discriminator(_flat(captured.output)).squeeze(-1).float()
        target = torch.cat([scores.new_zeros(n), scores.new_ones(n)])
        per_point = F.binary_cross_entropy_with_logits(scores, target, reduction="none")
        per_point = per_point[:n] + per_point[n:]
        return loss + (per_point.mean() if weight is None else weighted_mean(per_point, weight))

    def state_dict(self) -> dict[str, Any]:
        """The generator's state and both networks' weights."""
        return {
            **super().state_dict(),
            "policy": self.policy.state_dict(),
            "discriminator": self.discriminator.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned.

        Parameters
        ----------
        state : dict
        """
        super().load_state_dict(state)
        self.policy.load_state_dict(state["policy"])
        self.discriminator.load_state_dict(state["discriminator"])

    def __repr__(self) -> str:
        return f"AdaMixupStep(features={self.features!r}, policy={self.policy.net!r})"


def build_step(
    method: str,
    *,
    num_classes: int,
    in_channels: int,
    feature_dim: int,
    alpha: float = 1.0,
    gamma: float = 0.5,
    label_classes: str = "mixed",
    memory: float = 0.5,
    bias_correction: bool = True,
    layers: Sequence[str] | None = None,
    features: str = "features",
    update_every: int = 1,
    update_warmup: int = 100,
    seed: int | None = None,
) -> MixStep:
    """The mix step of an image method of :mod:`genlabel.registry`.

    ``vanilla`` -> :class:`PlainStep`; ``mixup``, ``manifold_mixup``, ``cutmix`` ->
    :class:`MixupStep`; ``mixup_genlabel``, ``manifold_genlabel``, ``cutmix_genlabel`` ->
    :class:`GenLabelStep` with a fresh ``OnlineGaussianLabeler(num_classes, feature_dim,
    memory=memory, bias_correction=bias_correction)``; ``adamixup`` ->
    :class:`AdaMixupStep`. Each step takes only the arguments it uses.

    Parameters
    ----------
    method : str
        An image method's name (or alias).
    num_classes : int
    in_channels : int
        Channels of the images (AdaMixup's policy network).
    feature_dim : int
        Width of the model's ``features`` output.
    alpha : float, default=1.0
        Beta(alpha, alpha) of the mix draws.
    gamma : float, default=0.5
        GenLabel's loss ratio.
    label_classes : {"mixed", "all"}, default="mixed"
        The classes GenLabel's label may use.
    memory : float, default=0.5
        The labeler's EMA memory.
    bias_correction : bool, default=True
        The labeler's EMA bias correction.
    layers : sequence of str, optional
        Manifold mixup's layers (only for the ``manifold_*`` methods; default: the
        model's ``manifold_layers``).
    features : str, default="features"
        The module whose output the labeler (or AdaMixup's discriminator) sees.
    update_every : int, default=1
    update_warmup : int, default=100
        How often GenLabel updates its class statistics; see :class:`GenLabelStep`.
    seed : int, optional
        The source of every draw.

    Returns
    -------
    MixStep

    Raises
    ------
    ValueError
        An unknown method (the message lists the valid ones) or one that is not an image
        method.
    """
    spec = resolve_method(method)
    if not set(spec.models) & set(IMAGE_MODELS):
        raise ValueError(
            f"method {spec.name!r} is not an image method; image methods are "
            + ", ".join(method_names(models=IMAGE_MODELS))
        )
    if not spec.mixes:
        return PlainStep()
    if spec.adaptive:
        return AdaMixupStep(in_channels, feature_dim, features=features, seed=seed)
    layers = layers if spec.mixes_layers else None
    if spec.is_genlabel:
        labeler = OnlineGaussianLabeler(
            num_classes, feature_dim, memory=memory, bias_correction=bias_correction
        )
        return GenLabelStep(
            labeler, spec.mix, alpha=alpha, gamma=gamma, label_classes=label_classes,
            layers=layers, features=features, update_every=update_every, update_warmup=update_warmup, seed=seed,
        )  # fmt: skip
    return MixupStep(spec.mix, alpha=alpha, layers=layers, seed=seed)


# The drop-in: GenLabelMixup (Algorithms 1, 2), for a user's own loop and the Trainer.

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
        1 for points that count, 0 for points dropped by ``exclude_intrusion``; through
        the Trainer's step with sample weights, times the mixed weight
        lam * w_i + (1 - lam) * w_j.
    mixed : MixedBatch
        The draw itself (lam, permutation, both source labels, ``params``).
    soft_targets : Tensor of shape (n, k)
        The one target to train on: gamma * targets + (1 - gamma) * mix_targets for the
        GenLabel rules, ``targets`` otherwise (label smoothing applied). Cross entropy is
        linear in the target, so ``F.cross_entropy(logits, batch.soft_targets)`` is the
        mixer's loss; for ``exclude_intrusion``, whose weight drops points, the loss is that
        cross entropy weighted by ``batch.weight``:
        ``(weight * F.cross_entropy(logits, soft_targets, reduction="none")).sum() /
        weight.sum()``. Any criterion or ``collate_fn`` can use it.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    mix_targets: torch.Tensor
    weight: torch.Tensor
    mixed: MixedBatch
    soft_targets: torch.Tensor

    def __iter__(self) -> Iterator[torch.Tensor]:
        """``x, t = batch``: the mixed inputs and the target to train on."""
        return iter((self.inputs, self.soft_targets))

    def __len__(self) -> int:
        return 2


def _as_batch(value: Any, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    array = np.asarray(value)
    if array.dtype == object:
        raise ValueError(f"{name} must be a numeric array or tensor; got an object array")
    return torch.from_numpy(np.ascontiguousarray(array).copy())


def _check_params(rule, gamma, switch_prob, label_smoothing, alpha, cutmix_alpha) -> None:
    owner = "GenLabelMixup"
    if rule not in LABEL_RULES:
        raise parameter_error(owner, "rule", "one of " + ", ".join(map(repr, LABEL_RULES)), rule)
    for name, value in (("gamma", gamma), ("switch_prob", switch_prob)):
        if not (is_real(value) and 0.0 <= value <= 1.0):
            raise parameter_error(owner, name, "a float in [0, 1]", value)
    if not (is_real(label_smoothing) and 0.0 <= label_smoothing < 1.0):
        raise parameter_error(owner, "label_smoothing", "a float in [0, 1)", label_smoothing)
    for name, value in (("alpha", alpha), ("cutmix_alpha", cutmix_alpha)):
        if not (is_real(value) and np.isfinite(value) and value >= 0):
            raise parameter_error(owner, name, "a float in the range [0.0, inf)", value)


def _check_options(sigma2, per_sample, class_prior, feature_extractor, seed) -> None:
    """The other constructor arguments, checked up front (not at the first batch)."""
    owner = "GenLabelMixup"
    if not (is_real(sigma2) and np.isfinite(sigma2) and sigma2 > 0):
        raise parameter_error(owner, "sigma2", "a float in the range (0.0, inf)", sigma2)
    for name, value in (("per_sample", per_sample), ("class_prior", class_prior)):
        if not is_flag(value):
            raise parameter_error(owner, name, "a bool", value)
    if feature_extractor is not None and not callable(feature_extractor):
        raise parameter_error(
            owner, "feature_extractor", "None or a callable (e.g. a torch.nn.Module)",
            feature_extractor,
        )  # fmt: skip
    if seed is not None and not is_integer(seed):
        raise parameter_error(owner, "seed", "None or an int", seed)


def _not_dropin(spec: MethodSpec) -> str:
    """Why ``spec`` is no drop-in label rule, and what trains it instead."""
    if spec.generative:
        where = "it is a classifier, not a label rule: use genlabel.estimators.GenerativeClassifier"
    elif "online" in spec.densities:
        where = "it labels with the model's own features: use the image methods' Trainer"
    elif set(spec.models) & set(IMAGE_MODELS):
        where = "use genlabel.estimators.MixupClassifier (tabular) or the image methods' Trainer"
    else:
        where = "use genlabel.estimators.MixupClassifier"
    names = ", ".join(sorted(dropin_names()))
    return f"method {spec.name!r} is not a drop-in label rule (those are {names}); {where}"


class GenLabelMixup(ParamsRepr, LabelCounting):
    """Mixup (or CutMix) with relabeling, for your own PyTorch training loop.

    Three lines::

        mixer = GenLabelMixup(num_classes=3, gamma=0.8, seed=0).fit(X_train, y_train)
        batch = mixer(x, y)                           # in the loop
        loss = mixer.loss(model(batch.inputs), batch)  # or F.cross_entropy(..., batch.soft_targets)

    Parameters
    ----------
    num_classes : int
    method : str, optional
        A method name as the estimator and the CLI spell it: ``mixup``, ``mixup_logistic``,
        ``mixup_nn``, ``mixup_exclude_mi``, ``genlabel_gm``, ``genlabel_kde``, ``cutmix``,
        ``vanilla`` (their aliases too). Sets ``rule`` (and ``density`` for GenLabel; CutMix
        for ``cutmix``). Give either ``method`` or ``rule``.
    rule : str, optional
        The label rule directly: ``genlabel``, ``genlabel_top2``, ``linear`` (mixup),
        ``logistic``, ``nearest_neighbor``, ``exclude_intrusion``; ``genlabel`` when
        neither ``method`` nor ``rule`` is given.
    density : {"gm", "kde"} or LabelDensity, default="gm"
        The class densities of the GenLabel rules. A ``ClassDensity`` is fitted by
        :meth:`fit`; any other ``LabelDensity`` (a GAN density, say) is used as it is.
    gamma : float, default=1.0
        Loss ratio of the GenLabel rules: gamma * CE(y_gen) + (1 - gamma) * CE(y_mix); the
        other rules ignore it (their target is their label).
    alpha : float, default=1.0
        Beta(alpha, alpha) of mixup; 0 disables it.
    cutmix_alpha : float, default=0.0
        Beta(alpha, alpha) of CutMix; 0 disables it. CutMix cuts boxes, so it needs inputs
        with two spatial dims, (n, c, h, w) or (n, h, w) (else a ValueError).
    switch_prob : float, default=0.5
        With both mixup and CutMix enabled, the probability that a batch uses CutMix.
    per_sample : bool, default=False
        One lam per sample instead of per batch (mixup).
    label_smoothing : float, default=0.0
        Every label t becomes (1 - eps) t + eps / k.
    sigma2 : float, default=0.1
        Temperature of the logistic rule.
    class_prior : bool, default=False
        GenLabel labels from log pi_c + log p_c, pi the class frequencies of the fit data.
    label_classes : {"all", "mixed"}, default="all"
        GenLabel rules: the label over every class (the paper), or over the two classes
        each point was mixed from only (a mix of a 3 and a 7 never gets weight on 9).
    feature_extractor : callable, optional
        Algorithm 2: densities live in the space of ``feature_extractor(x)``; it is
        applied (without gradients) to the fit data and to every mixed batch.
    seed : int, optional
    generator : torch.Generator, optional
        The source of every draw (give one or the other; neither gives a fresh seed).

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> X, y = torch.randn(60, 2, generator=g), torch.arange(60) % 3
    >>> mixer = GenLabelMixup(num_classes=3, gamma=0.8, seed=0).fit(X, y)
    >>> batch = mixer(X[:8], y[:8])
    >>> batch.inputs.shape, batch.soft_targets.shape
    (torch.Size([8, 2]), torch.Size([8, 3]))
    >>> bool(torch.allclose(batch.soft_targets.sum(1), torch.ones(8)))
    True
    """

    def __init__(
        self,
        num_classes: int,
        *,
        method: str | None = None,
        rule: str | None = None,
        density: str | LabelDensity = "gm",
        gamma: float = 1.0,
        alpha: float = 1.0,
        cutmix_alpha: float = 0.0,
        switch_prob: float = 0.5,
        per_sample: bool = False,
        label_smoothing: float = 0.0,
        sigma2: float = 0.1,
        class_prior: bool = False,
        label_classes: str = "all",
        feature_extractor: FeatureExtractor | None = None,
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ):
        if not is_integer(num_classes) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive integer; got {num_classes!r}")
        num_classes = int(num_classes)
        if method is not None and rule is not None:
            raise ValueError("give either method or rule, not both")
        if method is not None:
            rule, density, alpha, cutmix_alpha = self._from_method(
                method, density, alpha, cutmix_alpha
            )
        rule = "genlabel" if rule is None else rule
        _check_params(rule, gamma, switch_prob, label_smoothing, alpha, cutmix_alpha)
        _check_options(sigma2, per_sample, class_prior, feature_extractor, seed)
        self.label_classes = check_label_classes("GenLabelMixup", label_classes)
        if isinstance(density, str):
            density = make_density(density)
        elif not isinstance(density, LabelDensity):
            raise parameter_error(
                "GenLabelMixup", "density", "'gm', 'kde' or a LabelDensity", density
            )
        self.num_classes = num_classes
        self.rule = rule
        self.density = density
        self.gamma = float(gamma)
        self.alpha = float(alpha)
        self.cutmix_alpha = float(cutmix_alpha)
        self.switch_prob = float(switch_prob)
        self.per_sample = bool(per_sample)
        self.label_smoothing = float(label_smoothing)
        self.sigma2 = sigma2
        self.class_prior = bool(class_prior)
        self._log_prior: torch.Tensor | None = None
        self.feature_extractor = feature_extractor
        self.generator = _make_generator(generator, seed, "GenLabelMixup")
        self._reference: tuple[torch.Tensor, torch.Tensor] | None = None
        # A density that is not a ClassDensity (e.g. a GAN's) comes fitted.
        self._fitted_density = not isinstance(density, ClassDensity)

    @staticmethod
    def _from_method(
        method: str, density: Any, alpha: float, cutmix_alpha: float
    ) -> tuple[str, Any, float, float]:
        if isinstance(density, str) and density not in DENSITIES:  # even where unused
            raise parameter_error(
                "GenLabelMixup", "density", "'gm', 'kde' or a LabelDensity", density
            )
        # ``genlabel`` with density="kde" is genlabel_kde, as in the estimator.
        kind = density if isinstance(density, str) else None
        spec = resolve_method(method, density=kind)
        if not spec.dropin:
            raise ValueError(_not_dropin(spec))
        if not spec.mixes:  # vanilla
            return "linear", density, 0.0, 0.0
        if spec.cuts:
            return "linear", density, 0.0, cutmix_alpha or 1.0
        if spec.densities and isinstance(density, str):
            density = spec.densities[0]
        return spec.rule, density, alpha, cutmix_alpha

    @property
    def needs_fit(self) -> bool:
        """Whether :meth:`fit` must run first (rules that look at training data)."""
        if self.rule in REFERENCE_RULES:
            return True
        return self.rule in GENLABEL_RULES and not self._fitted_density

    # -- fitting ----------------------------------------------------------------------
    def _features(self, x: torch.Tensor) -> torch.Tensor:
        if self.feature_extractor is None:
            return x.reshape(x.shape[0], -1)
        with torch.no_grad():
            z = self.feature_extractor(x)
        return z.reshape(z.shape[0], -1)

    def _collect(self, X: Any) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(X, Iterable):
            raise ValueError("fit needs (X, y) arrays or an iterable of (x, y) batches")
        feats, labels = [], []
        for batch in X:
            x = check_points(_as_batch(batch[0], "x"), "x")
            feats.append(self._features(x).detach().cpu())
            labels.append(as_label_tensor(batch[1], "y", n_samples=x.shape[0]).cpu())
        if not feats:
            raise ValueError("the data loader given to fit yielded no batch")
        return torch.cat(feats), torch.cat(labels)

    def fit(self, X: Any, y: Any = None) -> GenLabelMixup:
        """Fit the class densities on training inputs (or their features).

        With a ``feature_extractor`` the densities are fitted on its outputs (Algorithm 2).
        Labels and points are checked as at the call. A warning says when ``y`` holds fewer
        classes than ``num_classes`` (the missing ones get no density).

        Parameters
        ----------
        X : array-like or Tensor, or iterable of (x, y) batches
            Shape (n_samples, n_features) or (n_samples, channels, height, width); or an
            iterable of ``(x, y)`` batches (a DataLoader) with ``y=None``.
        y : array-like or Tensor of shape (n_samples,), optional
            Class indices, integers in [0, num_classes).

        Returns
        -------
        GenLabelMixup
            ``self``.

        Raises
        ------
        ValueError
            An empty ``X``, or points or labels that fail the checks.
        """
        if y is None:
            Z, y_t = self._collect(X)
        else:
            X_t = check_points(_as_batch(X, "X"), "X")
            if X_t.shape[0] == 0:
                raise ValueError("X must hold at least one sample; got 0")
            y_t = as_label_tensor(y, "y", n_samples=X_t.shape[0])
            Z = self._features(X_t).detach().cpu()
        Z = as_float_tensor(Z, "X")
        y_t = as_label_tensor(y_t, "y", n_samples=Z.shape[0], num_classes=self.num_classes)
        seen = torch.unique(y_t)
        if seen.numel() < self.num_classes:
            missing = sorted(set(range(self.num_classes)) - set(seen.tolist()))
            shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
            warnings.warn(
                f"num_classes={self.num_classes}, but y holds {seen.numel()} classes: "
                f"class(es) {shown} never occur, so they get no density and are never "
                "a label; check num_classes",
                UserWarning,
                stacklevel=2,
            )
        self._reference = (Z, y_t)
        if self.class_prior:
            self._log_prior = class_log_prior(y_t, self.num_classes)
        if self.rule in GENLABEL_RULES and isinstance(self.density, ClassDensity):
            self.density.fit(Z, y_t, classes=list(range(self.num_classes)))
            self._fitted_density = True
        return self

    # -- per batch ----------------------------------------------------------------------
    def _draw(self, inputs: torch.Tensor) -> MixParams:
        n = inputs.shape[0]
        if self.cutmix_alpha > 0 and inputs.ndim < 3:
            raise ValueError(
                "CutMix (method='cutmix' or cutmix_alpha > 0) needs inputs with two spatial "
                f"dims, (n, c, h, w) or (n, h, w); got shape {tuple(inputs.shape)}"
            )
        use_cutmix = self.cutmix_alpha > 0
        if use_cutmix and self.alpha > 0:  # both enabled: a switch per batch
            use_cutmix = float(torch.rand(1, generator=self.generator)) < self.switch_prob
        if use_cutmix:
            h, w = inputs.shape[-2:]
            return draw_cutmix_params(n, h, w, alpha=self.cutmix_alpha, generator=self.generator)
        return draw_mix_params(
            n, alpha=self.alpha, per_sample=self.per_sample, generator=self.generator
        )

    def _smooth(self, t: torch.Tensor) -> torch.Tensor:
        eps = self.label_smoothing
        return t if eps == 0 else t * (1 - eps) + eps / self.num_classes

    def __call__(self, inputs: Any, labels: Any) -> MixupBatch:
        """Mix a batch (tensors or NumPy arrays) and label the mixed points with the rule."""
        return self._mix(inputs, labels)

    def _mix(self, inputs: Any, labels: Any, weight: torch.Tensor | None = None) -> MixupBatch:
        """The call, with sample weights (mixed like the labels into ``weight``) for the
        Trainer's step."""
        if self.needs_fit and self._reference is None:
            raise RuntimeError(
                f"GenLabelMixup(rule={self.rule!r}) must be fitted before use; call fit"
            )
        inputs = _as_batch(inputs, "inputs")
        if self.rule not in ("linear", "logistic"):  # the rules that look at the points
            check_points(inputs, "inputs")
        if not isinstance(labels, torch.Tensor):  # strings, lists: the one label check
            labels = as_label_tensor(labels, "labels")
        check_batch(inputs, labels)
        if inputs.shape[0] == 0:
            raise ValueError("the batch is empty: there is nothing to mix")
        params = self._draw(inputs).to(inputs.device)
        labels = labels.to(inputs.device)
        x_mix = apply_mix(inputs, params)
        points = None if self.rule in ("linear", "logistic") else self._features(x_mix)
        reference = None
        if points is not None and self.rule in REFERENCE_RULES and self._reference is not None:
            reference = (self._reference[0].to(points.device), self._reference[1])
        labelled = label_mixed(
            self.rule, params, labels, self.num_classes, points=points,
            reference=reference, density=self.density, sigma2=self.sigma2,
            log_prior=None if self._log_prior is None else self._log_prior.to(inputs.device),
            label_classes=self.label_classes, sample_weight=weight,
        )  # fmt: skip
        targets, mix_targets = self._smooth(labelled.targets), self._smooth(labelled.mix_targets)
        soft = (
            blend_targets(targets, mix_targets, self.gamma)
            if self.rule in GENLABEL_RULES
            else targets
        )
        mixed = MixedBatch.from_params(x_mix, labels, self.num_classes, params)
        return MixupBatch(x_mix, targets, mix_targets, labelled.weight, mixed, soft)

    def loss(self, logits: torch.Tensor, batch: MixupBatch) -> torch.Tensor:
        """The training loss: cross entropy against ``batch.soft_targets`` (the gamma-loss
        for GenLabel), weighted by ``batch.weight``.

        Parameters
        ----------
        logits : Tensor of shape (n, k)
            The model's outputs on ``batch.inputs``.
        batch : MixupBatch
            What the call returned.

        Returns
        -------
        Tensor
            The scalar loss.
        """
        return soft_cross_entropy(logits, batch.soft_targets, weight=batch.weight)

    # -- as a Trainer's mix step --------------------------------------------------------
    # The MixStep protocol's signature and numpydoc (training/trainer.py), restated by each step.
    def training_loss(
        self,
        model: nn.Module,
        inputs: torch.Tensor,
        labels: torch.Tensor,
        weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Mix, relabel and compute the loss of ``model`` on one batch (for ``Trainer``).

        Parameters
        ----------
        model : nn.Module
        inputs : Tensor of shape (n, ...)
        labels : Tensor of shape (n,)
            Class indices.
        weight : Tensor of shape (n,), optional
            Sample weights; they mix like labels: lam * w_i + (1 - lam) * w_j.

        Returns
        -------
        Tensor
            The scalar loss.
        """
        batch = self._mix(inputs, labels, weight)
        if batch.mixed.params is not None:
            # The diagnostics describe the rule's own label: label smoothing undone.
            eps, k = self.label_smoothing, self.num_classes
            own = batch.targets if eps == 0 else (batch.targets - eps / k) / (1 - eps)
            self.count_labels(own, labels, batch.mixed.params.perm)
        return soft_cross_entropy(model(batch.inputs), batch.soft_targets, weight=batch.weight)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The generator's state (checkpointed by ``Trainer``; densities are refitted)."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore what :meth:`state_dict` returned.

        Parameters
        ----------
        state : dict
        """
        self.generator.set_state(state["generator"].cpu())
