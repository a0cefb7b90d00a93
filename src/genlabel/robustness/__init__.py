"""Adversarial robustness: FGSM, PGD and AutoAttack (optional extra), robust accuracy."""

from .attacks import ATTACKS, ExtraNotInstalled, autoattack, fgsm, pgd, robust_accuracy

__all__ = ["ATTACKS", "ExtraNotInstalled", "autoattack", "fgsm", "pgd", "robust_accuracy"]
