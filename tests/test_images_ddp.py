"""Several processes and killed processes: two gloo workers train as one process on the
global batch, and a run killed with SIGKILL resumes to the uninterrupted weights."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from genlabel._distributed import is_distributed, is_main_process, rank_and_world
from genlabel.images import GenLabelStep
from genlabel.images.distributed import is_main_process as images_is_main_process
from genlabel.models import SmallCNN
from genlabel.training import Callback, OnlineGaussianLabeler, Trainer

pytestmark = pytest.mark.usefixtures("one_thread")

SRC = Path(__file__).resolve().parents[1] / "src"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (96, 1, 8, 8), generator=g, dtype=torch.uint8)
    return x, torch.randint(0, 4, (96,), generator=g)


class _Stop(Exception):
    pass


class _StopAfterFirstEpoch(Callback):
    def on_epoch_end(self, trainer, epoch, logs):
        raise _Stop


def _train(batch_size: int, folder=None, stop=False) -> tuple[SmallCNN, OnlineGaussianLabeler]:
    """mixup_genlabel with alpha = 0 (every point is its own partner), no batch norm."""
    model = SmallCNN(1, 4, 8, width=4, batch_norm=False, seed=0)
    labeler = OnlineGaussianLabeler(4, SmallCNN.feature_dim, memory=0.5, bias_correction=True)
    step = GenLabelStep(labeler, alpha=0.0, gamma=0.5, seed=1)
    Trainer(model, mixer=step, optimizer="sgd", lr=0.05, epochs=2, batch_size=batch_size,
            checkpoint_dir=folder, callbacks=[_StopAfterFirstEpoch()] if stop else [],
            random_state=0, verbose=0).fit(_data())  # fmt: skip
    return model, labeler


def _worker(rank: int, world: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        # The one home of the rank / world-size queries (issue 39: copied four times).
        assert rank_and_world() == (rank, world)
        assert is_distributed() and is_main_process() == (rank == 0)
        # Stopped after the first epoch (rank 0 writes the checkpoint), then resumed: every
        # rank loads rank 0's checkpoint.
        with pytest.raises(_Stop):
            _train(batch_size=16, folder=f"{out}-checkpoints", stop=True)
        dist.barrier()
        model, labeler = _train(batch_size=16, folder=f"{out}-checkpoints")
        torch.save({"model": model.state_dict(), "labeler": labeler.state_dict()}, f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


def test_one_process_is_the_main_process_of_a_world_of_one() -> None:
    """Issue 39: rank / world size were computed in four modules; one helper now answers,
    and genlabel.images.distributed re-exports its is_main_process."""
    assert rank_and_world() == (0, 1)
    assert is_main_process() and not is_distributed()
    assert images_is_main_process is is_main_process


def test_two_gloo_workers_train_and_resume_as_one_process_on_the_global_batch(tmp_path) -> None:
    model, labeler = _train(batch_size=32)  # 3 global batches of 32 per epoch
    out = str(tmp_path / "state")
    mp.spawn(_worker, args=(2, _free_port(), out), nprocs=2, join=True)
    for rank in range(2):
        got = torch.load(f"{out}.{rank}", weights_only=True)
        # The statistics of the global batch (all-reduced), on every worker; float32 features
        # of weights that agree to rounding (the gradient is summed in another order).
        for key, value in labeler.state_dict().items():
            torch.testing.assert_close(got["labeler"][key], value, rtol=1e-5, atol=1e-7)
        assert int(got["labeler"]["seen"].sum()) == 2 * 96
        # DDP averages the two halves' gradients: the gradient of the global mean loss.
        for key, value in model.state_dict().items():
            torch.testing.assert_close(got["model"][key], value, rtol=1e-4, atol=1e-6)


def _cli(db: Path, epochs: int) -> list[str]:
    return [
        sys.executable, "-m", "genlabel", "images", "--dataset", "digits",
        "--methods", "mixup_genlabel", "--epochs", str(epochs), "--batch-size", "64",
        "--db", str(db), "--no-progress",
    ]  # fmt: skip


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)
    return os.environ | {"PYTHONPATH": path, "OMP_NUM_THREADS": "1"}


def _model_file(db: Path) -> Path:
    (folder,) = (db.parent / f"{db.stem}-checkpoints").iterdir()
    return folder / "model.pt"


def test_a_run_killed_by_sigkill_resumes_to_the_uninterrupted_weights(tmp_path) -> None:
    killed, full = tmp_path / "killed" / "r.sqlite", tmp_path / "full" / "r.sqlite"
    epochs = 5
    proc = subprocess.Popen(
        _cli(killed, epochs), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    checkpoints = killed.parent / "r-checkpoints"
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not list(checkpoints.glob("*/last.pt")):
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    (last,) = checkpoints.glob("*/last.pt")
    done = torch.load(last, weights_only=True)["epoch"]
    assert 1 <= done < epochs and not list(checkpoints.glob("*/model.pt"))
    uninterrupted = subprocess.Popen(_cli(full, epochs), env=_env(), stderr=subprocess.PIPE)
    again = subprocess.run(_cli(killed, epochs), env=_env(), capture_output=True, text=True)
    assert uninterrupted.wait(timeout=300) == 0
    assert again.returncode == 0, again.stderr
    a = torch.load(_model_file(killed), weights_only=True)["model"]
    b = torch.load(_model_file(full), weights_only=True)["model"]
    for key in b:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.slow
def test_torchrun_trains_a_cell_with_two_processes(tmp_path) -> None:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    if torchrun is None:
        pytest.skip("torchrun is not installed beside this Python")
    db = tmp_path / "ddp.sqlite"
    args = [torchrun, "--nproc_per_node", "2", "--master_port", str(_free_port()), "-m",
            *_cli(db, 2)[2:], "--methods", "vanilla,mixup_genlabel"]  # fmt: skip
    res = subprocess.run(args, env=_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("2 cells, 0 done") == 1  # rank 0 speaks
    import sqlite3

    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT method, test_accuracy FROM results").fetchall()
    assert sorted(m for m, _ in rows) == ["mixup_genlabel", "vanilla"]
