"""Data consistency: does the prediction, degraded again by the known forward model, explain
the measured low-resolution (LR) image to within its noise?

``z = (LR − D f̂) / sqrt(var(D f̂))`` with ``D`` the blur + binning operator of
:mod:`geosr.degrade` and ``var`` the Poisson–Gaussian noise model of
:class:`~geosr.trust.acquisition.Acquisition`. Per tile, ``χ² = Σ z²`` over its ``N`` pixels
is compared with the χ² distribution with ``N`` degrees of freedom (upper tail p-value). A
prediction consistent with the data gives ``χ²/N ≈ 1`` and uniform p-values; a tile with
``p < 0.001`` contradicts the measurement (a definite error — *if* the forward and noise
models are right).

X-ray CT acquisitions (``acquisition.modality == "ct"``) are tested by re-acquiring the
prediction through the CT model instead (correlated noise): :mod:`geosr.trust.ct_consistency`.

Blind spot (tested): any change of the prediction in the null space of ``D`` (detail finer
than the optics and the sampling can see) leaves ``D f̂`` and therefore ``z`` unchanged. Use
:mod:`geosr.trust.nullspace` for that part.

>>> import numpy as np
>>> from geosr.core import Image
>>> from geosr.degrade import degrade
>>> from geosr.trust.acquisition import Acquisition
>>> hr = Image(np.random.default_rng(0).random((64, 64)) + 1, "YX", spacing=(0.1, 0.1))
>>> lr = degrade(hr, scale=4, fwhm_um=0.4, photons=100.0, read_noise=0.01, seed=1)
>>> res = consistency(hr, lr, Acquisition.from_image(lr))
>>> 0.6 < res.chi2_per_pixel < 1.4
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geosr.core.errors import InputError
from geosr.core.image import Image, as_image
from geosr.trust.acquisition import Acquisition
from geosr.trust.consistency_result import ConsistencyResult
from geosr.trust.tiles import tile_counts, tile_sizes, tile_sums

__all__ = ["ConsistencyResult", "consistency", "DEFAULT_ALPHA"]

#: Tiles with a χ² p-value below this contradict the measurement (spec §7.2).
DEFAULT_ALPHA = 1e-3


def _spatial(image: Image) -> np.ndarray:
    if image.has_channels:
        if image.channels != 1:
            raise InputError("the trust layer handles one channel at a time",
                             where="image", hint="select a channel")
        return np.asarray(image.numpy()[0], dtype=np.float64)
    return np.asarray(image.numpy(), dtype=np.float64)


def consistency(prediction: Image | np.ndarray, lr: Image | np.ndarray,
                acquisition: Acquisition, *, tile: Any = None,
                alpha: float = DEFAULT_ALPHA) -> ConsistencyResult:
    """Data-consistency residual and per-tile χ² test of ``prediction`` against ``lr``.

    Parameters
    ----------
    prediction:
        The super-resolved image (Image with spacing in µm, or an array with 1 µm pixels),
        in the LR image's intensity units.
    lr:
        The measured LR image; its shape must be ``D``'s output shape.
    acquisition:
        Forward operator and noise model (:class:`Acquisition`).
    tile:
        Tile side in LR pixels (int or per axis; default 8 in 2D, 4 in 3D).
    alpha:
        Level below which a tile's p-value flags it (default 0.001).
    """
    from scipy import stats

    if acquisition.modality == "ct":   # correlated noise: re-acquire through the CT model
        from geosr.trust.ct_consistency import ct_consistency

        return ct_consistency(prediction, lr, acquisition, tile=tile, alpha=alpha)
    pred, low = as_image(prediction, "prediction"), as_image(lr, "lr")
    f, y = _spatial(pred), _spatial(low)
    op = acquisition.operator(f.shape, pred.spacing_um)
    if op.out_shape != y.shape:
        raise InputError(f"the prediction {f.shape} re-degrades to {op.out_shape}, but the LR "
                         f"image is {y.shape}", where="lr",
                         hint="check the scale of the acquisition and of the model")
    expected = op.forward(f)
    var = acquisition.noise_variance(expected)
    z = (y - expected) / np.sqrt(np.maximum(var, 1e-300))
    excluded = 0
    if acquisition.saturation_value is not None:
        sat = y >= acquisition.saturation_value
        excluded = int(sat.sum())
        z = np.where(sat, np.nan, z)
    sizes = tile_sizes(tile, y.ndim)
    chi2 = tile_sums(z * z, sizes)
    n = tile_counts(z, sizes)
    with np.errstate(invalid="ignore", divide="ignore"):
        tile_chi2 = np.where(n > 0, chi2 / np.maximum(n, 1), np.nan)
    tile_p = np.where(n > 0, stats.chi2.sf(chi2, np.maximum(n, 1)), 1.0)
    total, count = float(np.nansum(z * z)), int(np.isfinite(z).sum())
    return ConsistencyResult(
        expected=expected, z=z, tile=sizes, tile_chi2=tile_chi2, tile_p=tile_p, tile_n=n,
        chi2_per_pixel=total / max(count, 1),
        p_value=float(stats.chi2.sf(total, max(count, 1))), alpha=float(alpha),
        excluded=excluded)
