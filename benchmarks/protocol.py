"""The reference model selection of GenLabel (CV), batched against one model at a time.

On a synthetic set (n = 500, d = 10, 2 classes) time
- batched: ``MixupClassifier(method="genlabel_cv").fit`` — 5 folds x 4 lr x 6 gamma x
  2 densities (+ the refits) trained as one stack;
- one at a time (the reference scripts' way): a DataLoader-style loop with
  ``torch.optim.Adam`` and per-class scipy labels per batch (``tests/reference_trainer.py`` with
  ``label_backend="scipy"``): a few single fits are timed and multiplied by the number of
  fits in the grid (5 x 48 + 1 refit).
Then, in a fresh process each, the peak memory of the batched fit for n = 2,000, d = 20,
k = 10.

Run: ``.venv/bin/python benchmarks/protocol.py [--model logistic|mlp] [--latent VARIANT]``
(``--latent``: GenLabel's variant with the MLP, default the package's).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import make_classification

# The benchmarks' helpers, and the checkout (for the reference trainer in tests/).
sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).resolve().parent.parent)]
from tests.reference_trainer import train_single  # noqa: E402

from _common import machine, markdown_table  # noqa: E402
from genlabel.estimators import MixupClassifier  # noqa: E402
from genlabel.training.grid import LATENTS, TrainSettings  # noqa: E402
from genlabel.training.grids import (  # noqa: E402
    DEFAULT_DENSITY_GRID,
    DEFAULT_GAMMA_GRID,
    DEFAULT_LR_GRID,
    Config,
)
from genlabel.training.selection import cv_splits  # noqa: E402


def batched_seconds(model: str, X: np.ndarray, y: np.ndarray, latent: str | None) -> float:
    start = time.perf_counter()
    MixupClassifier(method="genlabel_cv", model=model, random_state=0, latent=latent).fit(X, y)
    return time.perf_counter() - start


def single_seconds(
    model: str, X: np.ndarray, y: np.ndarray, samples: int, latent: str | None
) -> tuple[float, int]:
    """Mean seconds of one fit the one-at-a-time way, and the number of fits in the grid."""
    X_t, y_t = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    splits = cv_splits(y, 5, 0)
    settings = TrainSettings(model=model, method="genlabel", seed=0, latent=latent)
    grid = [
        (lr, g, d)
        for d in DEFAULT_DENSITY_GRID
        for lr in DEFAULT_LR_GRID
        for g in DEFAULT_GAMMA_GRID
    ]
    picks = np.random.default_rng(0).choice(len(grid), size=samples, replace=False)
    times = []
    for i in picks:
        lr, gamma, density = grid[i]
        fold = int(i) % len(splits)
        start = time.perf_counter()
        train_single(
            X_t,
            y_t,
            2,
            torch.as_tensor(splits[fold][0]),
            Config(fold, lr, gamma, density),
            settings,
            label_backend="scipy",
        )
        times.append(time.perf_counter() - start)
    return float(np.mean(times)), len(splits) * len(grid) + 1


def peak_memory_child(model: str, latent: str | None) -> None:
    X, y = make_classification(
        2000, 20, n_informative=12, n_classes=10, n_clusters_per_class=1, random_state=0
    )
    MixupClassifier(method="genlabel_cv", model=model, random_state=0, latent=latent).fit(X, y)
    print(json.dumps({"max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", choices=["logistic", "mlp"], default="logistic")
    parser.add_argument(
        "--latent", choices=LATENTS, default=None, help="GenLabel's variant (MLP only)"
    )
    parser.add_argument(
        "--samples", type=int, default=2, help="single fits to time (even: GM and KDE alike)"
    )
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    if args.latent is not None and args.model != "mlp":
        parser.error("--latent needs --model mlp (the logistic model has no hidden layer)")
    if args.memory_child:
        peak_memory_child(args.model, args.latent)
        return
    X, y = make_classification(500, 10, n_informative=6, random_state=0)
    batched = batched_seconds(args.model, X, y, args.latent)
    one, fits = single_seconds(args.model, X, y, args.samples, args.latent)
    variant = TrainSettings(model=args.model, method="genlabel", latent=args.latent).latent_variant
    rows = [
        [
            args.model if variant is None else f"{args.model} ({variant})",
            str(fits),
            f"{batched:.1f}",
            f"{one:.2f}",
            f"{one * fits:.0f}",
            f"**{one * fits / batched:.0f}x**",
        ]
    ]
    print(f"Machine: {machine()}\n")
    print(
        markdown_table(
            [
                "model",
                "fits in the grid",
                "batched genlabel_cv s",
                "one fit s (scipy labels)",
                "one at a time s (est.)",
                "speed-up",
            ],
            rows,
        )
    )
    if not args.skip_memory:
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", "--model", args.model]
            + ([] if args.latent is None else ["--latent", args.latent]),
            check=True,
            capture_output=True,
            text=True,
        )
        rss = json.loads(out.stdout.strip().splitlines()[-1])["max_rss_mb"]
        print(
            f"\nPeak memory of genlabel_cv ({args.model}) at n = 2,000, d = 20, k = 10: {rss:.0f} MB"
        )


if __name__ == "__main__":
    main()
