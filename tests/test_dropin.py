from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from genlabel import LABEL_RULES, GenLabelMixup
from genlabel.data import make_toy
from genlabel.labels import genlabel_targets
from genlabel.registry import dropin_names
from tests._asserts import assert_valid_labels


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    X, y = make_toy("gaussian9", 450, random_state=0)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y)


@pytest.mark.parametrize("rule", LABEL_RULES)
def test_every_rule_trains_in_three_lines(rule: str) -> None:
    X, y = _data()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 9))
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    mixer = GenLabelMixup(num_classes=9, rule=rule, gamma=0.8, seed=0).fit(X, y)
    for _ in range(60):
        for idx in torch.randperm(len(X)).split(128):
            batch = mixer(X[idx], y[idx])
            loss = mixer.loss(model(batch.inputs), batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert_valid_labels(batch.targets)
    acc = (model(X).argmax(1) == y).float().mean()
    assert acc > 0.9


def test_genlabel_labels_undo_manifold_intrusion() -> None:
    X, y = _data()
    corners = torch.stack([X[y == 0][0], X[y == 8][0]])
    labels = torch.tensor([0, 8])
    # Beta(1e4, 1e4) puts lam within 0.02 of 1/2: mixing the two corner classes lands on
    # the centre class 4. A seed whose pairing swaps the two points mixes them.
    for seed in range(50):
        mixer = GenLabelMixup(9, alpha=1e4, seed=seed).fit(X, y)
        batch = mixer(corners, labels)
        if batch.mixed.permutation.tolist() == [1, 0]:
            break
    assert batch.mix_targets[:, [0, 8]].min() > 0.45  # mixup: half class 0, half class 8
    assert batch.targets.argmax(1).tolist() == [4, 4]  # GenLabel: the class it lands in
    assert float(batch.targets[:, 4].min()) > 0.9


def test_gamma_zero_genlabel_loss_equals_mixup_loss() -> None:
    X, y = _data()
    logits = torch.randn(len(X), 9)
    a = GenLabelMixup(9, rule="genlabel", gamma=0.0, seed=1).fit(X, y)
    b = GenLabelMixup(9, rule="linear", seed=1)
    ba, bb = a(X, y), b(X, y)
    torch.testing.assert_close(ba.inputs, bb.inputs)
    torch.testing.assert_close(a.loss(logits, ba), b.loss(logits, bb))


def test_algorithm2_fit_on_features_from_a_dataloader() -> None:
    X, y = _data()
    features = nn.Sequential(nn.Linear(2, 16), nn.Tanh())
    loader = DataLoader(TensorDataset(X, y), batch_size=100)
    mixer = GenLabelMixup(9, density="kde", feature_extractor=features, seed=0).fit(loader)
    assert mixer.density.n_features_in_ == 16
    batch = mixer(X[:50], y[:50])
    assert batch.inputs.shape == (50, 2)
    assert_valid_labels(batch.targets, 50, 9)
    assert features[0].weight.grad is None


def test_exclude_intrusion_drops_points_through_the_weight() -> None:
    X, y = _data()
    mixer = GenLabelMixup(9, rule="exclude_intrusion", per_sample=True, seed=0).fit(X, y)
    batch = mixer(X, y)
    assert set(batch.weight.unique().tolist()) <= {0.0, 1.0}
    assert 0 < float(batch.weight.mean()) < 1


def test_dropin_errors() -> None:
    X, y = _data()
    with pytest.raises(ValueError, match="'rule' parameter of GenLabelMixup must be one of"):
        GenLabelMixup(9, rule="cutmix")
    with pytest.raises(ValueError, match="'gamma' parameter"):
        GenLabelMixup(9, gamma=2.0)
    with pytest.raises(RuntimeError, match="must be fitted"):
        GenLabelMixup(9)(X, y)
    with pytest.raises(ValueError, match=r"y must hold class indices in \[0, 3\)"):
        GenLabelMixup(3).fit(X, y)
    with pytest.raises(ValueError, match="X contains NaN"):
        GenLabelMixup(9).fit(np.full((4, 2), np.nan), [0, 1, 2, 3])
    for method in ("genlabel_gm", "mixup"):  # an unknown density even where none is used
        with pytest.raises(ValueError, match="'density' parameter of GenLabelMixup"):
            GenLabelMixup(9, method=method, density="bogus")
    bad = [
        (dict(gamma="0.5"), "'gamma'"),
        (dict(class_prior="no"), "'class_prior' parameter of GenLabelMixup must be a bool"),
        (dict(per_sample="yes"), "'per_sample'"),
        (dict(class_prior=2), "'class_prior'"),
        (dict(sigma2=0.0), "'sigma2'"),
        (dict(sigma2=float("nan")), "'sigma2'"),
        (dict(feature_extractor=5), "'feature_extractor'"),
        (dict(seed=1.5), "'seed'"),
    ]
    for kwargs, message in bad:  # at construction, not at the first batch
        with pytest.raises(ValueError, match=message):
            GenLabelMixup(9, **kwargs)
    with pytest.raises(ValueError, match="at least one sample"):
        GenLabelMixup(9).fit(X[:0], y[:0])
    fitted = GenLabelMixup(9, seed=0).fit(X, y)
    with pytest.raises(ValueError, match="the batch is empty"):
        fitted(X[:0], y[:0])
    with pytest.raises(ValueError, match="soft targets cannot be mixed"):
        fitted(X[:4], torch.eye(9)[y[:4]])


@pytest.mark.parametrize("rule", ["nearest_neighbor", "exclude_intrusion"])
def test_rules_that_look_at_the_data_refuse_nan_points(rule: str) -> None:
    # A NaN distance used to pick the first reference point's class (or drop every point).
    X, y = _data()
    mixer = GenLabelMixup(9, rule=rule, seed=0).fit(X, y)
    bad = X[:8].clone()
    bad[3, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite"):
        mixer(bad, y[:8])


def test_numpy_scalars_are_numbers() -> None:
    X, y = _data()
    flags = GenLabelMixup(9, gamma=torch.tensor(0.5), per_sample=1, class_prior=np.bool_(True))
    assert flags.gamma == 0.5 and flags.per_sample is True and flags.class_prior is True
    mixer = GenLabelMixup(
        np.int64(9), alpha=np.float32(0.5), gamma=np.float64(0.5), seed=np.int64(3)
    )
    batch = mixer.fit(X, y)(X[:16], y[:16])
    again = GenLabelMixup(9, alpha=0.5, gamma=0.5, seed=3).fit(X, y)(X[:16], y[:16])
    assert torch.equal(batch.soft_targets, again.soft_targets)
    log_probs = torch.randn(5, 4, dtype=torch.float64)
    assert torch.equal(
        genlabel_targets(log_probs, top_k=np.int64(2)), genlabel_targets(log_probs, top_k=2)
    )


def test_soft_targets_work_with_any_criterion() -> None:
    X, y = _data()
    logits = torch.randn(64, 9)
    for rule, gamma in (("genlabel", 0.7), ("logistic", 1.0), ("linear", 1.0)):
        mixer = GenLabelMixup(9, rule=rule, gamma=gamma, seed=2).fit(X, y)
        batch = mixer(X[:64], y[:64])
        torch.testing.assert_close(
            torch.nn.functional.cross_entropy(logits, batch.soft_targets),
            mixer.loss(logits, batch),
        )
        assert_valid_labels(batch.soft_targets, 64, 9)
    mixer = GenLabelMixup(9, rule="genlabel", gamma=0.7, seed=2).fit(X, y)
    batch = mixer(X[:64], y[:64])
    torch.testing.assert_close(
        batch.soft_targets, 0.7 * batch.targets + 0.3 * batch.mix_targets, atol=1e-6, rtol=0
    )


def test_label_smoothing() -> None:
    X, y = _data()
    plain = GenLabelMixup(9, rule="linear", seed=1)(X[:32], y[:32])
    smooth = GenLabelMixup(9, rule="linear", label_smoothing=0.1, seed=1)(X[:32], y[:32])
    torch.testing.assert_close(smooth.soft_targets, 0.9 * plain.soft_targets + 0.1 / 9)
    assert_valid_labels(smooth.soft_targets, 32, 9)


def test_cutmix_and_the_switch_between_mixup_and_cutmix() -> None:
    images = torch.rand(16, 1, 8, 8)
    labels = torch.arange(16) % 4
    cut = GenLabelMixup(4, method="cutmix", seed=0)
    batch = cut(images, labels)
    p = batch.mixed.params
    assert p.box is not None
    top, bottom, left, right = p.box
    j = p.perm
    torch.testing.assert_close(
        batch.inputs[:, :, top:bottom, left:right], images[j][:, :, top:bottom, left:right]
    )
    kept = float(p.lam)
    torch.testing.assert_close(
        batch.soft_targets, kept * batch.mixed.targets_a + (1 - kept) * batch.mixed.targets_b
    )
    both = GenLabelMixup(4, rule="linear", alpha=1.0, cutmix_alpha=1.0, switch_prob=0.5, seed=0)
    kinds = [both(images, labels).mixed.params.box is not None for _ in range(40)]
    assert 5 < sum(kinds) < 35  # both kinds of batch occur
    only_mixup = GenLabelMixup(4, rule="linear", cutmix_alpha=1.0, switch_prob=0.0, seed=0)
    assert all(only_mixup(images, labels).mixed.params.box is None for _ in range(5))


def test_numpy_batches_and_method_names() -> None:
    X, y = make_toy("gaussian9", 200, random_state=1)
    mixer = GenLabelMixup(9, method="genlabel_kde", gamma=0.5, seed=0).fit(X, y)
    assert mixer.rule == "genlabel" and type(mixer.density).__name__ == "KDEClassDensity"
    batch = mixer(X[:32], y[:32])  # NumPy in, tensors out
    assert isinstance(batch.inputs, torch.Tensor) and batch.inputs.dtype == torch.float64
    assert_valid_labels(batch.targets, 32, 9)
    assert GenLabelMixup(9, method="mixup_logistic").rule == "logistic"
    assert GenLabelMixup(9, method="vanilla").alpha == 0.0
    with pytest.raises(ValueError, match="not a drop-in label rule"):
        GenLabelMixup(9, method="adamixup")
    with pytest.raises(ValueError, match="unknown method"):
        GenLabelMixup(9, method="mixupp")


def test_class_prior_shifts_genlabel_labels_by_log_frequencies() -> None:
    X, y = make_toy("gaussian9", 450, random_state=0)
    keep = (y != 4) | (np.arange(len(y)) % 5 == 0)  # class 4 rare
    X, y = torch.tensor(X[keep]), torch.tensor(y[keep])
    plain = GenLabelMixup(9, seed=3).fit(X, y)
    prior = GenLabelMixup(9, seed=3, class_prior=True).fit(X, y)
    a, b = plain(X[:64], y[:64]), prior(X[:64], y[:64])
    log_pi = torch.log(torch.bincount(y, minlength=9).double() / len(y))
    expected = torch.softmax(plain.density.log_prob(a.inputs) + log_pi, 1).float()
    torch.testing.assert_close(b.targets, expected, atol=1e-6, rtol=0)


def test_method_genlabel_with_density_kde_uses_a_kde() -> None:
    X, y = _data()
    kde = GenLabelMixup(9, method="genlabel", density="kde", seed=0).fit(X, y)
    gm = GenLabelMixup(9, method="genlabel", seed=0).fit(X, y)
    assert type(kde.density).__name__ == "KDEClassDensity"
    assert type(gm.density).__name__ == "GaussianClassDensity"
    same = GenLabelMixup(9, method="genlabel_kde", seed=0).fit(X, y)
    torch.testing.assert_close(kde(X[:64], y[:64]).targets, same(X[:64], y[:64]).targets)


def test_cutmix_on_rows_without_spatial_dims_is_an_error() -> None:
    X, y = _data()
    for mixer in (
        GenLabelMixup(9, method="cutmix", seed=0),
        GenLabelMixup(9, rule="linear", cutmix_alpha=1.0, seed=0),
        GenLabelMixup(9, rule="linear", alpha=1.0, cutmix_alpha=1.0, switch_prob=0.0, seed=0),
    ):
        with pytest.raises(ValueError, match=r"CutMix .* needs inputs with two spatial dims, "
                           r"\(n, c, h, w\) or \(n, h, w\); got shape \(64, 2\)"):  # fmt: skip
            mixer(X[:64], y[:64])
    grey = GenLabelMixup(4, method="cutmix", seed=0)(torch.rand(8, 6, 6), torch.arange(8) % 4)
    assert grey.mixed.params.box is not None  # (n, h, w) is fine


def test_the_loss_of_a_weighted_rule_is_the_cross_entropy_weighted_by_batch_weight() -> None:
    X, y = _data()
    mixer = GenLabelMixup(9, rule="exclude_intrusion", per_sample=True, seed=0).fit(X, y)
    batch = mixer(X[:128], y[:128])
    assert 0 < int((batch.weight == 0).sum()) < 128  # some points dropped
    logits = torch.randn(128, 9, generator=torch.Generator().manual_seed(0))
    ce = torch.nn.functional.cross_entropy(logits, batch.soft_targets, reduction="none")
    expected = (batch.weight * ce).sum() / batch.weight.sum()  # as docs/guide/dropin.md says
    torch.testing.assert_close(mixer.loss(logits, batch), expected)
    kept = batch.weight > 0  # = the plain cross entropy of the points it keeps
    torch.testing.assert_close(
        mixer.loss(logits, batch),
        torch.nn.functional.cross_entropy(logits[kept], batch.soft_targets[kept]),
    )


def test_gamma_only_weighs_the_genlabel_rules() -> None:
    X, y = _data()
    for rule in ("linear", "logistic", "nearest_neighbor", "exclude_intrusion"):
        a = GenLabelMixup(9, rule=rule, gamma=0.3, seed=4).fit(X, y)(X[:64], y[:64])
        b = GenLabelMixup(9, rule=rule, gamma=1.0, seed=4).fit(X, y)(X[:64], y[:64])
        torch.testing.assert_close(a.soft_targets, b.soft_targets)
        torch.testing.assert_close(a.soft_targets, a.targets)


@pytest.mark.parametrize(
    ("method", "where"),
    [("generative_gm", "GenerativeClassifier"), ("qda", "GenerativeClassifier"),
     ("genlabel_cv", "MixupClassifier"), ("adamixup", "MixupClassifier"),
     ("mixup_genlabel", "Trainer")],
)  # fmt: skip
def test_methods_that_are_no_drop_in_rule_say_what_trains_them(method, where) -> None:
    with pytest.raises(ValueError, match=f"not a drop-in label rule .*{where}") as info:
        GenLabelMixup(9, method=method)
    listed = str(info.value).split("(those are ")[1].split(")")[0].split(", ")
    assert listed == sorted(dropin_names())


def test_the_batch_unpacks_like_timms_mixup_and_keeps_its_fields() -> None:
    """`x, t = mixer(x, y)` failed with "cannot unpack non-iterable MixupBatch object"."""
    X, y = _data()
    mixer = GenLabelMixup(9, gamma=0.7, seed=0).fit(X, y)
    batch = mixer(X[:64], y[:64])
    x, t = batch
    assert x is batch.inputs and t is batch.soft_targets
    assert len(batch) == 2 and list(batch) == [batch.inputs, batch.soft_targets]
    assert batch.targets.shape == batch.mix_targets.shape == (64, 9)


def test_public_classes_show_their_non_default_parameters() -> None:
    """GenLabelMixup printed as <genlabel.training.dropin.GenLabelMixup object at 0x...>."""
    from genlabel import GaussianClassDensity, KDEClassDensity, OnlineGaussianLabeler
    from genlabel.genmix.gan import ConditionalGAN
    from genlabel.training import Trainer

    mixer = GenLabelMixup(num_classes=9, method="genlabel_gm", gamma=0.8, seed=0)
    assert repr(mixer) == "GenLabelMixup(num_classes=9, method='genlabel_gm', gamma=0.8, seed=0)"
    assert repr(GenLabelMixup(3, gamma=1.0)) == "GenLabelMixup(num_classes=3)"  # defaults left out
    kde = KDEClassDensity(bandwidth=0.5)
    assert repr(GenLabelMixup(3, density=kde)) == (
        "GenLabelMixup(num_classes=3, density=KDEClassDensity(bandwidth=0.5))"
    )
    assert repr(GaussianClassDensity()) == "GaussianClassDensity()"
    assert (
        repr(GaussianClassDensity(covariance="diag")) == "GaussianClassDensity(covariance='diag')"
    )
    labeler = OnlineGaussianLabeler(10, 64, memory=0.99)
    assert repr(labeler) == "OnlineGaussianLabeler(num_classes=10, dim=64, memory=0.99)"
    trainer = Trainer(nn.Sequential(nn.Linear(2, 3)), mixer=mixer, epochs=5, verbose=0)
    assert repr(trainer) == (
        "Trainer(model=Sequential(...), mixer=GenLabelMixup(num_classes=9, "
        "method='genlabel_gm', gamma=0.8, seed=0), epochs=5, verbose=0)"
    )
    assert repr(ConditionalGAN(2, 3, latent_dim=4)) == (
        "ConditionalGAN(data_shape=2, num_classes=3, latent_dim=4)"
    )


def test_fit_and_the_call_check_labels_the_same_way() -> None:
    """Float labels were refused at the call but accepted by fit(X, y.float()); string labels
    gave a raw torch TypeError."""
    X, y = _data()
    mixer = GenLabelMixup(9, seed=0).fit(X, y)
    cast = r"y must be integer class indices; got floats .* whole numbers: cast them first"
    with pytest.raises(ValueError, match=cast):
        GenLabelMixup(9).fit(X, y.float())
    with pytest.raises(ValueError, match=cast.replace("y must", "labels must")):
        mixer(X[:8], y[:8].float())
    with pytest.raises(ValueError, match=cast.replace("y must", "labels must")):
        mixer(X[:8].numpy(), y[:8].numpy().astype(np.float64))
    names = np.array(["a", "b", "c"])[y.numpy() % 3]
    lab_enc = r"got strings such as 'a'.*sklearn.preprocessing.LabelEncoder"
    with pytest.raises(ValueError, match="y must be integer class indices; " + lab_enc):
        GenLabelMixup(3).fit(X, names)
    with pytest.raises(ValueError, match="labels must be integer class indices; " + lab_enc):
        mixer(X[:8], list(names[:8]))
    loader = DataLoader(TensorDataset(X, y.float()), batch_size=64)
    with pytest.raises(ValueError, match=cast):
        GenLabelMixup(9).fit(loader)


def test_points_need_two_dims_wherever_a_rule_looks_at_them() -> None:
    """A 1-D X passed silently (read as one feature) or gave "X must be of shape
    (n_samples, ...) ... got shape (32,)", which reads as if (32,) were fine."""
    X, y = _data()
    shape = re.escape(
        "must be of shape (n_samples, n_features) or (n_samples, channels, height, width); "
        "got shape (32,)"
    )
    for method in ("mixup", "genlabel_gm"):
        with pytest.raises(ValueError, match="X " + shape):
            GenLabelMixup(9, method=method).fit(X[:32, 0], y[:32])
    fitted = GenLabelMixup(9, method="genlabel_gm", seed=0).fit(X, y)
    with pytest.raises(ValueError, match="inputs " + shape):
        fitted(X[:32, 0], y[:32])
    loader = DataLoader(TensorDataset(X[:, 0], y), batch_size=32)
    with pytest.raises(ValueError, match="x " + shape):
        GenLabelMixup(9).fit(loader)
    # Mixup looks at no point: a batch of scalars is still mixed.
    assert GenLabelMixup(9, method="mixup", seed=0)(X[:32, 0], y[:32]).inputs.shape == (32,)


def test_fit_warns_when_num_classes_exceeds_the_classes_seen() -> None:
    """num_classes=5 on 3-class data passed without a word."""
    X, y = make_toy("moons", 60, random_state=0)
    y = y + (X[:, 0] > 1)  # classes 0, 1, 2
    with pytest.warns(UserWarning, match=r"num_classes=5, but y holds 3 classes: class\(es\) 3, 4"):
        GenLabelMixup(5).fit(X.astype(np.float32), y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GenLabelMixup(3).fit(X.astype(np.float32), y)


def test_mixed_label_classes_keep_every_label_on_the_two_mixed_classes() -> None:
    """Issue 42: GenLabelMixup(label_classes="mixed") gives no weight outside each pair."""
    from genlabel.labels import mixed_class_mask

    X, y = make_toy("gaussian9", 450, random_state=0)
    X, y = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y)
    every = GenLabelMixup(num_classes=9, seed=0).fit(X, y)
    mixed = GenLabelMixup(num_classes=9, label_classes="mixed", seed=0).fit(X, y)
    a, b = every(X[:128], y[:128]), mixed(X[:128], y[:128])
    allowed = mixed_class_mask(y[:128], b.mixed.params.perm, 9)
    assert_valid_labels(b.targets, 128, 9)
    assert float(b.targets[~allowed].sum()) == 0.0
    assert float(a.targets[~allowed].sum()) > 0  # over every class some go elsewhere
    with pytest.raises(ValueError, match="label_classes"):
        GenLabelMixup(num_classes=9, label_classes="pair")


def test_the_dropin_reports_its_labels_to_the_diagnostics_callback() -> None:
    """Issue 42: GenLabelMixup as a Trainer's mixer counts its labels for LabelDiagnostics;
    with label_classes="mixed" no label leaves its pair."""
    from genlabel.training import LabelDiagnostics, Trainer

    X, y = make_toy("gaussian9", 450, random_state=0)
    X, y = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y)
    for classes in ("all", "mixed"):
        mixer = GenLabelMixup(num_classes=9, label_classes=classes, seed=0).fit(X, y)
        diag = LabelDiagnostics()
        model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 9))
        Trainer(model, mixer=mixer, epochs=2, callbacks=[diag], verbose=0).fit((X, y))
        assert len(diag.history) == 2 and mixer.label_counts is None  # off after training
        if classes == "mixed":
            assert all(r["third_class_share"] == 0 for r in diag.history)
            assert all(abs(r["mixed_weight"] - 1) < 1e-6 for r in diag.history)
        else:
            assert any(r["third_class_share"] > 0 for r in diag.history)


def test_label_diagnostics_see_the_rule_label_without_label_smoothing() -> None:
    """With label_smoothing above 0.01 no label reached 0.99, so one_hot_share was always 0;
    the diagnostics describe the rule's own label."""
    from genlabel.training import LabelDiagnostics, Trainer

    X, y = make_toy("gaussian9", 450, random_state=0)
    X, y = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y)
    runs = []
    for smoothing in (0.0, 0.1):
        mixer = GenLabelMixup(num_classes=9, label_smoothing=smoothing, seed=0).fit(X, y)
        diag = LabelDiagnostics()
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 9))
        trainer = Trainer(model, mixer=mixer, epochs=1, callbacks=[diag], random_state=0, verbose=0)
        trainer.fit((X, y))
        runs.append(diag.history[0])
    assert runs[0]["one_hot_share"] > 0
    for key in ("third_class_share", "one_hot_share", "mixed_weight"):
        assert abs(runs[0][key] - runs[1][key]) < 1e-6, key


def test_the_drop_in_takes_its_generator_as_every_step_does() -> None:
    """Issue 39: one seed-or-generator rule for the steps and the drop-in: a generator that
    is none was accepted by the drop-in and failed at the first batch."""
    with pytest.raises(ValueError, match="GenLabelMixup: give a generator or a seed, not both"):
        GenLabelMixup(3, seed=1, generator=torch.Generator())
    with pytest.raises(ValueError, match="generator must be a torch.Generator"):
        GenLabelMixup(3, generator=0)  # type: ignore[arg-type]
    g = torch.Generator().manual_seed(4)
    assert GenLabelMixup(3, generator=g).generator is g
    a, b = GenLabelMixup(3, rule="linear", seed=5), GenLabelMixup(3, rule="linear", seed=5)
    x, y = torch.randn(6, 2), torch.arange(6) % 3
    torch.testing.assert_close(a(x, y).inputs, b(x, y).inputs, rtol=0, atol=0)
