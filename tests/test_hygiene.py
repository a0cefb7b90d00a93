"""The code base's own rules, checked on the source: what a reviewer would otherwise have to
remember (a notebook user's matplotlib backend and global RNGs are theirs, long functions
say why, modules keep each other's private names private, the documented layout is the tree)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "genlabel"
SOURCES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 60


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _calls(tree: ast.Module) -> list[str]:
    return [ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_global_state_is_touched(path: Path) -> None:
    calls = _calls(_tree(path))
    assert "matplotlib.use" not in calls, "a notebook user's backend is theirs"
    for seeding in ("torch.manual_seed", "np.random.seed", "numpy.random.seed", "random.seed"):
        assert seeding not in calls, f"{seeding}: library code draws from its own generators"


def test_long_functions_say_why() -> None:
    unexplained = []
    for path in SOURCES:
        lines = path.read_text().split("\n")
        for node in ast.walk(_tree(path)):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            length = node.end_lineno - node.lineno + 1
            body = node.body[0]
            if isinstance(body, ast.Expr) and isinstance(body.value, ast.Constant):
                length -= body.end_lineno - body.lineno + 1  # the docstring is not code
            if length <= MAX_LINES:
                continue
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            above = lines[first - 2].strip() if first >= 2 else ""
            if not above.startswith("#"):
                unexplained.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}")
    assert not unexplained, f"over {MAX_LINES} lines without a comment saying why: {unexplained}"


def test_modules_do_not_import_each_others_private_names() -> None:
    offenders = []
    for path in SOURCES:
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                private = [
                    a.name
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
                if private:
                    offenders.append(f"{path.relative_to(PACKAGE)}: {private} from {node.module}")
    assert not offenders, offenders


def test_the_documented_layout_names_every_part_of_the_package() -> None:
    page = (ROOT / "docs" / "guide" / "methods.md").read_text()
    block = re.search(r"## Where things live\n\n```\n(.*?)```", page, re.S)
    assert block, "docs/guide/methods.md has a 'Where things live' section with the tree"
    layout = block.group(1)
    parts = [p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    parts = [f"{name}/" for name in parts] + [
        p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")
    ]
    missing = [part for part in parts if not re.search(rf"^\s+{re.escape(part)}\s", layout, re.M)]
    assert not missing, f"the documented layout does not show {missing}"
    shown = re.findall(r"^  (\S+/|\S+\.py)\s", layout, re.M)
    gone = [part for part in shown if part not in parts]
    assert not gone, f"the documented layout shows what the package no longer has: {gone}"
