"""Network segmentation, applied identically to prediction and truth.

A :class:`Segmentation` is a small, validated config (pydantic) that is recorded with every
result. :func:`segment_pair` turns a prediction and its truth into two masks with **the same
rule**; :func:`threshold_sweep` repeats the comparison over a range of thresholds so that a
conclusion does not hinge on one threshold.

Methods
-------
``"otsu"`` (default)
    One global threshold, Otsu's, computed on the **truth** and applied to both images
    (``threshold_from="truth"``, the reference notes' recommendation), or on each image
    separately (``threshold_from="each"``).
``"fixed"``
    A global ``threshold`` in image units (e.g. 142 for the LHDL bone volume).
``"local"``
    Gaussian-weighted local mean over ``block_um`` plus a margin ``offset`` (image units;
    default: a quarter of the truth's Otsu contrast, the gap between the two class means, so
    that texture in pore-free regions is not segmented). Each image gets its own local map with
    the same rule.
``"tubeness"``
    Multi-scale ridge filter with Gaussian scales ``scales_um`` in µm (default: 1, 2 and 4
    times the finest pixel size): ``filter="sato"`` (default; :func:`sato_tubeness`, the
    measure of :func:`skimage.filters.sato` computed ~15x faster with finite differences:
    correlation 0.995 with scikit-image's values on dentin phantoms, peaks ~15 % lower at
    σ = 1 pixel) or ``"frangi"`` (:func:`skimage.filters.frangi`, slow on volumes: minutes
    for 256³), for tubules
    near the resolution limit; the filter response is thresholded at ``threshold`` or, by
    default, at Otsu's threshold of the truth's response, applied to both. Needs isotropic
    pixels.
``"mask"``
    The input is already a segmentation: non-zero = pore (``bright=True``) or zero = pore
    (``bright=False``).

Binary inputs (boolean, or exactly two values) are always read as masks, whatever the method
(except ``fixed``, which thresholds them as given); with ``otsu`` a binary truth and an
intensity prediction give Otsu's threshold of the prediction (recorded).

Polarity: ``bright=True`` (fluorescence: pores brighter than the matrix) keeps ``value >
threshold``; ``bright=False`` (absorption CT: dark pores) keeps ``value <= threshold``, the exact
complement. Objects smaller than ``min_size_um`` (µm² in 2D, µm³ in 3D; fully connected) are
removed from both masks.

Example
-------
>>> import numpy as np
>>> img = np.full((32, 32), 0.1); img[10:20, 10:20] = 0.9; img[0, 0] = 0.2   # intensities
>>> pm, gm, record = segment_pair(img * 0.9, img, Segmentation(method="otsu"))
>>> int(pm.sum()), int(gm.sum()), record["threshold_source"]
(100, 100, 'otsu of the truth')
"""

from __future__ import annotations

import math
from typing import Any, Literal, Optional, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from geosr.core.config import StrictModel
from geosr.core.errors import ConfigError, InputError
from geosr.core.image import Image

__all__ = ["Segmentation", "segment_image", "segment_pair", "threshold_sweep", "SweepResult",
           "is_binary", "sato_tubeness", "METHODS"]

METHODS = ("otsu", "fixed", "local", "tubeness", "mask")


class Segmentation(StrictModel):
    """How pores are separated from the matrix; the same rule is applied to prediction and
    truth and recorded with every result.

    Attributes
    ----------
    method:
        ``otsu``, ``fixed``, ``local``, ``tubeness`` or ``mask`` (see the module notes).
    threshold:
        ``fixed``: threshold in image units (required). ``tubeness``: threshold of the filter
        response (default: Otsu of the truth's response).
    bright:
        True: pores are brighter than the matrix (fluorescence). False: darker (CT).
    min_size_um:
        Remove objects smaller than this area (µm², 2D) or volume (µm³, 3D). 0 keeps all.
    threshold_from:
        ``otsu``: compute Otsu's threshold on the ``truth`` and apply it to both (default), or
        on ``each`` image separately.
    block_um:
        ``local``: neighbourhood size in µm (default 31 pixels of the finest axis).
    offset:
        ``local``: margin above the local mean (bright pores; below for dark pores), image
        units (default: a quarter of the truth's Otsu contrast).
    scales_um:
        ``tubeness``: Gaussian scales (σ) in µm (default 1, 2 and 4 pixels of the finest axis).
    filter:
        ``tubeness``: ``sato`` (default) or ``frangi``.
    """

    method: Literal["otsu", "fixed", "local", "tubeness", "mask"] = "otsu"
    threshold: Optional[float] = None
    bright: bool = True
    min_size_um: float = Field(0.0, ge=0.0)
    threshold_from: Literal["truth", "each"] = "truth"
    block_um: Optional[float] = Field(None, gt=0.0)
    offset: Optional[float] = None
    scales_um: Optional[tuple[float, ...]] = None
    filter: Literal["sato", "frangi"] = "sato"

    @model_validator(mode="after")
    def _check(self) -> "Segmentation":
        if self.method == "fixed" and self.threshold is None:
            raise ValueError("method 'fixed' needs a threshold (image units)")
        if self.threshold is not None and not math.isfinite(self.threshold):
            raise ValueError(f"threshold must be finite, got {self.threshold}")
        if self.threshold is not None and self.method not in ("fixed", "tubeness", "otsu"):
            raise ValueError(f"a threshold is not used by method {self.method!r}")
        if self.scales_um is not None and (not self.scales_um
                                           or any(not (s > 0) for s in self.scales_um)):
            raise ValueError(f"scales_um must be positive, got {self.scales_um}")
        return self

    @classmethod
    def parse(cls, value: Any = None, **overrides: Any) -> "Segmentation":
        """A Segmentation from None (defaults), a method name, a dict or a Segmentation, with
        keyword overrides (None values ignored); a threshold given with the default ``otsu``
        method makes it ``fixed``. Pydantic errors become :class:`ConfigError` naming the
        field.

        >>> Segmentation.parse("fixed", threshold=142).threshold
        142.0
        """
        if isinstance(value, Segmentation):
            data = value.model_dump()
        elif value is None:
            data = {}
        elif isinstance(value, str):
            data = {"method": value}
        elif isinstance(value, dict):
            data = dict(value)
        else:
            raise ConfigError(f"expected a Segmentation, a method name or a dict, got "
                              f"{type(value).__name__}", where="segmentation")
        data.update({k: v for k, v in overrides.items() if v is not None})
        if data.get("threshold") is not None and data.get("method", "otsu") == "otsu":
            data["method"] = "fixed"      # a threshold with the default method: fixed
        try:
            return cls(**data)
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ())) or "segmentation"
            raise ConfigError(first.get("msg", str(err)).replace("Value error, ", ""),
                              where=f"segmentation.{field}" if field != "segmentation"
                              else field,
                              hint=f"methods: {', '.join(METHODS)}") from None

    def describe(self) -> str:
        """One line for tables and CSV headers."""
        parts = [self.method, "bright pores" if self.bright else "dark pores"]
        if self.threshold is not None:
            parts.append(f"threshold={self.threshold:g}")
        if self.min_size_um:
            parts.append(f"min_size={self.min_size_um:g} um^d")
        return ", ".join(parts)


# --------------------------------------------------------------------------- helpers
def is_binary(values: np.ndarray) -> bool:
    """True for a boolean array or one holding at most two distinct values, one of them 0
    (a mask such as {0, 1} or {0, 255})."""
    values = np.asarray(values)
    if values.dtype == bool:
        return True
    lo, hi = values.min(), values.max()
    if lo != 0 and hi != 0:
        return False
    if lo == hi:
        return True
    return int(np.count_nonzero((values == lo) | (values == hi))) == values.size


def _binary_mask(values: np.ndarray, bright: bool) -> np.ndarray:
    return (values != 0) if bright else (values == 0)


def _apply(values: np.ndarray, threshold: float, bright: bool) -> np.ndarray:
    return values > threshold if bright else values <= threshold


def _otsu(values: np.ndarray) -> float:
    from skimage.filters import threshold_otsu

    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    if finite.size == 0 or finite.min() == finite.max():
        return float(finite.max()) if finite.size else 0.0
    return float(threshold_otsu(finite))


def _class_means(values: np.ndarray, threshold: float) -> tuple[float, float]:
    lo = values[values <= threshold]
    hi = values[values > threshold]
    return (float(lo.mean()) if lo.size else threshold,
            float(hi.mean()) if hi.size else threshold)


def _min_voxels(min_size_um: float, spacing: Sequence[float]) -> int:
    return int(math.ceil(min_size_um / float(np.prod(spacing)) - 1e-9)) if min_size_um else 0


def remove_small(mask: np.ndarray, min_voxels: int) -> tuple[np.ndarray, int]:
    """Drop fully connected objects with fewer than ``min_voxels`` voxels; returns the mask and
    how many objects were removed."""
    if min_voxels <= 1 or not mask.any():
        return mask, 0
    from geosr.assess.network._common import FOREGROUND, label

    labels, n = label(mask, FOREGROUND[mask.ndim])
    sizes = np.bincount(labels.ravel())
    small = sizes < min_voxels
    small[0] = False
    if not small.any():
        return mask, 0
    return mask & ~small[labels], int(small.sum())


def _eigvals_sym(h: list[np.ndarray], dims: int) -> list[np.ndarray]:
    """Eigenvalues, in decreasing order, of a field of symmetric 2x2 or 3x3 matrices given by
    their upper-triangle components (closed form; float32)."""
    if dims == 2:
        a, b, d = h
        mean = (a + d) / 2
        rad = np.sqrt(((a - d) / 2) ** 2 + b * b)
        return [mean + rad, mean - rad]
    a, b, c, d, e, f = h                  # [[a, b, c], [b, d, e], [c, e, f]]
    q = (a + d + f) / 3
    p1 = b * b + c * c + e * e
    p2 = (a - q) ** 2 + (d - q) ** 2 + (f - q) ** 2 + 2 * p1
    p = np.sqrt(p2 / 6)
    safe = np.where(p > 0, p, 1)
    ba, bd, bf = (a - q) / safe, (d - q) / safe, (f - q) / safe
    bb, bc, be = b / safe, c / safe, e / safe
    r = (ba * (bd * bf - be * be) - bb * (bb * bf - be * bc) + bc * (bb * be - bd * bc)) / 2
    phi = np.arccos(np.clip(r, -1, 1)) / 3
    e1 = np.where(p > 0, q + 2 * p * np.cos(phi), q)
    e3 = np.where(p > 0, q + 2 * p * np.cos(phi + 2 * np.pi / 3), q)
    return [e1, 3 * q - e1 - e3, e3]


def _second_difference(a: np.ndarray, axis: int) -> np.ndarray:
    """``a[i+1] - 2 a[i] + a[i-1]`` along ``axis`` (edges mirrored)."""
    p = np.pad(a, [(1, 1) if k == axis else (0, 0) for k in range(a.ndim)], mode="reflect")
    n = a.shape[axis]
    take = lambda lo: np.take(p, np.arange(lo, lo + n), axis=axis)  # noqa: E731
    return take(2) - 2 * a + take(0)


def sato_tubeness(values: np.ndarray, sigmas_px: Sequence[float], *, bright: bool = True
                  ) -> np.ndarray:
    """Sato et al. (1998) multi-scale tubeness, as :func:`skimage.filters.sato` defines it
    (σ²-normalised geometric mean of the Hessian eigenvalues across the ridge, max over the
    scales ``sigmas_px``, in pixels), with central differences of the Gaussian-smoothed image
    and closed-form eigenvalues (second differences ``[1, -2, 1]`` on the diagonal): about 15x
    faster than scikit-image; peaks within a few percent of its values for σ ≥ 2 pixels and
    ~15 % lower at σ = 1 pixel.

    >>> img = np.zeros((21, 21), np.float32); img[10, :] = 1
    >>> t = sato_tubeness(img, [1.0]); bool(t[10].min() > 10 * t[5].max())
    True
    """
    from itertools import combinations_with_replacement

    from scipy import ndimage as ndi

    img = np.asarray(values, np.float32)
    if bright:                   # ridges brighter than their surroundings: a minimum of -I
        img = -img
    nd = img.ndim
    out = np.zeros(img.shape, np.float32)
    for s in sigmas_px:
        smooth = ndi.gaussian_filter(img, s, mode="reflect")
        grads = np.gradient(smooth)
        comps = [_second_difference(smooth, i) if i == j else np.gradient(grads[i], axis=j)
                 for i, j in combinations_with_replacement(range(nd), 2)]
        del grads, smooth
        eig = _eigvals_sym(comps, nd)[:-1]
        del comps
        vals = np.ones(img.shape, np.float32)
        for ev in eig:
            vals *= np.maximum(ev, 0)
        vals = (float(s) ** 2) * vals ** (1.0 / len(eig))
        np.maximum(out, vals, out=out)
    return out


def _tubeness(values: np.ndarray, seg: Segmentation, spacing: Sequence[float]
              ) -> tuple[np.ndarray, list[float]]:
    from skimage.filters import frangi

    if not np.allclose(spacing, spacing[0], rtol=1e-3):
        raise InputError(f"the tubeness filter needs isotropic pixels, got spacing {spacing} um",
                         where="segmentation.method",
                         hint="resample to isotropic pixels first (geosr.resample), or use "
                              "method 'otsu'/'fixed'")
    h = float(spacing[0])
    scales = list(seg.scales_um) if seg.scales_um else [h, 2 * h, 4 * h]
    sigmas = [s / h for s in scales]
    if seg.filter == "sato":
        response = sato_tubeness(values, sigmas, bright=seg.bright)
    else:
        response = frangi(values.astype(np.float32), sigmas=sigmas, black_ridges=not seg.bright)
    return np.asarray(response, np.float32), scales


def _local(values: np.ndarray, block_px: Sequence[int], offset: float, bright: bool
           ) -> np.ndarray:
    from skimage.filters import threshold_local

    local = threshold_local(values.astype(np.float32), block_size=tuple(block_px),
                            method="gaussian", offset=0.0)
    return values > local + offset if bright else values < local - offset


# --------------------------------------------------------------------------- front doors
def segment_image(image: Any, segmentation: Segmentation | str | dict | None = None, *,
            spacing: Sequence[float] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Segment one image on its own (Otsu of itself for ``otsu``). Returns ``(mask, record)``.

    >>> m, rec = segment_image(np.array([[0, 0.2], [0.9, 1.0]]), "otsu")
    >>> m.tolist(), round(rec["threshold"], 2)
    ([[False, False], [True, True]], 0.2)
    """
    mask, _, record = segment_pair(image, None, segmentation, spacing=spacing)
    return mask, record


def _values(x: Any, name: str) -> tuple[np.ndarray, tuple[float, ...] | None]:
    if isinstance(x, Image):
        if x.has_channels:
            if x.channels != 1:
                raise InputError(f"segmentation needs one channel, got {x.channels} (axes "
                                 f"{x.axes})", where=name, hint="select a channel first")
            return x.numpy()[0], x.spacing_um
        return x.numpy(), x.spacing_um
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise InputError(f"has dtype {arr.dtype}; expected a numeric image", where=name)
    if arr.ndim not in (2, 3):
        raise InputError(f"expected a 2D or 3D image, got shape {arr.shape}", where=name)
    return arr, None


def segment_pair(pred: Any, gt: Any = None, segmentation: Segmentation | str | dict | None = None,
                 *, spacing: Sequence[float] | None = None
                 ) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    """Segment prediction and truth with the same rule.

    Parameters
    ----------
    pred, gt:
        Images (arrays or :class:`~geosr.Image`, 2D or 3D, one channel); ``gt`` may be None.
    segmentation:
        A :class:`Segmentation`, a method name or a dict.
    spacing:
        Pixel size in µm per axis (default: the Image's, else 1).

    Returns
    -------
    (pred_mask, gt_mask, record)
        Boolean masks (``gt_mask`` None without a truth) and a JSON-friendly record of the
        resolved rule: method, threshold and where it came from, scales, block, offset,
        objects removed, whether an input was read as a binary mask, and notes.
    """
    seg = Segmentation.parse(segmentation)
    p, p_sp = _values(pred, "prediction")
    g, g_sp = _values(gt, "truth") if gt is not None else (None, None)
    if p.dtype.kind == "f" and not np.isfinite(p).all():
        raise InputError("the prediction holds NaN or infinite values", where="prediction",
                         hint="replace them (numpy.nan_to_num) before segmenting")
    if g is not None and g.dtype.kind == "f" and not np.isfinite(g).all():
        raise InputError("the truth holds NaN or infinite values", where="truth",
                         hint="replace them (numpy.nan_to_num) before segmenting")
    sp = tuple(spacing) if spacing is not None else (g_sp or p_sp or (1.0,) * p.ndim)
    record: dict[str, Any] = {**seg.model_dump(), "description": seg.describe(), "notes": []}
    record["scales_um"] = list(seg.scales_um) if seg.scales_um else None
    reference = g if g is not None else p
    ref_name = "truth" if g is not None else "prediction"
    p_bin, g_bin = is_binary(p), (is_binary(g) if g is not None else False)
    record["prediction_binary"], record["truth_binary"] = p_bin, g_bin

    def as_given(arr):
        return _binary_mask(arr, seg.bright)

    if seg.method == "mask":
        for arr, name in ((p, "prediction"), (g, "truth")):
            if arr is not None and not is_binary(arr):
                record["notes"].append(f"{name} is not binary: every non-zero value counts "
                                       "as " + ("pore" if seg.bright else "matrix"))
        pm, gm = as_given(p), (as_given(g) if g is not None else None)
        record.update(threshold=None, threshold_source="input is a mask")
    elif seg.method == "fixed":
        t = float(seg.threshold)  # type: ignore[arg-type]
        pm, gm = _apply(p, t, seg.bright), (_apply(g, t, seg.bright) if g is not None else None)
        record.update(threshold=t, threshold_source="given")
    elif seg.method == "otsu":
        pm, gm = _global(p, g, seg, record, p_bin, g_bin, ref_name)
    elif seg.method == "local":
        pm, gm = _local_pair(p, g, seg, record, sp, p_bin, g_bin, reference)
    else:  # tubeness
        pm, gm = _tubeness_pair(p, g, seg, record, sp, p_bin, g_bin)
    n_min = _min_voxels(seg.min_size_um, sp)
    record["min_size_voxels"] = n_min
    pm, removed_p = remove_small(pm, n_min)
    record["removed_objects_prediction"] = removed_p
    if gm is not None:
        gm, removed_g = remove_small(gm, n_min)
        record["removed_objects_truth"] = removed_g
    return pm, gm, record


def _global(p, g, seg, record, p_bin, g_bin, ref_name):
    if seg.threshold is not None:   # otsu with an explicit threshold: a fixed threshold
        t = float(seg.threshold)
        record.update(threshold=t, threshold_source="given")
        return _apply(p, t, seg.bright), (_apply(g, t, seg.bright) if g is not None else None)
    gm = None
    if g is not None and g_bin:
        gm = _binary_mask(g, seg.bright)
        record["notes"].append("truth read as a binary mask")
    if p_bin:
        pm = _binary_mask(p, seg.bright)
        record["notes"].append("prediction read as a binary mask")
        if g is not None and gm is None:
            t = _otsu(g)
            gm = _apply(g, t, seg.bright)
            record.update(threshold=t, threshold_source="otsu of the truth (prediction binary)")
        else:
            record.update(threshold=None, threshold_source="inputs are masks")
        return pm, gm
    if g is None or g_bin or seg.threshold_from == "each":
        t_p = _otsu(p)
        pm = _apply(p, t_p, seg.bright)
        if g is not None and gm is None:
            t_g = _otsu(g)
            gm = _apply(g, t_g, seg.bright)
            record.update(threshold=t_g, threshold_prediction=t_p,
                          threshold_source="otsu of each image")
        else:
            source = "otsu of the prediction" + (" (truth binary)" if g is not None else "")
            record.update(threshold=t_p, threshold_source=source)
        return pm, gm
    t = _otsu(g)
    record.update(threshold=t, threshold_source=f"otsu of the {ref_name}")
    return _apply(p, t, seg.bright), _apply(g, t, seg.bright)


def _local_pair(p, g, seg, record, sp, p_bin, g_bin, reference):
    h = min(sp)
    block_um = seg.block_um if seg.block_um is not None else 31 * h
    block_px = [max(3, int(round(block_um / s)) | 1) for s in sp]
    ref = reference if not is_binary(reference) else (p if not p_bin else None)
    if seg.offset is not None:
        offset = float(seg.offset)
        source = "given"
    elif ref is not None:
        t = _otsu(ref)
        lo, hi = _class_means(ref, t)
        offset = 0.25 * abs(hi - lo)
        source = "a quarter of the Otsu contrast of the " + ("truth" if ref is g else
                                                             "prediction")
    else:
        offset, source = 0.0, "default"
    record.update(threshold=None, threshold_source="local gaussian mean + offset",
                  block_um=block_um, block_px=block_px, offset=offset, offset_source=source)
    pm = _binary_mask(p, seg.bright) if p_bin else _local(p, block_px, offset, seg.bright)
    gm = None
    if g is not None:
        gm = _binary_mask(g, seg.bright) if g_bin else _local(g, block_px, offset, seg.bright)
    for flag, name in ((p_bin, "prediction"), (g_bin, "truth")):
        if flag:
            record["notes"].append(f"{name} read as a binary mask")
    return pm, gm


def _tubeness_pair(p, g, seg, record, sp, p_bin, g_bin):
    resp_p = None if p_bin else _tubeness(p, seg, sp)
    resp_g = None if (g is None or g_bin) else _tubeness(g, seg, sp)
    scales = (resp_p or resp_g or (None, [min(sp) * k for k in (1, 2, 4)]))[1]
    record["scales_um"] = [float(s) for s in scales]
    if seg.threshold is not None:
        t, source = float(seg.threshold), "given (filter response)"
    elif resp_g is not None:
        t, source = _otsu(resp_g[0]), "otsu of the truth's filter response"
    elif resp_p is not None:
        t, source = _otsu(resp_p[0]), "otsu of the prediction's filter response"
    else:
        t, source = None, "inputs are masks"
    record.update(threshold=t, threshold_source=source, filter=seg.filter)
    pm = _binary_mask(p, seg.bright) if p_bin else resp_p[0] > t
    gm = None
    if g is not None:
        gm = _binary_mask(g, seg.bright) if g_bin else resp_g[0] > t
    return pm, gm


# --------------------------------------------------------------------------- sweep
class SweepResult(BaseModel):
    """Metrics of prediction and truth at each threshold of a sweep (same threshold for
    both, unless the truth is a binary mask)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    thresholds: list[float]
    metrics: list[str]
    rows: list[dict[str, Any]]
    chosen: Optional[float] = None
    note: Optional[str] = None

    def column(self, metric: str, which: str = "prediction") -> np.ndarray:
        """One metric across thresholds (``which``: ``prediction``, ``truth`` or ``error``)."""
        return np.array([r[f"{metric}_{which}"] for r in self.rows], dtype=float)


def threshold_sweep(pred: Any, gt: Any, segmentation: Segmentation | str | dict | None = None,
                    *, thresholds: Sequence[float] | None = None, n: int = 7,
                    spacing: Sequence[float] | None = None,
                    metrics: Sequence[str] = ("porosity", "beta0", "beta1", "clDice",
                                              "length_density")) -> SweepResult:
    """Repeat the comparison over thresholds: by default ``n`` values from 20 % to 80 % of the
    way between the two Otsu class means of the truth (or of its filter response).

    Supported methods: ``otsu``, ``fixed`` and ``tubeness`` (a global threshold); a binary
    truth stays as it is and only the prediction's threshold moves.

    >>> img = np.full((32, 32), 0.1); img[8:24, 15:17] = 0.9; img[0, 0] = 0.2
    >>> res = threshold_sweep(img * 0.8, img, n=3)
    >>> [round(t, 2) for t in res.thresholds], res.column("porosity", "error").tolist()
    ([0.26, 0.5, 0.74], [0.0, 0.0, -0.03125])
    """
    from geosr.assess.network._common import as_mask
    from geosr.assess.network.cldice import cldice_score, skeletonize
    from geosr.assess.network.skeleton import skeleton_stats
    from geosr.assess.network.topology import betti_numbers

    seg = Segmentation.parse(segmentation)
    if seg.method not in ("otsu", "fixed", "tubeness"):
        raise ConfigError(f"a threshold sweep needs a global threshold, not method "
                          f"{seg.method!r}", where="segmentation.method",
                          hint="use otsu, fixed or tubeness")
    _, _, base = segment_pair(pred, gt, seg, spacing=spacing)
    p, p_sp = _values(pred, "prediction")
    g, g_sp = _values(gt, "truth")
    sp = tuple(spacing) if spacing is not None else (g_sp or p_sp or (1.0,) * p.ndim)
    g_bin = is_binary(g)
    if seg.method == "tubeness":
        p_vals = _tubeness(p, seg, sp)[0]
        g_vals = g if g_bin else _tubeness(g, seg, sp)[0]
    else:
        p_vals, g_vals = p, g
    ref = p_vals if g_bin else g_vals
    if thresholds is None:
        t0 = _otsu(ref)
        lo, hi = _class_means(ref, t0)
        thresholds = [float(lo + f * (hi - lo)) for f in np.linspace(0.2, 0.8, int(n))]
    bright = seg.bright if seg.method != "tubeness" else True
    gt_fixed = _binary_mask(g, seg.bright) if g_bin else None
    rows = []
    for t in thresholds:
        pm = _apply(p_vals, t, bright)
        gm = gt_fixed if gt_fixed is not None else _apply(g_vals, t, bright)
        n_min = _min_voxels(seg.min_size_um, sp)
        pm, _ = remove_small(pm, n_min)
        gm, _ = remove_small(gm, n_min)
        row: dict[str, Any] = {"threshold": float(t)}
        sk_p, sk_g = skeletonize(pm), skeletonize(gm)
        values = {}
        for which, m, sk in (("prediction", pm, sk_p), ("truth", gm, sk_g)):
            m2, _ = as_mask(m, sp)
            betti = betti_numbers(m2)
            stats = skeleton_stats(m2, sp, skeleton=sk)
            values[which] = {"porosity": float(m2.mean()), "beta0": betti.b0,
                             "beta1": betti.b1, "length_density": stats.length_density}
        cl = cldice_score(pm, gm, pred_skeleton=sk_p, gt_skeleton=sk_g)
        values["prediction"]["clDice"] = cl.cldice
        values["truth"]["clDice"] = 1.0 if gm.any() else float("nan")
        for m in metrics:
            a, b = values["prediction"][m], values["truth"][m]
            row[f"{m}_prediction"], row[f"{m}_truth"] = float(a), float(b)
            row[f"{m}_error"] = float(a) - float(b)
        rows.append(row)
    note = "truth is a binary mask: only the prediction's threshold varies" if g_bin else None
    return SweepResult(thresholds=[float(t) for t in thresholds], metrics=list(metrics),
                       rows=rows, chosen=base.get("threshold"), note=note)
