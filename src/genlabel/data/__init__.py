"""Benchmark data: OpenML sets from a local folder, embedded sets, SPEC §9 preprocessing."""

from .loaders import (
    DEFAULT_DATA_DIR,
    EMBEDDED,
    DataError,
    Dataset,
    load_dataset,
    load_openml,
    read_manifest,
    suite_ids,
)
from .preprocess import categorical_columns, make_preprocessor

__all__ = [
    "DEFAULT_DATA_DIR",
    "EMBEDDED",
    "DataError",
    "Dataset",
    "categorical_columns",
    "load_dataset",
    "load_openml",
    "make_preprocessor",
    "read_manifest",
    "suite_ids",
]
