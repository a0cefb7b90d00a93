"""The benchmark runner: protocol, resumable store, parallel backends and reports."""

from .protocol import BENCH_METHODS, PAPER_METHODS, BenchSettings, Job, run_job
from .report import write_report
from .runner import plan_jobs, run_bench
from .store import ResultStore

__all__ = [
    "BENCH_METHODS",
    "PAPER_METHODS",
    "BenchSettings",
    "Job",
    "ResultStore",
    "plan_jobs",
    "run_bench",
    "run_job",
    "write_report",
]
