"""The image results' tables (docs/results/image-classifiers.md) from several image stores.

``genlabel images`` keeps one store per variant: a store never mixes settings, so GenLabel
over all classes, over the mixed classes and with gamma chosen on a validation split are
three stores of the same data set. This reads them side by side and prints, per data set,
one Markdown table: clean test accuracy and ECE (mean ± std over trials, percent), the
difference to the mix a GenLabel method relabels (paired by trial), the last epoch's label
diagnostics (share of cross-class mixes labelled mostly as a third class, share of one-hot
labels, mean weight on the two mixed classes), the robust accuracy of every stored attack,
and the gamma chosen per trial where a grid was given. GenLabel rows carry the store's
name (``mixup_genlabel · mixed``); the mixes and vanilla are taken from the first store
that holds them.

Run: ``.venv/bin/python benchmarks/image_table.py all=runs/mnist.sqlite
mixed=runs/mnist-mixed.sqlite "mixed, val γ"=runs/mnist-gamma.sqlite``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from genlabel.bench.report import markdown_table
from genlabel.bench.store import ResultStore
from genlabel.registry import resolve_method

#: The mix each GenLabel image method relabels (its difference is taken against it).
BASE_MIX = {
    "mixup_genlabel": "mixup",
    "manifold_genlabel": "manifold_mixup",
    "cutmix_genlabel": "cutmix",
}
ORDER = ["vanilla", "mixup", "manifold_mixup", "cutmix", "adamixup", *BASE_MIX]


def _store(name_and_path: str) -> tuple[str, Path]:
    name, sep, path = name_and_path.rpartition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=STORE, got {name_and_path!r}")
    if not Path(path).is_file():
        raise argparse.ArgumentTypeError(f"no store at {path}")
    return name, Path(path)


def read_cells(stores: list[tuple[str, Path]]) -> pd.DataFrame:
    """Every cell of the stores, GenLabel methods renamed ``method · NAME`` and each other
    method kept from the first store that holds it."""
    frames: list[pd.DataFrame] = []
    seen: set[str] = set()
    for name, path in stores:
        with ResultStore(path, read_only=True) as store:
            frame = store.frame()
        genlabel = frame.method.map(lambda m: resolve_method(m).is_genlabel)
        frame = frame[genlabel | ~frame.method.isin(seen)].copy()
        seen |= set(frame.method)
        frame["base"] = frame.method
        frame.loc[genlabel, "method"] = frame.loc[genlabel, "method"] + f" · {name}"
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _mean_std(values: pd.Series, digits: int = 2) -> str:
    if values.isna().all():
        return "–"
    values = 100 * values.dropna()
    std = values.std(ddof=0) if len(values) > 1 else float("nan")
    mean = f"{values.mean():.{digits}f}"
    mean = mean.lstrip("-") if float(mean) == 0 else mean  # "-0.00" reads as a loss
    return mean + (f" ± {std:.{digits}f}" if std == std else "")


def _gammas(params: pd.Series) -> str:
    chosen = [json.loads(p) for p in params]
    if not any("gamma_grid" in p for p in chosen):
        return ""
    return ", ".join(f"{p['gamma']:g}" for p in chosen)


def table(cells: pd.DataFrame) -> pd.DataFrame:
    """One data set's rows (its clean cells and, per attack, the robust ones)."""
    clean = cells[cells.measure == "clean"]
    attacks = sorted(m for m in cells.measure.unique() if m != "clean")
    accuracy = clean.pivot_table("test_accuracy", "trial", "method")
    rows = []
    methods = sorted(clean.method.unique(), key=lambda m: (ORDER.index(m.split(" · ")[0]), m))
    for method in methods:
        own = clean[clean.method == method].sort_values("trial")
        base = BASE_MIX.get(own.base.iloc[0])
        diff = "" if base is None or base not in accuracy else (
            _mean_std(accuracy[method] - accuracy[base])
        )  # fmt: skip
        row = {
            "method": method,
            "clean accuracy": _mean_std(own.test_accuracy),
            "Δ vs its mix": diff,
            "ECE": _mean_std(own.ece, 1),
            "third class": _mean_std(own.third_class_share, 1),
            "one-hot": _mean_std(own.one_hot_share, 1),
            "mixed weight": _mean_std(own.mixed_weight, 1),
        }
        for attack in attacks:
            part = cells[(cells.measure == attack) & (cells.method == method)]
            row[attack.removeprefix("robust-")] = _mean_std(part.robust_accuracy, 1)
        row["γ chosen"] = _gammas(own.params)
        rows.append(row)
    out = pd.DataFrame(rows)
    return out.loc[:, [c for c in out if (out[c] != "").any() and (out[c] != "–").any()]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stores", nargs="+", type=_store, help="NAME=STORE, first the base")
    args = parser.parse_args()
    cells = read_cells(args.stores)
    for dataset, part in cells.groupby("dataset", sort=False):
        trials = part[part.measure == "clean"].groupby("method").trial.nunique()
        low, high = trials.min(), trials.max()
        count = f"{low} trial{'s' if low > 1 else ''}" if low == high else f"{low}–{high} trials"
        print(f"**{dataset}** ({count} per method)\n")
        print(markdown_table(table(part)))
        print()


if __name__ == "__main__":
    main()
