""""One value, or one per spatial axis": the coercion every stage needs for a scale, a spacing,
a PSF width, a tile size — written once, with one error wording.

:func:`per_axis` turns a user value into a tuple of ``dims`` checked numbers (a scalar is
repeated); :func:`one_or_per_axis` goes the other way for command-line options given as a list
(``--scale 4`` → ``4``, ``--scale 1 4 4`` → ``(1, 4, 4)``).

Example
-------
>>> per_axis(0.1, 3, where="spacing_um", positive=True)
(0.1, 0.1, 0.1)
>>> per_axis([1, 4, 4], 3, where="scale", kind=int, minimum=1)
(1, 4, 4)
>>> per_axis([1, 4], 3, where="scale", kind=int, axes="ZYX")
Traceback (most recent call last):
geosr.core.errors.ConfigError: scale: 2 values given for 3 spatial axes (ZYX); give one value or 3 (one per spatial axis, order ZYX)
>>> one_or_per_axis([4], where="--scale", kind=int, minimum=1), one_or_per_axis(None, where="--x")
(4, None)
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Optional, Sequence

import numpy as np

from geosr.core.errors import ConfigError, GeosrError

__all__ = ["per_axis", "one_or_per_axis"]


def _describe(kind: Optional[type], positive: bool, minimum: Optional[float]) -> str:
    noun = {int: "integer", float: "number"}.get(kind, "value")  # type: ignore[arg-type]
    if positive:
        return f"positive {noun}s"
    if minimum is not None:
        return f"{noun}s >= {minimum:g}"
    return f"{noun}s"


def _convert(v: Any, kind: Optional[type]) -> Any:
    """``v`` as ``kind``; ValueError when it is not one (bools, fractions for ``int``, NaN)."""
    if kind is None:
        return v
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise ValueError(v)
    if kind is int:
        if not float(v).is_integer():
            raise ValueError(v)
        return int(v)
    out = float(v)
    if not math.isfinite(out):
        raise ValueError(v)
    return out


def per_axis(value: Any, dims: int, *, where: str, kind: Optional[type] = float,
             positive: bool = False, minimum: Optional[float] = None, axes: str | None = None,
             unit: str = "", error: type[GeosrError] = ConfigError) -> tuple[Any, ...]:
    """``value`` (one number, or one per spatial axis) as a tuple of ``dims`` checked values.

    Parameters
    ----------
    value:
        A number (repeated on every axis) or a sequence of ``dims`` numbers.
    dims:
        The number of spatial axes (2 or 3).
    where:
        The argument or config field, named first in errors.
    kind:
        ``float`` (finite numbers), ``int`` (integral numbers; ``2.0`` is accepted, ``2.5``
        and ``True`` are not) or ``None`` (values kept as given, only the count checked).
    positive, minimum:
        Each value must be > 0, or >= ``minimum``.
    axes:
        The spatial axes (``"ZYX"``), named in the count error.
    unit:
        The unit, named in the type error (``"µm"``, ``"input pixels"``).
    error:
        The error class (:class:`ConfigError` for a parameter, ``InputError`` when the count
        comes from the image).
    """
    scalar = np.ndim(value) == 0 and not isinstance(value, (str, bytes))
    try:
        values = (value,) * dims if scalar else tuple(value)
    except TypeError:
        values = (value,)
    if len(values) != dims:
        on = f" ({axes})" if axes else ""
        order = f", order {axes}" if axes else ""
        raise error(f"{len(values)} values given for {dims} spatial axes{on}", where=where,
                    hint=f"give one value or {dims} (one per spatial axis{order})")
    described = _describe(kind, positive, minimum) + (f" ({unit})" if unit else "")
    try:
        out = tuple(_convert(v, kind) for v in values)
    except (TypeError, ValueError):
        raise error(f"must be one or {dims} {described}, got {value!r}", where=where) from None
    if any((positive and not v > 0) or (minimum is not None and not v >= minimum)
           for v in out):
        raise error(f"must be one or {dims} {described}, got {value!r}", where=where)
    return out


def one_or_per_axis(values: Optional[Sequence[Any]], *, where: str,
                    kind: Optional[type] = float, positive: bool = False,
                    minimum: Optional[float] = None, unit: str = "") -> Any:
    """A repeated command-line option as a front door takes it: ``None`` when not given, the
    single value when one was given, else a tuple (one per spatial axis, counted later).

    Values are checked like :func:`per_axis` (``kind``, ``positive``, ``minimum``)."""
    if not values:
        return None
    checked = per_axis(list(values), len(values), where=where, kind=kind, positive=positive,
                       minimum=minimum, unit=unit)
    return checked[0] if len(checked) == 1 else checked
