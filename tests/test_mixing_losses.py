from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from genlabel.losses import genlabel_loss, soft_cross_entropy
from genlabel.mixing import mix_pairs, sample_lambda
from tests._asserts import assert_valid_labels


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("n", [1, 2, 7, 128])
@pytest.mark.parametrize("per_sample", [False, True])
def test_mix_pairs_invariants(n: int, per_sample: bool) -> None:
    x = torch.randn(n, 3, 4)
    y = torch.randint(0, 5, (n,))
    mb = mix_pairs(x, y, 5, alpha=1.0, generator=_gen(), per_sample=per_sample)
    assert mb.inputs.shape == x.shape
    assert sorted(mb.permutation.tolist()) == list(range(n))
    lam = mb.lam.to(x.dtype).view(n, 1, 1)
    torch.testing.assert_close(mb.inputs, lam * x + (1 - lam) * x[mb.permutation])
    assert torch.equal(mb.labels_b, y[mb.permutation])
    assert_valid_labels(mb.mix_targets, n, 5)
    assert bool(((mb.lam >= 0) & (mb.lam <= 1)).all())
    if not per_sample:
        assert bool((mb.lam == mb.lam[0]).all())


def test_same_seed_same_draws_and_per_sample_differs() -> None:
    x, y = torch.randn(16, 2), torch.randint(0, 3, (16,))
    a = mix_pairs(x, y, 3, generator=_gen(3))
    b = mix_pairs(x, y, 3, generator=_gen(3))
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.permutation, b.permutation)
    ps = mix_pairs(x, y, 3, generator=_gen(3), per_sample=True)
    assert ps.lam.unique().numel() == 16


def test_alpha_zero_means_no_mixing() -> None:
    x, y = torch.randn(5, 2), torch.arange(5) % 2
    mb = mix_pairs(x, y, 2, alpha=0.0, generator=_gen())
    assert torch.equal(mb.inputs, x)
    assert torch.equal(mb.mix_targets, F.one_hot(y, 2).float())


def test_beta_draws_have_the_right_mean_and_variance() -> None:
    lam = sample_lambda(2.0, 20000, generator=_gen(), per_sample=True)
    # Beta(2, 2): mean 1/2, variance 1/20.
    assert float(lam.mean()) == pytest.approx(0.5, abs=0.01)
    assert float(lam.var()) == pytest.approx(0.05, abs=0.003)


BAD_MIX = [
    (
        dict(inputs=torch.randn(4, 2), labels=torch.zeros(4, 3, dtype=torch.long)),
        r"Expected labels to be a tensor of shape \(4,\), got \(4, 3\)",
    ),
    (
        dict(inputs=torch.randn(4, 2), labels=torch.zeros(3, dtype=torch.long)),
        r"shape \(4,\), got \(3,\)",
    ),
    (dict(inputs=torch.randn(4, 2), labels=torch.zeros(4)), "integer class indices"),
    (
        dict(inputs=torch.zeros(4, 2, dtype=torch.long), labels=torch.zeros(4, dtype=torch.long)),
        "floating-point",
    ),
    (
        dict(inputs=torch.randn(4, 2), labels=torch.tensor([0, 1, 2, 9])),
        r"class indices in \[0, 3\)",
    ),
    (
        dict(inputs=torch.randn(4, 2), labels=torch.zeros(4, dtype=torch.long), alpha=-1.0),
        "alpha must be",
    ),
    (
        dict(inputs=torch.randn(4, 2), labels=torch.zeros(4, dtype=torch.long), generator=None),
        "generator must be a torch.Generator",
    ),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_MIX)
def test_bad_mix_input(kwargs: dict, message: str) -> None:
    kwargs = {"num_classes": 3, "generator": _gen(), **kwargs}
    with pytest.raises(ValueError, match=message):
        mix_pairs(**kwargs)


def test_soft_cross_entropy_matches_torch_for_hard_and_soft_targets() -> None:
    logits = torch.randn(10, 4, dtype=torch.float64)
    y = torch.randint(0, 4, (10,))
    torch.testing.assert_close(
        soft_cross_entropy(logits, F.one_hot(y, 4).double()), F.cross_entropy(logits, y)
    )
    soft = torch.softmax(torch.randn(10, 4, dtype=torch.float64), 1)
    torch.testing.assert_close(soft_cross_entropy(logits, soft), F.cross_entropy(logits, soft))


def test_soft_cross_entropy_weights_and_reductions() -> None:
    logits = torch.randn(4, 3)
    t = torch.softmax(torch.randn(4, 3), 1)
    per = soft_cross_entropy(logits, t, reduction="none")
    w = torch.tensor([1.0, 0.0, 1.0, 0.0])
    torch.testing.assert_close(soft_cross_entropy(logits, t, weight=w), per[[0, 2]].mean())
    assert float(soft_cross_entropy(logits, t, weight=torch.zeros(4))) == 0.0
    torch.testing.assert_close(soft_cross_entropy(logits, t, reduction="sum"), per.sum())
    with pytest.raises(ValueError, match="same shape"):
        soft_cross_entropy(logits, t[:, :2])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_logits_are_safe(dtype: torch.dtype) -> None:
    logits = torch.tensor([[60000.0, -60000.0, 0.0]]).to(dtype)
    t = torch.tensor([[0.2, 0.3, 0.5]])
    loss = soft_cross_entropy(logits, t)
    assert loss.dtype == torch.float32 and bool(torch.isfinite(loss))


def test_genlabel_loss_is_the_gamma_mixture() -> None:
    logits = torch.randn(6, 3)
    gen = torch.softmax(torch.randn(6, 3), 1)
    mix = torch.softmax(torch.randn(6, 3), 1)
    for gamma in (0.0, 0.3, 1.0):
        expected = gamma * soft_cross_entropy(logits, gen) + (1 - gamma) * soft_cross_entropy(
            logits, mix
        )
        torch.testing.assert_close(genlabel_loss(logits, gen, mix, gamma), expected)
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\]"):
        genlabel_loss(logits, gen, mix, 1.5)


@pytest.mark.parametrize("lam_shape", [(), (7,)])
def test_convex_mix_in_place_gives_the_same_values_bit_for_bit(lam_shape) -> None:
    from genlabel.mixing import convex_mix

    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(7, 3, 5, generator=g), torch.randn(7, 3, 5, generator=g)
    lam = torch.rand(lam_shape, generator=g, dtype=torch.float64)
    want = convex_mix(a, b, lam)
    assert torch.equal(convex_mix(a.clone(), b.clone(), lam, in_place=True), want)
