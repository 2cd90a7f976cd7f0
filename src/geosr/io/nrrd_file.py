"""NRRD (``.nrrd``, header and data in one file) through pynrrd, raw, gzip or bzip2 encoded.

Axis order
    NRRD lists axes fastest first (``sizes: X Y Z``); geosr stores slowest first, so a file with
    ``sizes: 114 114 115`` is the ZYX array ``(115, 114, 114)``. Axes whose ``space directions``
    entry is ``none`` (or whose ``kinds`` is not ``domain``/``space``) are channels; geosr writes
    the channel axis fastest, as NRRD tools expect for vector/colour volumes.

Spacing and unit
    Spacing is the length of each ``space directions`` vector (else the ``spacings`` field), in
    the unit of ``space units`` (else ``units``). **The unit the file declares is kept**: the
    shrew bone mask, whose header says ``"mm"``, loads with spacing 0.0041 mm
    (``Image.spacing_um`` gives 4.1 µm; ``Image.in_um()`` converts). A file without units is
    read in ``pixel`` units, except when its ``space`` is an anatomical or scanner frame
    (``RAS``, ``left-posterior-superior``, ``scanner-xyz``...), where ITK and 3D Slicer assume
    millimetres and so does geosr, noting it in ``metadata["io_note"]``. ``space origin`` gives
    the origin.

Writing
    gzip by default (``compression=None`` writes raw), ``space directions`` (diagonal),
    ``space units`` (omitted for ``pixel``), ``space origin``, ``kinds`` and geosr's own record as
    a ``geosr:=`` key/value line.

>>> import numpy as np, tempfile, pathlib
>>> from geosr.core.image import Image
>>> path = pathlib.Path(tempfile.mkdtemp()) / "v.nrrd"
>>> write(Image(np.zeros((2, 3, 4), np.uint8), "ZYX", spacing=(0.5, 0.1, 0.1)), path,
...       where=str(path))
>>> raw = read(path)
>>> raw.labels, raw.data.shape, raw.spacing, raw.unit
('ZYX', (2, 3, 4), [0.5, 0.1, 0.1], 'um')
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from geosr.core.errors import GeosrError, InputError
from geosr.core.image import Image
from geosr.io._units import parse_unit
from geosr.io.dtypes import convert_block, save_dtype
from geosr.io.options import compression_choice
from geosr.io.raw import RawImage, make_hints

__all__ = ["read", "write"]

_COMPRESSIONS = {"zlib": "gzip", "bzip2": "bzip2", None: "raw"}
_SPATIAL_KINDS = {"domain", "space"}
_MM_SPACES = ("right", "left", "ras", "las", "lps", "scanner", "3d-right-handed",
              "3d-left-handed")
_HINT = "the file is truncated or not an NRRD file: copy or export it again"


def _rows(header: dict[str, Any], key: str, n: int) -> list[Any] | None:
    value = header.get(key)
    if value is None:
        return None
    value = list(value)
    return value if len(value) == n else None


def _finite_vector(row: Any) -> np.ndarray | None:
    vec = np.asarray(row, dtype=float).ravel()
    return vec if vec.size and np.all(np.isfinite(vec)) else None


def _interpret(header: dict[str, Any], where: str) -> tuple[str, list, list, str, dict]:
    """Labels (C order), spacing and origin per C-order dimension, unit, metadata."""
    n = int(header["dimension"])
    kinds = _rows(header, "kinds", n)
    directions = header.get("space directions")
    directions = list(directions) if directions is not None and len(directions) == n else None
    spacings = _rows(header, "spacings", n)
    spatial = []
    for i in range(n):
        if directions is not None:
            spatial.append(_finite_vector(directions[i]) is not None)
        elif kinds is not None:
            spatial.append(str(kinds[i]).lower() in _SPATIAL_KINDS or kinds[i] == "???")
        else:
            spatial.append(True)
    if sum(spatial) > 3:
        raise InputError(f"NRRD has {sum(spatial)} spatial axes; geosr reads 2 or 3",
                         where=where, hint="pass axes= naming each axis (C, Z, Y, X)")
    letters, names = [], iter("XYZ")
    for i in range(n):
        if spatial[i]:
            letters.append(next(names))
        elif kinds is not None and str(kinds[i]).lower() == "time":
            letters.append("T")
        else:
            letters.append("C")
    spacing: list[float | None] = []
    origin_vec = _finite_vector(header["space origin"]) if "space origin" in header else None
    origin: list[float | None] = []
    k = 0
    for i in range(n):
        value, pos = None, None
        if spatial[i]:
            vec = _finite_vector(directions[i]) if directions is not None else None
            if vec is not None:
                value = float(np.linalg.norm(vec))
                axis = int(np.argmax(np.abs(vec)))
                pos = origin_vec[axis] if origin_vec is not None and axis < origin_vec.size \
                    else None
            else:
                if spacings is not None and math.isfinite(float(spacings[i])):
                    value = abs(float(spacings[i]))
                pos = origin_vec[k] if origin_vec is not None and k < origin_vec.size else None
            k += 1
        spacing.append(value)
        origin.append(float(pos) if pos is not None else None)
    metadata: dict[str, Any] = {}
    unit_names = [u for u in (header.get("space units") or []) if str(u).strip()]
    if not unit_names:
        axis_units = _rows(header, "units", n) or []
        unit_names = [u for u, s in zip(axis_units, spatial) if s and str(u).strip()]
    if unit_names:
        unit, factor = parse_unit(unit_names[0], where=where)
    elif str(header.get("space", "")).lower().startswith(_MM_SPACES):
        unit, factor = "mm", 1.0
        metadata["io_note"] = (f"NRRD without units in space {header['space']!r}: millimetres "
                               "assumed (ITK / 3D Slicer convention)")
    else:
        unit, factor = "pixel", 1.0
    spacing = [v * factor if v is not None else None for v in spacing]
    origin = [v * factor if v is not None else None for v in origin]
    if directions is not None:
        matrix = [list(map(float, _finite_vector(r))) for r in directions
                  if _finite_vector(r) is not None]
        if any(abs(v) > 0 for i, r in enumerate(matrix) for j, v in enumerate(r) if i != j) \
                or any(v < 0 for i, r in enumerate(matrix) for j, v in enumerate(r) if i == j):
            metadata["nrrd_space_directions"] = matrix
    if header.get("space"):
        metadata["nrrd_space"] = str(header["space"])
    # file order is fastest first: reverse everything to C order
    return ("".join(reversed(letters)), spacing[::-1], origin[::-1], unit, metadata)


def read(path: Path, *, lazy: bool = False) -> RawImage:
    """Read an NRRD file (see module doc). ``lazy`` is ignored: the data are read whole."""
    import nrrd

    where = str(path)
    try:
        data, header = nrrd.read(str(path), index_order="C")
        labels, spacing, origin, unit, metadata = _interpret(header, where)
    except GeosrError:
        raise
    except MemoryError:
        raise
    except Exception as err:  # pynrrd raises NRRDError, ValueError, zlib/OSError ...
        raise InputError(f"cannot read this NRRD file ({type(err).__name__}: {err})",
                         where=where, hint=_HINT) from None
    hints = None
    text = header.get("geosr")
    if isinstance(text, str):
        try:
            hints = json.loads(text)
        except ValueError:
            hints = None
    return RawImage(data, labels, spacing=spacing, origin=origin, unit=unit,
                    metadata=metadata, hints=hints if isinstance(hints, dict) else None,
                    exact=isinstance(hints, dict))


def write(image: Image, path: Path, *, where: str, compression: str | None = "zlib") -> None:
    """Write ``image`` as NRRD (see module doc)."""
    import nrrd

    encoding = compression_choice(compression, _COMPRESSIONS, fmt="NRRD")
    target = save_dtype(image.dtype, where=where, data=image.data, fmt="NRRD")
    values = convert_block(image.numpy(), target, where=where)
    n = image.dims
    # file order, fastest first: (C,) X, Y, Z
    diagonal = np.diag(image.spacing[::-1]).astype(float)
    kinds = ["domain"] * n
    if image.has_channels:
        values = np.moveaxis(values, 0, -1)  # C fastest in the file
        diagonal = np.vstack([np.full((1, n), np.nan), diagonal])
        kinds = ["list"] + kinds
    header: dict[str, Any] = {
        "space dimension": n, "space directions": diagonal, "kinds": kinds,
        "space origin": np.asarray(image.origin[::-1], float), "encoding": encoding,
        "geosr": json.dumps(make_hints(image), ensure_ascii=True),
    }
    if image.unit != "pixel":
        header["space units"] = [image.unit] * n
    nrrd.write(str(path), np.ascontiguousarray(values), header, index_order="C",
               custom_field_map={"geosr": "string"})
