"""Image models: shapes, the features/head split, seeded initialisation, a learning check."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genlabel.data.augment import DATASET_STATS, Normalize
from genlabel.models import (
    PreActResNet18,
    SmallCNN,
    build_model,
    init_weights,
    split_model,
)


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize(
    ("in_channels", "size", "batch_norm"), [(1, 28, False), (1, 8, False), (3, 32, True)]
)
def test_small_cnn_shapes_and_split(in_channels, size, batch_norm) -> None:
    model = SmallCNN(in_channels, 10, size, batch_norm=batch_norm, seed=0).eval()
    x = torch.rand(5, in_channels, size, size)
    features = model.features(x)
    assert features.shape == (5, model.feature_dim) == (5, 128)
    assert model(x).shape == (5, 10)
    assert torch.equal(model(x), model.head(model.features(x)))
    names = dict(model.named_modules())
    assert {"features.block1", "features.block2", "features.fc"} <= names.keys()
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == batch_norm


def test_preact_resnet18_shapes_split_and_parameter_count() -> None:
    model = PreActResNet18(10, seed=0).eval()
    x = torch.rand(2, 3, 32, 32)
    assert model.features(x).shape == (2, model.feature_dim) == (2, 512)
    assert torch.equal(model(x), model.head(model.features(x)))
    assert model(torch.rand(1, 3, 64, 64)).shape == (1, 10)  # Tiny ImageNet's size
    names = dict(model.named_modules())
    assert {f"features.layer{i}" for i in range(1, 5)} <= names.keys()
    # Counted from the architecture: no convolution has a bias; a BatchNorm has 2 per channel.
    convs = 9 * (3 * 64 + 4 * 64 * 64)  # stem, layer1
    for c_in, c in ((64, 128), (128, 256), (256, 512)):
        convs += 9 * (c_in * c + 3 * c * c) + c_in * c  # 3x3 convs and the 1x1 shortcut
    widths = ((64, 64), (64, 128), (128, 256), (256, 512))
    block_bns = 2 * sum(c_in + 3 * c for c_in, c in widths)  # bn1, bn2 of two blocks
    head = 512 * 10 + 10
    assert n_parameters(model) == convs + block_bns + 2 * 512 + head == 11_172_170
    # Without the final BN-ReLU it is the widely quoted 11,171,146.
    assert n_parameters(PreActResNet18(10, final_bn=False, seed=0)) == 11_171_146


def test_normalisation_is_the_first_layer_of_features() -> None:
    mean, std = DATASET_STATS["cifar10"]
    plain = PreActResNet18(10, seed=3).eval()
    normalised = PreActResNet18(10, normalize=(mean, std), seed=3).eval()
    assert isinstance(normalised.features.normalize, Normalize)
    assert same_weights(plain, normalised)  # the statistics are not in the state_dict
    x = torch.rand(2, 3, 16, 16)
    torch.testing.assert_close(normalised(x), plain(Normalize(mean, std)(x)))
    cnn = SmallCNN(1, 10, 28, normalize=Normalize(*DATASET_STATS["mnist"]), seed=0)
    assert isinstance(cnn.features[0], Normalize)


def test_the_same_seed_gives_the_same_weights_and_leaves_global_state_alone() -> None:
    state = torch.get_rng_state()
    a, b = SmallCNN(1, 10, 28, seed=1), SmallCNN(1, 10, 28, seed=1)
    c = SmallCNN(1, 10, 28, generator=torch.Generator().manual_seed(1))
    assert same_weights(a, b) and same_weights(a, c)
    assert not same_weights(a, SmallCNN(1, 10, 28, seed=2))
    assert torch.equal(torch.get_rng_state(), state)
    r1, r2 = (
        build_model("preact_resnet18", num_classes=10, in_channels=3, image_size=32, seed=4),
        (PreActResNet18(10, seed=4)),
    )
    assert same_weights(r1, r2)


def test_init_weights_draws_what_torch_defaults_draw() -> None:
    # A model built after torch.manual_seed(s) equals one re-drawn from a generator seeded
    # s: the same distributions, drawn in the same order.
    torch.manual_seed(11)
    reference = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 1, bias=False), nn.Linear(5, 3)
    )
    redrawn = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 1, bias=False), nn.Linear(5, 3)
    )
    init_weights(redrawn, torch.Generator().manual_seed(11))
    assert same_weights(reference, redrawn)


def test_init_weights_refuses_modules_it_does_not_know() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Embedding(3, 2))
    with pytest.raises(
        ValueError, match=r"cannot re-draw the parameters of module '1' \(Embedding\)"
    ):
        init_weights(model, torch.Generator().manual_seed(0))


def patch_images(n: int, channels: int, size: int, gen: torch.Generator) -> tuple:
    """Faint noise with a bright 3x3 patch whose position on the diagonal is the class (3)."""
    y = torch.randint(0, 3, (n,), generator=gen)
    x = torch.rand(n, channels, size, size, generator=gen) * 0.3
    for i, label in enumerate(y.tolist()):
        at = label * (size // 3)
        x[i, :, at : at + 3, at : at + 3] += 0.7
    return x, y


@pytest.mark.parametrize(
    ("make", "channels", "size", "steps"),
    [(lambda: SmallCNN(1, 3, 8, seed=0), 1, 8, 20), (lambda: PreActResNet18(3, seed=0), 3, 12, 3)],
    ids=["cnn", "preact_resnet18"],
)
def test_a_few_sgd_steps_reduce_the_loss(make, channels, size, steps) -> None:
    model = make()
    x, y = patch_images(48, channels, size, torch.Generator().manual_seed(0))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_split_model_by_attributes_and_by_name() -> None:
    model = SmallCNN(1, 10, 8, seed=0).eval()
    x = torch.rand(4, 1, 8, 8)
    features, head = split_model(model)
    assert features is model.features and head is model.head
    features, head = split_model(model, "features.block2")
    assert features(x).shape == (4, 64, 2, 2)
    assert torch.equal(head(features(x)), model(x))
    sequential = nn.Sequential(
        nn.Flatten(), nn.Sequential(nn.Linear(64, 8), nn.ReLU()), nn.Linear(8, 3)
    )
    features, head = split_model(sequential, "1.0")
    assert features(x).shape == (4, 8)
    assert torch.equal(head(features(x)), sequential(x))


class _Plain(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body, self.out = nn.Linear(4, 4), nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x).relu())


@pytest.mark.parametrize(
    ("model", "name", "message"),
    [
        (
            _Plain(),
            None,
            r"_Plain has no `features` and `head` submodules; pass feature_module=.* body, out",
        ),
        (_Plain(), "body.weight", r"no module named 'body.weight'; its modules are body, out"),
        (_Plain(), "body", r"cannot split the model at 'body': _Plain is not an nn.Sequential"),
    ],
)
def test_split_model_errors(model, name, message) -> None:
    with pytest.raises(ValueError, match=message):
        split_model(model, name)


BAD = [
    (
        lambda: SmallCNN(1, 10, 3),
        r"'image_size' parameter of SmallCNN must be an int >= 4 .* Got 3",
    ),
    (lambda: SmallCNN(0, 10, 28), r"'in_channels' parameter of SmallCNN must be an int >= 1"),
    (
        lambda: SmallCNN(1, 10, 28, normalize=0.5),
        r"'normalize' parameter must be None, a Normalize",
    ),
    (lambda: SmallCNN(1, 10, 28, seed=0, generator=torch.Generator()), "a generator or a seed"),
    (lambda: PreActResNet18(10, generator=1), "generator must be a torch.Generator"),
    (
        lambda: build_model("vgg", num_classes=10, in_channels=3, image_size=32),
        "unknown image model 'vgg'; expected one of cnn, preact_resnet18",
    ),
]


@pytest.mark.parametrize(("make", "message"), BAD)
def test_bad_arguments_are_reported(make, message) -> None:
    with pytest.raises(ValueError, match=message):
        make()
