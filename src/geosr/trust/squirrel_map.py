"""SQUIRREL-style error map (Culley et al., Nat. Methods 15, 263 (2018)) for when the forward
model is not known: fit a Gaussian blur and an intensity scaling that best map the prediction
onto the LR image, and show where they still disagree.

Model (area-integrating camera, as SQUIRREL's objective): ``D_θ(S) = blockmean_M(G_σ ∗ S)``,
``R ≈ α D_θ(S) + β``. Blur and binning are linear, so for each σ the best α, β are a
least-squares line fit of ``R`` on ``B = D_θ(S)``; σ is found by a bounded scalar search
(``scipy.optimize.minimize_scalar``), deterministic (NanoPyx-like variant, re-implemented from
the paper's formulas). Outputs, on the LR grid: the signed residual ``R − (αB + β)``, RSE
(root-mean-square residual, LR units; also divided by the LR noise σ̂) and RSP (Pearson
correlation of ``R`` and ``αB + β``).

Blind spot (tested): detail that vanishes after blurring and binning (null-space detail, e.g.
a hallucinated sub-resolution spot pair) gives a clean map. A σ at the upper search bound means no
Gaussian degradation explains the prediction; at the lower bound, the prediction is no sharper
than the input (nothing to blur: e.g. an interpolation).

>>> import numpy as np
>>> from scipy import ndimage
>>> s = ndimage.gaussian_filter(np.random.default_rng(0).random((64, 64)), 2)
>>> r = 3 * ndimage.gaussian_filter(s, 4, mode="reflect").reshape(16, 4, 16, 4).mean((1, 3)) + 1
>>> res = squirrel(r, s, 4)
>>> round(res.sigma_lr_px, 2), round(res.alpha, 2), round(res.beta, 2)
(1.0, 3.0, 1.0)
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from geosr.core.errors import InputError
from geosr.core.image import as_image

__all__ = ["SquirrelResult", "squirrel", "noise_sigma", "SIGMA_BOUNDS"]

#: Search range of the fitted blur, in LR pixels (sigma of the Gaussian).
SIGMA_BOUNDS = (0.05, 3.0)


def noise_sigma(values: np.ndarray) -> float:
    """Gaussian noise σ estimated from the finest diagonal Haar wavelet sub-band
    (median absolute deviation / 0.6745, Donoho's estimator), in the image's units."""
    x = np.asarray(values, dtype=np.float64)
    sl = tuple(slice(0, n - n % 2) for n in x.shape)
    x = x[sl]
    d = x
    for axis in range(x.ndim):
        d = np.take(d, range(0, d.shape[axis], 2), axis) - np.take(d, range(1, d.shape[axis], 2),
                                                                   axis)
    d = d / (2.0 ** (x.ndim / 2.0))
    return float(np.median(np.abs(d)) / 0.6745) if d.size else 0.0


@dataclasses.dataclass
class SquirrelResult:
    """Fitted ``sigma_lr_px`` (σ in LR pixels), ``alpha``, ``beta``; ``residual`` = signed
    ``R − (αB + β)`` on the LR grid; ``rse``, ``rsp``; ``rse_over_noise``; ``bound``:
    ``"lower"`` (the prediction is no sharper than the LR input: no blur is needed, e.g.
    interpolation), ``"upper"`` (even the widest blur does not explain it) or None."""

    sigma_lr_px: float
    alpha: float
    beta: float
    residual: np.ndarray
    rse: float
    rsp: float
    noise_sigma: float
    bound: str | None
    fixed_sigma: bool

    @property
    def at_bound(self) -> bool:
        return self.bound is not None

    @property
    def rse_over_noise(self) -> float:
        return self.rse / self.noise_sigma if self.noise_sigma > 0 else float("inf")

    def summary(self) -> dict[str, Any]:
        return {"sigma_lr_px": self.sigma_lr_px, "alpha": self.alpha, "beta": self.beta,
                "rse": self.rse, "rsp": self.rsp, "lr_noise_sigma": self.noise_sigma,
                "rse_over_noise": self.rse_over_noise, "sigma_at_bound": self.bound,
                "sigma_fixed": self.fixed_sigma,
                "model": "R ~ alpha * blockmean_M(G_sigma * S) + beta",
                "blind_spot": "detail that vanishes after blur and binning gives a clean map"}


def _degrader(sr: np.ndarray, scale: tuple[int, ...]):
    from geosr.degrade.operator import SeparableOperator, block_mean_matrix, blur_matrix

    def blurred(sigma_lr: float) -> np.ndarray:
        mats = [block_mean_matrix(n, m) @ blur_matrix(n, sigma_lr * m if m > 1 else 0.0)
                for n, m in zip(sr.shape, scale)]
        return SeparableOperator(mats).forward(sr)

    return blurred


def _fit_line(r: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    bm, rm = b.mean(), r.mean()
    db = b - bm
    den = float((db * db).sum())
    alpha = float((db * (r - rm)).sum() / den) if den > 0 else 0.0
    beta = float(rm - alpha * bm)
    rmse = float(np.sqrt(np.mean((r - (alpha * b + beta)) ** 2)))
    return alpha, beta, rmse


def squirrel(lr: Any, sr: Any, scale: Any = None, *, fixed_sigma: float | None = None,
             bounds: tuple[float, float] = SIGMA_BOUNDS) -> SquirrelResult:
    """Fit blur σ (LR pixels), α, β mapping ``sr`` onto ``lr`` and return the error map.

    Parameters
    ----------
    lr, sr:
        The LR reference and the prediction (arrays or Images; one channel).
    scale:
        Integer magnification per axis (default: the shape ratio, which must be integral).
    fixed_sigma:
        Use this σ (LR pixels) instead of fitting it, e.g. from the known PSF.
    bounds:
        Search range of σ in LR pixels.
    """
    from scipy import optimize

    r = np.asarray(as_image(lr, "lr").numpy(), dtype=np.float64)
    s = np.asarray(as_image(sr, "prediction").numpy(), dtype=np.float64)
    if r.ndim != s.ndim:
        raise InputError(f"LR {r.shape} and prediction {s.shape} differ in dimensionality",
                         where="prediction")
    if scale is None:
        if any(b % a for a, b in zip(r.shape, s.shape)):
            raise InputError(f"prediction {s.shape} is not an integer multiple of LR {r.shape}",
                             where="prediction")
        scale = tuple(b // a for a, b in zip(r.shape, s.shape))
    scale = tuple(int(v) for v in ((scale,) * r.ndim if np.ndim(scale) == 0 else scale))
    if tuple(a * m for a, m in zip(r.shape, scale)) != s.shape:
        raise InputError(f"prediction {s.shape} is not LR {r.shape} × scale {scale}",
                         where="prediction")
    blurred = _degrader(s, scale)
    lo, hi = bounds
    if fixed_sigma is None:
        opt = optimize.minimize_scalar(lambda sg: _fit_line(r, blurred(sg))[2],
                                       bounds=(lo, hi), method="bounded",
                                       options={"xatol": 1e-3})
        sigma = float(opt.x)
    else:
        sigma = float(fixed_sigma)
    b = blurred(sigma)
    alpha, beta, rse = _fit_line(r, b)
    fit = alpha * b + beta
    with np.errstate(invalid="ignore"):
        rsp = float(np.corrcoef(r.ravel(), fit.ravel())[0, 1]) if fit.std() > 0 else 0.0
    span = hi - lo
    bound = None
    if fixed_sigma is None:
        bound = "lower" if sigma - lo < 0.01 * span else "upper" if hi - sigma < 0.01 * span \
            else None
    return SquirrelResult(sigma_lr_px=sigma, alpha=alpha, beta=beta, residual=r - fit,
                          rse=rse, rsp=rsp, noise_sigma=noise_sigma(r), bound=bound,
                          fixed_sigma=fixed_sigma is not None)
