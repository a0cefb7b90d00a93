"""Manifold mixup through hooks: against hand-written two-part forwards; hooks never linger."""

from __future__ import annotations

import subprocess
import sys
from collections import OrderedDict

import pytest
import torch
from torch import nn

from genlabel.mixing import Captured, ManifoldMixup, MixParams, apply_mix, capture_output
from genlabel.models import SmallCNN


def small_sequential() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        OrderedDict(
            first=nn.Linear(5, 8),
            act=nn.Tanh(),
            second=nn.Linear(8, 6),
            out=nn.Linear(6, 3),
        )
    )


def params_for(
    n: int, seed: int = 0, lam: float | None = None, layer: str | None = None
) -> MixParams:
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=gen)
    value = (
        torch.rand(n, generator=gen, dtype=torch.float64)
        if lam is None
        else torch.full((n,), lam, dtype=torch.float64)
    )
    return MixParams(lam=value, perm=perm, layer=layer)


def all_hooks(model: nn.Module) -> list:
    return [h for m in model.modules() for h in m._forward_hooks.values()]


def test_lam_one_gives_the_model_output_exactly() -> None:
    model = SmallCNN(1, 10, 8, seed=0).eval()
    x = torch.rand(6, 1, 8, 8)
    layers = ["input", "features.block1", "features.block2", "features.fc"]
    mm = ManifoldMixup(model, layers)
    for layer in layers:
        assert torch.equal(mm(x, params_for(6, lam=1.0, layer=layer)), model(x)), layer


def test_mixing_at_the_input_is_mixup_of_the_inputs() -> None:
    model = small_sequential()
    x = torch.randn(7, 5)
    params = params_for(7, layer="input")
    out = ManifoldMixup(model, ["input"])(x, params)
    assert torch.equal(out, model(apply_mix(x, params)))
    # params.layer=None is plain input mixup too
    none = MixParams(lam=params.lam, perm=params.perm)
    assert torch.equal(ManifoldMixup(model, ["input"])(x, none), out)


def test_mixing_at_a_hidden_layer_equals_a_two_part_forward() -> None:
    model = small_sequential()
    x = torch.randn(7, 5)
    params = params_for(7, layer="act")
    out = ManifoldMixup(model, ["input", "act"])(x, params)
    # By hand: the part up to the layer, the mix written out, the rest.
    h = torch.tanh(model.first(x))
    lam = params.lam.float()[:, None]
    h = lam * h + (1 - lam) * h[params.perm]
    torch.testing.assert_close(out, model.out(model.second(h)), rtol=0, atol=1e-6)


def test_gradients_flow_through_the_mix() -> None:
    model = small_sequential()
    x = torch.randn(7, 5)
    ManifoldMixup(model, ["second"])(x, params_for(7, layer="second")).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_hooks_are_removed_after_success_and_after_an_exception() -> None:
    model = SmallCNN(1, 10, 8, seed=0)
    mm = ManifoldMixup(model, ["features.block2"])
    mm(torch.rand(4, 1, 8, 8), params_for(4, layer="features.block2"), capture="features")
    assert all_hooks(model) == []
    with pytest.raises(RuntimeError):  # a forward that fails (two channels, not one)
        mm(torch.rand(4, 2, 8, 8), params_for(4, layer="features.block2"), capture="features.fc")
    assert all_hooks(model) == []
    with pytest.raises(ValueError, match="Expected a tensor with 3 rows to mix"):
        mm(torch.rand(4, 1, 8, 8), params_for(3, layer="features.block2"))
    assert all_hooks(model) == []


def test_capture_returns_the_features_of_the_mixed_pass() -> None:
    model = SmallCNN(1, 10, 8, seed=0).eval()
    x = torch.rand(6, 1, 8, 8)
    params = params_for(6, layer="features.block1")
    logits, z = ManifoldMixup(model, ["features.block1"])(x, params, capture="features")
    # The same pass by hand: block1's output mixed, then the rest of features, then head.
    f = model.features
    h = apply_mix(f.block1(f.normalize(x)), params)
    want = f.fc(f.flatten(f.block2(h)))
    torch.testing.assert_close(z, want, rtol=0, atol=1e-6)
    torch.testing.assert_close(logits, model.head(want), rtol=0, atol=1e-6)
    # Capturing the mixing layer itself gives its mixed output.
    _, mixed = ManifoldMixup(model, ["features.block1"])(x, params, capture="features.block1")
    torch.testing.assert_close(mixed, h, rtol=0, atol=0)


def test_capture_output_records_and_removes_its_hook() -> None:
    model = SmallCNN(1, 10, 8, seed=0).eval()
    x = torch.rand(3, 1, 8, 8)
    with capture_output(model, "features") as captured:
        assert isinstance(captured, Captured)
        with pytest.raises(RuntimeError, match="'features' has not run"):
            captured.output  # noqa: B018 - the property raises
        logits = model(x)
    assert captured.calls == 1 and torch.equal(captured.output, model.features(x))
    assert torch.equal(logits, model.head(captured.output))
    assert all_hooks(model) == []


def test_draw_picks_the_layer_among_the_given_ones() -> None:
    mm = ManifoldMixup(small_sequential(), ["input", "first", "second"])
    drawn = {
        mm.draw(4, alpha=1.0, generator=torch.Generator().manual_seed(s)).layer for s in range(40)
    }
    assert drawn == {"input", "first", "second"}
    from genlabel.mixing import draw_mix_params

    a = mm.draw(5, alpha=0.4, generator=torch.Generator().manual_seed(1), per_sample=True)
    b = draw_mix_params(
        5, alpha=0.4, generator=torch.Generator().manual_seed(1), per_sample=True, layers=mm.layers
    )
    assert a.layer == b.layer and torch.equal(a.lam, b.lam) and torch.equal(a.perm, b.perm)


class _Shared(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(self.block(x))


BAD = [
    (
        lambda: ManifoldMixup(small_sequential(), ["first", "fc9"]),
        r"unknown layers \['fc9'\]; valid names are 'input' and the model's modules 'first', 'act', 'second', 'out'",
    ),
    (lambda: ManifoldMixup(small_sequential(), []), "at least one layer"),
    (
        lambda: ManifoldMixup(small_sequential(), ["first"])(
            torch.randn(3, 5), params_for(3, layer="second")
        ),
        r"params.layer must be one of this ManifoldMixup's layers \['first'\]; got 'second'",
    ),
    (
        lambda: ManifoldMixup(small_sequential(), ["first"])(
            torch.randn(3, 5), params_for(3, layer="first"), capture="nope"
        ),
        "capture_output: the model has no module named 'nope'",
    ),
    (
        lambda: ManifoldMixup(_Shared(), ["block"])(
            torch.randn(3, 4), params_for(3, layer="block")
        ),
        "'block' ran more than once in one forward pass",
    ),
    (lambda: capture_output(small_sequential(), "").__enter__(), "no module named ''"),
]


@pytest.mark.parametrize(("make", "message"), BAD)
def test_bad_inputs_are_reported(make, message) -> None:
    with pytest.raises(ValueError, match=message):
        make()


_DDP_SCRIPT = """
import sys
import torch
import torch.distributed as dist
from torch import nn
from genlabel.mixing import ManifoldMixup, MixParams
from genlabel.models import SmallCNN

dist.init_process_group("gloo", init_method="file://" + sys.argv[1], rank=0, world_size=1)
model = SmallCNN(1, 10, 8, seed=0)
wrapped = nn.parallel.DistributedDataParallel(model)
x = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0))
params = MixParams(torch.tensor(0.3, dtype=torch.float64), torch.tensor([5, 4, 3, 2, 1, 0]),
                   layer="features.block2")
logits, z = ManifoldMixup(wrapped, ["features.block2"])(x, params, capture="features")
# The same pass without the wrapper (one process: DDP only adds gradient syncing).
want_logits, want_z = ManifoldMixup(model, ["features.block2"])(x, params, capture="features")
assert torch.equal(logits, want_logits) and torch.equal(z, want_z)
logits.sum().backward()
assert model.head.weight.grad is not None
hooks = [h for m in model.modules() for h in (*m._forward_hooks, *m._forward_pre_hooks)]
assert hooks == [], hooks
print("ok")
"""


def test_hooks_go_through_a_distributed_data_parallel_wrapper(tmp_path) -> None:
    # In a child process with a timeout: a process group's teardown must not be able to
    # hang the test session.
    result = subprocess.run(
        [sys.executable, "-c", _DDP_SCRIPT, str(tmp_path / "store")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-2000:]
