"""The Poisson–Gaussian noise model of the LR instrument, from registration residuals.

For a pixel whose noise-free LR value is ``μ`` above the offset ``b``, the residual of a good
registration has variance ``var = gain · μ + read_noise²`` (Foi et al., IEEE TIP 2008; the
model of :class:`geosr.degrade.PoissonGaussianNoise` with ``photons_per_unit = 1/gain``).
The residuals are grouped in quantile bins of ``μ`` (per pair, see
:func:`geosr.pairs.register.register_pair`); :func:`fit_noise` fits the straight line by
weighted least squares with the sampling variance of a variance, ``2 var² / (n − 1)``, and
returns standard errors (inflated by the reduced χ² when the line does not fit the bins).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> bins = []
>>> for mu in np.linspace(10, 200, 20):
...     r = rng.normal(0, np.sqrt(0.5 * mu + 4.0), 4000)
...     bins.append({"signal": mu, "var": r.var(ddof=1), "n": 4000})
>>> fit = fit_noise(bins)
>>> round(fit["gain"], 1), round(fit["read_noise"], 0)
(0.5, 2.0)
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

import numpy as np

from geosr.core.errors import InputError

__all__ = ["fit_noise"]


def fit_noise(bins: Iterable[Mapping[str, float]]) -> dict[str, Any]:
    """Fit ``var = gain · signal + read_noise²`` to residual-variance bins.

    ``bins``: mappings with ``signal`` (mean noise-free LR value above the offset, LR units),
    ``var`` (residual variance, LR units²) and ``n`` (pixels). Returns ``gain`` (LR units per
    photo-electron; ``photons_per_unit = 1/gain``), ``read_noise`` (sd, LR units), their
    standard errors ``gain_se``, ``read_noise_se``, and ``reduced_chi2``. A negative fitted
    gain or read-noise variance is clipped to 0 (recorded in ``note``).
    """
    rows = [(float(b["signal"]), float(b["var"]), float(b["n"])) for b in bins
            if b.get("n", 0) and b["n"] > 2 and math.isfinite(float(b["var"]))]
    if len(rows) < 3:
        raise InputError("too few residual bins to fit a noise model", where="pairs",
                         hint="register more (or larger) pairs")
    s, v, n = (np.array(c) for c in zip(*rows))
    design = np.stack([s, np.ones_like(s)], axis=1)
    pred = np.maximum(v, 1e-12 * max(float(v.max()), 1e-150))   # no zero-variance bin
    for _ in range(3):
        w = (n - 1) / (2 * np.maximum(pred, 1e-300) ** 2)
        jw = design * w[:, None]
        cov = np.linalg.pinv(design.T @ jw)
        coef = cov @ (jw.T @ v)
        pred = np.maximum(design @ coef, 1e-12 * max(float(v.max()), 1e-300))
    chi2 = float((w * (v - design @ coef) ** 2).sum() / max(len(rows) - 2, 1))
    cov = cov * max(chi2, 1.0)
    gain, r2 = float(coef[0]), float(coef[1])
    note = []
    if gain < 0:
        note.append(f"fitted gain {gain:.3g} < 0 clipped to 0")
        gain = 0.0
    if r2 < 0:
        note.append(f"fitted read-noise variance {r2:.3g} < 0 clipped to 0")
        r2 = 0.0
    read = math.sqrt(r2)
    r2_se = math.sqrt(max(cov[1, 1], 0.0))
    return {"gain": gain, "gain_se": math.sqrt(max(cov[0, 0], 0.0)),
            "read_noise": read,
            "read_noise_se": r2_se / (2 * read) if read > 0 else math.sqrt(r2_se),
            "photons_per_unit": 1.0 / gain if gain > 0 else None,
            "reduced_chi2": chi2, "n_bins": len(rows), "note": "; ".join(note),
            "model": "var = gain * (mean - offset) + read_noise^2 (LR units)"}


def expected_sd(fit: Mapping[str, Any], signal: np.ndarray) -> np.ndarray:
    """The noise sd the fitted model predicts for noise-free values ``signal`` above the
    offset."""
    return np.sqrt(np.maximum(fit["gain"] * np.maximum(signal, 0.0) + fit["read_noise"] ** 2,
                              1e-300))
