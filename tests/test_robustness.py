from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from genlabel.robustness import autoattack, fgsm, pgd, robust_accuracy


def _linear(seed: int = 0) -> nn.Linear:
    torch.manual_seed(seed)
    lin = nn.Linear(3, 2).double()
    return lin


def _data(n: int = 400, d: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = torch.tensor(rng.normal(size=(n, d)))
    return X


def test_fgsm_is_exact_for_a_linear_two_class_model() -> None:
    model = _linear()
    X = _data()
    with torch.no_grad():
        logits = model(X)
    y = logits.argmax(1)  # every point correctly classified
    w = model.weight.detach()
    margin = (logits[torch.arange(len(y)), y] - logits[torch.arange(len(y)), 1 - y]).abs()
    for eps in (0.05, 0.2, 0.5):
        expected = float((margin > eps * (w[1] - w[0]).abs().sum()).double().mean())
        got = robust_accuracy(model, X, y, attack="fgsm", eps=eps, bounds=(-100.0, 100.0))
        assert got == pytest.approx(expected)


@pytest.mark.parametrize("attack", ["fgsm", "pgd"])
def test_adversarial_inputs_respect_eps_and_bounds_and_leave_the_model_alone(attack: str) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)).double()
    model.train()
    before = [p.detach().clone() for p in model.parameters()]
    X = torch.rand(50, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (50,))
    fn = fgsm if attack == "fgsm" else pgd
    adv = fn(model, X, y, eps=0.1, bounds=(0.0, 1.0))
    assert adv.shape == X.shape and bool(torch.isfinite(adv).all())
    assert float((adv - X).abs().max()) <= 0.1 + 1e-12
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0
    assert model.training, "the train/eval mode was not restored"
    for p, p0 in zip(model.parameters(), before, strict=True):
        assert torch.equal(p, p0) and p.grad is None
    model.eval()
    fn(model, X, y, eps=0.1, bounds=(0.0, 1.0))
    assert not model.training


def test_robust_accuracy_never_exceeds_clean_and_eps_zero_is_clean() -> None:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)).double()
    X = torch.randn(200, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (200,))
    with torch.no_grad():
        clean = float((model(X).argmax(1) == y).double().mean())
    assert robust_accuracy(model, X, y, eps=0.0, bounds=(-10, 10)) == pytest.approx(clean)
    for attack in ("fgsm", "pgd"):
        assert robust_accuracy(model, X, y, attack=attack, eps=0.3, bounds=(-10, 10)) <= clean


def test_pgd_is_at_least_as_strong_as_fgsm_on_an_mlp() -> None:
    from sklearn.datasets import make_classification

    X, y = make_classification(400, 6, n_informative=4, random_state=0)
    X, y = torch.tensor(X), torch.tensor(y)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 2)).double()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(200):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
    bounds = (float(X.min()), float(X.max()))
    gaps = []
    for eps in (0.1, 0.3, 0.5):
        f = robust_accuracy(model, X, y, attack="fgsm", eps=eps, bounds=bounds)
        p = robust_accuracy(model, X, y, attack="pgd", eps=eps, bounds=bounds, steps=20, restarts=2)
        gaps.append(f - p)
    assert np.mean(gaps) >= 0


def test_pgd_is_reproducible_with_a_generator() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2)).double()
    X, y = torch.randn(30, 3, dtype=torch.float64), torch.randint(0, 2, (30,))
    a = pgd(model, X, y, eps=0.2, bounds=(-5, 5), generator=torch.Generator().manual_seed(4))
    b = pgd(model, X, y, eps=0.2, bounds=(-5, 5), generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b)


BAD = [
    (dict(eps=-0.1, bounds=(0, 1)), "eps must be"),
    (dict(eps=0.1, bounds=(1, 0)), "low <= high"),
    (dict(eps=0.1, bounds=(0, 1), attack="cw"), "Unknown attack 'cw'"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD)
def test_bad_attack_arguments(kwargs: dict, message: str) -> None:
    model = _linear()
    with pytest.raises(ValueError, match=message):
        robust_accuracy(model, torch.zeros(3, 3), torch.zeros(3), **kwargs)


@pytest.mark.parametrize("n_classes", [3, pytest.param(5, marks=pytest.mark.slow)])
def test_autoattack_smoke(n_classes: int, caplog) -> None:
    pytest.importorskip("pyautoattack")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, n_classes)).double()
    X = torch.rand(12, 4, dtype=torch.float64)
    with torch.no_grad():
        y = model(X).argmax(1)
    adv, ran = autoattack(model, X, y, eps=0.05, bounds=(0.0, 1.0))
    assert adv.shape == X.shape and float((adv - X).abs().max()) <= 0.05 + 1e-9
    expected = (
        ["apgd-ce", "fab", "square"] if n_classes < 4 else ["apgd-ce", "apgd-t", "fab-t", "square"]
    )
    assert ran == expected
    # The robust accuracy is the share of points the returned adversarial inputs leave
    # correct (y is the clean prediction, so every point starts correct).
    with torch.no_grad():
        survived = float((model(adv).argmax(1) == y).double().mean())
    acc = robust_accuracy(model, X, y, attack="autoattack", eps=0.05, bounds=(0.0, 1.0))
    assert acc == pytest.approx(survived)
    strong = robust_accuracy(model, X, y, attack="autoattack", eps=0.5, bounds=(0.0, 1.0))
    assert strong < 1.0 and strong <= acc


def test_autoattack_on_images_keeps_their_shape_and_bounds() -> None:
    pytest.importorskip("pyautoattack")
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 3)
    ).double()
    X = torch.rand(6, 1, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        y = model(X).argmax(1)
    adv, ran = autoattack(model, X, y, eps=0.1, bounds=(0.0, 1.0))
    assert adv.shape == X.shape and ran == ["apgd-ce", "fab", "square"]
    assert float((adv - X).abs().max()) <= 0.1 + 1e-9
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0


def test_missing_extra_is_named(monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "pyautoattack":
            raise ImportError("no pyautoattack")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"'attacks' extra \(pyautoattack\)"):
        autoattack(
            _linear(),
            torch.zeros(2, 3, dtype=torch.float64),
            torch.zeros(2),
            eps=0.1,
            bounds=(0, 1),
        )


def test_per_feature_eps_and_bounds() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2)).double()
    X = torch.rand(40, 3, dtype=torch.float64) * torch.tensor([1.0, 10.0, 0.1], dtype=torch.float64)
    y = torch.randint(0, 2, (40,))
    low, high = X.min(0).values, X.max(0).values
    eps = 0.1 * (high - low)
    for fn in (fgsm, pgd):
        adv = fn(model, X, y, eps=eps, bounds=(low, high))
        assert bool(((adv - X).abs() <= eps + 1e-12).all())
        assert bool((adv >= low).all()) and bool((adv <= high).all())


class _Rounded(nn.Module):
    """A linear model of rounded 8x8 images: its input gradient is zero everywhere (masked)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(64, 3).double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(torch.round(x.flatten(1) * 4) / 4)


def test_square_alone_finds_what_gradient_attacks_miss_under_masked_gradients() -> None:
    """attack="square" runs AutoAttack's gradient-free Square attack alone: on a model whose
    input gradient is zero, FGSM leaves every point robust and Square does not (the check
    that tells masked gradients from real robustness). Failed before: no "square" attack."""
    pytest.importorskip("pyautoattack")
    model = _Rounded()
    X = torch.rand(60, 1, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        y = model(X).argmax(1)
    kw = dict(eps=0.1, bounds=(0.0, 1.0))
    assert robust_accuracy(model, X, y, attack="fgsm", **kw) == 1.0
    square = robust_accuracy(model, X, y, attack="square", **kw)
    assert square < 0.2
    adv, ran = autoattack(model, X, y, attacks=["square"], **kw)
    assert ran == ["square"]
    assert float((adv - X).abs().max()) <= 0.1 + 1e-9
    with torch.no_grad():
        assert float((model(adv).argmax(1) == y).double().mean()) == pytest.approx(square)


@pytest.mark.parametrize(
    ("attacks", "n_classes", "message"),
    [(["cw"], 3, "attacks must be one or more of"), ([], 3, "attacks must be"),
     (["apgd-t"], 3, "apgd-t needs at least 4 classes")],
)  # fmt: skip
def test_autoattack_attack_sets_are_checked(attacks, n_classes: int, message: str) -> None:
    pytest.importorskip("pyautoattack")
    model = nn.Sequential(nn.Linear(4, n_classes)).double()
    X = torch.rand(5, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match=message):
        autoattack(model, X, torch.zeros(5), eps=0.1, bounds=(0, 1), attacks=attacks)


def test_autoattack_runs_on_the_inputs_device(monkeypatch) -> None:
    """pyautoattack makes its noise on device="cpu" unless told: CUDA inputs failed.
    Before, the device was never passed (this records what AutoAttack is given)."""
    pyautoattack = pytest.importorskip("pyautoattack")
    seen: list = []

    class Recording(pyautoattack.AutoAttack):
        def __init__(self, *args, **kwargs):
            seen.append(kwargs.get("device"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(pyautoattack, "AutoAttack", Recording)
    model = nn.Sequential(nn.Linear(4, 3)).double()
    X = torch.rand(5, 4, dtype=torch.float64)
    autoattack(model, X, torch.zeros(5), eps=0.05, bounds=(0, 1), attacks=["square"])
    autoattack(model, X, torch.zeros(5), eps=0.05, bounds=(0, 1))
    assert seen == [X.device, X.device]


def test_pgd_on_the_margin_loss_is_exact_where_a_saturated_softmax_masks_the_gradient() -> None:
    """A float32 linear model with logits scaled by 1e4: its softmax is exactly one-hot, so
    the cross-entropy gradient is 0 and PGD stays put; loss="margin" reaches the closed
    form (robust iff margin > eps * ||w1 - w0||_1). Failed before: pgd had no loss option."""
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.mul_(1e4)
        model.bias.mul_(1e4)
    X = torch.rand(400, 3)
    with torch.no_grad():
        logits = model(X)
    y = logits.argmax(1)
    w = model.weight.detach().double()
    margin = (logits[:, 0] - logits[:, 1]).abs().double()
    eps = 0.05
    exact = float((margin > eps * (w[1] - w[0]).abs().sum()).double().mean())
    kw = dict(attack="pgd", eps=eps, bounds=(-10.0, 10.0))
    assert robust_accuracy(model, X, y, loss="margin", **kw) == pytest.approx(exact, abs=0.005)
    assert robust_accuracy(model, X, y, **kw) > exact + 0.05  # cross-entropy: masked
    # Every restart keeps the chosen loss (a later restart once switched to the margin).
    assert robust_accuracy(model, X, y, restarts=2, **kw) > exact + 0.05
    with pytest.raises(ValueError, match="loss must be 'ce' or 'margin'"):
        pgd(model, X, y, eps=eps, bounds=(-10.0, 10.0), loss="cw")


@pytest.mark.parametrize("attack", ["fgsm", "pgd", "square"])
def test_a_batch_norm_model_is_attacked_in_eval_mode_and_left_as_it_was(attack: str) -> None:
    """A model given in train mode: the attack sees eval-mode logits (eps 0 gives the
    eval-mode accuracy) and the batch-norm running statistics do not move."""
    if attack == "square":
        pytest.importorskip("pyautoattack")
    from genlabel.models import SmallCNN

    model = SmallCNN(1, 3, 8, width=4, batch_norm=True, normalize=((0.5,), (0.25,)), seed=0)
    X = torch.rand(24, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    model.train()
    model(X * 3)  # running statistics far from this batch's: train-mode predictions agree
    # with eval-mode ones on under half of these points, so eps 0 would not give 0.5
    model.eval()
    with torch.no_grad():
        pred = model(X).argmax(1)
    y = torch.where(torch.arange(24) % 2 == 0, pred, (pred + 1) % 3)  # half correct
    model.train()
    stats = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    kw = dict(attack=attack, bounds=(0.0, 1.0))
    assert robust_accuracy(model, X, y, eps=0.0, **kw) == pytest.approx(0.5)
    assert robust_accuracy(model, X, y, eps=0.05, **kw) <= 0.5
    assert model.training
    for k, v in model.state_dict().items():
        if "running" in k:
            torch.testing.assert_close(v, stats[k], rtol=0, atol=0)
