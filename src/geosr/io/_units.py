"""Length units as the file formats spell them, and rounding of values read from files.

geosr spells units ``"um"``, ``"nm"``, ``"mm"``, ``"cm"``, ``"m"`` and ``"pixel"``
(:data:`geosr.core.image.UNIT_TO_UM`). Formats spell them otherwise: ImageJ ``"micron"``, OME
``"µm"``, OME-NGFF ``"micrometer"``. :func:`parse_unit` maps any of these (plus a few units geosr
does not keep, such as ångström or inch) to a geosr unit and a factor to multiply values by.

>>> parse_unit("micron"), parse_unit("Å")
(('um', 1.0), ('nm', 0.1))
>>> round_sig(0.1 + 0.2), round_sig(1_000_000 / 999_999)
(0.3, 1.000001)
"""

from __future__ import annotations

import math

from geosr.core.errors import InputError
from geosr.core.image import UNIT_TO_UM, normalize_unit

__all__ = ["parse_unit", "round_sig", "IMAGEJ_UNITS", "OME_UNITS", "NGFF_UNITS",
           "to_common_unit"]

#: Units geosr does not keep as such, converted on read: name -> (geosr unit, factor).
_EXTRA_UNITS: dict[str, tuple[str, float]] = {
    "å": ("nm", 0.1), "angstrom": ("nm", 0.1), "ångström": ("nm", 0.1), "pm": ("nm", 1e-3),
    "picometer": ("nm", 1e-3), "dm": ("mm", 100.0), "decimeter": ("mm", 100.0),
    "in": ("um", 25400.0), "inch": ("um", 25400.0), "\\u00c5": ("nm", 0.1),
}

#: geosr unit -> ImageJ ``unit`` entry.
IMAGEJ_UNITS = {"um": "micron", "nm": "nm", "mm": "mm", "cm": "cm", "m": "m", "pixel": "pixel"}
#: geosr unit -> OME-XML ``UnitsLength``.
OME_UNITS = {"um": "µm", "nm": "nm", "mm": "mm", "cm": "cm", "m": "m", "pixel": "pixel"}
#: geosr unit -> OME-NGFF axis unit (UDUNITS-2 name); ``pixel`` has none.
NGFF_UNITS = {"um": "micrometer", "nm": "nanometer", "mm": "millimeter", "cm": "centimeter",
              "m": "meter"}


def parse_unit(name: str | None, *, where: str | None = None) -> tuple[str, float]:
    """Map a unit name from a file to ``(geosr unit, factor)``; values in ``name`` times
    ``factor`` are in the geosr unit. Raises :class:`InputError` (naming ``where``) for an
    unknown unit."""
    text = (name or "").strip().strip('"').strip()
    extra = _EXTRA_UNITS.get(text.lower())
    if extra is not None:
        return extra
    try:
        return normalize_unit(text), 1.0
    except InputError:
        raise InputError(f"unknown length unit {name!r} in the file", where=where,
                         hint="known units: " + ", ".join(sorted(UNIT_TO_UM))
                         + "; pass the image through Image.replace(unit=...) after loading "
                         "with the file's unit fixed") from None


def round_sig(value: float, digits: int = 9) -> float:
    """Round to ``digits`` significant digits, to drop the float noise of values stored as
    rationals or float32 (``0.19999999403953552`` -> ``0.199999994``)."""
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return value
    return float(f"{value:.{digits}g}")


def to_common_unit(values: list[tuple[float | None, str]]) -> tuple[list[float | None], str]:
    """Express several ``(value, geosr unit)`` pairs in one unit: the first physical unit among
    them (``pixel`` only if all are pixels). ``None`` values stay ``None``."""
    units = [u for v, u in values if v is not None]
    physical = [u for u in units if u != "pixel"]
    target = physical[0] if physical else "pixel"
    out: list[float | None] = []
    for value, unit in values:
        if value is None:
            out.append(None)
        elif unit == target or "pixel" in (unit, target):
            out.append(value)
        else:
            out.append(value * UNIT_TO_UM[unit] / UNIT_TO_UM[target])
    return out, target
