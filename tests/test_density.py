from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.stats as st
import torch

from genlabel.density import GaussianClassDensity, KDEClassDensity, make_density
from genlabel.labels import genlabel_targets


def _blobs(k: int, d: int, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    A = rng.normal(size=(k, d, d)) / np.sqrt(d)
    X = np.einsum("nij,nj->ni", A[y], rng.normal(size=(n, d))) + 2 * rng.normal(size=(k, d))[y]
    return X, y


@pytest.mark.parametrize("covariance", ["full", "diag", "spherical"])
@pytest.mark.parametrize(("k", "d", "n"), [(2, 1, 40), (3, 4, 300), (5, 8, 200), (10, 20, 600)])
def test_gaussian_matches_scipy(covariance: str, k: int, d: int, n: int) -> None:
    X, y = _blobs(k, d, n)
    dens = GaussianClassDensity(covariance=covariance).fit(X, y)
    Z = np.random.default_rng(1).normal(size=(37, d)) * 2
    got = dens.log_prob(Z).numpy()
    refs = []
    for c in range(k):
        Xc = X[y == c]
        cov = np.cov(Xc.T, bias=True).reshape(d, d)
        if covariance == "diag":
            cov = np.diag(np.diag(cov))
        elif covariance == "spherical":
            cov = np.trace(cov) / d * np.eye(d)
        refs.append(st.multivariate_normal(Xc.mean(0), cov + 1e-4 * np.eye(d)).logpdf(Z))
    ref = np.stack(refs, 1).reshape(len(Z), k)
    np.testing.assert_allclose(got, ref, rtol=1e-5)


@pytest.mark.parametrize("bandwidth", ["scott", "silverman", 0.3])
@pytest.mark.parametrize(("k", "d", "n"), [(2, 1, 60), (3, 3, 300), (4, 6, 400)])
def test_kde_matches_scipy(bandwidth: str | float, k: int, d: int, n: int) -> None:
    X, y = _blobs(k, d, n)
    dens = KDEClassDensity(bandwidth=bandwidth, reg=0.0).fit(X, y)
    Z = np.random.default_rng(2).normal(size=(41, d)) * 2
    got = dens.log_prob(Z).numpy()
    ref = np.stack(
        [st.gaussian_kde(X[y == c].T, bw_method=bandwidth).logpdf(Z.T) for c in range(k)], 1
    )
    np.testing.assert_allclose(got, ref, rtol=1e-3)


def test_kde_chunks_give_the_same_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = _blobs(3, 4, 300)
    Z = np.random.default_rng(3).normal(size=(200, 4))
    whole = KDEClassDensity().fit(X, y).log_prob(Z)
    monkeypatch.setattr("genlabel.density._base._CHUNK_ELEMENTS", 1000)
    chunked = KDEClassDensity().fit(X, y).log_prob(Z)
    torch.testing.assert_close(whole, chunked)


@pytest.mark.parametrize("cls", [GaussianClassDensity, KDEClassDensity])
def test_float32_in_float32_out(cls: type) -> None:
    X, y = _blobs(3, 5, 150)
    dens = cls().fit(torch.tensor(X, dtype=torch.float32), torch.tensor(y))
    out32 = dens.log_prob(torch.tensor(X[:10], dtype=torch.float32))
    out64 = dens.log_prob(X[:10])
    assert out32.dtype == torch.float32 and out64.dtype == torch.float64
    torch.testing.assert_close(out32.double(), out64, rtol=1e-4, atol=1e-3)


DEGENERATE = {
    "one point in a class": (np.array([[0.0, 0.0], [1.0, 1.0], [1.2, 0.9]]), np.array([0, 1, 1])),
    "two points in a class": (np.array([[0.0, 0.0], [0.1, 0.0], [2.0, 2.0]]), np.array([0, 0, 1])),
    "constant feature": (
        np.c_[np.random.default_rng(0).normal(size=(20, 2)), np.ones(20)],
        np.arange(20) % 2,
    ),
    "d > n_c": (np.random.default_rng(0).normal(size=(12, 30)), np.arange(12) % 3),
    "duplicate points": (np.ones((10, 3)), np.arange(10) % 2),
}


@pytest.mark.parametrize("case", list(DEGENERATE))
@pytest.mark.parametrize(
    "make",
    [
        lambda: GaussianClassDensity(),
        lambda: GaussianClassDensity(covariance="diag", reg=0.0),
        lambda: GaussianClassDensity(reg=0.0),
        lambda: GaussianClassDensity(shrinkage="ledoit_wolf"),
        lambda: KDEClassDensity(),
        lambda: KDEClassDensity(reg=0.0),
    ],
)
def test_degenerate_data_gives_finite_log_probs(case: str, make) -> None:
    X, y = DEGENERATE[case]
    dens = make().fit(X, y)
    far = np.full((3, X.shape[1]), 1e8)
    Z = np.vstack([X[:5], far, -far])
    for dtype in (torch.float64, torch.float32):
        out = dens.log_prob(torch.tensor(Z, dtype=dtype))
        assert out.shape == (len(Z), len(np.unique(y)))
        assert bool(torch.isfinite(out).all())


@pytest.mark.parametrize("case", list(DEGENERATE))
@pytest.mark.parametrize(
    "make",
    [
        GaussianClassDensity,
        lambda: GaussianClassDensity(covariance="diag", reg=0.0),
        KDEClassDensity,
    ],
)
def test_fused_targets_equal_softmax_of_log_probs(case: str, make) -> None:
    X, y = DEGENERATE[case]
    dens = make().fit(X, y, classes=sorted(set(y.tolist())) + [99])  # + a class with no data
    far = np.full((3, X.shape[1]), 1e8)
    Z = np.vstack([X[:5], 0.5 * X[:5] + 0.5 * X[-5:], far, -far])
    for dtype in (torch.float64, torch.float32):
        Zt = torch.tensor(Z, dtype=dtype)
        got = dens.targets(Zt)
        assert torch.equal(got, genlabel_targets(dens.log_prob(Zt)))
        assert got.dtype == dtype and bool(torch.isfinite(got).all())
        torch.testing.assert_close(got.sum(1), torch.ones(len(Z), dtype=dtype))
        top2 = dens.targets(Zt, top_k=2)
        assert torch.equal(top2, genlabel_targets(dens.log_prob(Zt), top_k=2))
        for bad in (np.nan, np.inf, -np.inf):  # the fast path must not hide bad input
            Zb = Zt.clone()
            Zb[1, -1] = bad
            with pytest.raises(ValueError, match="Z contains NaN or infinite values"):
                dens.targets(Zb)


@pytest.mark.parametrize("case", list(DEGENERATE) + ["a declared class without points"])
def test_binary_targets_are_the_sigmoid_of_the_log_density_difference(case: str) -> None:
    # Two classes, full covariance: the fast path computes sigmoid(l_0 - l_1) in Z's layout.
    if case == "a declared class without points":
        X, y = _blobs(1, 3, 20)
        dens = GaussianClassDensity().fit(X, y, classes=[0, 99])
    else:
        X, y = DEGENERATE[case]
        dens = GaussianClassDensity().fit(X, (y > 0).astype(int))
    far = np.full((3, X.shape[1]), 1e8)
    Z = np.vstack([X[:5], 0.5 * X[:5] + 0.5 * X[-5:], far, -far])
    for dtype in (torch.float64, torch.float32):
        Zt = torch.tensor(Z, dtype=dtype)
        got = dens.targets(Zt)
        fast = dens._fast_labels(Zt, dens._params_for(dtype, Zt.device))
        assert torch.equal(got, fast)  # the binary fast path was taken
        assert got.dtype == dtype and got.shape == (len(Z), 2)
        assert bool(torch.isfinite(got).all()) and bool((got >= 0).all())
        tol = 1e-12 if dtype == torch.float64 else 1e-6
        want = genlabel_targets(dens.log_prob(Zt))
        # Far away, both forms round log-densities of ~1e20 and their difference is noise
        # (identical classes give exactly 1/2 only in the softmax form): finite is the contract.
        torch.testing.assert_close(got[:10], want[:10], atol=tol, rtol=0)
        torch.testing.assert_close(got.sum(1), torch.ones(len(Z), dtype=dtype), atol=tol, rtol=0)
        for bad in (np.nan, np.inf, -np.inf):  # the fast path must not hide bad input
            Zb = Zt.clone()
            Zb[1, -1] = bad
            with pytest.raises(ValueError, match="Z contains NaN or infinite values"):
                dens.targets(Zb)


@pytest.mark.parametrize("cls", [GaussianClassDensity, KDEClassDensity])
def test_fused_targets_of_large_and_array_inputs(
    cls: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y = _blobs(3, 4, 300)
    dens = cls().fit(X, y)
    want = genlabel_targets(dens.log_prob(X))
    assert torch.equal(dens.targets(X), want)  # NumPy input: the checked path
    # The chunk size is fixed at fit: a small one makes 300 rows span several chunks.
    monkeypatch.setattr("genlabel.density._base._CHUNK_ELEMENTS", 3000)
    chunked = cls().fit(X, y)
    assert chunked._batch_rows < len(X)
    torch.testing.assert_close(chunked.targets(torch.tensor(X)), want)


def test_declared_class_absent_from_y_has_zero_probability() -> None:
    X, y = _blobs(2, 2, 50)
    dens = GaussianClassDensity().fit(X, y, classes=[0, 1, 7])
    out = dens.log_prob(X[:4])
    assert out.shape == (4, 3)
    assert bool(torch.isfinite(out).all())
    assert bool((out[:, 2] < out[:, :2].min()).all())
    assert dens.classes_.tolist() == [0, 1, 7]


def test_classes_order_defines_the_columns() -> None:
    X, y = _blobs(3, 2, 90)
    a = GaussianClassDensity().fit(X, y).log_prob(X[:5])
    b = GaussianClassDensity().fit(X, y, classes=[2, 0, 1]).log_prob(X[:5])
    torch.testing.assert_close(a[:, [2, 0, 1]], b)


def test_pickle_round_trip_and_factory() -> None:
    X, y = _blobs(2, 3, 60)
    dens = make_density("kde", bandwidth="silverman").fit(X, y)
    clone = pickle.loads(pickle.dumps(dens))
    torch.testing.assert_close(dens.log_prob(X), clone.log_prob(X))
    with pytest.raises(ValueError, match="Unknown density 'gmm'"):
        make_density("gmm")


def test_fit_does_not_mutate_inputs() -> None:
    X, y = _blobs(2, 3, 60)
    X0, y0 = X.copy(), y.copy()
    GaussianClassDensity().fit(X, y)
    KDEClassDensity().fit(X, y)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


@pytest.mark.filterwarnings("error")
def test_read_only_arrays_are_accepted_without_warning() -> None:
    X, y = _blobs(2, 3, 60)
    want = GaussianClassDensity().fit(X, y).log_prob(X)
    X.flags.writeable = False
    y.flags.writeable = False
    dens = GaussianClassDensity().fit(X, y)
    torch.testing.assert_close(dens.log_prob(X), want, rtol=0, atol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("cls", [GaussianClassDensity, KDEClassDensity])
def test_cuda_matches_cpu(cls: type) -> None:
    X, y = _blobs(3, 4, 120)
    dens = cls().fit(torch.tensor(X, device="cuda"), torch.tensor(y, device="cuda"))
    cuda = dens.log_prob(torch.tensor(X[:10], device="cuda"))
    assert cuda.device.type == "cuda"
    torch.testing.assert_close(cuda.cpu(), cls().fit(X, y).log_prob(X[:10]))


X_OK = np.random.default_rng(0).normal(size=(10, 3))
Y_OK = np.arange(10) % 2
BAD_FIT = [
    (lambda: GaussianClassDensity(), X_OK.ravel(), Y_OK, "X must be a 2-D array"),
    (lambda: GaussianClassDensity(), np.where(X_OK > 1, np.nan, X_OK), Y_OK, "X contains NaN"),
    (
        lambda: GaussianClassDensity(),
        np.where(X_OK > 1, np.inf, X_OK),
        Y_OK,
        "X contains NaN or infinite",
    ),
    (
        lambda: GaussianClassDensity(),
        X_OK,
        Y_OK + 0.5,
        "y must be integer class indices; got non-integer",
    ),
    (lambda: GaussianClassDensity(), X_OK, Y_OK[:5], "y has 5 labels, but the inputs have 10"),
    (lambda: GaussianClassDensity(), X_OK, Y_OK[:, None], "y must be a 1-D array"),
    (
        lambda: GaussianClassDensity(reg=-1.0),
        X_OK,
        Y_OK,
        "'reg' parameter of GaussianClassDensity must be a float >= 0",
    ),
    (
        lambda: GaussianClassDensity(covariance="tied"),
        X_OK,
        Y_OK,
        "'covariance' parameter of GaussianClassDensity must be one of",
    ),
    (
        lambda: KDEClassDensity(bandwidth="wide"),
        X_OK,
        Y_OK,
        "'bandwidth' parameter of KDEClassDensity",
    ),
    (
        lambda: KDEClassDensity(bandwidth=-0.1),
        X_OK,
        Y_OK,
        "'bandwidth' parameter of KDEClassDensity",
    ),
    (lambda: KDEClassDensity(reg=-1e-3), X_OK, Y_OK, "'reg' parameter of KDEClassDensity"),
    (lambda: GaussianClassDensity(), X_OK[:0], Y_OK[:0], "at least one sample"),
]


@pytest.mark.parametrize(("make", "X", "y", "message"), BAD_FIT)
def test_bad_fit_input_is_rejected_with_a_clear_message(make, X, y, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make().fit(X, y)


def test_labels_outside_declared_classes_are_rejected() -> None:
    with pytest.raises(
        ValueError, match=r"y contains labels \[1\] that are not in classes \[0, 2\]"
    ):
        GaussianClassDensity().fit(X_OK, Y_OK, classes=[0, 2])


@pytest.mark.parametrize("cls", [GaussianClassDensity, KDEClassDensity])
def test_bad_query_is_rejected(cls: type) -> None:
    dens = cls().fit(X_OK, Y_OK)
    with pytest.raises(ValueError, match=f"Z has 4 features, but {cls.__name__} was fitted with 3"):
        dens.log_prob(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="Z contains NaN"):
        dens.log_prob(np.array([[0.0, np.nan, 0.0]]))
    with pytest.raises(ValueError, match="Z must be a 2-D array"):
        dens.log_prob(np.zeros(3))
    with pytest.raises(RuntimeError, match="not fitted yet"):
        cls().log_prob(np.zeros((2, 3)))


@pytest.mark.parametrize("per_sample", [False, True])
@pytest.mark.parametrize(
    "make",
    [GaussianClassDensity, lambda: GaussianClassDensity(covariance="diag"),
     lambda: GaussianClassDensity(covariance="spherical"), KDEClassDensity],
)  # fmt: skip
@pytest.mark.parametrize("k", [2, 3])
def test_log_densities_of_mixes_from_the_rows_equal_those_of_the_mixed_points(
    make, k: int, per_sample: bool
) -> None:
    from genlabel.mixing import apply_mix, draw_mix_params

    X, y = _blobs(k, 6, 90)
    X[:3] *= 1e3  # far-away rows: their mixes stay finite
    dens = make().fit(X, y, classes=list(range(k + 1)))  # a declared, absent class
    X_t = torch.tensor(X)
    parts = dens.mix_rows(X_t)
    assert all(t.shape[0] == len(X) and t.dtype == torch.float64 for t in parts.values())
    g = torch.Generator().manual_seed(k)
    rows = torch.cat([torch.arange(3), torch.randperm(90, generator=g)[:40]])
    params = draw_mix_params(len(rows), alpha=1.0, per_sample=per_sample, generator=g)
    got = dens.log_prob_of_mixes(parts, rows, params)
    want = dens.log_prob(apply_mix(X_t[rows], params))
    assert bool(torch.isfinite(got).all())
    real = want > -1e300  # the absent class sits at the clamp in both
    torch.testing.assert_close(got[real], want[real], rtol=1e-9, atol=1e-7)
    assert bool((got[~real] < -1e300).all())


@pytest.mark.parametrize("per_sample", [False, True])
def test_the_in_place_mix_of_parts_equals_apply_mix_bit_for_bit(per_sample: bool) -> None:
    from genlabel.density._base import _mix_of_rows
    from genlabel.mixing import apply_mix, draw_mix_params

    g = torch.Generator().manual_seed(3)
    part = torch.randn(50, 3, 17, generator=g, dtype=torch.float64)
    rows = torch.randperm(50, generator=g)[:20]
    params = draw_mix_params(20, alpha=0.4, per_sample=per_sample, generator=g)
    before = part.clone()
    assert torch.equal(_mix_of_rows(part, rows, params), apply_mix(part[rows], params))
    assert torch.equal(part, before)  # the parts themselves are left alone
