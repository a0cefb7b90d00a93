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
        """One Adam step for the models where ``active`` (shape (G,)) is True (all if None).

        In place, in torch.optim.Adam's order of operations. A skipped model gets zero
        weights in its moment updates and a zero step, which leave its state and parameters
        bit-for-bit unchanged (lerp with weight 0 and ``x * 1 + 0`` are exact).
        """
        if active is not None and bool(active.all()):
            active = None
        if active is None:
            self.steps += 1
        else:
            self.steps += active.to(self.steps.dtype)
        steps = self.steps.clamp_min(1.0)
        bias2_sqrt = torch.sqrt(1 - self.beta2**steps)
        step_size = self.lr / (1 - self.beta1**steps)
        if active is not None:
            act = active.to(self.steps.dtype)
            step_size = step_size * act
            weight1 = (1 - self.beta1) * act
            decay2 = 1 - (1 - self.beta2) * act  # beta2, or exactly 1 when skipped
            weight2 = (1 - self.beta2) * act
        G = self.steps.shape[0]
        for p, m, v in zip(self.params, self.exp_avg, self.exp_avg_sq, strict=True):
            if p.grad is None:
                continue
            shape = (G,) + (1,) * (p.ndim - 1)
            grad = p.grad
            if self.weight_decay:  # in place: the gradient is dropped after the step
                grad = grad.add_(p, alpha=self.weight_decay)
            if active is None:
                m.lerp_(grad, 1 - self.beta1)
                v.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
            else:
                m.lerp_(grad, weight1.view(shape))
                v.mul_(decay2.view(shape)).addcmul_(grad * weight2.view(shape), grad)
            denom = v.sqrt().div_(bias2_sqrt.view(shape)).add_(self.eps)
            p.addcdiv_(m * step_size.view(shape), denom, value=-1)
