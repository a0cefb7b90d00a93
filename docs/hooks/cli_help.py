"""MkDocs hook: the command line page shows the ``--help`` of every ``genlabel`` command.

A line ``<!-- genlabel-help: COMMAND -->`` in a page is replaced by that command's help, as
``genlabel COMMAND --help`` prints it (``<!-- genlabel-help: -->`` for the top level), so
the page cannot drift from the code. A command of the app that the page does not show,
or a marker naming no command, fails the build.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^<!-- genlabel-help:\s*([\w-]*)\s*-->$", re.M)

# Run in a fresh interpreter: the help of the sources in this checkout (src/ first on the
# path), plain click formatting (no rich boxes), 100 columns.
_SCRIPT = """
import json
import typer.main
from typer.testing import CliRunner
from genlabel.cli import app

command = typer.main.get_command(app)
names = sorted(command.list_commands(None))
runner = CliRunner()
helps = {}
for name in [""] + names:
    args = ([name] if name else []) + ["--help"]
    result = runner.invoke(app, args, prog_name="genlabel", terminal_width=100)
    if result.exit_code != 0:
        raise SystemExit(f"genlabel {name} --help failed: {result.output}")
    helps[name] = result.output
print(json.dumps(helps))
"""

_cache: dict[str, str] | None = None


def command_helps() -> dict[str, str]:
    """The ``--help`` text of the top level ("") and of every command, by name."""
    global _cache
    if _cache is None:
        env = dict(os.environ, TYPER_USE_RICH="0", COLUMNS="100", TERMINAL_WIDTH="100")
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT / "src")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        )
        result = subprocess.run(
            [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, env=env, timeout=300
        )
        if result.returncode != 0:
            raise PluginError(f"cli_help: could not read genlabel's help:\n{result.stderr}")
        _cache = json.loads(result.stdout)
    return _cache


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ANN001 (mkdocs API)
    names = MARKER.findall(markdown)
    if not names:
        return markdown
    helps = command_helps()
    unknown = sorted(set(names) - set(helps))
    if unknown:
        raise PluginError(f"{page.file.src_path}: no genlabel command {unknown}")
    missing = sorted(set(helps) - set(names))
    if missing:
        raise PluginError(
            f"{page.file.src_path} shows the help of some commands but not of {missing}: "
            "add a '<!-- genlabel-help: NAME -->' line for each"
        )

    def block(match: re.Match[str]) -> str:
        return "```text\n" + helps[match.group(1)].rstrip() + "\n```"

    return MARKER.sub(block, markdown)
