"""A loaded tabular data set: raw features and labels encoded over the whole set."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["Dataset", "encode_labels"]


@dataclass
class Dataset:
    """Raw features (a DataFrame, categorical columns as strings) and encoded labels.

    Parameters
    ----------
    name : str
        A readable name (the OpenML name, a CSV file's stem).
    dataset_id : str
        The id it is loaded by.
    X : DataFrame of shape (n, d)
        The raw features.
    y : ndarray of shape (n,), int64
        Class indices into ``classes``, fixed from the whole data set.
    classes : ndarray of shape (k,)
        The original label values.
    source : str, default=""
        Where it was read from.
    extra : dict
        Loader-specific facts (a CSV file's ``rows_without_label``).
    """

    name: str
    dataset_id: str
    X: pd.DataFrame
    y: np.ndarray  # int64 class indices, fixed from the whole data set
    classes: np.ndarray
    source: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def encode_labels(
    X: pd.DataFrame, labels: pd.Series, name: str, dataset_id: str, source: str
) -> Dataset:
    """A Dataset with rows of missing label dropped and labels encoded over the whole set."""
    keep = labels.notna().to_numpy()  # the protocol drops rows with a missing label
    X, labels = X.loc[keep].reset_index(drop=True), labels.loc[keep].reset_index(drop=True)
    classes, y = np.unique(labels.astype(str).to_numpy(), return_inverse=True)
    return Dataset(name, dataset_id, X, y.astype(np.int64), classes, source)
