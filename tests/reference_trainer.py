"""One model at a time: the independent reference of the batched grid trainer.

A plain ``nn.Linear`` stack, ``torch.optim.Adam`` and a DataLoader-style loop. It shares no
code with ``genlabel.training.grid``: it seeds its own generators (by the formula the grid
documents), draws with ``draw_mix_params``, mixes with ``apply_mix``, labels with
``label_mixed`` and takes the loss from ``soft_cross_entropy``, the public primitives. The
exactness tests compare the grid's parameters with it; ``benchmarks/protocol.py`` times it
(with per-class scipy labels, ``label_backend="scipy"``) as the one-model-at-a-time way.
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import scipy.stats as st
import torch
from torch import nn

from genlabel.density import make_density
from genlabel.labels import label_mixed
from genlabel.losses import soft_cross_entropy
from genlabel.mixing import MixParams, apply_mix, draw_mix_params, one_hot, sample_permutation
from genlabel.models import init_linear, layer_sizes
from genlabel.registry import check_method

__all__ = ["train_single", "scipy_genlabel_targets"]

ADAMIXUP_HIDDEN = 64  # the grid's documented AdaMixup width, restated on purpose


def _generators(seed: int, stream: int) -> tuple[torch.Generator, torch.Generator]:
    """(initial weights, draws of the stream) — the seeding the grid documents."""
    init = torch.Generator().manual_seed(int(seed))
    draws = torch.Generator().manual_seed(int(seed) * 1_000_003 + 7919 * (stream + 1))
    return init, draws


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


def _forward(layers: nn.ModuleList, x: torch.Tensor, start: int = 0, stop: int | None = None):
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
    d = X.shape[1]
    for c in range(k):
        Xc = X[y == c]
        if kind == "gm":
            cov = np.cov(Xc.T, bias=True).reshape(d, d) + 1e-4 * np.eye(d)
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
    config,
    settings,
    *,
    label_backend: str = "torch",
    stream: int | None = None,
    sample_weight: torch.Tensor | None = None,
) -> nn.ModuleList:
    """Train one configuration on ``X[train_rows]``; returns the classifier's linear layers."""
    spec = check_method(settings.method, settings.model)
    k, dtype = num_classes, X.dtype
    # GenLabel with the MLP: "two_model" (the default, restated here on purpose) labels in
    # the features of a separately trained vanilla model; "reference" trains a new last layer
    # on frozen warm-up features; "input" is Algorithm 1.
    variant = (
        (settings.latent or "two_model") if spec.is_genlabel and settings.model == "mlp" else None
    )
    two_phase = variant == "reference"
    stream = config.fold if stream is None else stream
    init_gen, gen = _generators(settings.seed, stream)
    sizes = layer_sizes(settings.model, X.shape[1], k, settings.hidden)
    layers = _mlp(sizes, init_gen, dtype)
    params = list(layers.parameters())
    nets = {"layers": layers}
    if spec.mix == "adaptive":
        nets["policy"] = _mlp([2 * X.shape[1], ADAMIXUP_HIDDEN, 3], init_gen, dtype)
        nets["disc"] = _mlp([X.shape[1], ADAMIXUP_HIDDEN, 1], init_gen, dtype)
        params += list(nets["policy"].parameters()) + list(nets["disc"].parameters())
    opt = torch.optim.Adam(params, lr=config.lr, weight_decay=settings.weight_decay)
    Xf, yf = X[train_rows], y[train_rows]
    wf = None if sample_weight is None else sample_weight[train_rows].to(dtype)
    density = None
    features = None
    log_prior = None
    if settings.class_prior:
        counts = torch.bincount(yf, minlength=k).double()
        log_prior = torch.log(counts / counts.sum())
    if variant == "two_model":
        vanilla = replace(settings, method="vanilla", latent=None, class_prior=False)
        phi = train_single(
            X, y, k, train_rows, config, vanilla, stream=stream, sample_weight=sample_weight
        )
        features = lambda x: _forward(phi, x, 0, len(phi) - 1).detach()  # noqa: E731
    if spec.is_genlabel and not two_phase and label_backend == "torch":
        fit_on = Xf if features is None else features(Xf)
        density = make_density(config.density).fit(fit_on, yf, classes=list(range(k)))
    last_only = False
    for epoch in range(settings.epochs):
        if two_phase and epoch == settings.warmup_epochs:
            with torch.no_grad():
                z = _forward(layers, Xf, 0, len(layers) - 1)
            density = make_density(config.density).fit(z.double(), yf, classes=list(range(k)))
            w, b = init_linear(sizes[-2], sizes[-1], gen)
            with torch.no_grad():
                last = layers[-1]
                assert isinstance(last, nn.Linear)  # ModuleList items are typed as Module
                last.weight.copy_(w.T.to(dtype))
                last.bias.copy_(b.to(dtype))
            opt = torch.optim.Adam(
                layers[-1].parameters(), lr=config.lr, weight_decay=settings.weight_decay
            )
            last_only = True
        mixing = spec.mix != "none" and not (two_phase and not last_only)
        for rows in torch.randperm(len(Xf), generator=gen).split(settings.batch_size):
            xb, yb = Xf[rows], yf[rows]
            wb = None if wf is None else wf[rows]
            if not mixing:
                loss = soft_cross_entropy(_forward(layers, xb), one_hot(yb, k, dtype), wb)
            elif spec.mix == "adaptive":
                perm = sample_permutation(len(rows), generator=gen)
                u = torch.rand(len(rows), generator=gen, dtype=torch.float64)
                loss = _adamixup(nets, xb, yb, perm, u, k, wb)
            else:
                n_layers = len(layers) if spec.mix == "manifold" else None
                draw = draw_mix_params(
                    len(rows), alpha=settings.alpha, per_sample=settings.per_sample,
                    generator=gen, layers=None if n_layers is None else range(n_layers),
                )  # fmt: skip
                run = SimpleNamespace(
                    spec=spec, config=config, settings=settings, k=k, reference=(Xf, yf),
                    density=density, label_backend=label_backend, last_only=last_only,
                    features=features, log_prior=log_prior,
                )  # fmt: skip
                w_mix = None if wb is None else apply_mix(wb, draw)
                loss = _mixed_loss(layers, xb, yb, draw, run, w_mix)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return layers


def _adamixup(nets, xb, yb, perm, u, k, w=None):
    layers, policy, disc = nets["layers"], nets["policy"], nets["disc"]
    w = torch.ones(len(yb), dtype=xb.dtype) if w is None else w
    ya = one_hot(yb, k, xb.dtype)
    shares = torch.softmax(_forward(policy, torch.cat([xb, xb[perm]], -1)), -1)
    params = MixParams(lam=shares[:, 0] + u.to(xb.dtype) * shares[:, 1], perm=perm)
    x_mix = apply_mix(xb, params)
    loss = soft_cross_entropy(_forward(layers, x_mix), apply_mix(ya, params), w)
    loss = loss + soft_cross_entropy(_forward(layers, xb), ya, w)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    d_mix, d_real = _forward(disc, x_mix).squeeze(-1), _forward(disc, xb).squeeze(-1)
    per = bce(d_mix, torch.zeros_like(d_mix), reduction="none")
    per = per + bce(d_real, torch.ones_like(d_real), reduction="none")
    return loss + (per * w).sum() / w.sum().clamp_min(1.0)


def _mixed_loss(layers, xb, yb, draw, run, w=None):
    spec, config, settings, k = run.spec, run.config, run.settings, run.k
    reference, density, log_prior = run.reference, run.density, run.log_prior
    dtype = xb.dtype
    if spec.mix == "manifold":
        h = apply_mix(_forward(layers, xb, 0, draw.layer), draw)
        target = apply_mix(one_hot(yb, k, dtype), draw)
        return soft_cross_entropy(_forward(layers, h, draw.layer), target, w)
    x_mix = apply_mix(xb, draw)
    if not spec.is_genlabel:
        lab = label_mixed(
            spec.rule, draw, yb, k, points=x_mix, reference=reference,
            sigma2=settings.sigma2, dtype=dtype,
        )  # fmt: skip
        weight = lab.weight if w is None else lab.weight * w
        return soft_cross_entropy(_forward(layers, x_mix), lab.targets, weight=weight)
    if run.last_only:
        with torch.no_grad():
            z = _forward(layers, x_mix, 0, len(layers) - 1)
        lab = label_mixed(
            "genlabel", draw, yb, k, points=z, density=density, log_prior=log_prior, dtype=dtype
        )
        target = config.gamma * lab.targets + (1 - config.gamma) * lab.mix_targets
        return soft_cross_entropy(layers[-1](z), target, w)
    if run.label_backend == "scipy":
        Xr, yr = reference
        gen_np = scipy_genlabel_targets(
            config.density, Xr.double().numpy(), yr.numpy(), k, x_mix.double().numpy()
        )
        gen, mix = torch.from_numpy(gen_np).to(dtype), apply_mix(one_hot(yb, k, dtype), draw)
    else:
        points = x_mix if run.features is None else run.features(x_mix)
        lab = label_mixed(
            "genlabel", draw, yb, k, points=points, density=density, log_prior=log_prior,
            dtype=dtype,
        )  # fmt: skip
        gen, mix = lab.targets, lab.mix_targets
    target = config.gamma * gen + (1 - config.gamma) * mix
    return soft_cross_entropy(_forward(layers, x_mix), target, w)
