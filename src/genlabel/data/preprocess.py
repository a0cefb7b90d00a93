"""The benchmark's preprocessing with scikit-learn, fitted on the training part only."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

__all__ = ["make_preprocessor", "categorical_columns"]


def categorical_columns(X: pd.DataFrame) -> list[str]:
    """Columns that are not numeric (strings, categories, booleans).

    Parameters
    ----------
    X : DataFrame

    Returns
    -------
    list of str
        Their names, in column order.

    Examples
    --------
    >>> import pandas as pd
    >>> categorical_columns(pd.DataFrame({"a": [1.0], "b": ["x"], "c": [True]}))
    ['b', 'c']
    """
    return [
        c
        for c in X.columns
        if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])
    ]


def make_preprocessor(X: pd.DataFrame) -> ColumnTransformer:
    """Impute (mean / most frequent), one-hot encode categoricals, standardise everything.

    Standardising after one-hot encoding keeps every input on one scale, which the
    densities and the attacks' eps (a fraction of the value range) rely on.

    Parameters
    ----------
    X : DataFrame
        The raw features; only their columns and dtypes are read (nothing is fitted).

    Returns
    -------
    ColumnTransformer
        Unfitted; its output is dense float64.
    """
    categorical = categorical_columns(X)
    numeric = [c for c in X.columns if c not in categorical]
    steps = []
    if numeric:
        steps.append(
            (
                "num",
                make_pipeline(
                    SimpleImputer(strategy="mean", keep_empty_features=True), StandardScaler()
                ),
                numeric,
            )
        )
    if categorical:
        steps.append(
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent", keep_empty_features=True),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float64),
                    StandardScaler(),
                ),
                categorical,
            )
        )
    return ColumnTransformer(steps, remainder="drop", sparse_threshold=0.0)
