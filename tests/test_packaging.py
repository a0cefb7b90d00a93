"""Packaging: installable beside a user's own torch; pinned versions only for make/CI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_declares_ranges_and_constraints_pin_exact_versions() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + [
        d for ds in project["optional-dependencies"].values() for d in ds
    ]
    assert not [d for d in deps if "==" in d], "pyproject.toml must declare ranges, not pins"
    pins = {
        line.split("==")[0].lower(): line.split("==")[1]
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert pins["torch"] == "2.13.0"
    for dep in project["dependencies"]:
        name = dep.split(">")[0].split("[")[0].strip().lower()
        assert name in pins, f"{name} has no exact version in constraints.txt"
    assert (ROOT / "LICENSE").is_file() and "MIT License" in (ROOT / "LICENSE").read_text()
    assert "2201.02354" in (ROOT / "CITATION.cff").read_text()


def test_pip_install_leaves_another_torch_alone(tmp_path) -> None:
    """In a venv whose torch is another version (a CUDA build, say), pip plans no torch."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    info = Path(purelib) / "torch-2.5.1+cu124.dist-info"  # a stand-in for a user's CUDA torch
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: torch\nVersion: 2.5.1+cu124\n")
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text("")
    report = tmp_path / "report.json"
    result = subprocess.run(
        [python, "-m", "pip", "install", "--dry-run", "--quiet", "--report", str(report),
         f"{ROOT}[dask,attacks]"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if result.returncode != 0:
        pytest.skip(f"pip could not resolve (no package index reachable?): {result.stderr[-300:]}")
    planned = {
        item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]
    }
    assert "genlabel" in planned and "numpy" in planned
    assert "torch" not in planned, "pip would replace the user's torch"
