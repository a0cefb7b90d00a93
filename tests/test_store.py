"""The result store's claims (leases renewed by a heartbeat), its errors, and the report's
files: what an adversarial probe of the CLI and the store found (issue 38)."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genlabel.bench import BenchSession, BenchSettings, ResultStore
from genlabel.bench import store as store_module
from genlabel.bench.runner import job_key
from genlabel.cli import app
from genlabel.cli.app import CLAIM_TIMEOUT as CLI_CLAIM_TIMEOUT

cli = CliRunner()

#: 16 cheap jobs of one cell each, for runs in another process.
DRIVER = [
    sys.executable, "-m", "genlabel.cli", "bench", "--datasets", "iris,wine,gaussian9,moons",
    "--methods", "vanilla", "--trials", "4", "--epochs", "10", "--no-progress",
]  # fmt: skip
CELLS = 16


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


def _count(db: Path, table: str = "results") -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _start_driver(db: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*DRIVER, "--db", str(db), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip


def _wait_for_cells(db: Path, proc: subprocess.Popen, n: int = 1) -> None:
    """Until the store holds ``n`` cells (the driver is mid-run), or the driver ended."""
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
        try:
            if db.exists() and _count(db) >= n:
                return
        except sqlite3.OperationalError:  # not created yet, or busy
            pass
    raise AssertionError(f"the driver stored fewer than {n} cells: {proc.communicate()}")


def _fake_driver(store: ResultStore, *, host: str, pid: int, seen: float) -> int:
    """A run segment of another driver, as a store copied from elsewhere holds it."""
    run = store.begin_run(n_jobs=1, backend="joblib", command="another driver")
    store._conn.execute(
        "UPDATE runs SET host = ?, pid = ?, started = ?, heartbeat = ? WHERE id = ?",
        (host, pid, seen, seen, run),
    )
    store._conn.commit()
    return run


# -- item 2: claims are leases -------------------------------------------------------------
def test_the_cli_default_claim_timeout_is_the_store_s_and_bad_ones_are_one_line(tmp_path):
    assert CLI_CLAIM_TIMEOUT == store_module.CLAIM_TIMEOUT
    assert store_module.heartbeat_gap(store_module.CLAIM_TIMEOUT) < store_module.CLAIM_TIMEOUT / 4
    for bad in ("0", "-1", "nan", "inf"):
        res = cli.invoke(
            app, ["bench", "--datasets", "iris", "--claim-timeout", bad,
                  "--db", str(tmp_path / "x.sqlite")],
        )  # fmt: skip
        assert res.exit_code == 2 and "--claim-timeout" in res.output, res.output
        assert res.output.count("\n") == 1
    assert not (tmp_path / "x.sqlite").exists()


def test_cells_held_by_a_live_driver_are_named_and_the_report_says_partial(tmp_path) -> None:
    """Two drivers on one store: the first to finish used to write a report from 27 of 30
    cells without a word."""
    session = _session(tmp_path)
    plan = session.plan()
    with ResultStore(session.db) as store:  # another driver (this live process) holds two jobs
        other = store.begin_run(n_jobs=1, backend="joblib", command="other driver")
        assert all(store.claim(job_key(j), other, 2) for j in plan.jobs[:2])
        summary = session.run(plan)
        assert (summary.cells_written, summary.cells_stored) == (4, 4)
        expected = f"4 cells held by host {socket.gethostname()}, pid {os.getpid()}, last seen"
        assert summary.held is not None and summary.held.startswith(expected)
        report = session.report()[-1]
        first, *rest = report.read_text().splitlines()
        assert "partial" in first and expected in "\n".join(rest)
        res = cli.invoke(
            app, ["bench", "--datasets", "iris,wine", "--methods", "vanilla,mixup", "--trials",
                  "2", "--epochs", "2", "--db", str(session.db), "--no-progress"],
        )  # fmt: skip
        assert res.exit_code == 0
        assert re.search(f"{re.escape(expected)} \\d+ s ago; the report is partial", res.output)
        store.end_run(other)  # it ends without storing its cells: they are free
    rest = _session(tmp_path).run()
    assert (rest.cells_written, rest.cells_stored, rest.held) == (4, 8, None)
    assert "partial" not in _session(tmp_path).report()[-1].read_text().splitlines()[0]


@pytest.mark.parametrize("host", ["another-host", "this host, pid reused"])
def test_claims_of_a_silent_driver_are_taken_over_once_their_lease_expires(tmp_path, host):
    """A store copied from another machine, or a killed driver whose pid now belongs to
    another process: its claims used to count as held for ever (every rerun "finished in
    0.0 s" with 27 of 30 cells)."""
    name = socket.gethostname() if host.startswith("this host") else host
    session = _session(tmp_path)
    plan = session.plan()
    with ResultStore(session.db) as store:  # the pid is alive (this process)
        other = _fake_driver(store, host=name, pid=os.getpid(), seen=time.time() - 100)
        assert all(store.claim(job_key(j), other, 2) for j in plan.jobs)
    held = _session(tmp_path).run()  # last seen 100 s ago: within the default 300 s
    assert held.cells_written == 0 and f"8 cells held by host {name}" in (held.held or "")
    assert re.search(r"last seen 1\d\d s ago", held.held or "")
    short = _session(tmp_path, claim_timeout=60).run()  # lapsed: taken over
    assert (short.cells_written, short.cells_stored, short.held) == (8, 8, None)


def test_two_drivers_on_one_store_share_the_jobs_and_store_every_cell_once(tmp_path) -> None:
    db = tmp_path / "two.sqlite"
    first = _start_driver(db, "--report", str(tmp_path / "a"))
    _wait_for_cells(db, first)
    second = _start_driver(db, "--report", str(tmp_path / "b"))
    outs = [p.communicate(timeout=600) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outs
    with ResultStore(db) as store:
        frame, runs = store.frame(), store.runs()
    assert len(frame) == CELLS and not frame.duplicated(list(store_module.CELL_KEY)).any()
    # Each job was computed by one driver: the cells each wrote add up to the whole.
    assert runs.cells.sum() == CELLS and runs.finished.notna().all()
    assert _count(db, "claims") == 0
    for (_out, err), folder in zip(outs, ("a", "b"), strict=True):
        first_line = (tmp_path / folder / "report.md").read_text().splitlines()[0]
        assert ("the report is partial" in err) == ("partial" in first_line)


def test_a_sigkilled_driver_s_jobs_are_taken_over_after_the_claim_timeout(tmp_path) -> None:
    """kill -9 leaves the claims; on another host (where its pid cannot be checked) they
    are held until the lease lapses, then taken over."""
    db = tmp_path / "k.sqlite"
    proc = _start_driver(db)
    try:
        _wait_for_cells(db, proc)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.communicate()
    partial = _count(db)
    assert 0 < partial < CELLS and _count(db, "claims") > 0
    with sqlite3.connect(db) as conn:  # the store as copied to another machine
        conn.execute("UPDATE runs SET host = 'the-killed-host'")
    held = subprocess.run([*DRIVER, "--db", str(db)], capture_output=True, text=True, timeout=600)
    assert held.returncode == 0, held.stderr
    assert "held by host the-killed-host" in held.stderr
    assert "the report is partial" in held.stderr and _count(db) < CELLS
    done = subprocess.run(
        [*DRIVER, "--db", str(db), "--claim-timeout", "0.5"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0 and "partial" not in done.stderr, done.stderr
    assert _count(db) == CELLS and _count(db, "claims") == 0


def test_sigterm_stops_a_run_like_ctrl_c_and_exits_143(tmp_path) -> None:
    """SIGTERM (a scheduler's stop, the OOM killer's first word) used to leave the claims."""
    db = tmp_path / "t.sqlite"
    proc = _start_driver(db)
    _wait_for_cells(db, proc)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "interrupted:" in err and "run the same command to resume" in err
    assert _count(db, "claims") == 0
    with ResultStore(db) as store:
        assert store.runs().finished.notna().all()
    rest = subprocess.run([*DRIVER, "--db", str(db)], capture_output=True, text=True, timeout=600)
    assert rest.returncode == 0 and _count(db) == CELLS


# -- item 5: the store's errors, read-only stores, checksums, the report's place -----------
def _stored_session(tmp_path: Path, name: str = "s") -> BenchSession:
    session = _session(tmp_path, db=tmp_path / f"{name}.sqlite", trials=3)
    session.run()
    with sqlite3.connect(session.db) as conn:  # everything in the main file, no -wal/-shm
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    return session


def _one_line_error(res, name: str) -> None:
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and res.output.count("error: ") == 1
    error = next(line for line in res.output.splitlines() if line.startswith("error: "))
    assert name in error


@pytest.mark.parametrize("cut", [4096, 1000])
def test_a_store_cut_in_its_last_pages_is_one_line_naming_it(tmp_path, cut) -> None:
    """A store cut at the end: `report` raised DatabaseError, `bench` int(None)."""
    session = _stored_session(tmp_path)
    data = session.db.read_bytes()
    cut_db = tmp_path / "cut.sqlite"
    cut_db.write_bytes(data[: len(data) - cut])
    res = cli.invoke(app, ["report", "--db", str(cut_db), "--out", str(tmp_path / "rep")])
    _one_line_error(res, "cut.sqlite")
    res = cli.invoke(
        app, ["bench", "--datasets", "iris,wine", "--methods", "vanilla,mixup", "--trials",
              "3", "--epochs", "2", "--db", str(cut_db), "--no-progress"],
    )  # fmt: skip
    _one_line_error(res, "cut.sqlite")


def test_a_damaged_cell_is_reported_not_read_and_computed_again(tmp_path) -> None:
    """A cell whose values changed after it was stored (a cut store read back one mangled
    cell that SQLite's integrity check let pass)."""
    session = _stored_session(tmp_path)
    good = session.results()
    with sqlite3.connect(session.db) as conn:
        conn.execute("UPDATE results SET test_accuracy = 0.123 WHERE rowid = 1")
    with pytest.warns(store_module.StoreWarning, match=r"s\.sqlite: 1 damaged cell"):
        frame = session.results()
    assert len(frame) == len(good) - 1 and 0.123 not in set(frame.test_accuracy)
    with pytest.warns(store_module.StoreWarning, match="damaged"):
        plan = _session(tmp_path, db=session.db, trials=3).plan()
    assert plan.todo == 1
    with pytest.warns(store_module.StoreWarning, match="damaged"):
        assert _session(tmp_path, db=session.db, trials=3).run().cells_written == 1
    with ResultStore(session.db) as store:  # sound again: no warning, every cell read
        assert len(store.frame()) == len(good) and 0.123 not in set(store.frame().test_accuracy)


def test_a_db_under_a_file_is_one_line(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("notes")
    db = tmp_path / "notes.txt" / "x.sqlite"
    res = cli.invoke(app, ["bench", "--datasets", "iris", "--db", str(db), "--no-progress"])
    _one_line_error(res, "notes.txt is a file")


def _read_only(folder: Path, command: list[str]) -> subprocess.CompletedProcess:
    """``command`` run with ``folder`` read-only: a read-only bind mount (as root, whom
    permissions do not stop), else the folder's write bits removed."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=300)
        finally:
            folder.chmod(0o755)
    mount = f"mount --bind {folder} {folder} && mount -o remount,ro,bind {folder}"
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"{mount} && true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("running as root without a way to make a read-only mount (unshare -m)")
    script = f"{mount} && exec {' '.join(map(str, command))}"
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=300
    )


def test_a_store_on_a_read_only_mount_is_reported_and_a_new_one_there_is_one_line(tmp_path):
    """A valid store on a read-only mount used to be "not a GenLabel result store"; a new
    --db there a traceback."""
    folder = tmp_path / "ro"
    session = _stored_session(folder, "s")
    assert sorted(p.name for p in folder.iterdir() if p.suffix != "") == ["s.sqlite"]
    before = session.db.read_bytes()
    genlabel = [sys.executable, "-m", "genlabel.cli"]
    out = tmp_path / "rep"
    res = _read_only(folder, [*genlabel, "report", "--db", session.db, "--out", out])
    assert res.returncode == 0, res.stderr
    assert "| iris |" in (out / "report.md").read_text()
    assert session.db.read_bytes() == before
    new = folder / "new.sqlite"
    res = _read_only(folder, [*genlabel, "bench", "--datasets", "iris", "--db", new])
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert f"cannot create the store {new}" in res.stderr


def test_another_application_s_sqlite_file_is_refused_and_left_as_it_was(tmp_path) -> None:
    """It used to be accepted, switched to WAL and given the store's tables."""
    other = tmp_path / "app.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE users (name TEXT)")
        conn.execute("INSERT INTO users VALUES ('ada')")
    before = other.read_bytes()
    with pytest.raises(
        store_module.StoreError, match=r"not a GenLabel result store \(its tables: users\)"
    ):
        ResultStore(other)
    res = cli.invoke(app, ["bench", "--datasets", "iris", "--db", str(other), "--no-progress"])
    _one_line_error(res, "app.sqlite")
    assert other.read_bytes() == before and before[18:20] == b"\x01\x01"  # no WAL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.sqlite"]


def test_report_on_a_folder_names_the_stores_in_it_not_a_failing_command(tmp_path) -> None:
    _stored_session(tmp_path, "wine")
    res = cli.invoke(app, ["report", "--db", str(tmp_path)])
    _one_line_error(res, "is a folder")
    assert "wine.sqlite" in res.output and "genlabel bench" not in res.output


def test_two_stores_in_one_folder_keep_their_own_reports(tmp_path) -> None:
    """runs/a.sqlite and runs/b.sqlite used to write the same runs/report.md."""
    from genlabel.bench.report import report_folder

    a = _session(tmp_path, db=tmp_path / "runs" / "a.sqlite", datasets=["iris"])
    b = _session(tmp_path, db=tmp_path / "runs" / "b.sqlite", datasets=["wine"])
    for session in (a, b):
        session.run()
        assert session.report()[-1] == session.db.with_suffix("") / "report.md"
    assert "| iris |" in (tmp_path / "runs" / "a" / "report.md").read_text()
    assert "| wine |" in (tmp_path / "runs" / "b" / "report.md").read_text()
    res = cli.invoke(app, ["report", "--db", str(a.db)])
    assert res.exit_code == 0 and str(tmp_path / "runs" / "a" / "report.md") in res.output
    assert not (tmp_path / "runs" / "report.md").exists()
    assert report_folder("reports/quick/results.sqlite") == Path("reports/quick")
    assert report_folder("runs/store") == Path("runs/store-report")


@pytest.mark.parametrize(
    "content", [b"", b"not a checkpoint", b"\x80\x04cos\nsystem\n(S'echo hostile'\ntR."]
)
def test_an_unreadable_training_checkpoint_is_one_error_naming_the_file(tmp_path, content):
    """An empty last.pt was a bare "Aborted!", a hostile one a 100-line traceback."""
    import torch

    from genlabel._validation import CheckpointError
    from genlabel.training import Trainer

    (tmp_path / "last.pt").write_bytes(content)
    trainer = Trainer(torch.nn.Linear(2, 2), epochs=1, checkpoint_dir=tmp_path, verbose=0)
    x, y = torch.zeros(8, 2), torch.zeros(8, dtype=torch.long)
    with pytest.raises(
        CheckpointError, match=f"cannot read the checkpoint {tmp_path}/last.pt"
    ) as err:
        trainer.fit((x, y))
    assert "\n" not in str(err.value) and "delete it to restart" in str(err.value)


def test_an_unreadable_image_cell_checkpoint_stops_the_command_in_one_line(tmp_path) -> None:
    db = tmp_path / "d.sqlite"
    args = ["images", "--dataset", "digits", "--methods", "vanilla", "--epochs", "1",
            "--train-subset", "64", "--batch-size", "64", "--db", str(db), "--no-progress"]  # fmt: skip
    assert cli.invoke(app, args).exit_code == 0
    (model,) = (tmp_path / "d-checkpoints").glob("*/model.pt")
    model.write_bytes(b"")  # e.g. a disk that filled up
    with sqlite3.connect(db) as conn:  # the cell is to be computed again: its model is read
        conn.execute("DELETE FROM results")
    res = cli.invoke(app, args)
    _one_line_error(res, str(model))
    assert "delete it to train that cell again" in res.output


# -- item 6: names from a store never leave --out ------------------------------------------
def test_names_from_a_crafted_store_stay_inside_the_report_folder(tmp_path) -> None:
    """A store whose data set is named ``x/../../escaped`` made ``genlabel report --out rep``
    write a PNG outside ``rep``."""
    import json

    from genlabel.bench.plots import safe_name

    bins = {"count": [1] * 15, "confidence": [0.5] * 15, "accuracy": [0.5] * 15}
    base = {"trial": 0, "alpha": 1.0, "test_accuracy": 0.8, "params": "{}", "seconds": 1.0}
    records = [  # every kind of plot: histogram, box plot, robust vs eps, reliability
        base | {"dataset": d, "method": m, "model": "../../m", "measure": "clean",
                "trial": t, "ece": 0.1, "nll": 0.5}
        for d in ("x/../../escaped", "/abs/olute") for m in ("mixup", "genlabel_cv")
        for t in (0, 1)
    ] + [
        base | {"dataset": "x/../../escaped", "method": "mixup", "model": "logistic",
                "measure": f"robust-{attack}-eps{eps}", "robust_accuracy": 0.5}
        for attack in ("../../../pwn", "fgsm") for eps in (0.1, 0.2)
    ] + [
        base | {"dataset": "../../img", "method": m, "model": "cnn", "measure": "clean",
                "ece": 0.1, "nll": 0.5, "reliability": json.dumps(bins)}
        for m in ("vanilla", "mixup")
    ]  # fmt: skip
    store_dir = tmp_path / "a" / "b"
    with ResultStore(store_dir / "crafted.sqlite") as store:
        assert store.add(records, {"crafted": True}) == len(records)
    out = store_dir / "rep"
    res = cli.invoke(app, ["report", "--db", str(store_dir / "crafted.sqlite"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    written = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    outside = [p for p in written if out not in p.parents and p.parent != store_dir]
    assert not outside, outside
    pngs = sorted(p.name for p in out.glob("*.png"))
    # 2 accuracy plots (per-trial points: fewer than 5 data sets, so no histogram either),
    # 2 robust curves, a reliability diagram
    assert len(pngs) == 5, pngs
    assert all(name.startswith(("accuracy_", "robust_", "reliability_")) for name in pngs)
    assert safe_name("iris") == "iris" and safe_name("40994") == "40994"
    assert safe_name("a/b") != safe_name("a_b")  # names that had to change never collide
    assert "/" not in safe_name("x/../../escaped") and not safe_name("..").startswith(".")


def test_a_cell_with_minus_zero_or_nan_reads_back_sound(tmp_path) -> None:
    """A review found cells reported damaged on every run (and recomputed for ever): the
    checksum was taken over -0.0 (the NLL of perfectly confident predictions, or
    ``--alpha -0``) and NaN, which SQLite gives back as 0.0 and NULL."""
    import warnings

    base = {"dataset": "d", "method": "mixup", "model": "logistic", "measure": "clean",
            "trial": 0, "test_accuracy": 1.0, "params": "{}", "seconds": 1.0}  # fmt: skip
    records = [
        base | {"alpha": -0.0, "nll": -0.0, "ece": 0.0},
        base | {"alpha": 1.0, "nll": float("nan"), "ece": 0.1},
    ]
    with ResultStore(tmp_path / "z.sqlite") as store:
        assert store.add(records, {"z": True}) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a damaged cell warns
        with ResultStore(tmp_path / "z.sqlite", read_only=True) as store:
            frame = store.frame()
    assert len(frame) == 2 and frame.nll.isna().sum() == 1


def test_a_very_long_name_becomes_a_short_file_name() -> None:
    """A 240-character data set name made the report fail with "File name too long"."""
    from genlabel.bench.plots import safe_name

    long = "a" * 240
    assert len(safe_name(long)) <= 90 and safe_name(long) != safe_name("a" * 241)
    assert safe_name("iris") == "iris"
