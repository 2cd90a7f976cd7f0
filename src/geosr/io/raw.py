"""From what a reader found in a file to a geosr :class:`~geosr.core.image.Image`.

Every reader returns a :class:`RawImage`: the array as stored, one label per stored dimension
(geosr letters ``C Z Y X`` or other letters such as ``T``, ``S`` for samples, ``I``/``Q`` for an
unnamed sequence), and per-dimension spacing and origin (``None`` where the file says nothing).
:func:`finalize` turns it into an ``Image``: it applies the caller's ``axes`` override, drops
singleton dimensions the file does not name, maps ``S`` to ``C`` and a lone unnamed sequence to
``Z``, reorders to geosr order (``C``, ``Z``, ``Y``, ``X``), and casts ``bool`` to ``uint8``.
:func:`merge_hints` then applies what geosr itself wrote in the file (exact axes, spacing, origin
and metadata), if it still matches the data.

>>> import numpy as np
>>> raw = RawImage(np.zeros((5, 2, 8, 9), np.uint16), "ZCYX", spacing=[0.5, None, 0.1, 0.1],
...                unit="um")
>>> img = finalize(raw, where="x.tif")
>>> img.axes, img.shape, img.spacing
('CZYX', (2, 5, 8, 9), (0.5, 0.1, 0.1))
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Mapping

import numpy as np

from geosr.core.errors import InputError
from geosr.core.files import to_jsonable
from geosr.core.image import VALID_AXES, Image, normalize_unit
from geosr.io._units import round_sig
from geosr.io.lazy import LazyView

__all__ = ["RawImage", "finalize", "merge_hints", "make_hints", "GEOSR_ORDER"]

GEOSR_ORDER = "CZYX"
_SEQUENCE_LETTERS = "IQ"  # unnamed sequences (plain multi-page TIFF): read as Z when Z is absent


@dataclasses.dataclass
class RawImage:
    """What a reader found: data as stored, one label per dimension, per-dimension spacing and
    origin (``None`` = unknown), the unit of both, metadata, ``exact`` when the labels are
    authoritative (singleton dimensions are then kept), and ``hints``: geosr's own record of the
    image if the file holds one (see :func:`make_hints`)."""

    data: Any
    labels: str
    spacing: list[float | None] | None = None
    origin: list[float | None] | None = None
    unit: str = "pixel"
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    exact: bool = False
    hints: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        n = len(self.data.shape)
        self.spacing = list(self.spacing) if self.spacing is not None else [None] * n
        self.origin = list(self.origin) if self.origin is not None else [None] * n
        if not (len(self.labels) == len(self.spacing) == len(self.origin) == n):
            raise ValueError(f"labels {self.labels!r} do not match the shape {self.data.shape}")


def _check_user_axes(axes: str, where: str) -> str:
    letters = str(axes).upper()
    bad = [c for c in letters if c not in GEOSR_ORDER]
    if bad or len(set(letters)) != len(letters):
        raise InputError(f"axes {axes!r} are not valid", where=where,
                         hint="use each of the letters C, Z, Y, X at most once, in the order the "
                              "file stores them, e.g. 'ZYX', 'CYX', 'YXC' or 'ZCYX'")
    return letters


def _is_numpy(data: Any) -> bool:
    return isinstance(data, np.ndarray)


def finalize(raw: RawImage, *, axes: str | None = None, where: str) -> Image:
    """Turn a :class:`RawImage` into an :class:`Image` in geosr axis order (see module doc).

    ``axes`` (the caller's override) names the stored dimensions in stored order, either all of
    them or only those longer than 1."""
    shape = tuple(int(n) for n in raw.data.shape)
    dims = list(range(len(shape)))
    if axes is not None:
        letters = _check_user_axes(axes, where)
        if len(letters) != len(shape):
            dims = [d for d in dims if shape[d] != 1]
            if len(letters) != len(dims):
                raise InputError(
                    f"axes {axes!r} name {len(letters)} dimensions but the stored array has "
                    f"shape {shape} ({len(dims)} longer than 1)", where=where,
                    hint="give one letter per stored dimension")
        labels = dict(zip(dims, letters))
    else:
        labels = {d: ("C" if raw.labels[d] == "S" else raw.labels[d]) for d in dims}
        if not raw.exact:
            dims = [d for d in dims if shape[d] != 1 or labels[d] in "YX"]
            unnamed = [d for d in dims if labels[d] not in GEOSR_ORDER]
            present = {labels[d] for d in dims}
            if (len(unnamed) == 1 and labels[unnamed[0]] in _SEQUENCE_LETTERS
                    and "Z" not in present):
                labels[unnamed[0]] = "Z"
    stored = "".join(labels[d] for d in dims)
    unknown = [c for c in stored if c not in GEOSR_ORDER]
    if unknown or len(set(stored)) != len(stored):
        what = (f"dimension(s) {''.join(unknown)!r} geosr does not handle" if unknown
                else "a repeated axis")
        raise InputError(
            f"the file stores axes {stored!r} with shape {tuple(shape[d] for d in dims)}: "
            f"{what}", where=where,
            hint="pass axes= naming each stored dimension with C, Z, Y or X (T is not "
                 "supported: split time points into separate files)")
    order = sorted(dims, key=lambda d: GEOSR_ORDER.index(labels[d]))
    geo_axes = "".join(labels[d] for d in order)
    if geo_axes not in VALID_AXES:
        raise InputError(f"the file holds axes {geo_axes!r}, which geosr does not support",
                         where=where, hint="geosr reads " + ", ".join(VALID_AXES)
                         + "; pass axes= if the file's axes were guessed wrongly")
    data = raw.data
    kind = np.dtype(data.dtype).kind
    if kind not in "biuf":
        raise InputError(f"the file holds values of type {data.dtype}, not numbers geosr reads",
                         where=where, hint="geosr reads integer, float and boolean images")
    cast = np.uint8 if kind == "b" else None
    if _is_numpy(data):
        if len(dims) != len(shape):
            data = data.reshape(tuple(shape[d] for d in dims))
        perm = [dims.index(d) for d in order]
        if perm != sorted(perm):
            data = data.transpose(perm)
        if cast is not None:
            data = data.astype(cast)
        elif not data.dtype.isnative and not isinstance(data, np.memmap):
            data = data.astype(data.dtype.newbyteorder("="))
    elif order != list(range(len(shape))) or cast is not None:
        data = LazyView(data, tuple(order), dtype=cast)
    spatial = [d for d in order if labels[d] != "C"]
    spacing_raw = [raw.spacing[d] for d in spatial]
    known = [s for s in spacing_raw if s is not None and math.isfinite(s) and s > 0]
    unit = normalize_unit(raw.unit) if known else "pixel"
    spacing = tuple(round_sig(s) if s is not None and math.isfinite(s) and s > 0 else 1.0
                    for s in spacing_raw)
    origin = tuple(round_sig(raw.origin[d]) if raw.origin[d] is not None
                   and math.isfinite(raw.origin[d]) else 0.0 for d in spatial)
    return Image(data, geo_axes, spacing=spacing, unit=unit, origin=origin,
                 metadata=dict(raw.metadata))


def make_hints(image: Image) -> dict[str, Any]:
    """What geosr writes beside the pixels so that :func:`merge_hints` can restore the image
    exactly: axes, shape, dtype, spacing, unit, origin and metadata (JSON-friendly)."""
    metadata = json.loads(json.dumps(to_jsonable(dict(image.metadata)), default=str))
    return {
        "geosr_io": 1, "axes": image.axes, "shape": list(image.shape),
        "dtype": str(image.dtype), "spacing": list(image.spacing), "unit": image.unit,
        "origin": list(image.origin), "metadata": metadata,
    }


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(n for n in shape if n != 1)


def merge_hints(image: Image, hints: Mapping[str, Any] | None, *, authoritative: bool,
                keep_axes: bool = False) -> Image:
    """Apply geosr's own record of an image (see :func:`make_hints`) to what the file's tags
    said.

    The record's axes, spacing and origin are used only if its shape still matches the data and,
    unless ``authoritative`` (a sidecar file, whose format has no other source), its spacing and
    unit agree with the file's tags to 1e-5: a file edited and re-saved by another program keeps
    its tags, which then win. Metadata is always taken. With ``keep_axes`` (the caller passed
    ``axes=``) only metadata is taken."""
    if not isinstance(hints, Mapping):
        return image
    metadata = hints.get("metadata")
    if isinstance(metadata, Mapping):
        image = image.replace(metadata={**image.metadata, **metadata})
    if keep_axes:
        return image
    try:
        axes = str(hints["axes"]).upper()
        shape = tuple(int(n) for n in hints["shape"])
        unit = normalize_unit(hints["unit"])
        spacing = tuple(float(s) for s in hints["spacing"])
        origin = tuple(float(o) for o in hints.get("origin") or ()) or None
    except (KeyError, TypeError, ValueError, InputError):
        return image
    if axes not in VALID_AXES or len(shape) != len(axes):
        return image
    if int(np.prod(shape)) != int(np.prod(image.shape)) or _squeezed(shape) != _squeezed(
            image.shape):
        return image
    if not authoritative:
        if unit != image.unit:
            return image
        tagged = dict(zip(image.spatial_axes, image.spacing))
        for letter, value in zip(axes.replace("C", ""), spacing):
            if letter in tagged and not math.isclose(value, tagged[letter], rel_tol=1e-5):
                return image
    data = image.data
    if tuple(data.shape) != shape:
        if not _is_numpy(data):
            return image
        data = data.reshape(shape)
    try:
        return Image(data, axes, spacing=spacing, unit=unit, origin=origin or (),
                     metadata=image.metadata)
    except InputError:
        return image
