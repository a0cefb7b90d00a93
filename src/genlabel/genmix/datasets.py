"""The data of the GenMix experiment: circle, circle3d and MNIST 7 vs 9, one draw per trial.

* ``circle`` (a disk of radius 0.5 inside a ring 0.8 <= r <= 1) and ``circle3d`` (a ball
  inside a spherical shell), from :func:`genlabel.data.make_toy` with its default noise
  (0.02): per trial a training set of ``n_train`` points (``random_state=trial``) and a
  test set of ``n_test`` points (``random_state=10_000 + trial``), classes balanced.
* ``mnist79``: MNIST's 7s (class 0) and 9s (class 1). Per trial ``n_train`` training images
  drawn without replacement from the 7s and 9s of the training split (a permutation from
  ``torch.Generator().manual_seed(trial)``; not stratified); the test set is every 7 and 9
  of the test split (1,028 + 1,009 = 2,037 images). Pixels scaled to [0, 1] and flattened
  to 784 values for the MLP models.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import torch

from ..data.images import load_images
from ..data.lookup import GENMIX_DATASETS, resolve_dataset
from ..data.paths import DataError
from ..data.toy import make_toy

__all__ = ["GENMIX_DATASETS", "GenMixData", "load_genmix_data", "load_mnist79", "load_toy_trial"]

MNIST79_DIGITS = (7, 9)
_TEST_SEED_OFFSET = 10_000


@dataclass(frozen=True, eq=False)  # eq=False: tensors have no single truth value to compare
class GenMixData:
    """One trial's training and test sets.

    Attributes
    ----------
    name : str
    X_train : Tensor of shape (n, d), float32
    y_train : Tensor of shape (n,), int64, classes 0..k-1
    X_test : Tensor of shape (m, d), float32
    y_test : Tensor of shape (m,), int64
    classes : tuple of str
        The class names, in label order ("7", "9" for mnist79).
    image_shape : tuple of int or None
        (28, 28) for images (rows are flattened images), None for points.
    """

    name: str
    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple[str, ...]
    image_shape: tuple[int, ...] | None = None

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def load_toy_trial(name: str, trial: int, *, n_train: int, n_test: int) -> GenMixData:
    """The toy set ``name`` ("circle" or "circle3d") of one trial (seeds in the module doc)."""
    X, y = make_toy(name, n_train, random_state=trial)
    X_test, y_test = make_toy(name, n_test, random_state=_TEST_SEED_OFFSET + trial)
    return GenMixData(
        name,
        torch.from_numpy(X).float(),
        torch.from_numpy(y),
        torch.from_numpy(X_test).float(),
        torch.from_numpy(y_test),
        ("0", "1"),
    )


@functools.lru_cache(maxsize=2)
def _mnist_pair(root: str | None, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The 7s and 9s of one MNIST split: images (n, 784) uint8 and labels 0 (7) / 1 (9)."""
    images = load_images("mnist", root=root, split=split)
    first, second = MNIST79_DIGITS
    keep = (images.y == first) | (images.y == second)
    return images.x[keep].reshape(-1, 28 * 28), (images.y[keep] == second).to(torch.int64)


def load_mnist79(
    trial: int, *, n_train: int = 500, root: str | os.PathLike[str] | None = None
) -> GenMixData:
    """MNIST 7 vs 9 for one trial: ``n_train`` training images, every test 7 and 9.

    Parameters
    ----------
    trial : int
        Seeds the draw of the training images.
    n_train : int, default=500
    root : str or path, optional
        The folder holding ``mnist/`` (its four IDX files); default ``images/`` under the
        data root (``GENLABEL_DATA`` or ``../shared/data`` beside a checkout).

    Returns
    -------
    GenMixData
        Rows are flattened images (784 values in [0, 1]), float32; 7 is class 0, 9 class 1.

    Raises
    ------
    DataError
        When the MNIST files are missing or unreadable, or ``n_train`` exceeds the 7s and 9s
        of the training split.
    """
    X_all, y_all = _mnist_pair(None if root is None else str(root), "train")
    if n_train > X_all.shape[0]:
        raise DataError(
            f"n_train={n_train} exceeds the {X_all.shape[0]} 7s and 9s of MNIST's training split"
        )
    rows = torch.randperm(X_all.shape[0], generator=torch.Generator().manual_seed(trial))
    rows = rows[:n_train]
    X_test, y_test = _mnist_pair(None if root is None else str(root), "test")
    return GenMixData(
        "mnist79",
        X_all[rows].float() / 255.0,
        y_all[rows].clone(),
        X_test.float() / 255.0,
        y_test.clone(),
        tuple(str(d) for d in MNIST79_DIGITS),
        (28, 28),
    )


def load_genmix_data(
    name: str,
    trial: int,
    *,
    n_train_toy: int = 300,
    n_test_toy: int = 2000,
    n_train_images: int = 500,
    root: str | os.PathLike[str] | None = None,
) -> GenMixData:
    """One trial of a data set of :data:`GENMIX_DATASETS` (``root``: for mnist79 only)."""
    source = resolve_dataset(name, root, kind="genmix")  # a DataError for an unknown name
    if source.source == "embedded":
        return load_toy_trial(name, trial, n_train=n_train_toy, n_test=n_test_toy)
    return load_mnist79(trial, n_train=n_train_images, root=root)
