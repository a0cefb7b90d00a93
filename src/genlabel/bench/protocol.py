"""The reference tabular protocol: one job = one data set x trial x model x alpha.

A job computes the cells of several methods at once where they share work: with the
logistic model, ``mixup`` (= GenLabel with gamma = 0, exactly), ``genlabel_gm``,
``genlabel_kde`` and ``genlabel_cv`` are points of one batched grid; each cell is still
selected by its own CV over its own grid.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from .._validation import is_real
from ..data import Dataset, csv_name, load_dataset, make_preprocessor
from ..data.user_csv import csv_sha256
from ..estimators import GenerativeClassifier
from ..metrics import expected_calibration_error, negative_log_likelihood, reliability_bins
from ..registry import METHODS, SUITES, resolve_method
from ..robustness import ATTACKS
from ..training.grid import TrainSettings
from ..training.grids import DEFAULT_GAMMA_GRID, DEFAULT_LR_GRID
from ..training.selection import GridSearchResult, grid_search, param_grid

__all__ = [
    "BENCH_METHODS",
    "PAPER_METHODS",
    "BenchSettings",
    "Job",
    "MeasureSettings",
    "calibration",
    "attack_names",
    "floats_as_floats",
    "measure_label",
    "measure_labels",
    "one_attack_spelling",
    "run_job",
    "split_and_preprocess",
    "unknown_attacks",
]

#: Methods the runner knows: every tabular method of the registry.
BENCH_METHODS = SUITES["quick"].methods
#: The methods of the reference tables.
PAPER_METHODS = SUITES["paper-logistic"].methods
#: The density kinds of each GenLabel method the runner trains in one grid.
GENLABEL_DENSITY = {m: METHODS[m].densities for m in BENCH_METHODS if METHODS[m].is_genlabel}


@dataclass(frozen=True)
class BenchSettings:
    """Everything that defines a cell's result besides (dataset, method, model, trial, alpha).

    Parameters
    ----------
    epochs : int, default=100
    batch_size : int, default=128
    weight_decay : float, default=1e-4
        Adam's training budget.
    warmup_epochs : int, default=20
        The vanilla epochs of the ``reference`` Algorithm 2.
    cv : int, default=5
        Folds of the model selection inside each trial.
    test_size : float or int, default=0.3
        The test part of each trial's stratified split (a share, or a row count).
    fixed_split : bool, default=False
        Split seed 0 for every trial, as the reference scripts did.
    lr_grid : tuple of float
    gamma_grid : tuple of float
        The learning rates and gammas the selection tries.
    data_dir : str, optional
        The OpenML folder; see :func:`genlabel.data.default_data_dir`.
    online : bool, default=False
        Fetch missing OpenML ids with scikit-learn (cached).
    csv_files : tuple of str
        Your own CSV files, named by their stems.
    label : str, optional
        Their label column.
    latent : str, optional
        Where the MLP's GenLabel densities live: ``"two_model"`` (when None),
        ``"reference"`` or ``"input"``.
    class_prior : bool, default=False
        Label with log pi_c + log p_c.
    measure : {"clean", "robust"}, default="clean"
        Test accuracy, or robust accuracy under ``attack``.
    attack : str, default="fgsm"
        ``fgsm``, ``pgd``, ``autoattack``, ``square``, or several, comma-separated.
    eps : tuple of float, default=(0.1,)
        The attack budgets, as fractions of each feature's range.
    """

    epochs: int = 100
    batch_size: int = 128
    weight_decay: float = 1e-4
    warmup_epochs: int = 20
    cv: int = 5
    test_size: float = 0.3
    fixed_split: bool = False
    lr_grid: tuple[float, ...] = DEFAULT_LR_GRID
    gamma_grid: tuple[float, ...] = DEFAULT_GAMMA_GRID
    data_dir: str | None = None
    online: bool = False
    csv_files: tuple[str, ...] = ()  # the user's own CSV files, named by their stems
    label: str | None = None  # their label column
    latent: str | None = None  # GenLabel with the MLP: two_model | reference | input
    class_prior: bool = False  # GenLabel labels from log pi_c + log p_c
    label_classes: str = "all"  # GenLabel labels over every class, or the two mixed ones
    measure: str = "clean"  # or "robust"
    attack: str = "fgsm"  # or several, comma-separated
    eps: tuple[float, ...] = (0.1,)

    def __post_init__(self) -> None:
        one_attack_spelling(self)
        floats_as_floats(self, ("weight_decay", "lr_grid", "gamma_grid", "eps"))

    def fingerprint(self, dataset: str | None = None) -> dict[str, Any]:
        """The settings that change the results of ``dataset``'s cells (not where the data
        live).

        For one of the CSV files (``dataset`` its stem) they include its label column and
        the sha256 of its bytes, so that a store never mixes cells computed from two
        versions of a file; the cells of other data sets do not depend on the CSV files.

        Parameters
        ----------
        dataset : str, optional
            The data set's name.

        Returns
        -------
        dict
            The settings, as stored with the cells.
        """
        out = asdict(self)
        drop: tuple[str, ...] = ("data_dir", "online", "csv_files", "label")
        drop += ("latent",) if self.latent is None else ()
        drop += ("class_prior",) if not self.class_prior else ()
        drop += ("label_classes",) if self.label_classes == "all" else ()
        drop += ("attack", "eps") if self.measure == "clean" else ()
        for key in drop:
            out.pop(key)
        path = self.csv_path(dataset)
        if path is not None:
            out |= {"label": self.label, "csv_sha256": csv_sha256(path)}
        return out

    def csv_path(self, dataset: str | None) -> str | None:
        """The CSV file named ``dataset`` by its stem (None if none is).

        Parameters
        ----------
        dataset : str, optional

        Returns
        -------
        str or None
        """
        return next((p for p in self.csv_files if csv_name(p) == dataset), None)


@dataclass(frozen=True)
class Job:
    """One task of the tabular runner: the cells of one (data set, trial, alpha).

    Parameters
    ----------
    dataset : str
        The data set's name (an OpenML id or a CSV file's stem).
    trial : int
        The trial, which seeds its split and training.
    model : str
        ``logistic`` or ``mlp``.
    alpha : float
        Beta(alpha, alpha) of the mixup draws.
    methods : tuple of str
        The methods whose cells the job computes.
    settings : BenchSettings, default=BenchSettings()
        Everything else that defines a cell's result.
    """

    dataset: str
    trial: int
    model: str
    alpha: float
    methods: tuple[str, ...]
    settings: BenchSettings = field(default_factory=BenchSettings)


def _cached_dataset(dataset: str, settings: BenchSettings) -> Dataset:
    # A CSV file's hash is part of the key: an edited file is read again.
    path = settings.csv_path(dataset)
    return _load_cached(dataset, settings, csv_sha256(path) if path else None)


@functools.lru_cache(maxsize=8)
def _load_cached(dataset: str, settings: BenchSettings, _version: str | None) -> Dataset:
    return load_dataset(
        dataset, settings.data_dir, online=settings.online, csv_files=settings.csv_files,
        label=settings.label,
    )  # fmt: skip


class MeasureSettings(Protocol):
    """What names a cell's measure: the tabular ``BenchSettings``, the images' settings."""

    @property
    def measure(self) -> str: ...  # "clean" or "robust"

    @property
    def attack(self) -> str: ...

    @property
    def eps(self) -> tuple[float, ...]: ...


def attack_names(settings: MeasureSettings) -> tuple[str, ...]:
    """The attacks of a robust run: ``attack`` names one, or several comma-separated (each
    fitted model is then attacked by all of them, so the models are trained once)."""
    return tuple(dict.fromkeys(a.strip() for a in settings.attack.split(",") if a.strip()))


def unknown_attacks(settings: MeasureSettings) -> list[Any]:
    """What ``settings.attack`` names that is no attack (the whole value if it names none)."""
    names = attack_names(settings) if isinstance(settings.attack, str) else ()
    return [a for a in names if a not in ATTACKS] if names else [settings.attack]


def one_attack_spelling(settings: MeasureSettings) -> None:
    """For a frozen settings' ``__post_init__``: ``attack`` in one spelling per set of attacks
    (" fgsm, pgd ,fgsm" is "fgsm,pgd"), so that a resumed store's settings match."""
    if isinstance(settings.attack, str) and attack_names(settings):
        object.__setattr__(settings, "attack", ",".join(attack_names(settings)))


def floats_as_floats(settings: Any, names: tuple[str, ...]) -> None:
    """For a frozen settings' ``__post_init__``: the named float settings (numbers or tuples
    of numbers) as Python floats, ``1`` as ``1.0``, so that settings made in Python with ints
    fingerprint like the command line's and a resumed store's settings match. Values that
    are no real number are left for the settings' checks to report."""

    def as_float(value: Any) -> Any:
        return float(value) if is_real(value) else value

    for name in names:
        value = getattr(settings, name)
        if isinstance(value, (tuple, list)):
            value = type(value)(as_float(v) for v in value)
        object.__setattr__(settings, name, as_float(value))


def measure_label(
    settings: MeasureSettings, eps: float | None = None, attack: str | None = None
) -> str:
    """The store's ``measure`` of a cell: ``clean`` or ``robust-<attack>-eps<eps>``
    (``attack`` may be left out when the settings name one)."""
    if settings.measure == "clean":
        return "clean"
    if attack is None:
        (attack,) = attack_names(settings)
    return f"robust-{attack}-eps{eps:g}"


def measure_labels(settings: MeasureSettings) -> list[str]:
    if settings.measure == "clean":
        return ["clean"]
    return [measure_label(settings, e, a) for a in attack_names(settings) for e in settings.eps]


def split_and_preprocess(
    data: Dataset, trial: int, settings: BenchSettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """70/30 stratified split (seed = trial, or 0 with fixed_split), preprocessing fitted on train."""
    split_seed = 0 if settings.fixed_split else trial
    idx = np.arange(len(data.y))
    counts = np.bincount(data.y)
    stratify = data.y if counts[counts > 0].min() >= 2 else None
    train, test = train_test_split(
        idx, test_size=settings.test_size, stratify=stratify, random_state=split_seed
    )
    pre = make_preprocessor(data.X).fit(data.X.iloc[train])
    X_train = pre.transform(data.X.iloc[train]).astype(np.float32)
    X_test = pre.transform(data.X.iloc[test]).astype(np.float32)
    return X_train, data.y[train], X_test, data.y[test]


def _train_settings(method: str, model: str, job: Job) -> TrainSettings:
    s = job.settings
    return TrainSettings(
        model=model,
        method=method,
        alpha=job.alpha,
        epochs=s.epochs,
        batch_size=s.batch_size,
        weight_decay=s.weight_decay,
        warmup_epochs=min(s.warmup_epochs, s.epochs),
        seed=job.trial,
        latent=s.latent if model == "mlp" else None,
        class_prior=s.class_prior,
        label_classes=s.label_classes,
    )


@dataclass
class _JobData:
    """A job's split: float32 arrays as preprocessed, and the tensors the trainers take."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    k: int

    @property
    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(self.X_train), torch.from_numpy(self.y_train)


@dataclass
class _Cell:
    """One method's fitted model: its test probabilities, chosen parameters and cost."""

    method: str
    proba: np.ndarray  # (n_test, k)
    params: dict[str, Any]
    seconds: float
    module: torch.nn.Module  # differentiable, for the attacks


def calibration(proba: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """A clean cell's calibration: ECE (15 equal-width bins), NLL, the bins as JSON."""
    bins = reliability_bins(proba, y)
    return {
        "ece": expected_calibration_error(proba, y),
        "nll": negative_log_likelihood(proba, y),
        "reliability": json.dumps(
            {
                key: [None if np.isnan(v) else float(v) for v in values]
                for key, values in bins.items()
            }
        ),
    }


def _records(job: Job, data: _JobData, cell: _Cell, attack_fn) -> list[dict[str, Any]]:
    accuracy = float((cell.proba.argmax(1) == data.y_test).mean())
    base = {
        "dataset": job.dataset,
        "method": cell.method,
        "model": job.model,
        "trial": job.trial,
        "alpha": job.alpha,
        "test_accuracy": accuracy,
        "params": json.dumps(cell.params, sort_keys=True),
        "seconds": cell.seconds,
    }
    if job.settings.measure != "robust":
        return [
            base
            | {"measure": "clean", "robust_accuracy": None}
            | calibration(cell.proba, data.y_test)
        ]
    if attack_fn is None:
        raise ValueError("measure='robust' needs an attack function")
    attacked = attack_fn(cell.module, data.X_test, data.y_test, data.X_train)
    return [
        base | {"measure": measure_label(job.settings, eps, attack), "robust_accuracy": robust}
        for (attack, eps), robust in attacked.items()
    ]


def _refit_cell(method: str, result: GridSearchResult, candidates, data, seconds, drop=()):
    best = result.best(candidates)
    stack = result.refit(best)
    params = {key: val for key, val in result.grid[best].items() if key not in drop}
    logits = stack.predict_logits(torch.from_numpy(data.X_test))[0].double()
    proba = torch.softmax(logits, -1).numpy()
    return _Cell(method, proba, params, seconds, stack.to_module(0).double().eval())


def _generative_cell(data: _JobData) -> _Cell:
    start = time.perf_counter()
    clf = GenerativeClassifier().fit(data.X_train.astype(np.float64), data.y_train)
    proba = clf.predict_proba(data.X_test.astype(np.float64))
    return _Cell("generative_gm", proba, {}, time.perf_counter() - start, clf.to_module())


def _family_cells(
    job: Job, data: _JobData, family: list[str], phi: GridSearchResult | None = None
) -> list[_Cell]:
    """The GenLabel family (and mixup, GenLabel with gamma = 0 exactly, with the logistic
    model or the two-model MLP) as points of one grid over lr x gamma x the densities asked
    for; each cell is still selected by its own CV over its own part of the grid. ``phi``:
    the vanilla search whose models the two-model variant labels with."""
    s = job.settings
    densities = tuple(sorted({d for m in family for d in GENLABEL_DENSITY.get(m, ())}))
    gammas = tuple(s.gamma_grid)
    if "mixup" in family and 0.0 not in gammas:
        gammas = (0.0,) + gammas
    grid = param_grid("genlabel", lr_grid=s.lr_grid, gamma_grid=gammas, density_grid=densities)
    start = time.perf_counter()
    settings = _train_settings("genlabel", job.model, job)
    result = grid_search(*data.tensors, data.k, settings, grid, cv=s.cv, phi=phi)
    share = (time.perf_counter() - start) / len(family)
    cells = []
    for method in family:
        if method == "mixup":
            cand = [
                p for p, g in enumerate(grid) if g["gamma"] == 0.0 and g["density"] == densities[0]
            ]
            cells.append(_refit_cell(method, result, cand, data, share, drop=("gamma", "density")))
            continue
        cand = [
            p
            for p, g in enumerate(grid)
            if g["density"] in GENLABEL_DENSITY[method] and g["gamma"] in s.gamma_grid
        ]
        cells.append(_refit_cell(method, result, cand, data, share))
    return cells


def _method_search(job: Job, data: _JobData, method: str) -> tuple[_Cell, GridSearchResult]:
    start = time.perf_counter()
    settings = _train_settings(method, job.model, job)
    grid = param_grid(method, lr_grid=job.settings.lr_grid)
    result = grid_search(*data.tensors, data.k, settings, grid, cv=job.settings.cv)
    return _refit_cell(method, result, None, data, time.perf_counter() - start), result


def run_job(job: Job, *, attack_fn=None) -> list[dict[str, Any]]:
    """Compute the cells of ``job``; returns one record per method (and measure).

    Parameters
    ----------
    job : Job
        The task.
    attack_fn : callable, optional
        ``attack_fn(module, X_test, y_test, X_train) -> {(attack, eps): robust accuracy}``,
        called on every fitted model when the settings ask for ``measure="robust"``.

    Returns
    -------
    list of dict
        One record per method and measure: the columns of the store.
    """
    dataset = _cached_dataset(job.dataset, job.settings)
    data = _JobData(*split_and_preprocess(dataset, job.trial, job.settings), dataset.n_classes)
    pending = [m for m in job.methods if job.model in resolve_method(m).models]
    cells = []
    if "generative_gm" in pending:
        pending.remove("generative_gm")
        cells.append(_generative_cell(data))
    two_model = _train_settings("genlabel", job.model, job).two_model
    one_grid = job.model == "logistic" or two_model  # there mixup is GenLabel at gamma = 0
    family = [m for m in pending if m in GENLABEL_DENSITY or (m == "mixup" and one_grid)]
    phi = None
    if two_model and "vanilla" in pending and any(m in GENLABEL_DENSITY for m in family):
        # The two-model variant labels with the vanilla models of the same folds and
        # learning rates: train them once, for the vanilla cell and for the labels.
        cell, phi = _method_search(job, data, "vanilla")
        cells.append(cell)
        pending.remove("vanilla")
    if any(m in GENLABEL_DENSITY for m in family):
        cells += _family_cells(job, data, family, phi)
        pending = [m for m in pending if m not in family]
    cells += [_method_search(job, data, m)[0] for m in pending]
    return [record for cell in cells for record in _records(job, data, cell, attack_fn)]
