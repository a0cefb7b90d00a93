"""GenMix (Algorithm 4): exact ratio points, the sampler's invariants, the GAN density."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
from scipy.optimize import brentq
from torch import nn

from genlabel.data.toy import make_toy
from genlabel.density import GaussianClassDensity, LabelDensity
from genlabel.genmix import (
    ConditionalGAN,
    GANClassDensity,
    GenMixWarning,
    bisection_segment_roots,
    gaussian_segment_roots,
    genmix,
)

from ._asserts import assert_valid_labels

F64 = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _blobs(centers, scales, n=150, seed=0):
    """Gaussian blobs in 2-D with per-axis scales, float64."""
    g = _gen(seed)
    X = torch.cat(
        [
            torch.randn(n, 2, generator=g, dtype=F64) * torch.tensor(s, dtype=F64)
            + torch.tensor(c, dtype=F64)
            for c, s in zip(centers, scales, strict=True)
        ]
    )
    return X, torch.arange(len(centers)).repeat_interleave(n)


@pytest.fixture(scope="module")
def two_blobs():
    # Different (anisotropic) covariances: the ratio boundary is a genuine quadric.
    return _blobs([(0.0, 0.0), (3.0, 1.0)], [(1.0, 0.3), (0.5, 0.8)])


@pytest.fixture(scope="module")
def three_on_line():
    # Class 1 sits between classes 0 and 2: mixing 0 with 2 lands in class 1.
    return _blobs([(0.0, 0.0), (3.0, 0.0), (6.0, 0.0)], [(0.4, 0.4)] * 3)


def _share_j(density, x, pair):
    """p_j / (p_i + p_j) under the density's own log_prob, float64."""
    lp = density.log_prob(x.to(F64))
    return torch.sigmoid(lp.gather(1, pair[:, 1:]) - lp.gather(1, pair[:, :1])).squeeze(1)


def _logit(lam):
    return torch.logit(torch.as_tensor(lam, dtype=F64))


def _reference_roots(density, a, b, i, j, logit, grid=400):
    """Every root in [0, 1] of log p_j - log p_i - logit on one segment, by scipy's brentq."""

    def f(t):
        x = (a + t * (b - a)).unsqueeze(0)
        lp = density.log_prob(x)[0]
        return float(lp[j] - lp[i] - logit)

    ts = np.linspace(0.0, 1.0, grid + 1)
    values = np.array([f(t) for t in ts])
    return [
        brentq(f, lo, hi, xtol=1e-14)
        for lo, hi, f_lo, f_hi in zip(ts[:-1], ts[1:], values[:-1], values[1:], strict=True)
        if f_lo * f_hi < 0
    ]


class _PlainDensity:
    """A LabelDensity with log_prob and targets only: genmix must fall back to bisection."""

    def __init__(self, inner):
        self.inner = inner

    def log_prob(self, Z):
        return self.inner.log_prob(Z)

    def targets(self, Z, *, top_k=None):
        return self.inner.targets(Z, top_k=top_k)


# -- the exact points of a Gaussian density ------------------------------------------------


@pytest.mark.parametrize("covariance", ["full", "diag", "spherical"])
def test_closed_form_points_meet_the_ratio_exactly(two_blobs, covariance):
    X, y = two_blobs
    density = GaussianClassDensity(covariance=covariance).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GenMixWarning)  # eps tiny, yet every pair is filled
        result = genmix(density, X, y, n_aug=40, lam=0.3, eps=1e-9, generator=_gen())
    assert result.counts.tolist() == [[0, 40], [40, 0]]
    share = _share_j(density, result.x, result.pair)
    assert (share - 0.3).abs().max() <= 1e-6


def test_a_gaussian_density_is_solved_in_closed_form_not_by_search(two_blobs, monkeypatch):
    from genlabel.genmix import sampler

    def no_search(*args, **kwargs):
        raise AssertionError("a Gaussian density went through the iterative search")

    monkeypatch.setattr(sampler, "bisection_segment_roots", no_search)
    X, y = two_blobs
    density = GaussianClassDensity().fit(X, y)
    result = genmix(density, X, y, n_aug=10, lam=0.4, eps=1e-9, generator=_gen())
    assert result.counts.tolist() == [[0, 10], [10, 0]]
    with pytest.raises(AssertionError, match="iterative search"):  # the patch is in the path
        genmix(_PlainDensity(density), X, y, n_aug=10, generator=_gen())


@pytest.mark.parametrize("covariance", ["full", "diag", "spherical"])
def test_closed_form_roots_match_brentq(two_blobs, covariance):
    X, y = two_blobs
    density = GaussianClassDensity(covariance=covariance).fit(X, y)
    g = _gen(1)
    a = X[torch.randint(150, (4,), generator=g)]
    b = X[150 + torch.randint(150, (4,), generator=g)]
    i, j = torch.zeros(4, dtype=torch.int64), torch.ones(4, dtype=torch.int64)
    for lam in (0.2, 0.7):
        logit = _logit(lam).expand(4)
        t, found = gaussian_segment_roots(density, a, b, i, j, logit)
        for s in range(4):
            roots = _reference_roots(density, a[s], b[s], 0, 1, float(logit[s]))
            assert bool(found[s]) == bool(roots)
            if roots:
                nearest = min(roots, key=lambda r: abs(r - lam))
                assert float(t[s]) == pytest.approx(nearest, abs=1e-9)


def test_closed_form_with_equal_covariances_is_linear():
    # Class 1 is class 0 shifted: equal covariances, log p_1 - log p_0 is affine in x.
    X0, _ = _blobs([(0.0, 0.0)], [(1.0, 0.5)], n=200)
    X = torch.cat([X0, X0 + torch.tensor([2.0, 1.0], dtype=F64)])
    y = torch.arange(2).repeat_interleave(200)
    density = GaussianClassDensity().fit(X, y)
    torch.testing.assert_close(density.covariances_[0], density.covariances_[1])
    a, b = X[:5], X[200:205]
    i, j = torch.zeros(5, dtype=torch.int64), torch.ones(5, dtype=torch.int64)
    logit = _logit(0.4).expand(5)
    t, found = gaussian_segment_roots(density, a, b, i, j, logit)
    assert int(found.sum()) >= 3
    for s in range(5):
        roots = _reference_roots(density, a[s], b[s], 0, 1, float(logit[s]))
        assert len(roots) == int(found[s])  # affine: one root at most
        if roots:
            assert float(t[s]) == pytest.approx(roots[0], abs=1e-9)


def test_segment_without_a_root_is_discarded(two_blobs):
    X, y = two_blobs
    density = GaussianClassDensity().fit(X, y)
    # Both ends deep inside class 0: p_1 / (p_0 + p_1) never reaches 0.5 on the segment.
    a = torch.tensor([[-0.5, 0.0], [0.0, -0.2]], dtype=F64)
    b = torch.tensor([[0.5, 0.0], [0.0, 0.2]], dtype=F64)
    i, j = torch.zeros(2, dtype=torch.int64), torch.ones(2, dtype=torch.int64)
    for solve in (gaussian_segment_roots, bisection_segment_roots):
        _, found = solve(density, a, b, i, j, _logit(0.5).expand(2))
        assert not bool(found.any())


def test_bisection_agrees_with_the_closed_form(three_on_line):
    # Segments of every ordered pair in one call: the solvers are batched over pairs too.
    X, y = three_on_line
    density = GaussianClassDensity().fit(X, y)
    g = _gen(2)
    i = torch.randint(3, (60,), generator=g)
    j = (i + 1 + torch.randint(2, (60,), generator=g)) % 3
    a = X[i * 150 + torch.randint(150, (60,), generator=g)]
    b = X[j * 150 + torch.randint(150, (60,), generator=g)]
    logit = _logit(torch.rand(60, generator=g, dtype=F64) * 0.8 + 0.1)
    t_exact, found_exact = gaussian_segment_roots(density, a, b, i, j, logit)
    t_bis, found_bis = bisection_segment_roots(density, a, b, i, j, logit)
    assert int(found_exact.sum()) >= 50
    assert torch.equal(found_exact, found_bis)
    torch.testing.assert_close(t_bis[found_bis], t_exact[found_exact], atol=1e-8, rtol=0)


def test_any_label_density_uses_bisection(two_blobs):
    X, y = two_blobs
    plain = _PlainDensity(GaussianClassDensity().fit(X, y))
    result = genmix(plain, X, y, n_aug=20, lam=0.6, eps=1e-6, generator=_gen())
    assert result.counts.tolist() == [[0, 20], [20, 0]]
    assert (_share_j(plain, result.x, result.pair) - 0.6).abs().max() <= 1e-6
    with pytest.raises(ValueError, match="solver='closed_form' needs a fitted Gaussian"):
        genmix(plain, X, y, n_aug=2, solver="closed_form", generator=_gen())


# -- the sampler's invariants ---------------------------------------------------------------


def assert_genmix_result(result, density, *, n_aug, eps, lam=None):
    """Every invariant of a GenMix result: shapes, labels, pairs, the ratio test."""
    m, k = result.targets.shape
    assert result.x.shape[0] == result.pair.shape[0] == result.lam.shape[0] == m
    assert int(result.counts.sum()) == m and bool((result.counts <= n_aug).all())
    assert bool((result.counts.diagonal() == 0).all())
    assert_valid_labels(result.targets, m, k)
    # Mass only on the pair's two classes, in the pair's order: column j holds p_j's share.
    on_pair = result.targets.gather(1, result.pair).sum(1)
    torch.testing.assert_close(on_pair, torch.ones_like(on_pair))
    share = result.targets.gather(1, result.pair[:, 1:]).squeeze(1).to(F64)
    assert bool(((share - result.lam).abs() <= eps + 1e-6).all())
    torch.testing.assert_close(share, _share_j(density, result.x, result.pair), atol=1e-6, rtol=0)
    if lam is not None and lam != "uniform":
        assert bool((result.lam == lam).all())
    counts = torch.bincount(result.pair[:, 0] * k + result.pair[:, 1], minlength=k * k)
    assert torch.equal(counts.view(k, k), result.counts)


@pytest.mark.parametrize("lam", [0.0, 0.25, 0.5, 0.9, 1.0, "uniform"])
def test_genmix_invariants(three_on_line, lam):
    X, y = three_on_line
    density = GaussianClassDensity().fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GenMixWarning)  # pairs (0, 2), (2, 0) intrude
        result = genmix(density, X, y, n_aug=30, lam=lam, eps=0.05, generator=_gen())
    assert_genmix_result(result, density, n_aug=30, eps=0.05, lam=lam)
    for pair in ((0, 1), (1, 0), (1, 2), (2, 1)):
        assert int(result.counts[pair]) == 30


def test_uniform_lam_varies_per_point(two_blobs):
    X, y = two_blobs
    density = GaussianClassDensity().fit(X, y)
    result = genmix(density, X, y, n_aug=100, lam="uniform", eps=0.02, generator=_gen())
    assert result.lam.unique().numel() == 200
    assert float(result.lam.min()) < 0.1 and float(result.lam.max()) > 0.9
    share = result.targets.gather(1, result.pair[:, 1:]).squeeze(1).to(F64)
    assert float(share.std()) > 0.2


def test_intrusion_filter_drops_points_where_a_third_class_is_likelier(three_on_line):
    X, y = three_on_line
    density = GaussianClassDensity().fit(X, y)
    with pytest.warns(GenMixWarning) as record:
        kept = genmix(density, X, y, n_aug=20, max_tries=3, generator=_gen())
    assert len(record) == 1  # one warning naming every short pair
    message = str(record[0].message)
    assert "(0, 2): 0" in message and "(2, 0): 0" in message and "(0, 1)" not in message
    assert int(kept.counts[0, 2]) == int(kept.counts[2, 0]) == 0
    assert int(kept.counts.sum()) == 4 * 20
    with warnings.catch_warnings():
        warnings.simplefilter("error", GenMixWarning)
        unfiltered = genmix(
            density, X, y, n_aug=20, intrusion_filter=False, max_tries=3, generator=_gen()
        )
    assert int(unfiltered.counts[0, 2]) == int(unfiltered.counts[2, 0]) == 20
    # Those points are where class 1 dominates: the filter was right to drop them.
    lp = density.log_prob(unfiltered.x[unfiltered.pair[:, 0] == 0][20:])
    assert bool((lp.argmax(1) == 1).all())


def test_shortfall_is_bounded_and_warns(three_on_line):
    X, y = three_on_line
    density = GaussianClassDensity().fit(X, y)
    with pytest.warns(GenMixWarning, match=r"fewer than n_aug=5 .* max_tries=1"):
        result = genmix(density, X, y, n_aug=5, max_tries=1, generator=_gen())
    # One block of max(16, 1.25 n_aug) segments per pair, however hopeless the pair.
    assert int(result.candidates[0, 2]) == 16


def test_same_seed_same_points(three_on_line):
    X, y = three_on_line
    density = GaussianClassDensity(covariance="diag").fit(X, y)
    kwargs = {"n_aug": 15, "lam": "uniform", "intrusion_filter": False}
    before = torch.random.get_rng_state()
    first = genmix(density, X, y, generator=_gen(7), **kwargs)
    assert torch.equal(torch.random.get_rng_state(), before)  # draws only from `generator`
    again = genmix(density, X, y, generator=_gen(7), **kwargs)
    other = genmix(density, X, y, generator=_gen(8), **kwargs)
    for name in ("x", "targets", "pair", "lam", "counts", "candidates"):
        assert torch.equal(getattr(first, name), getattr(again, name))
    assert not torch.equal(first.x, other.x)


def test_result_unpacks_keeps_dtype_and_forms_the_training_set(two_blobs):
    X, y = two_blobs
    X32 = X.float()
    density = GaussianClassDensity().fit(X32, y)
    result = genmix(density, X32, y, n_aug=10, generator=_gen())
    X_mix, Y_mix = result
    assert X_mix.dtype == Y_mix.dtype == torch.float32
    assert X_mix.shape == (20, 2) and Y_mix.shape == (20, 2)
    X_all, Y_all = result.union(X32, y)
    assert X_all.shape == (320, 2) and Y_all.shape == (320, 2)
    torch.testing.assert_close(Y_all[:300].argmax(1), y)
    assert torch.equal(X_all[300:], X_mix)
    assert_valid_labels(Y_all)


def test_classes_follow_the_density_columns():
    # Labels 3 and 7: pairs and targets use the density's columns, messages its labels.
    X, y = _blobs([(0.0, 0.0), (3.0, 0.0)], [(0.5, 0.5)] * 2, n=50)
    y = torch.where(y == 0, 3, 7)
    density = GaussianClassDensity().fit(X, y)
    result = genmix(density, X, y, n_aug=5, generator=_gen())
    assert result.classes.tolist() == [3, 7]
    assert result.pair.unique().tolist() == [0, 1]


class _WrongWidth(_PlainDensity):
    classes_ = torch.arange(3)


def _bad_inputs():
    X, y = _blobs([(0.0, 0.0), (3.0, 0.0)], [(0.5, 0.5)] * 2, n=20)
    density = GaussianClassDensity().fit(X, y)
    one_class = GaussianClassDensity().fit(X[:20], y[:20])
    X_nan = X.clone()
    X_nan[3, 1] = float("nan")
    ok = {"density": density, "X": X, "y": y, "n_aug": 3}
    return [
        ({"eps": 0}, "The 'eps' parameter of genmix must be a float in the range (0, 1). Got 0"),
        ({"eps": 1.0}, "'eps' parameter of genmix must be a float in the range (0, 1)"),
        ({"eps": -0.1}, "'eps' parameter .* Got -0.1 instead"),
        ({"lam": 1.5}, "'lam' parameter of genmix must be a float in the range [0, 1] or"),
        ({"lam": -0.1}, "'lam' parameter .* Got -0.1 instead"),
        ({"lam": "beta"}, "'lam' parameter .* Got 'beta' instead"),
        ({"n_aug": 0}, "'n_aug' parameter of genmix must be an integer >= 1. Got 0"),
        ({"n_aug": 2.5}, "'n_aug' parameter .* Got 2.5"),
        ({"max_tries": 0}, "'max_tries' parameter of genmix must be an integer >= 1"),
        ({"solver": "newton"}, "'solver' parameter of genmix must be one of 'auto'"),
        ({"X": X_nan}, "X contains NaN or infinite values"),
        ({"y": y[:-1]}, "y has 39 labels, but the inputs have 40 samples"),
        ({"X": X[:, 0]}, "X must be a 2-D or 3-D or 4-D array; got shape (40,)"),
        ({"y": torch.where(y == 1, 5, 0)}, "y contains labels [5] that the density does not"),
        ({"X": X[:20], "y": y[:20]}, "at least two classes; got 1"),
        ({"density": one_class, "X": X[:20], "y": y[:20]}, "at least two classes; got 1"),
        ({"density": _WrongWidth(density)}, "log_prob returns 2 columns, but the density has 3"),
        ({"density": object()}, "density must be a class density with log_prob"),
        ({"X": X[:, :1]}, "Z has 1 features, but GaussianClassDensity was fitted with 2"),
        ({"generator": None}, "generator must be a torch.Generator"),
    ], ok


_BAD, _OK = _bad_inputs()


@pytest.mark.parametrize(("change", "message"), _BAD, ids=[m[:30] for _, m in _BAD])
def test_bad_input_is_a_value_error_naming_it(change, message):
    kwargs = {**_OK, "generator": _gen(), **change}
    with pytest.raises(ValueError, match=re.escape(message) if "*" not in message else message):
        genmix(**kwargs)


# -- the conditional GAN --------------------------------------------------------------------


@pytest.fixture(scope="module")
def circle():
    X, y = make_toy("circle", 200, random_state=0)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y)


def _tiny_gan(seed=3):
    return ConditionalGAN(2, 2, latent_dim=4, hidden=32, seed=seed)


_FIT = {"steps": 30, "batch_size": 32, "lr": 1e-3}


def _weights(gan):
    state = gan.state_dict()
    return [*state["generator"].values(), *state["discriminator"].values()]


def _same(first, second):
    return len(first) == len(second) and all(
        torch.equal(a, b) for a, b in zip(first, second, strict=True)
    )


def test_gan_fit_is_seeded_and_leaves_global_rng_alone(circle):
    X, y = circle
    before = torch.random.get_rng_state()
    gan = _tiny_gan().fit(X, y, **_FIT)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert gan.losses_.shape == (30, 2) and bool(torch.isfinite(gan.losses_).all())
    assert gan.steps_ == 30
    assert _same(_weights(gan), _weights(_tiny_gan().fit(X, y, **_FIT)))
    assert not _same(_weights(gan), _weights(_tiny_gan(seed=4).fit(X, y, **_FIT)))


def test_gan_resumed_from_a_checkpoint_ends_like_an_uninterrupted_run(circle, tmp_path):
    X, y = circle
    whole = _tiny_gan().fit(X, y, **_FIT)
    first = _tiny_gan().fit(
        X, y, **{**_FIT, "steps": 17}, checkpoint_dir=tmp_path, checkpoint_every=5
    )
    assert first.steps_ == 17 and (tmp_path / "gan.pt").is_file()
    resumed = _tiny_gan().fit(X, y, **_FIT, checkpoint_dir=tmp_path, checkpoint_every=5)
    assert _same(_weights(resumed), _weights(whole))
    assert torch.equal(resumed.losses_, whole.losses_)
    with pytest.raises(ValueError, match="at step 30, past steps=10"):
        _tiny_gan().fit(X, y, **{**_FIT, "steps": 10}, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="another configuration .*latent_dim: saved 4, here 5"):
        ConditionalGAN(2, 2, latent_dim=5, hidden=32).fit(X, y, **_FIT, checkpoint_dir=tmp_path)
    state = torch.load(tmp_path / "gan.pt", weights_only=True)
    assert _same(_weights(_tiny_gan().load_state_dict(state)), _weights(whole))


def test_gan_generate_is_differentiable_and_sample_is_seeded(circle):
    X, y = circle
    gan = _tiny_gan().fit(X, y, **{**_FIT, "steps": 2})
    z = torch.zeros(3, 4, requires_grad=True)
    out = gan.generate(z, torch.tensor([0, 1, 1]))
    assert out.shape == (3, 2)
    out.square().sum().backward()
    assert z.grad is not None and bool(z.grad.abs().sum() > 0)
    first = gan.sample(5, 1, generator=_gen(1))
    assert first.shape == (5, 2) and torch.equal(first, gan.sample(5, 1, generator=_gen(1)))
    with pytest.raises(ValueError, match=r"z must be of shape \(n, 4\); got \(3, 2\)"):
        gan.generate(torch.zeros(3, 2), 0)


def test_conv_gan_makes_28x28_images_in_the_unit_interval():
    g = _gen(0)
    X = torch.rand(24, 1, 28, 28, generator=g)
    y = torch.arange(24) % 3
    gan = ConditionalGAN((1, 28, 28), 3, kind="conv", hidden=8, latent_dim=8)
    gan.fit(X, y, steps=2, batch_size=8)
    images = gan.sample(4, torch.tensor([0, 1, 2, 0]), generator=g)
    assert images.shape == (4, 1, 28, 28)
    assert bool((images >= 0).all() and (images <= 1).all())
    flat = ConditionalGAN(784, 3, kind="conv", hidden=8, latent_dim=8)
    assert flat.fit(X.flatten(1), y, steps=1, batch_size=8).sample(2, 0, generator=g).shape == (
        2,
        784,
    )


@pytest.mark.parametrize(
    ("params", "fit", "message"),
    [
        ({"kind": "conv"}, {}, "'data_shape' parameter of ConditionalGAN must be 28x28"),
        ({"kind": "gru"}, {}, "'kind' parameter of ConditionalGAN must be one of 'mlp', 'conv'"),
        ({"latent_dim": 0}, {}, "'latent_dim' parameter of ConditionalGAN must be an integer"),
        ({}, {"batch_size": 1}, "'batch_size' parameter of ConditionalGAN must be an integer >= 2"),
        ({}, {"steps": 0}, "'steps' parameter of ConditionalGAN must be an integer >= 1"),
        ({}, {"lr": -1.0}, "'lr' parameter of ConditionalGAN must be a float in the range"),
        ({"num_classes": 1}, {}, "y must hold labels in 0..0; got [1]"),
        ({"data_shape": 3}, {}, "X must hold points of shape (3,) (3 values each)"),
    ],
)
def test_gan_bad_parameters(circle, params, fit, message):
    X, y = circle
    gan = ConditionalGAN(**{"data_shape": 2, "num_classes": 2, **params})
    with pytest.raises(ValueError, match=re.escape(message)):
        gan.fit(X, y, **{"steps": 1, "batch_size": 4, **fit})


def test_unfitted_gan_says_so():
    with pytest.raises(RuntimeError, match="not fitted yet"):
        ConditionalGAN(2, 2).generate(torch.zeros(1, 16), 0)


# -- class densities by GAN inversion ----------------------------------------------------------


class AffineGenerator(nn.Module):
    """G(z, c) = W_c z + b_c: manifolds are affine subspaces, distances known in closed form."""

    dtype = F64

    def __init__(self, W, b):
        super().__init__()
        self.register_buffer("W", W)
        self.register_buffer("b", b)
        self.num_classes, _, self.latent_dim = W.shape

    def generate(self, z, c):
        return torch.einsum("ndl,nl->nd", self.W[c], z) + self.b[c]

    def distance(self, x):
        """||(I - W W^+)(x - b)|| per class: the reference, by pseudo-inverse."""
        eye = torch.eye(self.W.shape[1], dtype=F64)
        proj = [eye - W @ torch.linalg.pinv(W) for W in self.W]
        return torch.stack(
            [((x - b) @ P.T).norm(dim=1) for P, b in zip(proj, self.b, strict=True)], 1
        )


@pytest.fixture(scope="module")
def planes():
    g = _gen(5)
    return AffineGenerator(
        torch.randn(3, 5, 2, generator=g, dtype=F64), torch.randn(3, 5, generator=g, dtype=F64)
    )


@pytest.fixture(scope="module")
def parallel_lines():
    """Classes on the lines y = 0 and y = 1 of the plane, and 40 noisy points of them."""
    W = torch.tensor([[[1.0], [0.0]], [[1.0], [0.0]]], dtype=F64)
    gen = AffineGenerator(W, torch.tensor([[0.0, 0.0], [0.0, 1.0]], dtype=F64))
    g = _gen(6)
    y = torch.arange(2).repeat_interleave(20)
    z = torch.rand(40, 1, generator=g, dtype=F64) * 2 - 1
    return gen, gen.generate(z, y) + 0.05 * torch.randn(40, 2, generator=g, dtype=F64), y


def test_gan_density_is_a_label_density(planes):
    density = GANClassDensity(planes, 0.5)
    assert isinstance(density, LabelDensity)
    assert density.classes_.tolist() == [0, 1, 2]


def test_inverted_distance_matches_the_affine_closed_form(planes):
    x = 2 * torch.randn(20, 5, generator=_gen(7), dtype=F64)
    density = GANClassDensity(planes, 0.5)
    reference = planes.distance(x)
    torch.testing.assert_close(density.distance(x), reference, atol=1e-3, rtol=0)
    # log p_c = -d^2 / (2 sigma^2): differences between classes are the density's content.
    torch.testing.assert_close(
        density.log_prob(x), -reference.square() / (2 * 0.5**2), atol=1e-2, rtol=0
    )


def test_generated_points_lie_on_their_own_manifold(planes):
    z = torch.randn(6, 2, generator=_gen(8), dtype=F64)
    c = torch.tensor([0, 1, 2, 0, 1, 2])
    d = GANClassDensity(planes, 0.5).distance(planes.generate(z, c))
    own = d.gather(1, c[:, None]).squeeze(1)
    assert float(own.max()) < 1e-3
    assert float(d.sum(1).min() - own.max()) > 0.1  # the other classes are away


def test_gan_density_targets_are_valid_far_away(planes):
    x = torch.cat([1e3 * torch.ones(2, 5, dtype=F64), torch.zeros(2, 5, dtype=F64)])
    density = GANClassDensity(planes, 0.05, steps=50)
    assert bool(torch.isfinite(density.log_prob(x)).all())
    assert_valid_labels(density.targets(x), 4, 3)
    top = density.targets(x, top_k=1)
    assert bool(((top == 0) | (top == 1)).all())


def test_find_ratio_points_solves_the_ratio(parallel_lines):
    gen, X, _ = parallel_lines
    density = GANClassDensity(gen, 0.3)
    logit = _logit(0.3).expand(5)
    ones = torch.ones(5, dtype=torch.int64)
    x, found = density.find_ratio_points(X[:5], X[20:25], 0 * ones, ones, logit)
    assert bool(found.all())
    # log p_1 - log p_0 = (y^2 - (y - 1)^2) / (2 sigma^2) = logit  <=>  y = 1/2 + sigma^2 logit.
    expected = 0.5 + 0.3**2 * float(logit[0])
    torch.testing.assert_close(x[:, 1], torch.full((5,), expected, dtype=F64), atol=1e-6, rtol=0)


def test_genmix_with_the_gan_density(parallel_lines):
    gen, X, y = parallel_lines
    density = GANClassDensity(gen, 0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GenMixWarning)
        result = genmix(density, X, y, n_aug=8, lam="uniform", eps=0.01, generator=_gen())
    assert result.counts.tolist() == [[0, 8], [8, 0]]
    assert_genmix_result(result, density, n_aug=8, eps=0.01)


def test_latent_radius_bounds_the_manifold(parallel_lines):
    # G(z, c) = (z, c) with |z| <= 0.8: each class is a segment; the distance to a segment
    # in closed form is the distance to its nearest point (z clipped to [-0.8, 0.8]).
    gen, _, _ = parallel_lines
    x = torch.tensor([[2.0, 0.0], [-3.0, 0.5], [0.3, 1.4], [0.0, -1.0]], dtype=F64)
    ends = x[:, :1].clamp(-0.8, 0.8)
    reference = torch.stack(
        [torch.cat([x[:, :1] - ends, x[:, 1:] - c], 1).norm(dim=1) for c in (0.0, 1.0)], 1
    )
    bounded = GANClassDensity(gen, 0.3, latent_radius=0.8)
    torch.testing.assert_close(bounded.distance(x), reference, atol=1e-4, rtol=0)
    # Unbounded, the lines are infinite: only the vertical offset is left.
    free = GANClassDensity(gen, 0.3).distance(x)
    offsets = (x[:, 1:] - torch.tensor([[0.0, 1.0]], dtype=F64)).abs()
    torch.testing.assert_close(free, offsets, atol=1e-4, rtol=0)
    assert bool((bounded.distance(x) >= free - 1e-6).all())


def test_gan_density_on_a_trained_gan_and_on_images(circle):
    X, y = circle
    gan = _tiny_gan().fit(X, y, **_FIT)
    density = GANClassDensity(gan, 0.1, restarts=2, steps=40)
    result = genmix(density, X, y, n_aug=4, eps=0.1, max_tries=2, generator=_gen())
    assert_genmix_result(result, density, n_aug=4, eps=0.1)
    images = ConditionalGAN((1, 28, 28), 3, kind="conv", hidden=4, latent_dim=4)
    images.fit(
        torch.rand(8, 1, 28, 28, generator=_gen()), torch.arange(8) % 3, steps=1, batch_size=4
    )
    density = GANClassDensity(images, 1.0, restarts=1, steps=2)
    log_prob = density.log_prob(torch.rand(2, 1, 28, 28, generator=_gen()))
    assert log_prob.shape == (2, 3) and bool(torch.isfinite(log_prob).all())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sigma": 0.0}, "The 'sigma' parameter of GANClassDensity must be a float in the range"),
        ({"sigma": float("nan")}, "'sigma' parameter of GANClassDensity"),
        ({"restarts": 0}, "'restarts' parameter of GANClassDensity must be an integer >= 1"),
        ({"steps": 1.5}, "'steps' parameter of GANClassDensity must be an integer >= 1"),
        ({"lr": -1}, "'lr' parameter of GANClassDensity must be a float in the range"),
        ({"gan": object()}, "gan must be a conditional generator with latent_dim"),
        ({"latent_radius": 0.0}, "'latent_radius' parameter of GANClassDensity must be None or"),
        ({"latent_radius": float("nan")}, "'latent_radius' parameter of GANClassDensity"),
    ],
)
def test_gan_density_bad_parameters(planes, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        GANClassDensity(**{"gan": planes, "sigma": 1.0, **kwargs})


def test_gan_density_checks_the_point_shape(planes):
    with pytest.raises(ValueError, match=re.escape("Z must hold points of shape (5,)")):
        GANClassDensity(planes, 1.0).log_prob(torch.zeros(2, 4))
