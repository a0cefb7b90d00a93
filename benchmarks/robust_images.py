"""Is a trained image model's robust accuracy real? Several attacks and its logit margins.

For the finished models of ``genlabel images`` cells (their ``model.pt``, in the store's
``<db stem>-checkpoints/<cell>/`` folders), on the first ``--n`` test images, eps on [0, 1]
pixels: the clean accuracy (all test images and the attacked ones), the logit margin
(true class minus the best other, quantiles 10/50/90 %), the first-order L-inf distance to
the nearest boundary (margin / ||d margin / dx||_1, quantiles, and the share beyond eps),
the share of points whose cross-entropy input gradient is exactly zero (a saturated
softmax masks gradients), then robust accuracy under each attack: ``fgsm``, ``pgd`` (20
steps, one restart: what ``--attack pgd`` runs), ``pgd_strong`` (``--steps`` steps,
``--restarts`` restarts), ``pgd_margin`` (``--steps`` steps on the margin loss, which
no saturated softmax can mask), ``square`` (AutoAttack's gradient-free Square attack alone,
5,000 queries), ``autoattack`` (the standard set); ``pgd@E`` is PGD at eps E. Every
attack runs through :mod:`genlabel.robustness` (``robust_accuracy``: a point counts when
its clean and attacked predictions are both correct) on the model in eval mode, on the same
[0, 1] inputs as the clean accuracy (the model normalises in its first layer). One table:
a column per model, a row per quantity.

Run: ``.venv/bin/python benchmarks/robust_images.py CELL_FOLDER... [--dataset mnist]
[--n 300] [--eps 0.1] [--attacks fgsm,pgd,pgd_strong,square]``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from _common import machine, markdown_table  # the script's folder is on sys.path
from genlabel.images.experiment import (
    MODEL_FILE,
    ImageSettings,
    build_image_model,
    load_image_data,
    predict_proba,
)
from genlabel.robustness import robust_accuracy


def _quantiles(values: torch.Tensor, digits: int) -> str:
    q = torch.quantile(values.double(), torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64))
    return " / ".join(f"{float(v):.{digits}f}" for v in q)


def margins(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> dict[str, str]:
    """Logit margins, first-order distances to the boundary, zero CE gradients."""
    x = x.detach().requires_grad_(True)
    logits = model(x)
    rows = torch.arange(len(y))
    others = logits.detach().clone()
    others[rows, y] = -torch.inf
    margin = logits[rows, y] - logits[rows, others.argmax(1)]
    (grad,) = torch.autograd.grad(margin.sum(), x)
    distance = margin.detach() / grad.flatten(1).abs().sum(1).clamp_min(1e-30)
    (ce_grad,) = torch.autograd.grad(F.cross_entropy(model(x), y, reduction="sum"), x)
    zero = (ce_grad.flatten(1).abs().sum(1) == 0).double().mean()
    return {
        "margin q10/50/90": _quantiles(margin.detach(), 2),
        "distance q10/50/90": _quantiles(distance, 3),
        f"distance > {eps}": f"{100 * float((distance > eps).double().mean()):.1f}",
        "zero CE gradient": f"{100 * float(zero):.1f}",
    }


def attack(model: nn.Module, x, y, name: str, args: argparse.Namespace) -> float:
    """Robust accuracy (percent) under one attack of the list."""
    eps = args.eps
    if name.startswith("pgd@"):
        name, eps = "pgd", float(name[4:])
    kwargs: dict = {}
    if name == "pgd_strong":
        name, kwargs = "pgd", {"steps": args.steps, "restarts": args.restarts}
    elif name == "pgd_margin":
        name, kwargs = "pgd", {"steps": args.steps, "loss": "margin"}
    acc = robust_accuracy(model, x, y, attack=name, eps=eps, bounds=(0.0, 1.0), **kwargs)
    return 100 * acc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="cell folders holding model.pt")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--n", type=int, default=300, help="the first N test images")
    parser.add_argument("--eps", type=float, default=0.1)
    parser.add_argument("--attacks", default="fgsm,pgd,pgd_strong,square")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    settings = ImageSettings(dataset=args.dataset, model=args.model, data_dir=args.data_dir)
    train, test = load_image_data(settings)
    x, y = test.x[: args.n].float().div(255), test.y[: args.n]
    rows: list[dict[str, str]] = []
    seconds: dict[str, float] = {}
    for folder in args.folders:
        model = build_image_model(settings, train, seed=0)
        saved = torch.load(folder / MODEL_FILE, map_location="cpu", weights_only=True)
        model.load_state_dict(saved["model"])
        model.eval()
        proba = predict_proba(model, test.x, torch.device("cpu"))
        hits = proba.argmax(1) == test.y.numpy()
        row = {"model": folder.name, "clean": f"{100 * hits.mean():.2f}"}
        row[f"clean (first {len(y)})"] = f"{100 * hits[: len(y)].mean():.1f}"
        row |= margins(model, x, y, args.eps)
        for name in args.attacks.split(","):
            start = time.perf_counter()
            row[name] = f"{attack(model, x, y, name, args):.1f}"
            seconds[f"{folder.name} {name}"] = took = round(time.perf_counter() - start, 1)
            print(f"{folder.name} {name}: {row[name]} % ({took} s)", flush=True)
        rows.append(row)
    print(f"\n{machine()}; eps {args.eps}, pgd_strong {args.steps} steps x {args.restarts}\n")
    header = ["", *(r["model"] for r in rows)]
    keys = [k for k in rows[0] if k != "model"]
    print(markdown_table(header, [[k, *(r[k] for r in rows)] for k in keys]))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "seconds": seconds}, indent=1))


if __name__ == "__main__":
    main()
