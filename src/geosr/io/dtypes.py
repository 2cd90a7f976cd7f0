"""Which pixel types geosr writes, and the conversions it does (and refuses) on save.

geosr writes ``uint8``, ``uint16`` and ``float32``. It also accepts ``bool`` (written as ``uint8``
0/1) and ``float64`` (written as ``float32``; refused if a finite value lies outside the float32
range, so nothing overflows to infinity silently). Every other type raises
:class:`~geosr.core.errors.InputError` with a suggested conversion.

>>> import numpy as np
>>> save_dtype(np.dtype(bool), where="x.tif"), save_dtype(np.dtype("float64"), where="x.tif")
(dtype('uint8'), dtype('float32'))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geosr.core.errors import InputError

__all__ = ["SAVE_DTYPES", "save_dtype", "convert_block"]

#: The pixel types written as they are.
SAVE_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))
_F32_MAX = float(np.finfo(np.float32).max)


def _conversion_hint(data: Any, allowed: tuple[np.dtype, ...]) -> str:
    """Suggest a conversion from the value range of an integer array (cheap for numpy data)."""
    has_float = np.dtype(np.float32) in allowed
    fallback = ("convert the pixels with .astype(numpy.float32)" if has_float
                else "rescale to 0..255 and convert with .astype(numpy.uint8), or save as .tif")
    if isinstance(data, np.ndarray) and data.size and np.dtype(data.dtype).kind in "iu":
        low, high = int(data.min()), int(data.max())
        for target, top in (("uint8", 255), ("uint16", 65535)):
            if 0 <= low and high <= top:
                return (f"values span {low}..{high}: convert the pixels losslessly with "
                        f".astype(numpy.{target})")
        return f"values span {low}..{high}; " + fallback
    return fallback


def save_dtype(dtype: Any, *, where: str, data: Any = None,
               allowed: tuple[np.dtype, ...] = SAVE_DTYPES, fmt: str = "geosr") -> np.dtype:
    """The type an array of ``dtype`` is written as, or :class:`InputError` naming ``where``.
    ``allowed`` narrows the types for formats that hold fewer (PNG: uint8, uint16)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        target = np.dtype(np.uint8)
    elif dtype.kind == "f" and dtype.itemsize == 8:
        target = np.dtype(np.float32)
    else:
        target = dtype.newbyteorder("=")
    if target in allowed:
        return target
    names = ", ".join(str(t) for t in allowed)
    extra = ("bool is written as uint8 0/1, float64 as float32"
             if np.dtype(np.float32) in allowed else "bool is written as uint8 0/1")
    raise InputError(f"{fmt} cannot write pixel type {dtype}; it writes {names} ({extra})",
                     where=where, hint=_conversion_hint(data, allowed))


def convert_block(block: Any, target: np.dtype, *, where: str) -> np.ndarray:
    """Convert a block of pixels to ``target`` (from :func:`save_dtype`), refusing a float64 value
    outside the float32 range."""
    block = np.asarray(block)
    if block.dtype == target:
        return block
    if block.dtype.kind == "f" and target == np.float32 and block.size:
        finite = block[np.isfinite(block)]
        if finite.size and float(np.abs(finite).max()) > _F32_MAX:
            raise InputError(
                f"a value ({float(np.abs(finite).max()):.3g} in magnitude) exceeds the float32 "
                "range geosr writes", where=where,
                hint="rescale the image (e.g. divide by a constant and record it in metadata)")
    return block.astype(target)
