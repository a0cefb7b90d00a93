"""Image data sets as uint8 tensors, read from their published file formats.

``load_images(name, root=..., split=...)`` returns an :class:`ImageSet`: images of shape
(n, c, h, w), uint8, and int64 labels. Every format is parsed explicitly from bytes (IDX for
MNIST and Fashion-MNIST, the binary versions of CIFAR-10/100, JPEG files for Tiny ImageNet);
nothing is unpickled. scikit-learn's 8x8 digits are embedded and need no files.

The files are looked up under ``root`` (default: ``images/`` under the data root, see
:func:`genlabel.data.paths.default_data_dir`)::

    <root>/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
    <root>/fashion_mnist/  (the same four names)
    <root>/cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin [batches.meta.txt]
    <root>/cifar-100-binary/{train,test}.bin [fine_label_names.txt]
    <root>/tiny-imagenet-200/{wnids.txt,train/<wnid>/images/*.JPEG,val/...}

``root`` may also be the folder holding the files itself (``.../images/mnist``); the error
for a data set found in neither lists both places looked in.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .lookup import IMAGE_DATASETS, resolve_dataset
from .paths import DataError, dataset_folder

__all__ = ["IMAGE_DATASETS", "ImageSet", "load_images", "parse_idx"]

SPLITS = ("train", "test")

_IDX_IMAGES, _IDX_LABELS = 0x00000803, 0x00000801  # uint8 data, 3 and 1 dimensions
_IDX_PREFIX = {"train": "train", "test": "t10k"}
_FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
_CIFAR_PIXELS = 3 * 32 * 32
_TINY_SIZE = 64


@dataclass(frozen=True, eq=False)  # eq=False: tensors have no single truth value to compare
class ImageSet:
    """One split of an image data set.

    Attributes
    ----------
    x : Tensor of shape (n, c, h, w), uint8
        Pixels in 0..255, channels first (c = 1 for grey, 3 for RGB).
    y : Tensor of shape (n,), int64
        Class indices into ``classes``.
    classes : tuple of str
        The class names, in label order.
    name : str
        The data set's name (one of ``IMAGE_DATASETS``).
    split : str
        ``"train"`` or ``"test"``.
    """

    x: torch.Tensor
    y: torch.Tensor
    classes: tuple[str, ...]
    name: str
    split: str = "train"

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return int(self.y.shape[0])


# -- raw bytes --------------------------------------------------------------------------------
def _read_bytes(path: Path, *, gunzip: bool = False) -> bytes:
    """The file's bytes; with ``gunzip``, decompressed when they start with gzip's magic number.

    Only IDX files may be gzipped: an IDX file starts with two zero bytes, never 1f 8b.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not gunzip or data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as exc:
        raise DataError(f"{path} is not a complete gzip file ({exc}); download it again") from exc


def parse_idx(data: bytes, *, magic: int, source: str | os.PathLike[str] = "<bytes>") -> np.ndarray:
    """Parse an IDX file (the MNIST format) of unsigned bytes.

    The header is a big-endian 32-bit magic number (0x00000803 for images of shape
    (n, rows, cols), 0x00000801 for labels of shape (n,)), then one big-endian 32-bit size
    per dimension, then the data, row-major.

    Parameters
    ----------
    data : bytes
        The whole (decompressed) file.
    magic : int
        The magic number expected.
    source : str or path
        Named in error messages.

    Returns
    -------
    ndarray of uint8, of the shape the header gives (read-only, a view of ``data``).

    Raises
    ------
    DataError
        When the magic number differs or the size does not match the header.
    """
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(
            f"{source}: expected an IDX header of {header} bytes; the file has {len(data)} bytes"
        )
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise DataError(f"{source}: expected the IDX magic number 0x{magic:08x}; got 0x{found:08x}")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64))
    if len(data) != expected:
        raise DataError(
            f"{source}: the IDX header gives shape {shape}, i.e. {expected} bytes; the file "
            f"has {len(data)} bytes (truncated or corrupt)"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _existing_folder(root: Path, folder_name: str, what: str, markers: Sequence[str]) -> Path:
    """``root/folder_name``, or ``root`` itself when it holds the files (see
    :func:`~genlabel.data.paths.dataset_folder`)."""
    others = set(_FOLDERS.values()) - {folder_name}
    return dataset_folder(
        root, folder_name, markers, f"{folder_name}: {what}", other_folders=others
    )


def _check_labels(labels: np.ndarray, n_classes: int, source: Path | str) -> None:
    if labels.size and int(labels.max()) >= n_classes:
        raise DataError(
            f"{source}: expected labels in [0, {n_classes}); got a label {int(labels.max())}"
        )


def _class_names(path: Path, default: tuple[str, ...]) -> tuple[str, ...]:
    """One name per non-empty line of ``path``, or ``default`` when there is no such file."""
    if not path.is_file():
        return default
    names = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
    if len(names) != len(default):
        raise DataError(
            f"{path}: expected {len(default)} class names, one a line; got {len(names)}"
        )
    return names


# -- MNIST and Fashion-MNIST (IDX) ------------------------------------------------------------
def _idx_file(folder: Path, stem: str) -> Path:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    raise DataError(
        f"{folder / stem}[.gz] not found: expected the IDX file {stem} (gzipped or raw)"
    )


def _load_idx_set(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 1, h, w) and labels (n,) of one split of an MNIST-style folder."""
    prefix = _IDX_PREFIX[split]
    images_path = _idx_file(folder, f"{prefix}-images-idx3-ubyte")
    labels_path = _idx_file(folder, f"{prefix}-labels-idx1-ubyte")
    images = parse_idx(_read_bytes(images_path, gunzip=True), magic=_IDX_IMAGES, source=images_path)
    labels = parse_idx(_read_bytes(labels_path, gunzip=True), magic=_IDX_LABELS, source=labels_path)
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
            f"{labels.shape[0]} labels; expected one label per image"
        )
    _check_labels(labels, 10, labels_path)
    return images[:, None], labels


# -- CIFAR-10 and CIFAR-100 (binary version) --------------------------------------------------
def _read_records(
    path: Path, record: int, label_byte: int, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (n, 3, 32, 32) and the label at ``label_byte`` of fixed-size CIFAR records."""
    if not path.is_file():
        raise DataError(f"{path} not found: expected a CIFAR binary batch file")
    data = _read_bytes(path)
    if len(data) == 0 or len(data) % record:
        raise DataError(
            f"{path}: expected records of {record} bytes (labels, then {_CIFAR_PIXELS} pixel "
            f"bytes); the file has {len(data)} bytes, not a positive multiple of {record}"
        )
    rows = np.frombuffer(data, dtype=np.uint8).reshape(-1, record)
    pixels = rows[:, record - _CIFAR_PIXELS :].reshape(-1, 3, 32, 32)
    _check_labels(rows[:, label_byte], n_classes, path)
    return pixels, rows[:, label_byte]


def _load_cifar10(root: Path, split: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    folder = _existing_folder(
        root,
        _FOLDERS["cifar10"],
        "the CIFAR-10 binary batches",
        ("data_batch_1.bin", "test_batch.bin"),
    )
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] if split == "train" else ["test_batch.bin"]
    parts = [_read_records(folder / name, 1 + _CIFAR_PIXELS, 0, 10) for name in names]
    pixels = np.concatenate([p for p, _ in parts])
    labels = np.concatenate([lab for _, lab in parts])
    return pixels, labels, _class_names(folder / "batches.meta.txt", _CIFAR10_CLASSES)


def _load_cifar100(root: Path, split: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    folder = _existing_folder(
        root, _FOLDERS["cifar100"], "the CIFAR-100 binary files", ("train.bin", "test.bin")
    )
    path = folder / f"{split}.bin"
    # A record is <coarse label><fine label><3072 pixels>; we train on the 100 fine labels.
    pixels, labels = _read_records(path, 2 + _CIFAR_PIXELS, 1, 100)
    default = tuple(str(i) for i in range(100))
    return pixels, labels, _class_names(folder / "fine_label_names.txt", default)


# -- Tiny ImageNet (JPEG files) ---------------------------------------------------------------
def _tiny_files(folder: Path, split: str, classes: tuple[str, ...]) -> tuple[list[Path], list[int]]:
    """The image files of a split and their labels (indices into ``classes``)."""
    index = {wnid: i for i, wnid in enumerate(classes)}
    paths: list[Path] = []
    labels: list[int] = []
    if split == "train":
        for wnid in classes:
            images = folder / "train" / wnid / "images"
            files = sorted(images.glob("*.JPEG")) if images.is_dir() else []
            if not files:
                raise DataError(f"{images}: expected the *.JPEG training images of class {wnid}")
            paths += files
            labels += [index[wnid]] * len(files)
        return paths, labels
    annotations = folder / "val" / "val_annotations.txt"
    if not annotations.is_file():
        raise DataError(f"{annotations} not found: expected the labels of the validation images")
    for number, line in enumerate(annotations.read_text().splitlines(), start=1):
        fields = line.split("\t")
        if not line.strip():
            continue
        if len(fields) < 2 or fields[1] not in index:
            raise DataError(
                f"{annotations}, line {number}: expected '<file>\\t<wnid>\\t...' with a wnid "
                f"from wnids.txt; got {line!r}"
            )
        paths.append(folder / "val" / "images" / fields[0])
        labels.append(index[fields[1]])
    return paths, labels


def _decode_rgb(path: Path, out: np.ndarray) -> None:
    """Decode one JPEG into ``out`` of shape (3, 64, 64) (grey images become RGB)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        raise DataError(f"cannot decode {path} as an image: {exc}") from exc
    if rgb.size != (_TINY_SIZE, _TINY_SIZE):
        raise DataError(f"{path}: expected a 64x64 image; got {rgb.size[0]}x{rgb.size[1]}")
    out[...] = np.asarray(rgb).transpose(2, 0, 1)


def _load_tiny_imagenet(root: Path, split: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    folder = _existing_folder(
        root, _FOLDERS["tiny_imagenet"], "Tiny ImageNet (wnids.txt, train/, val/)", ("wnids.txt",)
    )
    wnids_path = folder / "wnids.txt"
    if not wnids_path.is_file():
        raise DataError(f"{wnids_path} not found: expected the class ids (wnids), one a line")
    wnids = [line.strip() for line in wnids_path.read_text().splitlines() if line.strip()]
    if not wnids or len(set(wnids)) != len(wnids):
        raise DataError(f"{wnids_path}: expected distinct class ids, one a line; got {wnids[:5]}")
    # Sorted ids: the labels a folder-per-class reader (torchvision's ImageFolder) assigns.
    classes = tuple(sorted(wnids))
    paths, labels = _tiny_files(folder, split, classes)
    pixels = np.empty((len(paths), 3, _TINY_SIZE, _TINY_SIZE), dtype=np.uint8)
    # Pillow releases the GIL while decoding, so threads decode in parallel.
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        list(pool.map(_decode_rgb, paths, pixels))
    return pixels, np.asarray(labels, dtype=np.int64), classes


# -- scikit-learn's digits --------------------------------------------------------------------
def _load_digits(split: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    # Grey levels 0..16 to 0..255 as round(v * 255 / 16); v * 255 / 16 is exact in float64.
    pixels = np.rint(bunch.images * 255 / 16).astype(np.uint8)[:, None]
    # A fixed stratified 70/30 split, so train and test are the same on every machine.
    train, test = train_test_split(
        np.arange(len(pixels)), test_size=0.3, stratify=bunch.target, random_state=0
    )
    rows = train if split == "train" else test
    return pixels[rows], bunch.target[rows], tuple(str(i) for i in range(10))


def _load_mnist_like(
    folder_name: str, classes: tuple[str, ...]
) -> Callable[[Path, str], tuple[np.ndarray, np.ndarray, tuple[str, ...]]]:
    def load(root: Path, split: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
        markers = [
            f"{prefix}-{kind}-ubyte{gz}"
            for prefix in _IDX_PREFIX.values()
            for kind in ("images-idx3", "labels-idx1")
            for gz in (".gz", "")
        ]
        folder = _existing_folder(
            root, folder_name, "the four IDX files (train-images-idx3-ubyte.gz, ...)", markers
        )
        return (*_load_idx_set(folder, split), classes)

    return load


# The folder of each data set under the images root (its files may also lie in root itself).
_FOLDERS = {
    "mnist": "mnist",
    "fashion_mnist": "fashion_mnist",
    "cifar10": "cifar-10-batches-bin",
    "cifar100": "cifar-100-binary",
    "tiny_imagenet": "tiny-imagenet-200",
}

_READERS: dict[str, Callable[[Path, str], tuple[np.ndarray, np.ndarray, tuple[str, ...]]]] = {
    "mnist": _load_mnist_like("mnist", tuple(str(i) for i in range(10))),
    "fashion_mnist": _load_mnist_like("fashion_mnist", _FASHION_CLASSES),
    "cifar10": _load_cifar10,
    "cifar100": _load_cifar100,
    "tiny_imagenet": _load_tiny_imagenet,
}


def load_images(
    name: str, *, root: str | os.PathLike[str] | None = None, split: str = "train"
) -> ImageSet:
    """Load one split of an image data set.

    Parameters
    ----------
    name : str
        One of ``"digits"``, ``"mnist"``, ``"fashion_mnist"``, ``"cifar10"``,
        ``"cifar100"``, ``"tiny_imagenet"``. ``digits`` is scikit-learn's bundled 8x8 digits (1,797 images, grey levels 0..16
        rescaled to 0..255), split 70/30 by a fixed stratified split (``random_state=0``).
        CIFAR-100 uses its 100 fine labels. Tiny ImageNet's classes are its wnids, sorted.
    root : str or path, optional
        The folder holding the data sets' folders (see the module docstring), or the
        folder holding one data set's files; default
        ``images/`` under the data root (``GENLABEL_DATA`` or ``../shared/data`` beside a
        checkout). Not used for ``digits``.
    split : {"train", "test"}, default="train"
        For Tiny ImageNet, "test" is its labelled ``val/`` folder (its test set has no labels).

    Returns
    -------
    ImageSet
        ``x`` of shape (n, c, h, w), uint8: (n, 1, 8, 8) digits, (n, 1, 28, 28) MNIST and
        Fashion-MNIST, (n, 3, 32, 32) CIFAR, (n, 3, 64, 64) Tiny ImageNet; ``y`` (n,) int64.

    Raises
    ------
    DataError (a ValueError)
        For an unknown name, a missing folder or file, or a file that is not in the
        expected format (wrong magic number, truncated, wrong record size); the message
        names the file and what was expected.
    """
    source = resolve_dataset(name, root, kind="image")
    if split not in SPLITS:
        raise ValueError(
            f"The 'split' parameter of load_images must be 'train' or 'test'. Got {split!r} "
            "instead."
        )
    if source.source == "embedded":  # scikit-learn's digits
        pixels, labels, classes = _load_digits(split)
    else:
        pixels, labels, classes = _READERS[name](source.folder, split)
    # Parsed arrays are read-only views of file bytes, which torch cannot share: copy those.
    x = torch.from_numpy(np.require(pixels, requirements=("C", "W")))
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    return ImageSet(x=x, y=y, classes=classes, name=name, split=split)
