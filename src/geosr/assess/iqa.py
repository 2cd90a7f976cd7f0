"""Full-reference image-quality metrics with explicit conventions: PSNR, MSE, MAE, NRMSE,
Pearson correlation, GMSD, and :func:`full_reference` that computes a set of them at once.
SSIM and MS-SSIM live in :mod:`geosr.assess.structural`.

Every function takes ``(pred, gt)`` (prediction first, truth second), arrays or
:class:`geosr.core.Image`, 2D or 3D, with optional ``channel_axis`` (scores are averaged over
channels), a border ``crop`` in pixels and ``fit="none" | "affine"`` (the scale-invariant mode:
the prediction is replaced by its least-squares affine fit to the truth before the metric, as in
CSBDeep/CARE). Metrics that depend on a data range require it explicitly (see
:mod:`geosr.assess.conventions`). Values are computed in float64.

Example
-------
>>> import numpy as np
>>> gt = np.arange(16.0).reshape(4, 4)
>>> round(psnr(gt + 1.0, gt, data_range=15).value, 4)   # MSE = 1
23.5218
>>> round(nrmse(gt + 1.0, gt, normalization="range").value, 4)   # 1 / 15
0.0667
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from scipy import ndimage

from geosr.assess.conventions import MetricResult, Pair, prepare_pair
from geosr.core.errors import ConfigError, InputError

__all__ = ["mse", "psnr", "mae", "nrmse", "pearson", "gmsd", "full_reference",
           "NRMSE_NORMALIZATIONS", "FULL_REFERENCE_METRICS"]

#: NRMSE denominators, computed on the truth over the evaluated region.
NRMSE_NORMALIZATIONS = {
    "range": "max(gt) - min(gt)",
    "mean": "mean(gt)",
    "std": "std(gt) (population)",
    "euclidean": "sqrt(mean(gt^2)), i.e. ||pred - gt|| / ||gt|| (scikit-image default)",
}


def _per_channel_mse(pair) -> list[float]:
    return [float(np.mean((p - g) ** 2)) for p, g in zip(pair.pred, pair.gt)]


def mse(pred: Any, gt: Any, *, crop: int | Sequence[int] = 0, fit: str = "none",
        channel_axis: int | None = None) -> MetricResult:
    """Mean squared error, in squared image units; ``map`` is the squared-error map.

    >>> mse(np.ones((4, 4)), np.zeros((4, 4))).value
    1.0
    """
    pair = prepare_pair(pred, gt, need_range=False, crop=crop, fit=fit,
                        channel_axis=channel_axis)
    err = (pair.pred - pair.gt) ** 2
    return MetricResult("MSE", float(np.mean(_per_channel_mse(pair))), "image units^2",
                        pair.convention(), map=err if err.shape[0] > 1 else err[0])


def psnr(pred: Any, gt: Any, *, data_range: Any = None, crop: int | Sequence[int] = 0,
         fit: str = "none", channel_axis: int | None = None) -> MetricResult:
    """Peak signal-to-noise ratio ``10 log10(L^2 / MSE)`` in dB, ``L`` the explicit data range.

    Identical images give ``inf`` (no epsilon). With channels, the MSE is averaged over channels
    before the logarithm (one PSNR of the whole multichannel image).

    >>> psnr(np.zeros((4, 4)), np.zeros((4, 4)), data_range=1.0).value
    inf
    """
    return _psnr(prepare_pair(pred, gt, data_range=data_range, crop=crop, fit=fit,
                              channel_axis=channel_axis))


def _psnr(pair: Pair) -> MetricResult:
    m = float(np.mean(_per_channel_mse(pair)))
    value = float("inf") if m == 0 else float(10.0 * np.log10(pair.data_range ** 2 / m))
    return MetricResult("PSNR", value, "dB", pair.convention(), details={"mse": m})


def mae(pred: Any, gt: Any, *, crop: int | Sequence[int] = 0, fit: str = "none",
        channel_axis: int | None = None) -> MetricResult:
    """Mean absolute error in image units; ``map`` is the absolute-error map.

    >>> mae(np.array([[0., 2.], [0., 0.]]), np.zeros((2, 2))).value
    0.5
    """
    return _mae(prepare_pair(pred, gt, need_range=False, crop=crop, fit=fit,
                             channel_axis=channel_axis))


def _mae(pair: Pair) -> MetricResult:
    err = np.abs(pair.pred - pair.gt)
    return MetricResult("MAE", float(err.mean()), "image units", pair.convention(),
                        map=err if err.shape[0] > 1 else err[0])


def nrmse(pred: Any, gt: Any, *, normalization: str | None = None,
          crop: int | Sequence[int] = 0, fit: str = "none",
          channel_axis: int | None = None) -> MetricResult:
    """Normalised root-mean-square error ``sqrt(MSE) / denominator`` (dimensionless).

    ``normalization`` is required: ``"range"`` (max - min of the truth), ``"mean"`` (mean of the
    truth), ``"std"`` (population sd of the truth) or ``"euclidean"`` (root mean square of the
    truth, scikit-image's default). This is a root of the mean *squared* error, not of the mean
    absolute error. A zero denominator gives ``nan`` with a note.

    >>> gt = np.array([1.0, 2.0, 3.0, 4.0]).reshape(2, 2)
    >>> round(nrmse(gt + 0.5, gt, normalization="mean").value, 6)   # 0.5 / 2.5
    0.2
    """
    if normalization not in NRMSE_NORMALIZATIONS:
        raise ConfigError(f"NRMSE needs its normalisation named, got {normalization!r}",
                          where="normalization",
                          hint="use one of " + ", ".join(NRMSE_NORMALIZATIONS))
    return _nrmse(prepare_pair(pred, gt, need_range=False, crop=crop, fit=fit,
                               channel_axis=channel_axis), normalization)


def _nrmse(pair: Pair, normalization: str) -> MetricResult:
    values, note = [], None
    for p, g in zip(pair.pred, pair.gt):
        denom = {"range": lambda: g.max() - g.min(), "mean": g.mean, "std": g.std,
                 "euclidean": lambda: np.sqrt(np.mean(g * g))}[normalization]()
        if denom == 0:
            values.append(float("nan"))
            note = f"undefined: the truth has zero {normalization}"
        else:
            values.append(float(np.sqrt(np.mean((p - g) ** 2)) / denom))
    return MetricResult("NRMSE", float(np.mean(values)), "",
                        pair.convention(normalization=f"{normalization}: "
                                        f"{NRMSE_NORMALIZATIONS[normalization]}"), note=note)


def pearson(pred: Any, gt: Any, *, crop: int | Sequence[int] = 0,
            channel_axis: int | None = None) -> MetricResult:
    """Pearson correlation coefficient of prediction and truth (dimensionless, in [-1, 1]).

    Invariant to gain and offset (so no ``fit`` option). Undefined when either image is constant
    over the evaluated region: the value is ``nan`` and ``note`` says why.

    >>> x = np.arange(9.0).reshape(3, 3)
    >>> pearson(2 * x + 1, x).value
    1.0
    >>> pearson(np.ones((3, 3)), x).note
    'undefined: the prediction is constant'
    """
    return _pearson(prepare_pair(pred, gt, need_range=False, crop=crop,
                                 channel_axis=channel_axis))


def _pearson(pair: Pair) -> MetricResult:
    values, note = [], None
    for p, g in zip(pair.pred, pair.gt):
        pc, gc = p - p.mean(), g - g.mean()
        sp, sg = float(np.sum(pc * pc)), float(np.sum(gc * gc))
        if sp == 0 or sg == 0:
            which = ("prediction and truth are" if sp == sg == 0 else
                     "prediction is" if sp == 0 else "truth is")
            note = f"undefined: the {which} constant"
            values.append(float("nan"))
        else:
            values.append(float(np.clip(np.sum(pc * gc) / np.sqrt(sp * sg), -1.0, 1.0)))
    return MetricResult("Pearson", float(np.mean(values)), "", pair.convention(), note=note)


_PREWITT = np.array([1.0, 0.0, -1.0]) / 3.0   # derivative taps (x3 smoothing: ones)


def _gms_map(x: np.ndarray, y: np.ndarray, c: float) -> np.ndarray:
    def down(a: np.ndarray) -> np.ndarray:   # MATLAB conv2(a, ones(2)/4, 'same'), a(1:2:end, ..)
        a = np.pad(a, [(0, 1), (0, 1)])
        a = 0.25 * (a[:-1, :-1] + a[1:, :-1] + a[:-1, 1:] + a[1:, 1:])
        return a[::2, ::2]

    def grad(a: np.ndarray) -> np.ndarray:   # Prewitt /3, zero padding ('same')
        gx = ndimage.correlate(a, np.outer(np.ones(3), _PREWITT), mode="constant")
        gy = ndimage.correlate(a, np.outer(_PREWITT, np.ones(3)), mode="constant")
        return np.sqrt(gx * gx + gy * gy)

    mx, my = grad(down(x)), grad(down(y))
    return (2.0 * mx * my + c) / (mx * mx + my * my + c)


def gmsd(pred: Any, gt: Any, *, data_range: Any = None, crop: int | Sequence[int] = 0,
         fit: str = "none", channel_axis: int | None = None) -> MetricResult:
    """Gradient magnitude similarity deviation (Xue et al. 2014), 2D only; lower is better.

    As the authors' ``GMSD.m``: 2x2 average and decimation by 2, Prewitt gradients (/3, zero
    padding), ``GMS = (2 m_p m_g + c)/(m_p^2 + m_g^2 + c)`` with ``c = 170 (L/255)^2`` (the
    published ``T = 170`` for 8-bit images scaled to the data range), ``GMSD = std(GMS)``
    (N - 1 normalisation, MATLAB ``std2``). ``map`` is the GMS map on the half-resolution grid.

    >>> x = np.random.default_rng(1).random((32, 32))
    >>> gmsd(x, x, data_range=1.0).value
    0.0
    """
    return _gmsd(prepare_pair(pred, gt, data_range=data_range, crop=crop, fit=fit,
                              channel_axis=channel_axis))


def _gmsd(pair: Pair) -> MetricResult:
    if pair.dims != 2:
        raise InputError("GMSD is defined for 2D images (Xue et al. 2014)", where="gmsd",
                         hint="evaluate a volume slice by slice, or use SSIM/MS-SSIM in 3D")
    c = 170.0 * (pair.data_range / 255.0) ** 2
    maps = np.stack([_gms_map(p, g, c) for p, g in zip(pair.pred, pair.gt)])
    value = float(np.mean([m.std(ddof=1) for m in maps]))
    window = "2x2 mean + decimation by 2, Prewitt/3 gradients (zero padding), c=170(L/255)^2"
    return MetricResult("GMSD", value, "", pair.convention(window=window),
                        map=maps if maps.shape[0] > 1 else maps[0])


#: Metric names accepted by :func:`full_reference`, in display order.
FULL_REFERENCE_METRICS = ("PSNR", "SSIM", "MS-SSIM", "NRMSE", "MAE", "Pearson", "GMSD")


def full_reference(pred: Any, gt: Any, *, data_range: Any = None,
                   crop: int | Sequence[int] = 0, fit: str = "none",
                   channel_axis: int | None = None, nrmse_normalization: str = "euclidean",
                   metrics: Sequence[str] = FULL_REFERENCE_METRICS,
                   ) -> dict[str, MetricResult]:
    """Several full-reference metrics at once, with the same conventions.

    Metrics that cannot be computed for this input (MS-SSIM on images of 160 pixels or less,
    GMSD on volumes) are returned with ``value = nan`` and the reason in ``note`` rather than
    failing the whole evaluation.

    >>> x = np.random.default_rng(0).random((64, 64))
    >>> out = full_reference(x, x, data_range=1.0)
    >>> out["PSNR"].value, out["SSIM"].value, out["MS-SSIM"].note[:23]
    (inf, 1.0, 'not computed: MS-SSIM w')
    """
    from geosr.assess.structural import ms_ssim_of_pair, ssim_of_pair

    unknown = [m for m in metrics if m not in FULL_REFERENCE_METRICS]
    if unknown:
        raise ConfigError(f"unknown metric(s) {unknown}", where="metrics",
                          hint="use some of " + ", ".join(FULL_REFERENCE_METRICS))
    if "NRMSE" in metrics and nrmse_normalization not in NRMSE_NORMALIZATIONS:
        raise ConfigError(f"unknown NRMSE normalisation {nrmse_normalization!r}",
                          where="nrmse_normalization",
                          hint="use one of " + ", ".join(NRMSE_NORMALIZATIONS))
    need_range = any(m in ("PSNR", "SSIM", "MS-SSIM", "GMSD") for m in metrics)
    pair = prepare_pair(pred, gt, data_range=data_range, need_range=need_range, crop=crop,
                        fit=fit, channel_axis=channel_axis)
    raw = pair
    if fit != "none" and "Pearson" in metrics:   # correlation is computed on the raw prediction
        raw = prepare_pair(pred, gt, need_range=False, crop=crop, channel_axis=channel_axis)
    calls = {
        "PSNR": lambda: _psnr(pair),
        "SSIM": lambda: ssim_of_pair(pair),
        "MS-SSIM": lambda: ms_ssim_of_pair(pair),
        "NRMSE": lambda: _nrmse(pair, nrmse_normalization),
        "MAE": lambda: _mae(pair),
        "Pearson": lambda: _pearson(raw),
        "GMSD": lambda: _gmsd(pair),
    }
    out: dict[str, MetricResult] = {}
    for name in metrics:
        try:
            out[name] = calls[name]()
        except InputError as err:
            if name not in ("MS-SSIM", "GMSD") or err.where not in ("ms_ssim", "gmsd"):
                raise
            out[name] = MetricResult(name, float("nan"), "", pair.convention(),
                                     note=f"not computed: {err.message}")
    return out
