"""Adversarial robustness: FGSM, PGD, AutoAttack and its Square attack (optional extra),
robust accuracy."""

from .attacks import (
    ATTACKS,
    AUTOATTACK_NAMES,
    ExtraNotInstalled,
    autoattack,
    autoattack_attacks,
    fgsm,
    pgd,
    robust_accuracy,
)

__all__ = [
    "ATTACKS",
    "AUTOATTACK_NAMES",
    "ExtraNotInstalled",
    "autoattack",
    "autoattack_attacks",
    "fgsm",
    "pgd",
    "robust_accuracy",
]
