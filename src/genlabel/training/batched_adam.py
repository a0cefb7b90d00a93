"""Adam over stacked parameters, each model of the stack with its own learning rate.

torch.optim.Adam takes one learning rate per parameter group; a grid of G learning rates
over stacked (G, ...) tensors needs a per-row rate and a per-row "skip this step" mask, so
we write the update by hand, following torch.optim.Adam's formula (L2 weight decay added
to the gradient, bias corrections, eps outside the square root) so that results match it.
"""

from __future__ import annotations

import torch

__all__ = ["BatchedAdam"]


class BatchedAdam:
    def __init__(
        self,
        params: list[torch.Tensor],
        lr: torch.Tensor,
        *,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        self.params = params
        self.lr = lr.to(params[0].device, params[0].dtype)
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.weight_decay = weight_decay
        G = params[0].shape[0]
        self.steps = torch.zeros(G, dtype=params[0].dtype, device=params[0].device)
        self.exp_avg = [torch.zeros_like(p) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self, active: torch.Tensor | None = None) -> None:
        """One Adam step for the models where ``active`` (shape (G,)) is True (all if None)."""
        G = self.steps.shape[0]
        if active is None:
            active = torch.ones(G, dtype=torch.bool, device=self.steps.device)
        self.steps += active.to(self.steps.dtype)
        steps = self.steps.clamp_min(1.0)
        bias1 = 1 - self.beta1**steps
        bias2_sqrt = torch.sqrt(1 - self.beta2**steps)
        step_size = self.lr / bias1
        for p, m, v in zip(self.params, self.exp_avg, self.exp_avg_sq, strict=True):
            if p.grad is None:
                continue
            shape = (G,) + (1,) * (p.ndim - 1)
            act = active.view(shape)
            grad = p.grad
            if self.weight_decay:
                grad = grad + self.weight_decay * p
            m.copy_(torch.where(act, m.lerp(grad, 1 - self.beta1), m))
            v.copy_(torch.where(act, v * self.beta2 + (1 - self.beta2) * grad * grad, v))
            denom = v.sqrt() / bias2_sqrt.view(shape) + self.eps
            update = step_size.view(shape) * m / denom
            p.sub_(torch.where(act, update, torch.zeros_like(update)))
