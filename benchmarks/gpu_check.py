"""One short check for a machine with a CUDA GPU; it needs no data and runs as is::

    python benchmarks/gpu_check.py            # about 5 minutes on one recent GPU

1. the CUDA tests: ``pytest tests -k cuda``;
2. CIFAR-10 in its binary format, generated here (random images whose colour depends on
   the class, so that there is something to learn), written as data_batch_1..5.bin and
   test_batch.bin and read back by ``load_images``;
3. a few epochs of PreAct-ResNet-18 with ``vanilla`` and ``mixup_genlabel`` through the
   image protocol (``run_image_cell``: Trainer, augmentation, AMP bf16): test accuracy,
   training seconds, images per second;
4. images per second of the Trainer in float32 and in AMP bf16, and GenLabel's overhead
   over mixup for one training step (``benchmarks/images.py``).

It prints one Markdown table. ``--device cpu --n-train 512 --epochs 1 --skip-tests`` runs
the same steps on the CPU, small, to check the script itself.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
import images as image_bench  # noqa: E402
from _common import machine, markdown_table, paired_times  # noqa: E402
from genlabel.data.images import load_images  # noqa: E402
from genlabel.images import ImageSettings, run_image_cell  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def write_cifar10(root: Path, n_train: int, n_test: int, seed: int = 0) -> Path:
    """CIFAR-10's binary files: records of <label byte><3072 pixel bytes, R, G, B planes>."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True, exist_ok=True)
    colours = rng.integers(40, 216, size=(10, 3))  # one mean colour per class

    def records(n: int) -> bytes:
        labels = rng.integers(0, 10, n)
        noise = rng.normal(0, 40, size=(n, 3, 32, 32))
        pixels = np.clip(colours[labels][:, :, None, None] + noise, 0, 255).astype(np.uint8)
        rows = np.concatenate([labels[:, None].astype(np.uint8), pixels.reshape(n, -1)], 1)
        return rows.tobytes()

    per_file = n_train // 5
    for i in range(1, 6):
        (folder / f"data_batch_{i}.bin").write_bytes(records(per_file))
    (folder / "test_batch.bin").write_bytes(records(n_test))
    return root


def cuda_tests() -> list[str]:
    start = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "-k", "cuda", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    summary = (res.stdout.strip().splitlines() or ["(no output)"])[-1]
    if res.returncode != 0:
        print(res.stdout[-4000:], res.stderr[-2000:], file=sys.stderr)
    status = "ok" if res.returncode == 0 else f"FAILED (exit {res.returncode})"
    return ["pytest tests -k cuda", status, summary, f"{time.perf_counter() - start:.0f}"]


def training_rows(data: Path, args: argparse.Namespace) -> list[list[str]]:
    rows = []
    settings = ImageSettings(
        dataset="cifar10", model="preact_resnet18", epochs=args.epochs, lr=0.1,
        device=args.device, amp="bf16", data_dir=str(data),
    )  # fmt: skip
    for method in ("vanilla", "mixup_genlabel"):
        start = time.perf_counter()
        (record,) = run_image_cell(settings, method, 0)
        train_s = record["seconds"]
        images_s = args.epochs * 5 * (args.n_train // 5) / max(train_s, 1e-9)  # as written
        rows.append([
            f"PreAct-ResNet-18, {method}, {args.epochs} epochs, bf16",
            f"test accuracy {100 * record['test_accuracy']:.1f} %, ECE {100 * record['ece']:.1f} %",
            f"{images_s:.0f} images/s (training and evaluation)",
            f"{time.perf_counter() - start:.0f}",
        ])  # fmt: skip
        print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    return rows


def throughput_rows(args: argparse.Namespace) -> list[list[str]]:
    """Trainer images/s in float32 and bf16 (plain training), and GenLabel's overhead."""
    from genlabel.training import Trainer

    n = args.n_train
    data = image_bench._images("preact_resnet18", n)
    fns = []
    for amp in (None, "bf16"):
        model = image_bench._model("preact_resnet18", False)
        trainer = Trainer(model, optimizer="sgd", lr=1e-12, epochs=1, batch_size=128,
                          device=args.device, amp=amp, random_state=0, verbose=0)  # fmt: skip

        def epoch(trainer=trainer) -> None:
            trainer.fit(data)
            image_bench._sync()

        fns.append(epoch)
    start = time.perf_counter()
    (fp32_s, bf16_s), (_, ratio) = paired_times(fns, repeat=args.repeat)
    rows = [[
        "Trainer, PreAct-ResNet-18, batch 128", "float32 vs AMP bf16",
        f"{n / fp32_s:.0f} vs {n / bf16_s:.0f} images/s (bf16 {1 / ratio:.2f}x)",
        f"{time.perf_counter() - start:.0f}",
    ]]  # fmt: skip
    start = time.perf_counter()
    overhead = image_bench.overhead_rows(
        ["preact_resnet18"], [False, True], repeat=args.repeat, every=args.update_every
    )
    for row in overhead:
        rows.append([
            f"one step, {row[0]}, {row[1]}",
            f"mixup_genlabel vs mixup (update_every={args.update_every})",
            f"{row[2]} vs {row[3]} ms: {row[4].strip('*')}; {row[5]} ms: {row[6].strip('*')}",
            f"{time.perf_counter() - start:.0f}",
        ])  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--n-train", type=int, default=20_000)
    parser.add_argument("--n-test", type=int, default=2_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--skip-tests", action="store_true")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved timing rounds")
    parser.add_argument(
        "--update-every", type=int, default=8, help="GenLabel's statistics every k-th batch too"
    )
    args = parser.parse_args()
    image_bench.DEVICE = torch.device(args.device)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("error: no CUDA device is visible; use --device cpu for a dry run")
    rows = [] if args.skip_tests else [cuda_tests()]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        data = write_cifar10(Path(tmp), args.n_train, args.n_test)
        train = load_images("cifar10", root=data, split="train")
        rows.append([
            "CIFAR-10 binary files, written and read back", "ok",
            f"train {tuple(train.x.shape)}, {train.n_classes} classes",
            f"{time.perf_counter() - start:.0f}",
        ])  # fmt: skip
        rows += training_rows(data, args)
    rows += throughput_rows(args)
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    print(f"\nMachine: {machine()}; {where}\n")
    print(markdown_table(["check", "what", "result", "seconds"], rows))


if __name__ == "__main__":
    main()
