"""Weighted sums of registered losses: ``Σ weight_i · loss_i``, with optional warm-up.

The value of every term at the last call is kept in :attr:`WeightedSum.last_terms`
(floats, unweighted) for logging.

Warm-up: a term with ``start`` s and ``warmup`` w (training steps) has weight 0 before step
``s`` and ramps linearly from 0 to its weight over the next ``w`` steps (``w = 0``: full weight
from step ``s``). The trainer calls :meth:`WeightedSum.set_step` before every step; a term
whose current weight is 0 is not evaluated (an expensive topology term costs nothing while it
waits). Without ``start``/``warmup`` every term has its full weight at every step.

Example
-------
>>> import torch
>>> from geosr.losses.pixel import L1Loss, MSELoss
>>> loss = WeightedSum([("l1", 1.0, L1Loss()), ("mse", 2.0, MSELoss())])
>>> float(loss(torch.full((1, 1, 2, 2), 0.5), torch.zeros(1, 1, 2, 2)))
1.0
>>> loss.last_terms
{'l1': 0.5, 'mse': 0.25}
>>> ramp = WeightedSum([("l1", 1.0, L1Loss()), ("mse", 2.0, MSELoss())],
...                    schedules=[{}, {"start": 10, "warmup": 100}])
>>> ramp.set_step(60); ramp.current_weights()
[1.0, 1.0]
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence

import torch

from geosr.core.errors import ConfigError

__all__ = ["WeightedSum"]


class WeightedSum(torch.nn.Module):
    """A weighted sum of loss modules.

    Parameters
    ----------
    terms:
        ``(name, weight, module)`` triples; weights must be finite and >= 0, not all 0.
    schedules:
        One mapping per term with optional ``start`` and ``warmup`` (integer steps >= 0);
        None: no warm-up anywhere.
    """

    def __init__(self, terms: Sequence[tuple[str, float, torch.nn.Module]],
                 schedules: Optional[Sequence[Mapping[str, Any]]] = None):
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
        schedules = list(schedules) if schedules is not None else [{}] * len(labels)
        if len(schedules) != len(labels):
            raise ConfigError(f"{len(schedules)} schedules for {len(labels)} loss terms",
                              where="loss")
        self.schedules: list[tuple[int, int]] = []
        for label, schedule in zip(labels, schedules):
            pair = []
            for key in ("start", "warmup"):
                value = (schedule or {}).get(key, 0)
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ConfigError(f"{key} must be an integer number of steps >= 0, got "
                                      f"{value!r}", where=f"loss.{label}.{key}")
                pair.append(int(value))
            self.schedules.append((pair[0], pair[1]))
        self.step = 0

    def set_step(self, step: int) -> None:
        """Set the training step that decides the warm-up factors."""
        self.step = int(step)

    def factor(self, index: int) -> float:
        """The warm-up factor in [0, 1] of term ``index`` at the current step."""
        start, warmup = self.schedules[index]
        if self.step < start:
            return 0.0
        if warmup == 0:
            return 1.0
        return min(1.0, (self.step - start) / warmup)

    def current_weights(self) -> list[float]:
        """The effective weights ``weight · factor`` at the current step."""
        return [w * self.factor(i) for i, w in enumerate(self.weights)]

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = None
        values: dict[str, float] = {}
        for label, weight, module in zip(self.labels, self.current_weights(), self.terms):
            if weight == 0.0:
                continue
            value = module(pred, target)
            values[label] = float(value.detach())
            term = value * weight
            total = term if total is None else total + term
        self.last_terms = values
        if total is None:   # every term still waiting for its warm-up
            return (pred * 0.0).sum()
        return total

    def describe(self) -> list[dict[str, object]]:
        """``[{"name", "weight"}, ...]`` for the model file."""
        out: list[dict[str, object]] = []
        for label, weight, (start, warmup) in zip(self.labels, self.weights, self.schedules):
            entry: dict[str, object] = {"name": label, "weight": weight}
            if start or warmup:
                entry.update(start=start, warmup=warmup)
            out.append(entry)
        return out
