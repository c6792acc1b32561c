"""Small convex fits: L2-regularised logistic regression."""

from __future__ import annotations

import torch


def fit_logistic(features: torch.Tensor, labels: torch.Tensor, l2: float, balanced: bool = False) -> tuple[torch.Tensor, float]:
    """L2-regularised logistic regression by L-BFGS (the problem is convex and tiny).

    `balanced` weighs each class by the inverse of its count, so a split with
    three times more tiles of one class does not shift the intercept.
    """
    coef = torch.zeros(features.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    x, y = features.double(), labels.double()
    weight = torch.ones_like(y)
    if balanced:
        positives = y.sum().clamp_min(1)
        negatives = (1 - y).sum().clamp_min(1)
        weight = torch.where(y > 0.5, len(y) / (2 * positives), len(y) / (2 * negatives))
    optimiser = torch.optim.LBFGS([coef, bias], max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ coef + bias, y, weight=weight) + l2 * (coef**2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return coef.detach().float(), float(bias.item())
