"""The help texts say what the options take: names from the registry, the real defaults."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genlabel.cli import app
from genlabel.data import TOY_DATASETS
from genlabel.plots.names import FIGURE_NAMES
from genlabel.registry import METHODS, SUITES, TABULAR_MODELS, method_names

cli = CliRunner()


def _help(*command: str) -> str:
    """The help of ``command`` as one line of words (no box drawing, no wrapping)."""
    res = cli.invoke(app, [*command, "--help"], env={"COLUMNS": "400", "NO_COLOR": "1"})
    assert res.exit_code == 0, res.output
    return " ".join(res.output.replace("│", " ").split())


def _option(text: str, name: str) -> str:
    """The help of one option: from its name to the next option."""
    start = text.index(f" {name} <")
    # The next option's row: its name(s), then its type, such as "--model <str>".
    following = re.compile(r" --[\w-]+(,--[\w-]+)*( --[\w-]+)? <")
    found = following.search(text, start + len(name) + 2)
    return text[start : found.start() if found else len(text)]


def test_bench_help_lists_the_methods_with_their_aliases() -> None:
    methods = _option(_help("bench"), "--methods")
    for name in method_names(models=TABULAR_MODELS):
        aliases = METHODS[name].aliases
        assert (f"{name} ({', '.join(aliases)})" if aliases else name) in methods
    assert "vanilla (erm), mixup (linear)" in methods


def test_bench_help_gives_the_suites_defaults() -> None:
    text = _help("bench")
    trials = _option(text, "--trials")
    assert "default: the suite's" in trials and "[default: 0]" not in trials
    assert "[default: None]" not in trials
    for suite in SUITES.values():
        assert f"{suite.name} {suite.trials}" in trials
    db = _option(text, "--db")
    assert "reports/<suite>/results.sqlite" in db
    assert "reports/custom/results.sqlite with --datasets or --csv" in db


def test_figures_and_intrusion_help_list_their_values() -> None:
    only = _option(_help("figures"), "--only")
    assert all(name in only for name in FIGURE_NAMES)
    toy = _option(_help("intrusion"), "--toy")
    assert ", ".join(TOY_DATASETS) in toy


def test_python_dash_m_genlabel_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "genlabel", "--help"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "Usage: genlabel" in out.stdout
    assert all(command in out.stdout for command in ("bench", "demo", "figures", "intrusion"))


def test_command_help_paragraphs_are_not_broken_mid_sentence() -> None:
    # Typer prints a help paragraph's line breaks as they are (the source's wrapping), so
    # each paragraph must be one line in the command's help text.
    import typer.main

    group = typer.main.get_group(app)
    for name, command in group.commands.items():
        for paragraph in (command.help or "").strip().split("\n\n"):
            assert "\n" not in paragraph.strip(), (name, paragraph)


def _modules_after(code: str) -> set[str]:
    """The top-level modules loaded by ``code`` in a fresh interpreter (this tree's sources)."""
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    script = f"{code}\nimport sys\nprint('MODULES', *sorted(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env
    )
    assert out.returncode == 0, out.stderr
    return set(out.stdout.rpartition("MODULES ")[2].split())  # after the command's output


HEAVY = {"torch", "sklearn", "pandas", "matplotlib", "scipy"}


def test_importing_the_cli_imports_no_heavy_library() -> None:
    """`genlabel --help` took about 4 s of CPU: importing genlabel.cli imported torch,
    scikit-learn, pandas and matplotlib; the commands import them when they run."""
    assert not HEAVY & _modules_after("import genlabel.cli")


@pytest.mark.parametrize("command", ["", "bench", "report", "demo", "figures", "images", "genmix"])
def test_each_commands_help_imports_no_heavy_library(command: str) -> None:
    """`genlabel <command> --help` took seconds: it imported torch and scikit-learn first."""
    argv = ["genlabel", *command.split(), "--help"]
    code = (
        f"import sys\nfrom genlabel.cli import main\nsys.argv = {argv!r}\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code"
    )
    assert not HEAVY & _modules_after(code)


def test_import_genlabel_loads_torch_on_first_use_and_never_the_cli_pandas_or_matplotlib() -> None:
    loaded = _modules_after("import genlabel")
    assert not HEAVY & loaded and "genlabel.cli" not in loaded
    loaded = _modules_after(
        "import genlabel\ngenlabel.GenLabelMixup\nfrom genlabel import mix_pairs"
    )
    assert "torch" in loaded
    assert not {"pandas", "matplotlib", "genlabel.cli"} & loaded


def test_every_public_name_of_genlabel_resolves() -> None:
    import genlabel

    for name in genlabel.__all__:
        assert getattr(genlabel, name) is not None, name
    assert set(genlabel.__all__) <= set(dir(genlabel))
    with pytest.raises(AttributeError, match="no_such_name"):
        genlabel.no_such_name  # noqa: B018


def test_the_registry_names_are_the_owning_modules_names() -> None:
    """The CLI's help reads these names from the registry (no torch); the modules that own
    them re-export the same values."""
    from genlabel import registry
    from genlabel.data import TOY_DATASETS
    from genlabel.data.images import IMAGE_DATASETS
    from genlabel.labels import LABEL_RULES
    from genlabel.plots import FIGURES
    from genlabel.robustness import ATTACKS
    from genlabel.training.grid import DEFAULT_LATENT, LATENTS

    assert tuple(TOY_DATASETS) == registry.TOY_NAMES
    assert tuple(FIGURES) == registry.FIGURE_NAMES == FIGURE_NAMES
    assert LABEL_RULES == registry.LABEL_RULES
    assert IMAGE_DATASETS == registry.IMAGE_DATASETS
    assert ATTACKS == registry.ATTACKS
    assert DEFAULT_LATENT == registry.DEFAULT_LATENT and DEFAULT_LATENT in LATENTS


def test_version_prints_the_packages_version() -> None:
    import genlabel

    res = cli.invoke(app, ["--version"])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == f"genlabel {genlabel.__version__}"
