"""Where data are looked up: --data-dir, then GENLABEL_DATA, then ../shared/data by a checkout."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from genlabel.cli import app
from genlabel.data import DataError, data_root, default_data_dir, load_openml, openml_dir, paths


def test_the_environment_variable_comes_before_the_checkout(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GENLABEL_DATA", str(tmp_path))
    assert data_root() == tmp_path
    assert default_data_dir("images") == tmp_path / "images"
    assert openml_dir() == tmp_path / "openml"
    assert openml_dir(tmp_path / "mine") == tmp_path / "mine"  # explicit beats both


def test_a_checkout_finds_the_shared_folder_beside_it(monkeypatch) -> None:
    monkeypatch.delenv("GENLABEL_DATA", raising=False)
    checkout = Path(__file__).resolve().parents[1]
    shared = checkout.parent / "shared" / "data"
    if not shared.is_dir():
        pytest.skip("no ../shared/data beside this checkout")
    assert data_root() == shared


def test_no_data_root_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.delenv("GENLABEL_DATA", raising=False)
    monkeypatch.setattr(paths, "_checkout_root", lambda: None)
    assert data_root() is None
    with pytest.raises(DataError, match="pass --data-dir .* or set GENLABEL_DATA"):
        default_data_dir("openml")


def _copy_openml(shared_data: Path, tmp_path: Path, ids: dict[str, str]) -> Path:
    """A folder with the shared manifest and, for each id, the file of another id (or its own)."""
    folder = tmp_path / "openml"
    folder.mkdir()
    shutil.copy(shared_data / "openml" / "manifest.csv", folder)
    for dest, source in ids.items():
        shutil.copy(shared_data / "openml" / f"{source}.csv.gz", folder / f"{dest}.csv.gz")
    return folder


def test_an_openml_file_replaced_by_another_sets_data_is_refused(shared_data, tmp_path) -> None:
    """An OpenML file replaced by another set's data was reported under the manifest's name
    (rows, columns and hash were not checked)."""
    folder = _copy_openml(shared_data, tmp_path, {"37": "61", "61": "61"})
    with pytest.raises(DataError, match=r"37.csv.gz does not match its row .*diabetes"):
        load_openml("37", folder)
    try:
        load_openml("37", folder)
    except DataError as exc:
        assert "150 rows, the manifest says 768" in str(exc)
        assert "sha256 is not the manifest's" in str(exc)
    assert load_openml("61", folder).name == "iris"  # its own file passes
    res = CliRunner().invoke(app, ["bench", "--datasets", "37", "--data-dir", str(folder),
                                   "--db", str(tmp_path / "x.sqlite"), "--no-progress"])  # fmt: skip
    assert res.exit_code == 2 and res.output.count("\n") == 1 and "diabetes" in res.output


def test_an_openml_file_edited_in_one_value_fails_its_manifest_hash(shared_data, tmp_path):
    folder = _copy_openml(shared_data, tmp_path, {"61": "61"})
    path = folder / "61.csv.gz"
    frame = pd.read_csv(path)
    frame.iloc[0, 0] += 1
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"61.csv.gz does not match .*: its sha256 is not"):
        load_openml("61", folder)
    # Without a manifest row (another id), the file is read as it is.
    shutil.copy(path, folder / "999999.csv.gz")
    assert len(load_openml("999999", folder).y) == 150


# -- the one data-set lookup (issue 39: tabular, image and GenMix data each resolved names
# and folders their own way) ------------------------------------------------------------------


def test_one_lookup_says_the_kind_and_the_folder_of_every_data_set(tmp_path) -> None:
    from genlabel.data import resolve_dataset

    assert resolve_dataset("iris", kind="tabular").source == "embedded"
    found = resolve_dataset("61", tmp_path, kind="tabular")
    assert (found.source, found.folder) == ("openml", tmp_path)
    assert resolve_dataset("digits", kind="image").source == "embedded"
    found = resolve_dataset("mnist", tmp_path, kind="image")
    assert (found.source, found.folder) == ("files", tmp_path)
    assert resolve_dataset("circle", kind="genmix").source == "embedded"
    assert resolve_dataset("mnist79", tmp_path, kind="genmix").folder == tmp_path


def test_the_default_folder_is_looked_up_only_when_a_set_needs_files(monkeypatch) -> None:
    from genlabel.data import resolve_dataset

    monkeypatch.delenv("GENLABEL_DATA", raising=False)
    monkeypatch.setattr(paths, "_checkout_root", lambda: None)
    assert resolve_dataset("gaussian9", kind="tabular").source == "embedded"
    found = resolve_dataset("mnist", kind="image")
    with pytest.raises(DataError, match="no data directory given for the images data"):
        found.folder  # noqa: B018


def test_every_loader_names_the_kind_a_name_of_another_kind_belongs_to() -> None:
    """Before, load_images('iris') and load_dataset('mnist') said only "unknown", and
    load_genmix_data raised a bare ValueError, not the DataError the CLI reports."""
    from genlabel.data import load_dataset
    from genlabel.data.images import load_images
    from genlabel.genmix.datasets import load_genmix_data

    with pytest.raises(
        DataError, match=r"^unknown image data set 'iris'; .*another kind: tabular\)$"
    ):
        load_images("iris")
    with pytest.raises(
        DataError,
        match=r"^unknown data set id 'mnist': expected an OpenML id .*another kind: image\)$",
    ):
        load_dataset("mnist")
    with pytest.raises(
        DataError,
        match=r"^unknown GenMix data set 'mnist'; expected one of circle, circle3d, mnist79 .*image\)$",
    ):
        load_genmix_data("mnist", 0)
    with pytest.raises(
        DataError,
        match=r"^unknown GenMix data set 'svhn'; expected one of circle, circle3d, mnist79$",
    ):
        load_genmix_data("svhn", 0)


def test_load_openml_of_an_embedded_name_says_to_load_it_by_name() -> None:
    with pytest.raises(
        DataError,
        match=r"'iris' is an embedded data set, not an OpenML id: load it with load_dataset\('iris'\)",
    ):
        load_openml("iris")
