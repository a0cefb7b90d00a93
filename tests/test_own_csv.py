"""A user's own CSV: by path, the label column named and checked, named by the file's stem."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from typer.testing import CliRunner

from genlabel.bench import BenchError, BenchSession, BenchSettings, Job, run_job
from genlabel.cli import app
from genlabel.data import DataError, SavedIndexWarning, load_csv, load_dataset

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
    cells = pd.read_csv(tmp_path / "own" / "results.csv")
    assert set(cells.dataset) == {"label_first", "label_last"} and len(cells) == 4
    assert (cells.test_accuracy > 0.6).all()  # species, not a float feature, was the label
    report = (tmp_path / "own" / "report.md").read_text()
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


def _flowers(tmp_path, name: str = "flowers.csv") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    _iris(False).drop(columns="row_id").to_csv(path, index=False)
    return path


def _own(tmp_path, **kwargs) -> BenchSession:
    base = dict(label="species", methods=["generative_gm"], trials=1,
                db=tmp_path / "own.sqlite", progress=False, log=lambda _m: None)  # fmt: skip
    return BenchSession(**(base | kwargs))


def test_datasets_and_csv_files_run_together(tmp_path) -> None:
    path = _flowers(tmp_path)
    session = _own(tmp_path, datasets=["wine"], csv=[path])
    assert set(session.datasets) == {"wine", "flowers"}
    assert session.run().cells_stored == 2
    assert set(session.results().dataset) == {"wine", "flowers"}
    # Naming a file's stem in --datasets as well runs it once.
    assert _own(tmp_path, datasets=["flowers", "wine"], csv=[path, path]).plan().total == 2


def test_csv_stems_that_clash_are_errors(tmp_path) -> None:
    first, second = _flowers(tmp_path), _flowers(tmp_path, "more/flowers.csv.gz")
    with pytest.raises(BenchError, match=f"both named 'flowers'.*{first}.*{second}"):
        _own(tmp_path, csv=[first, second])
    for stem in ("iris", "moons", "40994"):
        path = _flowers(tmp_path, f"{stem}.csv")
        with pytest.raises(BenchError, match=f"named '{stem}' by its stem.*rename the file"):
            _own(tmp_path, datasets=["wine"], csv=[path])
        with pytest.raises(DataError, match="rename the file"):  # the library says so too
            load_dataset("wine", csv_files=(str(path),), label="species")


def test_a_csv_path_given_as_a_data_set_id_says_to_use_csv(tmp_path) -> None:
    res = cli.invoke(app, ["bench", "--datasets", "my.csv", "--db", str(tmp_path / "x.sqlite")])
    assert res.exit_code == 2 and res.output.count("\n") == 1
    assert "--csv my.csv --label COLUMN" in res.output
    with pytest.raises(DataError, match="--csv data/my.csv.gz --label COLUMN"):
        load_dataset("data/my.csv.gz")


def test_label_without_csv_is_an_error(tmp_path) -> None:
    res = cli.invoke(app, ["bench", "--datasets", "iris", "--label", "species",
                           "--db", str(tmp_path / "x.sqlite")])  # fmt: skip
    assert res.exit_code == 2 and res.output.count("\n") == 1
    assert "--label names the class column of --csv files" in res.output
    with pytest.raises(BenchError, match="--label names the class column"):
        _own(tmp_path, datasets=["iris"])


def test_an_edited_csv_is_not_resumed_from_the_old_cells(tmp_path) -> None:
    path = _flowers(tmp_path)
    assert _own(tmp_path, datasets=["wine"], label=None).run().cells_stored == 1  # no CSV
    session = _own(tmp_path, datasets=["wine"], csv=[path])
    plan = session.plan()  # wine's cells keep the fingerprint of a run without CSV files
    assert (plan.total, plan.todo) == (2, 1)
    session.run(plan)
    config = json.loads(session.results().query("dataset == 'flowers'").config.iloc[0])
    assert config["csv_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert "label" not in json.loads(session.results().query("dataset == 'wine'").config.iloc[0])
    assert _own(tmp_path, datasets=["wine"], csv=[path]).plan().todo == 0  # same bytes: resumed
    frame = pd.read_csv(path)
    frame.loc[0, "sepal_length"] += 1.0
    frame.to_csv(path, index=False)
    with pytest.raises(BenchError, match="another version of a --csv file.*use another --db"):
        _own(tmp_path, datasets=["wine"], csv=[path]).plan()
    res = cli.invoke(app, ["bench", "--csv", str(path), "--label", "species", "--methods",
                           "generative_gm", "--trials", "1", "--db", str(tmp_path / "own.sqlite"),
                           "--no-progress"])  # fmt: skip
    assert res.exit_code == 2 and "use another --db" in res.output


def test_an_edited_csv_is_read_again_in_the_same_process(tmp_path) -> None:
    path = _flowers(tmp_path)
    settings = BenchSettings(csv_files=(str(path),), label="species")
    job = Job("flowers", 0, "logistic", 1.0, ("generative_gm",), settings)
    assert run_job(job)[0]["test_accuracy"] > 0.9
    frame = pd.read_csv(path)
    frame["species"] = frame["species"].sample(frac=1.0, random_state=0).to_numpy()
    frame.to_csv(path, index=False)  # labels shuffled: nothing left to learn
    assert run_job(job)[0]["test_accuracy"] < 0.6


def test_the_index_pandas_saved_is_dropped_with_a_warning(tmp_path) -> None:
    path = tmp_path / "indexed.csv"
    _iris(False).drop(columns="row_id").to_csv(path)  # index=True: "Unnamed: 0" = 0..149
    match = "dropped its first column 'Unnamed: 0'.*index=False"
    with pytest.warns(SavedIndexWarning, match=match):
        data = load_csv(path, "species")
    assert data.X.shape == (150, 4) and "Unnamed: 0" not in data.X
    kept = tmp_path / "kept.csv"  # a first column of other numbers is a feature
    frame = pd.read_csv(path)
    frame["Unnamed: 0"] = frame["Unnamed: 0"] * 3 + 7
    frame.to_csv(kept, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_csv(kept, "species").X.shape == (150, 5)


def test_the_saved_index_warning_is_one_line_once_on_the_command_line(tmp_path) -> None:
    path = tmp_path / "indexed.csv"
    _iris(False).drop(columns="row_id").to_csv(path)
    args = ["bench", "--csv", str(path), "--label", "species", "--methods", "vanilla",
            "--trials", "2", "--epochs", "2", "--jobs", "2", "--no-progress",
            "--db", str(tmp_path / "w.sqlite")]  # fmt: skip
    # The console script (python -m genlabel), whose joblib workers load the set again.
    res = subprocess.run([sys.executable, "-m", "genlabel", *args], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    warned = [line for line in res.stderr.splitlines() if "Unnamed: 0" in line]
    assert warned == [line for line in warned if line.startswith("warning: indexed.csv: dropped")]
    assert len(warned) == 1 and "UserWarning" not in res.stderr


@pytest.mark.parametrize("value", ["inf", "-inf"])
def test_an_infinite_feature_is_named_not_a_traceback(tmp_path, value) -> None:
    frame = _iris(False).drop(columns="row_id").astype({"petal_width": object})
    frame.loc[4, "petal_width"] = value
    path = tmp_path / "flowers.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"'petal_width' hold an infinite value.*data row 5"):
        load_csv(path, "species")
    args = ["bench", "--csv", str(path), "--label", "species", "--methods", "vanilla",
            "--db", str(tmp_path / "inf.sqlite"), "--no-progress"]  # fmt: skip
    res = cli.invoke(app, args)
    assert res.exit_code == 2 and "infinite value" in res.output


def test_a_header_f1_y_f2_y_repeating_the_label_is_an_error_naming_it(tmp_path) -> None:
    """A header `f1,y,f2,y` trained on the copy of the label (pandas renamed it `y.1`):
    100 % on pure noise. The repeated name is now an error naming it and its columns."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60)
    path = tmp_path / "noise.csv"
    path.write_text("f1,y,f2,y\n" + "".join(f"{rng.normal()},{c},{rng.normal()},{c}\n" for c in y))
    with pytest.raises(DataError, match=r"noise.csv: the header repeats .*'y' in columns 2, 4"):
        load_csv(path, "y")
    args = ["bench", "--csv", str(path), "--label", "y", "--methods", "vanilla",
            "--db", str(tmp_path / "dup.sqlite"), "--no-progress"]  # fmt: skip
    res = cli.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert res.output.count("\n") == 1 and "repeats column name(s) 'y'" in res.output
    assert not (tmp_path / "dup.sqlite").exists()


def test_values_near_1e300_are_an_error_naming_the_column_not_a_traceback(tmp_path) -> None:
    """A column near 1e300 standardised to NaN (its variance overflows) and the run failed
    mid-way with a traceback; now loading names the column."""
    frame = _iris(False).drop(columns="row_id")
    frame["sepal_width"] *= 1e300
    path = tmp_path / "huge.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"huge.csv: column\(s\) 'sepal_width' hold values too"):
        load_csv(path, "species")
    args = ["bench", "--csv", str(path), "--label", "species", "--methods", "vanilla",
            "--db", str(tmp_path / "huge.sqlite"), "--no-progress"]  # fmt: skip
    res = cli.invoke(app, args)
    assert res.exit_code == 2 and "'sepal_width' hold values too large" in res.output
    assert res.output.count("\n") == 1
    # Large values whose standardised form is finite are kept (only the overflow is refused).
    frame["sepal_width"] /= 1e270
    frame.to_csv(path, index=False)
    assert load_csv(path, "species").X["sepal_width"].abs().max() > 1e30


def test_a_missing_value_or_an_all_missing_column_is_not_an_overflow(tmp_path) -> None:
    frame = _iris(False).drop(columns="row_id")
    frame["empty"] = np.nan
    frame.loc[3, "petal_length"] = np.nan
    path = tmp_path / "gaps.csv"
    frame.to_csv(path, index=False)
    assert load_csv(path, "species").X.shape == (150, 5)


def _wine_csv(path: Path) -> Path:
    """sklearn's wine as a user would have it: the label first, with class names, a
    categorical column and 20 missing values."""
    import numpy as np
    from sklearn.datasets import load_wine

    bunch = load_wine(as_frame=True)
    frame = bunch.data.copy()
    rng = np.random.default_rng(0)
    frame.insert(0, "cultivar", np.array(["barbera", "grignolino", "nebbiolo"])[bunch.target])
    frame["vineyard_soil"] = rng.choice(["clay", "loam", "sand"], len(frame))
    for column, n in (("alcohol", 7), ("ash", 6), ("vineyard_soil", 7)):
        frame.loc[rng.choice(len(frame), n, replace=False), column] = np.nan
    frame.to_csv(path, index=False)
    return path


WINE_SUMMARY = [
    "data my_wine (my_wine.csv): 178 rows, 14 feature columns -> 16 features after encoding "
    "and scaling",
    "  one-hot encoded: vineyard_soil (3 values)",
    "  imputed: 20 missing values (alcohol 7, ash 6, vineyard_soil 7; mean, most frequent "
    "value for categorical columns)",
    "  classes (3): barbera 59, grignolino 71, nebbiolo 48",
]


def test_bench_says_what_it_made_of_a_csv_in_the_terminal_and_the_report(tmp_path) -> None:
    """`genlabel bench --csv wine.csv --label cultivar` printed only "report: ...": nothing
    said that a column was one-hot encoded, that 20 values were imputed, or which classes
    were found."""
    from genlabel.data.user_csv import data_summary

    path = _wine_csv(tmp_path / "my_wine.csv")
    assert data_summary(load_csv(path, "cultivar")) == WINE_SUMMARY
    args = ["bench", "--csv", str(path), "--label", "cultivar", "--methods", "vanilla,mixup",
            "--trials", "1", "--epochs", "2", "--db", str(tmp_path / "w.sqlite"),
            "--no-progress"]  # fmt: skip
    res = cli.invoke(app, args)
    assert res.exit_code == 0, res.output
    out = res.output
    assert "\n".join(WINE_SUMMARY) in out and out.index(WINE_SUMMARY[0]) < out.index("finished")
    assert "Test accuracy in percent, model logistic, α = 1 (one trial):" in out
    assert "| data set | vanilla | mixup |" in out and "| my_wine | " in out
    report = (tmp_path / "report.md").read_text()
    assert "## Data\n\n- " + WINE_SUMMARY[0] in report
    assert "  - imputed: 20 missing values (alcohol 7" in report
    # Run again, nothing to do: no summary (no training), the table all the same.
    again = cli.invoke(app, args)
    assert WINE_SUMMARY[0] not in again.output and "| my_wine | " in again.output
