"""The help texts say what the options take: names from the registry, the real defaults."""

from __future__ import annotations

import re
import subprocess
import sys

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
