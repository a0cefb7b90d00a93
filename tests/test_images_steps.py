"""The image methods' mix steps against hand computations written here, independently."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from genlabel.images import (
    AdaMixupStep,
    GenLabelStep,
    MixupStep,
    PlainStep,
    build_step,
    manifold_layers,
)
from genlabel.labels import genlabel_targets
from genlabel.models import SmallCNN
from genlabel.training import Callback, OnlineGaussianLabeler, Trainer
from genlabel.training.trainer import MixStep

pytestmark = pytest.mark.usefixtures("one_thread")


class _Tiny(nn.Module):
    """features: flatten -> linear 4 -> 3 -> tanh; head: linear 3 -> 4 classes."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(5)
        self.features = nn.Sequential(
            OrderedDict(flat=nn.Flatten(), linear=nn.Linear(4, 3), act=nn.Tanh())
        )
        self.head = nn.Linear(3, 4)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _batch(n: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 2, 2, generator=g), torch.randint(0, 4, (n,), generator=g)


def _np_features(model: _Tiny, x: np.ndarray) -> np.ndarray:
    w = model.features.linear.weight.detach().double().numpy()
    b = model.features.linear.bias.detach().double().numpy()
    return np.tanh(x.reshape(len(x), -1) @ w.T + b)


def _np_logits(model: _Tiny, z: np.ndarray) -> np.ndarray:
    w, b = model.head.weight.detach().double().numpy(), model.head.bias.detach().double().numpy()
    return z @ w.T + b


def _np_ce(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    return -(targets * log_softmax).sum(1)


def _reference_algorithm_3(model, x, y, means, variances, beta, gamma, lam, perm):
    """One iteration of Algorithm 3 in NumPy: statistics, mix, top-2 label, gamma-loss."""
    k, d = means.shape
    z = _np_features(model, x)
    means, variances = means.copy(), variances.copy()
    for c in np.unique(y):
        zc = z[y == c]
        mu = (1 - beta) * zc.mean(0) + beta * means[c]
        spread = ((zc - mu) ** 2).sum() / (len(zc) * d)  # trace of the covariance / d
        variances[c] = (1 - beta) * spread + beta * variances[c]
        means[c] = mu
    x_mix = lam * x + (1 - lam) * x[perm]
    z_mix = _np_features(model, x_mix)
    log_p = np.stack(
        [
            -0.5 * (((z_mix - means[c]) ** 2).sum(1) / variances[c])
            - 0.5 * d * math.log(2 * math.pi * variances[c])
            for c in range(k)
        ],
        1,
    )
    y_gen = np.zeros_like(log_p)
    for i, row in enumerate(log_p):
        top = np.argsort(row)[-2:]
        y_gen[i, top] = np.exp(row[top] - row[top].max()) / np.exp(row[top] - row[top].max()).sum()
    onehot = np.eye(k)[y]
    y_mix = lam * onehot + (1 - lam) * onehot[perm]
    logits = _np_logits(model, z_mix)
    loss = (gamma * _np_ce(logits, y_gen) + (1 - gamma) * _np_ce(logits, y_mix)).mean()
    return loss, means, variances


def test_genlabel_step_is_algorithm_3_by_hand() -> None:
    model = _Tiny().double()
    x, y = _batch()
    x = x.double()
    labeler = OnlineGaussianLabeler(4, 3, memory=0.6)
    with torch.no_grad():  # start from statistics that are not the defaults
        labeler.means.copy_(torch.randn(4, 3, generator=torch.Generator().manual_seed(1)))
        labeler.variances.copy_(torch.tensor([0.5, 1.0, 2.0, 0.8], dtype=torch.float64))
    start_means, start_vars = labeler.means.numpy().copy(), labeler.variances.numpy().copy()
    step = GenLabelStep(labeler, alpha=1.0, gamma=0.3, label_classes="all", seed=11)
    loss = step.training_loss(model, x, y)
    # The draws, from a generator seeded alike: lam ~ Beta(1, 1) = U(0, 1), then the pairing.
    g = torch.Generator().manual_seed(11)
    lam = float(torch.rand(1, generator=g, dtype=torch.float64))
    perm = torch.randperm(len(y), generator=g).numpy()
    want, means, variances = _reference_algorithm_3(
        model, x.numpy(), y.numpy(), start_means, start_vars, 0.6, 0.3, lam, perm
    )
    assert loss.item() == pytest.approx(want, rel=1e-6)
    np.testing.assert_allclose(labeler.means.numpy(), means, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(labeler.variances.numpy(), variances, rtol=1e-10)


def test_genlabel_with_gamma_zero_trains_exactly_as_mixup_even_with_batch_norm() -> None:
    x, y = _batch(32, seed=3)
    x = torch.rand(32, 1, 8, 8, generator=torch.Generator().manual_seed(4))

    def train(step: MixStep) -> SmallCNN:
        model = SmallCNN(1, 4, 8, width=4, batch_norm=True, seed=0)
        Trainer(model, mixer=step, optimizer="sgd", lr=0.1, epochs=2, batch_size=16,
                random_state=0, verbose=0).fit((x, y))  # fmt: skip
        return model

    mixup = train(MixupStep("manifold", alpha=1.0, seed=7))
    labeler = OnlineGaussianLabeler(4, SmallCNN.feature_dim)
    genlabel = train(GenLabelStep(labeler, "manifold", alpha=1.0, gamma=0.0, seed=7))
    # The statistics pass changes nothing, running statistics of batch norm included.
    for (name, a), (_, b) in zip(
        mixup.state_dict().items(), genlabel.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    assert int(labeler.seen.sum()) == 2 * 32


def test_update_every_k_updates_the_statistics_on_every_kth_batch_and_resumes() -> None:
    model = _Tiny()
    batches = [_batch(8, seed=s) for s in range(7)]

    def run(step: GenLabelStep, todo) -> list[bool]:
        changed = []
        for x, y in todo:
            before = step.labeler.seen.clone()
            step.training_loss(model, x, y)
            changed.append(not torch.equal(before, step.labeler.seen))
        return changed

    step = GenLabelStep(OnlineGaussianLabeler(4, 3), update_every=3, update_warmup=0, seed=2)
    assert run(step, batches) == [True, False, False, True, False, False, True]
    # Only the updating batches reach the statistics: the same as a labeler fed them alone.
    alone = OnlineGaussianLabeler(4, 3)
    with torch.no_grad():
        for x, y in batches[::3]:
            alone.update(model.features(x), y)
    torch.testing.assert_close(step.labeler.means, alone.means)
    torch.testing.assert_close(step.labeler.variances, alone.variances)
    # The batch count is checkpointed: a step resumed after batch 4 skips batches 5 and 6.
    first = GenLabelStep(OnlineGaussianLabeler(4, 3), update_every=3, update_warmup=0, seed=2)
    run(first, batches[:4])
    resumed = GenLabelStep(OnlineGaussianLabeler(4, 3), update_every=3, update_warmup=0, seed=0)
    resumed.load_state_dict(first.state_dict())
    assert run(resumed, batches[4:]) == [False, False, True]
    torch.testing.assert_close(resumed.labeler.means, step.labeler.means)
    assert "update_every=3" in repr(step)
    every = build_step("mixup_genlabel", num_classes=4, in_channels=1, feature_dim=3,
                       update_every=2)  # fmt: skip
    assert every.update_every == 2  # type: ignore[union-attr]
    # A warm-up of 2 batches: both update, then every third batch (counted from the first).
    warm = GenLabelStep(OnlineGaussianLabeler(4, 3), update_every=3, update_warmup=2, seed=2)
    assert run(warm, batches) == [True, True, False, True, False, False, True]


def _input_recorder(model: nn.Module) -> list[torch.Tensor]:
    seen: list[torch.Tensor] = []
    model.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().clone()))
    return seen


def test_cutmix_pastes_the_partners_box_and_labels_by_the_kept_area() -> None:
    model = _Tiny()
    x, y = _batch(6, seed=2)
    x = torch.rand(6, 1, 8, 8)
    model.features = nn.Sequential(nn.AdaptiveAvgPool2d(2), *model.features)
    seen = _input_recorder(model)
    loss = MixupStep("cutmix", alpha=1.0, seed=4).training_loss(model, x, y)
    # The draw by hand: lam0 ~ U(0, 1) (alpha = 1), a box of side ratio sqrt(1 - lam0)
    # centred at (cy, cx) ~ U(0, 8)^2, then the pairing.
    g = torch.Generator().manual_seed(4)
    lam0 = float(torch.rand(1, generator=g, dtype=torch.float64))
    cy, cx = (torch.rand(2, generator=g, dtype=torch.float64) * 8).tolist()
    perm = torch.randperm(6, generator=g)
    half = math.sqrt(1 - lam0) * 8 / 2
    top, bottom = (min(max(round(v), 0), 8) for v in (cy - half, cy + half))
    left, right = (min(max(round(v), 0), 8) for v in (cx - half, cx + half))
    want_x = x.clone()
    want_x[:, :, top:bottom, left:right] = x[perm][:, :, top:bottom, left:right]
    assert torch.equal(seen[0], want_x)
    kept = 1 - (bottom - top) * (right - left) / 64
    onehot = np.eye(4)[y.numpy()]
    target = kept * onehot + (1 - kept) * onehot[perm.numpy()]
    logits = model(want_x).detach().double().numpy()
    assert loss.item() == pytest.approx(_np_ce(logits, target).mean(), rel=1e-5)


def test_manifold_mixup_mixes_the_drawn_layer_and_labels_linearly() -> None:
    model = _Tiny()
    x, y = _batch(8, seed=6)
    step = MixupStep("manifold", alpha=2.0, layers=["features.linear"], seed=9)
    loss = step.training_loss(model, x, y)
    g = torch.Generator().manual_seed(9)
    assert int(torch.randint(0, 1, (1,), generator=g)) == 0  # the layer: the only one
    from scipy.special import betaincinv

    lam = float(betaincinv(2.0, 2.0, float(torch.rand(1, generator=g, dtype=torch.float64))))
    perm = torch.randperm(8, generator=g).numpy()
    w = model.features.linear.weight.detach().double().numpy()
    b = model.features.linear.bias.detach().double().numpy()
    h = x.double().numpy().reshape(8, -1) @ w.T + b
    z = np.tanh(lam * h + (1 - lam) * h[perm])
    onehot = np.eye(4)[y.numpy()]
    target = lam * onehot + (1 - lam) * onehot[perm]
    assert loss.item() == pytest.approx(_np_ce(_np_logits(model, z), target).mean(), rel=1e-5)


def test_manifold_genlabel_labels_the_features_of_the_mixed_pass() -> None:
    model = _Tiny().double()
    x, y = _batch(8, seed=1)
    x = x.double()
    labeler = OnlineGaussianLabeler(4, 3, memory=0.0)
    step = GenLabelStep(
        labeler, "manifold", layers=["features.linear"], gamma=1.0, label_classes="all", seed=2
    )
    loss = step.training_loss(model, x, y)
    g = torch.Generator().manual_seed(2)
    torch.randint(0, 1, (1,), generator=g)
    lam = float(torch.rand(1, generator=g, dtype=torch.float64))
    perm = torch.randperm(8, generator=g).numpy()
    w = model.features.linear.weight.detach().numpy()
    b = model.features.linear.bias.detach().numpy()
    h = x.numpy().reshape(8, -1) @ w.T + b
    z_mix = torch.from_numpy(np.tanh(lam * h + (1 - lam) * h[perm]))
    y_gen = labeler.targets(z_mix)  # statistics of this step (memory 0: the batch's own)
    logits = _np_logits(model, z_mix.numpy())
    assert loss.item() == pytest.approx(_np_ce(logits, y_gen.numpy()).mean(), rel=1e-6)


def test_genlabel_step_takes_any_label_density_and_skips_the_statistics_pass() -> None:
    from genlabel.density import GaussianClassDensity

    model = _Tiny().double()
    x, y = _batch(16, seed=3)
    x = x.double()
    with torch.no_grad():
        z = model.features(x)
    density = GaussianClassDensity(covariance="spherical").fit(z, y, classes=list(range(4)))
    step = GenLabelStep(density, "input", gamma=1.0, top_k=None, label_classes="all", seed=4)
    calls = []
    hook = model.features.register_forward_hook(lambda *a: calls.append(1))
    loss = step.training_loss(model, x, y)
    hook.remove()
    assert len(calls) == 1  # the mixed pass only: a fixed density needs no statistics pass
    g = torch.Generator().manual_seed(4)
    lam = float(torch.rand(1, generator=g, dtype=torch.float64))
    perm = torch.randperm(16, generator=g)
    with torch.no_grad():
        z_mix = model.features(lam * x + (1 - lam) * x[perm])
    y_gen = genlabel_targets(density.log_prob(z_mix))  # every class: top_k=None
    logits = _np_logits(model, z_mix.numpy())
    assert loss.item() == pytest.approx(_np_ce(logits, y_gen.numpy()).mean(), rel=1e-9)
    assert "labeler" not in step.state_dict()  # nothing of a fixed density is trained
    with pytest.raises(ValueError, match="top_k 2 or None"):
        GenLabelStep(density, top_k=3)


def test_adamixup_mixes_by_its_policy_and_trains_policy_and_discriminator() -> None:
    model = SmallCNN(1, 4, 8, seed=0)
    step = AdaMixupStep(1, SmallCNN.feature_dim, seed=3)
    x, y = torch.rand(16, 1, 8, 8), torch.randint(0, 4, (16,))
    seen = _input_recorder(model)
    loss = step.training_loss(model, x, y)
    loss.backward()
    assert seen[0].shape == (32, 1, 8, 8)  # mixed and clean points in one pass
    assert torch.equal(seen[0][16:], x)
    g = torch.Generator().manual_seed(3)
    probe = AdaMixupStep(1, SmallCNN.feature_dim, generator=g)  # same weights, same draws
    perm = torch.randperm(16, generator=probe.generator)
    u = torch.rand(16, generator=probe.generator, dtype=torch.float64)
    shares = probe.policy(torch.cat([x, x[perm]], 1)).detach()
    lam = shares[:, 0] + u.float() * shares[:, 1]
    assert bool(((lam >= 0) & (lam <= 1)).all())
    want = lam.view(-1, 1, 1, 1) * x + (1 - lam.view(-1, 1, 1, 1)) * x[perm]
    torch.testing.assert_close(seen[0][:16], want)
    assert all(p.grad is not None for p in step.trainable_parameters())


@pytest.mark.parametrize(
    "method", ["vanilla", "mixup", "mixup_genlabel", "manifold_genlabel", "cutmix", "adamixup"]
)
def test_a_checkpoint_resumes_every_step_draw_for_draw(tmp_path, method) -> None:
    g = torch.Generator().manual_seed(0)
    x, y = (
        torch.randint(0, 256, (32, 1, 8, 8), generator=g, dtype=torch.uint8),
        torch.arange(32) % 4,
    )

    class Stop(Exception):
        pass

    def make(folder=None, stop_after=None) -> Trainer:

        class StopAt(Callback):
            def on_epoch_end(self, trainer, epoch, logs):
                if epoch == stop_after:
                    raise Stop

        step = build_step(method, num_classes=4, in_channels=1, feature_dim=128, seed=1)
        return Trainer(
            SmallCNN(1, 4, 8, width=4, batch_norm=True, seed=0), mixer=step, optimizer="sgd",
            lr=0.05, epochs=2, batch_size=16, checkpoint_dir=folder, random_state=0, verbose=0,
            callbacks=[StopAt()] if stop_after is not None else [],
        )  # fmt: skip

    full = make().fit((x, y))
    with pytest.raises(Stop):
        make(tmp_path, stop_after=0).fit((x, y))
    resumed = make(tmp_path).fit((x, y))
    for (name, a), (_, b) in zip(
        full.model.state_dict().items(), resumed.model.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    if method in ("mixup_genlabel", "manifold_genlabel", "adamixup"):
        for (name, a), (_, b) in zip(
            _flat_state(full.mixer.state_dict()), _flat_state(resumed.mixer.state_dict()),
            strict=True,
        ):  # fmt: skip
            assert torch.equal(a, b), name


def _flat_state(state, prefix=""):
    for key, value in state.items():
        if isinstance(value, dict):
            yield from _flat_state(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def test_build_step_maps_every_image_method() -> None:
    kinds = {
        "vanilla": PlainStep, "mixup": MixupStep, "manifold_mixup": MixupStep,
        "cutmix": MixupStep, "mixup_genlabel": GenLabelStep, "manifold_genlabel": GenLabelStep,
        "cutmix_genlabel": GenLabelStep, "adamixup": AdaMixupStep,
    }  # fmt: skip
    for method, kind in kinds.items():
        step = build_step(method, num_classes=3, in_channels=1, feature_dim=8, seed=0)
        assert type(step) is kind and isinstance(step, MixStep), method
    assert build_step("manifold_genlabel", num_classes=3, in_channels=1, feature_dim=8).mix == (
        "manifold"
    )
    assert manifold_layers(SmallCNN(1, 3, 8, seed=0)) == (
        "input", "features.block1", "features.block2",
    )  # fmt: skip


def test_labeler_bias_correction_forgets_the_start_values() -> None:
    z1, z2 = torch.randn(20, 3), torch.randn(20, 3) + 1.0
    y = torch.arange(20) % 2
    lab = OnlineGaussianLabeler(3, 3, memory=0.9, bias_correction=True)
    lab.update(z1, y)
    for c in (0, 1):  # the first sight: the batch's own statistics
        zc = z1[y == c].double()
        torch.testing.assert_close(lab.means[c], zc.mean(0))
        torch.testing.assert_close(lab.variances[c], (zc - zc.mean(0)).square().sum() / (10 * 3))
    assert float(lab.variances[2]) == 1.0 and int(lab.updates[2]) == 0
    first = lab.means.clone()
    lab.update(z2, y)
    # Adam-style: the EMA (start 0) over 1 - beta^2, i.e. weights (0.1 * 0.9, 0.1) / 0.19.
    for c in (0, 1):
        want = (0.09 * first[c] + 0.1 * z2[y == c].double().mean(0)) / 0.19
        torch.testing.assert_close(lab.means[c], want)


BAD = [
    (lambda: MixupStep("mixing"), "The 'mix' parameter of MixupStep must be one of"),
    (lambda: MixupStep(alpha=-1.0), "The 'alpha' parameter of MixupStep must be a float"),
    (lambda: MixupStep("input", layers=["features"]), "layers are for mix='manifold'"),
    (lambda: MixupStep(seed=1, generator=torch.Generator()), "a generator or a seed, not both"),
    (lambda: MixupStep(seed=1.7), "The 'seed' parameter of MixupStep must be None or an int"),
    (lambda: MixupStep(seed=True), "The 'seed' parameter of MixupStep must be None or an int"),
    (
        lambda: GenLabelStep(OnlineGaussianLabeler(3, 2), gamma=1.5),
        "The 'gamma' parameter of GenLabelStep must be a float in",
    ),
    (lambda: GenLabelStep("gm"), "The 'labeler' parameter of GenLabelStep must be"),
    (
        lambda: GenLabelStep(OnlineGaussianLabeler(4, 3), update_every=0),
        "The 'update_every' parameter of GenLabelStep must be an int >= 1",
    ),
    (
        lambda: GenLabelStep(OnlineGaussianLabeler(4, 3), update_every=2, update_warmup=-1),
        "The 'update_warmup' parameter of GenLabelStep must be an int >= 0",
    ),
    (
        lambda: GenLabelStep(OnlineGaussianLabeler(4, 3)).training_loss(
            _Tiny(), torch.rand(4, 1, 2, 2), torch.eye(4)
        ),
        r"needs class indices of shape \(n,\)",
    ),
    (
        lambda: MixupStep("manifold").training_loss(
            _Tiny(), torch.rand(4, 1, 2, 2), torch.arange(4)
        ),
        "_Tiny has no default manifold_layers",
    ),
    (lambda: AdaMixupStep(0, 8), "The 'in_channels' parameter of AdaMixupStep"),
    (
        lambda: build_step("genlabel_kde", num_classes=2, in_channels=1, feature_dim=2),
        "is not an image method",
    ),
    (
        lambda: build_step("nope", num_classes=2, in_channels=1, feature_dim=2),
        "unknown method 'nope'",
    ),
]


@pytest.mark.parametrize(("make", "message"), BAD)
def test_bad_inputs_are_reported(make, message) -> None:
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("mix", ["input", "manifold", "cutmix"])
def test_genlabel_step_with_mixed_label_classes_labels_only_the_two_mixed_classes(
    mix, monkeypatch
) -> None:
    """Issue 42: label_classes="mixed" restricts Algorithm 3's top-2 to each pair's two
    classes, for mixup, manifold mixup and CutMix alike (the draw's permutation)."""
    import genlabel.training.steps as steps_module
    from genlabel.labels import mixed_class_mask

    seen = []
    original = steps_module.label_mixed

    def spy(rule, params, labels, k, **kwargs):
        out = original(rule, params, labels, k, **kwargs)
        seen.append((out.targets, mixed_class_mask(labels, params.perm, k)))
        return out

    monkeypatch.setattr(steps_module, "label_mixed", spy)
    model = SmallCNN(num_classes=4, in_channels=1, image_size=(8, 8))
    x = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    y = torch.arange(16) % 4
    method = {"input": "mixup", "manifold": "manifold", "cutmix": "cutmix"}[mix] + "_genlabel"
    for classes in ("all", "mixed"):
        step = build_step(
            method,
            num_classes=4, in_channels=1, feature_dim=SmallCNN.feature_dim, gamma=0.5,
            label_classes=classes, seed=3,
        )  # fmt: skip
        assert step.label_classes == classes
        for _ in range(3):
            assert math.isfinite(float(step.training_loss(model, x, y).detach()))
    mixed = seen[3:]
    for targets, allowed in mixed:
        assert float(targets[~allowed].abs().sum()) == 0.0
        torch.testing.assert_close(targets.sum(1), torch.ones(16))
    # over every class the young features do give weight outside the pair
    assert any(float(t[~a].sum()) > 0 for t, a in seen[:3])
    with pytest.raises(ValueError, match="label_classes"):
        GenLabelStep(OnlineGaussianLabeler(4, 3), label_classes="two")


def test_online_labeler_targets_with_an_allowed_mask() -> None:
    labeler = OnlineGaussianLabeler(3, 2, memory=0.0)
    labeler.update(torch.tensor([[-4.0, 0.0], [4.0, 0.0], [0.0, 0.0]]), torch.tensor([0, 1, 2]))
    z = torch.zeros(1, 2)
    assert float(labeler.targets(z)[0, 2]) > 0.99  # on class 2's mean
    only = labeler.targets(z, allowed=torch.tensor([[True, True, False]]))
    torch.testing.assert_close(only, torch.tensor([[0.5, 0.5, 0.0]]))


def test_label_diagnostics_equal_a_direct_count_on_a_hand_made_batch() -> None:
    """Issue 42: the diagnostics of a batch are the counts one makes by hand."""
    from genlabel.training.diagnostics import label_counts, label_diagnostics

    labels = torch.tensor([0, 1, 2, 0, 1, 3])
    perm = torch.tensor([1, 0, 3, 3, 4, 5])  # pairs (0,1) (1,0) (2,3) (0,0) (1,1) (3,3)
    targets = torch.tensor(
        [
            [0.5, 0.5, 0.0, 0.0],  # on the pair, not one-hot
            [0.0, 0.0, 1.0, 0.0],  # a third class, one-hot
            [0.0, 0.005, 0.995, 0.0],  # on the pair (class 2), one-hot
            [0.0, 0.0, 0.0, 1.0],  # same-class mixes do not count
            [1.0, 0.0, 0.0, 0.0],
            [0.2, 0.2, 0.2, 0.4],
        ]
    )
    counts = label_counts(targets, labels, perm)
    cross = [i for i in range(6) if labels[i] != labels[perm[i]]]
    third = sum(int(targets[i].argmax()) not in (labels[i], labels[perm[i]]) for i in cross)
    one_hot = sum(float(targets[i].max()) >= 0.99 for i in cross)
    weight = sum(float(targets[i, labels[i]] + targets[i, labels[perm[i]]]) for i in cross)
    assert counts.tolist() == pytest.approx([len(cross), third, one_hot, weight])
    diag = label_diagnostics(counts)
    assert diag == pytest.approx(
        {"third_class_share": 1 / 3, "one_hot_share": 2 / 3, "mixed_weight": 1.995 / 3}
    )
    assert all(math.isnan(v) for v in label_diagnostics(torch.zeros(4)).values())


def test_the_label_diagnostics_callback_adds_every_epoch_and_resumes(tmp_path) -> None:
    """The callback's values are columns of the Trainer's history, checkpointed with it;
    mixup's labels never leave the pair; a step that labels no mix is refused."""
    from genlabel.training import LabelDiagnostics

    x = torch.rand(48, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    y = torch.arange(48) % 4

    def fit(epochs, callback, folder=None, mixer=None):
        mixer = mixer or MixupStep(alpha=1.0, seed=1)
        trainer = Trainer(_Tiny(), mixer=mixer, epochs=epochs, batch_size=16, verbose=0,
                          callbacks=[callback], checkpoint_dir=folder, random_state=0)  # fmt: skip
        return trainer.fit((x, y))

    whole = LabelDiagnostics()
    rows = fit(3, whole).history_
    assert [r["epoch"] for r in whole.history] == [0, 1, 2]
    for row in rows:
        assert row["third_class_share"] == 0.0
        assert row["mixed_weight"] == pytest.approx(1.0, abs=1e-6)
    fit(2, LabelDiagnostics(), tmp_path)
    resumed = fit(3, LabelDiagnostics(), tmp_path).history_
    assert [r["third_class_share"] for r in resumed] == [0.0] * 3  # epochs 0, 1 from disk
    labeler = OnlineGaussianLabeler(4, 3)
    genlabel = fit(1, LabelDiagnostics(), mixer=GenLabelStep(labeler, seed=1)).history_[0]
    assert 0 <= genlabel["third_class_share"] <= 1 and 0 <= genlabel["mixed_weight"] <= 1
    with pytest.raises(ValueError, match="counts its labels"):
        fit(1, LabelDiagnostics(), mixer=PlainStep())


def test_the_image_steps_default_to_the_mixed_classes_and_the_drop_in_to_all() -> None:
    """Issue 42: the image default is label_classes="mixed" (measured on MNIST and
    Fashion-MNIST); the drop-in, a tabular tool, keeps the paper's "all"."""
    from genlabel import GenLabelMixup

    assert GenLabelStep(OnlineGaussianLabeler(4, 3)).label_classes == "mixed"
    step = build_step("cutmix_genlabel", num_classes=4, in_channels=1, feature_dim=3)
    assert step.label_classes == "mixed"
    assert "label_classes" not in repr(GenLabelStep(OnlineGaussianLabeler(4, 3)))
    assert "label_classes='all'" in repr(
        GenLabelStep(OnlineGaussianLabeler(4, 3), label_classes="all")
    )
    assert GenLabelMixup(num_classes=3).label_classes == "all"
