"""Image data sets: format-faithful files written here round-trip; the real MNIST files load."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genlabel.data.images import IMAGE_DATASETS, ImageSet, load_images, parse_idx
from genlabel.data.paths import DataError

RNG = np.random.default_rng(0)


# -- writers of the published formats (independent of the reader) ----------------------------
def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    magic = (0x0800 | array.ndim) if magic is None else magic
    dims = struct.pack(f">{array.ndim}I", *array.shape)
    return struct.pack(">I", magic) + dims + array.astype(np.uint8).tobytes()


def write_idx_folder(folder: Path, n: dict[str, int], *, gz: bool) -> dict[str, np.ndarray]:
    folder.mkdir(parents=True)
    arrays = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = RNG.integers(0, 256, (n[split], 28, 28), dtype=np.uint8)
        labels = RNG.integers(0, 10, n[split], dtype=np.uint8)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            data = idx_bytes(array)
            name = f"{prefix}-{kind}-ubyte"
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)
        arrays[split] = (images, labels)
    return arrays


def cifar_records(labels: list[np.ndarray], pixels: np.ndarray) -> bytes:
    rows = np.concatenate([*(lab[:, None] for lab in labels), pixels.reshape(len(pixels), -1)], 1)
    return rows.astype(np.uint8).tobytes()


def write_cifar10(root: Path, per_batch: int = 3) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    out: dict[str, list] = {"train": [], "test": []}
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    for name in names:
        pixels = RNG.integers(0, 256, (per_batch, 3, 32, 32), dtype=np.uint8)
        labels = RNG.integers(0, 10, per_batch, dtype=np.uint8)
        (folder / name).write_bytes(cifar_records([labels], pixels))
        out["test" if name.startswith("test") else "train"].append((pixels, labels))
    return {
        s: (np.concatenate([p for p, _ in v]), np.concatenate([lab for _, lab in v]))
        for s, v in out.items()
    }


def smooth_image(size: int, seed: int) -> np.ndarray:
    """A smooth RGB image (h, w, 3): JPEG at quality 100 keeps it within a few grey levels."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    phase = np.random.default_rng(seed).uniform(0, 2 * np.pi, 3)
    channels = [127.5 + 100 * np.sin(2 * np.pi * (xx + yy) + p) for p in phase]
    return np.stack(channels, -1).round().astype(np.uint8)


def write_tiny_imagenet(root: Path) -> dict[str, list[tuple[Path, str, np.ndarray]]]:
    folder = root / "tiny-imagenet-200"
    wnids = ["n03", "n01", "n02"]  # unsorted on purpose: labels follow the sorted ids
    (folder / "val" / "images").mkdir(parents=True)
    (folder / "wnids.txt").write_text("\n".join(wnids) + "\n")
    written: dict[str, list] = {"train": [], "test": []}
    seed = 0
    for wnid in wnids:
        images = folder / "train" / wnid / "images"
        images.mkdir(parents=True)
        for i in range(2):
            seed += 1
            written["train"].append((images / f"{wnid}_{i}.JPEG", wnid, smooth_image(64, seed)))
    lines = []
    for i, wnid in enumerate(["n02", "n03", "n01"]):
        seed += 1
        path = folder / "val" / "images" / f"val_{i}.JPEG"
        written["test"].append((path, wnid, smooth_image(64, seed)))
        lines.append(f"val_{i}.JPEG\t{wnid}\t0\t0\t63\t63")
    (folder / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    for entries in written.values():
        for path, _, pixels in entries:
            Image.fromarray(pixels).save(path, format="JPEG", quality=100, subsampling=0)
    return written


def assert_image_set(data: ImageSet, n: int, shape: tuple[int, int, int], k: int) -> None:
    assert isinstance(data, ImageSet)
    assert data.x.dtype == torch.uint8 and tuple(data.x.shape) == (n, *shape)
    assert data.x.is_contiguous()
    assert data.y.dtype == torch.int64 and tuple(data.y.shape) == (n,)
    assert len(data.classes) == k and all(isinstance(c, str) for c in data.classes)
    assert int(data.y.min()) >= 0 and int(data.y.max()) < k


# -- round trips ------------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "raw"])
def test_idx_files_round_trip_bit_exactly(tmp_path, gz) -> None:
    arrays = write_idx_folder(tmp_path / "mnist", {"train": 7, "test": 4}, gz=gz)
    for split in ("train", "test"):
        data = load_images("mnist", root=tmp_path, split=split)
        images, labels = arrays[split]
        assert_image_set(data, len(labels), (1, 28, 28), 10)
        assert torch.equal(data.x[:, 0], torch.from_numpy(images))
        assert torch.equal(data.y, torch.from_numpy(labels.astype(np.int64)))
        assert data.name == "mnist" and data.split == split


def test_cifar10_binary_round_trips_with_and_without_its_class_names(tmp_path) -> None:
    arrays = write_cifar10(tmp_path)
    for split in ("train", "test"):
        data = load_images("cifar10", root=tmp_path, split=split)
        assert_image_set(data, 15 if split == "train" else 3, (3, 32, 32), 10)
        assert torch.equal(data.x, torch.from_numpy(arrays[split][0]))
        assert torch.equal(data.y, torch.from_numpy(arrays[split][1].astype(np.int64)))
    assert data.classes[0] == "airplane" and data.classes[9] == "truck"
    names = [f"class{i}" for i in range(10)]
    (tmp_path / "cifar-10-batches-bin" / "batches.meta.txt").write_text("\n".join(names) + "\n\n")
    assert load_images("cifar10", root=tmp_path).classes == tuple(names)


def test_cifar100_binary_uses_the_fine_labels(tmp_path) -> None:
    folder = tmp_path / "cifar-100-binary"
    folder.mkdir()
    written = {}
    for split, n in (("train", 5), ("test", 2)):
        pixels = RNG.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        coarse, fine = RNG.integers(0, 20, n), RNG.integers(0, 100, n)
        (folder / f"{split}.bin").write_bytes(cifar_records([coarse, fine], pixels))
        written[split] = (pixels, fine)
    for split, (pixels, fine) in written.items():
        data = load_images("cifar100", root=tmp_path, split=split)
        assert_image_set(data, len(fine), (3, 32, 32), 100)
        assert torch.equal(data.x, torch.from_numpy(pixels))
        assert torch.equal(data.y, torch.from_numpy(fine.astype(np.int64)))
    assert data.classes[:3] == ("0", "1", "2")
    names = [f"fine_{i}" for i in range(100)]
    (folder / "fine_label_names.txt").write_text("\n".join(names))
    assert load_images("cifar100", root=tmp_path).classes == tuple(names)


def test_tiny_imagenet_reads_its_jpeg_folders(tmp_path) -> None:
    # JPEG is lossy, so a bit-exact comparison is against what Pillow itself decodes from
    # each file; against the pixels written we allow JPEG's error (quality 100, no chroma
    # subsampling, smooth images: a few grey levels at most).
    written = write_tiny_imagenet(tmp_path)
    classes = ("n01", "n02", "n03")
    for split, entries in written.items():
        data = load_images("tiny_imagenet", root=tmp_path, split=split)
        assert_image_set(data, len(entries), (3, 64, 64), 3)
        assert data.classes == classes
        decoded = [
            np.array(Image.open(p).convert("RGB")).transpose(2, 0, 1).copy() for p, _, _ in entries
        ]
        order = (
            np.argsort([str(p) for p, _, _ in entries]) if split == "train" else range(len(entries))
        )
        for row, i in enumerate(order):
            path, wnid, pixels = entries[i]
            assert torch.equal(data.x[row], torch.from_numpy(decoded[i]))
            error = (data.x[row].int() - torch.from_numpy(pixels.transpose(2, 0, 1)).int()).abs()
            assert int(error.max()) <= 4, path
            assert data.y[row] == classes.index(wnid)


def test_tiny_imagenet_converts_grey_images_to_rgb(tmp_path) -> None:
    written = write_tiny_imagenet(tmp_path)
    path = written["test"][0][0]
    Image.fromarray(smooth_image(64, 99)[..., 0]).save(path, format="JPEG", quality=100)
    x = load_images("tiny_imagenet", root=tmp_path, split="test").x[0]
    assert torch.equal(x[0], x[1]) and torch.equal(x[1], x[2])


def test_digits_are_the_embedded_8x8_images_split_70_30() -> None:
    train, test = load_images("digits"), load_images("digits", split="test")
    assert_image_set(train, 1257, (1, 8, 8), 10)
    assert_image_set(test, 540, (1, 8, 8), 10)
    assert int(train.x.max()) == 255 and int(train.x.min()) == 0
    # Every class is in both parts (the split is stratified) and a reload is identical.
    assert torch.bincount(test.y, minlength=10).min() >= 50
    assert torch.equal(load_images("digits").x, train.x)


# -- the real files ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_the_real_mnist_files_load(shared_data, name) -> None:
    root = shared_data / "images"
    if not (root / name).is_dir():
        pytest.skip(f"{root / name} is absent")
    train, test = load_images(name, root=root), load_images(name, root=root, split="test")
    assert_image_set(train, 60000, (1, 28, 28), 10)
    assert_image_set(test, 10000, (1, 28, 28), 10)
    counts = torch.bincount(train.y, minlength=10)
    assert int(counts.sum()) == 60000 and bool((counts > 0).all())
    if name == "mnist":
        assert int(counts[1]) == 6742  # the well-known count of ones in MNIST's training set
        assert train.y[:5].tolist() == [5, 0, 4, 1, 9]
    else:
        assert counts.tolist() == [6000] * 10 and train.classes[9] == "Ankle boot"


# -- bad inputs -------------------------------------------------------------------------------
def _truncated_idx(root: Path) -> None:
    write_idx_folder(root / "mnist", {"train": 3, "test": 2}, gz=False)
    path = root / "mnist" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-5])


def _truncated_gzip(root: Path) -> None:
    write_idx_folder(root / "mnist", {"train": 3, "test": 2}, gz=True)
    path = root / "mnist" / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-10])


def _wrong_magic(root: Path) -> None:
    write_idx_folder(root / "mnist", {"train": 3, "test": 2}, gz=False)
    path = root / "mnist" / "train-labels-idx1-ubyte"
    path.write_bytes(idx_bytes(RNG.integers(0, 10, 3), magic=0x0803))


def _wrong_record_size(root: Path) -> None:
    write_cifar10(root)
    path = root / "cifar-10-batches-bin" / "data_batch_3.bin"
    path.write_bytes(path.read_bytes() + b"\x00")


def _missing_file(root: Path) -> None:
    write_idx_folder(root / "mnist", {"train": 3, "test": 2}, gz=True)
    (root / "mnist" / "train-labels-idx1-ubyte.gz").unlink()


def _label_out_of_range(root: Path) -> None:
    write_cifar10(root)
    path = root / "cifar-10-batches-bin" / "test_batch.bin"
    path.write_bytes(b"\x0a" + path.read_bytes()[1:])


def _class_without_images(root: Path) -> None:
    write_tiny_imagenet(root)
    for path in (root / "tiny-imagenet-200" / "train" / "n02" / "images").iterdir():
        path.unlink()


def _unknown_wnid(root: Path) -> None:
    write_tiny_imagenet(root)
    path = root / "tiny-imagenet-200" / "val" / "val_annotations.txt"
    path.write_text(path.read_text().replace("n03", "n99"))


BAD_INPUTS = [
    (
        "truncated IDX",
        _truncated_idx,
        "mnist",
        "train",
        r"train-images-idx3-ubyte: the IDX header gives shape \(3, 28, 28\), i\.e\. 2368 bytes; "
        r"the file has 2363",
    ),
    (
        "truncated gzip",
        _truncated_gzip,
        "mnist",
        "train",
        r"train-labels-idx1-ubyte\.gz is not a complete gzip file",
    ),
    (
        "wrong magic",
        _wrong_magic,
        "mnist",
        "train",
        r"train-labels-idx1-ubyte: expected the IDX magic number 0x00000801; got 0x00000803",
    ),
    (
        "wrong record size",
        _wrong_record_size,
        "cifar10",
        "train",
        r"data_batch_3\.bin: expected records of 3073 bytes .* the file has 9220 bytes",
    ),
    (
        "missing folder",
        lambda root: None,
        "cifar100",
        "train",
        r"cifar-100-binary: the CIFAR-100 binary files not found: looked in .*cifar-100-binary "
        r"and in .*; pass --data-dir",
    ),
    ("missing file", _missing_file, "mnist", "train", r"train-labels-idx1-ubyte\[\.gz\] not found"),
    (
        "unknown name",
        lambda root: None,
        "svhn",
        "train",
        r"unknown image data set 'svhn'; expected one of digits, mnist, fashion_mnist",
    ),
    (
        "split val",
        lambda root: None,
        "mnist",
        "val",
        r"The 'split' parameter of load_images must be 'train' or 'test'\. Got 'val' instead",
    ),
    (
        "label out of range",
        _label_out_of_range,
        "cifar10",
        "test",
        r"test_batch\.bin: expected labels in \[0, 10\); got a label 10",
    ),
    (
        "class without images",
        _class_without_images,
        "tiny_imagenet",
        "train",
        r"train/n02/images: expected the \*\.JPEG training images of class n02",
    ),
    (
        "unknown wnid",
        _unknown_wnid,
        "tiny_imagenet",
        "test",
        r"val_annotations\.txt, line 2: expected '<file>\\t<wnid>\\t\.\.\.' with a wnid",
    ),
]


@pytest.mark.parametrize(
    ("make", "name", "split", "message"),
    [c[1:] for c in BAD_INPUTS],
    ids=[c[0] for c in BAD_INPUTS],
)
def test_bad_inputs_are_reported(tmp_path, make, name, split, message) -> None:
    make(tmp_path)
    with pytest.raises(ValueError, match=message):
        load_images(name, root=tmp_path, split=split)


def test_data_problems_are_data_errors(tmp_path) -> None:
    with pytest.raises(DataError):
        load_images("tiny_imagenet", root=tmp_path)
    with pytest.raises(DataError, match="expected an IDX header of 16 bytes; the file has 3"):
        parse_idx(b"\x00\x00\x08", magic=0x0803)


def test_every_listed_name_is_known() -> None:
    assert IMAGE_DATASETS == (
        "digits",
        "mnist",
        "fashion_mnist",
        "cifar10",
        "cifar100",
        "tiny_imagenet",
    )


@pytest.mark.parametrize("gz", [True, False])
def test_root_may_be_the_folder_holding_the_files(tmp_path, gz) -> None:
    """--data-dir .../images/mnist (the folder of the IDX files) failed: it wanted the parent."""
    arrays = write_idx_folder(tmp_path / "mnist", {"train": 7, "test": 4}, gz=gz)
    data = load_images("mnist", root=tmp_path / "mnist", split="test")
    assert torch.equal(data.x[:, 0], torch.from_numpy(arrays["test"][0]))
    write_cifar10(tmp_path)
    from_files = load_images("cifar10", root=tmp_path / "cifar-10-batches-bin", split="test")
    assert torch.equal(from_files.x, load_images("cifar10", root=tmp_path, split="test").x)
    write_tiny_imagenet(tmp_path / "t")
    tiny = load_images("tiny_imagenet", root=tmp_path / "t" / "tiny-imagenet-200", split="test")
    assert tiny.classes == ("n01", "n02", "n03")


def test_a_missing_data_set_names_both_places_looked_in(tmp_path) -> None:
    write_idx_folder(tmp_path / "mnist", {"train": 7, "test": 4}, gz=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    for name, folder in (
        ("mnist", "mnist"),
        ("cifar10", "cifar-10-batches-bin"),
        ("cifar100", "cifar-100-binary"),
        ("tiny_imagenet", "tiny-imagenet-200"),
    ):
        with pytest.raises(
            DataError, match=rf"{folder}: .* not found: looked in {empty / folder} and in {empty};"
        ):
            load_images(name, root=empty)
    # MNIST's folder is not taken for Fashion-MNIST, whose files have the same names.
    with pytest.raises(
        DataError,
        match=r"looked in .*mnist/fashion_mnist and in .*mnist \(it holds the files of mnist",
    ):
        load_images("fashion_mnist", root=tmp_path / "mnist")
