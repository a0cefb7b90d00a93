"""scikit-learn compatible estimators."""

from .generative import GenerativeClassifier
from .mixup import ESTIMATOR_METHODS, MixupClassifier

__all__ = ["ESTIMATOR_METHODS", "GenerativeClassifier", "MixupClassifier"]
