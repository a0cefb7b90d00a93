"""Small MLPs trained on toy data with vanilla, mixup or mixup + GenLabel (for the figures)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..models import mlp_module
from ..training import GenLabelMixup

__all__ = ["TOY_METHODS", "train_toy_mlp"]

#: method -> (label rule, alpha)
TOY_METHODS = {"vanilla": ("linear", 0.0), "mixup": ("linear", 1.0), "genlabel": ("genlabel", 1.0)}


def train_toy_mlp(
    X: np.ndarray,
    y: np.ndarray,
    method: str,
    *,
    epochs: int = 150,
    hidden: int = 64,
    lr: float = 0.01,
    gamma: float = 1.0,
    density: str = "gm",
    seed: int = 0,
) -> nn.Module:
    """Train a 2-hidden-layer ReLU MLP with Adam on minibatches of 128.

    ``method`` is ``vanilla`` (no mixing), ``mixup`` or ``genlabel`` (mixup relabeled with
    the class ``density``, "gm" or "kde", and loss ratio ``gamma``).
    """
    if method not in TOY_METHODS:
        raise ValueError(f"Unknown method {method!r}; expected one of {', '.join(TOY_METHODS)}")
    rule, alpha = TOY_METHODS[method]
    X_t = torch.as_tensor(X, dtype=torch.float32)
    y_t = torch.as_tensor(y, dtype=torch.long)
    k = int(y_t.max()) + 1
    init = torch.Generator().manual_seed(seed)
    model = mlp_module([X_t.shape[1], hidden, hidden, k], init)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    mixer = GenLabelMixup(k, rule=rule, alpha=alpha, gamma=gamma, density=density, seed=seed)
    if mixer.needs_fit:
        mixer.fit(X_t, y_t)
    order = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(X_t), generator=order).split(128):
            batch = mixer(X_t[idx], y_t[idx])
            loss = mixer.loss(model(batch.inputs), batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()
