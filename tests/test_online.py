from __future__ import annotations

import math
import os
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from genlabel import OnlineGaussianLabeler
from tests._asserts import assert_valid_labels


def _reference_update(means, variances, z, y, beta):
    means, variances = means.copy(), variances.copy()
    d = z.shape[1]
    for c in np.unique(y):
        zc = z[y == c]
        mu = (1 - beta) * zc.mean(0) + beta * means[c]
        cov = (zc - mu).T @ (zc - mu) / len(zc)
        variances[c] = (1 - beta) * np.trace(cov) / d + beta * variances[c]
        means[c] = mu
    return means, variances


def test_update_follows_algorithm_3() -> None:
    rng = np.random.default_rng(0)
    lab = OnlineGaussianLabeler(4, 3, memory=0.7)
    means, variances = np.zeros((4, 3)), np.ones(4)
    for _ in range(5):
        y = rng.integers(0, 3, 32)  # class 3 never appears
        z = rng.normal(size=(32, 3)) + y[:, None]
        lab.update(torch.tensor(z, dtype=torch.float32), torch.tensor(y))
        means, variances = _reference_update(
            means, variances, z.astype(np.float32).astype(np.float64), y, 0.7
        )
    np.testing.assert_allclose(lab.means.numpy(), means, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(lab.variances.numpy(), variances, rtol=1e-6)
    assert lab.means[3].abs().sum() == 0 and float(lab.variances[3]) == 1.0


def test_top2_labels_and_log_density() -> None:
    lab = OnlineGaussianLabeler(3, 2, memory=0.0)
    z = torch.tensor([[0.0, 0.0], [0.1, 0.0], [5.0, 0.0], [5.1, 0.0], [0.0, 5.0], [0.0, 5.2]])
    lab.update(z, torch.tensor([0, 0, 1, 1, 2, 2]))
    q = torch.tensor([[2.5, 0.0], [100.0, -100.0]])
    lp = lab.log_prob(q)
    var = lab.variances[0].item()
    expected = -0.5 * (
        (q[0] - lab.means[0].float()).square().sum() / var + 2 * math.log(2 * math.pi * var)
    )
    assert float(lp[0, 0]) == pytest.approx(float(expected), rel=1e-5)
    t = lab.targets(q)
    assert_valid_labels(t, 2, 3)
    assert int((t[0] > 0).sum()) <= 2


def test_state_dict_round_trip() -> None:
    lab = OnlineGaussianLabeler(3, 2, memory=0.5)
    lab.update(torch.randn(10, 2), torch.randint(0, 3, (10,)))
    other = OnlineGaussianLabeler(3, 2, memory=0.5)
    other.load_state_dict(lab.state_dict())
    q = torch.randn(5, 2)
    torch.testing.assert_close(lab.targets(q), other.targets(q))


def test_bad_input() -> None:
    lab = OnlineGaussianLabeler(3, 2)
    with pytest.raises(ValueError, match=r"features must be of shape \(batch_size, 2\)"):
        lab.update(torch.randn(4, 3), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="NaN"):
        lab.targets(torch.tensor([[float("nan"), 0.0]]))
    with pytest.raises(ValueError, match="memory must be in"):
        OnlineGaussianLabeler(3, 2, memory=1.0)
    z = torch.randn(4, 2)
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\)"):
        lab.update(z, torch.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\)"):
        lab.update(z, torch.tensor([0, -1, 2, 1]))
    with pytest.raises(ValueError, match="integer class indices"):
        lab.update(z, torch.tensor([0.7, 1.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        OnlineGaussianLabeler(2.5, 2)  # type: ignore[arg-type]
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="min_variance must be"):
            OnlineGaussianLabeler(3, 2, min_variance=bad)
    assert OnlineGaussianLabeler(np.int64(3), np.int64(2)).num_classes == 3  # NumPy ints work
    before = {k: v.clone() for k, v in lab.state_dict().items()}
    lab.update(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long))  # an empty shard: no-op
    assert all(torch.equal(before[k], v) for k, v in lab.state_dict().items())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(
    rank: int, world: int, port: int, z: torch.Tensor, y: torch.Tensor, zq: torch.Tensor, out: str
) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        lab = OnlineGaussianLabeler(4, z.shape[2], memory=0.6)
        n = z.shape[1]
        shard = slice(rank * n // world, (rank + 1) * n // world)
        for step in range(3):
            lab.update(z[step, shard], y[step, shard])
        torch.save({"targets": lab.targets(zq), **lab.state_dict()}, f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


def test_two_gloo_workers_match_one_process_on_the_global_batch(tmp_path) -> None:
    g = torch.Generator().manual_seed(0)
    z = torch.randn(3, 64, 5, generator=g)
    y = torch.randint(0, 4, (3, 64), generator=g)
    zq = torch.randn(20, 5, generator=g)
    single = OnlineGaussianLabeler(4, 5, memory=0.6)
    for step in range(3):
        single.update(z[step], y[step])
    out = str(tmp_path / "state")
    # Each worker gets half of every step's batch (dim 1).
    mp.spawn(_worker, args=(2, _free_port(), z, y, zq, out), nprocs=2, join=True)
    for rank in range(2):
        got = torch.load(f"{out}.{rank}", weights_only=True)
        torch.testing.assert_close(got["means"], single.means)
        torch.testing.assert_close(got["variances"], single.variances)
        torch.testing.assert_close(got["targets"], single.targets(zq))
