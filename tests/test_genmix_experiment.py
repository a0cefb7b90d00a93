"""The GenMix experiment: CLI, resumability, bad input, data, schemes' parts, figures."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.decomposition import PCA
from torch import nn
from typer.testing import CliRunner

from genlabel.bench.report import write_report
from genlabel.cli import app
from genlabel.density import GaussianClassDensity
from genlabel.genmix.budget import GANBudget, GenMixBudget
from genlabel.genmix.datasets import load_mnist79, load_toy_trial
from genlabel.genmix.experiment import GenMixError, GenMixExperiment
from genlabel.genmix.figures import genmix_figures
from genlabel.genmix.schemes import PCAGaussianDensity, run_scheme
from genlabel.images import MixupStep
from genlabel.losses import soft_cross_entropy
from genlabel.mixing import draw_mix_params

runner = CliRunner()
# A budget that runs every scheme in a second or two.
TINY = ["--epochs", "2", "--n-aug", "4", "--gan-steps", "10", "--inversion-steps", "3"]
SCHEMES = ["vanilla", "mixup", "manifold_mixup", "genmix_gm", "genmix_gan"]


def _tiny_budget(**changes) -> GenMixBudget:
    gan = {"steps": 10, "inversion_steps": 3, "sigma_points": 8}
    budget = GenMixBudget(
        epochs=2,
        n_aug=4,
        n_train_toy=40,
        n_test_toy=60,
        toy_gan=replace(GenMixBudget().toy_gan, **gan),
        image_gan=replace(GenMixBudget().image_gan, hidden=16, **gan),
        gm_components=5,
    )
    return replace(budget, **changes)


@pytest.fixture(autouse=True)
def _one_thread():
    # As the command runs (it sets torch's thread count for the process): small models are
    # fastest on one thread of a shared machine. The test process's count is put back.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _genmix(db: Path, *args: str):
    return runner.invoke(
        app,
        ["genmix", "--datasets", "circle", "--trials", "1", "--db", str(db), "--threads", "1",
         "--no-progress", *TINY, *args],
    )  # fmt: skip


def _cells(db: Path) -> pd.DataFrame:
    with sqlite3.connect(db) as conn:
        return pd.read_sql_query("SELECT * FROM results", conn)


def test_cli_writes_cells_report_and_figures_then_resumes(tmp_path: Path) -> None:
    db = tmp_path / "g.sqlite"
    first = _genmix(db, "--schemes", "vanilla,genmix_gm")
    assert first.exit_code == 0, first.output
    assert "2 cells, 0 done, 2 to run" in first.stdout
    second = _genmix(db)
    assert second.exit_code == 0, second.output
    assert "5 cells, 2 done, 3 to run" in second.stdout  # only the missing cells
    cells = _cells(db)
    assert sorted(cells.method) == sorted(SCHEMES)
    assert set(cells.dataset) == {"circle"} and set(cells.model) == {"mlp"}
    assert cells.test_accuracy.between(0, 1).all() and cells.ece.notna().all()
    third = _genmix(db)
    assert third.exit_code == 0 and "5 cells, 5 done, 0 to run" in third.stdout
    assert len(_cells(db)) == 5
    report = (tmp_path / "g" / "report.md").read_text()
    assert "## Test error — model `mlp`" in report
    assert "| data set | vanilla | mixup | manifold_mixup | genmix_gm | genmix_gan |" in report
    csv = pd.read_csv(tmp_path / "g" / "results.csv")
    np.testing.assert_allclose(csv.test_error, 1 - csv.test_accuracy)
    for name in ("genmix_points_circle.png", "decision_regions_circle.png"):
        assert (tmp_path / "g" / name).stat().st_size > 1000
        assert f"`{name}`" in report


def test_another_budget_in_the_same_store_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "g.sqlite"
    assert _genmix(db, "--schemes", "vanilla").exit_code == 0
    res = _genmix(db, "--schemes", "vanilla", "--epochs", "3")
    assert res.exit_code == 2 and "computed with another budget" in res.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--schemes", "vanilla,cutmix"], "unknown schemes ['cutmix']"),
        (["--datasets", "moons"], "unknown data sets ['moons']"),
        (["--schemes", ","], "no schemes given"),
        (["--trials", "0"], "--trials must be an integer >= 1; got 0"),
        # The command's own options are named as typed (not the budget's fields).
        (["--eps", "nan"], "--eps must be a finite number in (0, 1); got nan"),
        (["--eps", "1.5"], "--eps must be a finite number in (0, 1); got 1.5"),
        (["--eps", "0"], "--eps must be a finite number in (0, 1); got 0.0"),
        (["--eps", "-0.1"], "--eps must be a finite number in (0, 1); got -0.1"),
        (["--lam", "-0.5"], "--lam takes a number in [0, 1] or 'uniform'; got '-0.5'"),
        (["--lam", "2"], "--lam takes a number in [0, 1] or 'uniform'; got '2'"),
        (["--lam", "half"], "--lam takes a number in [0, 1] or 'uniform'; got 'half'"),
        (["--n-aug", "0"], "--n-aug must be an integer >= 1; got 0"),
        (["--epochs", "0"], "--epochs must be an integer >= 1; got 0"),
        (["--gan-steps", "0"], "--gan-steps must be an integer >= 1; got 0"),
        (["--inversion-steps", "-2"], "--inversion-steps must be an integer >= 1; got -2"),
        (["--threads", "0"], "--threads must be an integer >= 1"),
        (
            ["--datasets", "mnist79", "--data-dir", "/nonexistent/genmix"],
            "/nonexistent/genmix/mnist",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    res = _genmix(tmp_path / "g.sqlite", *args)
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert not (tmp_path / "g.sqlite").exists()  # nothing ran


def test_budget_lists_every_bad_setting() -> None:
    bad = replace(
        GenMixBudget(), epochs=0, lr=float("inf"), toy_gan=replace(GenMixBudget().toy_gan, lr=0)
    )
    with pytest.raises(ValueError) as info:
        bad.check()
    lines = str(info.value).splitlines()
    assert [re.search(r"'([\w.]+)' parameter", line).group(1) for line in lines] == [
        "epochs",
        "lr",
        "toy_gan.lr",
    ]
    with pytest.raises(GenMixError, match="'epochs' parameter"):
        GenMixExperiment(budget=bad, datasets="circle", db="unused.sqlite")
    assert GANBudget(latent_dim=None, hidden=8, steps=1, lr=1.0).errors("g") == []


def test_toy_trials_draw_their_own_training_and_test_sets() -> None:
    one, two = (load_toy_trial("circle3d", t, n_train=50, n_test=80) for t in (0, 1))
    assert one.X_train.shape == (50, 3) and one.X_test.shape == (80, 3)
    assert one.X_train.dtype == torch.float32 and one.y_train.bincount().tolist() == [25, 25]
    assert not torch.equal(one.X_train, two.X_train)
    assert not torch.equal(one.X_train, one.X_test[:50])
    again = load_toy_trial("circle3d", 0, n_train=50, n_test=80)
    assert torch.equal(one.X_train, again.X_train) and torch.equal(one.X_test, again.X_test)


def test_mnist79_draws_500_training_images_and_tests_on_every_7_and_9(shared_data: Path) -> None:
    root = shared_data / "images"
    data = load_mnist79(0, root=root)
    assert data.X_train.shape == (500, 784) and data.y_train.shape == (500,)
    assert data.classes == ("7", "9") and data.image_shape == (28, 28)
    assert set(data.y_train.tolist()) == {0, 1}
    assert data.X_test.shape == (2037, 784)
    assert data.y_test.bincount().tolist() == [1028, 1009]
    for X in (data.X_train, data.X_test):
        assert X.dtype == torch.float32 and float(X.min()) == 0.0 and float(X.max()) == 1.0
    other = load_mnist79(1, root=root)
    shared = (data.X_train[:, None] == other.X_train[None]).all(-1).any(1)
    assert float(shared.float().mean()) < 0.2  # 500 of ~12,000: few images in common
    assert torch.equal(load_mnist79(0, root=root).X_train, data.X_train)


def test_manifold_mixup_step_against_a_hand_written_forward() -> None:
    g = torch.Generator().manual_seed(3)
    model = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
    x, y = torch.randn(6, 3, generator=g), torch.tensor([0, 1, 1, 0, 1, 0])
    step = MixupStep("manifold", layers=("input", "1", "3"), alpha=1.0, generator=_seeded(7))
    for _ in range(4):  # several draws: each must match the reference of its own layer
        params = draw_mix_params(6, alpha=1.0, generator=_copy(step.generator), layers=step.layers)
        lam, perm = params.lam, params.perm
        h = x
        for index, layer in enumerate(model):
            if str(index - 1) == params.layer or (index == 0 and params.layer == "input"):
                h = lam * h + (1 - lam) * h[perm]
            h = layer(h)
        targets = torch.eye(2)[y]
        expected = soft_cross_entropy(h, lam * targets + (1 - lam) * targets[perm])
        torch.testing.assert_close(step.training_loss(model, x, y), expected)


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _copy(generator: torch.Generator) -> torch.Generator:
    twin = torch.Generator()
    twin.set_state(generator.get_state())
    return twin


def test_pca_gaussian_density_matches_scikit_learn_pca() -> None:
    g = torch.Generator().manual_seed(0)
    mixing = torch.randn(12, 12, generator=g, dtype=torch.float64)
    X = torch.randn(60, 12, generator=g, dtype=torch.float64) @ mixing
    y = torch.arange(60) % 2
    X[y == 1] += 0.5
    density = PCAGaussianDensity(n_components=4, reg=1e-3).fit(X, y)
    pca = PCA(n_components=4, svd_solver="full").fit(X.numpy())
    reference = GaussianClassDensity(reg=1e-3).fit(torch.from_numpy(pca.transform(X.numpy())), y)
    Z = torch.randn(7, 12, generator=g, dtype=torch.float64)
    expected = reference.log_prob(torch.from_numpy(pca.transform(Z.numpy())))
    torch.testing.assert_close(density.log_prob(Z), expected)
    torch.testing.assert_close(density.targets(Z).sum(1), torch.ones(7, dtype=torch.float64))


def test_genmix_schemes_train_on_the_data_and_the_generated_points() -> None:
    data = load_toy_trial("circle", 0, n_train=40, n_test=60)
    for scheme in ("genmix_gm", "genmix_gan"):
        outcome = run_scheme(scheme, data, _tiny_budget(), trial=0)
        assert outcome.generated is not None
        assert outcome.params["n_train"] == 40 + outcome.params["n_mix"]
        assert outcome.proba.shape == (60, 2)
        np.testing.assert_allclose(outcome.proba.sum(1), 1, rtol=1e-5)
    again = run_scheme("genmix_gan", data, _tiny_budget(), trial=0)
    np.testing.assert_array_equal(again.proba, outcome.proba)  # every draw seeded


def test_mnist79_run_draws_the_image_figure(shared_data: Path, tmp_path: Path) -> None:
    experiment = GenMixExperiment(
        datasets="mnist79", schemes="genmix_gm,genmix_gan", trials=1,
        budget=_tiny_budget(epochs=1, n_train_images=60), db=tmp_path / "m.sqlite",
        data_dir=shared_data / "images", progress=False, log=lambda _: None,
    )  # fmt: skip
    summary = experiment.run()
    assert summary.cells_written == 2 and not summary.interrupted
    paths = experiment.report()
    assert tmp_path / "m" / "genmix_images_mnist79.png" in paths
    assert (tmp_path / "m" / "genmix_images_mnist79.png").stat().st_size > 1000


def test_figures_say_when_there_is_nothing_to_draw(tmp_path: Path) -> None:
    lines, paths = genmix_figures(tmp_path / "none", tmp_path)
    assert paths == [] and "No figure data" in "\n".join(lines)


def test_error_report_bolds_the_lowest_error(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "dataset": ["a"] * 4,
            "method": ["vanilla", "vanilla", "genmix_gan", "genmix_gan"],
            "model": "mlp",
            "trial": [0, 1, 0, 1],
            "measure": "clean",
            "alpha": 1.0,
            "test_accuracy": [0.90, 0.92, 0.95, 0.97],
            "params": "{}",
            "seconds": 1.0,
            "config": "{}",
            "versions": "{}",
        }
    )
    paths = write_report(frame, tmp_path, error=True, order=["vanilla", "genmix_gan"], title="T")
    report = paths[-1].read_text()
    assert report.startswith("# T\n")
    assert "| a | 9.0 ± 1.4 | **4.0 ± 1.4** |" in report
    assert not list(tmp_path.glob("accuracy_by_method_*.png"))


def test_the_library_refuses_an_unknown_scheme_or_data_set() -> None:
    from genlabel.genmix.budget import GenMixBudget
    from genlabel.genmix.datasets import load_genmix_data
    from genlabel.genmix.schemes import run_scheme

    with pytest.raises(ValueError, match="moons"):
        load_genmix_data("moons", 0)
    data = load_genmix_data("circle", 0, n_train_toy=20, n_test_toy=20)
    with pytest.raises(ValueError, match="cutmix"):
        run_scheme("cutmix", data, GenMixBudget(), 0)
