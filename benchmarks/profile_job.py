"""Where one benchmark job spends its time: the cells' seconds and a cProfile listing.

A job is one (data set, trial) of a suite with all its methods, as ``genlabel bench`` runs
it. This is the measurement behind the suites' speed work in ``docs/performance.md``.

Run: ``.venv/bin/python benchmarks/profile_job.py 1462 [--model logistic|mlp]
[--latent two_model] [--methods vanilla,mixup] [--top 40] [--epochs 10] [--no-profile]``
(data from --data-dir, default ../shared/data/openml beside the checkout). ``--epochs``
shortens the job (same cells otherwise) for before/after timings of slow code;
``--no-profile`` times it without cProfile's overhead.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import pstats
import time
from pathlib import Path

import torch

from genlabel.bench.protocol import BenchSettings, Job, run_job
from genlabel.registry import SUITES
from genlabel.training.grid import DEFAULT_LATENT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", help="an OpenML id or an embedded name")
    parser.add_argument("--model", default="logistic", choices=["logistic", "mlp"])
    parser.add_argument("--methods", default=None, help="comma-separated (default: the suite's)")
    parser.add_argument("--latent", default=None, help="two_model | reference | input (MLP)")
    parser.add_argument("--trial", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--top", type=int, default=40, help="profile lines")
    parser.add_argument("--sort", default="cumulative", help="cumulative | tottime")
    parser.add_argument("--epochs", type=int, default=None, help="default: the suite's")
    parser.add_argument("--no-profile", action="store_true", help="time only")
    default_dir = Path(__file__).resolve().parents[2] / "shared" / "data" / "openml"
    parser.add_argument("--data-dir", default=str(default_dir))
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    suite = SUITES["paper-logistic" if args.model == "logistic" else "paper-mlp"]
    methods = tuple(args.methods.split(",")) if args.methods else tuple(suite.methods)
    latent = args.latent or (DEFAULT_LATENT if args.model == "mlp" else None)
    settings = BenchSettings(data_dir=args.data_dir, latent=latent)
    if args.epochs is not None:
        settings = dataclasses.replace(settings, epochs=args.epochs)
    job = Job(args.dataset, args.trial, args.model, 1.0, methods, settings)

    profile = cProfile.Profile()
    start = time.perf_counter()
    if not args.no_profile:
        profile.enable()
    records = run_job(job)
    profile.disable()
    total = time.perf_counter() - start
    how = "without cProfile" if args.no_profile else "with cProfile on"
    print(
        f"job {args.dataset} ({args.model}, trial {args.trial}, {settings.epochs} epochs): "
        f"{total:.1f} s {how}"
    )
    for r in sorted(records, key=lambda r: -r["seconds"]):
        print(f"  {r['method']:<18} {r['seconds']:7.2f} s  accuracy {r['test_accuracy']:.4f}")
    if not args.no_profile:
        pstats.Stats(profile).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
