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


def test_where_to_add_names_files_that_exist_and_define_what_it_names() -> None:
    """docs/guide/methods.md's "Where to add ..." table: every file or folder a row names is in
    the package, and every name it gives (``DENSITIES``, ``build_step``, ...) is defined in
    one of that row's files, so the table cannot point at a place that moved."""
    page = (ROOT / "docs" / "guide" / "methods.md").read_text()
    section = re.search(r"^## Where to add \.\.\.\n(.*?)(?=^## |\Z)", page, re.S | re.M)
    assert section, "docs/guide/methods.md has a 'Where to add ...' section"
    rows = [r for r in section.group(1).splitlines() if r.startswith("| ") and "---" not in r]
    roles = [row.split("|")[1].strip() for row in rows[1:]]
    assert roles == ["a density", "a label rule", "a mix step", "a method", "a data set"]
    for row in rows[1:]:
        spans = re.findall(r"`([^`]+)`", row)
        paths = [PACKAGE / s for s in spans if re.fullmatch(r"[\w/]+(\.py|/)", s)]
        assert paths, f"no file named in {row!r}"
        missing = [str(p.relative_to(PACKAGE)) for p in paths if not p.exists()]
        assert not missing, f"'Where to add' names what the package does not have: {missing}"
        files = [f for p in paths for f in ([p] if p.is_file() else sorted(p.rglob("*.py")))]
        text = "\n".join(f.read_text() for f in files)
        names = [s for s in spans if re.fullmatch(r"[A-Za-z_]\w*", s)]
        undefined = [
            n for n in names if not re.search(rf"^\s*((def|class)\s+{n}\b|{n}\s*[:=])", text, re.M)
        ]
        assert not undefined, f"{roles[rows.index(row) - 1]}: not defined in its files: {undefined}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(path: Path) -> set[str]:
    """Every genlabel module ``path`` imports (at the top, in a function or under
    TYPE_CHECKING), relative imports resolved; ``from . import x`` counts as package.x."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {m for m in found if m == "genlabel" or m.startswith("genlabel.")}


def _imports_under(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return [m for m in sorted(modules) if any(m == p or m.startswith(p + ".") for p in packages)]


def test_density_imports_nothing_above_it() -> None:
    """Issue 39: density/_base.py imported labels.rules while labels/mixed.py imported
    density (an import running upward); every LabelDensity now lives in density/, which
    imports only the input checks, the repr, the process-group queries (_distributed) and
    the mixing primitives (mixing.params, which import only the checks): nothing from
    labels/, training/, images/, genmix/, bench/, cli/."""
    allowed = ("genlabel._validation", "genlabel._repr", "genlabel._distributed")
    allowed += ("genlabel.mixing.params",)
    allowed += ("genlabel.density",)
    offenders = {}
    for path in sorted((PACKAGE / "density").rglob("*.py")):
        mods = _imported_modules(path)
        outside = sorted(set(mods) - set(_imports_under(mods, allowed)))
        if outside:
            offenders[str(path.relative_to(PACKAGE))] = outside
    assert not offenders, f"density/ imports from above it: {offenders}"


def test_only_the_cli_imports_the_image_experiment() -> None:
    """Issue 39: genmix imported MixupStep from genlabel.images; the mix steps live in
    training/, and only the command line (and the benchmarks) import genlabel.images."""
    offenders = {}
    for path in SOURCES:
        part = path.relative_to(PACKAGE).parts[0]
        if part in ("images", "cli"):
            continue
        mods = _imports_under(_imported_modules(path), ("genlabel.images",))
        if mods:
            offenders[str(path.relative_to(PACKAGE))] = mods
    assert not offenders, f"only cli/ may import genlabel.images: {offenders}"


# (old module, new module, name): what issue 39 moved, importable from both places.
MOVED = [
    ("genlabel.labels", "genlabel.density", "genlabel_targets"),
    ("genlabel.labels.rules", "genlabel.density.targets", "genlabel_targets"),
    ("genlabel", "genlabel.density", "genlabel_targets"),
    ("genlabel.training", "genlabel.density", "OnlineGaussianLabeler"),
    ("genlabel.training.online", "genlabel.density.online", "OnlineGaussianLabeler"),
    ("genlabel", "genlabel.density", "OnlineGaussianLabeler"),
    ("genlabel.genmix.schemes", "genlabel.density.pca_gaussian", "PCAGaussianDensity"),
    ("genlabel.genmix.schemes", "genlabel.density", "PCAGaussianDensity"),
    ("genlabel.genmix", "genlabel.density", "GANClassDensity"),
    ("genlabel.genmix", "genlabel.density", "ConditionalGenerator"),
    ("genlabel.genmix.gan_density", "genlabel.density.gan", "GANClassDensity"),
    ("genlabel.genmix.gan_density", "genlabel.density.gan", "ConditionalGenerator"),
    ("genlabel.genmix", "genlabel.models", "ConditionalGAN"),
    ("genlabel.genmix.gan", "genlabel.models.gan", "ConditionalGAN"),
    ("genlabel.genmix.gan", "genlabel.models.gan", "CHECKPOINT_NAME"),
    ("genlabel", "genlabel.training.steps", "GenLabelMixup"),
    ("genlabel", "genlabel.training.steps", "MixupBatch"),
    ("genlabel.training", "genlabel.training.steps", "GenLabelMixup"),
    ("genlabel.training.dropin", "genlabel.training.steps", "GenLabelMixup"),
    ("genlabel.training.dropin", "genlabel.training.steps", "MixupBatch"),
    ("genlabel.training.methods", "genlabel.training.grids", "Config"),
    ("genlabel.training.methods", "genlabel.training.grids", "DEFAULT_DENSITY_GRID"),
    ("genlabel.training.methods", "genlabel.training.grids", "DEFAULT_GAMMA_GRID"),
    ("genlabel.training.methods", "genlabel.training.grids", "DEFAULT_LR_GRID"),
    ("genlabel.estimators.mixup", "genlabel.training.grid", "check_warmup"),
] + [
    (old, "genlabel.training.steps", name)
    for old in ("genlabel.images", "genlabel.images.steps")
    for name in (
        "MIXES",
        "AdaMixupPolicy",
        "AdaMixupStep",
        "GenLabelStep",
        "MixupStep",
        "PlainStep",
        "build_step",
        "manifold_layers",
    )
]


@pytest.mark.parametrize("old, new, name", MOVED, ids=lambda v: str(v))
def test_moved_names_keep_their_old_import_paths(old: str, new: str, name: str) -> None:
    import importlib

    assert getattr(importlib.import_module(old), name) is getattr(
        importlib.import_module(new), name
    )


def test_the_warmup_check_lives_with_the_settings_it_checks() -> None:
    """Issue 39: bench/session.py imported check_warmup from the estimator; it checks
    TrainSettings and lives beside them in training/grid.py, where both import it."""
    from genlabel.training import grid

    assert grid.check_warmup.__module__ == "genlabel.training.grid"
    mods = _imported_modules(PACKAGE / "bench" / "session.py")
    assert not _imports_under(mods, ("genlabel.estimators",)), mods
