"""Distribution-free calibration of per-pixel intervals ``ŷ ± λ u`` (``u`` a heuristic size
map: TTA or ensemble standard deviation, or a cheap proxy).

Exchangeable units are **images** (fields of view), never pixels of one image.

- Conformal risk control (CRC; Angelopoulos et al., ICLR 2024), the default: with
  ``L_i(λ)`` the fraction of pixels of calibration image ``i`` outside ``ŷ_i ± λ u_i``,
  ``λ̂ = inf{λ : n/(n+1) · mean_i L_i(λ) + 1/(n+1) ≤ α}``. Guarantee: the *expected* fraction of
  missed pixels of a new image from the same distribution is at most ``α``.
- Split conformal, per-image simultaneous band: score ``s_i = max_p |y − ŷ| / u`` (or its
  ``1 − β`` pixel quantile: "at least a 1 − β fraction of pixels covered"), ``q̂`` = the
  ``⌈(n+1)(1−α)⌉``-th smallest score. Guarantee: ``P(image covered) ≥ 1 − α``.
- Conformal p-values (Bates et al., Ann. Stat. 2023): ``p = (1 + #{s_i ≥ s}) / (n + 1)``.

The guarantees are marginal over images exchangeable with the calibration set; they say
nothing about one pixel, one structure, or an input unlike the calibration set (see
:mod:`geosr.trust.ood`).

>>> import numpy as np
>>> conformal_quantile(np.arange(1, 10), alpha=0.2)
8.0
>>> conformal_pvalue(np.arange(1, 10), 8.5)
0.2
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from geosr.core.errors import ConfigError

__all__ = ["conformal_quantile", "conformal_pvalue", "crc_lambda", "ratios",
           "image_miss_rate", "simultaneous_scores", "MAX_POINTS_PER_IMAGE"]

#: Calibration images with more pixels are summarised by this many upper block maxima of
#: their sorted ratios (which over-estimates their loss, so λ̂ stays valid, only wider).
MAX_POINTS_PER_IMAGE = 4096


def _alpha(alpha: float) -> float:
    if not 0.0 < float(alpha) < 1.0:
        raise ConfigError(f"alpha must be in (0, 1), got {alpha}", where="alpha")
    return float(alpha)


def conformal_quantile(scores: Sequence[float], alpha: float) -> float:
    """The ``⌈(n+1)(1−α)⌉``-th smallest score (``inf`` when that exceeds ``n``)."""
    s = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    k = math.ceil((s.size + 1) * (1.0 - _alpha(alpha)))
    return float("inf") if k > s.size else s[k - 1].item()


def conformal_pvalue(scores: Sequence[float], score: float | np.ndarray) -> Any:
    """``(1 + #{s_i ≥ score}) / (n + 1)`` against calibration ``scores`` (array-friendly)."""
    s = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    greater_eq = s.size - np.searchsorted(s, np.asarray(score, dtype=np.float64), side="left")
    p = (1.0 + greater_eq) / (s.size + 1.0)
    return float(p) if np.ndim(p) == 0 else p


def ratios(y: np.ndarray, yhat: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Normalised residuals ``|y − ŷ| / u`` (``u > 0``)."""
    u = np.asarray(u, dtype=np.float64)
    if np.any(~(u > 0)):
        raise ConfigError("the size map u must be positive everywhere", where="u",
                          hint="add a floor (u_floor) to the uncertainty map")
    return np.abs(np.asarray(y, np.float64) - np.asarray(yhat, np.float64)) / u


def _summarise(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points and weights (summing to 1) representing the loss curve of one image."""
    t = np.sort(np.asarray(t, dtype=np.float64).ravel())
    n = t.size
    if n <= MAX_POINTS_PER_IMAGE:
        return t, np.full(n, 1.0 / n)
    edges = np.linspace(0, n, MAX_POINTS_PER_IMAGE + 1).astype(int)
    maxima = t[np.maximum(edges[1:] - 1, 0)]
    return maxima, np.diff(edges) / n


def crc_lambda(calibration_ratios: Sequence[np.ndarray], alpha: float) -> float:
    """Conformal-risk-control ``λ̂`` for the miss-fraction loss, from one ratio array
    ``|y − ŷ| / u`` per calibration image (exact up to the per-image summary above).

    Returns ``inf`` when ``α < 1/(n+1)`` (no finite λ gives the guarantee).
    """
    alpha = _alpha(alpha)
    n = len(calibration_ratios)
    target = (alpha * (n + 1) - 1.0) / n if n else -1.0
    if target < 0:
        return float("inf")
    pts, wts = zip(*(_summarise(t) for t in calibration_ratios))
    t = np.concatenate(pts)
    w = np.concatenate(wts) / n
    order = np.argsort(-t, kind="stable")
    t, w = t[order], w[order]
    cum = np.cumsum(w)
    # R(λ) for λ in [t[j+1], t[j]) is cum[j]; take the largest j with cum[j] <= target
    j = int(np.searchsorted(cum, target + 1e-15, side="right"))  # points that may exceed λ
    if j >= t.size:
        return 0.0
    return float(t[j])


def image_miss_rate(y: np.ndarray, yhat: np.ndarray, u: np.ndarray, lam: float) -> float:
    """Fraction of pixels of one image outside ``ŷ ± λ u``."""
    return float(np.mean(np.abs(np.asarray(y) - np.asarray(yhat)) > lam * np.asarray(u)))


def simultaneous_scores(calibration_ratios: Sequence[np.ndarray], beta: float = 0.0
                        ) -> np.ndarray:
    """Per-image scores for the split-conformal band: the maximum ratio (``beta = 0``) or its
    ``1 − beta`` quantile."""
    if not 0.0 <= beta < 1.0:
        raise ConfigError(f"beta must be in [0, 1), got {beta}", where="beta")
    return np.array([float(np.max(t)) if beta == 0 else float(np.quantile(t, 1 - beta,
                                                                          method="higher"))
                     for t in calibration_ratios])
