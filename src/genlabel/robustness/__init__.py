"""Adversarial robustness: FGSM, PGD and AutoAttack (optional extra), robust accuracy."""

from .attacks import (
    ATTACKS,
    ExtraNotInstalled,
    autoattack,
    autoattack_attacks,
    fgsm,
    pgd,
    robust_accuracy,
)

__all__ = [
    "ATTACKS",
    "ExtraNotInstalled",
    "autoattack",
    "autoattack_attacks",
    "fgsm",
    "pgd",
    "robust_accuracy",
]
