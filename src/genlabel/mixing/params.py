"""Mixing, split into drawing the random parameters and applying them.

``draw_mix_params`` / ``draw_cutmix_params`` take every random choice from an explicit
generator and return a :class:`MixParams`; ``apply_mix`` applies one to any tensor (rows,
images, hidden features, one-hot labels). Everything that mixes in the package composes
these two: the drop-in, the batched grid, the label rules, manifold mixup, the trainers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import betaincinv

from .._validation import is_int_at_least, is_integer, is_real_in

__all__ = [
    "MixParams",
    "apply_mix",
    "check_generator",
    "convex_mix",
    "draw_cutmix_params",
    "draw_mix_params",
    "one_hot",
    "sample_lambda",
    "sample_permutation",
]


@dataclass(frozen=True)
class MixParams:
    """The random draws of one mix: x_mix = lam * x + (1 - lam) * x[perm].

    Attributes
    ----------
    lam : Tensor, 0-D or of shape (n,)
        The mixing coefficient: one for the batch (0-D) or one per point. In the stacked
        form of a batched grid, shape (G, n): one row per model. Trailing singleton
        dimensions are allowed (a lam already shaped to broadcast, e.g. (G, n, 1)).
    perm : Tensor of shape (n,), int64
        The partner of every point (a permutation of the batch); (G, n) when stacked.
    layer : str or int, optional
        Where to mix (manifold mixup): a module name, ``"input"``, or a layer index.
    box : tuple (top, bottom, left, right), optional
        CutMix: the partner's pixels in ``[top:bottom, left:right]`` replace the point's;
        ``lam`` is then the share of the image that is kept.
    """

    lam: torch.Tensor
    perm: torch.Tensor
    layer: str | int | None = None
    box: tuple[int, int, int, int] | None = None

    @property
    def n(self) -> int:
        """Points per batch."""
        return int(self.perm.shape[-1])

    def lam_per_point(self) -> torch.Tensor:
        """``lam`` as a tensor of shape (n,) (or (G, n) when stacked)."""
        return self.lam.expand(self.perm.shape) if self.lam.ndim < self.perm.ndim else self.lam

    # numpydoc layout alike in shape only to other short methods (e.g. StackedMLP.select).
    def stacked(self, n_models: int) -> MixParams:
        """The same draw for each of ``n_models`` stacked models: lam and perm of shape (G, n).

        Parameters
        ----------
        n_models : int
            G.

        Returns
        -------
        MixParams
            A per-batch lam stays 0-D.

        Raises
        ------
        ValueError
            These parameters are stacked already.
        """
        if self.perm.ndim != 1:
            raise ValueError("these MixParams are stacked already")
        lam = self.lam if self.lam.ndim == 0 else self.lam.expand(n_models, -1)
        return replace(self, lam=lam, perm=self.perm.expand(n_models, -1))

    # numpydoc layout alike in shape only to other short methods (e.g. the steps' to()).
    def to(self, device: torch.device | str) -> MixParams:
        """The same draw with lam and perm on ``device``.

        Parameters
        ----------
        device : torch.device or str

        Returns
        -------
        MixParams
        """
        return replace(self, lam=self.lam.to(device), perm=self.perm.to(device))


def check_generator(generator: Any) -> torch.Generator:
    """``generator`` itself, or a ValueError saying that an explicit one is needed.

    Parameters
    ----------
    generator : object

    Returns
    -------
    torch.Generator

    Raises
    ------
    ValueError
        ``generator`` is None or not a ``torch.Generator``.
    """
    if generator is None:
        raise ValueError(
            "generator must be a torch.Generator (e.g. torch.Generator().manual_seed(0)); "
            "GenLabel draws nothing from global random state"
        )
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator; got {type(generator).__name__}")
    return generator


def _check_alpha(alpha: Any) -> float:
    if not is_real_in(alpha, 0):
        raise ValueError(f"alpha must be a float in the range [0.0, inf); got {alpha!r}")
    return float(alpha)


def _beta(alpha: float, size: int, generator: torch.Generator) -> torch.Tensor:
    # torch's Beta sampler takes no generator: draw uniforms from the caller's generator
    # and map them through Beta's inverse CDF (exact, and cheap at batch sizes).
    u = torch.rand(size, generator=generator, dtype=torch.float64)
    return u if alpha == 1 else torch.from_numpy(betaincinv(alpha, alpha, u.numpy()))


def sample_lambda(
    alpha: float,
    n: int,
    *,
    generator: torch.Generator,
    per_sample: bool = False,
) -> torch.Tensor:
    """Draw mixing coefficients lam ~ Beta(alpha, alpha), as a float64 tensor of shape (n,).

    One value repeated n times (per batch, the reference protocol) or n values
    (``per_sample=True``). ``alpha=0`` means no mixing: lam = 1.

    Parameters
    ----------
    alpha : float
        The Beta distribution's parameter, >= 0.
    n : int
        The number of points.
    generator : torch.Generator
        The source of every draw (never the global random state).
    per_sample : bool, default=False
        One lam per point instead of one per batch.

    Returns
    -------
    torch.Tensor, shape (n,), float64

    Raises
    ------
    ValueError
        A negative alpha, a negative n, or a generator that is not a ``torch.Generator``.

    Examples
    --------
    >>> import torch
    >>> from genlabel import sample_lambda
    >>> lam = sample_lambda(1.0, 4, generator=torch.Generator().manual_seed(0))
    >>> lam.shape, bool((lam == lam[0]).all())
    (torch.Size([4]), True)
    """
    alpha = _check_alpha(alpha)
    generator = check_generator(generator)
    if not is_integer(n) or n < 0:
        raise ValueError(f"n must be a number of points (an int >= 0); got {n!r}")
    if alpha == 0 or n == 0:
        return torch.ones(n, dtype=torch.float64)
    return _beta(alpha, n if per_sample else 1, generator).expand(n).clone()


def sample_permutation(n: int, *, generator: torch.Generator) -> torch.Tensor:
    """A random pairing of a batch: a permutation of range(n).

    Parameters
    ----------
    n : int
    generator : torch.Generator
        Required (see :func:`check_generator`).

    Returns
    -------
    Tensor of shape (n,), int64
    """
    return torch.randperm(n, generator=check_generator(generator))


def draw_mix_params(
    n: int,
    *,
    alpha: float = 1.0,
    per_sample: bool = False,
    generator: torch.Generator,
    layers: Sequence[str | int] | None = None,
) -> MixParams:
    """Draw the parameters of a mixup step for a batch of ``n`` points.

    In this order, from ``generator``: the layer (uniformly among ``layers``, when given:
    manifold mixup), lam ~ Beta(alpha, alpha) (one per batch, or one per point with
    ``per_sample=True``), the pairing (a random permutation). ``alpha=0`` means no mixing:
    lam = 1 and the identity pairing, and no draw of either.

    Parameters
    ----------
    n : int
        The number of points.
    alpha : float, default=1.0
        The Beta distribution's parameter, >= 0.
    per_sample : bool, default=False
        One lam per point instead of one per batch.
    generator : torch.Generator
        The source of every draw (never the global random state).
    layers : sequence of str or int, optional
        The layers manifold mixup may mix at (names of ``ManifoldMixup`` or indices).

    Returns
    -------
    MixParams
        With ``lam`` 0-D (per batch) or of shape (n,), float64, on the CPU.

    Raises
    ------
    ValueError
        A negative alpha or n, an empty ``layers``, or a bad generator.
    """
    alpha = _check_alpha(alpha)
    generator = check_generator(generator)
    if not is_int_at_least(n, 0):
        raise ValueError(f"n must be a non-negative integer; got {n!r}")
    layer = None
    if layers is not None:
        if len(layers) == 0:
            raise ValueError("layers must name at least one layer to mix at")
        layer = layers[int(torch.randint(0, len(layers), (1,), generator=generator))]
    if alpha == 0 or n == 0:
        lam = torch.ones(n if per_sample else (), dtype=torch.float64)
        return MixParams(lam=lam, perm=torch.arange(n), layer=layer)
    lam = _beta(alpha, n if per_sample else 1, generator)
    lam = lam if per_sample else lam[0]
    return MixParams(lam=lam, perm=sample_permutation(n, generator=generator), layer=layer)


def draw_cutmix_params(
    n: int, height: int, width: int, *, alpha: float = 1.0, generator: torch.Generator
) -> MixParams:
    """Draw a CutMix step: one box per batch, as in the CutMix paper.

    lam0 ~ Beta(alpha, alpha); a box of side ratio sqrt(1 - lam0), centred uniformly in the
    image and clipped at its border, is pasted from each point's partner. The returned
    ``lam`` is the share of the image kept after clipping (the label weight of the point
    itself).

    Parameters
    ----------
    n : int
        The number of points.
    height, width : int
        The images' spatial size.
    alpha : float, default=1.0
        The Beta distribution's parameter, >= 0.
    generator : torch.Generator
        The source of every draw (never the global random state).

    Returns
    -------
    MixParams
        With ``box`` set and ``lam`` the kept share.

    Raises
    ------
    ValueError
        A negative alpha, a non-positive height or width, or a bad generator.
    """
    alpha = _check_alpha(alpha)
    generator = check_generator(generator)
    if min(height, width) < 1:
        raise ValueError(f"height and width must be positive; got {height} x {width}")
    if alpha == 0 or n == 0:
        return MixParams(lam=torch.ones((), dtype=torch.float64), perm=torch.arange(n))
    lam0 = float(_beta(alpha, 1, generator)[0])
    ratio = (1.0 - lam0) ** 0.5
    cy, cx = (
        torch.rand(2, generator=generator, dtype=torch.float64) * torch.tensor([height, width])
    ).tolist()
    half_h, half_w = ratio * height / 2, ratio * width / 2
    top, bottom = (
        int(np.clip(round(cy - half_h), 0, height)),
        int(np.clip(round(cy + half_h), 0, height)),
    )
    left, right = (
        int(np.clip(round(cx - half_w), 0, width)),
        int(np.clip(round(cx + half_w), 0, width)),
    )
    kept = 1.0 - (bottom - top) * (right - left) / (height * width)
    return MixParams(
        lam=torch.tensor(kept, dtype=torch.float64),
        perm=sample_permutation(n, generator=generator),
        box=(top, bottom, left, right),
    )


def _partner(t: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    if perm.ndim == 1:
        if t.ndim < 1 or t.shape[0] != perm.shape[0]:
            raise ValueError(
                f"Expected a tensor with {perm.shape[0]} rows to mix; got shape {tuple(t.shape)}"
            )
        return t[perm]
    if t.ndim < 2 or tuple(t.shape[:2]) != tuple(perm.shape):
        raise ValueError(
            f"Stacked mix parameters of shape {tuple(perm.shape)} need a tensor of shape "
            f"{tuple(perm.shape)} + (...); got {tuple(t.shape)}"
        )
    index = perm.reshape(tuple(perm.shape) + (1,) * (t.ndim - 2)).expand_as(t)
    return torch.gather(t, 1, index)


def apply_mix(t: torch.Tensor, params: MixParams) -> torch.Tensor:
    """Apply a mix to a tensor of any shape (n, ...), or (G, n, ...) for stacked params.

    Mixup: lam * t + (1 - lam) * t[perm], lam broadcast over the non-batch dimensions.
    CutMix (``params.box`` set): tensors with two or more dimensions after the batch one
    (images (n, c, h, w), feature maps) get the partner's box pasted over their last two
    dimensions; anything else (one-hot labels, flat features) mixes linearly with lam, the
    kept share of the image, which is CutMix's label. Differentiable in ``t`` and ``lam``.

    Parameters
    ----------
    t : torch.Tensor, shape (n, ...) or (G, n, ...)
        A floating-point batch: inputs, hidden features or one-hot labels.
    params : MixParams
        A draw of :func:`draw_mix_params` or :func:`draw_cutmix_params` (or their stacked
        form).

    Returns
    -------
    torch.Tensor
        The mixed batch, of t's shape.

    Raises
    ------
    ValueError
        A tensor that is not floating point or whose batch size does not match the draw.

    Examples
    --------
    >>> import torch
    >>> from genlabel.mixing import apply_mix, draw_mix_params
    >>> params = draw_mix_params(8, alpha=1.0, generator=torch.Generator().manual_seed(0))
    >>> apply_mix(torch.randn(8, 3, 4, 4), params).shape
    torch.Size([8, 3, 4, 4])
    """
    if not isinstance(t, torch.Tensor) or not t.is_floating_point():
        raise ValueError("apply_mix needs a floating-point torch.Tensor of shape (batch_size, ...)")
    perm = params.perm.to(t.device)
    partner = _partner(t, perm)
    lead = perm.ndim
    if params.box is not None and t.ndim >= lead + 2:
        top, bottom, left, right = params.box
        out = t.clone()
        out[..., top:bottom, left:right] = partner[..., top:bottom, left:right]
        return out
    return convex_mix(t, partner, params.lam)


def convex_mix(
    a: torch.Tensor, b: torch.Tensor, lam: torch.Tensor | float, *, in_place: bool = False
) -> torch.Tensor:
    """lam * a + (1 - lam) * b: the one place the package writes a convex combination.

    Mixes (:func:`apply_mix`), mixed labels and the gamma-blend of GenLabel's targets all
    go through it.

    Parameters
    ----------
    a, b : Tensor
        Of one shape.
    lam : float or Tensor
        A number or a tensor over the leading dimensions of ``a`` (a 0-D tensor, (n,) for
        one per row, (G, n) for stacked models, ...), broadcast over the remaining ones;
        it takes ``a``'s dtype and device.
    in_place : bool, default=False
        Overwrite ``a`` and ``b`` (temporaries of the caller, outside autograd) with the
        same operations, so the same values bit for bit and two allocations fewer.

    Returns
    -------
    Tensor
        ``a`` itself when ``in_place``.

    Examples
    --------
    >>> import torch
    >>> convex_mix(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), 0.25)
    tensor([0.2500, 0.7500])
    """
    lam_t = torch.as_tensor(lam).to(device=a.device, dtype=a.dtype)
    if 0 < lam_t.ndim < a.ndim:  # (n,) or (G, n): broadcast over the other dimensions
        lam_t = lam_t.reshape(tuple(lam_t.shape) + (1,) * (a.ndim - lam_t.ndim))
    if in_place:
        return a.mul_(lam_t).add_(b.mul_(1 - lam_t))
    return lam_t * a + (1 - lam_t) * b


def one_hot(
    labels: torch.Tensor, num_classes: int, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """One-hot rows of shape (n, num_classes), with a clear error for out-of-range labels.

    Parameters
    ----------
    labels : Tensor of shape (n,)
        Class indices in [0, num_classes).
    num_classes : int
    dtype : torch.dtype, default=torch.float32

    Returns
    -------
    Tensor of shape (n, num_classes)

    Raises
    ------
    ValueError
        A label outside [0, num_classes).

    Examples
    --------
    >>> import torch
    >>> one_hot(torch.tensor([2, 0]), 3)
    tensor([[0., 0., 1.],
            [1., 0., 0.]])
    """
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(
            f"labels must be class indices in [0, {num_classes}); got values in "
            f"[{int(labels.min())}, {int(labels.max())}]"
        )
    return F.one_hot(labels.long(), num_classes).to(dtype)
