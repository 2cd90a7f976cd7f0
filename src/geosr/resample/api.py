"""Integer-factor up- and down-scaling of :class:`geosr.core.Image` (or bare arrays).

The front doors of :mod:`geosr.resample`. They wrap :func:`geosr.resample.matlab.imresize`
(MATLAB ``imresize`` semantics, antialiased when shrinking) and keep the physical metadata right:

- ``spacing`` (pixel size, in the image's ``unit``) is divided by the factor on ``upscale`` and
  multiplied by it on ``downscale``;
- ``origin`` (the physical position of the centre of the first pixel, same unit) moves so that
  both grids cover the same field of view, as MATLAB's coordinate map implies:
  ``upscale`` by ``f``: ``origin - (f - 1) * spacing / (2 f)``;
  ``downscale`` by ``f``: ``origin + (f - 1) * spacing / 2`` (old spacing in both formulas);
- ``metadata["resample"]`` records the method, the per-axis factors and the convention.

Only spatial axes (``Z``, ``Y``, ``X``) are resampled; a channel axis ``C`` is kept. A bare numpy
array is read as ``YX`` (2-D) or ``ZYX`` (3-D) and an array is returned; give a per-axis tuple
with 1 for an axis to keep (e.g. ``(2, 2, 1)`` for an ``(H, W, 3)`` RGB array).

Example
-------
>>> import numpy as np
>>> from geosr.core import Image
>>> img = Image(np.zeros((8, 8), np.float32), "YX", spacing=(0.5, 0.5))
>>> up = upscale(img, 2)
>>> up.shape, up.spacing, up.origin
((16, 16), (0.25, 0.25), (-0.125, -0.125))
>>> down = downscale(img, 4)
>>> down.shape, down.spacing, down.origin
((2, 2), (2.0, 2.0), (0.75, 0.75))
>>> downscale(np.zeros((10, 10)), 3, crop=True).shape
(3, 3)
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from geosr.core.errors import ConfigError, InputError
from geosr.core.image import Image
from geosr.resample.matlab import imresize
from geosr.resample.kernels import get_kernel

__all__ = ["upscale", "downscale", "modcrop"]

# --------------------------------------------------------------------------- helpers
def _to_image(image: Any) -> tuple[Image, bool]:
    """``(Image, was_array)``; a bare array is wrapped with axes guessed from its rank."""
    if isinstance(image, Image):
        return image, False
    if not hasattr(image, "shape"):
        image = np.asarray(image)
    return Image.from_array(image), True


def _int_factors(scale: Any, n_spatial: int, axes: str) -> tuple[int, ...]:
    """Validate ``scale`` (a positive integer or one per spatial axis) and return the tuple."""
    values = [scale] if np.ndim(scale) == 0 else list(scale)
    if np.ndim(scale) != 0 and len(values) != n_spatial:
        raise ConfigError(
            f"scale {tuple(values)} has {len(values)} entries but the image has {n_spatial} "
            f"spatial axes ({axes})", where="scale",
            hint=f"give one integer or one integer per axis {axes} (1 keeps an axis)")
    factors = []
    for value in values:
        ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
        if ok and not isinstance(value, numbers.Integral):
            ok = bool(np.isfinite(value)) and float(value).is_integer()
        if not ok or int(value) < 1:
            raise ConfigError(f"scale must be a positive integer, got {value!r}", where="scale",
                              hint="use an integer factor such as 2, 3 or 4 (or a tuple of "
                                   "them per axis); for other factors use "
                                   "geosr.resample.imresize")
        factors.append(int(value))
    return tuple(factors * n_spatial if np.ndim(scale) == 0 else factors)


def _scale_record(factors: tuple[int, ...]) -> int | list[int]:
    return factors[0] if len(set(factors)) == 1 else list(factors)


def _convention(antialias: bool, method: str) -> str:
    if antialias and method != "nearest":
        return "MATLAB imresize, antialiased"
    return "MATLAB imresize, not antialiased"


def _full_scale(img: Image, per_spatial: Sequence[float]) -> tuple[float, ...]:
    return ((1.0,) if img.has_channels else ()) + tuple(float(s) for s in per_spatial)


# --------------------------------------------------------------------------- modcrop
def modcrop(array_or_image: Any, scale: Any) -> Any:
    """Crop trailing pixels so that every spatial size is a multiple of ``scale`` (the
    ``modcrop`` step of the classic SR protocol).

    Parameters
    ----------
    array_or_image:
        An :class:`Image` (spatial axes cropped, channels kept; spacing and origin unchanged,
        since only trailing pixels go) or a 2-D/3-D array (read as YX/ZYX).
    scale:
        A positive integer, or one per spatial axis (1 keeps an axis).

    >>> modcrop(np.zeros((101, 64)), 4).shape
    (100, 64)
    >>> modcrop(np.zeros((101, 65, 3)), (2, 2, 1)).shape     # RGB: keep the colour axis
    (100, 64, 3)
    """
    img, was_array = _to_image(array_or_image)
    factors = _int_factors(scale, img.dims, img.spatial_axes)
    new_spatial = tuple(n - n % f for n, f in zip(img.spatial_shape, factors))
    for name, n, f, m in zip(img.spatial_axes, img.spatial_shape, factors, new_spatial):
        if m == 0:
            raise InputError(f"axis {name} has {n} pixel(s), fewer than the scale {f}",
                             where="scale", hint="use a smaller scale or a larger image")
    if new_spatial == img.spatial_shape:
        return img.numpy() if was_array else img
    index = ((slice(None),) if img.has_channels else ()) + tuple(slice(0, m) for m in new_spatial)
    data = img.data[index]
    if was_array:
        return np.asarray(data)
    return img.replace(data=data).with_metadata(
        modcrop={"scale": _scale_record(factors), "original_shape": list(img.shape)})


# --------------------------------------------------------------------------- upscale
def upscale(image: Image | np.ndarray, scale: int | tuple[int, ...],
            method: str = "bicubic") -> Image | np.ndarray:
    """Enlarge the spatial axes by integer factors (MATLAB ``imresize(image, scale, method)``).

    Parameters
    ----------
    image:
        An :class:`Image` (YX, ZYX, CYX or CZYX) or a 2-D/3-D numpy array (YX/ZYX).
    scale:
        A positive integer for every spatial axis, or one per spatial axis, e.g. ``(4, 1, 1)``
        to enlarge Z only. ``1`` returns a copy.
    method:
        ``"nearest"``, ``"linear"``, ``"bicubic"`` (cubic, a = -0.5) or ``"lanczos"``
        (lanczos3).

    Returns
    -------
    Image or numpy.ndarray
        The same kind as the input, same dtype (integers rounded half away from zero and
        clipped after each axis pass, as MATLAB does). For an Image, ``spacing`` becomes
        ``spacing / f`` and ``origin`` becomes ``origin - (f - 1) spacing / (2 f)`` (in the
        image's unit) and ``metadata["resample"]`` is set.

    Raises
    ------
    ConfigError
        Unknown method, or a scale that is not a positive integer.
    InputError
        NaN or infinite values.

    >>> upscale(np.arange(4.0).reshape(2, 2), 2, "nearest")
    array([[0., 0., 1., 1.],
           [0., 0., 1., 1.],
           [2., 2., 3., 3.],
           [2., 2., 3., 3.]])
    """
    kernel = get_kernel(method)
    img, was_array = _to_image(image)
    factors = _int_factors(scale, img.dims, img.spatial_axes)
    img.check_finite()
    data = imresize(img.numpy(), _full_scale(img, factors), kernel.name, True)
    if was_array:
        return data
    spacing = tuple(s / f for s, f in zip(img.spacing, factors))
    origin = tuple(o - (f - 1) * s / (2.0 * f)
                   for o, s, f in zip(img.origin, img.spacing, factors))
    record = {
        "method": kernel.name, "matlab_method": kernel.matlab_name,
        "scale": _scale_record(factors), "direction": "up",
        "factors": dict(zip(img.spatial_axes, factors)),
        "convention": _convention(True, kernel.name), "antialias": kernel.name != "nearest",
        "input_shape": list(img.shape), "output_shape": list(data.shape),
    }
    return img.replace(data=data, spacing=spacing, origin=origin).with_metadata(resample=record)


# --------------------------------------------------------------------------- downscale
def downscale(image: Image | np.ndarray, scale: int | tuple[int, ...], method: str = "bicubic",
              *, crop: bool = False, antialias: bool = True) -> Image | np.ndarray:
    """Shrink the spatial axes by integer factors (MATLAB ``imresize(image, 1/scale, method)``,
    antialiased by default).

    Parameters
    ----------
    image:
        An :class:`Image` (YX, ZYX, CYX or CZYX) or a 2-D/3-D numpy array (YX/ZYX).
    scale:
        A positive integer for every spatial axis, or one per spatial axis, e.g. ``(4, 1, 1)``
        to shrink Z only. ``1`` returns a copy.
    method:
        ``"nearest"``, ``"linear"``, ``"bicubic"`` (cubic, a = -0.5) or ``"lanczos"``
        (lanczos3).
    crop:
        Crop trailing pixels first so each size is a multiple of its factor (:func:`modcrop`).
        Without it a size that the factor does not divide is an error.
    antialias:
        Stretch the kernel by the factor (MATLAB's default; not applied for ``nearest``).

    Returns
    -------
    Image or numpy.ndarray
        The same kind as the input, same dtype, each spatial size divided by its factor. For an
        Image, ``spacing`` becomes ``spacing * f`` and ``origin`` becomes
        ``origin + (f - 1) spacing / 2`` and ``metadata["resample"]`` is set.

    Raises
    ------
    InputError
        A spatial size not divisible by its factor (the message names the axis and the crop
        that works), or NaN/infinite values.
    ConfigError
        Unknown method, or a scale that is not a positive integer.

    >>> downscale(np.ones((6, 9), np.uint8), 3)
    array([[1, 1, 1],
           [1, 1, 1]], dtype=uint8)
    """
    kernel = get_kernel(method)
    img, was_array = _to_image(image)
    factors = _int_factors(scale, img.dims, img.spatial_axes)
    bad = [(a, n, f) for a, n, f in zip(img.spatial_axes, img.spatial_shape, factors) if n % f]
    cropped_from = None
    metadata = dict(img.metadata)
    if bad:
        if not crop:
            crops = ", ".join(f"crop {a} from {n} to {n - n % f}" for a, n, f in bad)
            names = ", ".join(f"{a} ({n} pixels, scale {f})" for a, n, f in bad)
            raise InputError(f"the scale does not divide the size of axis {names}",
                             where="downscale",
                             hint=f"{crops}; pass crop=True to drop the trailing pixels "
                                  "(or use geosr.resample.modcrop)")
        cropped_from = list(img.shape)
        img = modcrop(img, factors)
    img.check_finite()
    data = img.numpy()
    out_shape = data.shape[:1] if img.has_channels else ()
    out_shape = tuple(out_shape) + tuple(n // f for n, f in zip(img.spatial_shape, factors))
    result = imresize(data, _full_scale(img, [1.0 / f for f in factors]), kernel.name,
                      antialias, output_shape=out_shape)
    if was_array:
        return result
    spacing = tuple(s * f for s, f in zip(img.spacing, factors))
    origin = tuple(o + (f - 1) * s / 2.0 for o, s, f in zip(img.origin, img.spacing, factors))
    effective = bool(antialias) and kernel.name != "nearest"
    record = {
        "method": kernel.name, "matlab_method": kernel.matlab_name,
        "scale": _scale_record(factors), "direction": "down",
        "factors": dict(zip(img.spatial_axes, factors)),
        "convention": _convention(effective, kernel.name), "antialias": effective,
        "input_shape": cropped_from or list(img.shape), "output_shape": list(result.shape),
    }
    if cropped_from is not None:
        record["cropped_to"] = list(img.shape)
    return img.replace(data=result, spacing=spacing, origin=origin,
                       metadata={**metadata, "resample": record})
