"""GenMix: generate mixed points of a chosen class-likelihood ratio, labelled by the density.

Instead of relabeling mixup's points, GenMix (Algorithm 4 of the GenLabel paper) generates,
for every ordered pair of classes (i, j), points x where class j has the share lam of the two
classes' likelihood, p_j(x) / (p_i(x) + p_j(x)) = lam (within a margin eps), drops those
where a third class is likelier than either (manifold intrusion), labels them
(p_i e_i + p_j e_j) / (p_i + p_j), and a model is trained on the data and these points.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from .._validation import (
    as_float_tensor,
    as_label_tensor,
    is_int_at_least,
    is_real_in,
    parameter_error,
)
from ..density.gaussian import GaussianClassDensity
from ..density.protocol import LabelDensity
from ..mixing.params import check_generator
from .segments import bisection_segment_roots, gaussian_precisions, gaussian_segment_roots

__all__ = ["GenMixResult", "GenMixWarning", "genmix"]

_SOLVERS = ("auto", "closed_form", "find_ratio_points", "bisection")
# Bound on one block of candidate segments, in points x coordinates (float64): 128 MiB.
_BLOCK_ELEMENTS = 1 << 24
_MIN_BLOCK = 16


class GenMixWarning(UserWarning):
    """GenMix returned fewer points than asked for some class pairs."""


@dataclass(frozen=True)
class GenMixResult:
    """The points GenMix generated, their labels, and where they came from.

    Unpacks as ``X_mix, Y_mix = genmix(...)``.

    Attributes
    ----------
    x : Tensor of shape (m, *point_shape)
        The generated points, in the dtype of the data they were generated from.
    targets : Tensor of shape (m, k)
        Their soft labels (p_i e_i + p_j e_j) / (p_i + p_j), in x's dtype; columns follow
        ``classes``.
    pair : Tensor of shape (m, 2), int64
        The ordered pair (i, j) of every point, as column indices into ``classes``.
    lam : Tensor of shape (m,), float64
        The share of class j asked for each point.
    counts : Tensor of shape (k, k), int64
        Points accepted per ordered pair (row i, column j); zero on the diagonal.
    candidates : Tensor of shape (k, k), int64
        Candidate segments drawn per ordered pair. Points beyond ``n_aug`` found in the
        last block are dropped, so ``counts / candidates`` is the share of candidates kept,
        a lower bound of the acceptance rate (at most 0.8: the first block holds 1.25 n_aug
        segments).
    classes : Tensor of shape (k,)
        The class labels of the target columns.
    """

    x: torch.Tensor
    targets: torch.Tensor
    pair: torch.Tensor
    lam: torch.Tensor
    counts: torch.Tensor
    candidates: torch.Tensor
    classes: torch.Tensor

    def __iter__(self) -> Iterator[torch.Tensor]:
        yield self.x
        yield self.targets

    def union(self, X: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """The training set D ∪ D_mix: the data with one-hot labels, then the generated points.

        Parameters
        ----------
        X : array-like or tensor of shape (n, *point_shape)
        y : array-like or tensor of shape (n,)
            Labels among ``classes``.

        Returns
        -------
        X_all : Tensor of shape (n + m, *point_shape)
            In x's dtype.
        Y_all : Tensor of shape (n + m, k)
            Soft targets, in x's dtype.
        """
        X = as_float_tensor(X, "X", ndim=self.x.ndim, dtype=self.x.dtype)
        if tuple(X.shape[1:]) != tuple(self.x.shape[1:]):
            raise ValueError(
                f"X must hold points of shape {tuple(self.x.shape[1:])}; got {tuple(X.shape[1:])}"
            )
        column = _column_index(as_label_tensor(y, "y", n_samples=X.shape[0]), self.classes)
        one_hot = F.one_hot(column, self.classes.numel()).to(self.targets.dtype)
        return torch.cat([X, self.x]), torch.cat([one_hot, self.targets])


def _column_index(y: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """Column of every label in ``classes`` (ValueError naming labels that are not there)."""
    hit = y.unsqueeze(1) == classes.to(y.device).unsqueeze(0)
    missing = ~hit.any(1)
    if bool(missing.any()):
        bad = torch.unique(y[missing]).tolist()
        raise ValueError(
            f"y contains labels {bad} that the density does not model; its classes are "
            f"{classes.tolist()}"
        )
    return hit.to(torch.int64).argmax(1)


def _check_scalars(n_aug: Any, lam: Any, eps: Any, max_tries: Any) -> None:
    if not is_int_at_least(n_aug, 1):
        raise parameter_error("genmix", "n_aug", "an integer >= 1", n_aug)
    if not is_int_at_least(max_tries, 1):
        raise parameter_error("genmix", "max_tries", "an integer >= 1", max_tries)
    if not is_real_in(eps, 0, 1, low_open=True, high_open=True):
        raise parameter_error("genmix", "eps", "a float in the range (0, 1)", eps)
    if isinstance(lam, str) and lam == "uniform":
        return
    if not is_real_in(lam, 0, 1):
        raise parameter_error("genmix", "lam", "a float in the range [0, 1] or 'uniform'", lam)


def _check_density(density: Any, X: torch.Tensor) -> torch.Tensor:
    """The density's classes (``classes_``, else 0..k-1), checked against its log_prob width."""
    if not isinstance(density, LabelDensity):
        raise ValueError(
            "density must be a class density with log_prob(Z) and targets(Z) (a LabelDensity);"
            f" got {type(density).__name__}"
        )
    log_prob = density.log_prob(X[:1])
    if log_prob.ndim != 2 or log_prob.shape[0] != 1:
        raise ValueError(
            "density.log_prob must return shape (n_points, n_classes); for 1 point it "
            f"returned {tuple(log_prob.shape)}"
        )
    width = int(log_prob.shape[1])
    classes = getattr(density, "classes_", None)
    if classes is None:
        return torch.arange(width)
    classes = torch.as_tensor(classes)
    if classes.numel() != width:
        raise ValueError(
            f"density.log_prob returns {width} columns, but the density has "
            f"{classes.numel()} classes (classes_ = {classes.tolist()})"
        )
    return classes


def _pick_solver(density: Any, solver: str) -> tuple[str, tuple[torch.Tensor, torch.Tensor] | None]:
    """The solver to use ("auto" resolved), and the Gaussian precisions when it is exact."""
    if solver not in _SOLVERS:
        raise parameter_error(
            "genmix", "solver", "one of " + ", ".join(map(repr, _SOLVERS)), solver
        )
    gaussian = isinstance(density, GaussianClassDensity) and solver in ("auto", "closed_form")
    precisions = gaussian_precisions(density) if gaussian else None
    has_finder = callable(getattr(density, "find_ratio_points", None))
    if solver == "auto":
        auto = "find_ratio_points" if has_finder else "bisection"
        return ("closed_form", precisions) if precisions is not None else (auto, None)
    if solver == "closed_form" and precisions is None:
        raise ValueError(
            "solver='closed_form' needs a fitted GaussianClassDensity with positive definite "
            f"covariances; got {type(density).__name__}"
        )
    if solver == "find_ratio_points" and not has_finder:
        raise ValueError(
            "solver='find_ratio_points' needs a density with a find_ratio_points method; "
            f"{type(density).__name__} has none"
        )
    return solver, precisions


@dataclass(frozen=True)
class _Search:
    """What every block of candidates needs: the density, how to solve, how to check."""

    density: Any
    solver: str
    shape: tuple[int, ...]
    eps: float
    intrusion_filter: bool
    precisions: tuple[torch.Tensor, torch.Tensor] | None


@dataclass(frozen=True)
class _Segments:
    """A block of candidate segments a -> b for the ordered pair (i, j), flattened, float64."""

    a: torch.Tensor
    b: torch.Tensor
    i: torch.Tensor
    j: torch.Tensor
    lam: torch.Tensor

    def logit(self, eps: float) -> torch.Tensor:
        # logit(lam) is infinite at lam = 0 or 1; any share within eps of lam passes the test,
        # so solving for lam clipped to [eps/2, 1 - eps/2] finds points that are accepted.
        lam = self.lam.clamp(eps / 2, 1 - eps / 2)
        return torch.log(lam) - torch.log1p(-lam)


def _draw_segments(
    X: torch.Tensor,
    members: tuple[torch.Tensor, torch.Tensor],
    pair: tuple[int, int],
    size: int,
    lam: float | str,
    generator: torch.Generator,
) -> _Segments:
    """``size`` random segments from a class-i point to a class-j point, and their lam."""
    rows_i, rows_j = members
    a = X[rows_i[torch.randint(rows_i.numel(), (size,), generator=generator)]]
    b = X[rows_j[torch.randint(rows_j.numel(), (size,), generator=generator)]]
    if lam == "uniform":
        lam_t = torch.rand(size, generator=generator, dtype=torch.float64)
    else:
        lam_t = torch.full((size,), float(lam), dtype=torch.float64)
    i = torch.full((size,), pair[0], dtype=torch.int64)
    return _Segments(a, b, i, torch.full_like(i, pair[1]), lam_t)


def _solve(search: _Search, seg: _Segments) -> tuple[torch.Tensor, torch.Tensor]:
    """Candidate points (s, D), float64, and a mask of the segments that yielded one."""
    logit = seg.logit(search.eps)
    if search.solver == "find_ratio_points":
        s = seg.a.shape[0]
        x, found = search.density.find_ratio_points(
            seg.a.view(s, *search.shape), seg.b.view(s, *search.shape), seg.i, seg.j, logit
        )
        x = torch.as_tensor(x).reshape(s, -1).to(torch.float64)
        return x, torch.as_tensor(found, dtype=torch.bool) & torch.isfinite(x).all(1)
    if search.solver == "closed_form":
        t, found = gaussian_segment_roots(
            search.density, seg.a, seg.b, seg.i, seg.j, logit, search.precisions
        )
    else:
        t, found = bisection_segment_roots(
            search.density, seg.a, seg.b, seg.i, seg.j, logit, shape=search.shape
        )
    return seg.a + t.unsqueeze(1) * (seg.b - seg.a), found


def _check_points(
    search: _Search, x: torch.Tensor, seg: _Segments, found: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Algorithm 4's tests with the density's own log_prob, and the labels of the kept points.

    Returns the kept points (a, D), their labels (a, k) and the indices of their segments.
    """
    idx = found.nonzero().squeeze(1)
    x = x[idx]
    log_prob = search.density.log_prob(x.view(idx.numel(), *search.shape)).to(torch.float64)
    i, j = seg.i[idx].unsqueeze(1), seg.j[idx].unsqueeze(1)
    lp_i, lp_j = log_prob.gather(1, i), log_prob.gather(1, j)
    # The label is the two-class softmax of (log p_i, log p_j): p_j / (p_i + p_j) = sigmoid.
    share_j, share_i = torch.sigmoid(lp_j - lp_i), torch.sigmoid(lp_i - lp_j)
    keep = (share_j.squeeze(1) - seg.lam[idx]).abs() <= search.eps
    if search.intrusion_filter and log_prob.shape[1] > 2:
        # Manifold intrusion: keep x only if min(p_i, p_j) >= p_l for every other class l.
        others = log_prob.scatter(1, torch.cat([i, j], 1), -torch.inf).amax(1)
        keep &= torch.minimum(lp_i, lp_j).squeeze(1) >= others
    targets = torch.zeros_like(log_prob).scatter_(1, i, share_i).scatter_(1, j, share_j)
    return x[keep], targets[keep], idx[keep]


def _fill_pair(
    search: _Search,
    X: torch.Tensor,
    members: tuple[torch.Tensor, torch.Tensor],
    pair: tuple[int, int],
    options: tuple[int, float | str, int],
    generator: torch.Generator,
) -> tuple[list[tuple[torch.Tensor, ...]], int]:
    """Up to n_aug accepted points of one pair, in at most max_tries blocks of candidates.

    The first block holds 1.25 n_aug segments; later ones are sized by the acceptance rate
    seen so far (at most 4x the previous block and ``_BLOCK_ELEMENTS`` coordinates), so an
    easy pair takes one block and a hopeless one a bounded amount of work.
    """
    n_aug, lam, max_tries = options
    cap = max(_MIN_BLOCK, _BLOCK_ELEMENTS // X.shape[1])
    size = min(cap, max(_MIN_BLOCK, math.ceil(1.25 * n_aug)))
    parts: list[tuple[torch.Tensor, ...]] = []
    n_found = drawn = 0
    for _ in range(max_tries):
        seg = _draw_segments(X, members, pair, size, lam, generator)
        drawn += size
        x, found = _solve(search, seg)
        if bool(found.any()):
            x, targets, idx = _check_points(search, x, seg, found)
            take = min(n_aug - n_found, x.shape[0])
            parts.append((x[:take], targets[:take], seg.lam[idx[:take]]))
            n_found += take
        if n_found >= n_aug:
            break
        need = 1.25 * (n_aug - n_found) / max(n_found / drawn, 1 / 64)
        size = int(min(cap, 4 * size, max(_MIN_BLOCK, math.ceil(need))))
    return parts, drawn


def _warn_shortfall(
    pairs: list[tuple[int, int]],
    counts: torch.Tensor,
    n_aug: int,
    classes: torch.Tensor,
    tries: int,
) -> None:
    short = [(i, j) for i, j in pairs if counts[i, j] < n_aug]
    if not short:
        return
    names = classes.tolist()
    listed = ", ".join(f"({names[i]}, {names[j]}): {int(counts[i, j])}" for i, j in short)
    warnings.warn(
        f"genmix found fewer than n_aug={n_aug} points for {len(short)} ordered class "
        f"pair(s) (i, j) within max_tries={tries}: {listed}. Either no point on the drawn "
        "segments has the wanted likelihood ratio, or a third class is likelier there "
        "(manifold intrusion; intrusion_filter=False keeps such points). Raise max_tries "
        "or eps, or accept fewer points.",
        GenMixWarning,
        stacklevel=4,  # the caller of genmix
    )


# Long only by its docstring (every parameter and guarantee); the work is in _fill_pair.
def genmix(
    density: Any,
    X: Any,
    y: Any,
    *,
    n_aug: int,
    lam: float | str = 0.5,
    eps: float = 0.05,
    intrusion_filter: bool = True,
    max_tries: int = 10,
    solver: str = "auto",
    generator: torch.Generator,
) -> GenMixResult:
    """Generate mixed points of a chosen class-likelihood ratio (GenMix, Algorithm 4).

    For every ordered pair of classes (i, j) present in ``y``, ``n_aug`` points x with

        |p_j(x) / (p_i(x) + p_j(x)) - lam| <= eps,

    (under ``density``), kept only if min(p_i(x), p_j(x)) >= p_l(x) for every other class l
    (the manifold-intrusion filter), labelled (p_i e_i + p_j e_j) / (p_i + p_j): the
    two-class softmax of (log p_i, log p_j). Train on the data and these points
    (:meth:`GenMixResult.union`).

    Candidates come in blocks of random mixup segments a + t (b - a), a a class-i point and b
    a class-j point; on each, the point with log p_j - log p_i = logit(lam) nearest the mixup
    point t = lam is found by

    * the exact roots of a quadratic in t for a ``GaussianClassDensity`` ("closed_form");
    * the density's own ``find_ratio_points(a, b, i, j, logit) -> (x, found)`` when it has
      one (``GANClassDensity``: gradient descent from the mixup point);
    * otherwise bracketing and bisection in t with ``log_prob`` alone ("bisection"; also
      for a Gaussian density whose covariances do not factorise).

    The mixup point a + lam (b - a) is where mixup's label would give class j the share
    lam; of several solutions on a segment, the one nearest it is kept. ``lam`` is clipped
    to [eps/2, 1 - eps/2] for solving only (logit(0) is infinite). Every candidate is then
    tested like any point, with ``log_prob``: points are generated and tested in float64,
    then cast to X's dtype.

    Parameters
    ----------
    density : LabelDensity
        Fitted class densities, ``log_prob(Z) -> (m, k)``. Columns are the classes
        ``density.classes_`` when it has that attribute, else 0..k-1.
    X : array-like or tensor of shape (n, d), or (n, *point_shape) for images
    y : array-like or tensor of shape (n,)
        Integer class labels among the density's classes.
    n_aug : int
        Points per ordered class pair: up to k (k - 1) n_aug points in all.
    lam : float in [0, 1] or "uniform", default=0.5
        The share of class j; "uniform" draws it per point from U(0, 1).
    eps : float in (0, 1), default=0.05
        Margin of the ratio test.
    intrusion_filter : bool, default=True
    max_tries : int, default=10
        Blocks of candidate segments per pair. A pair that has not yielded ``n_aug`` points
        by then keeps what it found, and one :class:`GenMixWarning` names every such pair.
    solver : {"auto", "closed_form", "find_ratio_points", "bisection"}, default="auto"
    generator : torch.Generator
        Source of every random draw (segments, uniform lam); the same seed gives the same
        points.

    Returns
    -------
    GenMixResult
        Unpacks as ``(X_mix, Y_mix)``: X_mix of shape (m, *point_shape) in X's dtype
        (integer X gives float64), Y_mix of shape (m, k); also ``pair``, ``lam``, and the
        per-pair ``counts`` and ``candidates``. Points are grouped by pair, pairs in
        lexicographic order of their columns.
    """
    generator = check_generator(generator)
    _check_scalars(n_aug, lam, eps, max_tries)
    X = as_float_tensor(X, "X", ndim=(2, 3, 4))
    if X.shape[0] == 0:
        raise ValueError("X must hold at least one point per class; got 0 points")
    column = as_label_tensor(y, "y", n_samples=X.shape[0])
    flat = X.reshape(X.shape[0], -1).to(torch.float64)
    classes = _check_density(density, flat[:1].view(1, *X.shape[1:]))
    column = _column_index(column, classes)
    present = torch.unique(column).tolist()
    if len(present) < 2:
        raise ValueError(
            f"genmix mixes pairs of classes: y must hold points of at least two classes; "
            f"got {len(present)} ({classes[present].tolist()})"
        )
    solver, precisions = _pick_solver(density, solver)
    search = _Search(
        density, solver, tuple(X.shape[1:]), float(eps), bool(intrusion_filter), precisions
    )
    return _generate(
        search, flat, column, classes, (int(n_aug), lam, int(max_tries)), generator, X.dtype
    )


def _generate(
    search: _Search,
    flat: torch.Tensor,
    column: torch.Tensor,
    classes: torch.Tensor,
    options: tuple[int, float | str, int],
    generator: torch.Generator,
    dtype: torch.dtype,
) -> GenMixResult:
    """Fill every ordered pair in turn, warn about shortfalls, and gather the result."""
    k = classes.numel()
    present = torch.unique(column).tolist()
    members = {c: (column == c).nonzero().squeeze(1) for c in present}
    pairs = [(i, j) for i in present for j in present if i != j]
    counts = torch.zeros(k, k, dtype=torch.int64)
    candidates = torch.zeros(k, k, dtype=torch.int64)
    xs, ys, pair_rows, lams = [], [], [], []
    for i, j in pairs:
        parts, drawn = _fill_pair(
            search, flat, (members[i], members[j]), (i, j), options, generator
        )
        candidates[i, j] = drawn
        for x, targets, lam in parts:
            xs.append(x)
            ys.append(targets)
            lams.append(lam)
            pair_rows.append(torch.tensor([[i, j]], dtype=torch.int64).expand(x.shape[0], 2))
            counts[i, j] += x.shape[0]
    _warn_shortfall(pairs, counts, options[0], classes, options[2])
    d = flat.shape[1]
    x_all = torch.cat(xs) if xs else flat.new_zeros(0, d)
    return GenMixResult(
        x=x_all.to(dtype).view(-1, *search.shape),
        targets=torch.cat(ys).to(dtype) if ys else torch.zeros(0, k, dtype=dtype),
        pair=torch.cat(pair_rows) if pair_rows else torch.zeros(0, 2, dtype=torch.int64),
        lam=torch.cat(lams) if lams else torch.zeros(0, dtype=torch.float64),
        counts=counts,
        candidates=candidates,
        classes=classes,
    )
