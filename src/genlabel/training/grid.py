"""Train a whole hyper-parameter grid (all folds x configurations) as one batched model.

The reference protocol (SPEC §9) trains ~1,200 small models per data set and method one
after another. Here the G = folds x configurations models are one stack (leading dimension
G of every weight), each with its own Adam state, learning rate and gamma, its own fold's
data and mixing draws:

* every fold has one generator; its draws (batch order, lambda, pairing, manifold layer,
  AdaMixup's u, the last-layer re-initialisation of Algorithm 2) are shared by all the
  configurations of that fold, exactly as if each were trained alone with the same seed
  (``training.single`` does that, and the tests compare the two);
* input-space mixes and their labels are computed once per fold (and per density kind) and
  shared by every learning rate and gamma;
* folds of different sizes are padded to the batch size with zero-weight rows, and a model
  whose fold has no batch left in an epoch skips the step (masked Adam update).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from ..density import ClassDensity, make_density
from ..labels import intrusion_keep_mask, logistic_labels, nearest_neighbor_labels
from ..mixing import one_hot, sample_lambda, sample_permutation
from ..models import StackedMLP, init_linear, layer_sizes
from .batched_adam import BatchedAdam
from .methods import METHODS, Config

__all__ = [
    "TrainSettings",
    "FoldDraws",
    "train_grid",
    "fold_generator",
    "init_generator",
    "ADAMIXUP_HIDDEN",
]

ADAMIXUP_HIDDEN = 64


@dataclass(frozen=True)
class TrainSettings:
    """Everything about a training run except the per-configuration hyper-parameters."""

    model: str = "logistic"
    method: str = "mixup"
    alpha: float = 1.0
    epochs: int = 100
    batch_size: int = 128
    weight_decay: float = 1e-4
    warmup_epochs: int = 20
    sigma2: float = 0.1
    per_sample: bool = False
    seed: int = 0
    device: str = "cpu"
    density_params: dict[str, Any] = field(default_factory=dict)

    @property
    def two_phase(self) -> bool:
        """Algorithm 2: GenLabel with the MLP (warm-up, latent density, new last layer)."""
        return self.method == "genlabel" and self.model == "mlp"


def init_generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def fold_generator(seed: int, fold: int) -> torch.Generator:
    # Distinct, reproducible streams per (trial seed, fold).
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + 7919 * (fold + 1))


class FoldDraws:
    """The random draws of one fold, in a fixed order shared with ``training.single``."""

    def __init__(self, seed: int, fold: int):
        self.generator = fold_generator(seed, fold)

    def epoch_order(self, n: int) -> torch.Tensor:
        return torch.randperm(n, generator=self.generator)

    def batch(self, size: int, settings: TrainSettings, n_layers: int) -> dict[str, Any]:
        mix = METHODS[settings.method].mix
        out: dict[str, Any] = {}
        if mix == "none":
            return out
        if mix == "manifold":
            out["layer"] = int(torch.randint(0, n_layers, (1,), generator=self.generator))
        if mix == "adaptive":
            out["perm"] = sample_permutation(size, generator=self.generator)
            out["u"] = torch.rand(size, generator=self.generator, dtype=torch.float64)
            return out
        out["lam"] = sample_lambda(
            settings.alpha, size, generator=self.generator, per_sample=settings.per_sample
        )
        out["perm"] = (
            sample_permutation(size, generator=self.generator)
            if settings.alpha > 0
            else torch.arange(size)
        )
        return out

    def linear_init(self, fan_in: int, fan_out: int) -> tuple[torch.Tensor, torch.Tensor]:
        return init_linear(fan_in, fan_out, self.generator)


def _check_method(settings: TrainSettings) -> None:
    if settings.method not in METHODS:
        raise ValueError(
            f"Unknown method {settings.method!r}; expected one of {', '.join(METHODS)}"
        )
    if METHODS[settings.method].mlp_only and settings.model != "mlp":
        raise ValueError(f"method {settings.method!r} needs model='mlp' (it mixes hidden layers)")


def rule_targets(
    settings: TrainSettings,
    x_mix: torch.Tensor,
    draw: dict[str, Any],
    y: torch.Tensor,
    num_classes: int,
    reference: tuple[torch.Tensor, torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mix targets, rule targets, keep weight) of one fold's input-space mixed batch."""
    lam = draw["lam"].to(x_mix.dtype)
    ya = one_hot(y, num_classes, x_mix.dtype)
    yb = ya[draw["perm"]]
    lam_col = lam.unsqueeze(-1)
    mix_t = lam_col * ya + (1 - lam_col) * yb
    weight = torch.ones(len(y), dtype=x_mix.dtype)
    rule = METHODS[settings.method].rule
    if rule == "logistic":
        return mix_t, logistic_labels(ya, yb, lam, settings.sigma2), weight
    if rule == "nearest_neighbor":
        return (
            mix_t,
            nearest_neighbor_labels(x_mix, reference[0], reference[1], num_classes),
            weight,
        )
    if rule == "exclude_intrusion":
        keep = intrusion_keep_mask(x_mix, reference[0], reference[1], y, y[draw["perm"]])
        return mix_t, mix_t, keep.to(x_mix.dtype)
    return mix_t, mix_t, weight


def _batch_width(fold_rows: list[torch.Tensor]) -> int:
    """Rows of one stacked step: the largest fold batch of this step, not the batch size.

    Padding every fold to the batch size would make small data sets and each epoch's last,
    partial batch compute mostly zero-weight rows (with the MLP, most of their cost).
    """
    return max(1, max(len(rows) for rows in fold_rows))


def _pad(t: torch.Tensor, size: int, value: float = 0.0) -> torch.Tensor:
    if t.shape[0] == size:
        return t
    pad = t.new_full((size - t.shape[0],) + tuple(t.shape[1:]), value)
    return torch.cat([t, pad])


def train_grid(
    X: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    folds: list[torch.Tensor],
    configs: list[Config],
    settings: TrainSettings,
    *,
    streams: list[int] | None = None,
) -> StackedMLP:
    """Train every configuration (each on its fold's training indices) as one stack.

    Parameters
    ----------
    X : Tensor of shape (n, d), float32 or float64;  y : Tensor of shape (n,), class indices
    folds : list of index tensors, the training rows of each fold
    configs : one :class:`Config` per model of the stack
    settings : the shared :class:`TrainSettings`
    streams : the random stream of each fold (default: the fold index); a model trained on
        stream s gets exactly the draws it would get alone on stream s

    Returns
    -------
    StackedMLP with one trained model per configuration, in ``configs`` order.
    """
    _check_method(settings)
    streams = list(range(len(folds))) if streams is None else list(streams)
    if settings.two_phase:
        return _train_two_phase(X, y, num_classes, folds, configs, settings, streams)
    device = torch.device(settings.device)
    G, F = len(configs), len(folds)
    method = METHODS[settings.method]
    sizes = layer_sizes(settings.model, X.shape[1], num_classes)
    init_gen = init_generator(settings.seed)
    stack = StackedMLP(sizes, G, init_gen, device, X.dtype)
    fold_of = torch.tensor([c.fold for c in configs], device=device)
    lr = torch.tensor([c.lr for c in configs], dtype=X.dtype)
    gamma = torch.tensor([c.gamma for c in configs], dtype=X.dtype, device=device).view(G, 1, 1)
    params = stack.parameters()
    aux: dict[str, StackedMLP] = {}
    if method.mix == "adaptive":
        # AdaMixup's policy network and intrusion discriminator train in the same optimizer.
        aux["policy"] = StackedMLP(
            [2 * X.shape[1], ADAMIXUP_HIDDEN, 3], G, init_gen, device, X.dtype
        )
        aux["discriminator"] = StackedMLP(
            [X.shape[1], ADAMIXUP_HIDDEN, 1], G, init_gen, device, X.dtype
        )
        params = params + aux["policy"].parameters() + aux["discriminator"].parameters()
    opt = BatchedAdam(params, lr, weight_decay=settings.weight_decay)
    draws = [FoldDraws(settings.seed, s) for s in streams]
    fold_X = [X[idx] for idx in folds]
    fold_y = [y[idx] for idx in folds]
    gen_kinds = sorted({c.density for c in configs}) if method.rule == "genlabel" else []
    # One density per fold and kind (Algorithm 1), shared by every lr and gamma.
    densities: dict[tuple, ClassDensity] = {
        (f, kind): make_density(kind, **settings.density_params.get(kind, {})).fit(
            fold_X[f], fold_y[f], classes=list(range(num_classes))
        )
        for f in range(F)
        for kind in gen_kinds
    }
    density_of = torch.tensor(
        [gen_kinds.index(c.density) if gen_kinds else 0 for c in configs], device=device
    )
    B = settings.batch_size
    steps_per_epoch = max(math.ceil(len(idx) / B) for idx in folds)
    mixing_now = method.mix != "none"
    for _epoch in range(settings.epochs):
        orders = [draws[f].epoch_order(len(folds[f])) for f in range(F)]
        for step in range(steps_per_epoch):
            xs, mix_ts, rule_ts, gen_ts, weights, active_f, extras = [], [], [], [], [], [], []
            parts, width = _fold_step(
                draws, orders, fold_X, fold_y, step, settings, stack.n_layers, mixing_now
            )
            for f, (xb, yb, draw) in enumerate(parts):
                active_f.append(len(yb) > 0)
                extras.append((draw, yb))
                weight = torch.ones(len(yb), dtype=X.dtype)
                if method.mix == "input" and draw:
                    mix_t, rule_t, weight = rule_targets(
                        settings, xb, draw, yb, num_classes, (fold_X[f], fold_y[f])
                    )
                    if gen_kinds:
                        per_kind = [
                            _pad(densities[(f, kind)].targets(xb).to(X.dtype), width)
                            for kind in gen_kinds
                        ]
                        gen_ts.append(torch.stack(per_kind))
                else:
                    mix_t = rule_t = one_hot(yb, num_classes, X.dtype)
                    if gen_kinds:  # a fold with no batch left: placeholder; its models skip
                        gen_ts.append(
                            torch.zeros(len(gen_kinds), width, num_classes, dtype=X.dtype)
                        )
                xs.append(_pad(xb, width))
                mix_ts.append(_pad(mix_t, width))
                rule_ts.append(_pad(rule_t, width))
                weights.append(_pad(weight, width))
            x_g = torch.stack(xs).to(device)[fold_of]  # (G, B, d)
            w_g = torch.stack(weights).to(device)[fold_of]  # (G, B)
            active = torch.tensor(active_f, device=device)[fold_of]
            if gen_ts:
                # gamma * y_gen + (1 - gamma) * y_mix from labels shared by every lr and gamma.
                gen_g = torch.stack(gen_ts).to(device)[fold_of, density_of]
                t_g = gamma * gen_g + (1 - gamma) * torch.stack(mix_ts).to(device)[fold_of]
            else:
                t_g = torch.stack(rule_ts).to(device)[fold_of]
            loss = _stack_loss(stack, aux, x_g, t_g, w_g, extras, settings, fold_of, num_classes)
            opt.zero_grad()
            loss.backward()
            opt.step(active)
    stack.auxiliary = aux
    return stack


def _mean_ce(logits: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Sum over models of each model's weighted mean soft cross entropy.

    logits, targets: (G, B, k); weight: (G, B). Computed class-first, (G, k, B): torch's CPU
    reductions over a short last dimension are an order of magnitude slower.
    """
    logits_t = logits.transpose(1, 2).contiguous()
    targets_t = targets.transpose(1, 2).contiguous().to(logits.dtype)
    per = -(targets_t * torch.log_softmax(logits_t, dim=1)).sum(1)  # (G, B)
    return _weighted_mean(per, weight)


def _weighted_mean(per: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Sum over models of each model's weighted mean of per-sample values (G, B)."""
    return ((per * weight).sum(1) / weight.sum(1).clamp_min(1.0)).sum()


def _stack_loss(stack, aux, x_g, t_g, w_g, extras, settings, fold_of, k):
    method = METHODS[settings.method]
    device = x_g.device
    B = x_g.shape[1]
    if method.mix == "manifold":
        # Mix hidden representations at the fold's drawn layer, with the fold's lam/perm.
        loss = x_g.new_zeros(())
        for f, (draw, yb) in enumerate(extras):
            if not draw:
                continue
            rows = (fold_of == f).nonzero().squeeze(1)
            n = len(yb)
            h = stack.forward(x_g[rows, :n], 0, draw["layer"], rows=rows)
            lam = draw["lam"].to(h.dtype).to(device).view(1, n, 1)
            perm = draw["perm"].to(device)
            h = lam * h + (1 - lam) * h[:, perm]
            logits = stack.forward(h, draw["layer"], rows=rows)
            ya = one_hot(yb, k, h.dtype).to(device)
            t = lam * ya + (1 - lam) * ya[perm]
            ones = torch.ones(logits.shape[:2], dtype=logits.dtype, device=device)
            loss = loss + _mean_ce(logits, t.expand(len(rows), -1, -1), ones)
        return loss
    if method.mix == "adaptive":
        return _adamixup_loss(stack, aux, x_g, w_g, extras, fold_of, k, B)
    return _mean_ce(stack.forward(x_g), t_g, w_g)


def _adamixup_loss(stack, aux, x_g, w_g, extras, fold_of, k, B):
    """AdaMixup: lam = a + u d from the policy; CE on mixed + clean; intrusion discriminator."""
    device = x_g.device
    G = x_g.shape[0]
    perms, us, ys = [], [], []
    for draw, yb in extras:
        n = len(yb)
        perm = draw.get("perm", torch.arange(n))
        perms.append(_pad(perm, B).long() if n else torch.arange(B))
        us.append(_pad(draw.get("u", torch.zeros(n, dtype=torch.float64)), B))
        ys.append(_pad(yb, B) if n else torch.zeros(B, dtype=torch.long))
    perm_g = torch.stack(perms).to(device)[fold_of]  # (G, B)
    u_g = torch.stack(us).to(device, x_g.dtype)[fold_of]
    y_g = torch.stack(ys).to(device)[fold_of]
    # Padded rows point at themselves.
    arange = torch.arange(B, device=device).expand(G, B)
    perm_g = torch.where(w_g > 0, perm_g, arange)
    partner = torch.gather(x_g, 1, perm_g.unsqueeze(-1).expand_as(x_g))
    shares = torch.softmax(aux["policy"].forward(torch.cat([x_g, partner], -1)), -1)
    lam = (shares[..., 0] + u_g * shares[..., 1]).unsqueeze(-1)  # in [0, 1]
    x_mix = lam * x_g + (1 - lam) * partner
    ya = one_hot(y_g.reshape(-1), k, x_g.dtype).view(G, B, k)
    yb = torch.gather(ya, 1, perm_g.unsqueeze(-1).expand_as(ya))
    t_mix = lam * ya + (1 - lam) * yb
    loss = _mean_ce(stack.forward(x_mix), t_mix, w_g) + _mean_ce(stack.forward(x_g), ya, w_g)
    d_mix = aux["discriminator"].forward(x_mix).squeeze(-1)
    d_real = aux["discriminator"].forward(x_g).squeeze(-1)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    per = bce(d_mix, torch.zeros_like(d_mix), reduction="none") + bce(
        d_real, torch.ones_like(d_real), reduction="none"
    )
    return loss + _weighted_mean(per, w_g)


def _fold_step(draws, orders, fold_X, fold_y, step, settings, n_layers, mixing):
    """Every fold's batch of one step, and the width that the stacked step pads them to.

    Per fold: the inputs (mixed in input space when the method mixes there), their labels
    and the fold's draws for the step ({} when it draws nothing), taken from the fold's
    generator in the order that ``training.single`` takes them.
    """
    B = settings.batch_size
    fold_rows = [orders[f][step * B : (step + 1) * B] for f in range(len(fold_X))]
    input_mix = METHODS[settings.method].mix == "input"
    parts = []
    for f, rows in enumerate(fold_rows):
        xb, yb = fold_X[f][rows], fold_y[f][rows]
        draw = draws[f].batch(len(rows), settings, n_layers) if (mixing and len(rows)) else {}
        if input_mix and draw:
            lam = draw["lam"].to(xb.dtype).unsqueeze(-1)
            xb = lam * xb + (1 - lam) * xb[draw["perm"]]
        parts.append((xb, yb, draw))
    return parts, _batch_width(fold_rows)


def _fold_batches(draws, orders, fold_X, fold_y, step, settings, n_layers, mixing, k, dtype):
    """Per fold, stacked: padded (mixed) inputs, padded mixup targets, weights; and real sizes."""
    parts, width = _fold_step(draws, orders, fold_X, fold_y, step, settings, n_layers, mixing)
    xs, mix_ts, weights = [], [], []
    for xb, yb, draw in parts:
        target = one_hot(yb, k, dtype)
        if draw:
            lam = draw["lam"].to(dtype).unsqueeze(-1)
            target = lam * target + (1 - lam) * target[draw["perm"]]
        xs.append(_pad(xb, width))
        mix_ts.append(_pad(target, width))
        weights.append(_pad(torch.ones(len(yb), dtype=dtype), width))
    sizes = [len(yb) for _, yb, _ in parts]
    return torch.stack(xs), torch.stack(mix_ts), torch.stack(weights), sizes


def _train_two_phase(X, y, k, folds, configs, settings, streams) -> StackedMLP:
    """Algorithm 2 (SPEC §5) for a grid: vanilla warm-up, latent densities, new last layer.

    The warm-up is vanilla, so every configuration of one fold and learning rate has the same
    feature layers: they are trained once per (fold, lr), and after the warm-up shared, frozen,
    by the configurations' own last layers (one per gamma and density).
    """
    device = torch.device(settings.device)
    dtype = X.dtype
    G, F = len(configs), len(folds)
    sizes = layer_sizes(settings.model, X.shape[1], k)
    unique = list(dict.fromkeys((c.fold, c.lr) for c in configs))
    unique_of = torch.tensor([unique.index((c.fold, c.lr)) for c in configs], device=device)
    ufold = torch.tensor([f for f, _ in unique], device=device)
    fold_of = torch.tensor([c.fold for c in configs], device=device)
    warm = StackedMLP(sizes, len(unique), init_generator(settings.seed), device, dtype)
    opt = BatchedAdam(
        warm.parameters(),
        torch.tensor([lr for _, lr in unique], dtype=dtype),
        weight_decay=settings.weight_decay,
    )
    draws = [FoldDraws(settings.seed, s) for s in streams]
    fold_X = [X[idx] for idx in folds]
    fold_y = [y[idx] for idx in folds]
    B = settings.batch_size
    steps = max(math.ceil(len(idx) / B) for idx in folds)
    last = warm.n_layers - 1
    for _epoch in range(settings.warmup_epochs):
        orders = [draws[f].epoch_order(len(folds[f])) for f in range(F)]
        for step in range(steps):
            xs, ts, ws, n = _fold_batches(
                draws, orders, fold_X, fold_y, step, settings, warm.n_layers, False, k, dtype
            )
            x_u, t_u, w_u = xs.to(device)[ufold], ts.to(device)[ufold], ws.to(device)[ufold]
            loss = _mean_ce(warm.forward(x_u), t_u, w_u)
            opt.zero_grad()
            loss.backward()
            opt.step(torch.tensor(n, device=device)[ufold] > 0)
    # Latent densities per (fold, lr, density), on the penultimate features of the fold.
    keys = list(dict.fromkeys((c.fold, c.lr, c.density) for c in configs))
    key_of = torch.tensor([keys.index((c.fold, c.lr, c.density)) for c in configs], device=device)
    densities = []
    for f, lr, kind in keys:
        u = torch.tensor([unique.index((f, lr))], device=device)
        with torch.no_grad():
            z = warm.forward(fold_X[f].to(device).unsqueeze(0), 0, last, rows=u)[0]
        dens = make_density(kind, **settings.density_params.get(kind, {}))
        densities.append(dens.fit(z.double().cpu(), fold_y[f], classes=list(range(k))))
    # Fresh last layer per configuration: one draw per fold, from the fold's own stream.
    weight = torch.zeros(G, sizes[-2], sizes[-1], dtype=dtype, device=device)
    bias = torch.zeros(G, 1, sizes[-1], dtype=dtype, device=device)
    for f in range(F):
        w, b = draws[f].linear_init(sizes[-2], sizes[-1])
        weight[fold_of == f] = w.to(device, dtype)
        bias[fold_of == f] = b.view(1, -1).to(device, dtype)
    weight.requires_grad_()
    bias.requires_grad_()
    lr_g = torch.tensor([c.lr for c in configs], dtype=dtype)
    gamma = torch.tensor([c.gamma for c in configs], dtype=dtype, device=device).view(G, 1, 1)
    opt = BatchedAdam([weight, bias], lr_g, weight_decay=settings.weight_decay)
    for _epoch in range(settings.warmup_epochs, settings.epochs):
        orders = [draws[f].epoch_order(len(folds[f])) for f in range(F)]
        for step in range(steps):
            xs, ts, ws, n = _fold_batches(
                draws, orders, fold_X, fold_y, step, settings, warm.n_layers, True, k, dtype
            )
            with torch.no_grad():
                h_u = warm.forward(xs.to(device)[ufold], 0, last)  # (U, B, h), frozen features
            gen = torch.zeros(len(keys), xs.shape[1], k, dtype=dtype, device=device)
            for i, (f, lr, _kind) in enumerate(keys):
                if n[f]:
                    z = h_u[unique.index((f, lr)), : n[f]]
                    gen[i, : n[f]] = densities[i].targets(z)
            targets = gamma * gen[key_of] + (1 - gamma) * ts.to(device)[fold_of]
            logits = torch.baddbmm(bias, h_u[unique_of], weight)
            loss = _mean_ce(logits, targets, ws.to(device)[fold_of])
            opt.zero_grad()
            loss.backward()
            opt.step(torch.tensor(n, device=device)[fold_of] > 0)
    stack = warm.select(0)  # shape template; fill with every configuration's layers
    stack.weights = [w[unique_of].detach().clone() for w in warm.weights[:last]] + [weight.detach()]
    stack.biases = [b[unique_of].detach().clone() for b in warm.biases[:last]] + [bias.detach()]
    stack.auxiliary = {}
    return stack
