"""The README: every Python block runs on its own, every image it shows is a tracked file,
and it speaks to users (no references to internal design documents)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


def test_the_readme_has_examples() -> None:
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_each_python_block_runs_alone(index: int, tmp_path: Path) -> None:
    # A fresh interpreter per block: no block may depend on another's names.
    result = subprocess.run(
        [sys.executable, "-c", BLOCKS[index]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (
        f"block {index} failed:\n{BLOCKS[index]}\n{result.stderr[-2000:]}"
    )


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
