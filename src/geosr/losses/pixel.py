"""Pixel losses: L1, MSE and Charbonnier (a smooth L1), mean over every element.

All take ``pred`` and ``target`` of the same shape ``(N, C, [D,] H, W)`` in normalised
intensity units and return a scalar tensor.

- ``l1``: ``mean |p − t|``
- ``mse``: ``mean (p − t)²``
- ``charbonnier``: ``mean (sqrt((p − t)² + ε²) − ε)``, ε = 1e-3 by default; the constant
  ``− ε`` makes it exactly 0 at identity (the gradient is unchanged).

Example
-------
>>> import torch
>>> p, t = torch.tensor([[0.0, 3.0]]), torch.tensor([[0.0, 0.0]])
>>> float(L1Loss()(p, t)), float(MSELoss()(p, t))
(1.5, 4.5)
>>> round(float(CharbonnierLoss(eps=1e-3)(p, t)), 4)
1.4995
"""

from __future__ import annotations

import torch

from geosr.core.errors import ConfigError, InputError
from geosr.losses.registry import register_loss

__all__ = ["L1Loss", "MSELoss", "CharbonnierLoss", "check_shapes"]


def check_shapes(pred: torch.Tensor, target: torch.Tensor, name: str) -> None:
    """Raise :class:`InputError` if the two tensors differ in shape."""
    if pred.shape != target.shape:
        raise InputError(f"prediction shape {tuple(pred.shape)} differs from target shape "
                         f"{tuple(target.shape)}", where=f"loss {name}")


@register_loss("l1")
class L1Loss(torch.nn.Module):
    """Mean absolute error."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_shapes(pred, target, "l1")
        return (pred - target).abs().mean()


@register_loss("mse")
class MSELoss(torch.nn.Module):
    """Mean squared error."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_shapes(pred, target, "mse")
        return (pred - target).square().mean()


@register_loss("charbonnier")
class CharbonnierLoss(torch.nn.Module):
    """``mean(sqrt(d² + eps²) − eps)``: quadratic below ``eps``, L1 above.

    Parameters
    ----------
    eps:
        The transition scale, in normalised intensity units (default 1e-3).
    """

    def __init__(self, eps: float = 1e-3):
        super().__init__()
        if not eps > 0:
            raise ConfigError(f"eps must be > 0, got {eps}", where="loss.charbonnier.eps")
        self.eps = float(eps)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_shapes(pred, target, "charbonnier")
        diff = pred - target
        return (torch.sqrt(diff * diff + self.eps ** 2) - self.eps).mean()
