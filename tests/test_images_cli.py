"""``genlabel images`` end to end on the embedded 8x8 digits: store, report, resume, errors."""

from __future__ import annotations

import dataclasses
import gzip
import json
import sqlite3
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from genlabel.cli import app
from genlabel.images import session as session_module
from genlabel.registry import IMAGE_MODELS, method_names

pytestmark = pytest.mark.usefixtures("one_thread")

cli = CliRunner()
IMAGE_METHODS = method_names(models=IMAGE_MODELS)


def _args(db: Path, *extra: str) -> list[str]:
    return [
        "images", "--dataset", "digits", "--epochs", "1", "--train-subset", "160",
        "--batch-size", "64", "--db", str(db), "--no-progress", *extra,
    ]  # fmt: skip


def _cells(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT method, trial, measure, test_accuracy, robust_accuracy, ece, reliability"
            " FROM results ORDER BY method, trial, measure"
        ).fetchall()


def test_every_method_trains_into_the_store_and_the_report(tmp_path) -> None:
    db = tmp_path / "runs" / "digits.sqlite"
    start = time.perf_counter()
    res = cli.invoke(app, _args(db))
    elapsed = time.perf_counter() - start
    assert res.exit_code == 0, res.output
    assert f"8 cells, 0 done, 8 to run in 8 tasks (method x trial) -> {db}" in res.output
    cells = _cells(db)
    assert sorted(c[0] for c in cells) == sorted(IMAGE_METHODS)
    for _method, trial, measure, accuracy, robust, ece, reliability in cells:
        assert (trial, measure, robust) == (0, "clean", None)
        assert 0 <= accuracy <= 1 and 0 <= ece <= 1
        assert sum(json.loads(reliability)["count"]) == 540  # the digits test split
    with sqlite3.connect(db) as conn:  # cells ran one after another, each timed once
        assert conn.execute("SELECT sum(seconds) FROM results").fetchone()[0] < elapsed
    report = (tmp_path / "runs" / "digits" / "report.md").read_text()
    assert "| digits |" in report and "cutmix_genlabel" in report
    assert (tmp_path / "runs" / "digits" / "reliability_digits_cnn_alpha1.png").is_file()
    # One checkpoint folder per cell, holding the finished model only.
    folders = sorted((tmp_path / "runs" / "digits-checkpoints").iterdir())
    assert len(folders) == 8 and all([p.name for p in f.iterdir()] == ["model.pt"] for f in folders)
    again = cli.invoke(app, _args(db))
    assert again.exit_code == 0 and "8 cells, 8 done, 0 to run in 0 tasks" in again.output


def test_a_robust_run_attacks_the_models_of_the_clean_run(tmp_path) -> None:
    db = tmp_path / "r.sqlite"
    base = _args(db, "--methods", "vanilla,mixup_genlabel")
    assert cli.invoke(app, base).exit_code == 0
    robust = [*base, "--measure", "robust", "--attack", "fgsm", "--eps", "0,0.1",
              "--robust-subset", "40"]  # fmt: skip
    res = cli.invoke(app, robust)
    assert res.exit_code == 0, res.output
    cells = {(c[0], c[2]): c for c in _cells(db)}
    assert len(cells) == 6
    for method in ("vanilla", "mixup_genlabel"):
        clean = cells[(method, "clean")]
        at0, at1 = cells[(method, "robust-fgsm-eps0")], cells[(method, "robust-fgsm-eps0.1")]
        assert at0[3] == clean[3]  # the same trained model: the same clean accuracy
        assert at1[4] <= at0[4] <= clean[3] + 0.1  # robust accuracy falls with eps
    report = (tmp_path / "r" / "report.md").read_text()
    assert "`robust-fgsm-eps0.1`" in report
    assert (tmp_path / "r" / "robust_vs_eps_digits_cnn_alpha1.png").is_file()


def test_several_attacks_run_on_the_same_model(tmp_path) -> None:
    db = tmp_path / "a.sqlite"
    base = _args(db, "--methods", "vanilla")
    assert cli.invoke(app, base).exit_code == 0
    robust = [*base, "--measure", "robust", "--eps", "0.1", "--robust-subset", "40"]
    res = cli.invoke(app, [*robust, "--attack", "pgd, fgsm"])
    assert res.exit_code == 0, res.output
    cells = {c[2]: c for c in _cells(db)}
    assert set(cells) == {"clean", "robust-pgd-eps0.1", "robust-fgsm-eps0.1"}
    assert cells["robust-pgd-eps0.1"][3] == cells["robust-fgsm-eps0.1"][3] == cells["clean"][3]
    # The same cells as a run with the one attack (the same model, the same attack).
    alone = tmp_path / "b.sqlite"
    assert cli.invoke(app, _args(alone, "--methods", "vanilla")).exit_code == 0
    one = cli.invoke(app, [*_args(alone, "--methods", "vanilla"), *robust[len(base):],
                           "--attack", "fgsm"])  # fmt: skip
    assert one.exit_code == 0, one.output
    fgsm = {c[2]: c for c in _cells(alone)}["robust-fgsm-eps0.1"]
    assert fgsm[4] == cells["robust-fgsm-eps0.1"][4]
    again = cli.invoke(app, [*robust, "--attack", "pgd,fgsm"])  # the same spelling: resumes
    assert again.exit_code == 0 and "0 to run" in again.output, again.output


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path, monkeypatch) -> None:
    real = session_module.run_image_cell
    calls = {"n": 0}

    def interrupt_second(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(session_module, "run_image_cell", interrupt_second)
    args = _args(tmp_path / "c.sqlite", "--methods", "vanilla,mixup", "--trials", "2")
    res = cli.invoke(app, args)
    assert res.exit_code == 130
    assert "interrupted: 1 of 4 cells stored; run the same command to resume" in res.output
    monkeypatch.setattr(session_module, "run_image_cell", real)
    res = cli.invoke(app, args)
    assert res.exit_code == 0 and "4 cells, 1 done, 3 to run" in res.output


def _mnist_dir(root: Path, *, corrupt: bool) -> Path:
    folder = root / "mnist"
    folder.mkdir(parents=True)
    if corrupt:  # an images file whose header promises more bytes than it holds
        header = (0x803).to_bytes(4, "big") + b"".join(v.to_bytes(4, "big") for v in (10, 28, 28))
        (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + b"\0" * 99))
        (folder / "train-labels-idx1-ubyte").write_bytes(
            (0x801).to_bytes(4, "big") + (10).to_bytes(4, "big") + bytes(10)
        )
    return root


BAD = [
    (["--dataset", "cifar11"], "dataset must be one of digits, mnist"),
    (["--model", "vgg"], "model must be one of cnn, preact_resnet18"),
    (["--methods", "mixup,nope"], "unknown method 'nope'"),
    (["--methods", "genlabel_kde"], "method 'genlabel_kde' trains logistic, mlp, not cnn"),
    (["--methods", "nope"], "unknown method 'nope'; expected one of vanilla, mixup, adamixup"),
    (["--train-subset", "5000"], "train_subset 5000 is larger than the training set"),
    (["--eps", "0.1,1.5"], "--eps must be a finite number in [0, 1]; got 1.5"),
    (["--eps", "a"], "--eps takes comma-separated numbers"),
    (["--amp", "fp16"], "amp fp16 needs a CUDA device"),
    (["--amp", "fp8"], "amp must be None, bf16 or fp16"),
    (["--device", "cuda:7"], "device"),
    (["--gamma", "2"], "--gamma must be a finite number in [0, 1]; got 2.0"),
    (["--trials", "0"], "--trials must be an integer >= 1; got 0"),
    (["--methods", "manifold_mixup", "--layers", "input,features.nope"],
     "unknown layers ['features.nope']"),
    (["--measure", "robust", "--attack", "cw"], "attack must be one of fgsm, pgd, autoattack"),
    (["--update-every", "0"], "--update-every must be an integer >= 1; got 0"),
    (["--label-classes", "two"], "label_classes must be all or mixed"),
]  # fmt: skip


@pytest.mark.parametrize(("extra", "message"), BAD)
def test_bad_input_is_one_line_and_exit_status_2(tmp_path, extra, message) -> None:
    args = _args(tmp_path / "b.sqlite")
    if "--dataset" in extra:  # replace the default data set
        i = args.index("--dataset")
        del args[i : i + 2]
    res = cli.invoke(app, [*args, *extra])
    assert res.exit_code == 2, res.output
    assert res.output.startswith("error: ") and res.output.count("\n") == 1, res.output
    assert message in res.output


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (False, "mnist: the four IDX files (train-images-idx3-ubyte.gz, ...) not found: looked in"),
        (True, "truncated or corrupt"),
    ],
)
def test_missing_or_corrupt_files_are_one_line_and_exit_status_2(tmp_path, corrupt, message):
    root = tmp_path / "data"
    if corrupt:
        _mnist_dir(root, corrupt=True)
    args = _args(tmp_path / "b.sqlite")
    args[args.index("digits")] = "mnist"
    res = cli.invoke(app, [*args, "--data-dir", str(root)])
    assert res.exit_code == 2 and res.output.startswith("error: "), res.output
    assert message in res.output and res.output.count("\n") == 1


def test_the_help_lists_the_valid_values() -> None:
    res = cli.invoke(app, ["images", "--help"], terminal_width=200)
    text = " ".join(res.output.split())
    for name in ["fashion_mnist", "tiny_imagenet", "preact_resnet18", "autoattack",
                 "manifold_genlabel", "cutmix_genlabel"]:  # fmt: skip
        assert name in text


def test_the_docs_examples_run(tmp_path, monkeypatch) -> None:
    import re

    text = (Path(__file__).resolve().parents[1] / "docs" / "images.md").read_text()
    section = text[text.index("## From Python") :].split("\n## ")[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)  # one session, two steps
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)  # the example writes its store under runs/
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/images.md", "exec"), namespace)
    assert (tmp_path / "runs" / "digits-example" / "report.md").is_file()


def test_a_clean_and_a_robust_driver_claim_different_jobs(tmp_path) -> None:
    from genlabel.images import ImageSession, ImageSettings

    def session(**kwargs):
        settings = ImageSettings(epochs=1, train_subset=64, **kwargs)
        return ImageSession(settings, methods=["vanilla"], db=tmp_path / "r.sqlite",
                            progress=False, log=lambda _m: None)  # fmt: skip

    clean, robust = session(), session(measure="robust", attack="fgsm", eps=(0.1,))
    with session_module.ResultStore(tmp_path / "r.sqlite") as store:
        run = store.begin_run(n_jobs=1, backend="images", command="a live clean driver")
        assert store.claim(clean._job_key("vanilla", 0), run)
        assert store.claim(robust._job_key("vanilla", 0), run + 1)


def test_a_cell_another_driver_finished_after_this_plan_is_not_run_again(
    tmp_path, monkeypatch
) -> None:
    """Both drivers plan the same cells; the other one finishes one before this one reaches
    it. This driver used to claim it again (its claim is released) and re-run the cell,
    which for a robust cell means attacking the model again."""
    from genlabel.images import ImageSession, ImageSettings
    from genlabel.images import session as image_session

    def session():
        return ImageSession(ImageSettings(epochs=1, train_subset=64),
                            methods=["vanilla", "mixup"], db=tmp_path / "r.sqlite",
                            progress=False, log=lambda _m: None)  # fmt: skip

    mine = session()
    plan = mine.plan()
    other = session()
    other.run(dataclasses.replace(other.plan(), jobs=[("vanilla", 0)]))
    ran = []
    real = image_session.run_image_cell
    monkeypatch.setattr(
        image_session, "run_image_cell", lambda s, m, t, **kw: ran.append(m) or real(s, m, t, **kw)
    )
    summary = mine.run(plan)
    assert ran == ["mixup"] and summary.cells_written == 1 and summary.cells_stored == 2


def test_a_store_made_in_python_with_int_settings_resumes_from_the_command(tmp_path) -> None:
    """``alpha=1`` in Python is ``--alpha 1`` (a float) on the command line: the store's
    settings match and the cell is not run again."""
    from genlabel.images import ImageSession, ImageSettings

    db = tmp_path / "r.sqlite"
    settings = ImageSettings(epochs=1, train_subset=160, batch_size=64, alpha=1, lr=1,
                             gamma_grid=[0, 1], val_split=0.5, eps=(0,))  # fmt: skip
    assert settings.alpha == 1.0 and type(settings.alpha) is float
    assert settings.gamma_grid == (0.0, 1.0) and all(type(g) is float for g in settings.gamma_grid)
    floats = ImageSettings(epochs=1, train_subset=160, batch_size=64, alpha=1.0, lr=1.0,
                           gamma_grid=(0.0, 1.0), val_split=0.5, eps=(0.0,))  # fmt: skip
    assert settings.training_key() == floats.training_key()
    session = ImageSession(settings, methods=["mixup_genlabel"], db=db, progress=False,
                           log=lambda _m: None)  # fmt: skip
    session.run(session.plan())
    again = cli.invoke(app, _args(db, "--methods", "mixup_genlabel", "--alpha", "1", "--lr", "1",
                                  "--gamma", "0,1", "--val-split", "0.5"))  # fmt: skip
    assert again.exit_code == 0 and "0 to run" in again.output, again.output
    # What is no number is still reported by the settings' checks, not by the conversion.
    assert "alpha must be a float >= 0; got 'one'" in "; ".join(ImageSettings(alpha="one").errors())


def test_the_report_counts_overlapping_run_segments_once(tmp_path) -> None:
    import pandas as pd

    from genlabel.bench import write_report

    frame = pd.DataFrame([{
        "dataset": "digits", "method": "vanilla", "model": "cnn", "trial": 0, "alpha": 1.0,
        "measure": "clean", "test_accuracy": 0.9, "robust_accuracy": None, "ece": 0.01,
        "nll": 0.3, "reliability": None, "params": "{}", "seconds": 5.0, "config": "{}",
        "versions": "{}",
    }])  # fmt: skip
    # Two drivers at once, [0, 10] and [5, 15], then one more, [30, 31]: 16 s of wall-clock.
    runs = pd.DataFrame({
        "started": [0.0, 5.0, 30.0], "wall_seconds": [10.0, 10.0, 1.0], "finished": [1, 1, 1],
        "n_jobs": [1, 1, 1], "cells": [1, 0, 0],
    })  # fmt: skip
    write_report(frame, tmp_path, runs=runs)
    assert "wall-clock: 16.0 s over 3 run segment(s)" in (tmp_path / "report.md").read_text()


def test_update_every_reaches_the_genlabel_steps_and_keeps_old_stores_valid(
    tmp_path, monkeypatch
) -> None:
    from genlabel.images import GenLabelStep, ImageSettings

    updates = []
    original = GenLabelStep.update_statistics
    monkeypatch.setattr(
        GenLabelStep,
        "update_statistics",
        lambda self, *a: (updates.append(self.update_every), original(self, *a))[1],
    )

    base = ImageSettings(dataset="digits")
    # The defaults add nothing to the fingerprint: stores written before the options exist
    # stay valid; the memory format, like the device, does not name a result.
    assert "update_every" not in base.fingerprint() and "channels_last" not in base.fingerprint()
    every = ImageSettings(dataset="digits", update_every=4)
    assert every.fingerprint()["update_every"] == 4 and every.training_key() != base.training_key()
    db = tmp_path / "u.sqlite"
    extra = ("--methods", "mixup_genlabel", "--update-every", "4", "--update-warmup", "0")
    extra += ("--channels-last",)
    res = cli.invoke(app, _args(db, *extra))
    assert res.exit_code == 0, res.output
    with sqlite3.connect(db) as conn:
        (params,) = conn.execute("SELECT params FROM results").fetchone()
    assert json.loads(params)["update_every"] == 4
    assert updates == [4]  # 160 images in batches of 64: 3 batches, the first one updates


def test_bf16_training_and_autoattack_run_through_the_command(tmp_path) -> None:
    db = tmp_path / "aa.sqlite"
    res = cli.invoke(app, _args(db, "--methods", "vanilla", "--amp", "bf16"))
    assert res.exit_code == 0, res.output
    robust = ("--measure", "robust", "--attack", "autoattack", "--eps", "0.1")
    res = cli.invoke(app, _args(db, "--methods", "vanilla", "--amp", "bf16", *robust,
                                "--robust-subset", "8"))  # fmt: skip
    assert res.exit_code == 0, res.output
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT measure, params, robust_accuracy FROM results").fetchall()
    measures = {measure: (json.loads(params), robust) for measure, params, robust in rows}
    assert set(measures) == {"clean", "robust-autoattack-eps0.1"}
    assert measures["clean"][0]["amp"] == "bf16"
    robust = measures["robust-autoattack-eps0.1"][1]
    assert robust * 8 == round(robust * 8)  # a share of the 8 attacked images
    assert "robust-autoattack-eps0.1" in (tmp_path / "aa" / "report.md").read_text()


def test_label_classes_reach_the_step_and_are_stored_with_the_cell(tmp_path, monkeypatch) -> None:
    """Issue 42: the image default is "mixed" (it reaches the GenLabel steps and names the
    cells' settings and params); --label-classes all, the paper's choice, leaves the
    fingerprint of stores from before the option as it was."""
    from genlabel.images import GenLabelStep, ImageSettings

    classes = []
    original = GenLabelStep.training_loss
    monkeypatch.setattr(
        GenLabelStep,
        "training_loss",
        lambda self, *a: (classes.append(self.label_classes), original(self, *a))[1],
    )
    paper = ImageSettings(dataset="digits", label_classes="all")
    assert ImageSettings(dataset="digits").label_classes == "mixed"
    assert "label_classes" not in paper.fingerprint()
    assert ImageSettings(dataset="digits").training_key() != paper.training_key()
    db = tmp_path / "m.sqlite"
    res = cli.invoke(app, _args(db, "--methods", "mixup,mixup_genlabel"))  # the default
    assert res.exit_code == 0, res.output
    assert set(classes) == {"mixed"}
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT method, params FROM results").fetchall())
        (config,) = {c for (c,) in conn.execute("SELECT config FROM results")}
    assert json.loads(rows["mixup_genlabel"])["label_classes"] == "mixed"
    assert "label_classes" not in json.loads(rows["mixup"])
    assert json.loads(config)["label_classes"] == "mixed"
    classes.clear()
    db = tmp_path / "all.sqlite"
    res = cli.invoke(app, _args(db, "--methods", "mixup_genlabel", "--label-classes", "all"))
    assert res.exit_code == 0, res.output
    assert set(classes) == {"all"}
    with sqlite3.connect(db) as conn:
        ((params, config),) = conn.execute("SELECT params, config FROM results").fetchall()
    assert "label_classes" not in json.loads(params) and "label_classes" not in json.loads(config)


class _WrongLabeler:
    """A labeler whose labels are deliberately wrong: all weight on class 0."""

    top_k = None

    def log_prob(self, Z):
        out = torch.zeros(Z.shape[0], 4)
        out[:, 0] = 50.0
        return out

    def targets(self, Z, *, top_k=None):
        return torch.softmax(self.log_prob(Z), 1)


def _synthetic_images(n: int = 240):
    """4 classes of 8x8 images: class c has a bright quadrant c, plus noise."""
    from genlabel.data.images import ImageSet

    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % 4
    x = torch.rand(n, 1, 8, 8, generator=g) * 0.3
    for c in range(4):
        r, q = divmod(c, 2)
        x[y == c, :, 4 * r : 4 * r + 4, 4 * q : 4 * q + 4] += 0.7
    return ImageSet((x * 255).to(torch.uint8), y, ("a", "b", "c", "d"), "digits")


def test_gamma_selection_falls_back_to_zero_when_the_labels_are_wrong(
    tmp_path, monkeypatch
) -> None:
    """Issue 42: with labels that put all weight on a wrong class, the validation split
    chooses gamma = 0 (the mix itself); the candidates' models are kept, so a second call
    (an interrupted cell resumed) trains only what is missing."""
    import genlabel.images.experiment as experiment
    from genlabel.images import GenLabelStep, ImageSettings

    def wrong_step(method, *, gamma, seed, **_):
        return GenLabelStep(_WrongLabeler(), gamma=gamma, label_classes="all", seed=seed)

    monkeypatch.setattr(experiment, "build_step", wrong_step)
    settings = ImageSettings(
        dataset="digits", epochs=4, batch_size=32, gamma_grid=(0.0, 0.5, 1.0), val_split=0.25
    )
    train = _synthetic_images()
    folder = tmp_path / "cell"
    trained, choice = experiment.select_gamma(settings, "mixup_genlabel", 0, train, folder)
    scores = choice["val_accuracy"]
    assert choice["gamma"] == 0.0, scores
    assert scores["0"] > scores["1"] + 0.2
    assert sorted(p.name for p in folder.iterdir()) == [
        "model.pt", "val-gamma0", "val-gamma0.5", "val-gamma1",
    ]  # fmt: skip
    (folder / "model.pt").unlink()  # as if killed before the retraining finished
    fits = []
    original = experiment.Trainer.fit
    monkeypatch.setattr(
        experiment.Trainer, "fit", lambda self, d: (fits.append(1), original(self, d))[1]
    )
    again, choice_again = experiment.select_gamma(settings, "mixup_genlabel", 0, train, folder)
    assert choice_again == choice and len(fits) == 1  # only the final model trained again


def test_gamma_names_tell_every_two_gammas_apart() -> None:
    """The candidates' checkpoint folders and the stored validation scores are keyed by
    these names: near-equal gammas must not share one (``:g`` keeps 6 digits)."""
    from genlabel.images.experiment import gamma_name

    assert [gamma_name(g) for g in (0.0, 0.25, 0.5, 1.0, 0.1)] == ["0", "0.25", "0.5", "1", "0.1"]
    near = (0.1, 0.1000001, 0.10000000000000002, 1e-7, 1.0000001e-7)
    assert len({gamma_name(g) for g in near}) == len(near)
    assert all(float(gamma_name(g)) == g for g in near)


def test_gamma_chosen_on_a_validation_split_through_the_command(tmp_path) -> None:
    """--gamma 0,0.5 --val-split: the choice is stored with each GenLabel cell, the report
    shows it per trial, a second run has nothing to do; bad combinations exit 2."""
    db = tmp_path / "g.sqlite"
    extra = ("--methods", "mixup,mixup_genlabel", "--gamma", "0,0.5", "--val-split", "0.2")
    res = cli.invoke(app, _args(db, *extra))
    assert res.exit_code == 0, res.output
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT method, params FROM results").fetchall())
    chosen = json.loads(rows["mixup_genlabel"])
    assert chosen["gamma"] in (0.0, 0.5) and chosen["gamma_grid"] == [0.0, 0.5]
    assert set(chosen["val_accuracy"]) == {"0", "0.5"} and chosen["val_split"] == 0.2
    assert "gamma_grid" not in json.loads(rows["mixup"])
    report = (tmp_path / "g" / "report.md").read_text()
    assert "γ chosen on the validation split (grid 0, 0.5" in report
    again = cli.invoke(app, _args(db, *extra))
    assert again.exit_code == 0 and "2 cells, 2 done, 0 to run" in again.output
    for bad, message in (
        (("--gamma", "0,0.5"), "add --val-split"),
        (("--val-split", "0.1"), "give several"),
        (
            ("--gamma", "0,0.5", "--val-split", "1.5"),
            "--val-split must be a finite number in (0, 1)",
        ),
    ):
        res = cli.invoke(app, _args(tmp_path / "b.sqlite", *bad))
        assert res.exit_code == 2 and message in res.output, res.output


@pytest.mark.parametrize(
    "extra",
    [("--label-classes", "mixed"), ("--gamma", "0,0.5", "--val-split", "0.1"), ("--gamma", "1")],
)
def test_genlabel_options_without_a_genlabel_method_are_an_error(tmp_path, extra) -> None:
    """--label-classes mixed or a gamma grid with --methods mixup were accepted and ignored."""
    res = cli.invoke(app, _args(tmp_path / "x.sqlite", "--methods", "mixup,vanilla", *extra))
    assert res.exit_code == 2, res.output
    assert "a GenLabel method in --methods" in res.output and res.output.count("\n") == 1
