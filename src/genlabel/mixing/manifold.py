"""Manifold mixup on any PyTorch model: mix the output of a named module, through a hook.

Manifold mixup (Verma et al., 2019) mixes hidden representations instead of inputs: pick a
layer, run the model up to it, mix its output as mixup mixes inputs, run the rest. Here the
layer is any module of the model, named as in ``model.named_modules()``
(``"features.block1"``), or ``"input"``; a forward hook replaces the module's output by
``apply_mix(output, params)`` for one forward pass and is removed after it. The model
itself is unchanged, so it may be wrapped in DistributedDataParallel: the hooks go on the
wrapped module and the pass goes through the wrapper, which synchronises the gradients.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import torch
from torch import nn

from .params import MixParams, apply_mix, draw_mix_params

__all__ = ["INPUT", "Captured", "ManifoldMixup", "capture_output"]

#: The layer name of the model's input (plain input mixup).
INPUT = "input"


def _unwrap(model: nn.Module) -> nn.Module:
    """The module inside DistributedDataParallel / DataParallel, or the model itself."""
    return getattr(model, "module", model)


def _module_names(model: nn.Module) -> list[str]:
    return [name for name, _ in _unwrap(model).named_modules() if name]


def _name_list(names: list[str], limit: int = 40) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _find_module(model: nn.Module, name: str, parameter: str) -> nn.Module:
    modules = dict(_unwrap(model).named_modules())
    if not isinstance(name, str) or not name or name not in modules:
        raise ValueError(
            f"{parameter}: the model has no module named {name!r}; valid names are "
            f"{_name_list(_module_names(model))}"
        )
    return modules[name]


class Captured:
    """What a module returned in the forward passes run inside :func:`capture_output`.

    Parameters
    ----------
    name : str
        The module's name.

    Attributes
    ----------
    name : str
        The module's name.
    calls : int
        How many times it ran.
    """

    def __init__(self, name: str):
        self.name = name
        self.calls = 0
        self._output: Any = None

    @property
    def output(self) -> Any:
        """The module's output in the latest pass (with its autograd graph, not detached)."""
        if self.calls == 0:
            raise RuntimeError(
                f"module {self.name!r} has not run; call the model inside the capture block"
            )
        return self._output

    def _store(self, output: Any) -> None:
        self.calls += 1
        self._output = output


@contextmanager
def capture_output(model: nn.Module, name: str) -> Iterator[Captured]:
    """Record the output of the module ``name`` during the forward passes inside the block.

    ::

        with capture_output(model, "features") as features:
            logits = model(x)
        z = features.output  # (n, feature_dim), from the same pass as the logits

    The hook goes on the module (inside a DistributedDataParallel wrapper, when there is
    one) and is removed when the block exits, also on an exception.

    Parameters
    ----------
    model : nn.Module
    name : str
        A module name as in ``model.named_modules()``.

    Yields
    ------
    Captured
        Its ``output`` is the module's output in the latest pass.

    Raises
    ------
    ValueError
        For a name that is not a module of the model (the message lists the names).
    """
    module = _find_module(model, name, "capture_output")
    captured = Captured(name)
    handle = module.register_forward_hook(lambda _m, _args, out: captured._store(out))
    try:
        yield captured
    finally:
        handle.remove()


@contextmanager
def _mix_output(model: nn.Module, name: str, params: MixParams) -> Iterator[Captured]:
    """Replace the output of module ``name`` by ``apply_mix(output, params)`` inside the block."""
    module = _find_module(model, name, "ManifoldMixup")
    state = Captured(name)

    def hook(_module: nn.Module, _args: Any, output: Any) -> torch.Tensor:
        if state.calls:
            # A module that runs twice in one pass (shared weights) would be mixed twice.
            raise ValueError(
                f"module {name!r} ran more than once in one forward pass; manifold mixup "
                "needs a module that runs once"
            )
        if not isinstance(output, torch.Tensor):
            raise ValueError(
                f"manifold mixup at {name!r} needs a module that returns one tensor; it "
                f"returned {type(output).__name__}"
            )
        mixed = apply_mix(output, params)
        state._store(mixed)
        return mixed

    handle = module.register_forward_hook(hook)
    try:
        yield state
    finally:
        handle.remove()


class ManifoldMixup:
    """Run a model with its input or one module's output mixed.

    Parameters
    ----------
    model : nn.Module
        Any model, possibly wrapped in DistributedDataParallel (names are those of the
        wrapped module: ``"features.block1"``, not ``"module.features.block1"``).
    layers : sequence of str
        Where mixing may happen: ``"input"`` and/or module names as in
        ``model.named_modules()``. Each must return one tensor of shape (n, ...) and run
        once per forward pass.

    Examples
    --------
    ::

        mm = ManifoldMixup(model, ["input", "features.block1", "features.block2"])
        params = mm.draw(len(x), alpha=2.0, generator=gen)  # the layer, lam, the pairing
        logits, z = mm(x, params, capture="features")  # z: the features of the mixed pass
        targets = label_mixed("linear", params, y, k).mix_targets  # genlabel.labels

    Raises
    ------
    ValueError
        For an empty ``layers`` or a name that is not ``"input"`` nor a module of the
        model (the message lists the valid names).
    """

    def __init__(self, model: nn.Module, layers: Sequence[str]):
        if isinstance(layers, str):
            layers = [layers]
        layers = tuple(layers)
        if not layers:
            raise ValueError("ManifoldMixup: layers must name at least one layer to mix at")
        valid = set(_module_names(model))
        unknown = [name for name in layers if name != INPUT and name not in valid]
        if unknown:
            raise ValueError(
                f"ManifoldMixup: unknown layers {unknown}; valid names are 'input' and the "
                f"model's modules {_name_list(_module_names(model))}"
            )
        self.model = model
        self.layers: tuple[str, ...] = layers

    def draw(
        self, n: int, *, alpha: float, generator: torch.Generator, per_sample: bool = False
    ) -> MixParams:
        """Draw a mix of n points: the layer (uniformly among ``layers``), lam, the pairing.

        The same draws, in the same order, as :func:`draw_mix_params` with
        ``layers=self.layers``.

        Parameters
        ----------
        n : int
            Points in the batch.
        alpha : float
            lam ~ Beta(alpha, alpha); 0 means no mixing.
        generator : torch.Generator
        per_sample : bool, default=False
            One lam per point instead of one per batch.

        Returns
        -------
        MixParams
        """
        return draw_mix_params(
            n, alpha=alpha, generator=generator, per_sample=per_sample, layers=self.layers
        )

    def __call__(
        self, x: torch.Tensor, params: MixParams, *, capture: str | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        """One forward pass of ``model`` with the mix applied at ``params.layer``.

        Parameters
        ----------
        x : Tensor of shape (n, ...)
            The unmixed batch.
        params : MixParams
            ``params.layer`` is one of ``layers`` (None means ``"input"``).
        capture : str, optional
            A module whose output in this same pass is returned too (e.g. ``"features"``:
            the representation of the mixed points). When it is the mixing layer itself,
            the mixed output is returned.

        Returns
        -------
        logits : Tensor, the model's output
        captured : the output of ``capture``, only when ``capture`` is given
        """
        layer = INPUT if params.layer is None else params.layer
        if layer not in self.layers:
            raise ValueError(
                f"params.layer must be one of this ManifoldMixup's layers {list(self.layers)}; "
                f"got {params.layer!r}"
            )
        with ExitStack() as stack:
            mixing = None
            if layer == INPUT:
                x = apply_mix(x, params)
            else:
                mixing = stack.enter_context(_mix_output(self.model, layer, params))
            # Registered after the mixing hook: when both are on one module, it sees the mix.
            captured = None
            if capture is not None:
                captured = stack.enter_context(capture_output(self.model, capture))
            out = self.model(x)
        if mixing is not None and mixing.calls == 0:
            raise ValueError(f"module {layer!r} did not run in the forward pass; nothing was mixed")
        return out if captured is None else (out, captured.output)

    def __repr__(self) -> str:
        return f"ManifoldMixup({type(_unwrap(self.model)).__name__}, layers={list(self.layers)})"
