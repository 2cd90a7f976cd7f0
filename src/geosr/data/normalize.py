"""Percentile normalisation (the CSBDeep convention), stored with a model and undone after
prediction.

Each image is mapped by its own percentiles: ``x_n = (x − lo) / (hi − lo)`` with ``lo, hi`` the
``p_low`` and ``p_high`` percentiles of the *input*. A model predicts in normalised units; the
prediction is mapped back with the same ``lo, hi``, so output intensities are in the input's units.

>>> import numpy as np
>>> norm = PercentileNormalizer(p_low=0.0, p_high=100.0, eps=0.0)
>>> x = np.array([2.0, 4.0, 6.0])
>>> lo, hi = norm.fit(x)
>>> norm.normalize(x, lo, hi).tolist(), norm.denormalize(norm.normalize(x, lo, hi), lo, hi).tolist()
([0.0, 0.5, 1.0], [2.0, 4.0, 6.0])
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from geosr.core.errors import ConfigError

__all__ = ["PercentileNormalizer"]


@dataclasses.dataclass(frozen=True)
class PercentileNormalizer:
    """Map the ``p_low``..``p_high`` percentiles of an image to 0..1.

    Parameters
    ----------
    p_low, p_high:
        Percentiles in 0..100 (defaults 1 and 99.8, as in CSBDeep).
    eps:
        Added to ``hi − lo`` so a constant image does not divide by zero.
    """

    p_low: float = 1.0
    p_high: float = 99.8
    eps: float = 1e-6

    def __post_init__(self) -> None:
        if not 0.0 <= self.p_low < self.p_high <= 100.0:
            raise ConfigError(f"need 0 <= p_low < p_high <= 100, got {self.p_low}, "
                              f"{self.p_high}", where="normalization")

    def fit(self, array: np.ndarray) -> tuple[float, float]:
        """The (lo, hi) intensities of ``array`` at the two percentiles."""
        lo, hi = np.percentile(np.asarray(array, dtype=np.float64), (self.p_low, self.p_high))
        return float(lo), float(hi)

    def normalize(self, array: np.ndarray, lo: float, hi: float) -> np.ndarray:
        """``(array − lo) / (hi − lo + eps)`` as float32."""
        return ((np.asarray(array, dtype=np.float32) - np.float32(lo))
                / np.float32(hi - lo + self.eps))

    def denormalize(self, array: np.ndarray, lo: float, hi: float) -> np.ndarray:
        """Inverse of :meth:`normalize` with the same ``lo, hi``."""
        return np.asarray(array, dtype=np.float32) * np.float32(hi - lo + self.eps) + np.float32(lo)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "percentile", **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PercentileNormalizer":
        data = dict(data)
        kind = data.pop("kind", "percentile")
        if kind != "percentile":
            raise ConfigError(f"unknown normalisation kind {kind!r}", where="normalization",
                              hint="only 'percentile' is supported")
        return cls(**data)
