"""A scikit-learn-style repr for the public classes that are no scikit-learn estimators.

``GenLabelMixup(num_classes=3, gamma=0.8, seed=0)``: the class and the constructor
arguments that differ from their defaults, as scikit-learn prints an estimator. scikit-learn's
own printer only handles ``BaseEstimator`` subclasses, and several of our classes convert
their arguments when stored (a density name becomes a density, a seed a generator, a device
string a ``torch.device``), so the mixin records the arguments as given instead of reading
them back from attributes.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

__all__ = ["ParamsRepr"]

_LONG = 60  # a nested value whose repr is longer (or spans lines) is shown as Name(...)


class ParamsRepr:
    """Mixin: ``repr`` shows the constructor arguments given that differ from the defaults.

    Every subclass's ``__init__`` is wrapped once, at class creation, to record its bound
    arguments; the outermost ``__init__`` (the most derived class) records last and wins.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_records_params", False):
            return
        signature = inspect.signature(init)

        @functools.wraps(init)
        def recording_init(self: Any, *args: Any, **kw: Any) -> None:
            init(self, *args, **kw)
            bound = signature.bind(self, *args, **kw)
            given = dict(list(bound.arguments.items())[1:])  # without self
            # object.__setattr__: nn.Module's __setattr__ would look at the value's type.
            object.__setattr__(self, "_given_params", given)

        recording_init._records_params = True  # type: ignore[attr-defined]
        cls.__init__ = recording_init  # type: ignore[method-assign]

    def __repr__(self) -> str:
        given = self.__dict__.get("_given_params")
        if given is None:  # built without __init__ (cls.__new__, say)
            return f"{type(self).__name__}()"
        # The __init__ that recorded them: functools.wraps lets inspect see through it.
        signature = inspect.signature(type(self).__init__)
        parts = []
        for name, value in given.items():
            param = signature.parameters[name]
            if param.kind is param.VAR_KEYWORD:
                parts += [f"{k}={_short(v)}" for k, v in value.items()]
            elif param.kind is param.VAR_POSITIONAL:
                parts += [_short(v) for v in value]
            elif param.default is param.empty or not _same(value, param.default):
                parts.append(f"{name}={_short(value)}")
        return f"{type(self).__name__}({', '.join(parts)})"


def _same(value: Any, default: Any) -> bool:
    """Whether an argument equals its default (as scikit-learn's ``_changed_params``:
    identity, or equal values of one type, so that ``1`` and ``True`` stay apart)."""
    if value is default:
        return True
    if type(value) is not type(default):
        return False
    try:
        return bool(value == default)
    except Exception:  # arrays, tensors: an ambiguous truth value means "changed"
        return False


def _short(value: Any) -> str:
    if isinstance(value, ParamsRepr):
        return repr(value)
    if inspect.isfunction(value) or inspect.isbuiltin(value) or inspect.ismethod(value):
        return value.__qualname__
    text = repr(value)
    if "\n" in text or len(text) > _LONG or " at 0x" in text:
        return f"{type(value).__name__}(...)"
    return text
