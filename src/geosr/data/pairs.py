"""LR/HR training pairs: geometry checks, matching by name, normalisation.

A :class:`Pair` holds one LR image and its HR counterpart as float32 arrays ``(C, *spatial)``,
already percentile-normalised (see :func:`make_pair`), with the HR spacing in µm and a ``group``
(the image or field of view it comes from — the unit of the train/validation split).

:func:`check_pair` tests that an LR image is its HR image downsampled by ``scale``: same axes and
channels, ``HR shape = LR shape × scale`` per spatial axis, and
``LR spacing = HR spacing × scale`` within a relative tolerance (1e-3) — both in µm; images
without calibration (unit ``pixel`` on both sides) skip the spacing test. It returns the list of
problems in words, so a folder can be checked file by file.

Example
-------
>>> import numpy as np
>>> from geosr.core import Image
>>> hr = Image(np.zeros((64, 64)), "YX", spacing=(0.1, 0.1))
>>> lr = Image(np.zeros((16, 17)), "YX", spacing=(0.4, 0.45))
>>> for line in check_pair(lr, hr, 4): print(line)
shape: HR (64, 64) should be LR (16, 17) x 4 = (64, 68) (axis X: 64 != 68)
spacing: LR (0.4, 0.45) um should be HR (0.1, 0.1) um x 4 = (0.4, 0.4) (axis X: 0.45 != 0.4, tolerance 0.001 relative)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np

from geosr.core.errors import InputError
from geosr.core.image import Image
from geosr.data.normalize import PercentileNormalizer

__all__ = ["Pair", "check_pair", "channels_first", "make_pair", "modcrop"]


@dataclasses.dataclass(frozen=True)
class Pair:
    """One normalised LR/HR pair.

    Attributes
    ----------
    name:
        Identifier (file stem, ``phantom-seed3``, ``img#f2`` for a field, ``~v1`` for a draw).
    group:
        The image or field of view it comes from; the validation split never shares a group
        with training.
    lr, hr:
        float32 arrays ``(C, *spatial)``; ``hr`` spatial shape = ``lr`` × scale.
    spacing_um:
        HR pixel spacing per spatial axis, µm.
    meta:
        JSON-friendly provenance: source files, normalisation ``lo/hi``, degradation draw.
    """

    name: str
    group: str
    lr: np.ndarray
    hr: np.ndarray
    spacing_um: tuple[float, ...]
    meta: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def dims(self) -> int:
        return self.lr.ndim - 1

    @property
    def channels(self) -> int:
        return self.lr.shape[0]


def channels_first(image: Image) -> np.ndarray:
    """The image's values as a float64 array ``(C, *spatial)`` (C = 1 without a channel axis)."""
    values = np.asarray(image.numpy(), dtype=np.float64)
    return values if image.has_channels else values[None]


def _fmt(values: Any) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"


def check_pair(lr: Image, hr: Image, scale: int, *, tolerance: float = 1e-3) -> list[str]:
    """Why ``lr`` is not ``hr`` downsampled by ``scale`` (an empty list when it is)."""
    problems: list[str] = []
    if lr.axes != hr.axes:
        problems.append(f"axes: LR {lr.axes} but HR {hr.axes}")
        return problems
    if lr.channels != hr.channels:
        problems.append(f"channels: LR {lr.channels} but HR {hr.channels}")
    names = lr.spatial_axes
    want = tuple(n * scale for n in lr.spatial_shape)
    if tuple(hr.spatial_shape) != want:
        bad = "; ".join(f"axis {a}: {h} != {w}" for a, h, w in
                        zip(names, hr.spatial_shape, want) if h != w)
        problems.append(f"shape: HR {tuple(hr.spatial_shape)} should be LR "
                        f"{tuple(lr.spatial_shape)} x {scale} = {want} ({bad})")
    if not (lr.unit == "pixel" and hr.unit == "pixel"):
        lr_s, hr_s = lr.spacing_um, hr.spacing_um
        expect = tuple(s * scale for s in hr_s)
        bad = [(a, got, exp) for a, got, exp in zip(names, lr_s, expect)
               if abs(got - exp) > tolerance * exp]
        if bad:
            detail = "; ".join(f"axis {a}: {g:g} != {e:g}" for a, g, e in bad)
            problems.append(f"spacing: LR {_fmt(lr_s)} um should be HR {_fmt(hr_s)} um x "
                            f"{scale} = {_fmt(expect)} ({detail}, tolerance {tolerance:g} "
                            "relative)")
    return problems


def modcrop(image: Image, scale: int) -> Image:
    """Drop trailing pixels so that ``scale`` divides every spatial size (the SR protocol's
    modcrop). The origin is unchanged."""
    keep = tuple(n - n % scale for n in image.spatial_shape)
    if keep == tuple(image.spatial_shape):
        return image
    if any(k == 0 for k in keep):
        raise InputError(f"image of shape {image.spatial_shape} is smaller than the scale "
                         f"{scale}", where=str(image.metadata.get("source", "image")))
    index = (slice(None),) * int(image.has_channels) + tuple(slice(0, k) for k in keep)
    return image.replace(data=np.asarray(image.numpy())[index])


def make_pair(lr: Image, hr: Image, *, name: str, group: str | None = None,
              normalizer: PercentileNormalizer | None = None, target: str = "own",
              meta: Mapping[str, Any] | None = None,
              hr_normalized: tuple[np.ndarray, float, float] | None = None) -> Pair:
    """Normalise an LR/HR pair (already checked) into a :class:`Pair`.

    ``target="own"`` normalises HR by its own percentiles (CSBDeep convention);
    ``target="input"`` maps HR with the LR image's ``lo, hi`` (the prediction is then in the
    input's intensity units exactly). Percentiles are taken over the whole image (all
    channels). ``hr_normalized``: ``(array, lo, hi)`` of an HR image already normalised with
    ``target="own"`` (shared, not copied, by several degraded versions of one image).
    """
    normalizer = normalizer or PercentileNormalizer()
    lr_values = channels_first(lr)
    lo, hi = normalizer.fit(lr_values)
    if target == "own" and hr_normalized is not None:
        hr_norm, t_lo, t_hi = hr_normalized
    elif target in ("own", "input"):
        hr_values = channels_first(hr)
        t_lo, t_hi = normalizer.fit(hr_values) if target == "own" else (lo, hi)
        hr_norm = normalizer.normalize(hr_values, t_lo, t_hi)
    else:
        raise InputError(f"unknown normalisation target {target!r}", where="normalization.target",
                         hint="use 'own' or 'input'")
    info = {"lr_lo": lo, "lr_hi": hi, "hr_lo": t_lo, "hr_hi": t_hi}
    return Pair(name=name, group=group or name,
                lr=normalizer.normalize(lr_values, lo, hi), hr=hr_norm,
                spacing_um=tuple(hr.spacing_um),
                meta={**dict(meta or {}), "normalization": info})
