"""Relabeling speed: GenLabel's batched densities against the per-class scipy way.

For each (k, d), fit on n = 2000 points, then time labelling a batch of 128 mixed points:
- genlabel: ``density.targets(Z)`` (the values of ``genlabel_targets(density.log_prob(Z))``
  in fewer operations; all classes in one pass, densities fitted once, untimed);
- scipy, per batch (the reference): one call per class per batch, pdf normalised over the
  classes: ``multivariate_normal.pdf(Z, mean_c, cov_c)`` / ``gaussian_kde(X_c).pdf(Z)``,
  the way a relabeling loop written with scipy does it;
- scipy, frozen (shown for transparency, not the target): the frozen scipy objects built
  once, untimed, and only ``.pdf`` timed per class.

The three are timed in interleaved rounds; a speed-up is the median over rounds of the
reference's time over genlabel's in the same round (steadier on a shared machine than a
ratio of two separate timings). Both sides get the same number of threads (``--threads``,
1 by default): on a batch of 128 points neither gains from a second thread, and with two,
torch's OpenMP pool and numpy's OpenBLAS pool, each spinning after its call, slow each
other down in interleaved rounds, which times the pools rather than the relabeling.

Run: ``.venv/bin/python benchmarks/relabel.py`` (or ``make bench``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import scipy.stats as st
import torch
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, markdown_table, paired_times  # noqa: E402
from genlabel import ClassDensity, GaussianClassDensity, KDEClassDensity  # noqa: E402


def make_problem(
    k: int, d: int, n: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    X = rng.normal(size=(n, d)) + 3 * rng.normal(size=(k, d))[y]
    i, j = rng.integers(0, n, 128), rng.integers(0, n, 128)
    lam = rng.beta(1, 1)
    return X, y, lam * X[i] + (1 - lam) * X[j]


def run(n: int = 2000, dtype: torch.dtype = torch.float64) -> list[list[str]]:
    rows = []
    for kind in ("gm", "kde"):
        for k in (2, 10):
            for d in (4, 20, 100):
                X, y, Zmix = make_problem(k, d, n)
                if kind == "kde" and n // k <= d:
                    # gaussian_kde refuses a class with no more points than dimensions
                    # (singular covariance); ours regularises it, but there is no reference.
                    print(f"KDE k={k} d={d}: skipped, scipy needs n/k > d", file=sys.stderr)
                    continue
                Z = torch.tensor(Zmix, dtype=dtype)
                dens: ClassDensity
                if kind == "gm":
                    dens = gm = GaussianClassDensity().fit(X, y)
                    stats = [(gm.means_[c].numpy(), gm.covariances_[c].numpy()) for c in range(k)]
                    frozen = [st.multivariate_normal(m, S) for m, S in stats]

                    def scipy_labels(stats=stats, Zmix=Zmix):
                        p = np.stack([st.multivariate_normal.pdf(Zmix, m, S) for m, S in stats], 1)
                        return p / p.sum(1, keepdims=True)

                    def scipy_frozen(frozen=frozen, Zmix=Zmix):
                        p = np.stack([f.pdf(Zmix) for f in frozen], 1)
                        return p / p.sum(1, keepdims=True)
                else:
                    dens = KDEClassDensity().fit(X, y)
                    parts = [X[y == c].T for c in range(k)]
                    frozen = [st.gaussian_kde(part) for part in parts]

                    def scipy_labels(parts=parts, Zmix=Zmix):
                        p = np.stack([st.gaussian_kde(part).pdf(Zmix.T) for part in parts], 1)
                        return p / p.sum(1, keepdims=True)

                    def scipy_frozen(frozen=frozen, Zmix=Zmix):
                        p = np.stack([f.pdf(Zmix.T) for f in frozen], 1)
                        return p / p.sum(1, keepdims=True)

                def ours(dens=dens, Z=Z):
                    return dens.targets(Z)

                # Same labels as scipy (rows where every scipy pdf underflows are 0/0 there).
                ref = scipy_labels()
                ok = np.isfinite(ref).all(1)
                np.testing.assert_allclose(ours().numpy()[ok], ref[ok], atol=1e-4)
                (ours_s, ref_s, frozen_s), (_, ref_x, frozen_x) = paired_times(
                    [ours, scipy_labels, scipy_frozen]
                )
                rows.append(
                    [
                        kind.upper(),
                        str(k),
                        str(d),
                        f"{ours_s * 1e3:.3f}",
                        f"{ref_s * 1e3:.3f}",
                        f"**{ref_x:.1f}x**",
                        f"{frozen_s * 1e3:.3f}",
                        f"{frozen_x:.1f}x",
                    ]
                )
                print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--float32", action="store_true", help="time genlabel in float32")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads for torch and for numpy/scipy's BLAS alike (default 1: see the docstring)",
    )
    args = parser.parse_args()
    dtype = torch.float32 if args.float32 else torch.float64
    torch.set_num_threads(args.threads)
    # threadpoolctl comes with scikit-learn; it caps numpy/scipy's OpenBLAS the same way.
    with threadpool_limits(limits=args.threads):
        rows = run(args.n, dtype)
    print(
        f"\nMachine: {machine()}; genlabel dtype {dtype}; batch of 128 mixed points, n = {args.n}\n"
    )
    header = [
        "density",
        "k",
        "d",
        "genlabel ms",
        "scipy per batch ms",
        "speed-up",
        "scipy frozen ms",
        "vs frozen",
    ]
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
