"""GenLabelMixup: a drop-in mixup replacement for a PyTorch training loop (Algorithms 1, 2)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .._repr import ParamsRepr
from .._validation import (
    as_float_tensor,
    as_label_tensor,
    check_points,
    is_flag,
    is_integer,
    is_real,
    parameter_error,
)
from ..density import DENSITIES, ClassDensity, LabelDensity, make_density
from ..labels import (
    GENLABEL_RULES,
    LABEL_RULES,
    REFERENCE_RULES,
    check_label_classes,
    label_mixed,
)
from ..losses import blend_targets, soft_cross_entropy
from ..mixing import (
    MixedBatch,
    MixParams,
    apply_mix,
    check_batch,
    draw_cutmix_params,
    draw_mix_params,
)
from ..registry import IMAGE_MODELS, MethodSpec, dropin_names, resolve_method
from .diagnostics import LabelCounting

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


def _generator(seed: int | None, generator: torch.Generator | None) -> torch.Generator:
    """The mixer's own generator: ``generator``, or a new one seeded with ``seed`` (from the
    OS's entropy when None)."""
    if seed is not None and generator is not None:
        raise ValueError("give either seed or generator, not both")
    if generator is not None:
        return generator
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(int(seed))
    return generator


def _not_dropin(spec: MethodSpec) -> str:
    """Why ``spec`` is no drop-in label rule, and what trains it instead."""
    if spec.mix == "generative":
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
    rule : str, default="genlabel"
        The label rule directly: ``genlabel``, ``genlabel_top2``, ``linear`` (mixup),
        ``logistic``, ``nearest_neighbor``, ``exclude_intrusion``.
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
    seed : int, optional / generator : torch.Generator, optional
        The source of every draw (give one or the other; neither gives a fresh seed).
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
        self.generator = _generator(seed, generator)
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
        if spec.name == "vanilla":
            return "linear", density, 0.0, 0.0
        if spec.mix == "cutmix":
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

        ``X`` is an array or tensor of shape (n_samples, n_features) or (n_samples,
        channels, height, width) with class indices ``y`` (integers in [0, num_classes)),
        or an iterable of ``(x, y)`` batches (a DataLoader) with ``y=None``; with a
        ``feature_extractor`` the densities are fitted on its outputs (Algorithm 2). Labels
        and points are checked as at the call. A warning says when ``y`` holds fewer
        classes than ``num_classes`` (the missing ones get no density).
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
            counts = torch.bincount(y_t, minlength=self.num_classes).double()
            self._log_prior = torch.log(counts / counts.sum())
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
            label_classes=self.label_classes,
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
        for GenLabel), weighted by ``batch.weight``."""
        return soft_cross_entropy(logits, batch.soft_targets, weight=batch.weight)

    # -- as a Trainer's mix step --------------------------------------------------------
    def training_loss(
        self,
        model: nn.Module,
        inputs: torch.Tensor,
        labels: torch.Tensor,
        weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Mix, relabel and compute the loss of ``model`` on one batch (for ``Trainer``).

        Sample weights mix like labels: lam * w_i + (1 - lam) * w_j.
        """
        batch = self(inputs, labels)
        if batch.mixed.params is not None:
            self.count_labels(batch.targets, labels, batch.mixed.params.perm)
        w = batch.weight
        if weight is not None:
            w = w * apply_mix(weight.to(w.dtype), batch.mixed.params)  # type: ignore[arg-type]
        return soft_cross_entropy(model(batch.inputs), batch.soft_targets, weight=w)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The generator's state (checkpointed by ``Trainer``; densities are refitted)."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.generator.set_state(state["generator"].cpu())
