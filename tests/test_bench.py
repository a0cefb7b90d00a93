from __future__ import annotations

import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from genlabel.bench import BenchSettings, Job, ResultStore, StoreError, run_job
from genlabel.bench.protocol import split_and_preprocess
from genlabel.cli import app
from genlabel.data import DataError, load_dataset, load_openml, make_preprocessor, suite_ids

runner = CliRunner()
SMALL = [
    "--datasets",
    "iris,wine",
    "--methods",
    "vanilla,mixup,genlabel_cv,generative_gm",
    "--trials",
    "2",
    "--epochs",
    "3",
]


def _bench(tmp_path: Path, *extra: str, db: str = "r.sqlite"):
    args = [
        "bench",
        *SMALL,
        "--db",
        str(tmp_path / db),
        "--report",
        str(tmp_path / "rep"),
        "--no-progress",
        *extra,
    ]
    return runner.invoke(app, args)


def _cells(db: Path) -> pd.DataFrame:
    with sqlite3.connect(db) as conn:
        return pd.read_sql_query("SELECT * FROM results ORDER BY dataset, method, trial", conn)


def test_bench_writes_cells_report_and_resumes(tmp_path: Path) -> None:
    result = _bench(tmp_path)
    assert result.exit_code == 0, result.output
    cells = _cells(tmp_path / "r.sqlite")
    assert len(cells) == 2 * 4 * 2
    assert cells.test_accuracy.between(0, 1).all()
    assert set(cells.measure) == {"clean"}
    rep = tmp_path / "rep"
    csv = pd.read_csv(rep / "results.csv")
    assert list(csv.columns[-5:-3]) == ["ece", "nll"] and csv.ece.notna().all()
    # the image cells' label diagnostics last, empty for tabular cells
    assert list(csv.columns[-3:]) == ["third_class_share", "one_hot_share", "mixed_weight"]
    assert csv.third_class_share.isna().all()
    assert list(csv.columns[:9]) == [
        "dataset",
        "method",
        "model",
        "trial",
        "alpha",
        "test_accuracy",
        "robust_accuracy",
        "params",
        "seconds",
    ]
    text = (rep / "report.md").read_text()
    assert "GenLabel (CV) against each baseline" in text and "| iris |" in text
    ece_at, nll_at = text.index("Expected calibration error"), text.index("negative log-lik")
    assert ece_at < nll_at and text.count("| iris |") >= 3  # accuracy, ECE and NLL tables
    # Two data sets: no histogram of two differences; every trial's accuracy with the mean.
    assert not list(rep.glob("hist_*.png"))
    assert (rep / "accuracy_by_method_logistic_alpha1.png").is_file()
    # The terminal gets the accuracy table at the end, as `genlabel demo` prints its own.
    assert "Test accuracy in percent, model logistic, α = 1 (mean ± std over 2 trials):" in (
        result.output
    )
    assert result.output.rstrip().splitlines()[-1].startswith("| ")
    again = _bench(tmp_path)
    assert again.exit_code == 0
    assert "16 done, 0 to run in 0 tasks" in again.output
    assert len(_cells(tmp_path / "r.sqlite")) == 16
    with ResultStore(tmp_path / "r.sqlite") as store:
        runs = store.runs()
    assert runs.cells.tolist() == [16, 0] and runs.finished.notna().all()


def test_report_on_complete_data_sets_only(tmp_path: Path) -> None:
    from genlabel.bench.report import complete_data_sets, write_report

    rows = [
        {
            "dataset": d,
            "method": m,
            "model": "logistic",
            "trial": t,
            "alpha": 1.0,
            "measure": "clean",
            "test_accuracy": 0.8,
            "robust_accuracy": None,
            "params": "{}",
            "seconds": 1.0,
            "config": "{}",
            "versions": "{}",
        }
        for d, trials in (("iris", 2), ("wine", 1))
        for t in range(trials)
        for m in ("mixup", "genlabel_cv")
    ]
    frame = pd.DataFrame(rows)
    assert set(complete_data_sets(frame).dataset) == {"iris"}
    write_report(frame, tmp_path / "rep", complete_only=True)
    assert "Only the 1 of 2 data sets" in (tmp_path / "rep" / "report.md").read_text()
    assert set(pd.read_csv(tmp_path / "rep" / "results.csv").dataset) == {"iris"}


def test_a_killed_run_resumes_without_losing_or_duplicating_cells(tmp_path: Path) -> None:
    db = tmp_path / "k.sqlite"
    # 24 cheap jobs (one cell each): the kill lands mid-run.
    args = [
        sys.executable,
        "-m",
        "genlabel.cli",
        "bench",
        "--datasets",
        "iris,wine,gaussian9,moons",
        "--methods",
        "vanilla",
        "--trials",
        "6",
        "--epochs",
        "15",
        "--db",
        str(db),
        "--report",
        str(tmp_path / "rep"),
        "--no-progress",
    ]
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            time.sleep(0.05)
            if db.exists():
                try:
                    with sqlite3.connect(db) as conn:
                        if conn.execute("SELECT count(*) FROM results").fetchone()[0] > 0:
                            break
                except sqlite3.OperationalError:
                    pass
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    partial = len(_cells(db))
    assert 0 < partial < 24
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    cells = _cells(db)
    assert len(cells) == 24
    assert not cells.duplicated(["dataset", "method", "model", "trial", "measure", "alpha"]).any()
    # Both segments are on record: the killed one up to its last stored job.
    with ResultStore(db) as store:
        runs = store.runs()
    assert len(runs) == 2 and runs.finished.isna().tolist() == [True, False]
    assert runs.cells.tolist() == [partial, 24 - partial]
    assert (runs.wall_seconds > 0).all()
    assert runs.wall_seconds.iloc[0] == runs.last_write.iloc[0] - runs.started.iloc[0]
    assert "wall-clock:" in (tmp_path / "rep" / "report.md").read_text()
    # Same numbers as an uninterrupted run.
    fresh = tmp_path / "f.sqlite"
    subprocess.run(
        [*args[:-5], "--db", str(fresh), "--report", str(tmp_path / "rep2"), "--no-progress"],
        check=True,
        capture_output=True,
        timeout=600,
    )
    np.testing.assert_array_equal(
        cells.test_accuracy.to_numpy(), _cells(fresh).test_accuracy.to_numpy()
    )


def test_dask_local_cluster_gives_the_same_numbers_as_one_job(tmp_path: Path) -> None:
    pytest.importorskip("dask.distributed")
    one = _bench(tmp_path, db="one.sqlite")
    assert one.exit_code == 0, one.output
    two = _bench(tmp_path, "--backend", "dask", "--jobs", "2", db="dask.sqlite")
    assert two.exit_code == 0, two.output
    a, b = _cells(tmp_path / "one.sqlite"), _cells(tmp_path / "dask.sqlite")
    np.testing.assert_array_equal(a.test_accuracy.to_numpy(), b.test_accuracy.to_numpy())
    assert list(a.params) == list(b.params)


def test_joblib_jobs_give_the_same_numbers(tmp_path: Path) -> None:
    one = _bench(tmp_path, db="one.sqlite")
    two = _bench(tmp_path, "--jobs", "2", db="two.sqlite")
    assert one.exit_code == 0 and two.exit_code == 0
    np.testing.assert_array_equal(
        _cells(tmp_path / "one.sqlite").test_accuracy, _cells(tmp_path / "two.sqlite").test_accuracy
    )


def test_fixed_split_makes_deterministic_methods_show_zero_spread(tmp_path: Path) -> None:
    result = _bench(tmp_path, "--fixed-split")
    assert result.exit_code == 0, result.output
    gen = _cells(tmp_path / "r.sqlite").query("method == 'generative_gm'")
    assert gen.groupby("dataset").test_accuracy.std().max() == 0.0


def test_bad_inputs_exit_with_status_2_and_one_line(tmp_path: Path) -> None:
    openml = tmp_path / "openml"  # a data folder of its own: the test needs no ../shared
    openml.mkdir()
    (openml / "61.csv.gz").write_bytes(gzip.compress(b"a,b\n1,0\n"))
    args = ["--data-dir", str(openml), "--db", str(tmp_path / "x.sqlite")]
    res = runner.invoke(app, ["bench", "--datasets", "99999999", *args])
    assert res.exit_code == 2 and "unknown OpenML id 99999999" in res.output
    res = runner.invoke(
        app,
        [
            "bench",
            "--suite",
            "paper-logistic",
            "--data-dir",
            str(tmp_path / "nope"),
            "--db",
            str(tmp_path / "x.sqlite"),
        ],
    )
    assert res.exit_code == 2 and "does not exist" in res.output
    bad_dir = tmp_path / "data"
    bad_dir.mkdir()
    (bad_dir / "42.csv.gz").write_bytes(b"not gzip at all")
    res = runner.invoke(
        app,
        [
            "bench",
            "--datasets",
            "42",
            "--data-dir",
            str(bad_dir),
            "--db",
            str(tmp_path / "x.sqlite"),
        ],
    )
    assert res.exit_code == 2 and "could not parse" in res.output and "42.csv.gz" in res.output
    res = runner.invoke(app, ["bench", "--methods", "cutmix", "--db", str(tmp_path / "x.sqlite")])
    assert res.exit_code == 2 and "train image models" in res.output
    res = runner.invoke(app, ["bench", "--methods", "mixupp", "--db", str(tmp_path / "x.sqlite")])
    assert res.exit_code == 2 and "unknown method 'mixupp'" in res.output
    res = runner.invoke(app, ["report", "--db", str(tmp_path / "missing.sqlite")])
    assert res.exit_code == 2
    res = runner.invoke(app, ["datasets", "--data-dir", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "does not exist" in res.output
    assert "--online" not in res.output  # 'genlabel datasets' lists a local folder only
    iris = ["bench", "--datasets", "iris", "--methods", "vanilla", "--trials", "1",
            "--epochs", "2", "--no-progress", "--db", str(tmp_path / "y.sqlite")]  # fmt: skip
    res = runner.invoke(app, [*iris, "--jobs", "0"])
    assert res.exit_code == 2 and "jobs (parallel jobs) must be at least 1" in res.output
    # Checked before any training (it used to fail after the model was trained).
    res = runner.invoke(app, [*iris, "--measure", "robust", "--eps", "0.1,-1"])
    assert res.exit_code == 2 and "--eps must be a finite number in [0, 1]; got -1.0" in res.output
    assert not (tmp_path / "y.sqlite").exists()


def test_an_unreachable_dask_scheduler_is_one_line_and_the_store_resumes(
    tmp_path: Path,
) -> None:
    pytest.importorskip("dask.distributed")
    import dask

    iris = ["bench", "--datasets", "iris", "--methods", "vanilla", "--trials", "1",
            "--epochs", "2", "--no-progress", "--db", str(tmp_path / "d.sqlite")]  # fmt: skip
    with dask.config.set({"distributed.comm.timeouts.connect": "0.5s"}):
        res = runner.invoke(app, [*iris, "--backend", "dask", "--scheduler", "tcp://127.0.0.1:1"])
    assert res.exit_code == 2, res.output
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:1" in res.output
    assert "Traceback" not in res.output
    # The failed driver's claims do not block the next run (it is no longer alive).
    res = runner.invoke(app, iris)
    assert res.exit_code == 0, res.output
    assert len(_cells(tmp_path / "d.sqlite")) == 1


def test_other_settings_in_the_same_store_are_refused(tmp_path: Path) -> None:
    assert _bench(tmp_path).exit_code == 0
    res = _bench(tmp_path, "--epochs", "4")
    assert res.exit_code == 2 and "other settings" in res.output
    assert "epochs 4 here, " in res.output  # the message names the setting that differs


def test_store_ignores_a_cell_written_twice(tmp_path: Path) -> None:
    record = {
        "dataset": "iris",
        "method": "mixup",
        "model": "logistic",
        "trial": 0,
        "alpha": 1.0,
        "measure": "clean",
        "test_accuracy": 0.9,
        "robust_accuracy": None,
        "params": "{}",
        "seconds": 1.0,
    }
    with ResultStore(tmp_path / "s.sqlite") as store:
        assert store.add([record], {"a": 1}) == 1
        assert store.add([record | {"test_accuracy": 0.1}], {"a": 1}) == 0
        assert store.frame().test_accuracy.tolist() == [0.9]


def test_each_cell_records_the_cpu_it_was_computed_on(tmp_path: Path) -> None:
    # float32 training rounds by the CPU's kernels: the store says which kind computed a cell.
    record = {"dataset": "iris", "method": "mixup", "model": "logistic", "trial": 0,
              "alpha": 1.0, "measure": "clean", "test_accuracy": 0.9, "params": "{}",
              "seconds": 1.0}  # fmt: skip
    with ResultStore(tmp_path / "s.sqlite") as store:
        store.add([record], {"a": 1})
        recorded = json.loads(store.frame().versions.iloc[0])
    kernels = f" ({torch.backends.cpu.get_cpu_capability()})"
    assert recorded["cpu"].endswith(kernels) and recorded["cpu"][: -len(kernels)].strip()
    # A cell a worker elsewhere computed (Dask) keeps that worker's CPU.
    with ResultStore(tmp_path / "s.sqlite") as store:
        store.add([record | {"trial": 1, "cpu": "Other CPU (AVX2)"}], {"a": 1})
        frame = store.frame().set_index("trial")
    assert json.loads(frame.versions[1])["cpu"] == "Other CPU (AVX2)"
    assert json.loads(frame.versions[1]) | {"cpu": recorded["cpu"]} == recorded


def test_reading_a_store_read_only_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    # A committed snapshot (rollback journal, as VACUUM INTO writes it) is read by the report
    # and by compare_stores: reading must not switch it to WAL or migrate it.
    record = {"dataset": "iris", "method": "mixup", "model": "logistic", "trial": 0,
              "alpha": 1.0, "measure": "clean", "test_accuracy": 0.9, "params": "{}",
              "seconds": 1.0, "ece": 0.05, "nll": 0.3}  # fmt: skip
    with ResultStore(tmp_path / "s.sqlite") as store:
        store.add(
            [record, record | {"trial": 1}],
            {"a": 1},
            store.begin_run(n_jobs=1, backend="joblib", command="test"),
        )
        written = store.frame()
    snapshot = tmp_path / "snap" / "snapshot.sqlite"
    snapshot.parent.mkdir()
    with sqlite3.connect(tmp_path / "s.sqlite") as conn:
        conn.execute("VACUUM INTO ?", (str(snapshot),))
    before = snapshot.read_bytes()
    assert before[18:20] == b"\x01\x01"  # rollback journal
    with ResultStore(snapshot, read_only=True) as store:
        pd.testing.assert_frame_equal(store.frame(), written)
        assert store.runs().cells.tolist() == [2]
        with pytest.raises(StoreError, match="readonly"):  # one line, naming the store
            store.add([record | {"trial": 2}], {"a": 1})
    res = runner.invoke(app, ["report", "--db", str(snapshot), "--out", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "rep" / "report.md").is_file()
    assert snapshot.read_bytes() == before
    # A store from before the calibration columns (and the checksums): read as empty, the
    # file left alone.
    with sqlite3.connect(snapshot) as conn:
        for column in ("ece", "nll", "reliability", "checksum"):
            conn.execute(f"ALTER TABLE results DROP COLUMN {column}")
    before = snapshot.read_bytes()
    with ResultStore(snapshot, read_only=True) as store:
        frame = store.frame()
    assert frame.ece.isna().all() and frame.nll.isna().all() and len(frame) == 2
    assert snapshot.read_bytes() == before


def test_a_read_only_store_must_exist_and_be_a_store(tmp_path: Path) -> None:
    from genlabel.bench import StoreError

    with pytest.raises(StoreError, match="no store at"):
        ResultStore(tmp_path / "absent.sqlite", read_only=True)
    assert not (tmp_path / "absent.sqlite").exists()
    sqlite3.connect(tmp_path / "empty.sqlite").close()
    with pytest.raises(StoreError, match="not a GenLabel result store"):
        ResultStore(tmp_path / "empty.sqlite", read_only=True)
    (tmp_path / "text.sqlite").write_text("not sqlite")
    with pytest.raises(StoreError, match="not a GenLabel result store"):
        ResultStore(tmp_path / "text.sqlite", read_only=True)


def test_the_cpu_name_falls_back_to_the_platform_without_proc_cpuinfo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import platform

    from genlabel.bench import store

    monkeypatch.setattr(store, "CPUINFO", str(tmp_path / "absent"))
    monkeypatch.setattr(platform, "processor", lambda: "")
    monkeypatch.setattr(platform, "machine", lambda: "riscv64")
    assert store.cpu() == f"riscv64 ({torch.backends.cpu.get_cpu_capability()})"
    (tmp_path / "cpuinfo").write_text("processor\t: 0\nmodel name\t: Test CPU 9000\n")
    monkeypatch.setattr(store, "CPUINFO", str(tmp_path / "cpuinfo"))
    assert store.cpu().startswith("Test CPU 9000 (")


def test_embedded_sets_and_preprocessing_fit_on_train_only() -> None:
    data = load_dataset("iris")
    assert data.X.shape == (150, 4) and data.n_classes == 3
    settings = BenchSettings()
    X_train, y_train, X_test, _ = split_and_preprocess(data, 0, settings)
    assert X_train.shape[0] == 105 and X_test.shape[0] == 45
    np.testing.assert_allclose(X_train.mean(0), 0, atol=1e-6)
    assert np.abs(X_test.mean(0)).max() > 1e-3  # standardised with the training statistics
    assert sorted(np.bincount(y_train)) == [35, 35, 35]


def test_categorical_and_missing_values_are_handled() -> None:
    X = pd.DataFrame({"num": [1.0, np.nan, 3.0, 4.0], "cat": ["a", "b", None, "a"]})
    out = make_preprocessor(X).fit_transform(X)
    assert out.shape == (4, 3) and np.isfinite(out).all()


def test_openml_from_the_shared_folder(shared_data: Path) -> None:
    data = load_openml(37, shared_data / "openml")
    assert data.name == "diabetes" and data.X.shape == (768, 8) and data.n_classes == 2
    ids = suite_ids("paper-logistic", shared_data / "openml")
    assert len(ids) == 124
    res = runner.invoke(app, ["datasets", "--data-dir", str(shared_data / "openml")])
    assert res.exit_code == 0 and "| 37 | diabetes |" in res.output
    with pytest.raises(DataError, match="unknown OpenML id 123456789"):
        load_openml(123456789, shared_data / "openml")


def test_run_job_on_an_openml_set(shared_data: Path) -> None:
    job = Job(
        "37",
        0,
        "logistic",
        1.0,
        ("mixup", "genlabel_gm"),
        BenchSettings(epochs=2, data_dir=str(shared_data / "openml")),
    )
    records = run_job(job)
    assert {r["method"] for r in records} == {"mixup", "genlabel_gm"}


def test_corrupt_gzip_is_a_data_error(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "7.csv.gz", "wt") as fh:
        fh.write("onlyone\n")
    with pytest.raises(DataError, match="could not parse"):
        load_openml(7, tmp_path)


def test_generative_classifier_as_a_module_predicts_like_it_and_has_gradients() -> None:
    import torch
    from sklearn.datasets import load_iris

    from genlabel.estimators import GenerativeClassifier

    X, y = load_iris(return_X_y=True)
    clf = GenerativeClassifier().fit(X, y)
    x = torch.tensor(X, requires_grad=True)
    logits = clf.to_module()(x)
    assert (logits.argmax(1).numpy() == clf.predict(X)).all()
    logits.logsumexp(1).sum().backward()  # what FGSM/PGD differentiate
    assert x.grad is not None and bool(torch.isfinite(x.grad).all())


def test_robust_measure_is_stored_and_reported(tmp_path: Path) -> None:
    args = [
        "bench",
        "--datasets",
        "iris",
        "--methods",
        "vanilla,genlabel_gm,generative_gm",
        "--trials",
        "1",
        "--epochs",
        "5",
        "--measure",
        "robust",
        "--attack",
        "fgsm",
        "--eps",
        "0.05,0.2",
        "--db",
        str(tmp_path / "r.sqlite"),
        "--report",
        str(tmp_path / "rep"),
        "--no-progress",
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    cells = _cells(tmp_path / "r.sqlite")
    assert set(cells.measure) == {"robust-fgsm-eps0.05", "robust-fgsm-eps0.2"}
    assert (cells.robust_accuracy <= cells.test_accuracy + 1e-12).all()
    weak = cells[cells.measure == "robust-fgsm-eps0.05"].set_index("method").robust_accuracy
    strong = cells[cells.measure == "robust-fgsm-eps0.2"].set_index("method").robust_accuracy
    assert (strong <= weak + 1e-12).all()
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "Robust accuracy" in text and "robust-fgsm-eps0.2" in text
    assert list((tmp_path / "rep").glob("robust_vs_eps_iris_logistic_alpha1.png"))
    again = runner.invoke(app, args)
    assert "6 done, 0 to run" in again.output


def test_several_attacks_train_each_model_once_and_match_single_attack_runs(
    tmp_path: Path,
) -> None:
    def run(attack: str, name: str) -> pd.DataFrame:
        args = [
            "bench", "--datasets", "iris", "--methods", "vanilla,mixup", "--trials", "1",
            "--epochs", "3", "--measure", "robust", "--attack", attack, "--eps", "0.1,0.3",
            "--db", str(tmp_path / f"{name}.sqlite"), "--report", str(tmp_path / name),
            "--no-progress",
        ]  # fmt: skip
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        return _cells(tmp_path / f"{name}.sqlite")

    both = run(" fgsm, pgd ,fgsm", "both")  # spaces and repeats are one spelling
    assert set(both.measure) == {
        f"robust-{a}-eps{e}" for a in ("fgsm", "pgd") for e in ("0.1", "0.3")
    }
    key = ["method", "measure"]
    for attack in ("fgsm", "pgd"):
        alone = run(attack, attack).set_index(key).robust_accuracy
        mine = both[both.measure.str.startswith(f"robust-{attack}-")].set_index(key)
        pd.testing.assert_series_equal(mine.robust_accuracy.sort_index(), alone.sort_index())
    # Each model was trained once: one clean accuracy per method over the four measures.
    assert (both.groupby("method").test_accuracy.nunique() == 1).all()
    assert all(json.loads(c)["attack"] == "fgsm,pgd" for c in both.config)
    out = tmp_path / "both"
    assert {p.name for p in out.glob("robust_vs_eps_*.png")} == {
        "robust_vs_eps_fgsm_iris_logistic_alpha1.png",
        "robust_vs_eps_pgd_iris_logistic_alpha1.png",
    }
    # The settings themselves keep one spelling (also when built in Python).
    assert BenchSettings(attack=" pgd, fgsm ,pgd").attack == "pgd,fgsm"
    # ... and their float settings as floats, so that ints given in Python fingerprint alike.
    ints = BenchSettings(eps=(1,), gamma_grid=(0, 1), lr_grid=(1,), weight_decay=0)
    floats = BenchSettings(eps=(1.0,), gamma_grid=(0.0, 1.0), lr_grid=(1.0,), weight_decay=0.0)
    assert ints.fingerprint("iris") == floats.fingerprint("iris")
    assert json.dumps(ints.fingerprint("iris")) == json.dumps(floats.fingerprint("iris"))
    bad = runner.invoke(app, ["bench", "--datasets", "iris", "--measure", "robust",
                              "--attack", "fgsm,cw", "--db", str(tmp_path / "x.sqlite")])  # fmt: skip
    assert bad.exit_code == 2 and "unknown attack 'cw'" in bad.output


@pytest.mark.slow
def test_autoattack_in_the_runner_says_which_attacks_ran(tmp_path: Path) -> None:
    pytest.importorskip("pyautoattack")
    args = [
        "bench",
        "--datasets",
        "iris",
        "--methods",
        "vanilla",
        "--trials",
        "1",
        "--epochs",
        "3",
        "--measure",
        "robust",
        "--attack",
        "autoattack",
        "--db",
        str(tmp_path / "a.sqlite"),
        "--report",
        str(tmp_path / "rep"),
        "--no-progress",
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "AutoAttack on iris (3 classes) runs: apgd-ce, fab, square" in res.output


def _frame(trials: int, measure: str = "clean", seconds: float = 2.0) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"dataset": d, "method": m, "model": "logistic", "trial": t, "alpha": 1.0,
             "measure": measure, "test_accuracy": 0.8 + 0.01 * t,
             "robust_accuracy": None if measure == "clean" else 0.5,
             "params": "{}", "seconds": seconds, "config": "{}", "versions": "{}"}
            for d in ("iris", "wine") for t in range(trials) for m in ("mixup", "genlabel_cv")
        ]
    )  # fmt: skip


def test_report_wording(tmp_path: Path) -> None:
    from genlabel.bench.report import write_report

    text = write_report(_frame(2), tmp_path / "a")[-1].read_text()
    assert "over 2 trials per cell" in text and "2–2" not in text
    assert "compute time summed over cells: 16.0 s" in text  # seconds below a minute
    text = write_report(_frame(1, seconds=30.0), tmp_path / "b")[-1].read_text()
    assert "one trial per cell (so no spread)" in text and " ± " not in text
    assert "compute time summed over cells: 2.0 min" in text
    # A robust-only store still shows the clean accuracy of the attacked models.
    text = write_report(_frame(2, measure="robust-fgsm-eps0.1"), tmp_path / "c")[-1].read_text()
    assert "Clean test accuracy of the attacked models" in text and "Robust accuracy" in text


def test_report_shows_each_calibration_table_only_where_it_has_values(tmp_path: Path) -> None:
    from genlabel.bench.report import write_report

    frame = _frame(2).assign(ece=0.05, nll=None)
    frame.loc[(frame.method == "mixup") & (frame.dataset == "iris"), "ece"] = None  # empty cell
    text = write_report(frame, tmp_path / "a")[-1].read_text()
    assert "Expected calibration error" in text and "negative log-likelihood" not in text
    ece_table = text[text.index("Expected calibration error") :].split("\n\n")[1]
    assert "**5.0 ± 0.0**" in ece_table and "nan" not in ece_table
    assert "| iris |  | **5.0 ± 0.0** |" in ece_table
    text = write_report(_frame(2).assign(ece=None, nll=None), tmp_path / "b")[-1].read_text()
    assert "Calibration" not in text


def test_histogram_counts_are_integers() -> None:
    from genlabel.bench.plots import histogram_figure

    fig = histogram_figure(pd.Series([0.1, 0.2, 1.4, -2.0, 0.3]), "logistic", 1.0, label="x")
    fig.canvas.draw()
    ticks = fig.axes[0].get_yticks()
    assert len(ticks) > 1 and all(float(t).is_integer() for t in ticks)


def test_fingerprints_of_runs_without_csv_files_are_unchanged() -> None:
    # The hashes stores written before CSV files carried their sha256 hold: they stay valid.
    from genlabel.bench.store import config_hash

    assert config_hash(BenchSettings().fingerprint()) == "94e528123a4cc41f"
    assert config_hash(BenchSettings(epochs=3).fingerprint("iris")) == "99db0975d10f35bf"
    assert config_hash(BenchSettings(latent="two_model").fingerprint()) == "b1bc73b77e147519"
    robust = BenchSettings(class_prior=True, measure="robust", attack="pgd", eps=(0.1, 0.2))
    assert config_hash(robust.fingerprint("wine")) == "4dd44896be26c753"


def _many(n_sets: int, trials: int, params: str = "{}") -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"dataset": f"d{i}", "method": m, "model": "logistic", "trial": t, "alpha": 1.0,
             "measure": "clean", "test_accuracy": 0.8 + 0.01 * t + (m == "genlabel_cv") * 0.01 * i,
             "robust_accuracy": None, "params": params, "seconds": 1.0,
             "config": '{"epochs": 5, "warmup_epochs": 20}', "versions": "{}"}
            for i in range(n_sets) for t in range(trials) for m in ("mixup", "genlabel_cv")
        ]
    )  # fmt: skip


def test_one_data_set_gets_a_sentence_not_a_win_tie_loss_table(tmp_path: Path) -> None:
    """With one data set the table read "100 % higher" for a difference the size of the
    spread, and the histogram was a single bar."""
    from genlabel.bench.report import write_report

    paths = write_report(_many(1, 2), tmp_path)
    text = paths[-1].read_text()
    assert "against each baseline" not in text and "| baseline |" not in text
    assert "One data set, so no win/tie/loss count (that needs two or more): on d0" in text
    assert "GenLabel (CV) scores +0.0 points against mixup" in text
    assert not list(tmp_path.glob("hist_*.png"))
    assert [p.name for p in paths if p.suffix == ".png"] == [
        "accuracy_by_method_logistic_alpha1.png"
    ]
    many = write_report(_many(6, 2), tmp_path / "many")
    text = many[-1].read_text()
    assert "| baseline |" in text and "One data set" not in text
    assert (tmp_path / "many" / "hist_genlabel_cv_minus_mixup_logistic_alpha1.png") in many


def test_the_report_shows_the_hyper_parameters_cv_chose(tmp_path: Path) -> None:
    """The chosen lr, gamma and density were only JSON in results.csv; at 5 epochs
    GenLabel (CV) chose gamma = 0, i.e. mixup, and nothing showed it."""
    from genlabel.bench.report import write_report

    frame = _many(2, 2, params='{"lr": 0.01}')
    cv = frame.method == "genlabel_cv"
    frame.loc[cv, "params"] = '{"density": "gm", "gamma": 0.0, "lr": 0.01}'
    frame.loc[cv & (frame.trial == 1) & (frame.dataset == "d1"), "params"] = (
        '{"density": "kde", "gamma": 0.6, "lr": 0.001}'
    )
    text = write_report(frame, tmp_path)[-1].read_text()
    table = text[text.index("Hyper-parameters chosen by cross-validation") :]
    assert "γ = 0 trains on mixup's label alone" in table and "(×n: chosen in n trials)" in table
    assert "| d0 | lr 0.01 | lr 0.01; γ 0 (mixup); gm |" in table
    assert "| d1 | lr 0.01 | lr 0.01 ×1, 0.001 ×1; γ 0 (mixup) ×1, 0.6 ×1; gm ×1, kde ×1 |" in table


def test_run_settings_list_what_applies_and_jobs_means_workers(tmp_path: Path) -> None:
    """`warmup_epochs: 20` was listed for a logistic run; "(1 parallel jobs or processes; 0
    without an end ...)" mixed two meanings of jobs."""
    from genlabel.bench.report import write_report

    runs = pd.DataFrame({"started": [0.0], "wall_seconds": [5.0], "finished": [5.0],
                         "n_jobs": [1], "cells": [8]})  # fmt: skip
    text = write_report(_many(2, 2), tmp_path / "a", runs=runs)[-1].read_text()
    assert '- settings: `{"epochs": 5}`' in text
    assert "over 1 run segment(s) with --jobs 1 (parallel worker processes); segments" in text
    assert "without an end" not in text and "parallel jobs" not in text
    reference = _many(2, 2).assign(config='{"latent": "reference", "warmup_epochs": 20}')
    text = write_report(reference, tmp_path / "b")[-1].read_text()
    assert '"warmup_epochs": 20' in text
    grids = '{"gamma_grid": [0.0, 1.0], "lr_grid": [0.1]}'
    text = write_report(_many(2, 2).assign(config=grids), tmp_path / "c")[-1].read_text()
    assert '"gamma_grid": [0.0, 1.0]' in text  # genlabel_cv ran
    vanilla = (
        _many(2, 2)
        .assign(config=grids, method="vanilla")
        .drop_duplicates(["dataset", "method", "trial"])
    )
    text = write_report(vanilla, tmp_path / "d")[-1].read_text()
    assert "gamma_grid" not in text and '"lr_grid": [0.1]' in text


def test_label_classes_enter_the_cell_settings_and_bad_values_exit_2(tmp_path: Path) -> None:
    """Issue 42: --label-classes mixed is stored with the cells (their settings); the
    default "all" leaves the fingerprint of older stores as it was."""
    assert "label_classes" not in BenchSettings().fingerprint()
    args = ["bench", "--datasets", "iris", "--methods", "genlabel_gm", "--trials", "1",
            "--epochs", "2", "--no-progress", "--db", str(tmp_path / "m.sqlite")]  # fmt: skip
    res = runner.invoke(app, [*args, "--label-classes", "mixed"])
    assert res.exit_code == 0, res.output
    (config,) = _cells(tmp_path / "m.sqlite").config.unique()
    assert json.loads(config)["label_classes"] == "mixed"
    again = runner.invoke(app, args)  # the same store under the other choice: refused
    assert again.exit_code == 2 and "other settings" in again.output
    assert "label_classes not set here, 'mixed' there" in again.output
    bad = runner.invoke(app, [*args[:-1], str(tmp_path / "b.sqlite"), "--label-classes", "two"])
    assert bad.exit_code == 2 and "unknown label classes 'two'" in bad.output
