"""The shared number checks of genlabel._validation (issue 39: the bool/int/real checks were
written by hand at 17 places and as local helpers, some taking NumPy integers, some not)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genlabel._validation import check_int_at_least, is_int_at_least, is_real_in
from genlabel.data.augment import BatchAugment
from genlabel.images.experiment import ImageSettings
from genlabel.models import SmallCNN
from genlabel.training import Trainer


@pytest.mark.parametrize("value", [3, np.int64(3), np.uint8(3)])
def test_integers_of_python_and_numpy_pass(value) -> None:
    assert is_int_at_least(value, 3) and check_int_at_least(value, "n", "X", 3) == 3


@pytest.mark.parametrize("value", [True, np.bool_(True), 2, 3.0, "3", None, torch.tensor(3)])
def test_bools_floats_smaller_and_other_types_fail(value) -> None:
    assert not is_int_at_least(value, 1 if isinstance(value, (bool, np.bool_)) else 3)


def test_the_int_check_raises_the_one_parameter_message() -> None:
    with pytest.raises(ValueError, match=r"^The 'n' parameter of X must be an int >= 1\. Got 0"):
        check_int_at_least(0, "n", "X")


@pytest.mark.parametrize(
    "value, kwargs, ok",
    [
        (0.5, {"low": 0, "high": 1}, True),
        (np.float32(0.5), {"low": 0, "high": 1}, True),
        (torch.tensor(0.5), {"low": 0, "high": 1}, True),
        (0, {"low": 0}, True),
        (0, {"low": 0, "low_open": True}, False),
        (1, {"high": 1, "high_open": True}, False),
        (math.inf, {}, False),
        (math.nan, {}, False),
        (10**400, {}, False),
        (True, {}, False),
        ("1", {}, False),
    ],
)
def test_real_in_a_range(value, kwargs, ok) -> None:
    assert is_real_in(value, **kwargs) is ok


def test_numpy_integers_are_taken_wherever_an_int_is_checked() -> None:
    """Before, SmallCNN, BatchAugment, the Trainer and ImageSettings refused np.int64 while
    the GAN and GenMix took it."""
    model = SmallCNN(np.int64(1), np.int64(3), np.int64(8), width=np.int64(4))
    x = torch.zeros(2, 1, 8, 8)
    assert model(x).shape == (2, 3)
    BatchAugment(crop_padding=np.int64(2))
    Trainer(model, epochs=np.int64(1), batch_size=np.int64(2), verbose=0)
    ImageSettings(epochs=np.int64(1), batch_size=np.int64(8)).check()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: SmallCNN(1, 3, 8, width=True), "The 'width' parameter of SmallCNN must be an int >= 1. Got True"),
        (lambda: SmallCNN(1, 3, (8, 3)), "must be an int >= 4 or a pair"),
        (lambda: BatchAugment(crop_padding=-1), "'crop_padding' parameter of BatchAugment must be an int >= 0"),
        (lambda: Trainer(torch.nn.Linear(1, 1), epochs=0), "'epochs' parameter of Trainer must be an int >= 1"),
        (lambda: Trainer(torch.nn.Linear(1, 1), lr=True), "'lr' parameter of Trainer must be a float > 0"),
        (lambda: ImageSettings(momentum=1.5).check(), "momentum"),
    ],
)  # fmt: skip
def test_the_messages_stay_as_they_were(make, message) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        make()
