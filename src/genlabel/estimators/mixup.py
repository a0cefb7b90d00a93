"""scikit-learn estimators over the training engine (SPEC §7, §8, §9)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..registry import METHODS, TABULAR_MODELS, check_method, resolve_method
from ..training.grid import TrainSettings
from ..training.methods import DEFAULT_DENSITY_GRID, DEFAULT_GAMMA_GRID, DEFAULT_LR_GRID
from ..training.selection import fit_configuration, grid_search, param_grid

__all__ = ["MixupClassifier", "ESTIMATOR_METHODS"]

#: The methods MixupClassifier trains (the generative classifier is GenerativeClassifier).
ESTIMATOR_METHODS = tuple(
    name for name, spec in METHODS.items() if spec.mix != "generative" and "mlp" in spec.models
) + ("genlabel",)
_ACCEPTED = set(ESTIMATOR_METHODS) | {
    alias for name in ESTIMATOR_METHODS if name in METHODS for alias in METHODS[name].aliases
}


def _single_class_error(name: str) -> ValueError:
    return ValueError(f"{name} needs samples of at least 2 classes; got 1 class")


class MixupClassifier(ClassifierMixin, BaseEstimator):
    """A logistic-regression or MLP classifier trained with mixup, GenLabel or a baseline.

    Parameters
    ----------
    model : {"logistic", "mlp"}, default="logistic"
        One linear layer, or d -> 128 -> 128 -> k with ReLU between the layers.
    method : str, default="mixup"
        ``vanilla``, ``mixup``, ``mixup_exclude_mi``, ``mixup_logistic``, ``mixup_nn``,
        ``adamixup``, ``manifold_mixup`` (MLP only), ``genlabel`` (Algorithm 1 with the
        logistic model; Algorithm 2 with the MLP) or ``genlabel_cv`` (``genlabel`` with lr,
        gamma and density chosen by stratified K-fold CV inside ``fit``).
    density : {"gm", "kde"}, default="gm"
        Class-conditional density of GenLabel.
    gamma : float in [0, 1], default=1.0
        GenLabel's loss ratio.
    alpha : float, default=1.0
        Beta(alpha, alpha) mixing.
    lr, weight_decay, epochs, batch_size : Adam's settings (SPEC §9 defaults).
    warmup_epochs : int, default=20
        Vanilla epochs before the latent density is fitted (GenLabel with the MLP).
    sigma2 : float, default=0.1
        Temperature of ``mixup_logistic``.
    cv : int, default=5
        Folds of ``genlabel_cv``.
    lr_grid, gamma_grid, density_grid : tuples
        The grid of ``genlabel_cv``.
    random_state : int, RandomState or None
    device : str, default="cpu"

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    module_ : torch.nn.Sequential
        The fitted network (logits out, float64 parameters), for your own use (e.g.
        adversarial attacks).
    best_params_, cv_results_ : only for ``genlabel_cv``.
    """

    _parameter_constraints: dict = {
        "model": [StrOptions(set(TABULAR_MODELS))],
        "method": [StrOptions(_ACCEPTED)],
        "density": [StrOptions({"gm", "kde"})],
        "gamma": [Interval(Real, 0, 1, closed="both")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "warmup_epochs": [Interval(Integral, 0, None, closed="left")],
        "sigma2": [Interval(Real, 0, None, closed="neither")],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "lr_grid": [tuple, list],
        "gamma_grid": [tuple, list],
        "density_grid": [tuple, list],
        "random_state": ["random_state"],
        "device": [str],
    }

    def __init__(
        self,
        *,
        model: str = "logistic",
        method: str = "mixup",
        density: str = "gm",
        gamma: float = 1.0,
        alpha: float = 1.0,
        lr: float = 0.01,
        weight_decay: float = 1e-4,
        epochs: int = 100,
        batch_size: int = 128,
        warmup_epochs: int = 20,
        sigma2: float = 0.1,
        cv: int = 5,
        lr_grid: tuple[float, ...] = DEFAULT_LR_GRID,
        gamma_grid: tuple[float, ...] = DEFAULT_GAMMA_GRID,
        density_grid: tuple[str, ...] = DEFAULT_DENSITY_GRID,
        random_state: int | np.random.RandomState | None = None,
        device: str = "cpu",
    ):
        self.model = model
        self.method = method
        self.density = density
        self.gamma = gamma
        self.alpha = alpha
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.warmup_epochs = warmup_epochs
        self.sigma2 = sigma2
        self.cv = cv
        self.lr_grid = lr_grid
        self.gamma_grid = gamma_grid
        self.density_grid = density_grid
        self.random_state = random_state
        self.device = device

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # A few epochs of SGD (as in the common checks) need not reach a good score.
        tags.classifier_tags.poor_score = self.epochs < 20
        tags.non_deterministic = False
        return tags

    def _spec(self):
        """The registry's method (``genlabel`` with ``density`` is ``genlabel_<density>``)."""
        spec = resolve_method(self.method, density=self.density)
        try:
            return check_method(spec.name, self.model)
        except ValueError as exc:
            raise ValueError(
                f"The 'method' parameter of MixupClassifier is {self.method!r}: {exc}"
            ) from None

    def _settings(self, seed: int) -> TrainSettings:
        spec = self._spec()
        return TrainSettings(
            model=self.model,
            method="genlabel" if spec.is_genlabel else spec.name,
            alpha=float(self.alpha),
            epochs=int(self.epochs),
            batch_size=int(self.batch_size),
            weight_decay=float(self.weight_decay),
            warmup_epochs=min(int(self.warmup_epochs), int(self.epochs)),
            sigma2=float(self.sigma2),
            seed=seed,
            device=self.device,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit on X of shape (n_samples, n_features) and labels y of shape (n_samples,)."""
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise _single_class_error(type(self).__name__)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        settings = self._settings(seed)
        X_t = torch.tensor(X, dtype=torch.float32)
        y_t = torch.tensor(y_enc, dtype=torch.long)
        k = len(self.classes_)
        spec = self._spec()
        if spec.name == "genlabel_cv":
            grid = param_grid(
                "genlabel",
                lr_grid=tuple(self.lr_grid),
                gamma_grid=tuple(self.gamma_grid),
                density_grid=tuple(self.density_grid),
            )
            result = grid_search(X_t, y_t, k, settings, grid, cv=self.cv, refit=True)
            best = result.best()
            self.best_params_, self.cv_results_ = dict(grid[best]), result.cv_results()
            stack = result.refit(best)
        else:
            density = spec.densities[0] if spec.is_genlabel else self.density
            params = {"lr": self.lr, "gamma": self.gamma, "density": density}
            stack = fit_configuration(X_t, y_t, k, settings, params)
        # Trained in float32; kept in float64 so that predictions do not depend on how the
        # rows are batched (BLAS blocking changes float32 rounding).
        self.module_ = stack.to_module(0).double().eval()
        return self

    def _logits(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        device = next(self.module_.parameters()).device
        with torch.no_grad():
            return self.module_(torch.tensor(X, dtype=torch.float64, device=device)).cpu().numpy()

    def decision_function(self, X) -> np.ndarray:
        """Logits, shape (n_samples, n_classes); (n_samples,) for two classes (class 1 vs 0)."""
        logits = self._logits(X)
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes)."""
        logits = self._logits(X)
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        logits = self._logits(X)  # checks fitted before classes_ is read
        return self.classes_[logits.argmax(1)]
