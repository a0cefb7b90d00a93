"""The one registry of methods and suites: names, the models they train, their grids.

The estimator, the drop-in, the benchmark protocol, the CLI and the docs read it, so a
method has one name everywhere; other spellings are accepted as documented aliases.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "ATTACKS",
    "DEFAULT_LATENT",
    "FIGURE_NAMES",
    "IMAGE_DATASETS",
    "IMAGE_MODELS",
    "LABEL_RULES",
    "METHODS",
    "MethodSpec",
    "SUITES",
    "Suite",
    "TABULAR_MODELS",
    "TOY_NAMES",
    "check_method",
    "dropin_names",
    "method_names",
    "resolve_method",
]

# Names that the modules named in each comment own (and re-export), kept here with the
# methods so that the CLI's help texts import neither torch nor scikit-learn: `genlabel
# --help` starts in a fraction of a second.
#: Label rules for mixed points (``genlabel.labels.LABEL_RULES``).
LABEL_RULES = (
    "linear",
    "logistic",
    "nearest_neighbor",
    "exclude_intrusion",
    "genlabel",
    "genlabel_top2",
)
#: The toy data sets of ``genlabel.data.make_toy`` (the keys of ``TOY_DATASETS``).
TOY_NAMES = ("gaussian9", "circle", "circle3d", "two_circles", "moons", "cube2d", "cube3d")
#: The image data sets (``genlabel.data.images.IMAGE_DATASETS``).
IMAGE_DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10", "cifar100", "tiny_imagenet")
#: The attacks of ``genlabel.robustness``.
ATTACKS = ("fgsm", "pgd", "autoattack", "square")
#: The analysis figures of ``genlabel.plots`` (``genlabel figures --only``).
FIGURE_NAMES = (
    "intrusion_maps",
    "decision_boundaries",
    "proposition1",
    "theorem1",
    "intrusion_share",
)
#: Where GenLabel with the MLP fits its densities by default
#: (``genlabel.training.grid.DEFAULT_LATENT``): the paper's Algorithm 2, chosen on the whole
#: paper-mlp suite (docs/results/mlp.md: "Which Algorithm 2 is the default").
DEFAULT_LATENT = "two_model"

TABULAR_MODELS = ("logistic", "mlp")
IMAGE_MODELS = ("cnn", "preact_resnet18")
_ALL = TABULAR_MODELS + IMAGE_MODELS


@dataclass(frozen=True)
class MethodSpec:
    """How a method mixes, labels and is tuned.

    Attributes
    ----------
    name : str
        The canonical name.
    mix : {"none", "input", "manifold", "adaptive", "cutmix", "generative"}
        No mixing, mixup of the inputs, mixup of a hidden layer drawn per batch,
        AdaMixup's learned policy, CutMix boxes, or no mixing with a generative
        classifier.
    rule : str
        The label rule of the mixed points (see ``genlabel.labels.LABEL_RULES``).
    models : tuple of str
        The models it can train.
    grid : tuple of str, default=("lr",)
        The hyper-parameters the benchmark protocol selects by cross-validation.
    densities : tuple of str, default=()
        For GenLabel methods, the class-density kinds it may use.
    aliases : tuple of str, default=()
        Other accepted spellings.
    summary : str, default=""
        One line for help texts.
    dropin : bool, default=False
        Whether ``GenLabelMixup`` mixes and labels it on its own, so that any training
        loop (a user's own network in ``MixupClassifier(module=...)`` too) can train it.
    """

    name: str
    mix: str
    rule: str
    models: tuple[str, ...]
    grid: tuple[str, ...] = ("lr",)
    densities: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    summary: str = ""
    dropin: bool = False

    # What a method does, read from ``mix`` and ``rule`` here only: the trainers, the
    # estimators and the CLI ask these instead of comparing ``mix`` with strings.
    # One property per behaviour of `mix` (item 5): alike in shape by design.
    @property
    def is_genlabel(self) -> bool:
        """Whether its labels come from class densities (a GenLabel rule)."""
        return self.rule in ("genlabel", "genlabel_top2")

    @property
    def relabels(self) -> bool:
        """Whether its mixed points get another label than mixup's linear one."""
        return self.rule != "linear"

    @property
    def mixes(self) -> bool:
        """Whether it trains on mixed points at all (not vanilla, not the generative
        classifier)."""
        return self.mix not in ("none", "generative")

    @property
    def mixes_inputs(self) -> bool:
        """Whether it mixes the inputs, lam x_i + (1 - lam) x_j (mixup)."""
        return self.mix == "input"

    @property
    def mixes_layers(self) -> bool:
        """Whether it mixes a hidden layer drawn per batch (manifold mixup)."""
        return self.mix == "manifold"

    @property
    def adaptive(self) -> bool:
        """Whether a learned policy gives lam (AdaMixup)."""
        return self.mix == "adaptive"

    @property
    def cuts(self) -> bool:
        """Whether it pastes a box of the partner (CutMix)."""
        return self.mix == "cutmix"

    @property
    def generative(self) -> bool:
        """Whether it is a generative classifier (it trains no network)."""
        return self.mix == "generative"

    @property
    def draws_alpha(self) -> bool:
        """Whether it draws lam from Beta(alpha, alpha) (it mixes, by no learned policy)."""
        return self.mixes and not self.adaptive


_SPECS = (
    MethodSpec(
        "vanilla", "none", "linear", _ALL, aliases=("erm",), summary="no mixing", dropin=True
    ),
    MethodSpec("mixup", "input", "linear", _ALL, aliases=("linear",), summary="mixup", dropin=True),
    MethodSpec(
        "mixup_exclude_mi",
        "input",
        "exclude_intrusion",
        TABULAR_MODELS,
        aliases=("exclude_intrusion", "mixup_exclude_intrusion"),
        summary="mixup, dropping points whose nearest training point is a third class",
        dropin=True,
    ),
    MethodSpec(
        "mixup_logistic",
        "input",
        "logistic",
        TABULAR_MODELS,
        aliases=("logistic_labels",),
        summary="mixup with logistic labels",
        dropin=True,
    ),
    MethodSpec(
        "mixup_nn",
        "input",
        "nearest_neighbor",
        TABULAR_MODELS,
        aliases=("nearest_neighbor",),
        summary="mixup with nearest-neighbour labels",
        dropin=True,
    ),
    MethodSpec("adamixup", "adaptive", "linear", _ALL, summary="AdaMixup (learned mixing policy)"),
    MethodSpec(
        "manifold_mixup",
        "manifold",
        "linear",
        ("mlp",) + IMAGE_MODELS,
        aliases=("manifold",),
        summary="mixup of a hidden layer drawn per batch",
    ),
    MethodSpec(
        "genlabel_gm",
        "input",
        "genlabel",
        TABULAR_MODELS,
        ("lr", "gamma"),
        ("gm",),
        aliases=("genlabel", "genlabel-gm"),
        summary="mixup + GenLabel, one Gaussian per class",
        dropin=True,
    ),
    MethodSpec(
        "genlabel_kde",
        "input",
        "genlabel",
        TABULAR_MODELS,
        ("lr", "gamma"),
        ("kde",),
        aliases=("genlabel-kde",),
        summary="mixup + GenLabel, a Gaussian KDE per class",
        dropin=True,
    ),
    MethodSpec(
        "genlabel_cv",
        "input",
        "genlabel",
        TABULAR_MODELS,
        ("lr", "gamma", "density"),
        ("gm", "kde"),
        aliases=("genlabel-cv",),
        summary="mixup + GenLabel, density and gamma chosen by cross-validation",
    ),
    MethodSpec(
        "generative_gm",
        "generative",
        "linear",
        TABULAR_MODELS,
        (),
        aliases=("qda", "generative"),
        summary="generative classifier: argmax log pi_c + log N(x; mu_c, Sigma_c)",
    ),
    MethodSpec(
        "mixup_genlabel",
        "input",
        "genlabel_top2",
        IMAGE_MODELS,
        densities=("online",),
        summary="mixup + GenLabel with online class Gaussians on the features (Algorithm 3)",
    ),
    MethodSpec(
        "manifold_genlabel",
        "manifold",
        "genlabel_top2",
        IMAGE_MODELS,
        densities=("online",),
        summary="manifold mixup + GenLabel on the features of the mixed pass",
    ),
    MethodSpec("cutmix", "cutmix", "linear", IMAGE_MODELS, summary="CutMix", dropin=True),
    MethodSpec(
        "cutmix_genlabel",
        "cutmix",
        "genlabel_top2",
        IMAGE_MODELS,
        densities=("online",),
        summary="CutMix + GenLabel with online class Gaussians on the features",
    ),
)

#: Every method by canonical name.
METHODS: dict[str, MethodSpec] = {spec.name: spec for spec in _SPECS}
_ALIASES: dict[str, str] = {a: spec.name for spec in _SPECS for a in spec.aliases}


def method_names(model: str | None = None, models: Iterable[str] | None = None) -> list[str]:
    """Canonical names of the methods for ``model`` (or any of ``models``; all if neither).

    Parameters
    ----------
    model : str, optional
        One model: ``logistic``, ``mlp``, ``cnn`` or ``preact_resnet18``.
    models : iterable of str, optional
        Several models: the methods that train any of them.

    Returns
    -------
    list of str
        In the registry's order.
    """
    wanted = set(models or ()) | ({model} if model else set())
    return [s.name for s in _SPECS if not wanted or wanted & set(s.models)]


def resolve_method(name: str, *, density: str | None = None) -> MethodSpec:
    """The method called ``name`` or one of its aliases.

    ``genlabel`` with ``density="kde"`` is ``genlabel_kde`` (the estimator's spelling);
    alone it is ``genlabel_gm``. Unknown names raise a ValueError listing the valid ones.

    Parameters
    ----------
    name : str
        A canonical name or an alias, in any case, with ``-`` or ``_``.
    density : str, optional
        ``"gm"`` or ``"kde"``: the density of the plain name ``genlabel``.

    Returns
    -------
    MethodSpec

    Raises
    ------
    ValueError
        A name that is not a string or names no method.

    Examples
    --------
    >>> from genlabel.registry import resolve_method
    >>> resolve_method("genlabel-kde").name, resolve_method("qda").name
    ('genlabel_kde', 'generative_gm')
    """
    if not isinstance(name, str):
        raise ValueError(f"a method name must be a string; got {name!r}")
    key = name.strip().lower().replace("-", "_") if name not in METHODS else name
    if key == "genlabel" and density is not None:
        key = f"genlabel_{density}"
    key = _ALIASES.get(key, key)
    if key not in METHODS:
        raise ValueError(
            f"unknown method {name!r}; expected one of {', '.join(METHODS)} "
            f"(aliases: {', '.join(sorted(_ALIASES))})"
        )
    return METHODS[key]


def dropin_names(model: str | None = None, models: Iterable[str] | None = None) -> list[str]:
    """Canonical names of the drop-in methods (``MethodSpec.dropin``), as :func:`method_names`.

    Parameters
    ----------
    model : str, optional
        One model: ``logistic``, ``mlp``, ``cnn`` or ``preact_resnet18``.
    models : iterable of str, optional
        Several models: the methods that train any of them.

    Returns
    -------
    list of str
    """
    return [name for name in method_names(model, models) if METHODS[name].dropin]


def check_method(name: str, model: str, *, cli: bool = False) -> MethodSpec:
    """The method, after checking that it can train ``model``.

    Parameters
    ----------
    name : str
        A method name or alias.
    model : str
        The model to train (tabular or image).
    cli : bool, default=False
        Spell the model ``--model mlp`` in messages (else ``model='mlp'``).

    Returns
    -------
    MethodSpec

    Raises
    ------
    ValueError
        An unknown method (the message lists those of the model's family), or one that
        cannot train ``model`` (the message says which models it needs).

    Examples
    --------
    >>> check_method("mixup", "mlp").name
    'mixup'
    """
    # The methods of the same family (tabular or image) as the model asked for.
    family = (
        TABULAR_MODELS
        if model in TABULAR_MODELS
        else IMAGE_MODELS
        if model in IMAGE_MODELS
        else TABULAR_MODELS + IMAGE_MODELS
    )
    try:
        spec = resolve_method(name)
    except ValueError:
        names = ", ".join(method_names(models=family))
        raise ValueError(f"unknown method {name!r}; expected one of {names}") from None

    def spell(m: str) -> str:
        return f"--model {m}" if cli else f"model={m!r}"

    if model not in spec.models:
        options = [m for m in spec.models if m in family]
        if not options:  # a method of the other family
            names = ", ".join(method_names(models=family))
            raise ValueError(
                f"method {spec.name!r} trains {', '.join(spec.models)}, not {model}; "
                f"the methods for {spell(model)}: {names}"
            )
        why = " (it mixes hidden layers)" if spec.mixes_layers else ""
        raise ValueError(
            f"method {spec.name!r} needs {' or '.join(map(spell, options))}{why}; "
            f"got {spell(model)}"
        )
    return spec


@dataclass(frozen=True)
class Suite:
    """A benchmark suite: its model, trials and methods; its data sets come from
    ``genlabel.data.suite_ids``.

    Parameters
    ----------
    name : str
        The suite's name (``--suite``).
    model : str
        The model every cell trains.
    trials : int
        Trials per data set.
    methods : tuple of str
        The methods compared.
    summary : str
        One line for the help.
    """

    name: str
    model: str
    trials: int
    methods: tuple[str, ...]
    summary: str


_PAPER = (
    "vanilla", "mixup", "adamixup", "mixup_exclude_mi", "generative_gm",
    "genlabel_gm", "genlabel_kde", "genlabel_cv",
)  # fmt: skip
_TABULAR = (
    "vanilla", "mixup", "mixup_exclude_mi", "mixup_logistic", "mixup_nn", "adamixup",
    "manifold_mixup", "genlabel_gm", "genlabel_kde", "genlabel_cv", "generative_gm",
)  # fmt: skip

SUITES: dict[str, Suite] = {
    "quick": Suite(
        "quick",
        "logistic",
        2,
        _TABULAR,
        "six embedded data sets, every method of the logistic model",
    ),
    "paper-logistic": Suite(
        "paper-logistic", "logistic", 5, _PAPER, "the 124 OpenML sets, logistic regression"
    ),
    "paper-mlp": Suite("paper-mlp", "mlp", 5, _PAPER, "the 124 OpenML sets, the ReLU MLP"),
}
