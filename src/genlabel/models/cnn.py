"""Image classifiers split into ``features`` and ``head``, with a seeded initialisation.

Every model here is ``head(features(x))``: ``features`` maps a batch of images in [0, 1]
to feature vectors (n, ``feature_dim``) and ``head`` is a linear layer to the logits. The
GenLabel image methods fit their class densities on those features; manifold mixup mixes
at the named submodules of ``features`` (``features.block1``, ``features.layer3``, ...).
Normalisation is the first layer of ``features``, so attacks can work on [0, 1] inputs.

Any other model works too: give it ``features`` and ``head`` submodules, or split it at a
named module with :func:`split_model`.
"""

from __future__ import annotations

import math
import secrets
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _NormBase
from torch.nn.modules.conv import _ConvNd

from .._validation import check_int_at_least, is_int_at_least, is_integer, parameter_error
from ..data.augment import Normalize
from ..mixing.params import check_generator

__all__ = [
    "IMAGE_MODELS",
    "PreActBlock",
    "PreActResNet18",
    "SmallCNN",
    "build_model",
    "init_weights",
    "split_model",
]

IMAGE_MODELS = ("cnn", "preact_resnet18")
NormalizeArg = Normalize | tuple[Sequence[float], Sequence[float]] | None


def init_weights(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-draw every parameter of ``model`` from ``generator``, as torch's defaults draw them.

    Convolutions and linear layers: weight ~ kaiming_uniform_(a=sqrt(5)), i.e.
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    module by module in ``named_modules()`` order, weight before bias (the order in which
    torch draws them while building a model, so a model built after
    ``torch.manual_seed(s)`` equals one re-drawn from ``torch.Generator().manual_seed(s)``).
    Normalisation layers are reset to weight 1, bias 0 (and fresh running statistics).

    Parameters
    ----------
    model : nn.Module
    generator : torch.Generator
        The source of every draw.

    Returns
    -------
    nn.Module
        ``model``, modified in place.

    Raises
    ------
    ValueError
        For a module with parameters of another kind (named in the message).
    """
    generator = check_generator(generator)
    with torch.no_grad():
        for name, module in model.named_modules():
            if next(module.parameters(recurse=False), None) is None:
                continue
            if isinstance(module, (nn.Linear, _ConvNd)):
                nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
                if module.bias is not None:
                    fan_in = math.prod(module.weight.shape[1:])  # in / groups * kernel size
                    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                    nn.init.uniform_(module.bias, -bound, bound, generator=generator)
            elif isinstance(module, (_NormBase, nn.GroupNorm, nn.LayerNorm)):
                module.reset_parameters()  # ones and zeros: nothing random
            else:
                raise ValueError(
                    f"init_weights cannot re-draw the parameters of module {name!r} "
                    f"({type(module).__name__}); it handles Conv, Linear and normalisation layers"
                )
    return model


def _resolve_generator(generator: torch.Generator | None, seed: int | None) -> torch.Generator:
    if generator is not None and seed is not None:
        raise ValueError("give a generator or a seed, not both")
    if generator is not None:
        return check_generator(generator)
    # No seed: a fresh one (not reproducible); never the global random state.
    return torch.Generator().manual_seed(secrets.randbits(63) if seed is None else int(seed))


def _seeded(
    build: Callable[[], None],
    model: nn.Module,
    generator: torch.Generator | None,
    seed: int | None,
) -> None:
    """Build the layers, then draw their weights from the generator.

    torch's layers draw from the global generator while they are built; ``fork_rng`` puts
    its state back afterwards, so building a model leaves global random state untouched.
    """
    resolved = _resolve_generator(generator, seed)
    with torch.random.fork_rng(devices=[]):
        build()
    init_weights(model, resolved)


def _normalize_layer(normalize: NormalizeArg) -> nn.Module:
    if normalize is None:
        return nn.Identity()
    if isinstance(normalize, Normalize):
        return normalize
    if isinstance(normalize, (tuple, list)) and len(normalize) == 2:
        return Normalize(*normalize)
    raise ValueError(
        "The 'normalize' parameter must be None, a Normalize module or a (mean, std) pair. "
        f"Got {normalize!r} instead."
    )


def _image_size(image_size: int | Sequence[int], owner: str) -> tuple[int, int]:
    # is_integer takes NumPy's integers too, which mypy cannot narrow ``image_size`` by.
    pair = (image_size, image_size) if is_integer(image_size) else image_size
    size = tuple(cast("Sequence[int]", pair))
    if len(size) != 2 or not all(is_int_at_least(s, 4) for s in size):
        raise parameter_error(
            owner, "image_size", "an int >= 4 or a pair (height, width) of them", image_size
        )
    return (int(size[0]), int(size[1]))


def _conv_block(in_channels: int, out_channels: int, batch_norm: bool) -> nn.Sequential:
    """3x3 convolution (padding 1), [batch norm], ReLU, 2x2 max-pool: halves height and width."""
    layers: OrderedDict[str, nn.Module] = OrderedDict(
        conv=nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=not batch_norm)
    )
    if batch_norm:
        layers["bn"] = nn.BatchNorm2d(out_channels)
    # Not in place: a hook may hold the convolution's output (capture, manifold mixup).
    layers["relu"] = nn.ReLU()
    layers["pool"] = nn.MaxPool2d(2)
    return nn.Sequential(layers)


class _FeaturesHead(nn.Module):
    """A classifier ``head(features(x))``; subclasses build ``features`` and ``head``."""

    features: nn.Module
    head: nn.Module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (n, c, h, w) in [0, 1] -> logits (n, num_classes).

        Parameters
        ----------
        x : Tensor of shape (n, c, h, w)

        Returns
        -------
        Tensor of shape (n, num_classes)
        """
        return self.head(self.features(x))


class SmallCNN(_FeaturesHead):
    """Two convolution blocks and a hidden layer: a fast CNN for MNIST-sized images.

    ``features``: [normalize] -> block1 (conv 3x3, ``width`` channels, ReLU, max-pool 2)
    -> block2 (conv 3x3, 2 * ``width`` channels, ReLU, max-pool 2) -> flatten -> fc
    (linear to 128, ReLU); ``head``: linear 128 -> ``num_classes``. A 28x28 image leaves
    7x7 maps after the two pools, an 8x8 one 2x2.

    Parameters
    ----------
    in_channels, num_classes : int
    image_size : int or (int, int)
        Height and width of the inputs (at least 4).
    width : int, default=32
        Channels of the first convolution (the second has twice as many).
    batch_norm : bool, default=False
        Batch norm after each convolution. Off by default: a model without batch norm
        trains identically on one process and several (no per-worker batch statistics).
    normalize : Normalize or (mean, std), optional
        Applied first, inside ``features``: the model takes inputs in [0, 1].
    generator, seed : optional
        The source of the initial weights (see :func:`init_weights`); neither: a fresh seed.

    Attributes
    ----------
    features : nn.Sequential, (n, in_channels, h, w) -> (n, 128)
        Submodules ``normalize``, ``block1``, ``block2``, ``flatten``, ``fc``.
    head : nn.Linear, (n, 128) -> (n, num_classes)
    feature_dim : int
        128.
    manifold_layers : tuple of str
        Where manifold mixup mixes by default: the input and the two blocks' outputs.
    """

    feature_dim = 128
    manifold_layers = ("input", "features.block1", "features.block2")

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        image_size: int | Sequence[int],
        *,
        width: int = 32,
        batch_norm: bool = False,
        normalize: NormalizeArg = None,
        generator: torch.Generator | None = None,
        seed: int | None = None,
    ):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("num_classes", num_classes)):
            check_int_at_least(value, name, "SmallCNN")
        check_int_at_least(width, "width", "SmallCNN")
        height, wide = _image_size(image_size, "SmallCNN")

        def build() -> None:
            flat = 2 * width * (height // 4) * (wide // 4)
            self.features = nn.Sequential(
                OrderedDict(
                    normalize=_normalize_layer(normalize),
                    block1=_conv_block(in_channels, width, batch_norm),
                    block2=_conv_block(width, 2 * width, batch_norm),
                    flatten=nn.Flatten(),
                    fc=nn.Sequential(
                        OrderedDict(linear=nn.Linear(flat, self.feature_dim), relu=nn.ReLU())
                    ),
                )
            )
            self.head = nn.Linear(self.feature_dim, num_classes)

        _seeded(build, self, generator, seed)


class PreActBlock(nn.Module):
    """A pre-activation residual block (He et al., 2016, "Identity mappings in deep ResNets").

    BN-ReLU-conv3x3(stride)-BN-ReLU-conv3x3, plus the input; when the stride or the width
    changes, the shortcut is a 1x1 convolution of the first BN-ReLU's output.

    Parameters
    ----------
    in_planes : int
        Channels of the input.
    planes : int
        Channels of the output.
    stride : int, default=1
        Stride of the first convolution (and of the shortcut).
    """

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.shortcut: nn.Module | None = None
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False)

    # Alike in shape to _FeaturesHead.forward's docstring: each module documents its own shapes.
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The block's output: the residual branch plus the shortcut.

        Parameters
        ----------
        x : Tensor of shape (n, in_planes, h, w)

        Returns
        -------
        Tensor of shape (n, planes, h / stride, w / stride)
        """
        out = F.relu(self.bn1(x))
        shortcut = x if self.shortcut is None else self.shortcut(out)
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + shortcut


# Its normalize, generator and seed parameters (signature and numpydoc) restate SmallCNN's:
# each public model documents its own.
class PreActResNet18(_FeaturesHead):
    """Pre-activation ResNet-18 for 32x32 images, as in the mixup papers.

    ``features``: [normalize] -> conv1 (3x3, 64 channels, stride 1) -> layer1..layer4 (two
    :class:`PreActBlock` each; widths 64/128/256/512, strides 1/2/2/2) -> bn, relu (the
    final BN-ReLU of the pre-activation design) -> global average pool -> flatten, giving
    (n, 512); ``head``: linear 512 -> ``num_classes``. The pooling is adaptive, so 64x64
    inputs (Tiny ImageNet) work unchanged. 11,172,170 parameters with 10 classes.

    Parameters
    ----------
    num_classes : int
    in_channels : int, default=3
    final_bn : bool, default=True
        The BN-ReLU after layer4 (He et al.'s design). The manifold mixup code and the
        widely copied CIFAR versions leave it out (11,171,146 parameters with 10 classes):
        ``final_bn=False`` builds that variant.
    normalize : Normalize or (mean, std), optional
        Applied first, inside ``features``: the model takes inputs in [0, 1].
    generator, seed : optional
        The source of the initial weights (see :func:`init_weights`); neither: a fresh seed.

    Attributes
    ----------
    feature_dim : int
        512.
    manifold_layers : tuple of str
        Where manifold mixup mixes by default: the input, layer1 and layer2 (as in the
        manifold mixup paper's PreAct-ResNets).
    """

    feature_dim = 512
    manifold_layers = ("input", "features.layer1", "features.layer2")

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 3,
        *,
        final_bn: bool = True,
        normalize: NormalizeArg = None,
        generator: torch.Generator | None = None,
        seed: int | None = None,
    ):
        super().__init__()
        for name, value in (("num_classes", num_classes), ("in_channels", in_channels)):
            check_int_at_least(value, name, "PreActResNet18")

        def build() -> None:
            layers: OrderedDict[str, nn.Module] = OrderedDict(
                normalize=_normalize_layer(normalize),
                conv1=nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False),
            )
            in_planes = 64
            for i, (planes, stride) in enumerate(((64, 1), (128, 2), (256, 2), (512, 2)), 1):
                blocks = [PreActBlock(in_planes, planes, stride), PreActBlock(planes, planes)]
                layers[f"layer{i}"] = nn.Sequential(*blocks)
                in_planes = planes
            if final_bn:
                layers["bn"] = nn.BatchNorm2d(512)
                layers["relu"] = nn.ReLU()
            layers["pool"] = nn.AdaptiveAvgPool2d(1)
            layers["flatten"] = nn.Flatten()
            self.features = nn.Sequential(layers)
            self.head = nn.Linear(self.feature_dim, num_classes)

        _seeded(build, self, generator, seed)


# numpydoc layout alike in shape only to other small public functions (e.g. layer_sizes).
def build_model(
    name: str,
    *,
    num_classes: int,
    in_channels: int,
    image_size: int | Sequence[int],
    normalize: NormalizeArg = None,
    generator: torch.Generator | None = None,
    seed: int | None = None,
) -> nn.Module:
    """An image classifier by name: "cnn" (:class:`SmallCNN`) or "preact_resnet18".

    Parameters
    ----------
    name : str
        ``"cnn"`` or ``"preact_resnet18"``.
    num_classes : int
    in_channels : int
    image_size : int or (int, int)
        Sizes SmallCNN's hidden layer; the ResNet pools adaptively and takes any size
        (32x32 and 64x64 are the ones it is meant for).
    normalize : Normalize or (mean, std), optional
        Applied first: the model takes inputs in [0, 1].
    generator : torch.Generator, optional
    seed : int, optional
        The source of the initial weights.

    Returns
    -------
    nn.Module

    Raises
    ------
    ValueError
        An unknown name or an invalid ``image_size``.
    """
    if name == "cnn":
        return SmallCNN(
            in_channels,
            num_classes,
            image_size,
            normalize=normalize,
            generator=generator,
            seed=seed,
        )
    if name == "preact_resnet18":
        _image_size(image_size, "build_model")
        return PreActResNet18(
            num_classes, in_channels, normalize=normalize, generator=generator, seed=seed
        )
    raise ValueError(f"unknown image model {name!r}; expected one of {', '.join(IMAGE_MODELS)}")


def _module_names(model: nn.Module) -> str:
    names = [name for name, _ in model.named_modules() if name]
    shown = ", ".join(names[:40])
    return shown + (f", ... ({len(names)} in all)" if len(names) > 40 else "")


def _split_sequential(
    module: nn.Module, path: list[str], full: str
) -> tuple[nn.Sequential, nn.Sequential]:
    """(the children up to and including ``path``, the rest), through nested Sequentials."""
    if not isinstance(module, nn.Sequential):
        raise ValueError(
            f"cannot split the model at {full!r}: {type(module).__name__} is not an "
            "nn.Sequential, so what runs after that module is not known; give the model "
            "`features` and `head` submodules (head(features(x)) == model(x)) instead"
        )
    names = [name for name, _ in module.named_children()]
    i = names.index(path[0])
    before = [getattr(module, name) for name in names[:i]]
    after = [getattr(module, name) for name in names[i + 1 :]]
    child = getattr(module, path[0])
    if len(path) == 1:
        return nn.Sequential(*before, child), nn.Sequential(*after)
    first, rest = _split_sequential(child, path[1:], full)
    return nn.Sequential(*before, first), nn.Sequential(rest, *after)


def _features_and_head(model: nn.Module) -> tuple[nn.Module, nn.Module] | None:
    """The model's ``features`` and ``head`` submodules, or None when it lacks either."""
    features, head = getattr(model, "features", None), getattr(model, "head", None)
    if isinstance(features, nn.Module) and isinstance(head, nn.Module):
        return features, head
    return None


def split_model(
    model: nn.Module, feature_module: str | None = None
) -> tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]:
    """The model as (features, head), two callables with ``head(features(x)) == model(x)``.

    Parameters
    ----------
    model : nn.Module
        Possibly wrapped in DistributedDataParallel (the wrapped module is split; call
        the wrapper itself to train, so that gradients are synchronised).
    feature_module : str, optional
        None: the model's own ``features`` and ``head`` submodules. A dotted module name
        (as in ``model.named_modules()``): split just after that module, whose output
        becomes the features. The model must then be an ``nn.Sequential`` (nested ones
        too), or have ``features``/``head`` with the name inside an ``nn.Sequential``
        ``features``: only then is what follows the module known.

    Returns
    -------
    features, head : callable
        ``features(x)`` is the split module's output; ``head`` maps it to the logits.

    Raises
    ------
    ValueError
        When the model has no ``features``/``head``, no module of that name (the message
        lists the names it has), or cannot be split there.
    """
    inner: nn.Module = getattr(model, "module", model)
    parts = _features_and_head(inner)
    if feature_module is None:
        if parts is None:
            raise ValueError(
                f"{type(inner).__name__} has no `features` and `head` submodules; pass "
                "feature_module='<name of the module whose output is the features>' (one of "
                f"{_module_names(inner)})"
            )
        return parts
    modules = dict(inner.named_modules())
    if not feature_module or feature_module not in modules:
        raise ValueError(
            f"the model has no module named {feature_module!r}; its modules are "
            f"{_module_names(inner)}"
        )
    path = feature_module.split(".")
    if parts is not None and path[0] == "features" and not isinstance(inner, nn.Sequential):
        features, head = parts
        if len(path) == 1:
            return features, head
        first, rest = _split_sequential(features, path[1:], feature_module)
        return first, nn.Sequential(rest, head)
    return _split_sequential(inner, path, feature_module)
