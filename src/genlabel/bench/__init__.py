"""The benchmark runner: protocol, resumable store, parallel backends, sessions and reports."""

from .protocol import BENCH_METHODS, PAPER_METHODS, BenchSettings, Job, run_job
from .report import write_report
from .runner import plan_jobs, run_bench
from .session import BenchError, BenchPlan, BenchSession, RunSummary
from .store import ResultStore, StoreError

__all__ = [
    "BENCH_METHODS",
    "PAPER_METHODS",
    "BenchError",
    "BenchPlan",
    "BenchSession",
    "BenchSettings",
    "Job",
    "ResultStore",
    "RunSummary",
    "StoreError",
    "plan_jobs",
    "run_bench",
    "run_job",
    "write_report",
]
