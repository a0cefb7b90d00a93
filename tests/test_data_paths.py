"""Where data are looked up: --data-dir, then GENLABEL_DATA, then ../shared/data by a checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

from genlabel.data import DataError, data_root, default_data_dir, openml_dir, paths


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
