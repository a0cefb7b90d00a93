from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as hst
from hypothesis.extra.numpy import arrays

from genlabel.density import GaussianClassDensity
from genlabel.labels import (
    class_log_prior,
    genlabel_targets,
    intrusion_keep_mask,
    label_mixed,
    linear_labels,
    logistic_labels,
    logistic_ratio,
    nearest_neighbor_labels,
)
from genlabel.labels.rules import first_argmin, nearest_neighbor_indices
from genlabel.mixing import MixParams, apply_mix, draw_mix_params, sample_lambda
from tests._asserts import assert_valid_labels

log_prob_rows = arrays(
    np.float64,
    hst.tuples(hst.integers(1, 8), hst.integers(1, 6)),
    elements=hst.one_of(
        hst.floats(-1e30, 50, allow_nan=False),
        hst.just(-np.inf),
    ),
)


@settings(max_examples=200, deadline=None)
@given(log_prob_rows, hst.sampled_from([None, 1, 2, 3]))
def test_genlabel_targets_are_valid_labels(lp: np.ndarray, top_k: int | None) -> None:
    labels = genlabel_targets(torch.from_numpy(lp), top_k=top_k)
    assert_valid_labels(labels, *lp.shape)
    if top_k is not None:
        assert int((labels > 0).sum(1).max()) <= top_k


@settings(max_examples=100, deadline=None)
@given(
    arrays(
        np.float64,
        hst.tuples(hst.integers(2, 8), hst.integers(2, 6)),
        elements=hst.floats(-100, 10),
    ),
    hst.randoms(use_true_random=False),
)
def test_genlabel_targets_are_permutation_equivariant(lp: np.ndarray, rnd) -> None:
    rows = list(range(lp.shape[0]))
    cols = list(range(lp.shape[1]))
    rnd.shuffle(rows)
    rnd.shuffle(cols)
    t = torch.from_numpy(lp)
    base = genlabel_targets(t)
    permuted = genlabel_targets(t[rows][:, cols])
    torch.testing.assert_close(permuted, base[rows][:, cols])


def test_genlabel_is_softmax_of_log_probs_and_prior_shifts_it() -> None:
    lp = torch.tensor([[0.0, np.log(3.0)], [-1e4, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(
        genlabel_targets(lp)[0], torch.tensor([0.25, 0.75], dtype=torch.float64)
    )
    prior = torch.log(torch.tensor([3.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(
        genlabel_targets(lp, log_prior=prior)[0], torch.tensor([0.5, 0.5], dtype=torch.float64)
    )


def test_top2_matches_the_spec_formula() -> None:
    p = torch.tensor([[0.1, 0.5, 0.3, 0.1]], dtype=torch.float64)
    got = genlabel_targets(p.log(), top_k=2)
    torch.testing.assert_close(got, torch.tensor([[0.0, 0.625, 0.375, 0.0]], dtype=torch.float64))


@pytest.mark.parametrize("sigma2", [0.05, 0.1, 0.5])
def test_proposition_1_with_fitted_gaussians(sigma2: float) -> None:
    # Points {m - s, m + s} have ML mean m and variance s^2 exactly: fit, don't set.
    s = np.sqrt(sigma2)
    X = np.array([[-s], [s], [1 - s], [1 + s]])
    dens = GaussianClassDensity(reg=0.0).fit(X, [0, 0, 1, 1])
    lam = torch.linspace(0, 1, 11, dtype=torch.float64)
    y_gen = genlabel_targets(dens.log_prob(lam[:, None]))[:, 1]
    torch.testing.assert_close(y_gen, torch.sigmoid((lam - 0.5) / sigma2))
    # ... while mixup's label of the same point is lam itself.
    ya = torch.tensor([[0.0, 1.0]], dtype=torch.float64).expand(11, 2)
    y_mix = linear_labels(ya, ya.flip(1), lam)
    torch.testing.assert_close(y_mix[:, 1].double(), lam)


def test_linear_and_logistic_labels() -> None:
    ya = torch.eye(3)[[0, 1]]
    yb = torch.eye(3)[[2, 2]]
    lam = torch.tensor([0.3, 0.8])
    torch.testing.assert_close(
        linear_labels(ya, yb, lam), torch.tensor([[0.3, 0, 0.7], [0, 0.8, 0.2]])
    )
    rho = 1 / (1 + np.exp(-2 * (np.array([0.3, 0.8]) - 0.5) / 0.1))
    got = logistic_labels(ya, yb, lam, sigma2=0.1)
    np.testing.assert_allclose(got[:, 0].numpy(), [rho[0], 0], rtol=1e-6)
    np.testing.assert_allclose(got[:, 1].numpy(), [0, rho[1]], rtol=1e-6)
    assert_valid_labels(got)
    assert float(logistic_ratio(0.5)) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="sigma2 must be"):
        logistic_ratio(0.3, sigma2=0.0)
    with pytest.raises(ValueError, match=r"lam must be a scalar or of shape \(2,\)"):
        linear_labels(ya, yb, torch.ones(3))


def test_nearest_neighbor_labels_match_brute_force() -> None:
    rng = np.random.default_rng(0)
    ref = torch.tensor(rng.normal(size=(300, 4)))
    ref_y = torch.tensor(rng.integers(0, 5, 300))
    pts = torch.tensor(rng.normal(size=(77, 4)))
    got = nearest_neighbor_labels(pts, ref, ref_y, 5)
    brute = ref_y[torch.cdist(pts, ref).argmin(1)]
    assert_valid_labels(got, 77, 5)
    torch.testing.assert_close(got.argmax(1), brute)


def test_intrusion_mask_drops_points_whose_nearest_label_is_a_third_class() -> None:
    ref = torch.tensor([[0.0], [1.0], [2.0]])
    ref_y = torch.tensor([0, 1, 2])
    # The midpoint of classes 0 and 2 lands on class 1: manifold intrusion.
    pts = torch.tensor([[1.0], [0.1]])
    keep = intrusion_keep_mask(pts, ref, ref_y, torch.tensor([0, 0]), torch.tensor([2, 2]))
    assert keep.tolist() == [False, True]


@pytest.mark.parametrize("rule", ["nearest_neighbor", "exclude_intrusion"])
def test_label_mixed_with_given_nearest_indices_equals_the_search(rule) -> None:
    # The grid hands label_mixed the neighbours it found from a Gram matrix.
    gen = torch.Generator().manual_seed(3)
    ref, ref_y = torch.randn(50, 6, generator=gen), torch.randint(0, 4, (50,), generator=gen)
    rows = torch.randperm(50, generator=gen)[:20]
    params = draw_mix_params(20, alpha=1.0, per_sample=True, generator=gen)
    points = apply_mix(ref[rows], params)
    gram = ref.double() @ ref.double().T
    nearest = (gram.diagonal() - 2 * apply_mix(gram[rows], params)).argmin(-1)
    torch.testing.assert_close(nearest, nearest_neighbor_indices(points, ref))
    searched = label_mixed(rule, params, ref_y[rows], 4, points=points, reference=(ref, ref_y))
    given = label_mixed(rule, params, ref_y[rows], 4, reference=(ref, ref_y), nearest=nearest)
    for a, b in zip(
        (searched.targets, searched.mix_targets, searched.weight),
        (given.targets, given.mix_targets, given.weight),
        strict=True,
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(ValueError, match="needs the mixed points"):
        label_mixed(rule, params, ref_y[rows], 4, reference=(ref, ref_y))


def test_genlabel_targets_bad_input() -> None:
    with pytest.raises(ValueError, match="log_probs must be of shape"):
        genlabel_targets(torch.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        genlabel_targets(torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(ValueError, match="top_k must be a positive integer"):
        genlabel_targets(torch.zeros(2, 3), top_k=0)
    with pytest.raises(ValueError, match="floating point"):
        genlabel_targets(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"log_prior must be of shape \(3,\)"):
        genlabel_targets(torch.zeros(2, 3), log_prior=torch.zeros(2))
    with pytest.raises(ValueError, match=r"log_prior must be of shape \(3,\)"):
        genlabel_targets(torch.zeros(2, 3), log_prior=torch.zeros(3, 3))
    lp, prior = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64)
    for shaped in (prior[0], prior[:1]):  # one per class, as (k,) or (1, k)
        assert torch.equal(genlabel_targets(lp, log_prior=shaped), genlabel_targets(lp + prior[0]))
    assert torch.equal(genlabel_targets(lp, log_prior=prior), genlabel_targets(lp + prior))
    np.testing.assert_array_equal(  # NumPy log-densities are accepted
        genlabel_targets(np.log([[0.2, 0.8]])).numpy(), [[0.2, 0.8]]
    )
    a, b = torch.eye(3)[[0, 1]], torch.eye(3)[[2, 2]]
    for lam in (1.5, -0.1, float("nan"), torch.tensor([0.5, 2.0])):
        with pytest.raises(ValueError, match=r"lam must be in \[0, 1\]"):
            linear_labels(a, b, lam)
    with pytest.raises(ValueError, match="floating point"):  # lam would round to 0 or 1
        linear_labels(a.long(), b.long(), 0.5)
    with pytest.raises(ValueError, match="an int >= 0"):
        sample_lambda(1.0, -1, generator=torch.Generator())


def test_half_precision_log_probs() -> None:
    lp = torch.tensor([[-3.0, -1.0, -60000.0]], dtype=torch.float16)
    out = genlabel_targets(lp, top_k=2)
    assert out.dtype == torch.float16
    assert_valid_labels(out)


@pytest.mark.parametrize("d", [1, 4, 8, 44, 200])
def test_nearest_indices_equal_the_unfused_search_bit_for_bit_and_ties_go_first(d: int) -> None:
    # The fused addmm must give the same scores as |r|^2 - 2 x.r (the grid's cells rest on
    # it), and a point with duplicated nearest rows gets the first of them, as argmin does.
    gen = torch.Generator().manual_seed(d)
    ref = torch.randn(300, d, generator=gen).round()  # many duplicated rows
    points = torch.cat([ref[:40], 0.5 * ref[40:80] + 0.5 * ref[80:120]])
    sq = ref.square().sum(-1)
    unfused = (sq.unsqueeze(0) - 2 * points @ ref.T).argmin(-1)
    got = nearest_neighbor_indices(points, ref)
    assert torch.equal(got, unfused)
    first_copy = torch.tensor([int((ref == ref[i]).all(1).nonzero()[0]) for i in range(40)])
    assert torch.equal(got[:40], first_copy)


@settings(max_examples=60, deadline=None)
@given(
    scores=arrays(
        np.float32,
        hst.tuples(hst.integers(1, 6), hst.integers(1, 300)),
        elements=hst.one_of(
            hst.sampled_from([0.0, 1.0, -1.0, np.inf, -np.inf, np.nan]),
            hst.floats(-1e6, 1e6, width=32),
        ),
    )
)
def test_first_argmin_is_argmin_with_ties_and_nan(scores: np.ndarray) -> None:
    # The nearest-row searches read min(-1).indices for speed; it must be argmin exactly
    # (the first minimum on ties, a NaN as the minimum), in both float widths.
    for t in (torch.from_numpy(scores), torch.from_numpy(scores).double()):
        assert torch.equal(first_argmin(t), t.argmin(-1))


def _three_gaussians() -> GaussianClassDensity:
    """Class means 0 -> (-4, 0), 1 -> (4, 0), 2 -> (0, 0): class 2 lies halfway between."""
    centers = torch.tensor([[-4.0, 0.0], [4.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    X = torch.cat(
        [c + 0.3 * torch.randn(200, 2, generator=gen, dtype=torch.float64) for c in centers]
    )
    y = torch.arange(3).repeat_interleave(200)
    return GaussianClassDensity().fit(X, y, classes=[0, 1, 2])


@pytest.mark.parametrize("rule", ["genlabel", "genlabel_top2"])
def test_mixed_label_classes_give_no_weight_to_a_third_class_on_whose_mean_the_mix_lies(rule):
    """Issue 42: a mix of classes 0 and 1 whose point lies on class 2's mean gets (nearly)
    all its label on class 2 over every class, and none with label_classes="mixed"."""
    from genlabel.mixing import MixParams

    density = _three_gaussians()
    labels = torch.tensor([0, 1, 2, 2])
    params = MixParams(lam=torch.tensor(0.5), perm=torch.tensor([1, 0, 3, 2]))
    x = torch.tensor([[-4.0, 0.0], [4.0, 0.0], [0.0, 0.0], [0.1, 0.0]], dtype=torch.float64)
    points = apply_mix(x, params)  # rows 0, 1: the 0/1 mix at (0, 0), class 2's mean
    every = label_mixed(rule, params, labels, 3, points=points, density=density)
    mixed = label_mixed(
        rule, params, labels, 3, points=points, density=density, label_classes="mixed"
    )
    assert float(every.targets[0, 2]) > 0.9
    assert_valid_labels(mixed.targets, 4, 3)
    assert torch.equal(mixed.targets[:2, 2], torch.zeros(2))
    # a point mixed within its own class keeps that class only
    torch.testing.assert_close(mixed.targets[2:], torch.tensor([[0.0, 0.0, 1.0]] * 2))


def test_allowed_mask_with_points_far_from_every_class_stays_finite() -> None:
    """-inf log-densities everywhere: the clamp path keeps the mask (no NaN, no weight
    outside it), and a row allowing no class is a clear error."""
    lp = torch.full((2, 4), -torch.inf, dtype=torch.float64)
    allowed = torch.tensor([[True, False, True, False], [False, False, False, True]])
    labels = genlabel_targets(lp, top_k=2, allowed=allowed)
    assert_valid_labels(labels, 2, 4)
    assert torch.equal(labels[~allowed], torch.zeros(int((~allowed).sum()), dtype=labels.dtype))
    with pytest.raises(ValueError, match="at least one class"):
        genlabel_targets(lp, allowed=torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="bool mask"):
        genlabel_targets(lp, allowed=torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="label_classes"):
        label_mixed(
            "linear",
            draw_mix_params(2, generator=torch.Generator()),
            torch.tensor([0, 1]),
            4,
            label_classes="two",
        )


def test_mixed_class_mask_reads_soft_targets_and_the_partner() -> None:
    from genlabel.labels import mixed_class_mask

    soft = torch.tensor([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    mask = mixed_class_mask(soft, torch.tensor([2, 0, 1]), 3)
    expected = torch.tensor([[True, False, True], [True, True, False], [False, True, True]])
    assert torch.equal(mask, expected)


@pytest.mark.parametrize("rule", ["linear", "logistic", "nearest_neighbor", "exclude_intrusion"])
def test_label_mixed_mixes_the_sample_weights_like_the_labels(rule) -> None:
    """Issue 39: the dispatcher gives the mixed sample weights lam w_i + (1 - lam) w_j (times
    the rule's weight), which the grid, the steps and the drop-in each computed themselves."""
    gen = torch.Generator().manual_seed(5)
    ref, ref_y = torch.randn(40, 3, generator=gen), torch.randint(0, 3, (40,), generator=gen)
    params = draw_mix_params(40, alpha=1.0, per_sample=True, generator=gen)
    points = apply_mix(ref, params)
    w = torch.rand(40, generator=gen, dtype=torch.float64)
    plain = label_mixed(rule, params, ref_y, 3, points=points, reference=(ref, ref_y))
    got = label_mixed(
        rule, params, ref_y, 3, points=points, reference=(ref, ref_y), sample_weight=w
    )
    lam = params.lam_per_point().float()
    expected = lam * w.float() + (1 - lam) * w.float()[params.perm]
    torch.testing.assert_close(got.weight, plain.weight * expected)
    assert got.weight.dtype == torch.float32
    torch.testing.assert_close(got.targets, plain.targets, rtol=0, atol=0)
    torch.testing.assert_close(got.mix_targets, plain.mix_targets, rtol=0, atol=0)
    if rule == "exclude_intrusion":  # a dropped point stays dropped
        assert bool((got.weight[plain.weight == 0] == 0).all())
    if rule == "linear":
        torch.testing.assert_close(
            got.mix_targets,
            linear_labels(torch.eye(3)[ref_y], torch.eye(3)[ref_y][params.perm], lam),
        )


def test_label_mixed_gives_the_linear_label_of_a_stacked_draw() -> None:
    """AdaMixup's grid mixes each model's batch with its own lam (a stacked draw, (G, n))."""
    gen = torch.Generator().manual_seed(2)
    y = torch.randint(0, 4, (3, 7), generator=gen)
    perm = torch.stack([torch.randperm(7, generator=gen) for _ in range(3)])
    lam = torch.rand(3, 7, 1, generator=gen, dtype=torch.float64)
    targets = torch.eye(4, dtype=torch.float64)[y]
    stacked = label_mixed("linear", MixParams(lam, perm), targets, 4, dtype=torch.float64)
    from_indices = label_mixed("linear", MixParams(lam, perm), y, 4, dtype=torch.float64)
    for g in range(3):
        one = label_mixed("linear", MixParams(lam[g, :, 0], perm[g]), y[g], 4, dtype=torch.float64)
        torch.testing.assert_close(stacked.mix_targets[g], one.mix_targets)
        torch.testing.assert_close(from_indices.mix_targets[g], one.mix_targets)
    assert stacked.weight.shape == (3, 7)
    # Sample weights (G, n) mix per model like the labels (AdaMixup's lam is (G, n, 1)).
    w = torch.rand(3, 7, generator=gen, dtype=torch.float64)
    weighted = label_mixed("linear", MixParams(lam, perm), y, 4, dtype=torch.float64,
                           sample_weight=w)  # fmt: skip
    assert weighted.weight.shape == (3, 7)
    for g in range(3):
        one = label_mixed("linear", MixParams(lam[g, :, 0], perm[g]), y[g], 4,
                          dtype=torch.float64, sample_weight=w[g])  # fmt: skip
        torch.testing.assert_close(weighted.weight[g], one.weight)
    with pytest.raises(ValueError, match="a stacked draw is for 'linear'"):
        label_mixed("logistic", MixParams(lam, perm), y, 4)


def test_class_log_prior_is_the_log_of_the_class_frequencies() -> None:
    got = class_log_prior(torch.tensor([0, 2, 2, 2]), 4)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got.exp(), torch.tensor([0.25, 0.0, 0.75, 0.0], dtype=torch.float64))
    assert got[1] == -np.inf
