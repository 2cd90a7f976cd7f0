"""Multiple-testing control over the tiles of one image.

An image of 256 tiles tested one by one at ``p < 0.001`` turns red by chance about one time in
four (``1 − 0.999²⁵⁶ ≈ 0.23``). The verdict therefore decides which tiles are flagged with a
procedure over the whole family of tile p-values, at a level the user sets (default 0.05):

- ``"holm"`` (default; Holm, Scand. J. Stat. 1979): sort the ``m`` p-values,
  ``p(1) ≤ … ≤ p(m)``; reject ``p(1) … p(k)`` for the largest ``k`` with
  ``p(j) ≤ level / (m − j + 1)`` for every ``j ≤ k``. Family-wise error rate (the probability
  that *any* tile of a correct image is flagged) ``≤ level`` under any dependence.
- ``"bh"`` (Benjamini & Hochberg, JRSS-B 1995): reject the ``k`` smallest for the largest
  ``k`` with ``p(k) ≤ k · level / m``. False discovery rate (expected share of flagged tiles
  that are false alarms) ``≤ level`` for independent or positively dependent p-values; more
  tiles flagged on a wrong image, weaker protection of a correct one.
- ``"none"``: each tile on its own, flagged when ``p ≤ level`` (the former behaviour with
  ``level = 0.001``; no control across tiles).

NaN p-values (tiles without data) are never flagged and do not count in ``m``.

>>> import numpy as np
>>> p = np.array([0.01, 0.04, 0.03, 0.005])
>>> control(p, 0.05, "holm").flagged.tolist()
[True, False, False, True]
>>> control(p, 0.05, "bh").flagged.tolist()
[True, True, True, True]
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from geosr.core.errors import ConfigError

__all__ = ["CONTROLS", "DEFAULT_LEVEL", "Controlled", "control", "holm", "benjamini_hochberg"]

DEFAULT_LEVEL = 0.05

#: Procedure name → (what it controls, how it is called in a sentence).
CONTROLS = {
    "holm": ("family-wise", "Holm's procedure"),
    "bh": ("false-discovery", "the Benjamini-Hochberg procedure"),
    "none": ("per-tile", "a per-tile threshold"),
}


@dataclasses.dataclass
class Controlled:
    """Which tests are flagged (same shape as the p-values), the procedure, its level and the
    family size ``m`` (finite p-values)."""

    flagged: np.ndarray
    method: str
    level: float
    m: int

    @property
    def n_flagged(self) -> int:
        return int(self.flagged.sum())

    def summary(self) -> dict[str, Any]:
        return {"method": self.method, "level": self.level, "tests": self.m,
                "flagged": self.n_flagged, "controls": CONTROLS[self.method][0]}


def _check_level(level: float) -> float:
    if not 0.0 < float(level) < 1.0:
        raise ConfigError(f"the verdict level must be in (0, 1), got {level}", where="level",
                          hint="e.g. 0.05: at most a 5 % chance of a false red tile per image")
    return float(level)


def _step_procedure(pvalues: np.ndarray, level: float, n_rejected) -> np.ndarray:
    """Mask of the smallest ``n_rejected(sorted finite p-values, level)`` finite p-values
    (NaN/inf p-values are never rejected)."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.zeros(p.shape, dtype=bool)
    finite = np.isfinite(p)
    vals = p[finite]
    if vals.size == 0:
        return out
    order = np.argsort(vals, kind="stable")
    rejected = np.zeros(vals.size, dtype=bool)
    rejected[order[:n_rejected(vals[order], _check_level(level))]] = True
    out[finite] = rejected
    return out


def _holm_count(sorted_p: np.ndarray, level: float) -> int:
    m = sorted_p.size
    ok = sorted_p <= level / (m - np.arange(m))
    return m if ok.all() else int(np.argmin(ok))        # first failure stops the procedure


def _bh_count(sorted_p: np.ndarray, level: float) -> int:
    m = sorted_p.size
    ok = np.nonzero(sorted_p <= level * np.arange(1, m + 1) / m)[0]
    return int(ok[-1] + 1) if ok.size else 0


def holm(pvalues: np.ndarray, level: float = DEFAULT_LEVEL) -> np.ndarray:
    """Boolean mask of the p-values Holm's step-down procedure rejects at ``level``."""
    return _step_procedure(pvalues, level, _holm_count)


def benjamini_hochberg(pvalues: np.ndarray, level: float = DEFAULT_LEVEL) -> np.ndarray:
    """Boolean mask of the p-values the Benjamini–Hochberg step-up procedure rejects."""
    return _step_procedure(pvalues, level, _bh_count)


def control(pvalues: np.ndarray, level: float = DEFAULT_LEVEL, method: str = "holm"
            ) -> Controlled:
    """Flag tiles of a family of p-values with ``method`` (``"holm"``, ``"bh"``, ``"none"``)."""
    p = np.asarray(pvalues, dtype=np.float64)
    if method == "holm":
        flagged = holm(p, level)
    elif method == "bh":
        flagged = benjamini_hochberg(p, level)
    elif method == "none":
        flagged = np.isfinite(p) & (p <= _check_level(level))
    else:
        raise ConfigError(f"unknown error control {method!r}", where="control",
                          hint="use " + ", ".join(CONTROLS))
    return Controlled(flagged=flagged, method=method, level=float(level),
                      m=int(np.isfinite(p).sum()))
