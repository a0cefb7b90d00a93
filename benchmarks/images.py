"""Image training speed: GenLabel's overhead over mixup, and the Trainer over a bare loop.

1. One training step (forward, loss, backward, SGD step) of ``mixup_genlabel`` against one
   of ``mixup``, same model and batch of 128: SmallCNN on 28x28 images, PreAct-ResNet-18 on
   32x32. GenLabel's step (Algorithm 3) adds a forward pass of the clean batch without
   gradients (the class statistics need the clean features), the statistics update and the
   labels; the overhead is the median over interleaved rounds of (GenLabel / mixup) - 1.
   GenLabel is timed as Algorithm 3 writes it (statistics on every batch) and with
   ``update_every=k`` (``--update-every``, default 8: the statistics pass on every k-th
   batch after the warm-up batches, which are not timed; the time is the mean over k
   consecutive steps).
   With ``--channels-last both`` the models and batches are also timed in the channels-last
   memory format, which on the CPU makes the no-gradient forward pass much cheaper.
2. The Trainer's images per second on an epoch of in-memory uint8 images against a bare
   PyTorch loop doing the same work (shuffle, scale to [0, 1], forward, cross entropy,
   backward, SGD step), same model, plain training; the ratio is the median over
   interleaved rounds of bare time / Trainer time (>= 0.95 is the target).

Functions are timed in interleaved rounds (``paired_times``): a round of each, then again,
so a shared machine's drift hits all of them alike.

Run: ``.venv/bin/python benchmarks/images.py [--threads 1] [--repeat 7]``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, markdown_table, paired_times  # noqa: E402
from genlabel.images import build_step  # noqa: E402
from genlabel.models import build_model  # noqa: E402
from genlabel.training import Trainer  # noqa: E402

MODELS = {"cnn": (1, 28, "SmallCNN, 28x28"), "preact_resnet18": (3, 32, "PreAct-ResNet-18, 32x32")}
BATCH = 128


DEVICE = torch.device("cpu")


def _sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


def _model(name: str, channels_last: bool) -> torch.nn.Module:
    channels, size, _ = MODELS[name]
    model = build_model(
        name, num_classes=10, in_channels=channels, image_size=size,
        normalize=((0.5,) * channels, (0.25,) * channels), seed=0,
    ).to(DEVICE)  # fmt: skip
    # Module.to(memory_format=...) works at run time; torch's overloads omit it.
    return model.to(memory_format=torch.channels_last) if channels_last else model  # type: ignore[call-overload]


def _batch(name: str, channels_last: bool) -> tuple[torch.Tensor, torch.Tensor]:
    channels, size, _ = MODELS[name]
    g = torch.Generator().manual_seed(0)
    x = torch.rand(BATCH, channels, size, size, generator=g).to(DEVICE)
    y = torch.randint(0, 10, (BATCH,), generator=g).to(DEVICE)
    return (x.contiguous(memory_format=torch.channels_last) if channels_last else x), y


def _training_step(
    name: str, method: str, channels_last: bool, **options: int
) -> Callable[[], None]:
    model = _model(name, channels_last)
    step = build_step(
        method, num_classes=10, in_channels=MODELS[name][0],
        feature_dim=model.feature_dim, seed=0, **options,  # type: ignore[arg-type]
    )  # fmt: skip
    if hasattr(step, "to"):
        step.to(DEVICE)
    x, y = _batch(name, channels_last)
    # lr 0: every call does the same work on the same weights.
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9)

    def run() -> None:
        loss = step.training_loss(model, x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        _sync()

    return run


def _steps(step: Callable[[], None], k: int) -> Callable[[], None]:
    """k consecutive steps as one call: one period of ``update_every=k``."""

    def run() -> None:
        for _ in range(k):
            step()

    return run


def overhead_rows(
    models: list[str], formats: list[bool], repeat: int, every: int = 8
) -> list[list[str]]:
    rows = []
    for name in models:
        for channels_last in formats:
            fns = [
                _training_step(name, "mixup", channels_last),
                _training_step(name, "mixup_genlabel", channels_last),
                _steps(
                    _training_step(  # the steady state, after the warm-up batches
                        name, "mixup_genlabel", channels_last, update_every=every, update_warmup=0
                    ),
                    every,
                ),
            ]
            (mixup_s, genlabel_s, every_s), (_, ratio, every_ratio) = paired_times(
                fns, repeat=repeat
            )
            every_s, every_ratio = every_s / every, every_ratio / every  # per step
            layout = "channels-last" if channels_last else "contiguous"
            rows.append([
                MODELS[name][2], layout, f"{mixup_s * 1e3:.1f}", f"{genlabel_s * 1e3:.1f}",
                f"**{100 * (ratio - 1):+.1f} %**", f"{every_s * 1e3:.1f}",
                f"**{100 * (every_ratio - 1):+.1f} %**",
            ])  # fmt: skip
            print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    return rows


def _images(name: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    channels, size, _ = MODELS[name]
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (n, channels, size, size), generator=g, dtype=torch.uint8)
    return x, torch.randint(0, 10, (n,), generator=g)


def _bare_epoch(name: str, n: int) -> Callable[[], None]:
    """A plain PyTorch loop: what a user would write without the Trainer."""
    model = _model(name, False)
    X, Y = _images(name, n)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9, weight_decay=5e-4)
    g = torch.Generator().manual_seed(0)

    def run() -> None:
        model.train()
        order = torch.randperm(n, generator=g)
        for start in range(0, n, BATCH):
            rows = order[start : start + BATCH]
            x = X[rows].to(DEVICE, non_blocking=True).float().div_(255.0)
            loss = F.cross_entropy(model(x), Y[rows].to(DEVICE, non_blocking=True))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        _sync()

    return run


def _trainer_epoch(name: str, n: int) -> Callable[[], None]:
    model = _model(name, False)
    data = _images(name, n)
    trainer = Trainer(
        model, optimizer="sgd", lr=1e-12, momentum=0.9, weight_decay=5e-4, epochs=1,
        batch_size=BATCH, device=DEVICE, channels_last=False, random_state=0, verbose=0,
    )  # fmt: skip

    def run() -> None:
        trainer.fit(data)
        _sync()

    return run


def trainer_rows(models: list[str], batches: dict[str, int], repeat: int) -> list[list[str]]:
    rows = []
    for name in models:
        n = batches[name] * BATCH
        (bare_s, trainer_s), (_, ratio) = paired_times(
            [_bare_epoch(name, n), _trainer_epoch(name, n)], repeat=repeat
        )
        rows.append([
            MODELS[name][2], str(n), f"{n / bare_s:.0f}", f"{n / trainer_s:.0f}",
            f"**{1 / ratio:.3f}**",
        ])  # fmt: skip
        print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument("--repeat", type=int, default=7, help="interleaved rounds")
    parser.add_argument("--models", default="cnn,preact_resnet18")
    parser.add_argument(
        "--update-every", type=int, default=8,
        help="also time GenLabel with the statistics pass on every k-th batch only",
    )  # fmt: skip
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--channels-last", choices=["no", "both"], default="both",
        help="also time the overhead in the channels-last memory format",
    )  # fmt: skip
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    global DEVICE
    DEVICE = torch.device(args.device)
    models = [m for m in args.models.split(",") if m]
    formats = [False, True] if args.channels_last == "both" else [False]
    overhead = overhead_rows(models, formats, args.repeat, args.update_every)
    trainer = trainer_rows(models, {"cnn": 16, "preact_resnet18": 2}, args.repeat)
    where = torch.cuda.get_device_name(DEVICE) if DEVICE.type == "cuda" else "CPU"
    print(f"\nMachine: {machine()}; {where}; batch {BATCH}, {args.repeat} interleaved rounds\n")
    print("GenLabel (Algorithm 3) against mixup, one training step (target: overhead <= 5 %):\n")
    k = args.update_every
    header = ["model", "memory format", "mixup ms", "mixup_genlabel ms", "overhead",
              f"update_every={k} ms", f"overhead, update_every={k}"]  # fmt: skip
    print(markdown_table(header, overhead))
    print("\nThe Trainer against a bare PyTorch loop, plain training (target: ratio >= 0.95):\n")
    header = ["model", "images per epoch", "bare images/s", "Trainer images/s", "Trainer / bare"]
    print(markdown_table(header, trainer))


if __name__ == "__main__":
    main()
