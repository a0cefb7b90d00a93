"""Train a whole hyper-parameter grid (all folds x configurations) as one batched model.

The reference protocol trains ~1,200 small models per data set and method one after
another. Here the G = folds x configurations models are one stack (leading dimension G of
every weight), each with its own Adam state, learning rate and gamma, its own fold's data
and mixing draws:

* every fold has one generator (:func:`fold_generator`); its draws (batch order, the mix
  parameters of ``draw_mix_params``, AdaMixup's pairing and uniforms, the last-layer
  re-initialisation of Algorithm 2) are shared by all the configurations of that fold,
  exactly as if each were trained alone with the same seed (the tests train each
  configuration alone, independently, and compare);
* input-space mixes and their labels are computed once per fold (and per density kind) and
  shared by every learning rate and gamma;
* folds of different sizes are padded to the largest fold batch of the step with
  zero-weight rows, and a model whose fold has no batch left in an epoch skips the step
  (masked Adam update; the plain MLP and logistic grids also skip its forward and
  backward, see :func:`_training_range`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import torch
from tqdm.auto import tqdm

from .. import registry
from ..density import ClassDensity, make_density
from ..labels import (
    LABEL_CLASSES,
    REFERENCE_RULES,
    class_log_prior,
    genlabel_targets,
    label_mixed,
    mixed_class_mask,
)
from ..labels.rules import first_argmin
from ..losses import genlabel_loss, soft_cross_entropy, weighted_mean
from ..mixing import MixParams, apply_mix, draw_mix_params, one_hot
from ..models import StackedMLP, init_linear, layer_sizes
from ..registry import MethodSpec, check_method
from .batched_adam import BatchedAdam
from .grids import Config
from .steps import adamixup_draw, adamixup_lam

__all__ = [
    "ADAMIXUP_HIDDEN",
    "TrainSettings",
    "check_warmup",
    "fold_generator",
    "init_generator",
    "train_grid",
]

#: Hidden width of AdaMixup's policy network and intrusion discriminator.
ADAMIXUP_HIDDEN = 64
#: Where GenLabel with the MLP fits its densities (Algorithm 2 and its variants).
LATENTS = ("two_model", "reference", "input")
#: The paper's Algorithm 2, chosen on the whole paper-mlp suite (docs/results/mlp.md:
#: "Which Algorithm 2 is the default"); kept in the registry, for the CLI's help.
DEFAULT_LATENT = registry.DEFAULT_LATENT


@dataclass(frozen=True)
class TrainSettings:
    """Everything about a training run except the per-configuration hyper-parameters.

    ``method`` is a name of :mod:`genlabel.registry` (or an alias: ``genlabel`` trains the
    GenLabel family, each configuration with its own density kind).
    """

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
    hidden: tuple[int, ...] = (128, 128)  # the MLP's hidden layer sizes
    verbose: int = 0  # 1: a progress bar over the epochs
    latent: str | None = None  # GenLabel with the MLP: see LATENTS (None: DEFAULT_LATENT)
    class_prior: bool = False  # GenLabel labels from log pi_c + log p_c
    label_classes: str = "all"  # GenLabel labels over every class, or the two mixed ones

    def __post_init__(self) -> None:
        if self.label_classes not in LABEL_CLASSES:
            raise ValueError(
                f"unknown label_classes {self.label_classes!r}; expected 'all' or 'mixed'"
            )
        if self.latent is not None and self.latent not in LATENTS:
            raise ValueError(
                f"unknown latent {self.latent!r}; expected one of {', '.join(LATENTS)}"
            )
        if self.latent is not None and self.model != "mlp":
            raise ValueError(
                f"latent={self.latent!r} chooses where GenLabel fits its densities with the MLP;"
                f" the {self.model} model has no hidden layer (use latent=None)"
            )

    @property
    def spec(self) -> MethodSpec:
        return check_method(self.method, self.model)

    @property
    def latent_variant(self) -> str | None:
        """For GenLabel with the MLP: "two_model", "reference" or "input"; else None."""
        if not (self.spec.is_genlabel and self.model == "mlp"):
            return None
        return self.latent or DEFAULT_LATENT

    @property
    def two_phase(self) -> bool:
        """Algorithm 2 as the reference scripts run it: vanilla warm-up, densities on the
        penultimate features, a new last layer trained with GenLabel on frozen features."""
        return self.latent_variant == "reference"

    @property
    def two_model(self) -> bool:
        """Algorithm 2 as the paper states it: densities on the features of a separately
        trained vanilla model phi; a fresh model trained, all layers, with the gamma-loss."""
        return self.latent_variant == "two_model"


def check_warmup(settings: TrainSettings, *, cli: bool = False) -> None:
    """A ValueError if GenLabel would train only its warm-up: with the MLP and the
    ``reference`` latent variant it trains ``warmup_epochs`` vanilla epochs, then GenLabel,
    so ``epochs`` must exceed ``warmup_epochs``. Spelled for the command line if ``cli``."""
    if not (settings.two_phase and settings.epochs <= settings.warmup_epochs):
        return
    warm, epochs = settings.warmup_epochs, settings.epochs
    if cli:
        setup = "--model mlp and --latent reference"
        need = f"--epochs must exceed {warm} (got --epochs {epochs}"
        fix = "use more --epochs, or --latent two_model or --latent input"
    else:
        setup = "model='mlp' (latent 'reference')"
        need = f"epochs must exceed warmup_epochs (got epochs={epochs}"
        fix = "raise epochs, or use latent='two_model' or latent='input'"
    raise ValueError(
        f"method {settings.spec.name!r} with {setup} trains warmup_epochs={warm} vanilla "
        f"epochs, then GenLabel: {need}, so GenLabel would never train); {fix} (no warm-up)"
    )


def init_generator(seed: int) -> torch.Generator:
    """The generator of the models' initial weights (one draw shared by the whole stack)."""
    return torch.Generator().manual_seed(int(seed))


def fold_generator(seed: int, stream: int) -> torch.Generator:
    """The generator of random stream ``stream`` (a CV fold, or the refit) of trial ``seed``.

    Seeded with seed * 1,000,003 + 7,919 * (stream + 1): distinct, reproducible streams.
    """
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + 7919 * (stream + 1))


@dataclass
class _Fold:
    X: torch.Tensor
    y: torch.Tensor
    generator: torch.Generator
    w: torch.Tensor | None = None  # sample weights, if any
    log_prior: torch.Tensor | None = None  # log pi_c of the fold (class_prior)


@dataclass
class _FoldBatch:
    """One fold's batch of a step: inputs (mixed, for input-space methods), labels, draws.

    ``w``: the batch's sample weights as given (``label_mixed`` mixes them with the labels),
    or None.
    """

    x: torch.Tensor
    y: torch.Tensor
    params: MixParams | None = None  # None: nothing drawn (no mixing, or no rows left)
    u: torch.Tensor | None = None  # AdaMixup's uniforms
    w: torch.Tensor | None = None
    rows: torch.Tensor | None = None  # the batch's rows of the fold


@dataclass
class _GridRun:
    """The fixed state of one grid's training: settings, folds, and where each model sits."""

    settings: TrainSettings
    spec: MethodSpec
    k: int
    folds: list[_Fold]
    fold_of: torch.Tensor  # (G,) the fold of every model, on the device
    device: torch.device
    dtype: torch.dtype
    n_layers: int
    steps: int  # steps per epoch: the largest fold's number of batches

    def orders(self) -> list[torch.Tensor]:
        return [torch.randperm(len(f.y), generator=f.generator) for f in self.folds]

    def step(
        self, orders: list[torch.Tensor], step: int, mixing: bool
    ) -> tuple[list[_FoldBatch], int]:
        """Every fold's batch of one step, and the width the stacked step pads them to.

        The width is the largest fold batch of this step, not the batch size: padding to the
        batch size would make small data sets and each epoch's last, partial batch compute
        mostly zero-weight rows.
        """
        B = self.settings.batch_size
        out = []
        for fold, order in zip(self.folds, orders, strict=True):
            rows = order[step * B : (step + 1) * B]
            w = None if fold.w is None else fold.w[rows]
            batch = _FoldBatch(fold.X[rows], fold.y[rows], w=w, rows=rows)
            if mixing and len(rows):
                batch = self._draw(fold, batch)
            out.append(batch)
        return out, max(1, max(len(b.y) for b in out))

    def _draw(self, fold: _Fold, batch: _FoldBatch) -> _FoldBatch:
        n, g, s = len(batch.y), fold.generator, self.settings
        if self.spec.adaptive:
            perm, u = adamixup_draw(n, g)
            return _FoldBatch(
                batch.x, batch.y, MixParams(torch.ones(()), perm), u, batch.w, batch.rows
            )
        layers = range(self.n_layers) if self.spec.mixes_layers else None
        params = draw_mix_params(
            n, alpha=s.alpha, per_sample=s.per_sample, generator=g, layers=layers
        )
        x = apply_mix(batch.x, params) if self.spec.mixes_inputs else batch.x
        return _FoldBatch(x, batch.y, params, w=batch.w, rows=batch.rows)


def _training_range(active: torch.Tensor) -> slice | None:
    """The models that train this step as one range, when only some do and they are
    contiguous; None when all do (or they are scattered).

    A fold-major grid with a refit stream has such steps at the end of every epoch: the
    refit trains on all rows, 1.25x a CV fold's, so it has batches left when the folds
    have none (on large sets a fifth of the steps). The other models' forward and backward
    on zero-weight padding would change nothing (their Adam step is masked), so the step
    computes only the range.
    """
    if bool(active.all()):
        return None
    index = active.nonzero().squeeze(1)
    if len(index) == 0 or int(index[-1] - index[0]) + 1 != len(index):
        return None
    return slice(int(index[0]), int(index[-1]) + 1)


def _all_models(per: torch.Tensor, models: slice, n_models: int) -> torch.Tensor:
    """Losses of a range of models as those of the whole stack (0 for the others)."""
    if per.shape[0] == n_models:
        return per
    out = per.new_zeros(n_models)
    out[models] = per
    return out


def _pad(t: torch.Tensor, size: int, value: float = 0.0) -> torch.Tensor:
    if t.shape[0] == size:
        return t
    pad = t.new_full((size - t.shape[0],) + tuple(t.shape[1:]), value)
    return torch.cat([t, pad])


def _build_run(
    X: torch.Tensor,
    y: torch.Tensor,
    k: int,
    *,
    folds: list[torch.Tensor],
    configs: list[Config],
    settings: TrainSettings,
    streams: list[int],
    sample_weight: torch.Tensor | None,
) -> _GridRun:
    device = torch.device(settings.device)
    B = settings.batch_size
    return _GridRun(
        settings=settings,
        spec=settings.spec,
        k=k,
        folds=[
            _Fold(
                X[idx],
                y[idx],
                fold_generator(settings.seed, s),
                None if sample_weight is None else sample_weight[idx],
                class_log_prior(y[idx], k) if settings.class_prior else None,
            )
            for idx, s in zip(folds, streams, strict=True)
        ],
        fold_of=torch.tensor([c.fold for c in configs], device=device),
        device=device,
        dtype=X.dtype,
        n_layers=len(_sizes(settings, X.shape[1], k)) - 1,
        steps=max(math.ceil(len(idx) / B) for idx in folds),
    )


#: From how many features a density kind labels a grid's mixes from its parts at the fold
#: rows (mix_rows) instead of from the mixed points: mixing the parts is memory-bound,
#: O(parts) per point, while the direct log-density is a d x d whitening per class (the
#: Gaussian's parts are k x d per row) plus, for a KDE, a d x n_c product (its parts are
#: k x n_c kernel scores per row). The thresholds sit above the measured break-even points
#: (the lab notebook, docs/lab-notes.md, has the measurements).
MIX_ROWS_MIN_FEATURES = {"gm": 64, "kde": 256}
#: The most memory (bytes) the precomputed parts of one grid may hold.
MIX_ROWS_MAX_BYTES = 1 << 30
#: From how many features the nearest-neighbour rules find a mix's nearest fold row from the
#: fold's Gram matrix (x.r of a mix of rows is the same mix of the rows' products with r:
#: B x n_f per step instead of B x n_f x d). The threshold sits above the measured
#: break-even point (docs/lab-notes.md).
NN_GRAM_MIN_FEATURES = 256


def _mix_rows_kinds(folds: list[_Fold], densities: dict[tuple[int, str], ClassDensity]) -> set[str]:
    """The density kinds whose grid labels come from their parts at the fold rows: those
    wide enough to gain, taken while their parts fit the memory budget, the kind with the
    lower threshold first (the Gaussian: more gain, smaller parts)."""
    d = folds[0].X.shape[1]
    wide = [k for k in {kind for _, kind in densities} if d >= MIX_ROWS_MIN_FEATURES[k]]
    chosen: set[str] = set()
    total = 0
    for kind in sorted(wide, key=lambda k: MIX_ROWS_MIN_FEATURES[k]):
        need = sum(
            len(folds[f].X) * dens.mix_row_elements() * 8
            for (f, k), dens in densities.items()
            if k == kind
        )
        if total + need <= MIX_ROWS_MAX_BYTES:
            chosen.add(kind)
            total += need
    return chosen


def _fold_grams(run: _GridRun) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """Each fold's Gram matrix X X^T and squared norms (float64), for the nearest-neighbour
    rules on wide data within the memory budget; else none."""
    folds = run.folds
    if not (
        run.spec.mixes_inputs
        and run.spec.rule in REFERENCE_RULES
        and folds[0].X.shape[1] >= NN_GRAM_MIN_FEATURES
        and sum(len(f.X) ** 2 for f in folds) * 8 <= MIX_ROWS_MAX_BYTES
    ):
        return {}
    grams = {}
    for f, fold in enumerate(folds):
        X = fold.X.to(torch.float64)
        gram = X @ X.T
        grams[f] = (gram, gram.diagonal().clone())
    return grams


def _sizes(settings: TrainSettings, d: int, k: int) -> list[int]:
    return layer_sizes(settings.model, d, k, settings.hidden)


class _LossCurve:
    """Each model's mean training loss per epoch, (G, epochs), from the per-step losses."""

    def __init__(self, n_models: int, epochs: int, device: torch.device):
        self.values = torch.zeros(n_models, epochs, dtype=torch.float64, device=device)
        self._sum = torch.zeros(n_models, dtype=torch.float64, device=device)
        self._steps = torch.zeros(n_models, dtype=torch.float64, device=device)

    def add(self, per_model: torch.Tensor, active: torch.Tensor) -> None:
        self._sum += per_model.detach().double() * active
        self._steps += active

    def end_epoch(self, epoch: int) -> None:
        self.values[:, epoch] = self._sum / self._steps.clamp_min(1.0)
        self._sum.zero_()
        self._steps.zero_()


def _epochs(settings: TrainSettings, epochs: range) -> Any:
    return tqdm(epochs, desc="training", unit="epoch", disable=settings.verbose < 1, leave=False)


def train_grid(
    X: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    folds: list[torch.Tensor],
    configs: list[Config],
    settings: TrainSettings,
    *,
    streams: list[int] | None = None,
    sample_weight: torch.Tensor | None = None,
    phi: tuple[StackedMLP, dict[tuple[int, float], int]] | None = None,
) -> StackedMLP:
    """Train every configuration (each on its fold's training indices) as one stack.

    Parameters
    ----------
    X : Tensor of shape (n, d)
        float32 or float64.
    y : Tensor of shape (n,)
        Class indices.
    num_classes : int
    folds : list of Tensor
        The training rows of each fold (index tensors).
    configs : list of Config
        One per model of the stack.
    settings : TrainSettings
        The settings the models share.
    streams : list of int, optional
        The random stream of each fold (default: the fold index); a model trained on
        stream s gets exactly the draws it would get alone on stream s.
    sample_weight : Tensor of shape (n,), optional
        Per-row weights of the loss (a mixed point weighs lam w_i + (1 - lam) w_j; AdaMixup
        weighs each of a point's terms, mixed, clean and discriminator, by its own w_i).
    phi : (StackedMLP, {(fold, lr): model index}), optional
        For GenLabel with ``latent="two_model"``: the vanilla models whose features hold the
        densities (the vanilla grid of the same folds, streams and settings, so its cells
        share them); trained here when not given.

    Returns
    -------
    StackedMLP
        One trained model per configuration, in ``configs`` order.
    """
    streams = list(range(len(folds))) if streams is None else list(streams)
    run = _build_run(
        X, y, num_classes, folds=folds, configs=configs, settings=settings, streams=streams,
        sample_weight=sample_weight,
    )  # fmt: skip
    if settings.two_phase:
        return _train_two_phase(run, configs)
    if settings.two_model:
        unique = list(dict.fromkeys((c.fold, c.lr) for c in configs))
        if phi is None:  # the vanilla model of every (fold, lr): same folds, same streams
            vanilla = replace(settings, method="vanilla", latent=None, class_prior=False)
            stack = train_grid(
                X, y, num_classes, folds, [Config(f, lr) for f, lr in unique], vanilla,
                streams=streams, sample_weight=sample_weight,
            )  # fmt: skip
            phi = (stack, {key: i for i, key in enumerate(unique)})
        features = phi[0].select_rows([phi[1][key] for key in unique])
        return _train_two_model(run, configs, features, unique)
    return _train_one_phase(run, configs, X.shape[1])


def _train_one_phase(run: _GridRun, configs: list[Config], d: int) -> StackedMLP:
    """Every method that trains one model per configuration from the start: vanilla, the
    input-space mixes and their labels (Algorithm 1), manifold mixup, AdaMixup."""
    settings, num_classes = run.settings, run.k
    G = len(configs)
    init_gen = init_generator(settings.seed)
    sizes = _sizes(settings, d, num_classes)
    stack = StackedMLP(sizes, G, init_gen, run.device, run.dtype)
    params = stack.parameters()
    aux: dict[str, StackedMLP] = {}
    if run.spec.adaptive:
        # AdaMixup's policy network and intrusion discriminator train in the same optimizer.
        hidden = ADAMIXUP_HIDDEN
        aux["policy"] = StackedMLP([2 * d, hidden, 3], G, init_gen, run.device, run.dtype)
        aux["discriminator"] = StackedMLP([d, hidden, 1], G, init_gen, run.device, run.dtype)
        params = params + aux["policy"].parameters() + aux["discriminator"].parameters()
    lr = torch.tensor([c.lr for c in configs], dtype=run.dtype)
    opt = BatchedAdam(params, lr, weight_decay=settings.weight_decay)
    step_loss = _OnePhaseLoss(run, stack, aux, _Labeler(run, configs))
    mixing = run.spec.mixes
    curve = _LossCurve(G, settings.epochs, run.device)
    for epoch in _epochs(settings, range(settings.epochs)):
        orders = run.orders()
        for step in range(run.steps):
            batches, width = run.step(orders, step, mixing)
            active = torch.tensor([len(b.y) > 0 for b in batches], device=run.device)[run.fold_of]
            loss, per_model = step_loss(batches, width, _training_range(active))
            opt.zero_grad()
            loss.backward()
            opt.step(active)
            curve.add(per_model, active)
        curve.end_epoch(epoch)
    stack.auxiliary = aux
    stack.loss_curve = curve.values
    return stack


class _Labeler:
    """Targets of a one-phase grid step: the rule's labels per fold, and GenLabel's per
    fold and density kind (shared by every learning rate and gamma)."""

    def __init__(self, run: _GridRun, configs: list[Config]):
        self.run = run
        self.kinds = sorted({c.density for c in configs}) if run.spec.is_genlabel else []
        # One density per fold and kind (Algorithm 1), fitted on the fold's inputs.
        self.densities: dict[tuple[int, str], ClassDensity] = {
            (f, kind): make_density(kind).fit(fold.X, fold.y, classes=list(range(run.k)))
            for f, fold in enumerate(run.folds)
            for kind in self.kinds
        }
        device = run.device
        self.density_of = torch.tensor(
            [self.kinds.index(c.density) if self.kinds else 0 for c in configs], device=device
        )
        self.gamma = torch.tensor([c.gamma for c in configs], dtype=run.dtype, device=device)
        # Wide data: the densities' affine parts at every fold row, mixed like the inputs.
        self.parts: dict[tuple[int, str], dict[str, torch.Tensor]] = {}
        if run.spec.mixes_inputs:
            kinds = _mix_rows_kinds(run.folds, self.densities)
            self.parts = {
                (f, kind): dens.mix_rows(run.folds[f].X)
                for (f, kind), dens in self.densities.items()
                if kind in kinds
            }
        self.grams = _fold_grams(run)

    def _targets_of_mixes(self, f: int, kind: str, batch: _FoldBatch) -> torch.Tensor:
        """The grid's one fast path past ``label_mixed``: GenLabel labels of a fold's mixed
        batch from the densities' affine parts at the fold rows, mixed like the inputs.

        Why: on wide data (``MIX_ROWS_MIN_FEATURES``) mixing the precomputed parts is
        O(parts) per point, while the dispatcher's log-density of the mixed points is a
        d x d whitening per class (and, for a KDE, a d x n_c product), every step of every
        fold. The same labels as ``label_mixed`` on the mixed points, to float64 rounding
        (computed in float64; a test compares them)."""
        assert batch.rows is not None and batch.params is not None  # a mixed batch
        log_prob = self.densities[(f, kind)].log_prob_of_mixes(
            self.parts[(f, kind)], batch.rows, batch.params
        )
        return genlabel_targets(
            log_prob, top_k=self._top_k, log_prior=self.run.folds[f].log_prior,
            allowed=self._allowed(batch),
        ).to(self.run.dtype)  # fmt: skip

    def _nearest(self, f: int, batch: _FoldBatch) -> torch.Tensor | None:
        """The nearest fold row of every mixed point, from the fold's Gram matrix (argmin_j
        |r_j|^2 - 2 x.r_j with x.r_j mixed like the rows); None without one."""
        if f not in self.grams:
            return None
        assert batch.rows is not None and batch.params is not None  # a mixed batch
        gram, sq = self.grams[f]
        return first_argmin(torch.add(sq, apply_mix(gram[batch.rows], batch.params), alpha=-2))

    @property
    def _top_k(self) -> int | None:
        return 2 if self.run.spec.rule == "genlabel_top2" else None

    def _allowed(self, batch: _FoldBatch) -> torch.Tensor | None:
        """The classes a label may use: None (all), or each point's two mixed classes."""
        if self.run.settings.label_classes == "all" or batch.params is None:
            return None
        return mixed_class_mask(batch.y, batch.params.perm, self.run.k)

    def _gen_targets(self, f: int, kind: str, batch: _FoldBatch) -> torch.Tensor:
        """GenLabel labels of a fold's mixed batch under one density kind."""
        if (f, kind) in self.parts:
            return self._targets_of_mixes(f, kind, batch)
        assert batch.params is not None  # a mixed batch
        run = self.run
        return label_mixed(
            run.spec.rule, batch.params, batch.y, run.k, points=batch.x,
            density=self.densities[(f, kind)], log_prior=run.folds[f].log_prior,
            dtype=run.dtype, label_classes=run.settings.label_classes,
        ).targets  # fmt: skip

    def fold_targets(self, f: int, batch: _FoldBatch, width: int):
        """(mix targets, rule targets, weight, GenLabel targets per kind or None), padded."""
        run = self.run
        k, dtype = run.k, run.dtype
        gen = None
        if self.kinds and batch.params is not None:
            # The rule's labels are those of the first kind (label_mixed's for that density);
            # mixup's label and the mixed weights, shared by every kind, from the dispatcher.
            gens = [self._gen_targets(f, kind, batch) for kind in self.kinds]
            lab = label_mixed(
                "linear", batch.params, batch.y, k, dtype=dtype, sample_weight=batch.w
            )
            gen = torch.stack([_pad(t, width) for t in gens])
            return _pad(lab.mix_targets, width), _pad(gens[0], width), _pad(lab.weight, width), gen
        if run.spec.mixes_inputs and batch.params is not None:  # the other input-space rules
            fold = run.folds[f]
            lab = label_mixed(
                run.spec.rule, batch.params, batch.y, k, points=batch.x,
                reference=(fold.X, fold.y), sigma2=run.settings.sigma2, dtype=dtype,
                nearest=self._nearest(f, batch), sample_weight=batch.w,
            )  # fmt: skip
            mix_t, rule_t, weight = lab.mix_targets, lab.targets, lab.weight
        else:
            mix_t = rule_t = one_hot(batch.y, k, dtype)
            weight = torch.ones(len(batch.y), dtype=dtype) if batch.w is None else batch.w.to(dtype)
            if self.kinds:  # a fold with no batch left: placeholder; its models skip
                gen = torch.zeros(len(self.kinds), width, k, dtype=dtype)
        return _pad(mix_t, width), _pad(rule_t, width), _pad(weight, width), gen


@dataclass
class _OnePhaseLoss:
    """The loss of one step of a one-phase grid: the stack, AdaMixup's networks, the labels."""

    run: _GridRun
    stack: StackedMLP
    aux: dict[str, StackedMLP]
    labels: _Labeler

    def __call__(
        self, batches: list[_FoldBatch], width: int, models: slice | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The summed loss of every model of the stack on one step (to differentiate), and
        each model's loss (detached, for the loss curves). ``models``: the plain grids
        compute only these (:func:`_training_range`); the others' losses read 0."""
        run, labels = self.run, self.labels
        parts = [labels.fold_targets(f, b, width) for f, b in enumerate(batches)]
        fold_of, device = run.fold_of, run.device
        x_f = torch.stack([_pad(b.x, width) for b in batches]).to(device)  # (F, B, d)
        if run.spec.mixes_layers:
            return self._manifold(x_f[fold_of], batches)
        if run.spec.adaptive:
            w_g = torch.stack([p[2] for p in parts]).to(device)[fold_of]  # (G, B)
            return self._adamixup(x_f, w_g, batches)
        rows = slice(None) if models is None else models
        fold_of = fold_of[rows]
        w_g = torch.stack([p[2] for p in parts]).to(device)[fold_of]  # (G, B)
        logits = self.stack.forward_shared(x_f, run.fold_of, models)
        if labels.kinds:
            # gamma * y_gen + (1 - gamma) * y_mix from labels shared by every lr and gamma.
            gen = torch.stack([p[3] for p in parts]).to(device)
            gen_g = gen[fold_of, labels.density_of[rows]]
            mix_g = torch.stack([p[0] for p in parts]).to(device)[fold_of]
            per = genlabel_loss(logits, gen_g, mix_g, labels.gamma[rows], weight=w_g)
        else:
            t_g = torch.stack([p[1] for p in parts]).to(device)[fold_of]
            per = soft_cross_entropy(logits, t_g, w_g)
        return per.sum(), _all_models(per.detach(), rows, len(run.fold_of))

    def _manifold(
        self, x_g: torch.Tensor, batches: list[_FoldBatch]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mix hidden representations at each fold's drawn layer, with the fold's lam/perm."""
        run, stack = self.run, self.stack
        loss = x_g.new_zeros(())
        per_model = x_g.new_zeros(x_g.shape[0])
        for f, batch in enumerate(batches):
            if batch.params is None:
                continue
            rows = (run.fold_of == f).nonzero().squeeze(1)
            n, layer = len(batch.y), int(batch.params.layer or 0)
            params = batch.params.to(run.device)
            h = stack.forward(x_g[rows, :n], 0, layer, rows=rows)
            h = apply_mix(h, params.stacked(len(rows)))
            logits = stack.forward(h, layer, rows=rows)
            lab = label_mixed(
                "linear", params, batch.y.to(run.device), run.k, dtype=h.dtype,
                sample_weight=batch.w,
            )  # fmt: skip
            w = lab.weight.to(logits.dtype).expand(len(rows), -1)
            per = soft_cross_entropy(logits, lab.mix_targets.expand(len(rows), -1, -1), w)
            loss = loss + per.sum()
            per_model[rows] = per.detach()
        return loss, per_model

    def _adamixup(
        self, x_f: torch.Tensor, w_g: torch.Tensor, batches: list[_FoldBatch]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """AdaMixup: lam = a + u d from the policy; CE on mixed + clean; intrusion
        discriminator. With sample weights, every term of a point is weighted by the point's
        own weight."""
        run, stack, aux = self.run, self.stack, self.aux
        G, B = len(run.fold_of), x_f.shape[1]
        device, dtype, k = run.device, x_f.dtype, run.k
        perms, us, ys, valid = [], [], [], []
        for batch in batches:
            n = len(batch.y)
            perms.append(_pad(batch.params.perm, B).long() if batch.params else torch.arange(B))
            us.append(
                _pad(batch.u, B) if batch.u is not None else torch.zeros(B, dtype=torch.float64)
            )
            ys.append(_pad(batch.y, B) if n else torch.zeros(B, dtype=torch.long))
            valid.append(_pad(torch.ones(n, dtype=torch.bool), B))
        perm_g = torch.stack(perms).to(device)[run.fold_of]  # (G, B)
        u_g = torch.stack(us).to(device, dtype)[run.fold_of]
        y_g = torch.stack(ys).to(device)[run.fold_of]
        valid_g = torch.stack(valid).to(device)[run.fold_of]
        # Padded rows point at themselves.
        perm_g = torch.where(valid_g, perm_g, torch.arange(B, device=device).expand(G, B))
        first = _AdaFirstLayers.of(x_f, run.fold_of, aux["policy"], stack, aux["discriminator"])
        if first is None:
            x_g = x_f[run.fold_of]
            partner = torch.gather(x_g, 1, perm_g.unsqueeze(-1).expand_as(x_g))
            policy_out = aux["policy"].forward(torch.cat([x_g, partner], -1))
        else:
            policy_out = first.policy(perm_g)
        # Over the short last dimension, as the cells were computed: class-first is faster
        # but rounds differently, and AdaMixup's cells follow float32 rounding (tried and
        # reverted: docs/lab-notes.md).
        shares = torch.softmax(policy_out, -1)
        # lam in [0, 1], shaped (G, B, 1) once: every use shares one node of the autograd graph.
        params = MixParams(lam=adamixup_lam(shares, u_g).unsqueeze(-1), perm=perm_g)
        ya = one_hot(y_g.reshape(-1), k, dtype).view(G, B, k)
        if first is None:
            x_mix = apply_mix(x_g, params)
            logits_mix, logits = stack.forward(x_mix), stack.forward(x_g)
            d_mix = aux["discriminator"].forward(x_mix).squeeze(-1)
            d_real = aux["discriminator"].forward(x_g).squeeze(-1)
        else:
            logits_mix, logits = first.rest(stack, params), first.rest(stack)
            d_mix = first.rest(aux["discriminator"], params).squeeze(-1)
            d_real = first.rest(aux["discriminator"]).squeeze(-1)
        ce_mix = soft_cross_entropy(
            logits_mix, label_mixed("linear", params, ya, k, dtype=dtype).mix_targets, w_g
        )
        ce_clean = soft_cross_entropy(logits, ya, w_g)
        loss = ce_mix.sum()
        loss = loss + ce_clean.sum()
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        per = bce(d_mix, torch.zeros_like(d_mix), reduction="none") + bce(
            d_real, torch.ones_like(d_real), reduction="none"
        )
        disc = weighted_mean(per, w_g)
        return loss + disc.sum(), (ce_mix + ce_clean + disc).detach()


#: From how many features AdaMixup's grid computes its networks' first layers once per fold
#: (:class:`_AdaFirstLayers`) instead of on (G, B, d) copies of the inputs and their mixes.
ADAMIXUP_SHARED_MIN_FEATURES = 128


@dataclass
class _AdaFirstLayers:
    """AdaMixup's first layers on wide data, from one grouped product per fold and network.

    Every model of a fold reads the fold's batch, and a first layer is affine: the policy's
    on [x, x[perm]] is x W_top + (x W_bottom)[perm] + b, and the classifier's and the
    discriminator's on a mix lam x + (1 - lam) x[perm] are the same mix of their
    pre-activations on x. So no (G, B, d) tensor is formed; the same values up to float
    rounding (another summation order).
    """

    pre: dict[int, torch.Tensor]  # id(network) -> pre-activations on the clean batch
    policy_halves: torch.Tensor  # (G, B, 2 hidden): x W_top and x W_bottom
    policy_net: StackedMLP

    @classmethod
    def of(
        cls, x_f: torch.Tensor, fold_of: torch.Tensor, policy: StackedMLP, *nets: StackedMLP
    ) -> _AdaFirstLayers | None:
        d = x_f.shape[-1]
        if d < ADAMIXUP_SHARED_MIN_FEATURES:
            return None
        # The policy's first weight (G, 2d, h) read as (G, d, 2, h): x W_top and x W_bottom
        # side by side, a view (first_layer_shared makes the one grouped copy).
        w = policy.weights[0]
        halves = policy.first_layer_shared(
            x_f, fold_of, w.view(w.shape[0], 2, d, -1).transpose(1, 2)
        )
        if halves is None:  # folds with unequal numbers of models
            return None
        pre = {}
        for net in nets:
            h = net.first_layer_shared(x_f, fold_of)
            assert h is not None  # the same grouping as the policy's
            pre[id(net)] = h
        return cls(pre, halves, policy)

    def policy(self, perm: torch.Tensor) -> torch.Tensor:
        """The policy network's output on [x, x[perm]], (G, B, 3)."""
        own, other = self.policy_halves.chunk(2, -1)
        partner = torch.gather(other, 1, perm.unsqueeze(-1).expand_as(other))
        h = own + partner + self.policy_net.biases[0]
        return self.policy_net.forward(torch.relu(h), 1)

    def rest(self, net: StackedMLP, params: MixParams | None = None) -> torch.Tensor:
        """``net``'s output on the clean batch, or on its mix with ``params``."""
        h = self.pre[id(net)]
        if params is not None:
            h = apply_mix(h, params)
        if net.n_layers > 1:
            h = torch.relu(h)
        return net.forward(h, 1)


@dataclass
class _StackedBatch:
    """One step's fold batches, padded and stacked: inputs (F, B, d) (mixed for the
    input-space methods), mixup targets (F, B, k), weights (F, B), real sizes (F,); and
    each fold's own labels and draw (None: no draw), for ``label_mixed``."""

    x: torch.Tensor
    targets: torch.Tensor
    weight: torch.Tensor
    sizes: torch.Tensor
    labels: list[torch.Tensor]
    params: list[MixParams | None]

    def to(self, device: torch.device) -> _StackedBatch:
        return _StackedBatch(
            self.x.to(device), self.targets.to(device), self.weight.to(device), self.sizes,
            self.labels, self.params,
        )  # fmt: skip


def _fold_batches(
    run: _GridRun, orders: list[torch.Tensor], step: int, mixing: bool
) -> _StackedBatch:
    """Every fold's batch of one step, padded and stacked (see :class:`_StackedBatch`)."""
    batches, width = run.step(orders, step, mixing)
    xs, mix_ts, weights = [], [], []
    for b in batches:
        if b.params is not None:
            lab = label_mixed("linear", b.params, b.y, run.k, dtype=run.dtype, sample_weight=b.w)
            target, w = lab.mix_targets, lab.weight
        else:
            target = one_hot(b.y, run.k, run.dtype)
            w = torch.ones(len(b.y), dtype=run.dtype) if b.w is None else b.w.to(run.dtype)
        xs.append(_pad(b.x, width))
        mix_ts.append(_pad(target, width))
        weights.append(_pad(w, width))
    sizes = torch.tensor([len(b.y) for b in batches], device=run.device)
    return _StackedBatch(
        torch.stack(xs), torch.stack(mix_ts), torch.stack(weights), sizes,
        [b.y for b in batches], [b.params for b in batches],
    )  # fmt: skip


def _train_two_phase(run: _GridRun, configs: list[Config]) -> StackedMLP:
    """Algorithm 2 for a grid: vanilla warm-up, latent densities, new last layer.

    The warm-up is vanilla, so every configuration of one fold and learning rate has the same
    feature layers: they are trained once per (fold, lr), and after the warm-up shared, frozen,
    by the configurations' own last layers (one per gamma and density).
    """
    settings, device, dtype, k = run.settings, run.device, run.dtype, run.k
    unique = list(dict.fromkeys((c.fold, c.lr) for c in configs))
    unique_of = torch.tensor([unique.index((c.fold, c.lr)) for c in configs], device=device)
    ufold = torch.tensor([f for f, _ in unique], device=device)
    sizes = _sizes(settings, run.folds[0].X.shape[1], k)
    warm = StackedMLP(sizes, len(unique), init_generator(settings.seed), device, dtype)
    lrs = torch.tensor([lr for _, lr in unique], dtype=dtype)
    opt = BatchedAdam(warm.parameters(), lrs, weight_decay=settings.weight_decay)
    curve = _LossCurve(len(configs), settings.epochs, device)
    epochs = iter(_epochs(settings, range(settings.epochs)))
    for epoch in range(settings.warmup_epochs):
        next(epochs)
        orders = run.orders()
        for step in range(run.steps):
            sb = _fold_batches(run, orders, step, False).to(device)
            logits = warm.forward_shared(sb.x, ufold)
            per = soft_cross_entropy(logits, sb.targets[ufold], sb.weight[ufold])
            loss = per.sum()
            opt.zero_grad()
            loss.backward()
            opt.step(sb.sizes[ufold] > 0)
            curve.add(per.detach()[unique_of], (sb.sizes[run.fold_of] > 0).double())
        curve.end_epoch(epoch)
    head = _LatentHead(run, configs, warm, unique)
    for epoch in range(settings.warmup_epochs, settings.epochs):
        next(epochs)
        orders = run.orders()
        for step in range(run.steps):
            sb = _fold_batches(run, orders, step, True).to(device)
            per = head.step(sb)
            curve.add(per, (sb.sizes[run.fold_of] > 0).double())
        curve.end_epoch(epoch)
    last = warm.n_layers - 1
    stack = warm.select(0)  # shape template; fill with every configuration's layers
    stack.weights = [w[unique_of].detach().clone() for w in warm.weights[:last]]
    stack.biases = [b[unique_of].detach().clone() for b in warm.biases[:last]]
    stack.weights.append(head.weight.detach())
    stack.biases.append(head.bias.detach())
    stack.auxiliary = {}
    stack.loss_curve = curve.values
    return stack


# _LatentLabels and _LatentHead take the same (run, configs, features, unique) by design: the two
# stages of Algorithm 2's latent model share the run's stacked features.
class _LatentLabels:
    """GenLabel labels in a feature space: densities per (fold, lr, density kind), fitted on
    the penultimate features that model ``unique.index((fold, lr))`` of ``features`` gives the
    fold's training rows; labels of a step's (mixed) inputs in that same space."""

    def __init__(
        self,
        run: _GridRun,
        configs: list[Config],
        features: StackedMLP,
        unique: list[tuple[int, float]],
    ):
        device, k = run.device, run.k
        self.run, self.features, self.unique = run, features, unique
        self.ufold = torch.tensor([f for f, _ in unique], device=device)  # fold of each (f, lr)
        # The (fold, lr) model whose features each configuration reads.
        self.unique_of = torch.tensor(
            [unique.index((c.fold, c.lr)) for c in configs], device=device
        )
        self.last = features.n_layers - 1
        self.keys = list(dict.fromkeys((c.fold, c.lr, c.density) for c in configs))
        self.key_of = torch.tensor(
            [self.keys.index((c.fold, c.lr, c.density)) for c in configs], device=device
        )
        self.densities = []
        for f, lr, kind in self.keys:
            u = torch.tensor([unique.index((f, lr))], device=device)
            X_f = run.folds[f].X.to(device)
            with torch.no_grad():
                z = features.forward(X_f.unsqueeze(0), 0, self.last, rows=u)[0]
            dens = make_density(kind).fit(z.double().cpu(), run.folds[f].y, classes=list(range(k)))
            self.densities.append(dens)

    def labels(self, batch: _StackedBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """(labels per key (K, B, k), features per (fold, lr) (U, B, h)) of a step's inputs."""
        run, k, xs = self.run, self.run.k, batch.x
        with torch.no_grad():
            h_u = self.features.forward(xs[self.ufold], 0, self.last)  # frozen features
        gen = torch.zeros(len(self.keys), xs.shape[1], k, dtype=run.dtype, device=run.device)
        sizes = batch.sizes.tolist()
        for i, (f, lr, _kind) in enumerate(self.keys):
            params = batch.params[f]
            if sizes[f] and params is not None:  # a fold with a mixed batch
                z = h_u[self.unique.index((f, lr)), : sizes[f]]
                gen[i, : sizes[f]] = label_mixed(
                    run.spec.rule, params, batch.labels[f], k, points=z,
                    density=self.densities[i], log_prior=run.folds[f].log_prior,
                    dtype=run.dtype, label_classes=run.settings.label_classes,
                ).targets  # fmt: skip
        return gen, h_u


class _LatentHead:
    """Algorithm 2 after the warm-up: densities on the frozen penultimate features of each
    (fold, lr) and each configuration's new last layer, trained with the gamma-loss."""

    def __init__(
        self,
        run: _GridRun,
        configs: list[Config],
        warm: StackedMLP,
        unique: list[tuple[int, float]],
    ):
        device, dtype = run.device, run.dtype
        self.run = run
        self.latent = _LatentLabels(run, configs, warm, unique)
        # Fresh last layer per configuration: one draw per fold, from the fold's own stream.
        G = len(configs)
        fan_in, fan_out = warm.sizes[-2], warm.sizes[-1]
        self.weight = torch.zeros(G, fan_in, fan_out, dtype=dtype, device=device)
        self.bias = torch.zeros(G, 1, fan_out, dtype=dtype, device=device)
        for f, fold in enumerate(run.folds):
            w, b = init_linear(fan_in, fan_out, fold.generator)
            self.weight[run.fold_of == f] = w.to(device, dtype)
            self.bias[run.fold_of == f] = b.view(1, -1).to(device, dtype)
        self.weight.requires_grad_()
        self.bias.requires_grad_()
        self.gamma = torch.tensor([c.gamma for c in configs], dtype=dtype, device=device)
        lrs = torch.tensor([c.lr for c in configs], dtype=dtype)
        self.opt = BatchedAdam(
            [self.weight, self.bias], lrs, weight_decay=run.settings.weight_decay
        )

    def step(self, batch: _StackedBatch) -> torch.Tensor:
        """One Adam step of every configuration's last layer; each model's loss."""
        run, latent = self.run, self.latent
        gen, h_u = latent.labels(batch)
        logits = torch.baddbmm(self.bias, h_u[latent.unique_of], self.weight)
        per = genlabel_loss(
            logits, gen[latent.key_of], batch.targets[run.fold_of], self.gamma,
            weight=batch.weight[run.fold_of],
        )  # fmt: skip
        loss = per.sum()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step(batch.sizes[run.fold_of] > 0)
        return per.detach()


def _train_two_model(
    run: _GridRun, configs: list[Config], phi: StackedMLP, unique: list[tuple[int, float]]
) -> StackedMLP:
    """Algorithm 2 as the paper states it, for a grid.

    ``phi`` holds the vanilla model of every (fold, lr) of ``unique``; the densities live on
    its penultimate features, and every configuration's fresh model theta (the initial
    weights of every model of the grid, the fold's draws from the start of its stream)
    trains all layers for all epochs on the gamma-loss with y_gen = p_c(phi_features(x_mix)).
    With gamma = 0 that is mixup, exactly.
    """
    settings, device, dtype = run.settings, run.device, run.dtype
    G = len(configs)
    latent = _LatentLabels(run, configs, phi, unique)
    sizes = _sizes(settings, run.folds[0].X.shape[1], run.k)
    theta = StackedMLP(sizes, G, init_generator(settings.seed), device, dtype)
    lrs = torch.tensor([c.lr for c in configs], dtype=dtype)
    opt = BatchedAdam(theta.parameters(), lrs, weight_decay=settings.weight_decay)
    gamma = torch.tensor([c.gamma for c in configs], dtype=dtype, device=device)
    curve = _LossCurve(G, settings.epochs, device)
    for epoch in _epochs(settings, range(settings.epochs)):
        orders = run.orders()
        for step in range(run.steps):
            sb = _fold_batches(run, orders, step, True).to(device)
            gen, _ = latent.labels(sb)
            active = sb.sizes[run.fold_of] > 0
            part = _training_range(active)
            rows = slice(None) if part is None else part
            fold_of = run.fold_of[rows]
            logits = theta.forward_shared(sb.x, run.fold_of, part)
            per = genlabel_loss(
                logits, gen[latent.key_of[rows]], sb.targets[fold_of], gamma[rows],
                weight=sb.weight[fold_of],
            )  # fmt: skip
            loss = per.sum()
            opt.zero_grad()
            loss.backward()
            opt.step(active)
            curve.add(_all_models(per.detach(), rows, G), active.double())
        curve.end_epoch(epoch)
    theta.loss_curve = curve.values
    return theta
