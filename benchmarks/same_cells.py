"""Two runs of a suite, cell by cell: the same cells, and where the time went.

Speed work on the runner must leave the cells as they were (or move them by float rounding
only, and say so). Given two stores of the same suite (say, before and after a change, run
one after the other on the same machine), this prints, per method, how many of the cells
both stores hold are identical, the mean and largest difference in test accuracy, and how
many data sets' means moved by more than 0.5 points; then each store's wall-clock (its run
segments) and compute summed over its cells per method (the cells' ``seconds``; the
GenLabel family shares one grid, whose time its cells split evenly).

Run: ``.venv/bin/python benchmarks/same_cells.py BEFORE.sqlite AFTER.sqlite``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from genlabel.bench.report import markdown_table
from genlabel.bench.store import ResultStore

KEY = ["dataset", "method", "model", "trial", "alpha", "measure"]


def _read(path: str) -> tuple[pd.DataFrame, float]:
    with ResultStore(path, read_only=True) as store:  # leaves committed stores as they are
        return store.frame(), float(store.runs().wall_seconds.sum())


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds else "not recorded"


def cell_table(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Per method: cells in both stores, identical ones, |difference| (points) of the cells
    and of the per-set means."""
    both = before[KEY + ["test_accuracy"]].merge(
        after[KEY + ["test_accuracy"]], on=KEY, suffixes=("_before", "_after")
    )
    both["diff"] = 100 * (both.test_accuracy_after - both.test_accuracy_before)
    rows = []
    for method, cells in both.groupby("method", sort=True):
        sets = cells.groupby(["dataset", "model", "alpha", "measure"])["diff"].mean().abs()
        rows.append(
            {
                "method": method,
                "cells": len(cells),
                "identical": int((cells["diff"] == 0).sum()),
                "mean abs diff (points)": round(float(cells["diff"].abs().mean()), 3),
                "max abs diff": round(float(cells["diff"].abs().max()), 2),
                "sets moved > 0.5": f"{int((sets > 0.5).sum())} / {len(sets)}",
            }
        )
    return pd.DataFrame(rows)


def time_table(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Compute minutes summed over the cells, per method and store."""
    out = pd.DataFrame(
        {name: f.groupby("method")["seconds"].sum() / 60 for name, f in frames.items()}
    )
    out.loc["all methods"] = out.sum()
    return out.round(1).reset_index(names="method")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", help="a results.sqlite")
    parser.add_argument("after", help="a results.sqlite of the same suite")
    args = parser.parse_args()
    for path in (args.before, args.after):
        if not Path(path).is_file():
            parser.error(f"no store at {path}")
    (before, wall_before), (after, wall_after) = _read(args.before), _read(args.after)
    cells = cell_table(before, after)
    if cells.empty:
        parser.error("the two stores have no cell in common")
    print(f"{int(cells.cells.sum())} cells in both stores\n")
    print(markdown_table(cells))
    ratio = f" ({wall_before / wall_after:.2f}x)" if wall_before and wall_after else ""
    print(
        f"\nWall-clock of the run segments: before {_minutes(wall_before)}, "
        f"after {_minutes(wall_after)}{ratio}"
    )
    print("\nCompute summed over the cells (minutes):\n")
    print(markdown_table(time_table({"before": before, "after": after})))


if __name__ == "__main__":
    main()
