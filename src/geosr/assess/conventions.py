"""What every image-quality number records about how it was computed, and the input checks
shared by all full-reference metrics.

A metric in :mod:`geosr.assess` returns a :class:`MetricResult`: the value, its unit, an optional
map and a :class:`Convention` that names the data range (and where it came from), the channel,
the border crop, the fit applied to the prediction, the normalisation and the window. Two numbers
are comparable only when their conventions are equal.

Data range
----------
The data range ``L`` (the peak of PSNR, the ``L`` of SSIM's ``C1 = (K1 L)^2``) is never inferred
silently. Pass it as

- a number, in the units of the images (``255`` for 8-bit images, ``1.0`` for images in [0, 1],
  ``65535`` for the full 16-bit range, ...);
- ``"dtype"``: the full range of the (shared, integer) dtype, e.g. 255 for ``uint8``;
- ``"gt"``: ``max(gt) - min(gt)`` over the evaluated region of the ground truth (the "physical
  mode" of the reference notes).

Example
-------
>>> import numpy as np
>>> from geosr.assess import psnr
>>> r = psnr(np.full((8, 8), 10.0), np.full((8, 8), 12.0), data_range=255)
>>> round(r.value, 4), r.unit, r.convention.data_range
(42.1102, 'dB', 255.0)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from geosr.core.errors import ConfigError, InputError
from geosr.core.image import Image
from geosr.core.per_axis import per_axis

__all__ = ["Convention", "MetricResult", "Pair", "FITS", "resolve_data_range",
           "prepare_pair", "crop_border", "affine_fit", "shape_mismatch_hint"]

#: Accepted values of ``fit``: ``"none"`` (raw prediction) or ``"affine"`` (least-squares gain and
#: offset of the prediction to the truth, CSBDeep's scale-invariant convention).
FITS = ("none", "affine")


@dataclasses.dataclass(frozen=True)
class Convention:
    """How a number was computed.

    Attributes
    ----------
    data_range:
        ``L`` in image units (None where the metric does not use one, e.g. MAE).
    data_range_source:
        Where ``L`` came from: ``"given"``, ``"dtype uint8"``, ``"gt max-min"``, ``"protocol"``.
    channel:
        ``"grey"``, ``"Y (BT.601, MATLAB uint8)"``, ``"mean of 3 channels"``, ...
    crop:
        Pixels removed from each border, per spatial axis.
    fit:
        ``"none"`` or a description of the affine fit (with gain and offset).
    normalization:
        For NRMSE: ``"range"``, ``"mean"``, ``"std"`` or ``"euclidean"``.
    window:
        For SSIM-type metrics: window and where the map is averaged.
    dims:
        Number of spatial dimensions the metric was computed in (2 or 3).
    """

    data_range: float | None = None
    data_range_source: str | None = None
    channel: str = "grey"
    crop: tuple[int, ...] = ()
    fit: str = "none"
    normalization: str | None = None
    window: str | None = None
    dims: int = 2

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        parts = [f"channel={self.channel}", f"crop={'x'.join(map(str, self.crop)) or 0}"]
        if self.data_range is not None:
            parts.append(f"data_range={self.data_range:g} ({self.data_range_source})")
        parts.append(f"fit={self.fit}")
        if self.normalization:
            parts.append(f"normalization={self.normalization}")
        if self.window:
            parts.append(f"window={self.window}")
        parts.append(f"{self.dims}D")
        return "; ".join(parts)


@dataclasses.dataclass(frozen=True)
class MetricResult:
    """A metric value with its unit, its convention and, where meaningful, a map.

    ``value`` is a float (``inf`` for PSNR of identical images, ``nan`` when the metric is
    undefined, with the reason in ``note``). ``float(result)`` gives the value.
    """

    name: str
    value: float
    unit: str
    convention: Convention
    map: np.ndarray | None = dataclasses.field(default=None, repr=False, compare=False)
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    note: str | None = None

    def __float__(self) -> float:
        return float(self.value)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly: name, value, unit, note, details and the convention (no map)."""
        return {"name": self.name, "value": self.value, "unit": self.unit, "note": self.note,
                "details": dict(self.details), "convention": self.convention.as_dict()}


# --------------------------------------------------------------------------- validation
def _as_array(x: Any, name: str) -> tuple[np.ndarray, int | None]:
    """numpy array and channel axis (0 for an :class:`Image` with a ``C`` axis)."""
    if isinstance(x, Image):
        return x.numpy(), (0 if x.has_channels else None)
    try:
        arr = np.asarray(x)
    except Exception as err:  # pragma: no cover - exotic inputs
        raise InputError(f"cannot read as an array ({err})", where=name) from None
    if arr.dtype.kind not in "biuf":
        raise InputError(f"has dtype {arr.dtype}; expected a real numeric array", where=name)
    return arr, None


def shape_mismatch_hint(pred_shape: Sequence[int], gt_shape: Sequence[int],
                        scale: int | Sequence[int] | None = None) -> str:
    """Explain a spatial shape mismatch and say whether a crop by the scale would fix it."""
    pred_shape, gt_shape = tuple(pred_shape), tuple(gt_shape)
    if len(pred_shape) != len(gt_shape):
        return "the images have different numbers of dimensions"
    scales = [scale] * len(gt_shape) if isinstance(scale, (int, np.integer)) else scale
    if scales is not None and len(scales) == len(gt_shape):
        gt_mod = tuple(n - n % int(s) for n, s in zip(gt_shape, scales))
        pred_mod = tuple(n - n % int(s) for n, s in zip(pred_shape, scales))
        if pred_shape == gt_mod:
            return (f"the truth is not cropped to a multiple of the scale {scale}: crop it to "
                    f"{gt_mod} (geosr.resample.modcrop) as the SR protocol does")
        if gt_shape == pred_mod:
            return (f"the prediction is not cropped to a multiple of the scale {scale}: crop it "
                    f"to {pred_mod}")
        if all(g == p * int(s) for g, p, s in zip(gt_shape, pred_shape, scales)):
            return f"the prediction has the low-resolution shape: upscale it by {scale} first"
        return "no crop by the scale makes them equal; check that the files belong together"
    if all(p <= g for p, g in zip(pred_shape, gt_shape)):
        return ("the prediction is smaller; if the truth was not cropped to a multiple of the "
                "scale, pass scale= to get a diagnosis, or crop the truth")
    return "check that the files belong together"


def resolve_data_range(data_range: Any, pred: np.ndarray, gt: np.ndarray,
                       gt_region: np.ndarray | None = None) -> tuple[float, str]:
    """``(L, source)`` from an explicit ``data_range`` (number, ``"dtype"`` or ``"gt"``).

    Raises :class:`ConfigError` when ``data_range`` is missing or not usable.
    """
    if data_range is None:
        same = pred.dtype == gt.dtype
        raise ConfigError(
            "no data range given" + ("" if same else
                                     f" and the images have different dtypes ({pred.dtype} "
                                     f"prediction, {gt.dtype} truth)"),
            where="data_range",
            hint="pass data_range= the intensity span of the images (e.g. 255 for 8-bit, 1.0 "
                 "for [0, 1], 65535 for 16-bit), or 'dtype' (full range of an integer dtype) "
                 "or 'gt' (max - min of the truth); it is never guessed")
    if isinstance(data_range, str):
        key = data_range.strip().lower()
        if key == "dtype":
            if pred.dtype != gt.dtype or pred.dtype.kind not in "ui":
                raise ConfigError(
                    f"'dtype' needs both images of the same integer dtype, got {pred.dtype} "
                    f"and {gt.dtype}", where="data_range", hint="pass a number instead")
            info = np.iinfo(pred.dtype)
            return float(info.max) - float(info.min), f"dtype {pred.dtype}"
        if key in ("gt", "truth"):
            region = gt if gt_region is None else gt_region
            span = float(np.max(region)) - float(np.min(region))
            if span <= 0:
                raise InputError("the truth is constant, so 'gt' gives a zero data range",
                                 where="data_range", hint="pass a number instead")
            return span, "gt max-min"
        try:
            data_range = float(key)
        except ValueError:
            raise ConfigError(f"must be a positive number, 'dtype' or 'gt', got {data_range!r}",
                              where="data_range") from None
    try:
        value = float(data_range)
    except (TypeError, ValueError):
        raise ConfigError(f"must be a positive number, 'dtype' or 'gt', got {data_range!r}",
                          where="data_range") from None
    if not np.isfinite(value) or value <= 0:
        raise ConfigError(f"must be positive and finite, got {data_range!r}", where="data_range")
    return value, "given"


def _crop_tuple(crop: int | Sequence[int], dims: int) -> tuple[int, ...]:
    return per_axis(crop, dims, where="crop", kind=int, minimum=0, unit="pixels")


def crop_border(array: np.ndarray, crop: int | Sequence[int], *, channel_axis: int | None = None
                ) -> np.ndarray:
    """Remove ``crop`` pixels from both ends of every spatial axis.

    >>> crop_border(np.zeros((10, 12)), 2).shape
    (6, 8)
    """
    skip = None if channel_axis is None else channel_axis % array.ndim
    spatial = [a for a in range(array.ndim) if a != skip]
    crop = _crop_tuple(crop, len(spatial))
    index: list[slice] = [slice(None)] * array.ndim
    for axis, c in zip(spatial, crop):
        if 2 * c >= array.shape[axis]:
            raise InputError(f"a border crop of {c} leaves nothing of an axis of length "
                             f"{array.shape[axis]}", where="crop", hint="crop less")
        index[axis] = slice(c, array.shape[axis] - c)
    return array[tuple(index)]


def affine_fit(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Least-squares gain and offset of the prediction to the truth: ``a, b = argmin ||a pred +
    b - gt||^2``, with slope ``sum(p~ g~) / sum(p~^2)`` (centred values; the consistent form of
    CSBDeep's ``norm_minmse``). Returns ``(a * pred + b, a, b)``; a constant prediction gives
    ``a = 0, b = mean(gt)``.

    >>> fitted, a, b = affine_fit(np.array([0., 1, 2, 3]), np.array([1., 3, 5, 7]))
    >>> float(a), float(b)
    (2.0, 1.0)
    """
    p = np.asarray(pred, dtype=np.float64)
    g = np.asarray(gt, dtype=np.float64)
    pc = p - p.mean()
    denom = float(np.sum(pc * pc))
    a = float(np.sum(pc * (g - g.mean())) / denom) if denom > 0 else 0.0
    b = float(g.mean() - a * p.mean())
    return a * p + b, a, b


def _check_finite(arr: np.ndarray, name: str) -> None:
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise InputError(f"{int(bad.sum())} value(s) are NaN or infinite (first at index "
                             f"{first})", where=name,
                             hint="replace or mask them; metrics are undefined on NaN")


@dataclasses.dataclass
class Pair:
    """A validated prediction/truth pair, float64, channels first (``C, *spatial``)."""

    pred: np.ndarray
    gt: np.ndarray
    data_range: float | None
    data_range_source: str | None
    channel: str
    crop: tuple[int, ...]
    fit: str
    dims: int
    fits: list[tuple[float, float]]

    def convention(self, **extra: Any) -> Convention:
        return Convention(data_range=self.data_range, data_range_source=self.data_range_source,
                          channel=self.channel, crop=self.crop, fit=self.fit, dims=self.dims,
                          **extra)


def prepare_pair(pred: Any, gt: Any, *, data_range: Any = None, need_range: bool = True,
                 crop: int | Sequence[int] = 0, fit: str = "none",
                 channel_axis: int | None = None, channel: str | None = None) -> Pair:
    """Validate and convert a pair: same shape, finite, 2D/3D, crop, optional affine fit,
    resolved data range. Channels (``channel_axis``) are moved first; metrics average over them.
    """
    p, p_ch = _as_array(pred, "prediction")
    g, g_ch = _as_array(gt, "truth")
    if channel_axis is None:
        channel_axis = p_ch if p_ch is not None else g_ch
    if p.shape != g.shape:
        raise InputError(f"shape mismatch: prediction {p.shape}, truth {g.shape}",
                         where="prediction", hint=shape_mismatch_hint(p.shape, g.shape))
    _check_finite(p, "prediction")
    _check_finite(g, "truth")
    if channel_axis is not None:
        p = np.moveaxis(p, channel_axis, 0)
        g = np.moveaxis(g, channel_axis, 0)
    else:
        p, g = p[None], g[None]
    dims = p.ndim - 1
    if dims not in (2, 3):
        raise InputError(f"expected a 2D or 3D image (plus channels), got shape {p.shape[1:]}",
                         where="prediction",
                         hint="pass channel_axis= for multichannel images")
    if fit not in FITS:
        raise ConfigError(f"unknown fit {fit!r}", where="fit", hint="use 'none' or 'affine'")
    crop_t = _crop_tuple(crop, dims)
    gc = crop_border(g, crop_t, channel_axis=0)
    L, source = (None, None)
    if need_range:
        L, source = resolve_data_range(data_range, p, g, gc)
    pc = crop_border(p, crop_t, channel_axis=0).astype(np.float64)
    gc = gc.astype(np.float64)
    fits: list[tuple[float, float]] = []
    fit_text = "none"
    if fit == "affine":
        out = np.empty_like(pc)
        for c in range(pc.shape[0]):
            out[c], a, b = affine_fit(pc[c], gc[c])
            fits.append((a, b))
        pc = out
        fit_text = "affine least-squares of prediction to truth (CSBDeep), " + ", ".join(
            f"gain={a:.6g} offset={b:.6g}" for a, b in fits)
    n_ch = pc.shape[0]
    if channel is None:
        channel = "grey" if channel_axis is None else f"mean of {n_ch} channels"
    return Pair(pc, gc, L, source, channel, crop_t, fit_text, dims, fits)
