"""Tabular models as stacks of independent copies (one per hyper-parameter configuration).

A stack holds G models of the same shape; weights have a leading dimension G and every
layer is one batched matrix product, so a whole grid trains as one model.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["MODEL_NAMES", "StackedMLP", "init_linear", "layer_sizes", "mlp_module"]

MODEL_NAMES = ("logistic", "mlp")
MLP_HIDDEN = 128
#: forward_shared groups the first layer from this many models x input features on: below,
#: the (G, B, in) copy is cheaper than the grouped product's reshapes and their backward
#: (measured: docs/lab-notes.md).
SHARED_MIN_ELEMENTS = 512


# numpydoc layout alike in shape only to other small public functions (e.g. build_model).
def layer_sizes(
    model: str, n_features: int, n_classes: int, hidden: tuple[int, ...] = (MLP_HIDDEN, MLP_HIDDEN)
) -> list[int]:
    """logistic: d -> k (one linear layer); mlp: d -> hidden... -> k (by default
    d -> 128 -> 128 -> k) with ReLU between the layers.

    Parameters
    ----------
    model : str
        ``"logistic"`` or ``"mlp"``.
    n_features : int
        d.
    n_classes : int
        k.
    hidden : tuple of int, default=(128, 128)
        The MLP's hidden widths.

    Returns
    -------
    list of int

    Raises
    ------
    ValueError
        An unknown model or a hidden width below 1.

    Examples
    --------
    >>> layer_sizes("mlp", 4, 3, hidden=(8,))
    [4, 8, 3]
    """
    if model == "logistic":
        return [n_features, n_classes]
    if model == "mlp":
        if not hidden or any(int(h) < 1 for h in hidden):
            raise ValueError(f"hidden layer sizes must be positive integers; got {hidden!r}")
        return [n_features, *(int(h) for h in hidden), n_classes]
    raise ValueError(f"Unknown model {model!r}; expected one of {', '.join(MODEL_NAMES)}")


def init_linear(
    fan_in: int, fan_out: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """nn.Linear's default initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), from a generator.

    Parameters
    ----------
    fan_in, fan_out : int
    generator : torch.Generator

    Returns
    -------
    weight : Tensor of shape (fan_in, fan_out)
        For ``x @ W``.
    bias : Tensor of shape (fan_out,)
    """
    bound = 1.0 / math.sqrt(fan_in)
    weight = (torch.rand(fan_out, fan_in, generator=generator) * 2 - 1) * bound
    bias = (torch.rand(fan_out, generator=generator) * 2 - 1) * bound
    return weight.T.contiguous(), bias


def mlp_module(
    sizes: list[int], generator: torch.Generator, dtype: torch.dtype = torch.float32
) -> nn.Sequential:
    """A ReLU MLP (``nn.Sequential`` of Linear/ReLU) with ``init_linear`` draws from
    ``generator``: nn.Linear's default initialisation, without the global RNG.

    Parameters
    ----------
    sizes : list of int
        The layer widths (no ReLU after the last layer).
    generator : torch.Generator
    dtype : torch.dtype, default=torch.float32

    Returns
    -------
    nn.Sequential
    """
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        with torch.random.fork_rng(devices=[]):  # nn.Linear draws from the global RNG
            lin = nn.Linear(fan_in, fan_out, dtype=dtype)
        w, b = init_linear(fan_in, fan_out, generator)
        with torch.no_grad():
            lin.weight.copy_(w.T)
            lin.bias.copy_(b)
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _equal_groups(group_of: torch.Tensor, n_groups: int) -> bool:
    """Whether each of the ``n_groups`` groups has as many models (the grouped layout)."""
    counts = torch.bincount(group_of, minlength=n_groups)
    return len(group_of) % n_groups == 0 and bool((counts == len(group_of) // n_groups).all())


def _groups_of_range(
    x: torch.Tensor, group_of: torch.Tensor, models: slice
) -> tuple[torch.Tensor, torch.Tensor]:
    """The batches of the groups that the models ``models`` read, and those models' groups
    renumbered into them; ValueError unless the range holds each of its groups whole."""
    own = group_of[models]
    groups, local = torch.unique(own, sorted=True, return_inverse=True)
    whole = torch.bincount(group_of, minlength=x.shape[0])[groups]
    if not bool((torch.bincount(local, minlength=len(groups)) == whole).all()):
        raise ValueError("a range of a grouped stack must hold whole groups of models")
    return x[groups], local


class StackedMLP:
    """G independent ReLU MLPs (or linear models) with stacked parameters.

    Every model of the stack starts from the same draw.

    Parameters
    ----------
    sizes : list of int
        The layer widths, as :func:`layer_sizes` gives them.
    n_models : int
        G, the models of the stack.
    generator : torch.Generator
        The source of the initial weights (:func:`init_linear`).
    device : str or torch.device, default="cpu"
    dtype : torch.dtype, default=torch.float32

    Attributes
    ----------
    weights : list of Tensor
        ``weights[l]`` has shape (G, in, out).
    biases : list of Tensor
        ``biases[l]`` has shape (G, 1, out).
    auxiliary : dict of str to StackedMLP
        Networks trained beside the stack (AdaMixup's policy and discriminator).
    loss_curve : Tensor of shape (G, epochs) or None
        Mean training loss of every model per epoch, set by the trainer.
    """

    def __init__(
        self,
        sizes: list[int],
        n_models: int,
        generator: torch.Generator,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ):
        self.sizes = list(sizes)
        self.dtype = dtype
        #: Networks trained beside the stack (AdaMixup's policy and discriminator).
        self.auxiliary: dict[str, StackedMLP] = {}
        #: Mean training loss of every model per epoch, (G, epochs), set by the trainer.
        self.loss_curve: torch.Tensor | None = None
        self.weights: list[torch.Tensor] = []
        self.biases: list[torch.Tensor] = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            w, b = init_linear(fan_in, fan_out, generator)
            # Every model of the stack starts from the same draw (one seed per trial).
            w, b = w.to(device, dtype), b.to(device, dtype)
            self.weights.append(w.expand(n_models, -1, -1).contiguous().requires_grad_())
            self.biases.append(
                b.view(1, 1, -1).expand(n_models, 1, -1).contiguous().requires_grad_()
            )

    @property
    def n_layers(self) -> int:
        return len(self.weights)

    @property
    def n_models(self) -> int:
        return self.weights[0].shape[0]

    def parameters(self, layers: range | None = None) -> list[torch.Tensor]:
        """The stacked weights and biases, layer by layer.

        Parameters
        ----------
        layers : range, optional
            Only these layers (default: all).

        Returns
        -------
        list of Tensor
            Weight, then bias, of each layer.
        """
        layers = range(self.n_layers) if layers is None else layers
        return [p for i in layers for p in (self.weights[i], self.biases[i])]

    def layer(self, h: torch.Tensor, i: int, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Apply layer i (with the ReLU that follows it, except after the last layer).

        Parameters
        ----------
        h : Tensor of shape (G, B, in)
        i : int
        rows : Tensor of shape (R,), optional
            Only these models.

        Returns
        -------
        Tensor of shape (G, B, out)
        """
        w, b = self.weights[i], self.biases[i]
        if rows is not None:
            w, b = w[rows], b[rows]
        out = torch.baddbmm(b, h, w)
        return torch.relu(out) if i < self.n_layers - 1 else out

    def forward(
        self,
        x: torch.Tensor,
        start: int = 0,
        stop: int | None = None,
        rows: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Layers ``start`` to ``stop`` of every model (or of the models ``rows``); x (G, B, in).

        Parameters
        ----------
        x : Tensor of shape (G, B, in)
            One batch per model (per row of ``rows``).
        start : int, default=0
        stop : int, optional
            Default: the last layer.
        rows : Tensor of shape (R,), optional
            Only these models.

        Returns
        -------
        Tensor of shape (G, B, out)
        """
        stop = self.n_layers if stop is None else stop
        for i in range(start, stop):
            x = self.layer(x, i, rows)
        return x

    def forward_shared(
        self, x: torch.Tensor, group_of: torch.Tensor, models: slice | None = None
    ) -> torch.Tensor:
        """``forward(x[group_of])`` without forming that (G, B, in) copy of the inputs.

        ``x`` is (F, B, in), one batch per group (a CV fold); model g reads
        ``x[group_of[g]]``. When every group has as many models, the first layer of a
        group's models is one product with their weights side by side, (B, in) x
        (in, m * out): for wide inputs the copy and the stack of thin (in, out) products
        would dominate a grid step. The same values up to float rounding (another
        summation order); otherwise, and for small stacks of narrow inputs (fewer than
        ``SHARED_MIN_ELEMENTS`` models x features), the plain gather.

        ``models``: only the models of this range, (len(range), B, out); gradients reach
        only their parameters. The path is the whole stack's, and the range must hold
        whole groups, so their outputs are those of the whole stack's forward up to float
        rounding: the range's products are batches of other shapes, which a BLAS may block
        or split otherwise (bit-equal on some hosts and thread counts, not on all; the
        tests compare with a rounding tolerance, and ``benchmarks/same_cells.py`` is what
        checks that a store's cells stay the same).

        Parameters
        ----------
        x : Tensor of shape (F, B, in)
            One batch per group.
        group_of : Tensor of shape (G,), int64
            The group of every model.
        models : slice, optional
            Only the models of this range, which must hold whole groups.

        Returns
        -------
        Tensor of shape (G, B, out)
            Or (len(range), B, out) with ``models``.
        """
        shared = self.n_models * x.shape[-1] >= SHARED_MIN_ELEMENTS and _equal_groups(
            group_of, x.shape[0]
        )
        if models is not None:
            x, group_of = _groups_of_range(x, group_of, models)
            net = self._range(models)
        else:
            net = self
        if not shared:
            return net.forward(x[group_of])
        h = net.first_layer_shared(x, group_of)
        assert h is not None  # whole groups of equal size
        if self.n_layers > 1:
            h = torch.relu(h)
        return net.forward(h, 1)

    def _range(self, models: slice) -> StackedMLP:
        """The models ``models`` as a stack of views of this one's parameters (not copies:
        gradients flow back to the whole stack's tensors)."""
        return self._with([w[models] for w in self.weights], [b[models] for b in self.biases])

    def _with(
        self,
        weights: list[torch.Tensor],
        biases: list[torch.Tensor],
        loss_curve: torch.Tensor | None = None,
    ) -> StackedMLP:
        """A stack of this one's sizes holding ``weights`` and ``biases``."""
        part = object.__new__(StackedMLP)
        part.sizes, part.dtype, part.auxiliary = list(self.sizes), self.dtype, {}
        part.loss_curve = loss_curve
        part.weights, part.biases = weights, biases
        return part

    def first_layer_shared(
        self, x: torch.Tensor, group_of: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor | None:
        """The first layer's pre-activations ``x[group_of] @ W_g + b_g``, (G, B, out), as
        grouped products (see :meth:`forward_shared`); None when the groups are unequal.

        ``weight`` (G, in, out') replaces the first layer's weight, without the bias (a
        slice of it, say: AdaMixup's policy reads a point and its partner); it may be a
        view with more trailing dimensions, (G, in, ...), flattened into out' (one copy,
        the grouped layout's).

        Parameters
        ----------
        x : Tensor of shape (F, B, in)
        group_of : Tensor of shape (G,), int64
        weight : Tensor of shape (G, in, ...), optional

        Returns
        -------
        Tensor of shape (G, B, out) or None
        """
        F, G = x.shape[0], self.n_models
        if not _equal_groups(group_of, F):
            return None
        m = G // F
        # The grids order their models fold-major: then no reordering (nor its backward).
        grouped = bool((group_of[1:] >= group_of[:-1]).all())
        order = None if grouped else torch.argsort(group_of, stable=True)
        w = self.weights[0] if weight is None else weight
        w = w if order is None else w[order]  # grouped, model order within
        fan_in = w.shape[1]
        w = w.reshape(F, m, *w.shape[1:]).movedim(1, 2).reshape(F, fan_in, -1)
        fan_out = w.shape[-1] // m
        if weight is None:
            b = self.biases[0] if order is None else self.biases[0][order]
            b = b.view(F, m, 1, fan_out).permute(0, 2, 1, 3).reshape(F, 1, m * fan_out)
            h = torch.baddbmm(b, x, w)
        else:
            h = torch.bmm(x, w)
        h = h.view(F, -1, m, fan_out).permute(0, 2, 1, 3).reshape(G, -1, fan_out)
        return h if order is None else h[torch.argsort(order)]

    # select and select_rows: numpydoc layouts alike in shape only (one public method each).
    def select(self, index: int) -> StackedMLP:
        """A stack of one holding model ``index`` (detached copies of its parameters).

        Parameters
        ----------
        index : int

        Returns
        -------
        StackedMLP
        """
        return self.select_range(index, index + 1)

    def select_rows(self, rows: list[int]) -> StackedMLP:
        """A stack of the models ``rows`` (detached copies of their parameters).

        Parameters
        ----------
        rows : list of int

        Returns
        -------
        StackedMLP
        """
        index = torch.as_tensor(rows, dtype=torch.long, device=self.weights[0].device)
        return self._with(
            [w[index].detach().clone() for w in self.weights],
            [b[index].detach().clone() for b in self.biases],
        )

    def select_range(self, start: int, stop: int) -> StackedMLP:
        """A stack of the models ``start:stop`` (detached copies of their parameters).

        Parameters
        ----------
        start, stop : int

        Returns
        -------
        StackedMLP
        """
        curve = self.loss_curve
        return self._with(
            [w[start:stop].detach().clone() for w in self.weights],
            [b[start:stop].detach().clone() for b in self.biases],
            None if curve is None else curve[start:stop].clone(),
        )

    @torch.no_grad()
    def predict_logits(self, X: torch.Tensor, *, chunk: int = 512) -> torch.Tensor:
        """Logits of every model on the same points: shape (G, n, k), in bounded memory.

        Parameters
        ----------
        X : Tensor of shape (n, in)
        chunk : int, default=512
            Points per forward pass.

        Returns
        -------
        Tensor of shape (G, n, k)
        """
        G = self.n_models
        outs = [self.forward(part.unsqueeze(0).expand(G, -1, -1)) for part in torch.split(X, chunk)]
        return torch.cat(outs, dim=1)

    def to_module(self, index: int) -> nn.Sequential:
        """Model ``index`` as a plain ``nn.Sequential`` (Linear/ReLU), detached from the stack.

        Parameters
        ----------
        index : int

        Returns
        -------
        nn.Sequential
        """
        layers: list[nn.Module] = []
        for i in range(self.n_layers):
            with torch.random.fork_rng(devices=[]):  # nn.Linear draws from the global RNG
                lin = nn.Linear(self.sizes[i], self.sizes[i + 1], dtype=self.dtype)
            with torch.no_grad():
                lin.weight.copy_(self.weights[i][index].T)
                lin.bias.copy_(self.biases[i][index, 0])
            layers.append(lin)
            if i < self.n_layers - 1:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers).to(self.weights[0].device)
