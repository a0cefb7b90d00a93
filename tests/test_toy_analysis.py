from __future__ import annotations

import re

import numpy as np
import pytest
from typer.testing import CliRunner

from genlabel.analysis import intrusion_share, proposition1_labels, theorem1_losses
from genlabel.bench import session as session_module
from genlabel.cli import app
from genlabel.datasets import TOY_DATASETS, make_toy

EXPECTED = {
    "gaussian9": (2, 9),
    "circle": (2, 2),
    "circle3d": (3, 2),
    "two_circles": (2, 2),
    "moons": (2, 2),
    "cube2d": (2, 4),
    "cube3d": (3, 8),
}


@pytest.mark.parametrize("name", list(TOY_DATASETS))
def test_make_toy_shapes_classes_and_reproducibility(name: str) -> None:
    X, y = make_toy(name, 400, random_state=3)
    d, k = EXPECTED[name]
    assert X.shape == (400, d) and y.shape == (400,)
    assert X.dtype == np.float64 and y.dtype == np.int64
    assert sorted(np.unique(y)) == list(range(k))
    X2, y2 = make_toy(name, 400, random_state=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(X, make_toy(name, 400, random_state=4)[0])


def test_toy_geometry() -> None:
    X, y = make_toy("circle", 1000, noise=0.0, random_state=0)
    r = np.linalg.norm(X, axis=1)
    assert r[y == 0].max() <= 0.5 and r[y == 1].min() >= 0.8
    X, y = make_toy("circle3d", 4000, noise=0.0, random_state=0)
    r = np.linalg.norm(X, axis=1)
    assert r[y == 0].max() <= 0.5 and r[y == 1].min() >= 0.8 and r.max() <= 1.0
    # The ball is uniform in volume: half its points lie within 0.5 * 2^(-1/3) of the centre.
    assert np.mean(r[y == 0] < 0.5 * 0.5 ** (1 / 3)) == pytest.approx(0.5, abs=0.03)
    # Directions are isotropic: each coordinate's mean is about 0.
    assert np.abs(X.mean(0)).max() < 0.05
    X, y = make_toy("cube3d", 500, random_state=0)
    np.testing.assert_array_equal(y, ((X >= 0.5) * [1, 2, 4]).sum(1))


def test_make_toy_errors_list_the_known_names() -> None:
    with pytest.raises(
        ValueError,
        match="known names: gaussian9, circle, circle3d, two_circles, moons, cube2d, cube3d",
    ):
        make_toy("spiral")
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        make_toy("moons", 0)


def test_theorem1_genlabel_loss_lies_below_mixup_at_every_angle() -> None:
    phi = np.linspace(-np.pi / 4, np.pi / 4, 41)
    losses = theorem1_losses(phi, n_per_class=20, random_state=0)
    assert set(losses) >= {"mixup", "genlabel", "adversarial"}
    for key in ("mixup", "genlabel", "adversarial"):
        assert losses[key].shape == phi.shape and np.isfinite(losses[key]).all()
    assert (losses["genlabel"] < losses["mixup"]).all()
    # The adversarial loss, like GenLabel's, prefers the Bayes direction phi = 0.
    assert abs(phi[losses["adversarial"].argmin()]) < 0.1


def test_theorem1_mixup_loss_matches_a_monte_carlo_estimate() -> None:
    from genlabel.analysis import theorem1_data

    X, y = theorem1_data(20, 0)
    rng = np.random.default_rng(0)
    i, j, lam = (
        rng.integers(0, 40, 200_000),
        rng.integers(0, 40, 200_000),
        rng.uniform(size=200_000),
    )
    x = lam[:, None] * X[i] + (1 - lam[:, None]) * X[j]
    t = lam * y[i] + (1 - lam) * y[j]
    z = x @ np.array([10.0, 0.0])
    mc = (t * np.logaddexp(0, -z) + (1 - t) * np.logaddexp(0, z)).mean()
    assert theorem1_losses(np.array([0.0]))["mixup"][0] == pytest.approx(mc, rel=0.01)


@pytest.mark.parametrize("sigma2", [0.02, 0.1, 1.0])
def test_proposition1_function(sigma2: float) -> None:
    lam = np.linspace(0, 1, 51)
    out = proposition1_labels(lam, sigma2)
    np.testing.assert_allclose(out["genlabel"], out["logistic"], rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(out["mixup"], lam)


def test_genlabel_intrusion_share_is_far_below_mixup_on_gaussian9() -> None:
    X, y = make_toy("gaussian9", 900, random_state=0)
    mixup = intrusion_share(X, y, "linear", toy="gaussian9", n_mix=3000)
    gen = intrusion_share(X, y, "genlabel", toy="gaussian9", n_mix=3000)
    assert mixup > 0.15
    assert gen < mixup / 5
    with pytest.raises(ValueError, match="Unknown label rule"):
        intrusion_share(X, y, "cutmix")


def test_figures_command_writes_every_png(tmp_path, monkeypatch) -> None:
    result = CliRunner().invoke(app, ["figures", "--out", str(tmp_path), "--no-progress"])
    assert result.exit_code == 0, result.output
    names = {"intrusion_maps", "decision_boundaries", "proposition1", "theorem1", "intrusion_share"}
    for name in names:
        path = tmp_path / f"{name}.png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert str(path) in result.output
        assert (tmp_path / f"{name}.json").is_file()
    assert "unchanged" not in result.output
    bad = CliRunner().invoke(app, ["figures", "--out", str(tmp_path), "--only", "nope"])
    assert bad.exit_code == 2

    # A resumed demo redrew every figure (minutes); now it keeps those whose inputs are as
    # they were. (The bench part stores nothing here: the figures are the point.)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(session_module, "run_bench", lambda *args, **kwargs: 0)
    stamps = {name: (tmp_path / f"{name}.png").stat().st_mtime_ns for name in names}
    demo = CliRunner().invoke(app, ["demo", "--out", str(tmp_path)])
    assert demo.exit_code == 0, demo.output
    for name in names:
        assert f"{tmp_path / name}.png (unchanged, kept)" in demo.output
        assert (tmp_path / f"{name}.png").stat().st_mtime_ns == stamps[name]


def _drawn(out, *args: str) -> dict[str, bool]:
    """Run ``genlabel figures`` on proposition1 and theorem1: which ones it drew."""
    res = CliRunner().invoke(
        app, ["figures", "--out", str(out), "--only", "proposition1,theorem1", *args]
    )
    assert res.exit_code == 0, res.output
    return {
        name: f"{name}.png (unchanged" not in res.output for name in ("proposition1", "theorem1")
    }


def test_figures_are_redrawn_only_when_their_inputs_change(tmp_path) -> None:
    assert _drawn(tmp_path) == {"proposition1": True, "theorem1": True}
    assert _drawn(tmp_path) == {"proposition1": False, "theorem1": False}
    # Other inputs (another version, other code): the hash in the sidecar differs.
    (tmp_path / "theorem1.json").write_text('{"figure": "theorem1", "inputs": "other"}')
    assert _drawn(tmp_path) == {"proposition1": False, "theorem1": True}
    (tmp_path / "proposition1.png").unlink()  # the picture is gone
    assert _drawn(tmp_path) == {"proposition1": True, "theorem1": False}
    (tmp_path / "theorem1.json").write_text("not json")
    assert _drawn(tmp_path) == {"proposition1": False, "theorem1": True}
    assert _drawn(tmp_path, "--redraw") == {"proposition1": True, "theorem1": True}


def test_the_figures_progress_moves_with_each_figures_steps(tmp_path) -> None:
    """The bar counted whole figures: it sat at 1/4 for minutes during the boundaries."""
    from genlabel.plots import FIGURE_STEPS, FIGURES

    ticks: list[str] = []
    for name in ("intrusion_maps", "proposition1", "theorem1"):
        FIGURES[name](tmp_path, tick=lambda name=name: ticks.append(name))
        assert ticks.count(name) == FIGURE_STEPS[name]
    assert set(FIGURE_STEPS) == set(FIGURES) and FIGURE_STEPS["decision_boundaries"] == 9


def test_demo_without_figures_draws_none(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(session_module, "run_bench", lambda *args, **kwargs: 0)
    res = CliRunner().invoke(app, ["demo", "--no-figures", "--out", str(tmp_path / "figs")])
    assert res.exit_code == 0, res.output
    assert "Manifold intrusion on gaussian9" in res.output and "done in" in res.output
    assert not (tmp_path / "figs").exists()


def test_the_figures_train_with_one_torch_thread_and_restore_the_callers(
    tmp_path, monkeypatch
) -> None:
    """Two threads made the boundaries' tiny models 20 times slower on a busy 2-core machine
    (258 s of CPU); the figures train with one and leave the caller's setting as it was."""
    import torch

    from genlabel.plots import figures

    seen: list[int] = []
    original = figures.FIGURES["proposition1"]

    def spy(out, tick):
        seen.append(torch.get_num_threads())
        return original(out, tick=tick)

    monkeypatch.setitem(figures.FIGURES, "proposition1", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        figures.write_figures(tmp_path, ["proposition1"])
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_intrusion_command_takes_the_density_and_says_what_the_numbers_mean() -> None:
    """`genlabel intrusion --toy moons` had no --density: GenLabel's Gaussians showed 25 % of
    labels off their region against 15 % for mixup, with no word on why."""

    def shares(density: str) -> tuple[dict[str, float], str]:
        args = ["intrusion", "--toy", "moons", "--n-samples", "300", "--n-mix", "1000"]
        res = CliRunner().invoke(app, [*args, "--density", density])
        assert res.exit_code == 0, res.output
        rows = re.findall(r"^\| (\w+) \| ([\d.]+) % \|$", res.output, re.M)
        return {rule: float(value) for rule, value in rows}, res.output

    gm, gm_text = shares("gm")
    kde, kde_text = shares("kde")
    assert "GenLabel density kde" in kde_text and "Lower is better" in kde_text
    assert "try --density kde" in gm_text and "try --density kde" not in kde_text
    assert kde["genlabel"] < gm["genlabel"] and kde["genlabel"] < kde["linear"]
    assert kde["linear"] == gm["linear"]  # the rules without a density do not change
    bad = CliRunner().invoke(app, ["intrusion", "--density", "gmm"])
    assert bad.exit_code == 2 and "unknown --density 'gmm'; expected one of: gm, kde" in bad.output
