"""scikit-learn estimators over the training engine."""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .._validation import all_finite, parameter_error, resolve_device
from ..labels import LABEL_CLASSES
from ..registry import (
    METHODS,
    TABULAR_MODELS,
    MethodSpec,
    check_method,
    dropin_names,
    resolve_method,
)
from ..training import GenLabelMixup, Trainer
from ..training.grid import LATENTS, TrainSettings, check_warmup
from ..training.grids import DEFAULT_DENSITY_GRID, DEFAULT_GAMMA_GRID, DEFAULT_LR_GRID
from ..training.selection import check_grid, fit_configuration, grid_search, param_grid

__all__ = ["MixupClassifier", "ESTIMATOR_METHODS"]

#: The methods MixupClassifier trains (the generative classifier is GenerativeClassifier).
ESTIMATOR_METHODS = tuple(
    name for name, spec in METHODS.items() if not spec.generative and "mlp" in spec.models
) + ("genlabel",)
#: The methods a user's own module can train (through the drop-in mix step).
_MODULE_METHODS = tuple(dropin_names(models=TABULAR_MODELS))
_ACCEPTED = set(ESTIMATOR_METHODS) | {
    alias for name in ESTIMATOR_METHODS if name in METHODS for alias in METHODS[name].aliases
}
#: The generative classifier's names: accepted by the constraint so that fit can say which
#: estimator trains it.
_GENERATIVE = {
    n for spec in METHODS.values() if spec.generative for n in (spec.name, *spec.aliases)
}


class _MethodOptions(StrOptions):
    """The method constraint: its error lists the names sorted (a set prints in hash order)."""

    def __init__(self) -> None:
        super().__init__(_ACCEPTED | _GENERATIVE)

    def __str__(self) -> str:
        return f"a str among {{{', '.join(map(repr, sorted(_ACCEPTED)))}}}"


#: scikit-learn's MLP's words when its weights are not finite after training.
NON_FINITE_WEIGHTS = (
    "Solver produced non-finite parameter weights. The input data may contain large values "
    "and need to be preprocessed."
)


def _check_weights(module: torch.nn.Module) -> None:
    """A ValueError, as scikit-learn's MLPClassifier raises it, when training left a
    non-finite weight (the model would predict one class everywhere)."""
    if not all(all_finite(p.detach()) for p in module.parameters()):
        raise ValueError(NON_FINITE_WEIGHTS)


def _single_class_error(name: str) -> ValueError:
    return ValueError(f"{name} needs samples of at least 2 classes; got 1 class")


class MixupClassifier(ClassifierMixin, BaseEstimator):
    """A logistic-regression or MLP classifier trained with mixup, GenLabel or a baseline.

    Parameters
    ----------
    model : {"logistic", "mlp"}, default="logistic"
        One linear layer, or d -> hidden_layer_sizes... -> k with ReLU between the layers.
    method : str, default="mixup"
        ``vanilla``, ``mixup``, ``mixup_exclude_mi``, ``mixup_logistic``, ``mixup_nn``,
        ``adamixup``, ``manifold_mixup`` (MLP only), ``genlabel_gm`` / ``genlabel_kde``
        (Algorithm 1 with the logistic model; Algorithm 2 with the MLP), ``genlabel_cv``
        (lr, gamma and density chosen by stratified K-fold CV inside ``fit``); the CLI's
        names. ``genlabel`` (with ``density``) and the registry's aliases are accepted too.
    density : {"gm", "kde"}, default="gm"
        Class-conditional density of ``method="genlabel"``.
    gamma : float in [0, 1], default=1.0
        GenLabel's loss ratio.
    alpha : float, default=1.0
        Beta(alpha, alpha) mixing.
    lr : float, default=0.01
    weight_decay : float, default=1e-4
    epochs : int, default=100
    batch_size : int, default=128
        Adam's settings (the reference protocol's defaults).
    warmup_epochs : int, default=20
        Vanilla epochs before the latent density is fitted (GenLabel with the MLP).
    sigma2 : float, default=0.1
        Temperature of ``mixup_logistic``.
    cv : int, cross-validation generator or iterable, default=5
        Folds of ``genlabel_cv``: an int is stratified K-fold, shuffled with
        ``random_state``; or, as in ``GridSearchCV``, a scikit-learn splitter (e.g.
        ``KFold(3)``) or an iterable of (train, test) index arrays. ``fit`` takes no
        ``groups``: for ``GroupKFold`` pass its splits, ``list(GroupKFold(5).split(X, y,
        groups))``.
    lr_grid : tuple of float
    gamma_grid : tuple of float
    density_grid : tuple of str
        The grid of ``genlabel_cv``.
    random_state : int, RandomState or None
    device : str, default="cpu"
        A device this torch build can use (else a ValueError).
    hidden_layer_sizes : tuple of int, default=(128, 128)
        The MLP's hidden layers.
    module : callable, optional
        Your own network: ``module(n_features, n_classes) -> nn.Module`` returning logits.
        It is trained by :class:`genlabel.training.Trainer` (Adam) with the drop-in mix step,
        so ``method`` must be one of ``vanilla``, ``mixup``, ``mixup_logistic``,
        ``mixup_nn``, ``mixup_exclude_mi``, ``genlabel_gm``, ``genlabel_kde`` (GenLabel
        with densities in input space).
    verbose : int, default=0
        1: a progress bar over the epochs.
    latent : {None, "two_model", "reference", "input"}, default=None
        Where GenLabel with the MLP fits its densities: "two_model" (Algorithm 2 as the
        paper states it: on the penultimate features of a separately trained vanilla model;
        a fresh model trains all layers, gamma = 0 is mixup), "reference" (the reference
        scripts' shortcut: ``warmup_epochs`` vanilla epochs, then a new last layer on frozen
        features), "input" (Algorithm 1: on the inputs). None is the package default
        (``genlabel.training.grid.DEFAULT_LATENT``). Only for the MLP.
    class_prior : bool, default=False
        GenLabel labels from log pi_c + log p_c (class frequencies of the training data)
        instead of log p_c alone.
    label_classes : {"all", "mixed"}, default="all"
        The classes a GenLabel label may use: every class (Algorithms 1 and 2 as the paper
        writes them) or only the two classes each point was mixed from.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    module_ : torch.nn.Module
        The fitted network (logits out; float64 parameters for the built-in models), for
        your own use (e.g. adversarial attacks).
    loss_curve_ : list of float
        Mean training loss of each epoch (of the refitted model for ``genlabel_cv``).
    best_params_ : dict
        Only for ``genlabel_cv``: the selected parameters.
    cv_results_ : dict
        Only for ``genlabel_cv``: the model selection's scores, shaped like
        ``GridSearchCV.cv_results_``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MixupClassifier(method="genlabel_gm", epochs=5, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints: dict = {
        "model": [StrOptions(set(TABULAR_MODELS))],
        "method": [_MethodOptions()],
        "density": [StrOptions({"gm", "kde"})],
        "gamma": [Interval(Real, 0, 1, closed="both")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "warmup_epochs": [Interval(Integral, 0, None, closed="left")],
        "sigma2": [Interval(Real, 0, None, closed="neither")],
        "cv": ["cv_object"],
        "lr_grid": [tuple, list],
        "gamma_grid": [tuple, list],
        "density_grid": [tuple, list],
        "random_state": ["random_state"],
        "device": [str],
        "hidden_layer_sizes": [tuple, list],
        "module": [callable, None],
        "verbose": ["verbose"],
        "latent": [StrOptions(set(LATENTS)), None],
        "class_prior": ["boolean"],
        "label_classes": [StrOptions(set(LABEL_CLASSES))],
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
        cv: Any = 5,
        lr_grid: tuple[float, ...] = DEFAULT_LR_GRID,
        gamma_grid: tuple[float, ...] = DEFAULT_GAMMA_GRID,
        density_grid: tuple[str, ...] = DEFAULT_DENSITY_GRID,
        random_state: int | np.random.RandomState | None = None,
        device: str = "cpu",
        hidden_layer_sizes: tuple[int, ...] = (128, 128),
        module: Callable[[int, int], torch.nn.Module] | None = None,
        verbose: int = 0,
        latent: str | None = None,
        class_prior: bool = False,
        label_classes: str = "all",
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
        self.hidden_layer_sizes = hidden_layer_sizes
        self.module = module
        self.verbose = verbose
        self.latent = latent
        self.class_prior = class_prior
        self.label_classes = label_classes

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # A few epochs of SGD (as in the common checks) need not reach a good score.
        tags.classifier_tags.poor_score = self.epochs < 20
        tags.non_deterministic = False
        return tags

    def _spec(self):
        """The registry's method (``genlabel`` with ``density`` is ``genlabel_<density>``)."""
        spec = resolve_method(self.method, density=self.density)
        if spec.generative:
            alias = f" ({spec.name})" if spec.name != self.method else ""
            raise ValueError(
                f"The 'method' parameter of MixupClassifier is {self.method!r}{alias}, the "
                "generative classifier: use genlabel.estimators.GenerativeClassifier"
            )
        try:
            return check_method(spec.name, self.model)
        except ValueError as exc:
            raise ValueError(
                f"The 'method' parameter of MixupClassifier is {self.method!r}: {exc}"
            ) from None

    def _check(self, spec: MethodSpec) -> None:
        """The errors a parameter constraint cannot express, before any training."""
        resolve_device(self.device, "MixupClassifier")
        if self.latent is not None and self.model != "mlp":
            raise parameter_error(
                "MixupClassifier", "latent", "None with model='logistic' (no hidden layer)",
                self.latent,
            )  # fmt: skip
        if self.module is None:
            check_warmup(
                TrainSettings(
                    model=self.model, method=spec.name, epochs=int(self.epochs),
                    warmup_epochs=int(self.warmup_epochs), latent=self.latent,
                )
            )  # fmt: skip
        check_grid(
            "MixupClassifier", lr_grid=self.lr_grid, gamma_grid=self.gamma_grid,
            density_grid=self.density_grid,
        )  # fmt: skip
        hidden = self.hidden_layer_sizes
        if not hidden or any(isinstance(h, bool) or int(h) != h or h < 1 for h in hidden):
            raise parameter_error(
                "MixupClassifier", "hidden_layer_sizes", "a tuple of positive integers", hidden
            )
        if self.module is not None and spec.name not in _MODULE_METHODS:
            raise ValueError(
                f"method {spec.name!r} needs the built-in models; with module=... use one of "
                f"{', '.join(_MODULE_METHODS)}"
            )

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
            hidden=tuple(int(h) for h in self.hidden_layer_sizes),
            verbose=int(self.verbose),
            latent=self.latent if self.model == "mlp" else None,
            class_prior=bool(self.class_prior),
            label_classes=self.label_classes,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit on X of shape (n_samples, n_features) and labels y of shape (n_samples,).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            At least two classes.
        sample_weight : array-like of shape (n_samples,), optional
            Per-sample weights of the training loss (a mixed point weighs
            lam w_i + (1 - lam) w_j). Model selection scores are unweighted accuracies.

        Returns
        -------
        MixupClassifier
            ``self``.

        Raises
        ------
        ValueError
            One class only, invalid parameters or sample weights, or ``X`` beyond the
            float32 range the model trains in.
        """
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise _single_class_error(type(self).__name__)
        spec = self._spec()
        self._check(spec)
        weight = None
        if sample_weight is not None:
            weight = torch.from_numpy(_check_sample_weight(sample_weight, X, dtype=np.float64))
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        X_t = torch.tensor(X, dtype=torch.float32)
        if not all_finite(X_t):  # X is finite (checked above): its float32 copy overflowed
            raise ValueError(
                f"{NON_FINITE_WEIGHTS} (X holds values up to {np.abs(X).max():.3g}, beyond the "
                "float32 range in which the model trains.)"
            )
        y_t = torch.tensor(y_enc, dtype=torch.long)
        if self.module is not None:
            return self._fit_module(spec, X_t, y_t, weight, seed)
        settings = self._settings(seed)
        k = len(self.classes_)
        if weight is not None:
            weight = weight.to(torch.float32)
        if spec.name == "genlabel_cv":
            grid = param_grid(
                "genlabel",
                lr_grid=tuple(self.lr_grid),
                gamma_grid=tuple(self.gamma_grid),
                density_grid=tuple(self.density_grid),
            )
            result = grid_search(
                X_t, y_t, k, settings, grid, cv=self.cv, refit=True, sample_weight=weight
            )
            best = result.best()
            self.best_params_, self.cv_results_ = dict(grid[best]), result.cv_results()
            stack = result.refit(best)
        else:
            density = spec.densities[0] if spec.is_genlabel else self.density
            params = {"lr": self.lr, "gamma": self.gamma, "density": density}
            stack = fit_configuration(X_t, y_t, k, settings, params, sample_weight=weight)
        # Trained in float32; kept in float64 so that predictions do not depend on how the
        # rows are batched (BLAS blocking changes float32 rounding).
        module = stack.to_module(0)
        _check_weights(module)
        self.module_: torch.nn.Module = module.double().eval()
        curve = stack.loss_curve
        self.loss_curve_ = [] if curve is None else curve[0].tolist()
        return self

    def _fit_module(self, spec: MethodSpec, X_t, y_t, weight, seed: int):
        """A user's module, trained by the Trainer with the drop-in mix step."""
        k = len(self.classes_)
        module = self.module(X_t.shape[1], k)  # type: ignore[misc]
        if not isinstance(module, torch.nn.Module):
            raise ValueError(
                f"module(n_features, n_classes) must return a torch.nn.Module; got "
                f"{type(module).__name__}"
            )
        mixer = None
        if spec.name != "vanilla":
            mixer = GenLabelMixup(
                k, method=spec.name, gamma=float(self.gamma), alpha=float(self.alpha),
                sigma2=float(self.sigma2), class_prior=bool(self.class_prior),
                label_classes=self.label_classes, seed=seed,
            ).fit(X_t, y_t)  # fmt: skip
        data = (X_t, y_t) if weight is None else (X_t, y_t, weight.float())
        trainer = Trainer(
            module, mixer=mixer, lr=float(self.lr), weight_decay=float(self.weight_decay),
            epochs=int(self.epochs), batch_size=int(self.batch_size), device=self.device,
            random_state=seed, verbose=int(self.verbose),
        )  # fmt: skip
        try:
            trainer.fit(data)
        except FloatingPointError as exc:  # the Trainer's own check: a non-finite loss
            raise ValueError(f"{NON_FINITE_WEIGHTS} ({exc})") from exc
        _check_weights(module)
        self.module_ = module.eval()
        self.loss_curve_ = trainer.loss_curve_
        return self

    def _logits(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        param = next(self.module_.parameters())
        with torch.no_grad():
            x = torch.tensor(X, dtype=param.dtype, device=param.device)
            return self.module_(x).double().cpu().numpy()

    # scikit-learn's classifier API, restated by each estimator (each documents its own).
    def decision_function(self, X) -> np.ndarray:
        """Logits, shape (n_samples, n_classes); (n_samples,) for two classes (class 1 vs 0).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes) or (n_samples,)
        """
        logits = self._logits(X)
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    # scikit-learn's classifier API, restated by each estimator (each documents its own).
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes): the softmax of the logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        logits = self._logits(X)
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(1, keepdims=True)

    # scikit-learn's classifier API, restated by each estimator (each documents its own).
    def predict(self, X) -> np.ndarray:
        """The class of the largest logit for every sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        logits = self._logits(X)  # checks fitted before classes_ is read
        return self.classes_[logits.argmax(1)]
