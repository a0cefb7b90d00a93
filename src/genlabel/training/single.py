"""One model at a time: the reference implementation of the training protocol.

A plain ``nn.Module``, ``torch.optim.Adam`` and a DataLoader-style loop, consuming the same
random draws as ``training.grid`` (``FoldDraws``). The tests use it to show that the
batched grid trainer gives the same parameters; the protocol benchmark times it (with
per-class scipy labels, ``label_backend="scipy"``) as the one-model-at-a-time way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.stats as st
import torch
from torch import nn

from ..density import make_density
from ..losses import soft_cross_entropy
from ..mixing import one_hot
from ..models import init_linear, layer_sizes
from .grid import (
    ADAMIXUP_HIDDEN,
    FoldDraws,
    TrainSettings,
    _check_method,
    init_generator,
    rule_targets,
)
from .methods import METHODS, Config

__all__ = ["train_single", "scipy_genlabel_targets"]


def _mlp(sizes: list[int], generator: torch.Generator, dtype: torch.dtype) -> nn.ModuleList:
    layers = nn.ModuleList()
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        lin = nn.Linear(fan_in, fan_out, dtype=dtype)
        w, b = init_linear(fan_in, fan_out, generator)
        with torch.no_grad():
            lin.weight.copy_(w.T)
            lin.bias.copy_(b)
        layers.append(lin)
    return layers


def _forward(
    layers: nn.ModuleList, x: torch.Tensor, start: int = 0, stop: int | None = None
) -> torch.Tensor:
    stop = len(layers) if stop is None else stop
    for i in range(start, stop):
        x = layers[i](x)
        if i < len(layers) - 1:
            x = torch.relu(x)
    return x


def scipy_genlabel_targets(
    kind: str, X: np.ndarray, y: np.ndarray, k: int, points: np.ndarray
) -> np.ndarray:
    """Per-class scipy densities (one call per class), normalised: the slow reference."""
    dens = []
    for c in range(k):
        Xc = X[y == c]
        if kind == "gm":
            cov = np.cov(Xc.T, bias=True).reshape(X.shape[1], X.shape[1]) + 1e-4 * np.eye(
                X.shape[1]
            )
            dens.append(st.multivariate_normal.pdf(points, Xc.mean(0), cov, allow_singular=True))
        else:
            dens.append(st.gaussian_kde(Xc.T).pdf(points.T))
    p = np.stack(dens, 1).reshape(len(points), k) + 1e-300
    return p / p.sum(1, keepdims=True)


def train_single(
    X: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    train_rows: torch.Tensor,
    config: Config,
    settings: TrainSettings,
    *,
    label_backend: str = "torch",
    stream: int | None = None,
) -> nn.ModuleList:
    """Train one configuration on ``X[train_rows]``; returns the classifier's linear layers."""
    _check_method(settings)
    method = METHODS[settings.method]
    init_gen = init_generator(settings.seed)
    sizes = layer_sizes(settings.model, X.shape[1], num_classes)
    layers = _mlp(sizes, init_gen, X.dtype)
    params = list(layers.parameters())
    policy = disc = None
    if method.mix == "adaptive":
        policy = _mlp([2 * X.shape[1], ADAMIXUP_HIDDEN, 3], init_gen, X.dtype)
        disc = _mlp([X.shape[1], ADAMIXUP_HIDDEN, 1], init_gen, X.dtype)
        params += list(policy.parameters()) + list(disc.parameters())
    opt = torch.optim.Adam(params, lr=config.lr, weight_decay=settings.weight_decay)
    draws = FoldDraws(settings.seed, config.fold if stream is None else stream)
    Xf, yf = X[train_rows], y[train_rows]
    k = num_classes
    density = None
    if method.rule == "genlabel" and not settings.two_phase and label_backend == "torch":
        density = make_density(config.density, **settings.density_params.get(config.density, {}))
        density.fit(Xf, yf, classes=list(range(k)))
    last_only = False
    run = _Run(layers, policy, disc, density, config, settings, k, (Xf, yf), label_backend)
    for epoch in range(settings.epochs):
        if settings.two_phase and epoch == settings.warmup_epochs:
            with torch.no_grad():
                z = _forward(layers, Xf, 0, len(layers) - 1)
            density = make_density(
                config.density, **settings.density_params.get(config.density, {})
            )
            run.density = density.fit(z.double(), yf, classes=list(range(k)))
            w, b = draws.linear_init(sizes[-2], sizes[-1])
            with torch.no_grad():
                layers[-1].weight.copy_(w.T.to(X.dtype))
                layers[-1].bias.copy_(b.to(X.dtype))
            opt = torch.optim.Adam(
                layers[-1].parameters(), lr=config.lr, weight_decay=settings.weight_decay
            )
            last_only = True
        mixing = method.mix != "none" and not (settings.two_phase and not last_only)
        order = draws.epoch_order(len(Xf))
        for rows in order.split(settings.batch_size):
            xb, yb = Xf[rows], yf[rows]
            draw = draws.batch(len(rows), settings, len(layers)) if mixing else {}
            loss = _batch_loss(run, xb, yb, draw, mixing, last_only)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return layers


@dataclass
class _Run:
    """What one configuration's training loop keeps fixed across batches."""

    layers: nn.ModuleList
    policy: nn.ModuleList | None
    disc: nn.ModuleList | None
    density: Any
    config: Config
    settings: TrainSettings
    k: int
    reference: tuple[torch.Tensor, torch.Tensor]
    label_backend: str


def _batch_loss(run: _Run, xb, yb, draw, mixing, last_only):
    layers, policy, disc, density = run.layers, run.policy, run.disc, run.density
    config, settings, k, reference, label_backend = (
        run.config,
        run.settings,
        run.k,
        run.reference,
        run.label_backend,
    )
    method = METHODS[settings.method]
    ya = one_hot(yb, k, xb.dtype)
    if not mixing:
        return soft_cross_entropy(_forward(layers, xb), ya)
    if method.mix == "manifold":
        lam = draw["lam"].to(xb.dtype).unsqueeze(-1)
        h = _forward(layers, xb, 0, draw["layer"])
        h = lam * h + (1 - lam) * h[draw["perm"]]
        return soft_cross_entropy(
            _forward(layers, h, draw["layer"]), lam * ya + (1 - lam) * ya[draw["perm"]]
        )
    if method.mix == "adaptive":
        partner = xb[draw["perm"]]
        shares = torch.softmax(_forward(policy, torch.cat([xb, partner], -1)), -1)
        lam = (shares[:, 0] + draw["u"].to(xb.dtype) * shares[:, 1]).unsqueeze(-1)
        x_mix = lam * xb + (1 - lam) * partner
        t_mix = lam * ya + (1 - lam) * ya[draw["perm"]]
        loss = soft_cross_entropy(_forward(layers, x_mix), t_mix) + soft_cross_entropy(
            _forward(layers, xb), ya
        )
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        d_mix, d_real = _forward(disc, x_mix).squeeze(-1), _forward(disc, xb).squeeze(-1)
        return loss + bce(d_mix, torch.zeros_like(d_mix)) + bce(d_real, torch.ones_like(d_real))
    lam = draw["lam"].to(xb.dtype).unsqueeze(-1)
    x_mix = lam * xb + (1 - lam) * xb[draw["perm"]]
    mix_t, rule_t, weight = rule_targets(settings, x_mix, draw, yb, k, reference)
    if method.rule != "genlabel":
        return soft_cross_entropy(_forward(layers, x_mix), rule_t, weight=weight)
    if last_only:
        with torch.no_grad():
            z = _forward(layers, x_mix, 0, len(layers) - 1)
        gen = density.targets(z)
        target = config.gamma * gen + (1 - config.gamma) * mix_t
        return soft_cross_entropy(layers[-1](z), target)
    if label_backend == "scipy":
        Xr, yr = reference
        gen_np = scipy_genlabel_targets(
            config.density, Xr.double().numpy(), yr.numpy(), k, x_mix.double().numpy()
        )
        gen = torch.from_numpy(gen_np).to(xb.dtype)
    else:
        gen = density.targets(x_mix).to(xb.dtype)
    target = config.gamma * gen + (1 - config.gamma) * mix_t
    return soft_cross_entropy(_forward(layers, x_mix), target)
