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


#: What pip prints when it cannot reach an index (or finds no distribution on it): only then
#: is a failed install the machine's problem, not the package's.
NETWORK_ERRORS = (
    "no matching distribution found",
    "could not find a version that satisfies",
    "connection",
    "network is unreachable",
    "temporary failure in name resolution",
    "name or service not known",
    "max retries exceeded",
    "timed out",
    "proxyerror",
)


def _index_unreachable(stderr: str) -> bool:
    return any(marker in stderr.lower() for marker in NETWORK_ERRORS)


def test_only_index_problems_skip_the_install_check() -> None:
    assert _index_unreachable(
        "ERROR: Could not find a version that satisfies the requirement numpy>=1.26 (from "
        "versions: none)\nERROR: No matching distribution found for numpy>=1.26"
    )
    assert _index_unreachable(
        "WARNING: Retrying ... after connection broken by 'NewConnectionError(...: "
        "[Errno 101] Network is unreachable')"
    )
    assert not _index_unreachable(
        "configuration error: `project.license` must be valid exactly by one definition"
    )
    assert not _index_unreachable("ERROR: Cannot install genlabel because of conflicting deps")


def test_the_build_backend_reads_the_spdx_license() -> None:
    """``license = "MIT"`` with ``license-files`` (PEP 639) needs setuptools >= 77."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "MIT"
    assert pyproject["project"]["license-files"] == ["LICENSE"]
    (setuptools,) = [r for r in pyproject["build-system"]["requires"] if "setuptools" in r]
    assert int(setuptools.split(">=")[1].split(".")[0]) >= 77


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
    if result.returncode != 0 and _index_unreachable(result.stderr):
        pytest.skip(f"no package index reachable: {result.stderr[-300:]}")
    assert result.returncode == 0, f"pip install --dry-run failed:\n{result.stderr[-2000:]}"
    planned = {
        item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]
    }
    assert "genlabel" in planned and "numpy" in planned
    assert "torch" not in planned, "pip would replace the user's torch"


def test_the_version_is_pyprojects() -> None:
    """`genlabel --version` prints ``genlabel.__version__``: the installed metadata, whose one
    source is pyproject.toml."""
    import genlabel

    with open(ROOT / "pyproject.toml", "rb") as f:
        assert genlabel.__version__ == tomllib.load(f)["project"]["version"]
