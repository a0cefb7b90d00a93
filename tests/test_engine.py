"""The engine's primitives: draw/apply mixing, the label dispatcher, the loss, the density
contract, checked against closed forms written out here."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from genlabel.density import GaussianClassDensity, KDEClassDensity, LabelDensity
from genlabel.labels import LABEL_RULES, genlabel_targets, label_mixed
from genlabel.losses import blend_targets, genlabel_loss, soft_cross_entropy
from genlabel.mixing import (
    MixParams,
    apply_mix,
    convex_mix,
    draw_cutmix_params,
    draw_mix_params,
    mix_pairs,
)
from genlabel.training import OnlineGaussianLabeler
from tests._asserts import assert_valid_labels


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("shape", [(6,), (6, 3), (6, 2, 4, 4), (6, 5, 7)])
@pytest.mark.parametrize("per_sample", [False, True])
def test_apply_mix_is_the_convex_combination_for_any_shape(shape, per_sample) -> None:
    t = torch.randn(shape, dtype=torch.float64)
    p = draw_mix_params(6, alpha=0.7, per_sample=per_sample, generator=_gen(1))
    out = apply_mix(t, p)
    for i in range(6):
        lam = float(p.lam[i] if per_sample else p.lam)
        torch.testing.assert_close(out[i], lam * t[i] + (1 - lam) * t[int(p.perm[i])])
    assert p.lam.ndim == (1 if per_sample else 0)
    assert sorted(p.perm.tolist()) == list(range(6))


def test_the_stacked_form_equals_each_model_alone() -> None:
    G, n = 3, 5
    t = torch.randn(G, n, 4)
    lam = torch.rand(G, n)
    perm = torch.stack([torch.randperm(n, generator=_gen(g)) for g in range(G)])
    out = apply_mix(t, MixParams(lam=lam, perm=perm))
    for g in range(G):
        alone = apply_mix(t[g], MixParams(lam=lam[g], perm=perm[g]))
        torch.testing.assert_close(out[g], alone)
    shared = draw_mix_params(n, alpha=1.0, generator=_gen(2))
    stacked = apply_mix(t, shared.stacked(G))
    for g in range(G):
        torch.testing.assert_close(stacked[g], apply_mix(t[g], shared))


def test_draws_come_from_the_generator_in_a_fixed_order() -> None:
    a = draw_mix_params(8, alpha=2.0, generator=_gen(3), layers=["input", "h1", "h2"])
    b = draw_mix_params(8, alpha=2.0, generator=_gen(3), layers=["input", "h1", "h2"])
    assert a.layer == b.layer and torch.equal(a.lam, b.lam) and torch.equal(a.perm, b.perm)
    # The layer is drawn first, then lam, then the pairing: without layers the same
    # generator state gives lam and pairing from the first uniforms.
    g = _gen(3)
    torch.randint(0, 3, (1,), generator=g)
    c = draw_mix_params(8, alpha=2.0, generator=g)
    assert torch.equal(c.lam, a.lam) and torch.equal(c.perm, a.perm)
    none = draw_mix_params(4, alpha=0.0, generator=_gen())
    assert float(none.lam) == 1.0 and none.perm.tolist() == [0, 1, 2, 3]


def test_mix_pairs_is_draw_then_apply() -> None:
    x, y = torch.randn(10, 3), torch.randint(0, 4, (10,))
    mb = mix_pairs(x, y, 4, alpha=1.0, generator=_gen(7))
    p = draw_mix_params(10, alpha=1.0, generator=_gen(7))
    assert torch.equal(mb.inputs, apply_mix(x, p))
    assert torch.equal(mb.params.perm, p.perm) and torch.equal(mb.lam, p.lam.expand(10))


def test_cutmix_pastes_a_box_and_lam_is_the_kept_area() -> None:
    x = torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).reshape(2, 1, 8, 8)
    for seed in range(20):
        p = draw_cutmix_params(2, 8, 8, alpha=1.0, generator=_gen(seed))
        top, bottom, left, right = p.box
        out = apply_mix(x, p)
        inside = torch.zeros(8, 8, dtype=torch.bool)
        inside[top:bottom, left:right] = True
        for i in range(2):
            j = int(p.perm[i])
            assert torch.equal(out[i, 0][inside], x[j, 0][inside])
            assert torch.equal(out[i, 0][~inside], x[i, 0][~inside])
        assert float(p.lam) == pytest.approx(1 - inside.float().mean().item())
        # Labels (no spatial dimensions) mix linearly with the kept area.
        y = F.one_hot(torch.tensor([0, 1]), 2).float()
        torch.testing.assert_close(
            apply_mix(y, p)[0], float(p.lam) * y[0] + (1 - float(p.lam)) * y[int(p.perm[0])]
        )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: draw_mix_params(4, alpha=-1.0, generator=_gen()), "alpha must be"),
        (lambda: draw_mix_params(4, alpha=1.0, generator=None), "generator must be"),
        (lambda: draw_mix_params(4, generator=_gen(), layers=[]), "at least one layer"),
        (lambda: apply_mix(torch.randn(3, 2), draw_mix_params(4, generator=_gen())), "4 rows"),
        (
            lambda: apply_mix(
                torch.zeros(4, dtype=torch.long), draw_mix_params(4, generator=_gen())
            ),
            "floating-point",
        ),
        (lambda: draw_cutmix_params(4, 0, 8, generator=_gen()), "height and width"),
    ],
)
def test_bad_mix_arguments(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def _blobs(n: int = 90, k: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    X = rng.normal(size=(n, 2)) * 0.3 + np.stack([y, (y % 2) * 2.0], 1)
    return torch.tensor(X), torch.tensor(y)


def test_label_mixed_against_the_closed_forms() -> None:
    X, y = _blobs()
    k, n = 3, 12
    p = draw_mix_params(n, alpha=1.0, per_sample=True, generator=_gen(4))
    xb, yb = X[:n], y[:n]
    x_mix = apply_mix(xb, p)
    ya = F.one_hot(yb, k).double()
    yb_ = ya[p.perm]
    lam = p.lam[:, None]
    density = GaussianClassDensity().fit(X, y)
    common = dict(points=x_mix, reference=(X, y), density=density, dtype=torch.float64)
    out = {rule: label_mixed(rule, p, yb, k, **common) for rule in LABEL_RULES}
    torch.testing.assert_close(out["linear"].targets, lam * ya + (1 - lam) * yb_)
    rho = 1 / (1 + torch.exp(-2 * (lam - 0.5) / 0.1))
    torch.testing.assert_close(out["logistic"].targets, rho * ya + (1 - rho) * yb_)
    nearest = ((x_mix[:, None] - X[None]) ** 2).sum(-1).argmin(1)
    torch.testing.assert_close(out["nearest_neighbor"].targets, F.one_hot(y[nearest], k).double())
    keep = (y[nearest] == yb) | (y[nearest] == yb[p.perm])
    assert torch.equal(out["exclude_intrusion"].weight, keep.double())
    torch.testing.assert_close(out["genlabel"].targets, torch.softmax(density.log_prob(x_mix), 1))
    top2 = genlabel_targets(density.log_prob(x_mix), top_k=2)
    torch.testing.assert_close(out["genlabel_top2"].targets, top2)
    for rule in LABEL_RULES:
        assert_valid_labels(out[rule].targets, n, k)
        torch.testing.assert_close(out[rule].mix_targets, out["linear"].targets)


def test_label_mixed_takes_soft_targets_and_any_label_density() -> None:
    X, y = _blobs()
    p = draw_mix_params(8, alpha=1.0, generator=_gen(5))
    soft = torch.softmax(torch.randn(8, 3, dtype=torch.float64), 1)
    lab = label_mixed("linear", p, soft, 3, dtype=torch.float64)
    torch.testing.assert_close(lab.targets, float(p.lam) * soft + (1 - float(p.lam)) * soft[p.perm])
    labeler = OnlineGaussianLabeler(3, 2, memory=0.0)
    labeler.update(X.float(), y)
    assert isinstance(labeler, LabelDensity)
    out = label_mixed("genlabel_top2", p, y[:8], 3, points=X[:8].float(), density=labeler)
    assert_valid_labels(out.targets, 8, 3)
    assert int((out.targets > 0).sum(1).max()) <= 2


def test_label_mixed_errors_name_what_is_missing() -> None:
    p = draw_mix_params(4, generator=_gen())
    y = torch.tensor([0, 1, 2, 0])
    with pytest.raises(ValueError, match="Unknown label rule 'cutmix'"):
        label_mixed("cutmix", p, y, 3)
    with pytest.raises(ValueError, match="needs the mixed points"):
        label_mixed("genlabel", p, y, 3)
    with pytest.raises(ValueError, match="needs fitted class densities"):
        label_mixed("genlabel", p, y, 3, points=torch.randn(4, 2))
    with pytest.raises(ValueError, match="needs the training points"):
        label_mixed("nearest_neighbor", p, y, 3, points=torch.randn(4, 2))


def test_every_density_meets_the_contract() -> None:
    X, y = _blobs()
    for density in (GaussianClassDensity().fit(X, y), KDEClassDensity().fit(X, y)):
        assert isinstance(density, LabelDensity)
        assert_valid_labels(density.targets(X, top_k=None), len(X), 3)
    assert isinstance(OnlineGaussianLabeler(3, 2), LabelDensity)
    assert not isinstance(object(), LabelDensity)


@settings(max_examples=30, deadline=None)
@given(
    G=st.integers(1, 4),
    n=st.integers(1, 9),
    k=st.integers(2, 5),
    weighted=st.booleans(),
)
def test_stacked_cross_entropy_is_each_models_own_mean(G, n, k, weighted) -> None:
    gen = _gen(G * 100 + n * 10 + k)
    logits = torch.randn(G, n, k, generator=gen, dtype=torch.float64)
    targets = torch.softmax(torch.randn(G, n, k, generator=gen, dtype=torch.float64), -1)
    weight = torch.rand(G, n, generator=gen, dtype=torch.float64) if weighted else None
    out = soft_cross_entropy(logits, targets, weight)
    assert out.shape == (G,)
    for g in range(G):
        per = -(targets[g] * torch.log_softmax(logits[g], -1)).sum(-1)
        expected = (
            per.mean() if weight is None else (per * weight[g]).sum() / weight[g].sum().clamp_min(1)
        )
        torch.testing.assert_close(out[g], expected)
        alone = soft_cross_entropy(logits[g], targets[g], None if weight is None else weight[g])
        torch.testing.assert_close(out[g], alone)


def test_genlabel_loss_takes_one_gamma_per_stacked_model() -> None:
    gen = _gen(9)
    logits = torch.randn(3, 5, 4, generator=gen, dtype=torch.float64)
    y_gen = torch.softmax(torch.randn(3, 5, 4, generator=gen, dtype=torch.float64), -1)
    y_mix = torch.softmax(torch.randn(3, 5, 4, generator=gen, dtype=torch.float64), -1)
    gamma = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    out = genlabel_loss(logits, y_gen, y_mix, gamma)
    for g in range(3):
        expected = gamma[g] * soft_cross_entropy(logits[g], y_gen[g]) + (
            1 - gamma[g]
        ) * soft_cross_entropy(logits[g], y_mix[g])
        torch.testing.assert_close(out[g], expected)
    with pytest.raises(ValueError, match="one per stacked model"):
        genlabel_loss(logits, y_gen, y_mix, torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\]"):
        genlabel_loss(logits[0], y_gen[0], y_mix[0], 1.5)


def test_convex_mix_broadcasts_lam_over_the_trailing_dimensions() -> None:
    gen = _gen(11)
    a, b = (torch.randn(3, 4, 2, generator=gen, dtype=torch.float64) for _ in range(2))
    lam = torch.tensor([0.0, 0.25, 1.0], dtype=torch.float64)
    out = convex_mix(a, b, lam)
    for i in range(3):
        torch.testing.assert_close(out[i], lam[i] * a[i] + (1 - lam[i]) * b[i])
    torch.testing.assert_close(convex_mix(a, b, 0.3), 0.3 * a + 0.7 * b)


def test_blend_targets_is_the_target_of_the_gamma_loss() -> None:
    gen = _gen(12)
    logits = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    y_gen, y_mix = (torch.softmax(torch.randn(6, 3, generator=gen), -1) for _ in range(2))
    blended = blend_targets(y_gen, y_mix, 0.3)
    torch.testing.assert_close(blended, 0.3 * y_gen + 0.7 * y_mix)
    torch.testing.assert_close(
        genlabel_loss(logits, y_gen, y_mix, 0.3), soft_cross_entropy(logits, blended)
    )


def _builders():
    from genlabel.genmix import ConditionalGAN
    from genlabel.images import AdaMixupStep
    from genlabel.models import PreActResNet18, SmallCNN, StackedMLP, mlp_module

    g = _gen(0)
    stack = StackedMLP([3, 4, 2], 2, g, torch.device("cpu"), torch.float64)
    return {
        "mlp_module": lambda: mlp_module([3, 5, 2], _gen(1)),
        "StackedMLP.to_module": lambda: stack.to_module(1),
        "SmallCNN": lambda: SmallCNN(1, 10, 8, seed=0),
        "PreActResNet18": lambda: PreActResNet18(10, seed=0),
        "AdaMixupStep": lambda: AdaMixupStep(1, 16, seed=0),
        "ConditionalGAN": lambda: ConditionalGAN(2, 2, seed=0),
    }


@pytest.mark.parametrize("name", list(_builders()))
def test_building_a_model_leaves_the_global_rng_alone(name) -> None:
    build = _builders()[name]
    before = torch.get_rng_state()
    build()
    assert torch.equal(torch.get_rng_state(), before), f"{name} drew from the global RNG"
