"""The README and the documentation pages: every Python block runs on its own, every bash
block marked runnable runs, every other block says why it cannot run here; every image the
README shows is a tracked file, and the README speaks to users (no references to internal
design documents, no dates, commit hashes or hosts).

A block is marked by an HTML comment on the line just above its fence (invisible on
GitHub and on the site):

- ``<!-- runnable -->`` above a bash block: run it (in a temporary folder, ``genlabel`` on
  the PATH);
- ``<!-- skip: REASON -->`` above any block: not run here, for REASON (a GPU, four GPUs,
  a data set that is not on this machine, hours of compute).

A Python block without a mark runs; a bash block must carry one of the two marks.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(
    r"(?:^<!--\s*(?P<mark>runnable|skip:[^>]*?)\s*-->\n)?^```(?P<lang>python|bash)\n(?P<code>.*?)^```",
    re.M | re.S,
)


@dataclass(frozen=True)
class Block:
    where: str
    lang: str
    code: str
    mark: str | None


def _blocks() -> list[Block]:
    seen: set[tuple[str, str]] = set()
    blocks = []
    for page in PAGES:
        text = page.read_text()
        for match in FENCE.finditer(text):
            lang, code = match["lang"], match["code"]
            if (lang, code) in seen:  # the README and a page show the same example: run it once
                continue
            seen.add((lang, code))
            line = text.count("\n", 0, match.start("code"))
            blocks.append(Block(f"{page.relative_to(ROOT)}:{line}", lang, code, match["mark"]))
    return blocks


BLOCKS = _blocks()
PYTHON = [b for b in BLOCKS if b.lang == "python"]
BASH = [b for b in BLOCKS if b.lang == "bash"]


def _env() -> dict[str, str]:
    # The sources of this checkout first, and the genlabel command of this interpreter.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _run(block: Block, tmp_path: Path) -> None:
    if block.mark and block.mark.startswith("skip:"):
        pytest.skip(f"{block.where}: {block.mark[5:].strip()}")
    if block.lang == "bash" and block.mark != "runnable":
        pytest.fail(
            f"{block.where}: a bash block needs '<!-- runnable -->' or "
            "'<!-- skip: REASON -->' on the line above its fence"
        )
    command = (
        [sys.executable, "-c", block.code]
        if block.lang == "python"
        else ["bash", "-euo", "pipefail", "-c", block.code]
    )
    # A fresh interpreter per block: no block may depend on another's names.
    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=_env()
    )
    assert result.returncode == 0, (
        f"{block.where} failed:\n{block.code}\n{result.stdout[-1000:]}\n{result.stderr[-2000:]}"
    )


def test_the_readme_has_examples() -> None:
    assert len(FENCE.findall(README)) >= 3
    assert any(b.where.startswith("README.md") for b in PYTHON)


def test_every_page_is_scanned() -> None:
    assert len(PYTHON) >= 10 and BASH


@pytest.mark.parametrize("block", PYTHON, ids=[b.where for b in PYTHON])
def test_each_python_block_runs_alone(block: Block, tmp_path: Path) -> None:
    _run(block, tmp_path)


@pytest.mark.parametrize("block", BASH, ids=[b.where for b in BASH])
def test_each_bash_block_runs_or_says_why_not(block: Block, tmp_path: Path) -> None:
    _run(block, tmp_path)


def test_every_image_the_readme_shows_is_tracked() -> None:
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert images
    local = [i for i in images if not i.startswith("http")]
    try:
        tracked = subprocess.run(
            ["git", "ls-files", "--", *local], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    missing = sorted(set(local) - set(tracked))
    assert not missing, f"README shows files that are not committed: {missing}"


def test_the_readme_does_not_cite_design_documents() -> None:
    assert "SPEC" not in README and "§" not in README


def test_the_readme_is_a_front_page() -> None:
    """A short front page: what, install, examples; the rest is on the documentation site."""
    assert len(README.splitlines()) <= 220
    assert "make docs" in README


#: A date, a commit hash (7-40 hex digits with a letter and a digit) or a host's processor.
HISTORY = re.compile(
    r"\b20\d\d-\d\d-\d\d\b|\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{7,40}\b|Xeon|EPYC"
)


def test_the_readme_names_no_date_commit_or_host() -> None:
    found = [line for line in README.splitlines() if HISTORY.search(line)]
    assert not found, found


def test_every_code_block_is_python_bash_or_not_code() -> None:
    """Shell commands are marked ``bash`` (so the test above sees them): another shell
    language (sh, console, ...) would escape it."""
    known = {"python", "bash", "text", "bibtex", ""}
    odd = [
        f"{page.relative_to(ROOT)}: ```{lang}"
        for page in PAGES
        for lang in re.findall(r"^```(\S*)\s*$", page.read_text(), re.M)
        if lang not in known
    ]
    assert not odd, odd
