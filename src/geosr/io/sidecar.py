"""Sidecar JSON files for formats without a place for physical metadata (PNG, NPY).

``cells.png`` is described by ``cells.png.json``: axes, shape, dtype, spacing, unit, origin and
metadata, as :func:`geosr.io.raw.make_hints` records them. A sidecar whose shape no longer
matches its image (the image was overwritten by another program) is an error rather than being
silently ignored, because it would otherwise attach a wrong pixel size.

>>> sidecar_path("out/cells.png").name
'cells.png.json'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from geosr.core.errors import InputError
from geosr.core.files import read_json, write_json

__all__ = ["sidecar_path", "read_sidecar", "write_sidecar"]


def sidecar_path(path: str | os.PathLike) -> Path:
    """``<name>.<ext>.json`` beside ``path``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def read_sidecar(path: str | os.PathLike, shape: tuple[int, ...]) -> dict[str, Any] | None:
    """The sidecar of ``path`` as a dict, ``None`` if there is none. Raises
    :class:`InputError` if it is malformed or describes another shape than ``shape``."""
    side = sidecar_path(path)
    if not side.is_file():
        return None
    hints = read_json(side)
    if not isinstance(hints, dict) or "axes" not in hints or "shape" not in hints:
        raise InputError("sidecar is not a geosr image description (needs 'axes' and 'shape')",
                         where=str(side), hint="delete it or fix it")
    try:
        side_shape = tuple(int(n) for n in hints["shape"])
    except (TypeError, ValueError):
        raise InputError("sidecar 'shape' is not a list of integers", where=str(side),
                         hint="delete it or fix it") from None
    squeeze = tuple(n for n in side_shape if n != 1)
    if squeeze != tuple(n for n in shape if n != 1):
        raise InputError(
            f"sidecar describes shape {side_shape} but {Path(path).name} holds {tuple(shape)}",
            where=str(side), hint="the image was changed after the sidecar was written: delete "
                                  "the sidecar (spacing then defaults to 1 pixel) or fix it")
    return hints


def write_sidecar(path: str | os.PathLike, hints: dict[str, Any]) -> Path:
    """Write the sidecar of ``path`` atomically; returns its path."""
    return write_json(sidecar_path(path), hints)
