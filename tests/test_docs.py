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


#: Objects the API reference renders that take parameters but document none, and why.
NO_PARAMETERS_SECTION = {
    "genlabel.density.LabelDensity": "a Protocol: never constructed; it documents its methods",
    "genlabel.density.ConditionalGenerator": "a Protocol: never constructed; it documents "
    "the attributes and the method it needs",
    "genlabel.genmix.ConditionalGenerator": "the same Protocol, re-exported beside the GAN",
    "genlabel.training.MixStep": "a Protocol: never constructed; it documents its method",
}


def _reference_objects() -> dict[str, object]:
    """Every function and class the API reference pages render, by the name they render it
    under: the ``__all__`` of each module a ``::: genlabel.x`` line names (unless its options
    say ``members: false``), and each object such a line names directly."""
    import importlib
    import inspect

    found: dict[str, object] = {}
    for page in sorted((ROOT / "docs" / "reference").glob("*.md")):
        for match in re.finditer(r"^::: (\S+)\n((?:[ ]{4}.*\n)*)", page.read_text(), re.M):
            name, options = match.group(1), match.group(2)
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError:
                parent, _, attr = name.rpartition(".")
                found[name] = getattr(importlib.import_module(parent), attr)
                continue
            if "members: false" in options:
                continue
            for attr in module.__all__:
                obj = getattr(module, attr)
                if inspect.isclass(obj) or inspect.isfunction(obj):
                    found[f"{name}.{attr}"] = obj
    return found


def _takes_parameters(obj: object) -> bool:
    import inspect

    try:
        signature = inspect.signature(obj)  # a class: its constructor's
    except (TypeError, ValueError):
        return False
    return any(p.name not in ("self", "cls") for p in signature.parameters.values())


def _documents_parameters(obj: object) -> bool:
    """A numpydoc ``Parameters`` section in the docstring, or in ``__init__``'s for a class
    (the reference merges the two). A dataclass the library returns may list its fields,
    which are its constructor's parameters, under ``Attributes`` instead."""
    import dataclasses
    import inspect

    docs = [inspect.getdoc(obj) or ""]
    if inspect.isclass(obj) and "__init__" in vars(obj):
        docs.append(inspect.getdoc(vars(obj)["__init__"]) or "")
    sections = ["Parameters\n----------"]
    if dataclasses.is_dataclass(obj):
        sections.append("Attributes\n----------")
    return any(section in doc for doc in docs for section in sections)


def test_every_public_object_documents_its_parameters() -> None:
    """Every function and class of the API reference that takes parameters has a numpydoc
    ``Parameters`` section (issue 40: public docstrings follow numpydoc), but for the few
    exceptions listed above with their reason."""
    objects = _reference_objects()
    assert len(objects) > 100, "the reference pages render the packages' __all__"
    stale = [name for name in NO_PARAMETERS_SECTION if name not in objects]
    assert not stale, f"exceptions the reference no longer renders: {stale}"
    missing = [
        name
        for name, obj in objects.items()
        if name not in NO_PARAMETERS_SECTION
        and _takes_parameters(obj)
        and not _documents_parameters(obj)
    ]
    assert not missing, f"no numpydoc Parameters section: {missing}"


def test_every_public_method_documents_its_parameters() -> None:
    """The methods the API reference shows with each class (public names defined in the
    class body) have a docstring, with a numpydoc ``Parameters`` section when they take
    parameters."""
    import inspect

    missing = []
    for name, obj in _reference_objects().items():
        if not inspect.isclass(obj) or not obj.__module__.startswith("genlabel"):
            continue
        for attr, member in vars(obj).items():
            function = getattr(member, "__func__", member)  # classmethod, staticmethod
            if attr.startswith("_") or not inspect.isfunction(function):
                continue
            doc = inspect.cleandoc(function.__doc__ or "")
            if not doc.strip():
                missing.append(f"{name}.{attr} (no docstring)")
            elif _takes_parameters(function) and "Parameters\n----------" not in doc:
                missing.append(f"{name}.{attr}")
    assert not missing, f"no docstring or no numpydoc Parameters section: {sorted(set(missing))}"


@pytest.mark.skipif(
    importlib.util.find_spec("griffe") is None,
    reason="the docs extra is not installed (pip install -e '.[docs]'; make venv installs it)",
)
def test_the_reference_shows_the_signature_defaults() -> None:
    """A default the API reference reads from a docstring is the signature's: griffe gives
    ``a, b : int, default=1, 2`` the default "1, 2" for both names, and ``x : {"a", "b"}``
    the default "a" even when ``x`` is required."""
    import ast
    import inspect

    import griffe

    def documented_defaults(doc: str) -> dict[str, str]:
        sections = griffe.Docstring(doc).parse("numpy", warnings=False)
        return {
            p.name: str(p.default)
            for section in sections
            if section.kind.value == "parameters"
            for p in section.value
            if p.default is not None
        }

    wrong = []
    for name, obj in _reference_objects().items():
        targets = [(name, obj)]
        if inspect.isclass(obj) and obj.__module__.startswith("genlabel"):
            for attr, member in vars(obj).items():
                function = getattr(member, "__func__", member)
                if not attr.startswith("_") and inspect.isfunction(function):
                    targets.append((f"{name}.{attr}", function))
        for label, target in targets:
            doc = inspect.getdoc(target) or ""
            if inspect.isclass(target) and "__init__" in vars(target):
                doc += "\n\n" + (inspect.getdoc(vars(target)["__init__"]) or "")
            try:
                signature = inspect.signature(target)
            except (TypeError, ValueError):
                continue
            for param, shown in documented_defaults(doc).items():
                p = signature.parameters.get(param)
                if p is None or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                    continue
                try:
                    value = ast.literal_eval(shown)
                except (ValueError, SyntaxError):  # a name or words: only "required" is wrong
                    value = p.default
                if p.default is inspect.Parameter.empty or value != p.default:
                    wrong.append(f"{label}({param}): shows {shown}, is {p.default}")
    assert not wrong, wrong
