"""Weighted sums of registered losses: ``Σ weight_i · loss_i``.

The value of every term at the last call is kept in :attr:`WeightedSum.last_terms`
(floats, unweighted) for logging.

Example
-------
>>> import torch
>>> from geosr.losses.pixel import L1Loss, MSELoss
>>> loss = WeightedSum([("l1", 1.0, L1Loss()), ("mse", 2.0, MSELoss())])
>>> float(loss(torch.full((1, 1, 2, 2), 0.5), torch.zeros(1, 1, 2, 2)))
1.0
>>> loss.last_terms
{'l1': 0.5, 'mse': 0.25}
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from geosr.core.errors import ConfigError

__all__ = ["WeightedSum"]


class WeightedSum(torch.nn.Module):
    """A weighted sum of loss modules.

    Parameters
    ----------
    terms:
        ``(name, weight, module)`` triples; weights must be finite and >= 0, not all 0.
    """

    def __init__(self, terms: Sequence[tuple[str, float, torch.nn.Module]]):
        super().__init__()
        names, weights = [], []
        for name, weight, _ in terms:
            if not (math.isfinite(weight) and weight >= 0):
                raise ConfigError(f"weight must be a finite number >= 0, got {weight}",
                                  where=f"loss.{name}.weight")
            names.append(str(name))
            weights.append(float(weight))
        if not any(w > 0 for w in weights):
            raise ConfigError("every loss weight is 0", where="loss",
                              hint="give at least one term a positive weight")
        # unique labels for repeated names (l1, l1_2, ...)
        labels: list[str] = []
        for name in names:
            label, k = name, 2
            while label in labels:
                label, k = f"{name}_{k}", k + 1
            labels.append(label)
        self.labels = labels
        self.weights = weights
        self.terms = torch.nn.ModuleList([module for _, _, module in terms])
        self.last_terms: dict[str, float] = {}

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = None
        values: dict[str, float] = {}
        for label, weight, module in zip(self.labels, self.weights, self.terms):
            value = module(pred, target)
            values[label] = float(value.detach())
            term = value * weight
            total = term if total is None else total + term
        self.last_terms = values
        return total

    def describe(self) -> list[dict[str, object]]:
        """``[{"name", "weight"}, ...]`` for the model file."""
        return [{"name": label, "weight": weight}
                for label, weight in zip(self.labels, self.weights)]
