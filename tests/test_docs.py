"""The documentation site builds with ``mkdocs build --strict``: no broken link or anchor,
no page missing from the nav, every API reference resolved, the command line page equal to
every command's ``--help``; and no docstring carries a measurement history (dates, commit
hashes, hosts: those belong in the lab notebook, docs/performance.md)."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_readme import HISTORY

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings") is None,
    reason="the docs extra is not installed (pip install -e '.[docs]'; make venv installs it)",
)
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    cli = (tmp_path / "site" / "guide" / "cli" / "index.html").read_text()
    assert cli.count("Usage: genlabel") >= 9  # the top level and every command


def _docstrings(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node)
            if doc:
                yield getattr(node, "name", path.stem), doc


def test_no_docstring_names_a_date_commit_or_host() -> None:
    found = [
        f"{path.relative_to(ROOT)}: {name}: {HISTORY.search(doc)[0]}"
        for path in sorted((ROOT / "src" / "genlabel").rglob("*.py"))
        for name, doc in _docstrings(path)
        if HISTORY.search(doc)
    ]
    assert not found, found


def test_the_changelog_names_the_package_version() -> None:
    """CHANGELOG.md's latest release is the version of the package (``genlabel.__version__``,
    which ``genlabel --version`` shows) and of pyproject.toml."""
    import genlabel

    changelog = (ROOT / "CHANGELOG.md").read_text()
    releases = [line for line in changelog.splitlines() if line.startswith("## [")]
    assert releases, "CHANGELOG.md has no release heading '## [x.y.z]'"
    latest = releases[0].removeprefix("## [").split("]")[0]
    if latest == "Unreleased":
        latest = releases[1].removeprefix("## [").split("]")[0]
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert version is not None
    assert latest == genlabel.__version__ == version[1]


def _modules() -> list[str]:
    import pkgutil

    import genlabel

    return [
        m.name
        for m in pkgutil.walk_packages(genlabel.__path__, "genlabel.")
        if ".cli" not in m.name and not m.name.endswith("__main__")
    ]


def test_the_docstring_examples_run() -> None:
    """The ``Examples`` sections of the docstrings (shown in the API reference) pass as
    doctests."""
    import doctest
    import importlib

    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    failed = [
        name
        for name in _modules()
        if doctest.testmod(importlib.import_module(name), optionflags=flags).failed
    ]
    assert not failed, f"doctests fail in {failed}"
