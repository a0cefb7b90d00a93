"""The bench session from Python, the store's checks, and drivers claiming jobs."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genlabel.bench import BenchError, BenchSession, BenchSettings, ResultStore, StoreError
from genlabel.bench import runner as runner_module
from genlabel.bench import session as session_module
from genlabel.bench.runner import job_key
from genlabel.cli import app
from genlabel.registry import METHODS, SUITES, TABULAR_MODELS, method_names

cli = CliRunner()


def _session(tmp_path: Path, **kwargs) -> BenchSession:
    base = dict(
        datasets=["iris", "wine"],
        methods=["vanilla", "mixup"],
        trials=2,
        settings=BenchSettings(epochs=2),
        db=tmp_path / "store" / "r.sqlite",
        progress=False,
        log=lambda _msg: None,
    )
    return BenchSession(**(base | kwargs))


def test_a_session_plans_runs_reports_next_to_its_store_and_resumes(tmp_path) -> None:
    session = _session(tmp_path)
    plan = session.plan()
    assert (plan.total, plan.todo, len(plan.jobs)) == (8, 8, 4)
    summary = session.run(plan)
    assert (summary.cells_written, summary.cells_stored, summary.interrupted) == (8, 8, False)
    frame = session.results()
    assert len(frame) == 8 and set(frame.method) == {"vanilla", "mixup"}
    # Every clean cell carries its calibration: ECE in [0, 1], NLL > 0, the bins as JSON.
    assert frame.ece.between(0, 1).all() and (frame.nll > 0).all()
    assert frame.reliability.map(lambda text: len(json.loads(text)["count"]) == 15).all()
    paths = session.report()
    assert paths[-1] == tmp_path / "store" / "r" / "report.md" and paths[-1].is_file()
    again = _session(tmp_path).plan()
    assert (again.todo, len(again.jobs)) == (0, 0)


def test_aliases_resolve_and_bad_sessions_are_refused(tmp_path) -> None:
    assert _session(tmp_path, methods=["genlabel", "linear"]).methods == ["genlabel_gm", "mixup"]
    with pytest.raises(BenchError, match="unknown method 'nope'"):
        _session(tmp_path, methods=["nope"])
    with pytest.raises(BenchError, match="unknown suite"):
        _session(tmp_path, suite="huge")
    with pytest.raises(BenchError, match="unknown OpenML id 424242|424242"):
        _session(tmp_path, datasets=["424242"], settings=BenchSettings(data_dir=str(tmp_path)))
    with pytest.raises(BenchError, match="trials must be at least 1"):
        _session(tmp_path, trials=0)
    # Settings no run can use are refused before any work (they used to fail mid-run or,
    # for a negative learning rate, to store cells trained by gradient ascent).
    bad = [
        (dict(batch_size=0), "batch_size must be an integer >= 1"),
        (dict(cv=1), "cv must be an integer >= 2"),
        (dict(test_size=1.0), r"test_size must be a number in \(0, 1\)"),
        (dict(weight_decay=-1.0), "weight_decay must be a number >= 0"),
        (dict(lr_grid=()), "'lr_grid' parameter of BenchSettings"),
        (dict(lr_grid=(-1.0,)), "'lr_grid' parameter of BenchSettings"),
        (dict(gamma_grid=(1.5,)), "'gamma_grid' parameter of BenchSettings"),
    ]
    for kwargs, message in bad:
        with pytest.raises(BenchError, match=message):
            _session(tmp_path, settings=BenchSettings(epochs=2, **kwargs))
    for jobs in (0, 2.5):
        with pytest.raises(BenchError, match="jobs"):
            _session(tmp_path, jobs=jobs)
    assert _session(tmp_path, jobs=-1).jobs == (os.cpu_count() or 1)  # joblib's "every core"
    rows = _session(tmp_path, settings=BenchSettings(epochs=2, test_size=40))  # a row count
    assert rows.settings.test_size == 40


def test_a_file_that_is_not_a_store_is_named_and_refused(tmp_path) -> None:
    not_sqlite = tmp_path / "notes.sqlite"
    not_sqlite.write_text("these are my notes, not a database " * 50)
    with pytest.raises(StoreError, match="notes.sqlite is not a GenLabel result store"):
        ResultStore(not_sqlite)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE results (id INTEGER, value REAL)")
    with pytest.raises(StoreError, match="another schema"):
        ResultStore(other)
    for db in (not_sqlite, other):
        res = cli.invoke(app, ["bench", "--datasets", "iris", "--db", str(db), "--no-progress"])
        assert res.exit_code == 2
        assert res.output.count("\n") == 1 and db.name in res.output
        res = cli.invoke(app, ["report", "--db", str(db)])
        assert res.exit_code == 2 and db.name in res.output


def test_jobs_claimed_by_a_live_driver_are_left_to_it(tmp_path) -> None:
    session = _session(tmp_path)
    plan = session.plan()
    held = plan.jobs[:2]
    with ResultStore(session.db) as store:  # another driver (this live process) holds two jobs
        other = store.begin_run(n_jobs=1, backend="joblib", command="other driver")
        assert all(store.claim(job_key(j), other) for j in held)
        summary = session.run(plan)
        assert summary.cells_written == 8 - 2 * 2
        stored = {(r.dataset, r.trial) for r in store.frame().itertuples()}
        assert not {(j.dataset, j.trial) for j in held} & stored
        store.end_run(other)  # the other driver ends without finishing: its jobs are free
    rest = _session(tmp_path).run()
    assert rest.cells_written == 4 and rest.cells_stored == 8


def test_jobs_another_driver_finished_after_this_plan_are_not_recomputed(
    tmp_path, monkeypatch
) -> None:
    """Two drivers plan the same store; the other one finishes (and releases) two jobs before
    this one reaches them. This driver used to claim the released jobs and train them again."""
    session = _session(tmp_path)
    plan = session.plan()  # this driver's plan: every job missing
    finished_by_other = plan.jobs[:2]
    other = _session(tmp_path)
    other.run(dataclasses.replace(other.plan(), jobs=finished_by_other))
    trained = []
    real = runner_module.run_job
    monkeypatch.setattr(
        runner_module, "run_job", lambda job, **kw: trained.append(job) or real(job, **kw)
    )
    summary = session.run(plan)
    assert [(j.dataset, j.trial) for j in trained] == [(j.dataset, j.trial) for j in plan.jobs[2:]]
    assert summary.cells_written == 8 - 2 * 2 and summary.cells_stored == 8
    with ResultStore(session.db) as store:  # a job whose cells are all stored is not claimed
        run = store.begin_run(n_jobs=1, backend="joblib", command="a late driver")
        for job in finished_by_other:
            assert not store.claim(job_key(job), run, keys=runner_module.job_keys(job))
            assert store.claim(job_key(job), run)  # without its keys: as before


def test_a_dead_drivers_claims_are_taken_over(tmp_path) -> None:
    session = _session(tmp_path)
    plan = session.plan()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    with ResultStore(session.db) as store:
        run = store.begin_run(n_jobs=1, backend="joblib", command="killed driver")
        store._conn.execute("UPDATE runs SET pid = ? WHERE id = ?", (int(dead.stdout), run))
        store._conn.commit()
        assert store.claim(job_key(plan.jobs[0]), run)
    assert session.run(plan).cells_written == 8


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path, monkeypatch) -> None:
    real = runner_module.run_job
    calls = {"n": 0}

    def interrupt_second(job, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(job, **kwargs)

    monkeypatch.setattr(runner_module, "run_job", interrupt_second)
    args = ["bench", "--datasets", "iris,wine", "--methods", "vanilla", "--trials", "2",
            "--epochs", "2", "--db", str(tmp_path / "c.sqlite"), "--no-progress"]  # fmt: skip
    res = cli.invoke(app, args)
    assert res.exit_code == 130
    assert "interrupted: 1 of 4 cells stored; run the same command to resume" in res.output
    monkeypatch.setattr(runner_module, "run_job", real)
    res = cli.invoke(app, args)
    assert res.exit_code == 0 and "4 cells, 1 done, 3 to run" in res.output


def test_python_dash_m_genlabel_runs_the_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "genlabel", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "bench" in out.stdout and "Usage: genlabel" in out.stdout


def test_the_mlp_variant_is_recorded_and_two_model_shares_the_vanilla_models(tmp_path) -> None:
    base = dict(datasets=["iris"], methods=["vanilla", "mixup", "genlabel_gm"], model="mlp",
                trials=1, progress=False, log=lambda _m: None)  # fmt: skip
    two = BenchSession(settings=BenchSettings(epochs=3, latent="two_model"),
                       db=tmp_path / "two.sqlite", **base)  # fmt: skip
    assert two.settings.latent == "two_model" and two.run().cells_stored == 3
    stored = json.loads(two.results().config.iloc[0])
    assert stored["latent"] == "two_model"
    # The reference variant's cells cannot go into that store: other settings.
    ref = BenchSession(settings=BenchSettings(epochs=3, warmup_epochs=1, latent="reference"),
                       db=tmp_path / "two.sqlite", **base)  # fmt: skip
    with pytest.raises(BenchError, match="other settings"):
        ref.plan()
    with pytest.raises(BenchError, match="the logistic model has no hidden layer"):
        BenchSession(settings=BenchSettings(latent="two_model"), **(base | {"model": "logistic"}))
    res = cli.invoke(app, ["bench", "--datasets", "iris", "--latent", "deep", "--model", "mlp",
                           "--db", str(tmp_path / "x.sqlite")])  # fmt: skip
    assert res.exit_code == 2 and "unknown latent 'deep'" in res.output


def test_sharing_phi_and_the_gamma_zero_grid_changes_no_cell() -> None:
    from genlabel.bench import Job, run_job

    settings = BenchSettings(epochs=3, latent="two_model")

    def cells(methods):
        records = run_job(Job("wine", 0, "mlp", 1.0, methods, settings))
        return {r["method"]: (r["test_accuracy"], r["params"]) for r in records}

    together = cells(("vanilla", "mixup", "genlabel_gm"))
    assert together["genlabel_gm"] == cells(("genlabel_gm",))["genlabel_gm"]
    assert together["vanilla"] == cells(("vanilla",))["vanilla"]
    alone = cells(("mixup",))["mixup"]  # trained by itself, not as gamma = 0 of the grid
    assert together["mixup"] == alone


def test_demo_stops_on_ctrl_c_and_says_how_to_resume(tmp_path, monkeypatch) -> None:
    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(session_module, "run_bench", interrupted)
    res = cli.invoke(app, ["demo", "--out", str(tmp_path / "figures")])
    assert res.exit_code == 130, res.output
    assert re.search(r"interrupted: 0 of \d+ cells stored; run the same command to resume",
                     res.output)  # fmt: skip
    assert "GenLabel (CV) against" not in res.output and not (tmp_path / "figures").exists()


def test_genlabel_that_would_train_only_its_warm_up_is_refused(tmp_path) -> None:
    mlp = dict(model="mlp", datasets=["iris"], methods=["vanilla", "genlabel_gm"])
    with pytest.raises(BenchError, match=r"--epochs must exceed 20 .*--latent two_model"):
        _session(tmp_path, settings=BenchSettings(epochs=20, latent="reference"), **mlp)
    _session(tmp_path, settings=BenchSettings(epochs=21, latent="reference"), **mlp)
    for latent in ("two_model", "input", None):  # no warm-up (None: the default, two_model)
        session = _session(tmp_path, settings=BenchSettings(epochs=3, latent=latent), **mlp)
        assert session.settings.latent == (latent or "two_model")  # recorded in the store
    _session(tmp_path, methods=["vanilla", "mixup"], model="mlp")  # no GenLabel, no warm-up
    args = ["bench", "--model", "mlp", "--methods", "vanilla,genlabel_gm", "--epochs", "20",
            "--latent", "reference", "--datasets", "iris",
            "--db", str(tmp_path / "w.sqlite")]  # fmt: skip
    res = cli.invoke(app, args)
    assert res.exit_code == 2 and res.output.count("\n") == 1 and "warmup_epochs=20" in res.output


@pytest.mark.parametrize("model", TABULAR_MODELS)
def test_a_named_method_the_model_cannot_train_is_an_error(tmp_path, model) -> None:
    # The registry says which models a method trains; the session follows it.
    settings = BenchSettings(epochs=2, latent="two_model" if model == "mlp" else None)
    for method in method_names(models=TABULAR_MODELS):
        if model in METHODS[method].models:
            session = _session(tmp_path, methods=[method], model=model, settings=settings)
            assert session.plan().total > 0
        else:
            with pytest.raises(BenchError, match=f"needs --model .*got --model {model}"):
                _session(tmp_path, methods=["vanilla", method], model=model, settings=settings)
    res = cli.invoke(app, ["bench", "--methods", "manifold_mixup", "--datasets", "iris",
                           "--db", str(tmp_path / "m.sqlite")])  # fmt: skip
    assert res.exit_code == 2 and "'manifold_mixup' needs --model mlp" in res.output
    assert "manifold_mixup" in SUITES["quick"].methods  # a suite's method is skipped instead
    assert BenchSession(suite="quick", db=tmp_path / "q.sqlite", log=print).plan().total > 0
