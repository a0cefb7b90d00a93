"""One Gaussian per class ("GM")."""

from __future__ import annotations

import numpy as np
import torch

from .._validation import check_choice, check_nonnegative, parameter_error
from ._base import ClassDensity, stable_cholesky

__all__ = ["GaussianClassDensity"]


class GaussianClassDensity(ClassDensity):
    """Class-conditional Gaussians N(x; mu_c, Sigma_c + reg*I).

    Parameters
    ----------
    covariance : {"full", "diag", "spherical"}, default="full"
        "full" uses the maximum-likelihood covariance (as
        ``sklearn.covariance.EmpiricalCovariance``), "diag" its diagonal, "spherical"
        ``trace(Sigma)/d * I``.
    reg : float, default=1e-4
        Ridge ``reg * I`` added to every covariance, so that tiny classes, constant
        features and d > n_c stay well defined.
    shrinkage : {None, "ledoit_wolf"}, default=None
        Replace the empirical covariance by the Ledoit-Wolf shrunk estimate.

    Attributes
    ----------
    classes_ : Tensor of shape (n_classes,)
    means_ : Tensor of shape (n_classes, n_features)
    covariances_ : Tensor of shape (n_classes, n_features, n_features)
        The covariance used, ridge included (diagonal matrices for "diag"/"spherical").
    class_counts_ : Tensor of shape (n_classes,)

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [0.2, 0.1], [3.0, 3.0], [3.1, 2.8]])
    >>> density = GaussianClassDensity(covariance="spherical").fit(X, [0, 0, 1, 1])
    >>> density.targets(np.array([[0.1, 0.0], [2.9, 3.0]])).argmax(1).tolist()
    [0, 1]
    """

    _covariances = ("full", "diag", "spherical")

    def __init__(
        self, *, covariance: str = "full", reg: float = 1e-4, shrinkage: str | None = None
    ):
        self.covariance = covariance
        self.reg = reg
        self.shrinkage = shrinkage

    def _check_params(self) -> None:
        name = type(self).__name__
        check_choice(self.covariance, "covariance", name, self._covariances)
        check_nonnegative(self.reg, "reg", name)
        if self.shrinkage not in (None, "ledoit_wolf"):
            raise parameter_error(name, "shrinkage", "one of None, 'ledoit_wolf'", self.shrinkage)

    def _class_covariance(self, Xc: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        d = Xc.shape[1]
        if Xc.shape[0] < 2:
            return torch.zeros(d, d, dtype=Xc.dtype, device=Xc.device)
        if self.shrinkage == "ledoit_wolf":
            # Imported here: scikit-learn (and pandas, which it imports) costs about 1 s.
            from sklearn.covariance import ledoit_wolf

            cov, _ = ledoit_wolf(Xc.cpu().numpy())
            return torch.from_numpy(np.asarray(cov)).to(Xc)
        centered = Xc - mean
        return centered.T @ centered / Xc.shape[0]

    def _fit_classes(self, X: torch.Tensor, index: torch.Tensor, k: int) -> dict[str, torch.Tensor]:
        d = X.shape[1]
        counts = torch.bincount(index, minlength=k)
        means = torch.zeros(k, d, dtype=X.dtype, device=X.device)
        covs = torch.zeros(k, d, d, dtype=X.dtype, device=X.device)
        for c in range(k):  # k is small; the heavy work (log_prob) is batched
            Xc = X[index == c]
            if Xc.shape[0] == 0:
                continue
            means[c] = Xc.mean(0)
            covs[c] = self._class_covariance(Xc, means[c])
        eye = torch.eye(d, dtype=X.dtype, device=X.device)
        if self.covariance == "full":
            covs = covs + self.reg * eye
            chol = stable_cholesky(covs)
            prec_chol = torch.linalg.solve_triangular(chol, eye.expand(k, d, d), upper=False).mT
            log_det_prec = torch.log(torch.diagonal(prec_chol, dim1=-2, dim2=-1)).sum(-1)
            self.covariances_ = covs.cpu()
        else:
            var = torch.diagonal(covs, dim1=-2, dim2=-1)
            if self.covariance == "spherical":
                var = var.mean(-1, keepdim=True).expand(k, d)
            var = var + self.reg
            # With reg=0 a constant feature has zero variance: floor it relative to scale.
            floor = torch.finfo(X.dtype).eps * var.mean(-1, keepdim=True).clamp_min(1.0)
            var = torch.maximum(var, floor)
            self.covariances_ = torch.diag_embed(var).cpu()
            inv_std = var.rsqrt()
            log_det_prec = torch.log(inv_std).sum(-1)
        self.means_ = means.cpu()
        const = log_det_prec - 0.5 * self._log_2pi(d)
        # A declared class without points has probability zero: its constant is the most
        # negative float, and log_prob's final clamp keeps the result finite.
        const = torch.where(counts > 0, const, torch.finfo(X.dtype).min)
        if self.covariance != "full":
            return {"means": means, "inv_std": inv_std, "const_t": const.unsqueeze(1)}
        return self._full_params(means, prec_chol, const)

    @staticmethod
    def _full_params(
        means: torch.Tensor, prec_chol: torch.Tensor, const: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """The products that evaluate every full-covariance class at once.

        All classes are whitened by one matrix product: the precision Cholesky factors P_c
        (so that (x - mu_c) P_c ~ N(0, I)) are laid side by side, the -mu_c P_c in a bias
        (computed in float64). Shifting the queries by the data center first would cost an
        op per batch and buy at most a sqrt(d) factor of float32 rounding, which the float32
        inputs carry anyway.

        Class-first (log_prob works on (k*d + 1, m) then (k, m)), so that the label softmax
        runs over a contiguous leading dimension (3x faster on CPU than over a short last
        one) and returns a transposed view. Row k*d of the whitened coordinates is the
        constant 1 (weight 0, bias 1): squared it stays 1, and the class constants sit in
        its column of ``reduce_t``, so that the second product needs no bias (at batch
        sizes ``addmm``'s broadcast bias costs as much as the product).
        """
        k, d = means.shape
        weight_t = prec_chol.permute(0, 2, 1).reshape(k * d, d)
        bias_t = -torch.einsum("kd,kde->ke", means, prec_chol).reshape(k * d, 1)
        weight_t = torch.cat([weight_t, weight_t.new_zeros(1, d)])
        bias_t = torch.cat([bias_t, bias_t.new_ones(1, 1)])
        # -1/2 * (sum over each class's block of squared whitened coordinates) + const_c.
        eye_k = torch.eye(k, dtype=means.dtype, device=means.device)
        reduce_t = torch.cat([-0.5 * eye_k.repeat_interleave(d, 1), const.unsqueeze(1)], 1)
        params = {"weight_t": weight_t, "bias_t": bias_t, "reduce_t": reduce_t}
        if k == 2:
            # Binary labels are p_0 = sigmoid(l_0 - l_1), p_1 = sigmoid(l_1 - l_0): an
            # elementwise op, so the fast path can stay in the (m, .) layout of Z and of the
            # labels, without the two transposes (see _fast_labels). The constants'
            # difference is formed here, in float64 (an empty class's -max stays finite).
            logit = reduce_t[0] - reduce_t[1]
            params["weight_rows"] = weight_t.T.contiguous()
            params["bias_row"] = bias_t.T.contiguous()
            params["logit_rows"] = torch.stack([logit, -logit], 1)
        return params

    def _elements_per_row(self) -> int:
        return 2 * int(self.classes_.numel()) * self.n_features_in_

    def _log_prob_t(self, Z: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        if "weight_t" in params:
            # Few, fused ops: at batch sizes the per-op overhead is most of the cost.
            # (square_, not the cheaper mul_(self): autograd cannot differentiate that one.)
            white_t = torch.addmm(params["bias_t"], params["weight_t"], Z.T).square_()
            return torch.mm(params["reduce_t"], white_t)
        white = (Z - params["means"].unsqueeze(1)) * params["inv_std"].unsqueeze(1)  # (k, m, d)
        maha = white.square_().sum(-1)
        return torch.add(params["const_t"], maha, alpha=-0.5)

    def _affine_rows(
        self, X: torch.Tensor, params: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        if "weight_t" in params:  # (n, k*d + 1): every class's whitened coordinates, and 1
            return {"white": torch.addmm(params["bias_t"].T, X, params["weight_t"].T)}
        return {"white": (X.unsqueeze(1) - params["means"]) * params["inv_std"]}  # (n, k, d)

    def _finish_rows(
        self, parts: dict[str, torch.Tensor], params: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        white = parts["white"].square_()
        if "weight_t" in params:
            return torch.mm(white, params["reduce_t"].T)
        return torch.add(params["const_t"].T, white.sum(-1), alpha=-0.5)

    def _fast_labels(self, Z: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        if "logit_rows" in params:
            white = torch.addmm(params["bias_row"], Z, params["weight_rows"])  # (m, 2d + 1)
            return torch.mm(white.square_(), params["logit_rows"]).sigmoid_()
        return super()._fast_labels(Z, params)
