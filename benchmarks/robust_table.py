"""The robustness results' table (docs/results/robustness.md) from a robust run: clean and robust accuracy side by side.

``genlabel bench --measure robust --attack fgsm,pgd`` stores, per trained model, its clean
test accuracy and its robust accuracy under each attack. ``genlabel report`` prints one table
per attack; this prints the one wide table the results page shows (per data set the mean over
trials in percent, a block for the clean accuracy of the attacked models and one per
attack, the best of each row and block in bold, a mean row), then how ``--method`` compares
with every other method under each attack (sets higher / lower by more than 0.5 points,
mean difference), and on how many models the last attack left at most as many points
robust as the first one.

Run: ``.venv/bin/python benchmarks/robust_table.py reports/robust-mlp/results.sqlite
[--method genlabel_gm] [--model mlp] [--data-dir ../shared/data/openml]`` (a store, or the
``results.csv`` of its report).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from _common import markdown_table  # the script's folder is on sys.path
from genlabel.bench.report import TIE_POINTS, _names, _order
from genlabel.bench.store import ResultStore


def _cells(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype={"dataset": str})
    with ResultStore(path, read_only=True) as store:
        return store.frame()


def _attack(measure: str, several_eps: bool = False) -> str:
    """robust-fgsm-eps0.1 -> FGSM (FGSM eps0.1 where the run used several eps)."""
    _, attack, eps = measure.split("-")
    return f"{attack.upper()} {eps}" if several_eps else attack.upper()


def _bold_best(row: pd.Series) -> list[str]:
    best = row.max()
    return [f"**{v:.1f}**" if round(v, 1) == round(best, 1) else f"{v:.1f}" for v in row]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a result store or its results.csv")
    parser.add_argument("--method", default="genlabel_gm", help="the method compared")
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--data-dir", help="for data set names (manifest.csv)")
    args = parser.parse_args()
    if not args.results.is_file():
        parser.error(f"no store or results.csv at {args.results}")

    cells = _cells(args.results)
    cells = cells[
        (cells.model == args.model)
        & (cells.alpha == args.alpha)
        & cells.measure.str.startswith("robust-")
    ]
    if cells.empty:
        parser.error(f"no robust cells of model {args.model!r}, alpha {args.alpha:g}")
    measures = sorted(cells.measure.unique(), key=lambda m: (m.split("-")[2], m))
    several_eps = len({m.split("-")[2] for m in measures}) > 1
    methods = _order(cells.method.unique())
    if args.method not in methods:
        parser.error(f"{args.method!r} has no robust cells; have {', '.join(methods)}")
    cells = cells.assign(dataset=cells.dataset.astype(str))

    # The clean accuracy of a model is stored with each of its attacks: take the first's.
    first = cells[cells.measure == measures[0]]
    blocks = {"clean": first.pivot_table("test_accuracy", "dataset", "method") * 100}
    for measure in measures:
        part = cells[cells.measure == measure]
        blocks[_attack(measure, several_eps)] = (
            part.pivot_table("robust_accuracy", "dataset", "method") * 100
        )
    blocks = {name: block[methods] for name, block in blocks.items()}
    order = sorted(
        blocks["clean"].index, key=lambda d: (not d.isdigit(), int(d) if d.isdigit() else 0, d)
    )
    names = _names(order, args.data_dir)

    header = ["data set"] + [
        f"{name}: {m}" if i == 0 else m for name in blocks for i, m in enumerate(methods)
    ]
    rows = [
        [names[d]] + [c for block in blocks.values() for c in _bold_best(block.loc[d])]
        for d in order
    ]
    means = ["**mean**"] + [c for block in blocks.values() for c in _bold_best(block.mean())]
    print(f"{len(order)} data sets, methods {', '.join(methods)}, attacks "
          f"{', '.join(_attack(m, several_eps) for m in measures)}; mean over trials in percent\n")  # fmt: skip
    print(markdown_table(header, [*rows, means]))

    print(f"\n{args.method} against each method (sets higher / lower by more than "
          f"{TIE_POINTS} points, mean difference in points):\n")  # fmt: skip
    for name, block in blocks.items():
        for other in methods:
            if other == args.method:
                continue
            diff = block[args.method] - block[other]
            print(f"- {name}, vs {other}: higher on {(diff > TIE_POINTS).sum()}, lower on "
                  f"{(diff < -TIE_POINTS).sum()} of {len(diff)}, {diff.mean():+.1f}")  # fmt: skip
    if len(measures) > 1:
        key = ["dataset", "method", "trial"]
        a = cells[cells.measure == measures[0]].set_index(key).robust_accuracy
        b = cells[cells.measure == measures[-1]].set_index(key).robust_accuracy
        both = pd.concat([a, b], axis=1, keys=["a", "b"]).dropna()
        print(f"\n{_attack(measures[-1], several_eps)} leaves at most as many points robust as "
              f"{_attack(measures[0], several_eps)} on {(both.b <= both.a).sum()} of {len(both)} models")  # fmt: skip


if __name__ == "__main__":
    main()
