"""The generative classifier (GM) baseline: QDA with GenLabel's covariance estimate."""

from __future__ import annotations

from numbers import Real

import numpy as np
import torch
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..density import ClassDensity, GaussianClassDensity

__all__ = ["GenerativeClassifier"]


class GenerativeClassifier(ClassifierMixin, BaseEstimator):
    """Predict argmax_c log pi_c + log N(x; mu_c, Sigma_c + reg I).

    Parameters
    ----------
    covariance : {"full", "diag", "spherical"}, default="full"
    reg : float, default=1e-4
    priors : array-like of shape (n_classes,), optional
        Class priors; the class frequencies by default.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    priors_ : ndarray of shape (n_classes,)
    density_ : GaussianClassDensity
        The fitted class Gaussians.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> GenerativeClassifier().fit(X, y).predict(X[:2]).tolist()
    [0, 0]
    """

    _parameter_constraints: dict = {
        "covariance": [StrOptions({"full", "diag", "spherical"})],
        "reg": [Interval(Real, 0, None, closed="left")],
        "priors": ["array-like", None],
    }

    def __init__(self, *, covariance: str = "full", reg: float = 1e-4, priors=None):
        self.covariance = covariance
        self.reg = reg
        self.priors = priors

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit one Gaussian per class, and the priors (the class frequencies unless given).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            At least two classes.

        Returns
        -------
        GenerativeClassifier
            ``self``.

        Raises
        ------
        ValueError
            One class only, or ``priors`` that are not k non-negative numbers summing to 1.
        """
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        k = len(self.classes_)
        if k < 2:
            raise ValueError(
                "GenerativeClassifier needs samples of at least 2 classes; got 1 class"
            )
        if self.priors is None:
            priors = np.bincount(y_enc, minlength=k) / len(y_enc)
        else:
            priors = np.asarray(self.priors, dtype=np.float64)
            if priors.shape != (k,) or (priors < 0).any() or not np.isclose(priors.sum(), 1.0):
                raise ValueError(
                    f"The 'priors' parameter of GenerativeClassifier must be {k} non-negative "
                    f"numbers summing to 1. Got {self.priors!r} instead."
                )
        self.priors_ = priors
        self.density_ = GaussianClassDensity(covariance=self.covariance, reg=self.reg).fit(
            X, y_enc, classes=list(range(k))
        )
        return self

    # scikit-learn's classifier API, restated by each estimator (each documents its own; the
    # scores differ: class densities here, logits in MixupClassifier).
    def decision_function(self, X) -> np.ndarray:
        """log pi_c + log p_c(x), shape (n_samples, n_classes) ((n_samples,) for 2 classes).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes) or (n_samples,)
            For two classes, the score of class 1 minus that of class 0.
        """
        scores = self._joint_log_likelihood(X)
        return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores

    def _joint_log_likelihood(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        with np.errstate(divide="ignore"):
            log_prior = np.log(self.priors_)
        return self.density_.log_prob(X).numpy() + log_prior

    # scikit-learn's classifier API, restated by each estimator (each documents its own).
    def predict_proba(self, X) -> np.ndarray:
        """The posterior class probabilities, softmax_c(log pi_c + log p_c(x)).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        scores = self._joint_log_likelihood(X)
        return np.exp(scores - logsumexp(scores, axis=1, keepdims=True))

    # scikit-learn's classifier API, restated by each estimator (each documents its own).
    def predict(self, X) -> np.ndarray:
        """The most likely class of every sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        scores = self._joint_log_likelihood(X)  # checks fitted before classes_ is read
        return self.classes_[scores.argmax(1)]

    def to_module(self) -> torch.nn.Module:
        """The fitted classifier as a differentiable ``nn.Module`` (logits = log pi_c + log p_c),
        e.g. for adversarial attacks, which take gradients through it."""
        check_is_fitted(self)
        return _GenerativeModule(self.density_, self.priors_)


class _GenerativeModule(torch.nn.Module):
    log_prior: torch.Tensor

    def __init__(self, density: ClassDensity, priors: np.ndarray):
        super().__init__()
        self.density = density
        self.register_buffer("log_prior", torch.log(torch.as_tensor(priors, dtype=torch.float64)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # log_prob is differentiable in its input.
        return self.density.log_prob(x.double()) + self.log_prior
