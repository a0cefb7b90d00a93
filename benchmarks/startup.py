"""First-run speed: the CLI's start-up and the demo against a bare ``import torch``.

Each command runs in a fresh interpreter (as a user types it); the reference,
``python -c "import torch"``, runs in the same rounds, so the ratios compare like with
like on a machine whose speed drifts. Wall seconds and CPU seconds (user + sys of the
command and the processes it waited for, as ``/usr/bin/time`` counts them) are medians over
interleaved rounds; on a shared machine the CPU seconds are the steadier figure, and the
load average is printed with the table.

The demo (``genlabel demo``, the quick suite, its report, the intrusion table and the
figures) runs once in an empty folder, then once more there: the rerun finds every cell
stored and every figure unchanged.

Run: ``.venv/bin/python benchmarks/startup.py [--rounds 5] [--no-demo] [--quick]``
(``--quick``: one round, no demo; a smoke test).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

REFERENCE = ("import torch", ["-c", "import torch"])
STARTUP = [
    ("genlabel --help", ["-m", "genlabel", "--help"]),
    ("genlabel bench --help", ["-m", "genlabel", "bench", "--help"]),
    ("genlabel --version", ["-m", "genlabel", "--version"]),
]


def timed(args: list[str], cwd: str | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of ``python ARGS`` (which must exit 0)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"python {' '.join(args)} failed: {result.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def startup_rows(rounds: int) -> list[tuple[str, float, float, float, float]]:
    """(command, wall s, CPU s, wall / import torch, CPU / import torch), medians."""
    commands = [REFERENCE, *STARTUP]
    timed(REFERENCE[1])  # warm the file cache: every command then starts from the same state
    samples = [[timed(args) for _, args in commands] for _ in range(rounds)]
    rows = []
    for i, (name, _) in enumerate(commands):
        wall = statistics.median(r[i][0] for r in samples)
        cpu = statistics.median(r[i][1] for r in samples)
        wall_x = statistics.median(r[i][0] / r[0][0] for r in samples)
        cpu_x = statistics.median(r[i][1] / r[0][1] for r in samples)
        rows.append((name, wall, cpu, wall_x, cpu_x))
    return rows


def demo_rows(reference: tuple[float, float]) -> list[tuple[str, float, float, float, float]]:
    """The demo in an empty folder, then resumed there (one run each)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="genlabel-demo-") as folder:
        for name in ("genlabel demo (first run)", "genlabel demo (rerun: all kept)"):
            wall, cpu = timed(["-m", "genlabel", "demo"], cwd=folder)
            rows.append((name, wall, cpu, wall / reference[0], cpu / reference[1]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved start-up rounds")
    parser.add_argument("--no-demo", action="store_true", help="time the start-up only")
    parser.add_argument("--quick", action="store_true", help="one round, no demo (smoke test)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1; got {args.rounds}")
    rounds = 1 if args.quick else args.rounds
    load = os.getloadavg()[0]
    rows = startup_rows(rounds)
    if not (args.quick or args.no_demo):
        rows += demo_rows((rows[0][1], rows[0][2]))
    load = max(load, os.getloadavg()[0])
    print(
        f"\n{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; start-up: median of {rounds} round(s); "
        f"load average up to {load:.1f}\n"
    )
    print("| command | wall s | CPU s | wall / import torch | CPU / import torch |")
    print("|---|---|---|---|---|")
    for name, wall, cpu, wall_x, cpu_x in rows:
        print(f"| `{name}` | {wall:.2f} | {cpu:.2f} | {wall_x:.2f}x | {cpu_x:.2f}x |")


if __name__ == "__main__":
    main()
