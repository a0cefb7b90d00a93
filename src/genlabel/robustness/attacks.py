"""L-infinity attacks on a PyTorch classifier that returns logits.

Every attack leaves the model exactly as it was: gradients are taken with respect to the
inputs only (``torch.autograd.grad``, so no ``.grad`` appears on the parameters), it runs in
eval mode and restores the caller's train/eval mode.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import registry

__all__ = [
    "fgsm",
    "pgd",
    "autoattack",
    "autoattack_attacks",
    "robust_accuracy",
    "ATTACKS",
    "AUTOATTACK_NAMES",
    "ExtraNotInstalled",
]

ATTACKS = registry.ATTACKS  # kept in the registry, for the CLI's help
#: The attacks of pyautoattack that ``autoattack(..., attacks=[...])`` can run.
AUTOATTACK_NAMES = ("apgd-ce", "apgd-dlr", "apgd-t", "fab", "fab-t", "square")
logger = logging.getLogger(__name__)


class ExtraNotInstalled(ImportError):
    """An optional extra is needed and missing."""


Bounds = tuple[Any, Any]


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    modes = [m.training for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, mode in zip(model.modules(), modes, strict=True):
            m.training = mode


def _param_dtype(model: nn.Module) -> torch.dtype:
    for p in model.parameters():
        return p.dtype
    for b in model.buffers():
        if b.is_floating_point():
            return b.dtype
    return torch.float32


def _prepare(model: nn.Module, X: Any, y: Any, eps: Any, bounds: Bounds):
    """Inputs in the model's dtype; eps and bounds as tensors (scalars or one per feature)."""
    dtype = _param_dtype(model)
    X = torch.as_tensor(X).to(dtype)
    y = torch.as_tensor(y).long().to(X.device)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} labels")
    if not bool(torch.isfinite(X).all()):
        raise ValueError("X contains NaN or infinite values")
    eps_t = torch.as_tensor(eps, dtype=dtype, device=X.device)
    if not bool(torch.isfinite(eps_t).all()) or bool((eps_t < 0).any()):
        raise ValueError(f"eps must be a float >= 0 (or one per feature); got {eps!r}")
    low = torch.as_tensor(bounds[0], dtype=dtype, device=X.device)
    high = torch.as_tensor(bounds[1], dtype=dtype, device=X.device)
    if bool((low > high).any()):
        raise ValueError(f"bounds must be (low, high) with low <= high; got {bounds!r}")
    return X, y, eps_t, low, high


def _project(x_adv: torch.Tensor, X: torch.Tensor, eps: float, low, high) -> torch.Tensor:
    x_adv = torch.minimum(torch.maximum(x_adv, X - eps), X + eps)
    return torch.minimum(torch.maximum(x_adv, low), high)


def _margin_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per point, the largest other logit minus the true class's (> 0: misclassified)."""
    true = logits.gather(1, y[:, None])[:, 0]
    others = logits.scatter(1, y[:, None], -torch.inf)
    return others.max(1).values - true


def _input_grad(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: str = "ce"
) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    logits = model(x)
    if loss == "ce":
        value = F.cross_entropy(logits, y, reduction="sum")
    else:
        value = _margin_loss(logits, y).sum()
    (grad,) = torch.autograd.grad(value, x)
    return grad


def fgsm(model: nn.Module, X: Any, y: Any, *, eps: Any, bounds: Bounds) -> torch.Tensor:
    """Fast gradient sign method: x + eps * sign(grad_x CE), clipped to ``bounds``.

    ``eps`` and ``bounds`` are scalars or one value per feature. Returns adversarial inputs
    of X's shape, within eps of X (L-inf), inside bounds, finite.

    Parameters
    ----------
    model : torch.nn.Module
        Any module that returns logits; left exactly as it was (eval mode during the
        attack, the caller's mode restored, gradients w.r.t. the inputs only).
    X : array-like or torch.Tensor, shape (n, ...)
        The points to attack: rows (n, d) or images (n, c, h, w).
    y : array-like or torch.Tensor, shape (n,)
        Their class indices.
    eps : float or array-like
        The L-inf budget, a scalar or one value per feature.
    bounds : (low, high)
        The valid range of the inputs, scalars or one value per feature.

    Returns
    -------
    torch.Tensor
        The adversarial inputs, of X's shape.

    Raises
    ------
    ValueError
        Mismatched X and y, NaN or inf in X, a negative eps, or bounds with low > high.
    """
    X, y, eps, low, high = _prepare(model, X, y, eps, bounds)
    if bool((eps == 0).all()):
        return X.clone()
    with _eval_mode(model):
        grad = _input_grad(model, X, y)
    return _project(X + eps * grad.sign(), X, eps, low, high).detach()


# The Parameters text of model, X, y, eps and bounds restates fgsm's: each public attack
# documents its own arguments (numpydoc), and they take the same ones.
def pgd(
    model: nn.Module,
    X: Any,
    y: Any,
    *,
    eps: Any,
    bounds: Bounds,
    steps: int = 20,
    step_size: float | None = None,
    restarts: int = 1,
    generator: torch.Generator | None = None,
    loss: str = "ce",
) -> torch.Tensor:
    """Projected gradient descent (L-inf), random start, keeps each point's strongest restart.

    ``step_size`` defaults to 2.5 eps / steps; ``generator`` drives the random starts
    (seed 0 if none is given, so results are reproducible).

    Parameters
    ----------
    model : torch.nn.Module
        Any module that returns logits; left exactly as it was (eval mode during the
        attack, the caller's mode restored, gradients w.r.t. the inputs only).
    X : array-like or torch.Tensor, shape (n, ...)
        The points to attack: rows (n, d) or images (n, c, h, w).
    y : array-like or torch.Tensor, shape (n,)
        Their class indices.
    eps : float or array-like
        The L-inf budget, a scalar or one value per feature.
    bounds : (low, high)
        The valid range of the inputs, scalars or one value per feature.
    steps : int, default=20
        Gradient steps per restart.
    step_size : float, optional
        The step of each iteration; 2.5 eps / steps by default.
    restarts : int, default=1
        Random starts; each point keeps its strongest one.
    generator : torch.Generator, optional
        The source of the random starts.
    loss : {"ce", "margin"}, default="ce"
        "ce": the cross-entropy of the true labels; "margin": the largest other logit minus
        the true one, as in Carlini and Wagner: no softmax, so its gradient does not vanish
        where a very confident model's cross-entropy saturates in floating point.

    Returns
    -------
    torch.Tensor
        The adversarial inputs, of X's shape, within eps of X and inside bounds.

    Raises
    ------
    ValueError
        As :func:`fgsm`, and ``steps`` or ``restarts`` below 1.
    """
    X, y, eps, low, high = _prepare(model, X, y, eps, bounds)
    if steps < 1 or restarts < 1:
        raise ValueError(f"steps and restarts must be >= 1; got {steps} and {restarts}")
    if loss not in ("ce", "margin"):
        raise ValueError(f"loss must be 'ce' or 'margin'; got {loss!r}")
    if bool((eps == 0).all()):
        return X.clone()
    step_size = 2.5 * eps / steps if step_size is None else float(step_size)
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    best = X.clone()
    best_loss = torch.full((X.shape[0],), -torch.inf, dtype=X.dtype, device=X.device)
    with _eval_mode(model):
        for _ in range(restarts):
            noise = (torch.rand(X.shape, generator=generator, dtype=X.dtype) * 2 - 1).to(X.device)
            x_adv = _project(X + eps * noise, X, eps, low, high)
            for _ in range(steps):
                x_adv = _project(
                    x_adv + step_size * _input_grad(model, x_adv, y, loss).sign(),
                    X,
                    eps,
                    low,
                    high,
                )
            with torch.no_grad():
                logits = model(x_adv)
                # Misclassified points count as strongest; then the larger loss.
                score = F.cross_entropy(logits, y, reduction="none") + 1e6 * (logits.argmax(1) != y)
            better = score > best_loss
            best[better] = x_adv[better].detach()
            best_loss = torch.where(better, score, best_loss)
    return best.detach()


class _UnitModel(nn.Module):
    """AutoAttack works on [0, 1] inputs: map u to the model's inputs low + u * span
    (flattening the (n, 1, 1, d) images that stand for tabular rows)."""

    def __init__(self, model: nn.Module, low: torch.Tensor, span: torch.Tensor, flat: bool):
        super().__init__()
        self.model, self.flat = model, flat
        self.low, self.span = low, span

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        u = u.flatten(1) if self.flat else u
        # pyautoattack works in float32 throughout (FAB mixes dtypes otherwise).
        return self.model(self.low + u.to(self.span.dtype) * self.span).float()


def autoattack_attacks(n_classes: int) -> list[str]:
    """The attacks AutoAttack runs here for ``n_classes`` classes.

    The standard set (APGD-CE, APGD-T, FAB-T, Square) needs the targeted DLR loss, which
    needs at least 4 classes; below that the custom set APGD-CE, FAB, Square runs.

    Parameters
    ----------
    n_classes : int

    Returns
    -------
    list of str
        AutoAttack's names of the attacks.

    Examples
    --------
    >>> autoattack_attacks(3)
    ['apgd-ce', 'fab', 'square']
    """
    return (
        ["apgd-ce", "apgd-t", "fab-t", "square"] if n_classes >= 4 else ["apgd-ce", "fab", "square"]
    )


def _check_attack_set(attacks: Any, n_classes: int) -> list[str]:
    """The names of ``autoattack(..., attacks=...)``, checked against the classes."""
    names = [attacks] if isinstance(attacks, str) else list(attacks)
    unknown = [a for a in names if a not in AUTOATTACK_NAMES]
    if not names or unknown:
        raise ValueError(
            f"attacks must be one or more of {', '.join(AUTOATTACK_NAMES)}; got {attacks!r}"
        )
    # The DLR loss divides by the gap between the 1st and 3rd largest logits (4th: targeted).
    fewest = {"apgd-dlr": 3, "apgd-t": 4}
    for name in names:
        if n_classes < fewest.get(name, 0):
            raise ValueError(f"{name} needs at least {fewest[name]} classes; got {n_classes}")
    return list(dict.fromkeys(names))


def _adversary(
    wrapped: nn.Module,
    n_classes: int,
    fraction: float,
    seed: int,
    device: torch.device,
    attacks: list[str] | None = None,
) -> Any:
    """AutoAttack (L-inf) on a model of [0, 1] inputs, on the inputs' device; its attack
    set fitted to the classes, or the given ``attacks``."""
    try:
        from pyautoattack import AutoAttack
    except ImportError as exc:
        raise ExtraNotInstalled(
            "AutoAttack needs the optional 'attacks' extra (pyautoattack): "
            "pip install 'genlabel[attacks]'"
        ) from exc
    # pyautoattack defaults to device="cpu" and makes its noise there: pass the inputs'.
    common = dict(norm="Linf", eps=fraction, seed=seed, device=device)
    targets = min(9, n_classes - 1)
    if attacks is None and n_classes >= 4:
        adversary = AutoAttack(wrapped, version="standard", **common)
    else:
        attacks = autoattack_attacks(n_classes) if attacks is None else attacks
        adversary = AutoAttack(wrapped, version="custom", attacks=attacks, **common)
        targets = max(1, targets)
    adversary.apgd_targeted.n_target_classes = targets
    adversary.fab.n_target_classes = targets
    adversary.verbose = False
    return adversary


def _unit_scale(X: torch.Tensor, eps: torch.Tensor, low: torch.Tensor, high: torch.Tensor):
    """(inputs in [0, 1], the eps fraction, low, span): each feature rescaled by its range."""
    shape = X.shape[1:]
    low, high = low.expand(shape).clone(), high.expand(shape).clone()
    span = high - low
    live = span > 0
    if not bool(live.any()):
        return None
    ratios = (eps.expand(shape) / span.clamp_min(torch.finfo(span.dtype).tiny))[live]
    if not torch.allclose(ratios, ratios[0].expand_as(ratios), rtol=1e-6):
        raise ValueError("autoattack needs eps to be the same fraction of every feature's range")
    span = torch.where(live, span, torch.ones_like(span))  # constant features cannot move
    return ((X - low) / span).clamp(0, 1), float(ratios[0]), low, span


# The Parameters text of model, X, y, eps and bounds restates fgsm's: each public attack
# documents its own arguments (numpydoc), and they take the same ones. (The signature is
# alike in shape only to other keyword-only ones, e.g. training.steps.build_step's.)
def autoattack(
    model: nn.Module,
    X: Any,
    y: Any,
    *,
    eps: Any,
    bounds: Bounds,
    seed: int = 0,
    batch_size: int = 500,
    attacks: Sequence[str] | None = None,
) -> tuple[torch.Tensor, list[str]]:
    """AutoAttack (standard version, L-inf) through the optional ``attacks`` extra.

    Inputs are rescaled to [0, 1] by ``bounds`` (per feature or scalar), so eps must be the
    same fraction of every feature's range. Images (n, c, h, w) are attacked as they are;
    tabular rows become (n, 1, 1, d) images. The standard version asks for 9 target
    classes: below 10 classes the target counts are C - 1; below 4 classes (no targeted DLR
    loss) the custom set APGD-CE, FAB, Square runs instead (:func:`autoattack_attacks`).
    Returns the adversarial inputs and the names of the attacks that ran.

    Parameters
    ----------
    model : torch.nn.Module
        Any module that returns logits; left exactly as it was (eval mode during the
        attack, the caller's mode restored, gradients w.r.t. the inputs only).
    X : array-like or torch.Tensor, shape (n, ...)
        The points to attack: rows (n, d) or images (n, c, h, w).
    y : array-like or torch.Tensor, shape (n,)
        Their class indices.
    eps : float or array-like
        The L-inf budget, a scalar or one value per feature.
    bounds : (low, high)
        The valid range of the inputs, scalars or one value per feature.
    seed : int, default=0
        AutoAttack's seed.
    batch_size : int, default=500
        Points per forward pass.
    attacks : list of str, optional
        Run those of :data:`AUTOATTACK_NAMES` instead of the standard set, e.g.
        ``["square"]``: the gradient-free Square attack (5,000 queries) alone, a check that
        the gradient attacks are not fooled by masked gradients.

    Returns
    -------
    (torch.Tensor, list of str)
        The adversarial inputs and the names of the attacks that ran.

    Raises
    ------
    ExtraNotInstalled
        The optional ``attacks`` extra (pyautoattack) is not installed.
    ValueError
        eps is not the same fraction of every feature's range.
    """
    X, y, eps, low, high = _prepare(model, X, y, eps, bounds)
    scaled = _unit_scale(X, eps, low, high)
    if scaled is None:
        return X.clone(), []
    u, fraction, low, span = scaled
    image = X.ndim >= 4
    with _eval_mode(model):
        with torch.no_grad():
            n_classes = model(X[:1]).shape[1]
        chosen = None if attacks is None else _check_attack_set(attacks, n_classes)
        wrapped = _UnitModel(model, low, span, flat=not image).eval()
        adversary = _adversary(wrapped, n_classes, fraction, seed, X.device, chosen)
        ran = list(adversary.attacks_to_run)
        u = u if image else u.reshape(X.shape[0], 1, 1, -1)
        x_adv_u, _ = adversary.run_standard_evaluation(u.float(), y, batch_size=batch_size)
    x_adv = low + x_adv_u.reshape(X.shape).to(X.dtype) * span
    logger.info("AutoAttack ran: %s", ", ".join(ran))
    return _project(x_adv, X, eps, low, high).detach(), ran


# The Parameters text of model, X, y, eps and bounds restates fgsm's: each public attack
# documents its own arguments (numpydoc), and they take the same ones.
def robust_accuracy(
    model: nn.Module,
    X: Any,
    y: Any,
    *,
    attack: str = "fgsm",
    eps: Any,
    bounds: Bounds,
    batch_size: int = 1024,
    **attack_kwargs: Any,
) -> float:
    """Share of points whose clean **and** attacked predictions are both correct.

    So it never exceeds the clean accuracy, and eps = 0 gives the clean accuracy.

    Parameters
    ----------
    model : torch.nn.Module
        Any module that returns logits; left exactly as it was (eval mode during the
        attack, the caller's mode restored, gradients w.r.t. the inputs only).
    X : array-like or torch.Tensor, shape (n, ...)
        The points to attack: rows (n, d) or images (n, c, h, w).
    y : array-like or torch.Tensor, shape (n,)
        Their class indices.
    eps : float or array-like
        The L-inf budget, a scalar or one value per feature.
    bounds : (low, high)
        The valid range of the inputs, scalars or one value per feature.
    attack : {"fgsm", "pgd", "autoattack", "square"}, default="fgsm"
        The attack: "autoattack" is the standard set, "square" AutoAttack's gradient-free
        Square attack alone (see :func:`autoattack`).
    batch_size : int, default=1024
        Points attacked at once.
    **attack_kwargs
        Passed to the attack (``steps``, ``restarts``, ``generator`` for PGD).

    Returns
    -------
    float
        The share of points that stay correctly classified, in [0, 1].

    Raises
    ------
    ValueError
        An unknown attack, no points, or the attack's own errors.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from genlabel.robustness import robust_accuracy
    >>> model = nn.Linear(2, 2)
    >>> X, y = torch.randn(8, 2, generator=torch.Generator().manual_seed(0)), torch.zeros(8, dtype=torch.long)
    >>> clean = robust_accuracy(model, X, y, eps=0.0, bounds=(-5, 5))
    >>> robust_accuracy(model, X, y, eps=0.5, bounds=(-5, 5)) <= clean
    True
    """
    if attack not in ATTACKS:
        raise ValueError(f"Unknown attack {attack!r}; expected one of {', '.join(ATTACKS)}")
    X, y, eps, low, high = _prepare(model, X, y, eps, bounds)
    if X.shape[0] == 0:
        raise ValueError("X must hold at least one point")
    correct = 0
    for start in range(0, X.shape[0], batch_size):
        xb, yb = X[start : start + batch_size], y[start : start + batch_size]
        with _eval_mode(model), torch.no_grad():
            clean_ok = model(xb).argmax(1) == yb
        if attack == "fgsm":
            x_adv = fgsm(model, xb, yb, eps=eps, bounds=(low, high))
        elif attack == "pgd":
            x_adv = pgd(model, xb, yb, eps=eps, bounds=(low, high), **attack_kwargs)
        else:
            if attack == "square":
                attack_kwargs = {**attack_kwargs, "attacks": ["square"]}
            x_adv, _ = autoattack(model, xb, yb, eps=eps, bounds=(low, high), **attack_kwargs)
        with _eval_mode(model), torch.no_grad():
            adv_ok = model(x_adv).argmax(1) == yb
        correct += int((clean_ok & adv_ok).sum())
    return correct / X.shape[0]
