"""A user's own CSV: by path, the label column named and checked, named by the file's stem."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest
from sklearn.datasets import load_iris
from typer.testing import CliRunner

from genlabel.bench import BenchSession, BenchSettings
from genlabel.cli import app
from genlabel.data import DataError, load_csv

cli = CliRunner()


def _iris(label_first: bool) -> pd.DataFrame:
    bunch = load_iris(as_frame=True)
    frame = bunch.data.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    species = bunch.target.map(dict(enumerate(bunch.target_names)))
    frame.insert(0 if label_first else frame.shape[1], "species", species)
    frame.insert(1, "row_id", range(len(frame)))
    return frame


@pytest.mark.parametrize("label_first", [True, False])
def test_the_label_column_is_found_wherever_it_is(tmp_path, label_first) -> None:
    path = tmp_path / "flowers.csv"
    _iris(label_first).drop(columns="row_id").to_csv(path, index=False)
    data = load_csv(path, "species")
    assert data.name == data.dataset_id == "flowers"
    assert data.n_classes == 3 and data.X.shape == (150, 4) and "species" not in data.X


def test_bench_on_own_csv_files_by_path(tmp_path) -> None:
    first, last = tmp_path / "label_first.csv", tmp_path / "label_last.csv.gz"
    _iris(True).drop(columns="row_id").to_csv(first, index=False)
    with gzip.open(last, "wt") as fh:
        _iris(False).drop(columns="row_id").to_csv(fh, index=False)
    args = ["bench", "--csv", str(first), "--csv", str(last), "--label", "species",
            "--methods", "vanilla,mixup", "--trials", "1", "--epochs", "5",
            "--db", str(tmp_path / "own.sqlite"), "--no-progress"]  # fmt: skip
    res = cli.invoke(app, args)
    assert res.exit_code == 0, res.output
    cells = pd.read_csv(tmp_path / "results.csv")
    assert set(cells.dataset) == {"label_first", "label_last"} and len(cells) == 4
    assert (cells.test_accuracy > 0.6).all()  # species, not a float feature, was the label
    report = (tmp_path / "report.md").read_text()
    assert "| label_first |" in report and "(label_first)" not in report


def test_the_same_from_python(tmp_path) -> None:
    path = tmp_path / "flowers.csv"
    _iris(False).drop(columns="row_id").to_csv(path, index=False)
    session = BenchSession(
        csv=[path], label="species", methods=["mixup"], trials=1,
        settings=BenchSettings(epochs=3), db=tmp_path / "s.sqlite", progress=False,
        log=lambda _m: None,
    )  # fmt: skip
    assert session.datasets == ["flowers"]
    assert session.run().cells_stored == 1


BAD_LABELS = [
    (None, r"needs its label column \(--label COLUMN\); columns of bad.csv: species, row_id"),
    ("kind", r"bad.csv has no column 'kind'; pick the class column .* columns: species, row_id"),
    ("petal_length", "distinct non-integer numbers: that looks like a feature"),
    ("row_id", "150 classes for 150 rows .* looks like an id"),
]


@pytest.mark.parametrize(("label", "message"), BAD_LABELS)
def test_a_bad_label_column_says_why_and_how(tmp_path, label, message) -> None:
    path = tmp_path / "bad.csv"
    _iris(True).to_csv(path, index=False)
    with pytest.raises(DataError, match=message):
        load_csv(path, label or "")
    args = ["bench", "--csv", str(path), "--db", str(tmp_path / "x.sqlite"), "--no-progress"]
    res = cli.invoke(app, args + (["--label", label] if label else []))
    assert res.exit_code == 2 and res.output.startswith("error: ") and res.output.count("\n") == 1


def test_a_missing_csv_is_named(tmp_path) -> None:
    res = cli.invoke(app, ["bench", "--csv", str(tmp_path / "nope.csv"), "--label", "y"])
    assert res.exit_code == 2 and "nope.csv" in res.output
