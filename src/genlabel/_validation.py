"""Input checks shared by every public entry point.

Errors name the argument, what was expected and what was given: ``parameter_error`` for
the parameters of a class (scikit-learn's wording, "The 'x' parameter of C must be ..."),
"x must be ...; got ..." for the arguments of a function.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "CheckpointError",
    "all_finite",
    "as_float_tensor",
    "as_label_tensor",
    "check_nonnegative",
    "check_choice",
    "check_points",
    "checkpoint_error",
    "load_checkpoint",
    "parameter_error",
    "resolve_device",
]


def all_finite(tensor: torch.Tensor) -> bool:
    """True when no entry is NaN or +-inf.

    A plain sum is the cheapest test (NaN and inf propagate); only when it is not finite,
    which finite values can also cause by overflowing, do we look element by element.
    """
    if math.isfinite(tensor.sum().item()):
        return True
    return bool(torch.isfinite(tensor).all())


def _to_tensor(value: Any, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    try:
        array = np.asarray(value)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise ValueError(f"{name} must be array-like; got {type(value).__name__}") from exc
    if array.dtype == object:
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must hold numbers; got an object array") from exc
    array = np.ascontiguousarray(array)
    if not array.flags.writeable:
        # torch cannot share a read-only buffer (a memmap, a joblib-loaded array) safely:
        # it warns and leaves writes undefined. A copy is the well-defined choice.
        array = array.copy()
    return torch.from_numpy(array)


def as_float_tensor(
    value: Any,
    name: str,
    *,
    ndim: int | tuple[int, ...] = 2,
    n_features: int | None = None,
    fitted_by: str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Return ``value`` as a floating tensor after checking its shape and finiteness.

    Integer inputs become float64 (float32 tensors and arrays keep their dtype); the
    input is never modified in place.
    """
    tensor = _to_tensor(value, name)
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if tensor.ndim not in allowed:
        shape_word = " or ".join(f"{d}-D" for d in allowed)
        expected = " of shape (n_samples, n_features)" if allowed == (2,) else ""
        raise ValueError(
            f"{name} must be a {shape_word} array{expected}; got shape {tuple(tensor.shape)}"
        )
    if not tensor.is_floating_point():
        if tensor.dtype == torch.bool or tensor.is_complex():
            raise ValueError(f"{name} must hold real numbers; got dtype {tensor.dtype}")
        tensor = tensor.to(torch.float64)
    if dtype is not None:
        tensor = tensor.to(dtype)
    elif tensor.dtype in (torch.float16, torch.bfloat16):
        tensor = tensor.to(torch.float32)
    if tensor.numel() and not all_finite(tensor):
        raise ValueError(f"{name} contains NaN or infinite values")
    if n_features is not None and tensor.ndim == 2 and tensor.shape[1] != n_features:
        who = f"{fitted_by} was fitted" if fitted_by else "expected"
        raise ValueError(
            f"{name} has {tensor.shape[1]} features, but {who} with {n_features} features"
        )
    return tensor


def as_label_tensor(
    value: Any, name: str, *, n_samples: int | None = None, num_classes: int | None = None
) -> torch.Tensor:
    """Return class indices of shape (n_samples,) as an int64 tensor: the one check of
    labels for every entry point that takes class indices (densities, the drop-in's ``fit``
    and call, the GAN).

    Integers only: floats are refused even when they are whole numbers (a float label is
    more often a soft target or a regression target than a class), with a message that says
    how to cast; strings are refused with a pointer to ``LabelEncoder``. With
    ``num_classes``, every index must lie in [0, num_classes).
    """
    if not isinstance(value, torch.Tensor):
        array = np.asarray(value)
        if array.dtype.kind in "USO" and any(isinstance(v, (str, bytes)) for v in array.flat):
            example = next(v for v in array.flat if isinstance(v, (str, bytes)))
            raise ValueError(
                f"{name} must be integer class indices; got strings such as "
                f"{example.item() if isinstance(example, np.generic) else example!r}: "
                "encode them first, e.g. with sklearn.preprocessing.LabelEncoder"
            )
    tensor = _to_tensor(value, name)
    if tensor.ndim != 1:
        soft = (
            "; soft targets (n, k) cannot be relabelled: pass class indices"
            if tensor.ndim == 2
            else ""
        )
        raise ValueError(
            f"{name} must be a 1-D array of integer class indices of shape (n_samples,); "
            f"got shape {tuple(tensor.shape)}{soft}"
        )
    if tensor.is_floating_point():
        finite = bool(torch.isfinite(tensor).all())
        if finite and bool((tensor == torch.round(tensor)).all()):
            raise ValueError(
                f"{name} must be integer class indices; got floats ({tensor.dtype}) that are "
                "whole numbers: cast them first, y.long() for a tensor or y.astype(int) for "
                "an array"
            )
        raise ValueError(f"{name} must be integer class indices; got non-integer values")
    if tensor.dtype == torch.bool or tensor.is_complex():
        raise ValueError(f"{name} must be integer class indices; got dtype {tensor.dtype}")
    tensor = tensor.to(torch.int64)
    if n_samples is not None and tensor.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {tensor.shape[0]} labels, but the inputs have {n_samples} samples"
        )
    if num_classes is not None and tensor.numel():
        low, high = int(tensor.min()), int(tensor.max())
        if low < 0 or high >= num_classes:
            raise ValueError(
                f"{name} must hold class indices in [0, {num_classes}); got values in "
                f"[{low}, {high}]"
            )
    return tensor


POINTS_SHAPE = "(n_samples, n_features) or (n_samples, channels, height, width)"


def check_points(tensor: torch.Tensor, name: str) -> torch.Tensor:
    """Points for a rule that looks at data: at least 2-D, one row per sample. A 1-D array
    is refused, not read as n points of one feature: it is as often a single sample."""
    if tensor.ndim < 2:
        raise ValueError(
            f"{name} must be of shape {POINTS_SHAPE}; got shape {tuple(tensor.shape)} "
            "(one feature: reshape it to (n_samples, 1))"
        )
    return tensor


def is_integer(value: object) -> bool:
    """An integer, NumPy's included, not a bool. (A function of ``object``: typeshed does not
    make ``int`` a ``numbers.Integral``, so an inline isinstance would look always False.)"""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def is_real(value: object) -> bool:
    """A real number (NumPy scalars and 0-d real tensors included), not a bool."""
    if isinstance(value, torch.Tensor):
        return value.ndim == 0 and not value.is_complex() and value.dtype != torch.bool
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def is_int_at_least(value: object, low: int) -> bool:
    """An integer (NumPy's included, not a bool) >= ``low``."""
    return is_integer(value) and bool(value >= low)  # type: ignore[operator]


def is_real_in(
    value: object,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> bool:
    """A finite real number (see :func:`is_real`) in the range from ``low`` to ``high``,
    the bounds included unless ``low_open`` / ``high_open``; NaN and +-inf never are."""
    if not is_real(value):
        return False
    try:
        v = float(value)  # type: ignore[arg-type]
    except OverflowError:  # an int beyond float's range is not a finite float
        return False
    above = low < v if low_open else low <= v
    below = v < high if high_open else v <= high
    return math.isfinite(v) and above and below


def check_int_at_least(value: Any, name: str, owner: str, low: int = 1) -> int:
    """``value`` as an int when it is an integer >= ``low`` (see :func:`is_int_at_least`),
    else the :func:`parameter_error` "must be an int >= low"."""
    if not is_int_at_least(value, low):
        raise parameter_error(owner, name, f"an int >= {low}", value)
    return int(value)


def is_flag(value: object) -> bool:
    """A bool, NumPy's, a 0-d bool tensor, or the integer 0 or 1."""
    if isinstance(value, torch.Tensor):
        return value.ndim == 0 and value.dtype == torch.bool
    return isinstance(value, (bool, np.bool_)) or (is_integer(value) and value in (0, 1))


def check_nonnegative(value: float, name: str, owner: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.floating, np.integer))
        or not np.isfinite(value)
        or value < 0
    ):
        raise parameter_error(owner, name, "a float >= 0", value)
    return float(value)


def check_choice(value: Any, name: str, owner: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise parameter_error(owner, name, "one of " + ", ".join(repr(c) for c in choices), value)
    return value


def parameter_error(owner: str, name: str, expected: str, value: Any) -> ValueError:
    """The one shape of a bad-parameter message (as scikit-learn words it).

    "The 'alpha' parameter of MixupClassifier must be a float in the range [0, inf).
    Got -1 instead."
    """
    return ValueError(
        f"The '{name}' parameter of {owner} must be {expected}. Got {value!r} instead."
    )


def resolve_device(device: Any, owner: str = "GenLabel") -> torch.device:
    """``device`` as a torch.device that this torch build can use, or a ValueError saying why."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise parameter_error(
            owner, "device", "a torch device such as 'cpu' or 'cuda'", device
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"The 'device' parameter of {owner} is {str(device)!r}, but this torch build "
            f"({torch.__version__}) cannot use CUDA: no CUDA build or no GPU visible. "
            "Use device='cpu' or install a CUDA build of torch."
        )
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(
            f"The 'device' parameter of {owner} is {str(device)!r}, but only "
            f"{torch.cuda.device_count()} CUDA device(s) are visible"
        )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"The 'device' parameter of {owner} is 'mps', which is not available here")
    return dev


class CheckpointError(ValueError):
    """A checkpoint that cannot be read: empty, cut, not torch's, refused by
    ``weights_only=True``, or of another model. The message names the file and how to
    restart."""


def checkpoint_error(path: Any, exc: BaseException, restart: str) -> CheckpointError:
    """One line: the file, the first line of why, and ``restart`` (what to do)."""
    text = str(exc).strip()
    reason = text.splitlines()[0][:300] if text else type(exc).__name__
    return CheckpointError(f"cannot read the checkpoint {path} ({reason}); {restart}")


def load_checkpoint(path: Any, *, map_location: Any = "cpu", restart: str) -> Any:
    """``torch.load(path, weights_only=True)``, or a :class:`CheckpointError` naming the
    file and ``restart``."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    # torch raises many kinds here (UnpicklingError, RuntimeError, EOFError, OSError, ...);
    # each is the same problem for the user: this file cannot be read.
    except Exception as exc:  # noqa: BLE001
        raise checkpoint_error(path, exc, restart) from None
