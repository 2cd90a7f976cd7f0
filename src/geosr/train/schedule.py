"""Learning-rate schedules in closed form (the rate at step t depends on t only, so a resumed
run gets exactly the rates of an uninterrupted one).

- ``cosine``: ``min_lr + (lr − min_lr)·(1 + cos(π·t/steps))/2``
- ``step``: ``lr · gamma^⌊t / step_size⌋``
- ``constant``: ``lr``

``t`` counts the optimizer steps already taken (0 for the first step).

Example
-------
>>> s = Schedule("cosine", lr=1e-3, steps=100)
>>> s(0), s(50), round(s(100), 12)
(0.001, 0.0005, 0.0)
>>> Schedule("step", lr=1.0, steps=10, step_size=4, gamma=0.5)(9)
0.25
"""

from __future__ import annotations

import dataclasses
import math

__all__ = ["Schedule"]


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule; call it with the step index."""

    kind: str
    lr: float
    steps: int
    min_lr: float = 0.0
    step_size: int = 1000
    gamma: float = 0.5

    def __call__(self, t: int) -> float:
        if self.kind == "cosine":
            frac = min(max(t, 0), self.steps) / max(self.steps, 1)
            return self.min_lr + (self.lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * frac))
        if self.kind == "step":
            return self.lr * self.gamma ** (max(t, 0) // self.step_size)
        return self.lr

    def describe(self) -> dict[str, object]:
        return dataclasses.asdict(self)
