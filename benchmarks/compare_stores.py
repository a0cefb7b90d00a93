"""Win/tie/loss of one method against the others across several result stores.

Each store is one run of ``genlabel bench`` (say, the MLP suite with ``--latent two_model``
and the same sets with ``--latent reference``): a store never mixes variants, so comparing
variants means reading several. Every method of store NAME is renamed ``method@NAME``, the
cells are restricted to the data sets that every store holds completely (all its methods x
trials), and the table compares ``--method`` (a renamed one) with every other column, as
``genlabel report`` does within one store: share of data sets higher by more than 0.5
points, on par, lower, and the mean difference. It also names the CPUs each store was
computed on: float32 training rounds by the CPU's kernels, so another kind of CPU gives
other cells from the same seeds.

Run: ``.venv/bin/python benchmarks/compare_stores.py two_model=reports/a.sqlite
reference=reports/b.sqlite --method genlabel_cv@two_model [--model mlp] [--datasets 818,915]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from genlabel.bench.report import markdown_table, mean_accuracy, win_tie_loss
from genlabel.bench.store import ResultStore


def _complete(frame: pd.DataFrame) -> set[str]:
    """The data sets with every (method, trial) cell that the store has for any set."""
    pairs = frame[["dataset", "method", "trial"]].drop_duplicates()
    full = len(pairs[["method", "trial"]].drop_duplicates())
    counts = pairs.groupby("dataset").size()
    return set(counts[counts == full].index)


UNRECORDED = "an unrecorded CPU"


def _cpus(frame: pd.DataFrame) -> list[str]:
    """The CPUs a store's cells were computed on (older stores did not record it)."""
    kinds = {json.loads(v).get("cpu", UNRECORDED) for v in frame.versions.unique()}
    return sorted(kinds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stores", nargs="+", help="NAME=PATH of a results.sqlite")
    parser.add_argument("--method", required=True, help="e.g. genlabel_cv@two_model")
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--datasets", help="comma-separated ids: compare on these sets only")
    args = parser.parse_args()

    frames, complete, cpus = [], [], {}
    for spec in args.stores:
        name, sep, path = spec.partition("=")
        if not sep or not Path(path).is_file():
            parser.error(f"expected NAME=PATH of an existing store; got {spec!r}")
        with ResultStore(path, read_only=True) as store:  # leaves committed stores as they are
            frame = store.frame()
        frame = frame[
            (frame.model == args.model) & (frame.alpha == args.alpha) & (frame.measure == "clean")
        ]
        complete.append(_complete(frame))
        frames.append(frame.assign(method=frame.method + "@" + name))
    common = set.intersection(*complete)
    if args.datasets:
        wanted = {d.strip() for d in args.datasets.split(",") if d.strip()}
        if missing := sorted(wanted - common):
            parser.error(f"not complete in every store: {', '.join(missing)}")
        common = wanted
    if not common:
        parser.error("no data set is complete in every store")
    for spec, frame in zip(args.stores, frames, strict=True):
        cpus[spec.partition("=")[0]] = _cpus(frame[frame.dataset.isin(common)])
    cells = pd.concat(frames)
    cells = cells[cells.dataset.isin(common)]
    means = mean_accuracy(cells)
    if args.method not in means.columns:
        parser.error(f"{args.method!r} is not a column; have {', '.join(means.columns)}")
    trials = sorted(int(t) for t in cells.trial.unique())
    print(f"{len(common)} data sets complete in every store; trials {trials}")
    for name, kinds in cpus.items():
        print(f"- {name}: computed on {'; '.join(kinds)}")
    if len({k for kinds in cpus.values() for k in kinds if k != UNRECORDED}) > 1:
        print("  (cells from different CPUs round differently: same seeds, other cells)")
    print()
    print(markdown_table(win_tie_loss(means, args.method)))
    print("\nMean accuracy over those sets (percent):\n")
    print(markdown_table(means.mean().round(2).rename("mean").to_frame().T))


if __name__ == "__main__":
    main()
