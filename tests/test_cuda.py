"""The library on a CUDA device: same answers as on the CPU (skipped without a GPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genlabel import GenLabelMixup, OnlineGaussianLabeler
from genlabel.datasets import make_toy

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _toy():
    X, y = make_toy("gaussian9", 450, random_state=0)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y)


@pytest.mark.parametrize("density", ["gm", "kde"])
def test_dropin_on_cuda_matches_cpu(density: str) -> None:
    X, y = _toy()
    cpu = GenLabelMixup(9, density=density, seed=0).fit(X, y)
    gpu = GenLabelMixup(9, density=density, seed=0).fit(X.cuda(), y.cuda())
    a, b = cpu(X, y), gpu(X.cuda(), y.cuda())
    assert b.inputs.device.type == "cuda" and b.targets.device.type == "cuda"
    torch.testing.assert_close(b.inputs.cpu(), a.inputs)
    torch.testing.assert_close(b.targets.cpu(), a.targets, atol=1e-4, rtol=1e-4)


def test_online_labeler_on_cuda() -> None:
    g = torch.Generator().manual_seed(0)
    z, y = torch.randn(64, 8, generator=g), torch.randint(0, 4, (64,), generator=g)
    cpu, gpu = OnlineGaussianLabeler(4, 8), OnlineGaussianLabeler(4, 8).cuda()
    cpu.update(z, y)
    gpu.update(z.cuda(), y.cuda())
    torch.testing.assert_close(gpu.means.cpu(), cpu.means)
    torch.testing.assert_close(gpu.targets(z.cuda()).cpu(), cpu.targets(z))


@pytest.mark.parametrize(
    "method", ["mixup", "genlabel", "adamixup", "manifold_mixup", "mixup_exclude_mi"]
)
# Unequal folds: the shorter fold runs out of rows first, so the grid's last steps of each
# epoch compute only the longer fold's models (its contiguous range of the stack).
@pytest.mark.parametrize("second_fold_stop", [450, 200], ids=["equal", "unequal"])
def test_batched_trainer_on_cuda_matches_cpu(method: str, second_fold_stop: int) -> None:
    from genlabel.training.grid import TrainSettings, train_grid
    from genlabel.training.grids import Config

    X, y = _toy()
    X = X.double()
    folds = [torch.arange(0, 450, 2), torch.arange(1, second_fold_stop, 2)]
    configs = [Config(0, 0.01, 0.5, "gm"), Config(1, 0.001, 1.0, "kde")]
    base = dict(model="mlp", method=method, epochs=4, warmup_epochs=2, seed=1)
    cpu = train_grid(X, y, 9, folds, configs, TrainSettings(**base))
    gpu = train_grid(X, y, 9, folds, configs, TrainSettings(**base, device="cuda"))
    for wc, wg in zip(cpu.weights, gpu.weights, strict=True):
        assert wg.device.type == "cuda"
        torch.testing.assert_close(wg.detach().cpu(), wc.detach(), rtol=1e-6, atol=1e-8)


def _has_pyautoattack() -> bool:
    import importlib.util

    return importlib.util.find_spec("pyautoattack") is not None


def test_estimator_and_attacks_on_cuda() -> None:
    from genlabel.estimators import MixupClassifier
    from genlabel.robustness import robust_accuracy

    X, y = make_toy("moons", 300, random_state=0)
    clf = MixupClassifier(
        model="mlp", method="genlabel", epochs=20, device="cuda", random_state=0
    ).fit(X, y)
    assert next(clf.module_.parameters()).device.type == "cuda"
    assert clf.score(X, y) > 0.8
    Xt = torch.tensor(X, device="cuda")
    yt = torch.tensor(y, device="cuda")
    bounds = (float(X.min()), float(X.max()))
    # autoattack and square: pyautoattack is told the inputs' device (it assumed the CPU).
    attacks = ("fgsm", "pgd") + (("autoattack", "square") if _has_pyautoattack() else ())
    for attack in attacks:
        acc = robust_accuracy(clf.module_, Xt, yt, attack=attack, eps=0.1, bounds=bounds)
        assert 0.0 <= acc <= clf.score(X, y) + 1e-12
    np.testing.assert_allclose(clf.predict_proba(X).sum(1), 1.0)


@pytest.mark.parametrize("density", ["gm", "kde"])
def test_fused_targets_on_cuda(density: str) -> None:
    from genlabel.density import make_density
    from genlabel.labels import genlabel_targets

    X, y = _toy()
    dens = make_density(density).fit(X.cuda(), y.cuda())
    Z = X[:100].cuda()
    got = dens.targets(Z)
    assert got.device.type == "cuda"
    torch.testing.assert_close(got, genlabel_targets(dens.log_prob(Z)))
    torch.testing.assert_close(
        got.cpu(), make_density(density).fit(X, y).targets(X[:100]), atol=1e-4, rtol=1e-4
    )
    Z[3, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite"):
        dens.targets(Z)


@pytest.mark.parametrize("method", ["mixup_genlabel", "manifold_genlabel", "cutmix", "adamixup"])
def test_image_steps_on_cuda_match_cpu(method: str) -> None:
    from genlabel.images import build_step
    from genlabel.models import SmallCNN

    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(32, 1, 8, 8, generator=g), torch.randint(0, 4, (32,), generator=g)
    losses = []
    for device in ("cpu", "cuda"):
        model = SmallCNN(1, 4, 8, seed=0).to(device)
        step = build_step(method, num_classes=4, in_channels=1, feature_dim=128, seed=1)
        if hasattr(step, "to"):
            step.to(device)
        losses.append(step.training_loss(model, x.to(device), y.to(device)))
    assert losses[1].device.type == "cuda"
    torch.testing.assert_close(losses[1].cpu(), losses[0], rtol=1e-4, atol=1e-5)


def test_an_image_cell_trains_on_cuda_with_bf16_and_channels_last(tmp_path) -> None:
    from genlabel.images import ImageSettings, run_image_cell

    settings = ImageSettings(dataset="digits", epochs=3, device="cuda", amp="bf16")
    (record,) = run_image_cell(settings, "mixup_genlabel", 0, checkpoint_dir=tmp_path)
    assert record["test_accuracy"] > 0.5 and 0 <= record["ece"] <= 1
    assert (tmp_path / "model.pt").is_file() and not (tmp_path / "last.pt").exists()
    robust = ImageSettings(**{**settings.__dict__, "measure": "robust", "attack": "pgd"})
    records = run_image_cell(robust, "mixup_genlabel", 0, checkpoint_dir=tmp_path)
    assert [r["measure"] for r in records] == ["robust-pgd-eps0.1", "robust-pgd-eps0.2"]
    assert records[0]["test_accuracy"] == record["test_accuracy"]  # the same model, loaded
