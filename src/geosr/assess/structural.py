"""SSIM (Wang et al. 2004) and MS-SSIM (Wang, Simoncelli & Bovik 2003), in 2D and 3D.

Convention (fixed; recorded in every result)
--------------------------------------------
- Window: normalised Gaussian, 11 taps per axis, sigma 1.5 pixels (11x11 in 2D, 11x11x11 in 3D,
  in pixels/voxels whatever the physical spacing).
- ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2`` with ``L`` the explicit data range.
- Population statistics (``sigma^2 = w*x^2 - mu^2``, no N/(N-1) factor).
- Borders: the map is computed only where the window fits inside the (cropped) image, the
  "valid" region: 5 pixels are dropped from every border *after* any border crop. The score is the
  mean of that map. This equals scikit-image's ``structural_similarity(gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=L)`` and BasicSR's ``calculate_ssim``.
- No MATLAB ``ssim.m`` automatic downsampling (it discards the fine scales SR is about).

MS-SSIM: 5 scales, weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333); contrast-structure terms at
scales 1-4 and the full SSIM at scale 5; between scales a 2x2 (2x2x2) block mean, an odd length
padded by repeating the last row (as Wang's MATLAB ``msssim.m`` with ``'symmetric'`` filtering).
Negative contrast-structure means are clamped to 0 (as pytorch-msssim and pyiqa) so the product
is defined. The smallest side must exceed (11 - 1) * 2^4 = 160 pixels. In 3D the same weights and
2x2x2 pooling are used: a direct extension, not a published, perceptually validated convention.

Example
-------
>>> import numpy as np
>>> x = np.random.default_rng(0).random((32, 32))
>>> ssim(x, x, data_range=1.0).value
1.0
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from scipy import ndimage

from geosr.assess.conventions import MetricResult, Pair, prepare_pair
from geosr.core.errors import InputError

__all__ = ["ssim", "ms_ssim", "ssim_of_pair", "ms_ssim_of_pair", "gaussian_window", "ssim_maps", "MS_SSIM_WEIGHTS", "WINDOW",
           "SIGMA", "K1", "K2"]

WINDOW = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_RADIUS = WINDOW // 2


def gaussian_window(size: int = WINDOW, sigma: float = SIGMA) -> np.ndarray:
    """The normalised 1D Gaussian taps (separable window).

    >>> w = gaussian_window(); w.shape, round(float(w.sum()), 12), round(float(w[5]), 6)
    ((11,), 1.0, 0.266012)
    """
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    w = np.exp(-(x ** 2) / (2.0 * sigma ** 2))
    return w / w.sum()


def _filter_valid(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Separable correlation with ``w`` along every axis, keeping only the valid region."""
    r = len(w) // 2
    out = x
    for axis in range(x.ndim):
        out = ndimage.correlate1d(out, w, axis=axis, mode="nearest")
        index = [slice(None)] * x.ndim
        index[axis] = slice(r, x.shape[axis] - r)
        out = out[tuple(index)]
    return out


def ssim_maps(x: np.ndarray, y: np.ndarray, data_range: float) -> tuple[np.ndarray, np.ndarray]:
    """SSIM map and contrast-structure map over the valid region of two float arrays (2D or 3D).

    Each spatial axis shrinks by 10 (the window's reach).
    """
    if min(x.shape) < WINDOW:
        raise InputError(f"SSIM needs at least {WINDOW} pixels along every axis after the "
                         f"border crop, got {x.shape}", where="ssim",
                         hint="use a larger region or a smaller crop")
    w = gaussian_window()
    c1 = (K1 * data_range) ** 2
    c2 = (K2 * data_range) ** 2
    mx, my = _filter_valid(x, w), _filter_valid(y, w)
    sxx = _filter_valid(x * x, w) - mx * mx
    syy = _filter_valid(y * y, w) - my * my
    sxy = _filter_valid(x * y, w) - mx * my
    cs = (2.0 * sxy + c2) / (sxx + syy + c2)
    lum = (2.0 * mx * my + c1) / (mx * mx + my * my + c1)
    return lum * cs, cs


def _window_text(dims: int) -> str:
    side = "x".join([str(WINDOW)] * dims)
    return (f"Gaussian {side}, sigma {SIGMA}, K=({K1}, {K2}), population covariance, mean over "
            f"the valid region ({_RADIUS} px dropped per border after the crop)")


def ssim(pred: Any, gt: Any, *, data_range: Any = None, crop: int | Sequence[int] = 0,
         fit: str = "none", channel_axis: int | None = None) -> MetricResult:
    """Structural similarity (Wang et al. 2004) of a prediction to the truth, 2D or 3D.

    Parameters
    ----------
    pred, gt:
        Arrays (or :class:`geosr.core.Image`) of the same shape, 2D or 3D (+ channels).
    data_range:
        ``L`` in image units (a number, ``"dtype"`` or ``"gt"``); required.
    crop:
        Pixels removed from every border before the computation (e.g. the SR scale).
    fit:
        ``"none"`` or ``"affine"`` (least-squares gain/offset of the prediction to the truth).
    channel_axis:
        Axis of channels, if any; the score is the mean over channels.

    Returns
    -------
    MetricResult
        ``value`` in [-1, 1] (dimensionless); ``map`` the SSIM map over the valid region
        (channels first if there are several, else spatial only).

    Example
    -------
    >>> import numpy as np
    >>> x = np.linspace(0, 1, 400).reshape(20, 20)
    >>> round(ssim(x, 0.9 * x, data_range=1.0).value, 4)
    0.9894
    """
    return ssim_of_pair(prepare_pair(pred, gt, data_range=data_range, crop=crop, fit=fit,
                                     channel_axis=channel_axis))


def ssim_of_pair(pair: Pair) -> MetricResult:
    """:func:`ssim` of an already validated :class:`~geosr.assess.conventions.Pair`."""
    maps = np.stack([ssim_maps(p, g, pair.data_range)[0] for p, g in zip(pair.pred, pair.gt)])
    value = float(np.mean([m.mean() for m in maps]))
    return MetricResult("SSIM", value, "", pair.convention(window=_window_text(pair.dims)),
                        map=maps if maps.shape[0] > 1 else maps[0])


def _downsample2(x: np.ndarray) -> np.ndarray:
    """2x block mean along every axis; an odd length is padded by repeating its last sample."""
    pad = [(0, n % 2) for n in x.shape]
    if any(p[1] for p in pad):
        x = np.pad(x, pad, mode="edge")
    for axis in range(x.ndim):
        index0 = [slice(None)] * x.ndim
        index1 = [slice(None)] * x.ndim
        index0[axis] = slice(0, None, 2)
        index1[axis] = slice(1, None, 2)
        x = 0.5 * (x[tuple(index0)] + x[tuple(index1)])
    return x


def ms_ssim(pred: Any, gt: Any, *, data_range: Any = None, crop: int | Sequence[int] = 0,
            fit: str = "none", channel_axis: int | None = None,
            weights: Sequence[float] = MS_SSIM_WEIGHTS) -> MetricResult:
    """Multi-scale SSIM (Wang, Simoncelli & Bovik 2003), 2D (and its direct 3D extension).

    Same parameters as :func:`ssim`. Every spatial axis must be longer than
    ``(11 - 1) * 2**(len(weights) - 1)`` = 160 pixels after the crop. ``details`` holds the
    per-scale contrast-structure means and the last-scale SSIM (before clamping).

    Example
    -------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((176, 176))
    >>> ms_ssim(x, x, data_range=1.0).value
    1.0
    """
    return ms_ssim_of_pair(prepare_pair(pred, gt, data_range=data_range, crop=crop, fit=fit,
                                        channel_axis=channel_axis), weights)


def ms_ssim_of_pair(pair: Pair, weights: Sequence[float] = MS_SSIM_WEIGHTS) -> MetricResult:
    """:func:`ms_ssim` of an already validated :class:`~geosr.assess.conventions.Pair`."""
    levels = len(weights)
    need = (WINDOW - 1) * 2 ** (levels - 1)
    spatial = pair.pred.shape[1:]
    if min(spatial) <= need:
        raise InputError(f"MS-SSIM with {levels} scales needs every axis longer than {need} "
                         f"pixels after the crop, got {spatial}", where="ms_ssim",
                         hint="use ssim() for smaller images")
    w = np.asarray(weights, dtype=np.float64)
    values, per_channel = [], []
    for x, y in zip(pair.pred, pair.gt):
        terms = []
        for level in range(levels):
            s_map, cs_map = ssim_maps(x, y, pair.data_range)
            if level < levels - 1:
                terms.append(float(cs_map.mean()))
                x, y = _downsample2(x), _downsample2(y)
            else:
                terms.append(float(s_map.mean()))
        clamped = np.maximum(np.asarray(terms), 0.0)
        values.append(float(np.prod(clamped ** w)))
        per_channel.append(terms)
    dims = pair.dims
    window = (_window_text(dims) + f"; {levels} scales, weights {tuple(weights)}, 2x block-mean "
              "pooling (odd sizes edge-padded), negative cs clamped to 0"
              + ("; 3D extension (not a published convention)" if dims == 3 else ""))
    return MetricResult("MS-SSIM", float(np.mean(values)), "", pair.convention(window=window),
                        details={"scale_terms": per_channel if len(per_channel) > 1
                                 else per_channel[0]})
