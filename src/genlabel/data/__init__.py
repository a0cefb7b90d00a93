"""Data: OpenML sets from a local folder, embedded sets, toy generators, preprocessing."""

from .lookup import DatasetSource, resolve_dataset
from .paths import DataError, data_root, default_data_dir
from .preprocess import categorical_columns, make_preprocessor
from .tabular import (
    EMBEDDED,
    Dataset,
    check_data_dir,
    load_dataset,
    load_openml,
    openml_dir,
    read_manifest,
    suite_ids,
)
from .toy import TOY_DATASETS, gaussian9_centers, make_toy
from .user_csv import SavedIndexWarning, csv_name, load_csv

__all__ = [
    "EMBEDDED",
    "DataError",
    "SavedIndexWarning",
    "TOY_DATASETS",
    "Dataset",
    "DatasetSource",
    "categorical_columns",
    "check_data_dir",
    "csv_name",
    "data_root",
    "default_data_dir",
    "load_csv",
    "load_dataset",
    "gaussian9_centers",
    "load_openml",
    "make_preprocessor",
    "make_toy",
    "openml_dir",
    "read_manifest",
    "resolve_dataset",
    "suite_ids",
]
