"""``label_mixed``: the one dispatcher from a label rule's name to the labels of a mixed batch.

The drop-in, the batched grid, the reference trainer and the image methods all label their
mixed points through it, so a rule is implemented once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import torch

from .. import registry
from .._validation import all_finite, parameter_error
from ..mixing import MixParams, apply_mix, one_hot
from .rules import (
    genlabel_targets,
    intrusion_keep_mask,
    logistic_ratio,
    nearest_neighbor_labels,
)

if TYPE_CHECKING:
    from ..density import LabelDensity

__all__ = [
    "LABEL_CLASSES",
    "LABEL_RULES",
    "GENLABEL_RULES",
    "MixedLabels",
    "check_label_classes",
    "class_log_prior",
    "label_mixed",
    "mixed_class_mask",
]

#: Names of the label rules for mixed points (kept in the registry, for the CLI's help).
LABEL_RULES = registry.LABEL_RULES
#: The rules whose label comes from class densities (and that use the gamma-loss).
GENLABEL_RULES = ("genlabel", "genlabel_top2")
#: The rules that look at the training points (nearest neighbour of the mixed point).
REFERENCE_RULES = ("nearest_neighbor", "exclude_intrusion")
#: Which classes a GenLabel label may use: every class (Algorithms 1 and 3 as the paper
#: writes them) or only the two classes the point was mixed from.
LABEL_CLASSES = ("all", "mixed")


def check_label_classes(owner: str, value: Any) -> str:
    """``value`` if it is one of ``LABEL_CLASSES``, else the one-line parameter error.

    Parameters
    ----------
    owner : str
        Who takes the parameter, named in the message.
    value : object
        The ``label_classes`` given.

    Returns
    -------
    str
        ``"all"`` or ``"mixed"``.

    Raises
    ------
    ValueError
        Any other value.
    """
    if not isinstance(value, str) or value not in LABEL_CLASSES:
        raise parameter_error(owner, "label_classes", "'all' or 'mixed'", value)
    return value


def mixed_class_mask(labels: torch.Tensor, perm: torch.Tensor, num_classes: int) -> torch.Tensor:
    """The two classes each point of a mix was made of, as a bool mask (n, k).

    A point mixed with its own class allows that class only.

    Parameters
    ----------
    labels : Tensor of shape (n,) or (n, k)
        Class indices of the unmixed batch, or soft targets (each source's class is then
        its largest target).
    perm : Tensor of shape (n,)
        The partner of every point (``MixParams.perm``; the same for mixup, manifold
        mixup and CutMix).
    num_classes : int

    Returns
    -------
    Tensor of shape (n, k), bool

    Examples
    --------
    >>> import torch
    >>> mixed_class_mask(torch.tensor([0, 2]), torch.tensor([1, 0]), 3)
    tensor([[ True, False,  True],
            [ True, False,  True]])
    """
    classes = labels if labels.ndim == 1 else labels.argmax(1)
    classes = classes.long()
    mask = torch.zeros(classes.shape[0], num_classes, dtype=torch.bool, device=classes.device)
    mask.scatter_(1, classes[:, None], True)
    mask.scatter_(1, classes[perm.to(classes.device)][:, None], True)
    return mask


@dataclass(frozen=True)
class MixedLabels:
    """Labels of a mixed batch.

    Attributes
    ----------
    targets : Tensor of shape (n, k)
        The rule's label (y_gen for the GenLabel rules).
    mix_targets : Tensor of shape (n, k)
        Mixup's linear label lam * y_a + (1 - lam) * y_b.
    weight : Tensor of shape (n,)
        1 for points that count, 0 for points dropped by ``exclude_intrusion``; times the
        mixed sample weights lam * w_i + (1 - lam) * w_j when ``sample_weight`` was given.
    """

    targets: torch.Tensor
    mix_targets: torch.Tensor
    weight: torch.Tensor


def class_log_prior(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """log pi_c, the log of the class frequencies of ``labels`` (float64), for ``log_prior``.

    A class that never occurs gets -inf (probability 0).

    Parameters
    ----------
    labels : Tensor of shape (n,)
        Class indices in [0, num_classes).
    num_classes : int

    Returns
    -------
    Tensor of shape (num_classes,), float64

    Examples
    --------
    >>> import torch
    >>> class_log_prior(torch.tensor([0, 0, 1, 0]), 2).exp()
    tensor([0.7500, 0.2500], dtype=torch.float64)
    """
    counts = torch.bincount(labels, minlength=num_classes).double()
    return torch.log(counts / counts.sum())


def _source_targets(
    labels: torch.Tensor, num_classes: int, dtype: torch.dtype, batch_dims: int = 1
) -> torch.Tensor:
    """One-hot rows of class indices, or soft targets as they are (in ``dtype``);
    ``batch_dims`` 2 for the (G, n) labels of a stacked draw."""
    if labels.ndim == batch_dims and not labels.is_floating_point():
        return one_hot(labels, num_classes, dtype)
    if labels.ndim == batch_dims + 1 and labels.shape[-1] == num_classes:
        return labels.to(dtype)
    lead = "n" if batch_dims == 1 else "G, n"
    raise ValueError(
        f"labels must be class indices of shape ({lead}) or soft targets of shape "
        f"({lead}, {num_classes}); got {tuple(labels.shape)} of dtype {labels.dtype}"
    )


# Long only by its docstring, which describes every rule; the code is one dispatch.
def label_mixed(
    rule: str,
    params: MixParams,
    labels: torch.Tensor,
    num_classes: int,
    *,
    points: torch.Tensor | None = None,
    reference: tuple[torch.Tensor, torch.Tensor] | None = None,
    density: LabelDensity | None = None,
    log_prior: torch.Tensor | None = None,
    sigma2: float = 0.1,
    dtype: torch.dtype = torch.float32,
    nearest: torch.Tensor | None = None,
    label_classes: str = "all",
    sample_weight: torch.Tensor | None = None,
) -> MixedLabels:
    """Label a batch mixed with ``params`` by the rule ``rule``, and mix its sample weights.

    Mixup's linear label and the mixed sample weights come with every rule's label, so
    every mix step (the drop-in, the batched grid, the image steps) takes all three from
    here.

    Parameters
    ----------
    rule : str
        ``linear`` (mixup: lam y_a + (1 - lam) y_b), ``logistic`` (rho y_a + (1 - rho) y_b
        with rho = sigmoid(2 (lam - 1/2) / sigma2)), ``nearest_neighbor`` (one-hot label of
        the nearest reference point), ``exclude_intrusion`` (mixup's label, weight 0 where
        the nearest reference point belongs to neither source's class), ``genlabel``
        (softmax over the classes of log p_c(points)) or ``genlabel_top2`` (the same over the
        two most likely classes).
    params : MixParams
        The draw that mixed the batch; for the ``linear`` rule also a stacked draw (perm of
        shape (G, n), ``MixParams.stacked``, AdaMixup's per-model lam).
    labels : Tensor of shape (n,) or (n, k)
        Class indices of the unmixed batch, or soft targets (then ``exclude_intrusion``
        reads each source's class as its largest target); (G, n) or (G, n, k) for a stacked
        draw.
    num_classes : int
    points : Tensor of shape (n, d), optional
        Where the rule looks at the mixed points: the mixed inputs, or their features
        (densities fitted on features). Needed by every rule but ``linear``/``logistic``.
    reference : (X, y), optional
        Training points and labels, in the space of ``points`` (nearest-neighbour rules).
    density : LabelDensity, optional
        Fitted class densities, in the space of ``points`` (GenLabel rules).
    log_prior : Tensor of shape (k,), optional
        log pi_c added to the log-densities (a prior-weighted GenLabel label).
    sigma2 : float, default=0.1
        Temperature of the logistic rule.
    dtype : torch.dtype, default=torch.float32
        dtype of the returned labels.
    nearest : Tensor of shape (n,), optional
        For the nearest-neighbour rules: the index into ``reference`` of every mixed
        point's nearest reference point, when the caller computed it another way (the grid
        does, for wide data, from its folds' Gram matrices); ``points`` may then be omitted.
    label_classes : {"all", "mixed"}, default="all"
        The GenLabel rules: the label over every class (the paper), or only over the two
        classes each point was mixed from (``mixed_class_mask``; the top-2 of
        ``genlabel_top2`` is then those two). The other rules ignore it.
    sample_weight : Tensor of shape (n,), optional
        Per-sample weights of the unmixed batch ((G, n) for a stacked draw): a mixed point weighs
        lam * w_i + (1 - lam) * w_j (in ``dtype``), as its label mixes, times the rule's
        weight.

    Returns
    -------
    MixedLabels
        The rule's labels, mixup's labels and the per-point weights.
    """
    if rule not in LABEL_RULES:
        raise ValueError(f"Unknown label rule {rule!r}; expected one of {', '.join(LABEL_RULES)}")
    check_label_classes("label_mixed", label_classes)
    stacked = params.perm.ndim == 2
    if stacked and rule != "linear":
        raise ValueError(f"label rule {rule!r} labels one draw; a stacked draw is for 'linear'")
    source = _source_targets(labels, num_classes, dtype, batch_dims=params.perm.ndim)
    mix_targets = apply_mix(source, params)
    weight = torch.ones(source.shape[:-1], dtype=dtype, device=source.device)
    if sample_weight is not None:  # mixed as a one-column label, so lam broadcasts alike
        column = sample_weight.to(device=source.device, dtype=dtype).unsqueeze(-1)
        weight = weight * apply_mix(column, params).squeeze(-1)
    if rule == "linear":
        return MixedLabels(mix_targets, mix_targets, weight)
    if rule == "logistic":
        # One rho per point (a vector op even for a per-batch lam: vectorised and scalar
        # sigmoid kernels may differ in the last bit).
        rho = logistic_ratio(params.lam_per_point().to(device=source.device, dtype=dtype), sigma2)
        return MixedLabels(apply_mix(source, replace(params, lam=rho)), mix_targets, weight)
    if points is None and nearest is None:
        raise ValueError(f"label rule {rule!r} needs the mixed points (points=...)")
    if rule in REFERENCE_RULES:
        if reference is None:
            raise ValueError(f"label rule {rule!r} needs the training points (reference=(X, y))")
        # A NaN distance would silently pick the first reference point's class.
        if nearest is None and points is not None and not all_finite(points):
            raise ValueError(f"label rule {rule!r}: points contains NaN or infinite values")
        ref_x, ref_y = reference
        if rule == "nearest_neighbor":
            targets = nearest_neighbor_labels(points, ref_x, ref_y, num_classes, nearest=nearest)
            return MixedLabels(targets.to(dtype), mix_targets, weight)
        classes = labels if labels.ndim == 1 else labels.argmax(1)
        perm = params.perm.to(classes.device)
        keep = intrusion_keep_mask(points, ref_x, ref_y, classes, classes[perm], nearest=nearest)
        return MixedLabels(mix_targets, mix_targets, keep.to(dtype) * weight)
    if points is None:
        raise ValueError(f"label rule {rule!r} needs the mixed points (points=...)")
    if density is None:
        raise ValueError(f"label rule {rule!r} needs fitted class densities (density=...)")
    top_k = 2 if rule == "genlabel_top2" else None
    allowed = None
    if label_classes == "mixed":
        allowed = mixed_class_mask(labels, params.perm, num_classes).to(points.device)
    return MixedLabels(
        density_targets(density, points, top_k=top_k, log_prior=log_prior, allowed=allowed).to(
            dtype
        ),
        mix_targets,
        weight,
    )


def density_targets(
    density: Any,
    points: torch.Tensor,
    *,
    top_k: int | None = None,
    log_prior: torch.Tensor | None = None,
    allowed: torch.Tensor | None = None,
) -> torch.Tensor:
    """GenLabel labels of ``points`` under any :class:`~genlabel.density.LabelDensity`.

    Without a prior or a class mask the density's own ``targets`` (which may be fused and
    faster); with one, ``genlabel_targets(log_prob + log_prior, allowed=allowed)``.

    Parameters
    ----------
    density : LabelDensity
        Fitted class densities.
    points : Tensor of shape (n, d)
        The mixed points, in the density's space.
    top_k : int, optional
        Keep only the k most likely classes of every label.
    log_prior : Tensor of shape (k,), optional
        Added to the log densities (log pi_c).
    allowed : Tensor of shape (n, k), bool, optional
        The classes each label may use (:func:`mixed_class_mask`).

    Returns
    -------
    Tensor of shape (n, k)
        Rows summing to one.
    """
    if log_prior is None and allowed is None:
        return density.targets(points, top_k=top_k)
    return genlabel_targets(
        density.log_prob(points), top_k=top_k, log_prior=log_prior, allowed=allowed
    )
