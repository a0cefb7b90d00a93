"""The single-model Trainer: data forms, soft targets, weights, mixers, checkpoints."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from genlabel import GenLabelMixup
from genlabel.data import make_toy
from genlabel.training import Callback, History, Trainer


def _data(n: int = 300):
    X, y = make_toy("gaussian9", n, random_state=0)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y)


def _model(seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 9))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return model


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def test_fit_on_tensors_learns_and_predicts() -> None:
    X, y = _data()
    trainer = Trainer(_model(), lr=0.02, epochs=40, batch_size=64, random_state=0, verbose=0)
    trainer.fit((X, y))
    assert (trainer.predict(X) == y).float().mean() > 0.9
    proba = trainer.predict_proba(X)
    torch.testing.assert_close(proba.sum(1), torch.ones(len(X)))
    assert len(trainer.history_) == 40 and trainer.loss_curve_[-1] < trainer.loss_curve_[0]


def test_soft_targets_of_one_hot_rows_train_exactly_like_class_indices() -> None:
    X, y = _data(200)
    a = Trainer(_model(), epochs=3, random_state=1, verbose=0).fit((X, y))
    b = Trainer(_model(), epochs=3, random_state=1, verbose=0)
    b.fit((X, torch.nn.functional.one_hot(y, 9).float()))
    for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        torch.testing.assert_close(pa, pb)


def test_sample_weights_count_rows_and_zero_weight_rows_do_not() -> None:
    X, y = _data(200)
    # Corrupt half the labels but give those rows weight 0: training sees clean labels only.
    noisy = y.clone()
    noisy[::2] = (noisy[::2] + 4) % 9
    w = torch.ones(len(y))
    w[::2] = 0.0
    t = Trainer(_model(), lr=0.02, epochs=40, batch_size=50, random_state=0, verbose=0)
    t.fit((X, noisy, w))
    assert (t.predict(X) == y).float().mean() > 0.9


def test_a_dataloader_and_tensors_give_the_same_epochs_when_unshuffled() -> None:
    X, y = _data(128)
    loader = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=False)
    t = Trainer(_model(), epochs=2, verbose=0).fit(loader)
    assert len(t.history_) == 2 and np.isfinite(t.loss_curve_).all()


def test_callbacks_see_every_batch_and_epoch_and_can_stop() -> None:
    X, y = _data(100)

    class Stopper(Callback):
        def __init__(self):
            self.epochs: list[int] = []

        def on_epoch_end(self, trainer, epoch, logs):
            self.epochs.append(epoch)
            trainer.stop_training = epoch == 2

    history, stopper = History(), Stopper()
    Trainer(_model(), epochs=10, batch_size=25, callbacks=[history, stopper], verbose=0).fit((X, y))
    assert stopper.epochs == [0, 1, 2]
    assert len(history.batch_losses) == 3 * 4


def test_verbose_zero_prints_nothing(capsys) -> None:
    X, y = _data(64)
    Trainer(_model(), epochs=1, verbose=0).fit((X, y))
    assert capsys.readouterr().err == ""
    Trainer(_model(), epochs=1, verbose=1).fit((X, y))
    assert "training" in capsys.readouterr().err


@pytest.mark.parametrize("with_mixer", [False, True])
def test_resuming_from_a_checkpoint_gives_the_uninterrupted_weights(tmp_path, with_mixer) -> None:
    X, y = _data(200)

    class Killed(Exception):
        pass

    class KillAfter(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            if epoch == 2:  # the checkpoint of epoch 3 is written before this hook
                raise Killed

    def make(ckpt, callbacks=()) -> Trainer:
        mixer = GenLabelMixup(9, gamma=0.5, seed=3).fit(X, y) if with_mixer else None
        return Trainer(
            _model(), mixer=mixer, optimizer="sgd", lr=0.05, scheduler="cosine", epochs=6,
            batch_size=32, checkpoint_dir=ckpt, random_state=2, verbose=0, callbacks=callbacks,
        )  # fmt: skip

    full = make(None).fit((X, y))
    with pytest.raises(Killed):
        make(tmp_path, [KillAfter()]).fit((X, y))
    assert torch.load(tmp_path / "last.pt", weights_only=True)["epoch"] == 3
    resumed = make(tmp_path).fit((X, y))  # the same command again: resumes after epoch 3
    for a, b in zip(_params(full.model), _params(resumed.model), strict=True):
        assert torch.equal(a, b)
    assert [r["loss"] for r in resumed.history_] == [r["loss"] for r in full.history_]
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    assert state["epoch"] == 6


def test_a_mixer_trains_through_its_training_loss() -> None:
    X, y = _data()
    mixer = GenLabelMixup(9, rule="genlabel", gamma=0.8, seed=0).fit(X, y)
    t = Trainer(_model(), mixer=mixer, lr=0.02, epochs=40, batch_size=64, random_state=0, verbose=0)
    t.fit((X, y))
    assert (t.predict(X) == y).float().mean() > 0.9


def test_bf16_autocast_runs_on_the_cpu() -> None:
    X, y = _data(64)
    t = Trainer(_model(), epochs=2, amp="bf16", verbose=0).fit((X, y))
    assert np.isfinite(t.loss_curve_).all()


BAD = [
    (dict(optimizer="rmsprop"), "'optimizer' parameter of Trainer"),
    (dict(scheduler="linear"), "'scheduler' parameter of Trainer"),
    (dict(epochs=0), "'epochs' parameter of Trainer"),
    (dict(lr=-1.0), "'lr' parameter of Trainer"),
    (dict(amp="fp8"), "'amp' parameter of Trainer"),
    (dict(mixer=object()), "training_loss"),
    (dict(device="cuda:99" if torch.cuda.is_available() else "cuda"), "CUDA"),
    (dict(device="banana"), "'device' parameter of Trainer"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD)
def test_bad_configuration_is_reported(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        Trainer(_model(), **kwargs)


def test_several_configuration_errors_come_together() -> None:
    with pytest.raises(ValueError, match="(?s)'optimizer'.*'epochs'"):
        Trainer(_model(), optimizer="x", epochs=0)


def test_bad_data_is_reported() -> None:
    X, y = _data(20)
    t = Trainer(_model(), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="same rows"):
        t.fit((X, y[:5]))
    with pytest.raises(ValueError, match="NaN"):
        t.fit((torch.full_like(X, float("nan")), y))
    with pytest.raises(ValueError, match="integer class indices"):
        t.fit((X, y.float()))
    with pytest.raises(ValueError, match="sample_weight must be >= 0"):
        t.fit((X, y, -torch.ones(len(y))))
    with pytest.raises(RuntimeError, match="not fitted"):
        Trainer(_model()).predict(X)
    with pytest.raises(ValueError, match="at least one sample"):
        t.fit((X[:0], y[:0]))
    with pytest.raises(ValueError, match="no batch"):
        t.fit(DataLoader(TensorDataset(X[:0], y[:0]), batch_size=4))
    t.fit((X, y))
    with pytest.raises(ValueError, match="X contains NaN"):
        t.predict_proba(torch.full_like(X, float("inf")))
    # A DataLoader's batches are not checked up front: the epoch's loss says where to look.
    nan_loader = DataLoader(TensorDataset(torch.full_like(X, float("nan")), y), batch_size=4)
    with pytest.raises(FloatingPointError, match="check the data for NaN"):
        Trainer(_model(), epochs=1, verbose=0).fit(nan_loader)
    # Soft targets with a mixer: the drop-in relabels class indices only.
    mixer = GenLabelMixup(9, rule="linear", seed=0)
    with pytest.raises(ValueError, match="soft targets cannot be mixed"):
        Trainer(_model(), mixer=mixer, epochs=1, verbose=0).fit((X, torch.eye(9)[y]))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_inputs_of_another_precision_are_cast_to_the_model_dtype(dtype) -> None:
    X, y = _data(40)
    a = Trainer(_model(), epochs=2, batch_size=8, random_state=0, verbose=0).fit((X, y))
    b = Trainer(_model(), epochs=2, batch_size=8, random_state=0, verbose=0)
    b.fit((X.to(dtype), y))  # NumPy's float64, say, for a float32 model
    same = dtype == torch.float64  # float64 -> float32 gives back X's values exactly
    for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert pb.dtype == torch.float32
        assert torch.equal(pa, pb) if same else torch.allclose(pa, pb, atol=1e-2)
    assert b.predict_proba(X.to(dtype)).dtype == torch.float32


def test_the_model_is_not_copied() -> None:
    X, y = _data(50)
    model = _model()
    before = copy.deepcopy(model.state_dict())
    Trainer(model, epochs=1, verbose=0).fit((X, y))
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_distributed_shards_are_the_global_batches_split_evenly() -> None:
    from genlabel.training.trainer import _TensorBatches

    X, y = torch.arange(23.0).view(23, 1), torch.arange(23)
    one = [b[1].tolist() for b in _TensorBatches((X, y, None), 8, seed=4).epoch(2)]
    ranks = [
        [b[1].tolist() for b in _TensorBatches((X, y, None), 4, 4, r, 2).epoch(2)] for r in (0, 1)
    ]
    assert [len(r) for r in ranks] == [3, 3]  # both ranks step the same number of times
    for step, rows in enumerate(one):
        merged = ranks[0][step] + ranks[1][step]
        assert len(ranks[0][step]) == len(ranks[1][step])
        assert merged == rows[: len(merged)] and len(rows) - len(merged) < 2


def test_channels_last_on_the_cpu_trains_the_same_model_up_to_rounding() -> None:
    from genlabel.models import SmallCNN

    g = torch.Generator().manual_seed(0)
    X = torch.randint(0, 256, (64, 1, 8, 8), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 4, (64,), generator=g)
    fitted = []
    for channels_last in (None, True):
        model = SmallCNN(1, 4, 8, width=4, seed=0)
        t = Trainer(model, optimizer="sgd", lr=0.01, epochs=1, batch_size=32,
                    channels_last=channels_last, random_state=0, verbose=0).fit((X, y))  # fmt: skip
        fitted.append((model, t))
    (plain, _), (last, trainer) = fitted
    assert trainer.channels_last_ and not fitted[0][1].channels_last_
    assert last.features.block1.conv.weight.is_contiguous(memory_format=torch.channels_last)
    for a, b in zip(plain.parameters(), last.parameters(), strict=True):
        torch.testing.assert_close(a, b.contiguous(), rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(trainer.predict_proba(X), fitted[0][1].predict_proba(X))


def test_an_image_run_with_augmentation_resumes_draw_for_draw(tmp_path) -> None:
    from genlabel.data.augment import BatchAugment
    from genlabel.images import build_step
    from genlabel.models import SmallCNN

    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (96, 1, 8, 8), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, 4, (96,), generator=g)

    class Killed(Exception):
        pass

    class KillAfter(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            if epoch == 1:
                raise Killed

    def make(ckpt, callbacks=()) -> Trainer:
        model = SmallCNN(1, 4, 8, seed=0)
        step = build_step("cutmix_genlabel", num_classes=4, in_channels=1, feature_dim=128, seed=1)
        augment = BatchAugment(crop_padding=2, hflip=True, seed=2)  # draws in every batch
        return Trainer(
            model, mixer=step, optimizer="sgd", lr=0.05, scheduler="step", epochs=4,
            batch_size=32, transform=augment, checkpoint_dir=ckpt, random_state=3, verbose=0,
            callbacks=callbacks,
        )  # fmt: skip

    full = make(None).fit((images, labels))
    with pytest.raises(Killed):
        make(tmp_path, [KillAfter()]).fit((images, labels))
    resumed = make(tmp_path).fit((images, labels))
    for a, b in zip(_params(full.model), _params(resumed.model), strict=True):
        assert torch.equal(a, b)


def test_the_step_schedule_divides_the_rate_by_ten_at_half_and_three_quarters() -> None:
    X, y = _data(64)
    seen = []

    class Rates(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            seen.append(trainer.optimizer_.param_groups[0]["lr"])

    Trainer(
        _model(), optimizer="sgd", lr=0.1, scheduler="step", epochs=8, batch_size=32,
        callbacks=[Rates()], verbose=0,
    ).fit((X, y))  # fmt: skip
    np.testing.assert_allclose(seen, [0.1] * 3 + [0.01] * 2 + [0.001] * 3, rtol=1e-12)


def test_the_image_experiment_predicts_through_the_trainers_loop() -> None:
    """Issue 39: predict_proba was written twice (Trainer, images/experiment.py); both now
    run model_proba: uint8 images scaled to [0, 1], eval mode, the training mode restored."""
    from genlabel.images.experiment import predict_proba
    from genlabel.models import SmallCNN
    from tests._asserts import rounding_tolerance

    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (40, 1, 8, 8), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 3, (40,), generator=g)
    trainer = Trainer(SmallCNN(1, 3, 8, width=4, seed=0), epochs=1, batch_size=16, verbose=0)
    trainer.fit((x, y))
    trainer.model.train()
    got = predict_proba(trainer.model, x, torch.device("cpu"))
    assert trainer.model.training and got.dtype == np.float64 and got.shape == (40, 3)
    # Batches of 1000 rows here, of 256 in the Trainer: equal up to rounding.
    want = trainer.predict_proba(x, batch_size=7).double().numpy()
    torch.testing.assert_close(
        torch.from_numpy(got), torch.from_numpy(want), **rounding_tolerance(torch.float32)
    )
    # Batch norm in eval mode: the probabilities of x / 255 as floats.
    trainer.model.eval()
    with torch.no_grad():
        direct = torch.softmax(trainer.model(x.float() / 255), -1).double()
    torch.testing.assert_close(torch.from_numpy(got), direct, **rounding_tolerance(torch.float32))
