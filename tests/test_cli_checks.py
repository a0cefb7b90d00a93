"""Every numeric option of every command is checked (NaN, infinity, range) before any work,
options that only apply with another backend or measure are an error, and ``--jobs`` is
capped: one line on stderr, exit status 2."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genlabel.bench import BenchError, BenchSession, BenchSettings
from genlabel.cli import app

runner = CliRunner()


def _bench(db: Path) -> list[str]:
    return ["bench", "--datasets", "iris", "--methods", "vanilla", "--trials", "1",
            "--epochs", "2", "--no-progress", "--db", str(db)]  # fmt: skip


def _images(db: Path) -> list[str]:
    return ["images", "--dataset", "digits", "--methods", "vanilla", "--epochs", "1",
            "--no-progress", "--db", str(db)]  # fmt: skip


def _genmix(db: Path) -> list[str]:
    return ["genmix", "--datasets", "circle", "--schemes", "vanilla", "--no-progress",
            "--db", str(db)]  # fmt: skip


def _intrusion(db: Path) -> list[str]:
    return ["intrusion", "--n-samples", "90", "--n-mix", "20"]


# (command, option, bad value, expected range in the message)
BAD_NUMBERS = [
    (_bench, "--alpha", "nan", ">= 0"),
    (_bench, "--alpha", "inf", ">= 0"),
    (_bench, "--alpha", "1,nan", ">= 0"),
    (_bench, "--alpha", "-1", ">= 0"),
    (_bench, "--eps", "2", "in [0, 1]"),
    (_bench, "--eps", "nan", "in [0, 1]"),
    (_bench, "--epochs", "0", ">= 1"),
    (_bench, "--trials", "0", ">= 1"),
    (_images, "--lr", "nan", "> 0"),
    (_images, "--lr", "0", "> 0"),
    (_images, "--lr", "inf", "> 0"),
    (_images, "--alpha", "inf", ">= 0"),
    (_images, "--gamma", "nan", "in [0, 1]"),
    (_images, "--beta", "1", "in [0, 1)"),
    (_images, "--batch-size", "0", ">= 1"),
    (_images, "--train-subset", "0", ">= 1"),
    (_images, "--robust-subset", "0", ">= 1"),
    (_images, "--update-warmup", "-1", ">= 0"),
    (_images, "--eps", "0.1,inf", "in [0, 1]"),
    (_genmix, "--eps", "inf", "in (0, 1)"),
    (_genmix, "--threads", "0", ">= 1"),
    (_genmix, "--trials", "0", ">= 1"),
    (_intrusion, "--alpha", "nan", ">= 0"),
    (_intrusion, "--alpha", "inf", ">= 0"),
    (_intrusion, "--n-mix", "0", ">= 1"),
    (_intrusion, "--n-samples", "0", ">= 1"),
    (_intrusion, "--seed", "-1", "in [0, 4294967295]"),
]


@pytest.mark.parametrize(("command", "option", "value", "expected"), BAD_NUMBERS)
def test_alpha_nan_alpha_inf_eps_2_and_every_bad_number_are_one_line_exit_2(
    tmp_path: Path, command, option: str, value: str, expected: str
) -> None:
    """`bench --alpha nan` stored no cell and exited 0, `--alpha inf` (and `intrusion
    --alpha nan`) was a traceback mid-run, `bench --eps 2` was accepted: now each bad
    number is refused before any work, naming its option and range."""
    db = tmp_path / "x.sqlite"
    res = runner.invoke(app, [*command(db), option, value])
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {option} must be "), lines
    assert expected in lines[0] and "Traceback" not in res.output
    assert not db.exists()  # nothing was started


def test_bench_session_refuses_alpha_nan_and_inf_and_eps_above_1_from_python(
    tmp_path: Path,
) -> None:
    """The library's own checks (the CLI's are first): a NaN alpha was stored as NULL, so
    its cells were never written."""
    db = tmp_path / "x.sqlite"
    for alphas in ([math.nan], [1.0, math.inf]):
        with pytest.raises(BenchError, match="alpha must be one or more finite numbers >= 0"):
            BenchSession(datasets=["iris"], alphas=alphas, db=db)
    robust = BenchSettings(measure="robust", attack="fgsm", eps=(0.1, 2.0))
    with pytest.raises(BenchError, match=r"numbers in \[0, 1\]; got \[0.1, 2.0\]"):
        BenchSession(datasets=["iris"], settings=robust, db=db)
    with pytest.raises(BenchError, match="only applies with the dask backend"):
        BenchSession(datasets=["iris"], scheduler="tcp://127.0.0.1:1", db=db)


@pytest.mark.parametrize(
    ("command", "extra", "message"),
    [
        (_bench, ["--scheduler", "tcp://127.0.0.1:1"],
         "--scheduler only applies with --backend dask"),
        (_bench, ["--eps", "0.2"], "--eps only applies with --measure robust"),
        (_bench, ["--attack", "pgd", "--eps", "0.2"],
         "--attack, --eps only apply with --measure robust"),
        (_images, ["--robust-subset", "40"], "--robust-subset only applies with --measure robust"),
        (_images, ["--eps", "0.1"], "--eps only applies with --measure robust"),
        (_images, ["--update-warmup", "5"], "--update-warmup only applies with --update-every > 1"),
    ],
)  # fmt: skip
def test_scheduler_without_backend_dask_and_eps_without_measure_robust_are_errors(
    tmp_path: Path, command, extra: list[str], message: str
) -> None:
    """`bench --scheduler tcp://...` without `--backend dask` (and an attack option of a clean
    run) was accepted and ignored."""
    db = tmp_path / "x.sqlite"
    res = runner.invoke(app, [*command(db), *extra])
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert not db.exists()


def test_the_options_of_another_measure_are_accepted_with_it(tmp_path: Path) -> None:
    """The same options with what they need pass the check (the run then starts)."""
    db = tmp_path / "x.sqlite"
    res = runner.invoke(app, [*_bench(db), "--measure", "robust", "--attack", "fgsm",
                              "--eps", "0.05"])  # fmt: skip
    assert res.exit_code == 0, res.output


def test_jobs_100000_is_capped_at_the_number_of_jobs_and_warns_above_the_cpu_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`bench --jobs 100000` started about 150 processes on 2 cores and never finished:
    now a warning names the cores, and the run starts one worker per job at most."""
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    db = tmp_path / "j.sqlite"
    with pytest.warns(UserWarning, match=r"jobs=100000 is more than the 2 CPU cores"):
        session = BenchSession(
            datasets=["iris"], methods=["vanilla"], trials=1, settings=BenchSettings(epochs=2),
            db=db, jobs=100000, progress=False,
        )  # fmt: skip
    plan = session.plan()
    assert len(plan.jobs) == 1
    summary = session.run(plan)  # one job: run in this process, no worker started
    assert summary.cells_stored == 1
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT n_jobs FROM runs").fetchall() == [(1,)]
