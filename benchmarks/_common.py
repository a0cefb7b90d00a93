"""Helpers shared by the benchmarks: timing and the machine description."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence

import pandas as pd
import torch

from genlabel.bench.report import markdown_table as report_table


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"{platform.system()} {cpu}, {os.cpu_count()} CPUs, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}"
    )


def _calls_per_round(fn: Callable[[], object], min_seconds: float) -> int:
    fn()  # warm-up
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        if time.perf_counter() - start >= min_seconds or calls >= 1 << 14:
            return calls
        calls *= 2


def _round(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def paired_times(
    fns: Sequence[Callable[[], object]], *, repeat: int = 9, min_seconds: float = 0.05
) -> tuple[list[float], list[float]]:
    """Time several functions in interleaved rounds (a round of each, then again).

    On a shared machine the speed drifts over seconds; interleaving makes every function
    see the same drift, so per-round ratios are steadier than ratios of separate timings.
    Returns each function's median seconds per call and, for every function, the median
    over rounds of (its time / the first function's time in the same round).
    """
    calls = [_calls_per_round(fn, min_seconds) for fn in fns]
    rounds = [[_round(fn, c) for fn, c in zip(fns, calls, strict=True)] for _ in range(repeat)]
    medians = [statistics.median(r[i] for r in rounds) for i in range(len(fns))]
    ratios = [statistics.median(r[i] / r[0] for r in rounds) for i in range(len(fns))]
    return medians, ratios


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """The report's Markdown table, from a header and rows of cells."""
    return report_table(pd.DataFrame(rows, columns=header))
