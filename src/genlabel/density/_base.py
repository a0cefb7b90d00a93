"""Shared machinery of the class-conditional densities p_c(x)."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Self

import torch

from .._repr import ParamsRepr
from .._validation import as_float_tensor, as_label_tensor
from ..mixing.params import apply_mix, convex_mix
from .targets import genlabel_targets

__all__ = ["ClassDensity", "stable_cholesky", "finite_log_prob"]

# Bounded working memory of one log_prob chunk, counted in tensor elements.
_CHUNK_ELEMENTS = 1 << 22


def stable_cholesky(cov: torch.Tensor) -> torch.Tensor:
    """Cholesky factors of a batch of symmetric PSD matrices (..., d, d).

    A matrix that is not numerically positive definite (a singular covariance with
    ``reg=0``, say) gets a growing diagonal jitter, relative to its scale, until it
    factorises: we prefer a slightly wider Gaussian to a crash or a NaN.
    """
    cov = 0.5 * (cov + cov.transpose(-1, -2))
    chol, info = torch.linalg.cholesky_ex(cov)
    if not bool((info > 0).any()):
        return chol
    d = cov.shape[-1]
    eye = torch.eye(d, dtype=cov.dtype, device=cov.device)
    scale = torch.diagonal(cov, dim1=-2, dim2=-1).mean(-1).clamp_min(1.0)
    jitter = torch.finfo(cov.dtype).eps * scale
    for _ in range(40):
        bad = info > 0
        fixed = cov + (jitter * bad)[..., None, None] * eye
        chol, info = torch.linalg.cholesky_ex(fixed)
        if not bool((info > 0).any()):
            return chol
        jitter = jitter * 10.0
    raise RuntimeError(
        "could not factorise a covariance matrix even with jitter"
    )  # pragma: no cover


def _mix_of_rows(t: torch.Tensor, rows: torch.Tensor, params: Any) -> torch.Tensor:
    """``apply_mix(t[rows], params)`` for a part of the log-densities (no autograd): the
    convex mix done in place on its two gathers: the same operations on the same shapes,
    so the same values, with two temporaries fewer (a KDE's parts, k x n_c kernel scores
    per row, are the largest tensors of a wide grid's step)."""
    perm = params.perm.to(rows.device)
    if params.box is not None or perm.ndim != 1 or torch.is_grad_enabled() and t.requires_grad:
        return apply_mix(t[rows], params)
    return convex_mix(t[rows], t[rows[perm]], params.lam, in_place=True)


def finite_log_prob(log_prob: torch.Tensor) -> torch.Tensor:
    """Clamp log-densities to the most negative finite value of their dtype.

    Far-away points may underflow to -inf in float32; a label built from an -inf row is
    still fine, but downstream losses multiply by log-probabilities, so we keep them finite.
    """
    return log_prob.clamp_min_(torch.finfo(log_prob.dtype).min)


class ClassDensity(ParamsRepr, ABC):
    """Base class: one density per class, evaluated for every class at once.

    Subclasses implement :meth:`_fit_classes` and :meth:`_log_prob_t`. Fitted
    statistics are kept in float64 and cast to the query's dtype and device on demand.
    """

    classes_: torch.Tensor
    n_features_in_: int
    class_counts_: torch.Tensor

    def fit(self, X: Any, y: Any, classes: Sequence[int] | Any | None = None) -> Self:
        """Fit one density per class.

        Parameters
        ----------
        X : array-like or tensor of shape (n_samples, n_features)
        y : array-like or tensor of shape (n_samples,)
            Integer class labels.
        classes : sequence of int, optional
            The classes, in the column order of :meth:`log_prob`. Defaults to the sorted
            unique labels of ``y``; a class given here but absent from ``y`` gets
            probability zero (the most negative finite log-density).

        Returns
        -------
        self
        """
        self._check_params()
        name = type(self).__name__
        X = as_float_tensor(X, "X")
        if X.shape[0] == 0:
            raise ValueError(f"X must hold at least one sample to fit {name}; got 0")
        y = as_label_tensor(y, "y", n_samples=X.shape[0]).to(X.device)
        if classes is None:
            classes_t = torch.unique(y)
        else:
            classes_t = as_label_tensor(torch.as_tensor(classes), "classes").to(X.device)
            if classes_t.numel() == 0:
                raise ValueError("classes must name at least one class; got an empty sequence")
            if torch.unique(classes_t).numel() != classes_t.numel():
                raise ValueError(f"classes must not repeat a class; got {classes_t.tolist()}")
            unknown = ~torch.isin(y, classes_t)
            if bool(unknown.any()):
                bad = torch.unique(y[unknown]).tolist()
                raise ValueError(
                    f"y contains labels {bad} that are not in classes {classes_t.tolist()}"
                )
        # Column j of log_prob is class classes_[j]; map labels to those indices.
        order = torch.argsort(classes_t)
        sorted_classes = classes_t[order]
        index = order[torch.searchsorted(sorted_classes, y)]
        self.classes_ = classes_t.cpu()
        self.n_features_in_ = int(X.shape[1])
        k = int(classes_t.numel())
        self.class_counts_ = torch.bincount(index, minlength=k).cpu()
        self._cache: dict[tuple[torch.dtype, torch.device], dict[str, torch.Tensor]] = {}
        self._params = self._fit_classes(X.to(torch.float64), index, k)
        # Rows per log_prob chunk (bounded memory), fixed at fit: the batch fast path reads it.
        self._batch_rows = self._rows_per_chunk()
        return self

    def log_prob(self, Z: Any) -> torch.Tensor:
        """Log-density of every point under every class.

        Parameters
        ----------
        Z : array-like or tensor of shape (n_points, n_features)

        Returns
        -------
        Tensor of shape (n_points, n_classes)
            ``log p_c(z)`` for each class of ``classes_``, finite, in Z's floating dtype
            (float64 for integer input) and on Z's device.
        """
        self._check_fitted()
        name = type(self).__name__
        Z = as_float_tensor(Z, "Z", n_features=self.n_features_in_, fitted_by=name)
        params = self._params_for(Z.dtype, Z.device)
        k = int(self.classes_.numel())
        if Z.shape[0] == 0:
            return Z.new_zeros((0, k))
        rows = self._batch_rows
        if Z.shape[0] <= rows:  # the common case (a batch): no split/cat overhead
            return finite_log_prob(self._log_prob_chunk(Z, params))
        out = [self._log_prob_chunk(chunk, params) for chunk in torch.split(Z, rows)]
        return finite_log_prob(torch.cat(out, dim=0))

    def targets(
        self, Z: Any, *, top_k: int | None = None, log_prior: torch.Tensor | None = None
    ) -> torch.Tensor:
        """GenLabel's labels of the points ``Z``: softmax over the classes of log p_c(z).

        The same values as ``genlabel_targets(self.log_prob(Z), top_k, log_prior)``, in
        fewer operations, which is most of the cost of a batch: bit for bit, except for a
        two-class full-covariance Gaussian, whose labels are the sigmoid of the log-density
        difference (equal up to rounding, and cheaper). A batch whose labels come
        out finite needs neither the separate input check nor the clamp: a NaN or infinite
        coordinate makes every class's log-density NaN or -inf, hence a NaN label sum, and
        such a batch (or one too large for a single chunk) takes the checked path, which
        raises on bad input and keeps far-away points finite.

        Parameters
        ----------
        Z : array-like or tensor of shape (n_points, n_features)
        top_k : int, optional
            Keep only the ``top_k`` most likely classes.
        log_prior : Tensor of shape (n_classes,), optional
            Added to the log-densities (log pi_c).

        Returns
        -------
        Tensor of shape (n_points, n_classes)
            Finite, non-negative rows summing to one.

        Raises
        ------
        RuntimeError
            The density is not fitted.
        ValueError
            ``Z`` has NaN or infinite values or the wrong number of features.
        """
        self._check_fitted()
        # At batch sizes the Python around the tensor calls is a tenth of the cost, so the
        # fast path's tests are few and cheap (the chunk size is computed once, at fit).
        if top_k is None and log_prior is None and isinstance(Z, torch.Tensor) and Z.ndim == 2:
            m, n_features = Z.shape
            dtype = Z.dtype
            if (
                0 < m <= self._batch_rows
                and n_features == self.n_features_in_
                and (dtype is torch.float64 or dtype is torch.float32)
            ):
                labels = self._fast_labels(Z, self._params_for(dtype, Z.device))
                if math.isfinite(labels.sum().item()):
                    return labels
        return genlabel_targets(self.log_prob(Z), top_k=top_k, log_prior=log_prior)

    # -- mixes of known rows ------------------------------------------------------------
    def mix_rows(self, X: Any) -> dict[str, torch.Tensor]:
        """The parts of the log-densities at the rows of ``X`` that are affine in x.

        Every part is affine in the point (the whitened coordinates, a KDE's kernel scores),
        so the parts of a convex mix of rows are the same mix of the rows' parts: with
        these, :meth:`log_prob_of_mixes` gives log p_c of mixed points in O(parts) per point
        instead of a d x d whitening (and, for a KDE, a d x n_c product) per point. That is
        most of a mixup grid's label cost for wide data, whose mixes are always of the
        fold's own rows.

        Parameters
        ----------
        X : array-like or tensor of shape (n, n_features)
            The rows that mixes are made of.

        Returns
        -------
        dict of str to Tensor
            Float64 parts, rows first; memory ``len(X) * mix_row_elements()`` elements.
        """
        self._check_fitted()
        name = type(self).__name__
        X = as_float_tensor(X, "X", n_features=self.n_features_in_, fitted_by=name)
        X = X.to(torch.float64)
        return self._affine_rows(X, self._params_for(torch.float64, X.device))

    def log_prob_of_mixes(
        self, parts: dict[str, torch.Tensor], rows: torch.Tensor, params: Any
    ) -> torch.Tensor:
        """log p_c of the points ``apply_mix(X[rows], params)``, from ``mix_rows(X)``.

        Parameters
        ----------
        parts : dict of str to Tensor
            What :meth:`mix_rows` returned for ``X``.
        rows : Tensor of shape (m,), int64
            The rows of ``X`` in the batch.
        params : MixParams
            The batch's mix draw.

        Returns
        -------
        Tensor of shape (m, n_classes), float64
            Finite: the values of ``log_prob(apply_mix(X[rows], params))`` up to float64
            rounding.
        """
        mixed = {name: _mix_of_rows(t, rows, params) for name, t in parts.items()}
        return finite_log_prob(
            self._finish_rows(mixed, self._params_for(torch.float64, rows.device))
        )

    def mix_row_elements(self) -> int:
        """Float64 elements that :meth:`mix_rows` keeps per row (to budget its memory)."""
        return self._elements_per_row()

    @abstractmethod
    def _affine_rows(
        self, X: torch.Tensor, params: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """The affine parts of the log-densities at X (float64), rows first."""

    @abstractmethod
    def _finish_rows(
        self, parts: dict[str, torch.Tensor], params: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """Log-densities (m, n_classes), unclamped, from (mixed) affine parts."""

    # -- helpers for subclasses -------------------------------------------------------
    def _params_for(self, dtype: torch.dtype, device: torch.device) -> dict[str, torch.Tensor]:
        key = (dtype, device)
        params = self._cache.get(key)
        if params is None:
            params = self._cache[key] = {
                name: t.to(device=device, dtype=dtype if t.is_floating_point() else t.dtype)
                for name, t in self._params.items()
            }
        return params

    def _rows_per_chunk(self) -> int:
        return max(1, _CHUNK_ELEMENTS // max(1, self._elements_per_row()))

    def _check_fitted(self) -> None:
        if not hasattr(self, "_params"):
            raise RuntimeError(
                f"This {type(self).__name__} instance is not fitted yet; call 'fit' first"
            )

    @staticmethod
    def _log_2pi(d: int) -> float:
        return d * math.log(2.0 * math.pi)

    @abstractmethod
    def _check_params(self) -> None: ...

    @abstractmethod
    def _fit_classes(
        self, X: torch.Tensor, index: torch.Tensor, k: int
    ) -> dict[str, torch.Tensor]: ...

    @abstractmethod
    def _elements_per_row(self) -> int: ...

    @abstractmethod
    def _log_prob_t(self, Z: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Log-densities of one chunk, class-first: shape (n_classes, n_points), unclamped.

        Class-first because the label softmax over a contiguous leading dimension is
        several times faster on CPU than over a short last one.
        """

    def _fast_labels(self, Z: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Labels of one chunk, (n_points, n_classes), unchecked: the fast path of targets.

        Subclasses may override it with a cheaper formula of the same values (up to
        rounding); ``targets`` checks the result and falls back to the checked path.
        """
        return torch.softmax(self._log_prob_t(Z, params), 0).T

    def _log_prob_chunk(self, Z: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Log-densities of one chunk, (n_points, n_classes): a view of the class-first ones."""
        return self._log_prob_t(Z, params).T

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_cache"] = {}
        return state
