"""The geosr image: an array with its axes, physical spacing and unit.

Conventions
-----------
- ``axes`` is a string over ``C`` (channel), ``Z``, ``Y``, ``X`` in that order of nesting, one of
  ``YX``, ``ZYX``, ``CYX``, ``CZYX``.
- ``spacing`` and ``origin`` have one entry per *spatial* axis (``Z``, ``Y``, ``X``), in the order
  they appear in ``axes``, in ``unit`` (micrometres, ``"um"``, unless stated). The origin is the
  physical position of the centre of the first pixel.
- ``data`` is a numpy array, or any lazy array with ``shape``, ``dtype`` and numpy slicing (a zarr
  array) for volumes that should not be read whole; :meth:`Image.numpy` reads it.

Example
-------
>>> import numpy as np
>>> img = Image(np.zeros((4, 8, 8), np.uint16), "ZYX", spacing=(0.5, 0.1, 0.1))
>>> img.dims, img.spatial_shape, img.spacing_um
(3, (4, 8, 8), (0.5, 0.1, 0.1))
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np

from geosr.core.errors import InputError

__all__ = ["Image", "VALID_AXES", "UNIT_TO_UM", "normalize_unit", "default_axes", "as_image"]

VALID_AXES = ("YX", "ZYX", "CYX", "CZYX")

#: Factors that convert a length in the given unit to micrometres.
UNIT_TO_UM: dict[str, float] = {
    "um": 1.0,
    "nm": 1e-3,
    "mm": 1e3,
    "cm": 1e4,
    "m": 1e6,
    "pixel": 1.0,
}
_UNIT_ALIASES = {
    "µm": "um", "μm": "um", "micron": "um", "microns": "um", "micrometer": "um",
    "micrometre": "um", "\\u00B5m": "um", "nanometer": "nm", "nanometre": "nm",
    "millimeter": "mm", "millimetre": "mm", "centimeter": "cm", "meter": "m", "metre": "m",
    "px": "pixel", "pixels": "pixel", "": "pixel", "none": "pixel",
}


def normalize_unit(unit: str | None) -> str:
    """Return the canonical spelling of a length unit (``"um"``, ``"nm"``, ``"mm"``, ...).

    >>> normalize_unit("µm"), normalize_unit("micron"), normalize_unit("nm")
    ('um', 'um', 'nm')
    """
    key = (unit or "").strip()
    key = _UNIT_ALIASES.get(key, _UNIT_ALIASES.get(key.lower(), key.lower()))
    if key not in UNIT_TO_UM:
        raise InputError(
            f"unknown length unit {unit!r}",
            where="unit",
            hint=f"use one of {sorted(UNIT_TO_UM)}",
        )
    return key


def default_axes(ndim: int) -> str:
    """The axes assumed for a bare array: ``YX`` for 2D, ``ZYX`` for 3D.

    >>> default_axes(3)
    'ZYX'
    """
    if ndim == 2:
        return "YX"
    if ndim == 3:
        return "ZYX"
    raise InputError(
        f"cannot guess the axes of a {ndim}-D array",
        where="axes",
        hint="pass axes= one of " + ", ".join(VALID_AXES),
    )


@dataclasses.dataclass(frozen=True)
class Image:
    """An image or volume with physical metadata.

    Parameters
    ----------
    data:
        The pixel values, shape matching ``axes``.
    axes:
        One of ``YX``, ``ZYX``, ``CYX``, ``CZYX``.
    spacing:
        Pixel size per spatial axis, in ``unit``. Defaults to 1 per axis.
    unit:
        Length unit of ``spacing`` and ``origin`` (``"um"`` by default; aliases such as
        ``"µm"`` or ``"micron"`` are accepted and normalised).
    origin:
        Physical position of the centre of the first pixel, per spatial axis. Defaults to 0.
    metadata:
        Free-form provenance (degradation parameters, source file, ...). JSON-serialisable.
    """

    data: Any
    axes: str
    spacing: tuple[float, ...] = ()
    unit: str = "um"
    origin: tuple[float, ...] = ()
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        axes = str(self.axes).upper()
        if axes not in VALID_AXES:
            raise InputError(f"axes {self.axes!r} are not supported", where="axes",
                             hint="use one of " + ", ".join(VALID_AXES))
        shape = tuple(self.data.shape)
        if len(shape) != len(axes):
            raise InputError(
                f"axes {axes!r} name {len(axes)} dimensions but the array has shape {shape}",
                where="axes",
                hint="give one letter per dimension, e.g. " + default_axes(len(shape))
                if len(shape) in (2, 3) else None,
            )
        if any(n == 0 for n in shape):
            raise InputError(f"the image is empty (shape {shape})", where="data")
        n_spatial = len(axes.replace("C", ""))
        spacing = tuple(float(s) for s in (self.spacing or (1.0,) * n_spatial))
        origin = tuple(float(o) for o in (self.origin or (0.0,) * n_spatial))
        for name, values in (("spacing", spacing), ("origin", origin)):
            if len(values) != n_spatial:
                raise InputError(
                    f"{name} has {len(values)} entries but axes {axes!r} have {n_spatial} "
                    "spatial axes", where=name)
        if not all(np.isfinite(s) and s > 0 for s in spacing):
            raise InputError(f"spacing must be positive and finite, got {spacing}",
                             where="spacing")
        if not all(np.isfinite(o) for o in origin):
            raise InputError(f"origin must be finite, got {origin}", where="origin")
        object.__setattr__(self, "axes", axes)
        object.__setattr__(self, "spacing", spacing)
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "unit", normalize_unit(self.unit))
        object.__setattr__(self, "metadata", dict(self.metadata))

    # ------------------------------------------------------------------ shape
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.data.dtype)

    @property
    def spatial_axes(self) -> str:
        """The axes without ``C``, e.g. ``"ZYX"``."""
        return self.axes.replace("C", "")

    @property
    def dims(self) -> int:
        """Number of spatial dimensions (2 or 3)."""
        return len(self.spatial_axes)

    @property
    def has_channels(self) -> bool:
        return self.axes.startswith("C")

    @property
    def channels(self) -> int:
        return self.shape[0] if self.has_channels else 1

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        return self.shape[1:] if self.has_channels else self.shape

    @property
    def spacing_um(self) -> tuple[float, ...]:
        """Spacing converted to micrometres."""
        return tuple(s * UNIT_TO_UM[self.unit] for s in self.spacing)

    @property
    def extent_um(self) -> tuple[float, ...]:
        """Physical size of the field of view per spatial axis, in micrometres."""
        return tuple(n * s for n, s in zip(self.spatial_shape, self.spacing_um))

    # ---------------------------------------------------------------- helpers
    def numpy(self) -> np.ndarray:
        """The pixel values as an in-memory numpy array (reads a lazy array whole)."""
        return np.asarray(self.data[...]) if not isinstance(self.data, np.ndarray) else self.data

    def replace(self, **changes: Any) -> "Image":
        """A copy with some fields changed (``data``, ``spacing``, ``metadata``, ...)."""
        return dataclasses.replace(self, **changes)

    def with_metadata(self, **entries: Any) -> "Image":
        """A copy whose metadata has these entries added or replaced."""
        return self.replace(metadata={**self.metadata, **entries})

    def in_um(self) -> "Image":
        """The same image with spacing and origin expressed in micrometres."""
        f = UNIT_TO_UM[self.unit]
        if self.unit == "um":
            return self
        return self.replace(unit="um", spacing=tuple(s * f for s in self.spacing),
                            origin=tuple(o * f for o in self.origin))

    def check_finite(self, where: str = "image") -> "Image":
        """Raise :class:`InputError` if a value is NaN or infinite; return self otherwise."""
        if np.issubdtype(self.dtype, np.floating):
            values = self.numpy()
            bad = ~np.isfinite(values)
            if bad.any():
                first = tuple(int(i) for i in np.argwhere(bad)[0])
                raise InputError(
                    f"{int(bad.sum())} value(s) are NaN or infinite (first at index {first} "
                    f"of axes {self.axes})", where=where,
                    hint="replace them (e.g. numpy.nan_to_num) or mask them before use")
        return self

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary: shape, axes, dtype, spacing, unit, origin."""
        return {
            "shape": list(self.shape), "axes": self.axes, "dtype": str(self.dtype),
            "spacing": list(self.spacing), "unit": self.unit, "origin": list(self.origin),
        }

    @classmethod
    def from_array(cls, array: Any, axes: str | None = None,
                   spacing: float | Sequence[float] | None = None, unit: str = "um",
                   **kwargs: Any) -> "Image":
        """Wrap an array, guessing ``YX``/``ZYX`` from its rank when ``axes`` is not given and
        broadcasting a scalar spacing to every spatial axis.

        >>> Image.from_array(np.zeros((3, 5)), spacing=0.2).spacing
        (0.2, 0.2)
        """
        if isinstance(array, Image):
            return array
        if not hasattr(array, "shape"):
            array = np.asarray(array)
        axes = (axes or default_axes(array.ndim)).upper()
        n_spatial = len(axes.replace("C", ""))
        if spacing is None:
            spacing_t: tuple[float, ...] = ()
        elif np.ndim(spacing) == 0:
            spacing_t = (float(spacing),) * n_spatial  # type: ignore[arg-type]
        else:
            spacing_t = tuple(float(s) for s in spacing)  # type: ignore[union-attr]
        return cls(array, axes, spacing=spacing_t, unit=unit, **kwargs)


def as_image(value: Any, where: str = "image") -> Image:
    """``value`` as an :class:`Image`: an Image is returned as is, an array is wrapped with the
    axes guessed from its rank (``YX``/``ZYX``) and unit spacing; anything else is an
    :class:`InputError` naming ``where``.

    >>> as_image(np.zeros((2, 3))).axes
    'YX'
    """
    if isinstance(value, Image):
        return value
    if isinstance(value, np.ndarray) or hasattr(value, "shape"):
        return Image.from_array(value)
    raise InputError(f"expected a geosr Image or a numpy array, got {type(value).__name__}",
                     where=where)
