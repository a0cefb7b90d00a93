"""Batch augmentation: the vectorised crop/flip against a per-image reference, seeds, resume."""

from __future__ import annotations

import pytest
import torch

from genlabel.data.augment import (
    DATASET_STATS,
    AugmentParams,
    BatchAugment,
    Normalize,
    default_augment,
)
from genlabel.data.images import load_images


def reference_crop_flip(x: torch.Tensor, padding: int, params: AugmentParams) -> torch.Tensor:
    """Slow and obvious: pad each image, slice its crop, mirror it if chosen."""
    h, w = x.shape[2:]
    out = []
    draws = zip(x, params.offsets.tolist(), params.flip.tolist(), strict=True)
    for image, (top, left), flip in draws:
        padded = torch.zeros(image.shape[0], h + 2 * padding, w + 2 * padding, dtype=x.dtype)
        padded[:, padding : padding + h, padding : padding + w] = image
        crop = padded[:, top : top + h, left : left + w]
        out.append(crop.flip(-1) if flip else crop)
    return torch.stack(out)


def assert_same_batch_shape(out: torch.Tensor, x: torch.Tensor) -> None:
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device


@pytest.mark.parametrize(("padding", "hflip"), [(4, False), (4, True), (0, True), (2, True)])
@pytest.mark.parametrize("shape", [(16, 3, 32, 32), (5, 1, 7, 9)])
def test_crop_and_flip_equal_the_per_image_reference(padding, hflip, shape) -> None:
    x = torch.rand(shape)
    augment = BatchAugment(crop_padding=padding, hflip=hflip, seed=0)
    params = augment.draw(shape[0])
    out = augment.apply(x, params)
    assert_same_batch_shape(out, x)
    torch.testing.assert_close(out, reference_crop_flip(x, padding, params), rtol=0, atol=0)
    assert bool((params.offsets >= 0).all()) and bool((params.offsets <= 2 * padding).all())


def test_flip_mirrors_exactly_the_chosen_images() -> None:
    x = torch.rand(64, 3, 8, 8)
    augment = BatchAugment(hflip=True, seed=1)
    params = augment.draw(64)
    out = augment.apply(x, params)
    assert 10 < int(params.flip.sum()) < 54  # about half
    assert torch.equal(out[params.flip], x[params.flip].flip(-1))
    assert torch.equal(out[~params.flip], x[~params.flip])


def test_crop_offsets_cover_the_range_and_the_middle_one_is_the_identity() -> None:
    augment = BatchAugment(crop_padding=2, seed=0)
    params = augment.draw(2000)
    assert set(params.offsets.flatten().tolist()) == {0, 1, 2, 3, 4}
    x = torch.rand(1, 1, 6, 6)
    centred = AugmentParams(offsets=torch.tensor([[2, 2]]), flip=torch.tensor([False]))
    assert torch.equal(augment.apply(x, centred), x)


def test_the_same_seed_gives_the_same_output_and_calls_advance_the_stream() -> None:
    x = torch.rand(8, 3, 32, 32)
    a = BatchAugment(crop_padding=4, hflip=True, seed=7)
    b = BatchAugment(crop_padding=4, hflip=True, generator=torch.Generator().manual_seed(7))
    first = a(x)
    assert torch.equal(first, b(x))
    assert not torch.equal(first, a(x))


def test_state_dict_round_trip_resumes_the_stream() -> None:
    x = torch.rand(8, 3, 16, 16)
    uninterrupted = BatchAugment(crop_padding=4, hflip=True, seed=3)
    uninterrupted(x)
    expected = [uninterrupted(x) for _ in range(3)]
    interrupted = BatchAugment(crop_padding=4, hflip=True, seed=3)
    interrupted(x)
    state = {k: v.clone() for k, v in interrupted.state_dict().items()}
    resumed = BatchAugment(crop_padding=4, hflip=True, seed=999)
    resumed.load_state_dict(state)
    for want in expected:
        assert torch.equal(resumed(x), want)


def test_normalisation_follows_the_crop() -> None:
    x = torch.rand(4, 3, 8, 8)
    mean, std = DATASET_STATS["cifar10"]
    augment = BatchAugment(crop_padding=1, hflip=True, mean=mean, std=std, seed=0)
    plain = BatchAugment(crop_padding=1, hflip=True, seed=0)
    want = Normalize(mean, std)(plain(x))
    torch.testing.assert_close(augment(x), want)


def test_normalize_is_a_module_with_buffers_outside_the_state_dict() -> None:
    layer = Normalize((0.5,), (0.25,))
    x = torch.rand(2, 3, 4, 4, dtype=torch.float64)
    out = layer(x)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, (x - 0.5) / 0.25)
    assert dict(layer.state_dict()) == {}
    assert "mean=[0.5]" in repr(layer)


def test_default_augment_per_data_set() -> None:
    settings = {
        name: (aug.crop_padding, aug.hflip, aug.stats)
        for name in DATASET_STATS
        for aug in [default_augment(name, seed=0)]
    }
    assert settings == {
        "digits": (0, False, None),
        "mnist": (2, False, None),
        "fashion_mnist": (2, False, None),
        "cifar10": (4, True, None),
        "cifar100": (4, True, None),
        "tiny_imagenet": (8, True, None),
    }
    x = torch.rand(3, 1, 8, 8)
    assert torch.equal(default_augment("digits", seed=0)(x), x)


def test_the_digits_statistics_are_those_of_the_training_split() -> None:
    x = load_images("digits").x.double() / 255
    mean, std = DATASET_STATS["digits"]
    assert abs(float(x.mean()) - mean[0]) < 1e-4 and abs(float(x.std()) - std[0]) < 1e-3


BAD = [
    (lambda: BatchAugment(crop_padding=-1), r"'crop_padding' parameter of BatchAugment .* Got -1"),
    (lambda: BatchAugment(mean=(0.5,)), "give both mean and std"),
    (lambda: BatchAugment(seed=0, generator=torch.Generator()), "a generator or a seed, not both"),
    (lambda: BatchAugment(generator=0), "must be a CPU torch.Generator"),
    (lambda: BatchAugment(seed=0)(torch.zeros(2, 8, 8)), r"shape \(n, c, h, w\); got \(2, 8, 8\)"),
    (lambda: BatchAugment(seed=0)(torch.zeros(2, 1, 4, 4, dtype=torch.uint8)), "floating-point"),
    (lambda: Normalize((0.1, 0.2), (0.3,)), "one value per channel, the same number; got 2 and 1"),
    (lambda: Normalize((0.1,), (0.0,)), "std must be > 0"),
    (lambda: Normalize((0.1,) * 3, (1,) * 3)(torch.zeros(1, 1, 2, 2)), "built for 3 channels"),
    (lambda: default_augment("svhn"), "no default augmentation for 'svhn'; expected one of"),
]


@pytest.mark.parametrize(("make", "message"), BAD)
def test_bad_inputs_are_reported(make, message) -> None:
    with pytest.raises(ValueError, match=message):
        make()
