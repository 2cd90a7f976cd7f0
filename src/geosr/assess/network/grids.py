"""Inputs of the network assessment: images from arrays, :class:`~geosr.Image` or files, one
channel, and a prediction/truth pair on the same grid.

A pair must have the same dimensionality, shape and pixel size. When it does not, the error
says which differs and what resampling would align the two: for the same field of view at
pixel sizes that differ by an integer factor k, ``geosr.resample.downscale(pred, k)`` (antialiased,
then segmented) or ``geosr.resample.upscale(truth, k, method="nearest")`` for a mask;
for a prediction that kept the low-resolution spacing after upscaling, fix its metadata. An
uncalibrated image (unit ``pixel``: a PNG without sidecar, a bare array) takes the calibrated
partner's spacing, with a note.

>>> import numpy as np
>>> from geosr.core.image import Image
>>> p = Image(np.zeros((64, 64)), "YX", spacing=(0.1, 0.1))
>>> g = Image(np.zeros((16, 16)), "YX", spacing=(0.4, 0.4))
>>> try:
...     check_pair(p, g, [])
... except Exception as err:
...     print(str(err).split(": ", 1)[1].split(";")[0])
grid mismatch: prediction (64, 64) pixels of (0.1, 0.1) um, truth (16, 16) pixels of (0.4, 0.4) um
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from geosr.core.errors import InputError
from geosr.core.image import Image
from geosr.core.per_axis import per_axis

__all__ = ["to_image", "check_pair", "single_channel"]


def to_image(x: Any, what: str, spacing: Sequence[float] | float | None = None):
    """An :class:`~geosr.Image` from an Image, an array (unit ``pixel`` unless ``spacing``
    in µm is given) or a file path (:func:`geosr.io.load`)."""
    if isinstance(x, (str, os.PathLike)):
        from geosr.io import load

        img = load(x)
    elif isinstance(x, Image):
        img = x
    else:
        arr = np.asarray(x)
        if arr.dtype.kind not in "biuf":
            raise InputError(f"has dtype {arr.dtype}; expected a numeric image", where=what)
        if arr.ndim not in (2, 3):
            raise InputError(f"expected a 2D (YX) or 3D (ZYX) array, got shape {arr.shape}",
                             where=what, hint="pass a geosr Image with explicit axes")
        img = Image.from_array(arr, unit="um" if spacing is not None else "pixel")
    img = single_channel(img, what)
    if spacing is not None:
        sp = per_axis(spacing, img.dims, where="spacing", positive=True, unit="µm")
        img = img.replace(spacing=sp, unit="um",  # type: ignore
                          origin=tuple(o * 0 for o in img.origin))
    return img


def single_channel(img, what: str):
    """Drop a singleton ``C`` axis; refuse several channels."""
    if not img.has_channels:
        return img
    if img.channels != 1:
        raise InputError(f"has {img.channels} channels (axes {img.axes}); network metrics "
                         "need one", where=what, hint="select the channel that shows the "
                         "pores (image.numpy()[c]) or convert to grey first")
    return img.replace(data=img.numpy()[0], axes=img.axes[1:])


def _fmt(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{float(v):.6g}" for v in values) + ")"


def check_pair(p, g, notes: list[str], *, check_spacing: bool = True):
    """Check that prediction ``p`` and truth ``g`` (Images) share a grid; return them, the
    uncalibrated one given the other's spacing. Raises :class:`InputError` naming what differs
    and the resampling that would align them."""
    if p.dims != g.dims:
        raise InputError(f"the prediction is {p.dims}D ({p.axes}) but the truth is {g.dims}D "
                         f"({g.axes})", where="prediction",
                         hint="compare a volume with a volume; for one slice pass "
                              "truth.numpy()[z]")
    calibrated = "pixel" not in (p.unit, g.unit)
    ps, gs = np.asarray(p.spacing_um), np.asarray(g.spacing_um)
    if p.spatial_shape != g.spatial_shape:
        msg = (f"grid mismatch: prediction {p.spatial_shape} pixels of {_fmt(ps)} um, truth "
               f"{g.spatial_shape} pixels of {_fmt(gs)} um")
        hint = _resample_hint(p, g, calibrated)
        raise InputError(msg, where="prediction", hint=hint)
    if not calibrated:
        if p.unit != g.unit:
            src, dst = (g, p) if p.unit == "pixel" else (p, g)
            which = "prediction" if dst is p else "truth"
            notes.append(f"the {which} has no physical calibration: it takes the spacing "
                         f"{_fmt(src.spacing_um)} um of the other image")
            fixed = dst.replace(spacing=src.spacing_um, unit="um", origin=src.in_um().origin)
            return (fixed, g) if dst is p else (p, fixed)
        notes.append("no physical calibration: 1 pixel counted as 1 um (pass spacing= in um)")
        return p, g
    if not np.allclose(ps, gs, rtol=1e-3):
        ratio = ps / gs
        hint = "check the files' metadata"
        if np.allclose(ratio, np.round(ratio)) and np.all(np.round(ratio) >= 2):
            hint = (f"same shape but the prediction's pixels are {_fmt(np.round(ratio))} times "
                    "larger: an upscaled prediction that kept the low-resolution spacing? Fix "
                    "its spacing to the truth's (Image.replace(spacing=...))")
        elif np.allclose(1 / ratio, np.round(1 / ratio)) and np.all(np.round(1 / ratio) >= 2):
            hint = (f"same shape but the truth's pixels are {_fmt(np.round(1 / ratio))} times "
                    "larger; check which file carries the wrong spacing")
        if check_spacing:
            raise InputError(f"spacing mismatch: prediction {_fmt(ps)} um, truth {_fmt(gs)} um "
                             "on the same shape", where="prediction",
                             hint=hint + ", or pass check_spacing=False (--ignore-spacing) to "
                                         "use the truth's spacing")
        notes.append(f"spacing mismatch ignored: prediction {_fmt(ps)} um, truth {_fmt(gs)} "
                     "um; the truth's spacing is used")
        p = p.replace(spacing=g.spacing, unit=g.unit, origin=g.origin)
    return p, g


def _resample_hint(p, g, calibrated: bool) -> str:
    from geosr.assess.conventions import shape_mismatch_hint

    if calibrated:
        pe, ge = np.asarray(p.extent_um), np.asarray(g.extent_um)
        ratio = np.asarray(g.spacing_um) / np.asarray(p.spacing_um)
        tol = np.maximum(np.asarray(p.spacing_um), np.asarray(g.spacing_um))
        same_field = np.all(np.abs(pe - ge) <= tol + 1e-9)
        if same_field and np.allclose(ratio, np.round(ratio), rtol=1e-3) and \
                np.all(np.round(ratio) >= 1):
            k = tuple(int(round(r)) for r in ratio)
            kk = k[0] if len(set(k)) == 1 else k
            return (f"same field of view, the prediction's pixels are {kk}x finer: resample "
                    f"the prediction onto the truth's grid with geosr.resample.downscale(pred, "
                    f"{kk}) before segmenting, or bring the truth to the prediction's grid "
                    f"with geosr.resample.upscale(truth, {kk}, method='nearest') (masks)")
        if same_field and np.allclose(1 / ratio, np.round(1 / ratio), rtol=1e-3):
            k = tuple(int(round(1 / r)) for r in ratio)
            kk = k[0] if len(set(k)) == 1 else k
            return (f"same field of view, the truth's pixels are {kk}x finer: upscale the "
                    f"prediction with geosr.resample.upscale(pred, {kk}) (or the SR model) or "
                    f"downscale the truth with geosr.resample.downscale(truth, {kk})")
        if not same_field:
            return (f"the fields of view differ ({_fmt(pe)} um vs {_fmt(ge)} um): crop both to "
                    "the common region first")
    return shape_mismatch_hint(p.spatial_shape, g.spatial_shape)
