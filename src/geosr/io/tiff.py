"""TIFF: plain, ImageJ hyperstack and OME-TIFF, read with tifffile.

Reading
    - ImageJ hyperstacks: axes from the ImageJ metadata (``ZCYX`` is reordered to ``CZYX``),
      X/Y spacing from ``XResolution``/``YResolution`` (pixels per unit), Z spacing from the
      ImageJ ``spacing`` entry, unit from ``unit`` (``micron``, ``\\u00B5m``, ``nm``...). No unit
      means ``pixel``.
    - OME-TIFF: ``PhysicalSizeX/Y/Z`` and their units (µm by default, as the OME schema says),
      axes from ``DimensionOrder``.
    - Plain TIFF: resolution is used only with a centimetre (or millimetre/micrometre) resolution
      unit; inch resolutions are print DPI and are ignored, giving spacing 1 and unit ``pixel``.
    - Spacing is rounded to 9 significant digits (resolutions are stored as rationals).
    - A truncated or corrupt file raises :class:`~geosr.core.errors.InputError`: reader errors
      are caught, and the planes/bytes the file announces are compared with what it holds.

Writing
    ``.tif``/``.tiff`` as an ImageJ hyperstack (``unit`` ``micron`` for µm), ``.ome.tif`` as
    OME-TIFF with physical sizes. geosr's own record (axes, exact spacing, origin, metadata) is
    stored as JSON in the ImageJ ``Info`` property or the OME ``Description``, and restored on
    read if the tags still agree with it.

>>> import numpy as np, tempfile, pathlib
>>> from geosr.core.image import Image
>>> path = pathlib.Path(tempfile.mkdtemp()) / "v.tif"
>>> write(Image(np.ones((2, 4, 4), np.uint8), "ZYX", spacing=(0.5, 0.1, 0.1)), path,
...       where=str(path), compression="zlib")
>>> raw = read(path, lazy=False)
>>> raw.labels, raw.spacing, raw.unit
('ZYX', [0.5, 0.1, 0.1], 'um')
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from geosr.core.errors import GeosrError, InputError
from geosr.core.image import Image
from geosr.io._units import IMAGEJ_UNITS, OME_UNITS, parse_unit, to_common_unit
from geosr.io.dtypes import convert_block, save_dtype
from geosr.io.options import compression_choice
from geosr.io.raw import RawImage, make_hints

__all__ = ["read", "write", "write_ome"]

_COMPRESSIONS = {"zlib": "zlib", None: None}
_CORRUPT = re.compile(r"invalid page offset|corrupt|truncat|failed to read|invalid .*offset",
                      re.IGNORECASE)
_HINT = "the file is probably truncated (an interrupted copy or download): copy it again"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _tifffile_messages() -> Iterator[_Collect]:
    """Collect what tifffile logs (it logs, rather than raises, on some corrupt files)."""
    logger = logging.getLogger("tifffile")
    handler = _Collect()
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def _planes(series: Any) -> int:
    return int(np.prod([n for n, a in zip(series.shape, series.axes) if a not in "YXS"]))


def _check_complete(tif: Any, series: Any, path: Path) -> None:
    """Raise InputError if the file announces more data than it holds."""
    size = path.stat().st_size
    if tif.is_imagej:
        images = (tif.imagej_metadata or {}).get("images")
        if images and _planes(series) < int(images):
            raise InputError(f"ImageJ TIFF announces {images} planes but holds only "
                             f"{_planes(series)}", where=str(path), hint=_HINT)
    offset = series.dataoffset
    if offset is not None:
        end = offset + series.nbytes
    else:
        end = 0
        for page in series:
            if page is None:
                continue
            for off, count in zip(page.dataoffsets, page.databytecounts):
                end = max(end, int(off) + int(count))
    if end > size:
        raise InputError(f"TIFF data ends at byte {end} but the file has only {size} bytes",
                         where=str(path), hint=_HINT)


def _spacing_from_resolution(tag: Any) -> float | None:
    """Pixel size (1 / pixels-per-unit) from an X/YResolution tag, or None."""
    if tag is None:
        return None
    value = tag.value
    num, den = (value if isinstance(value, tuple) else (value, 1))[:2]
    if not num or not den:
        return None
    return float(den) / float(num)


def _json_hints(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, str) or "geosr_io" not in text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) and "geosr_io" in value else None


def _imagej_meta(tif: Any, where: str) -> tuple[dict, str, dict | None]:
    ij = tif.imagej_metadata or {}
    tags = tif.pages[0].tags
    x = _spacing_from_resolution(tags.get("XResolution"))
    y = _spacing_from_resolution(tags.get("YResolution"))
    z = ij.get("spacing")
    z = float(z) if isinstance(z, (int, float)) and z > 0 else None
    unit_name = ij.get("unit")
    if not unit_name:
        return {"X": x, "Y": y, "Z": z}, "pixel", _json_hints(ij.get("Info"))
    units = {a: parse_unit(ij.get(f"{a.lower()}unit", unit_name), where=where) for a in "XYZ"}
    values = {a: (v * units[a][1] if v is not None else None)
              for a, v in (("X", x), ("Y", y), ("Z", z))}
    converted, unit = to_common_unit([(values[a], units[a][0]) for a in "XYZ"])
    return dict(zip("XYZ", converted)), unit, _json_hints(ij.get("Info"))


def _ome_meta(tif: Any, where: str) -> tuple[dict, str, dict | None]:
    import tifffile

    try:
        root = tifffile.xml2dict(tif.ome_metadata)["OME"]
        image = root["Image"]
        image = image[0] if isinstance(image, list) else image
        pixels = image["Pixels"]
    except (KeyError, IndexError, TypeError, ValueError):
        return {}, "pixel", None
    values = []
    for axis in "XYZ":
        size = pixels.get(f"PhysicalSize{axis}")
        try:
            size = float(size) if size is not None else None
        except (TypeError, ValueError):
            size = None
        if size is None or not math.isfinite(size) or size <= 0:
            values.append((None, "pixel"))
            continue
        unit, factor = parse_unit(pixels.get(f"PhysicalSize{axis}Unit", "µm"), where=where)
        values.append((size * factor, unit))
    converted, unit = to_common_unit(values)
    expected = 1
    for axis in "XYZCT":
        try:
            expected *= int(pixels.get(f"Size{axis}", 1))
        except (TypeError, ValueError):
            pass
    description = image.get("Description")
    return ({**dict(zip("XYZ", converted)), "_expected_size": expected}, unit,
            _json_hints(description))


def _plain_meta(tif: Any) -> tuple[dict, str]:
    tags = tif.pages[0].tags
    unit_tag = tags.get("ResolutionUnit")
    code = int(unit_tag.value) if unit_tag is not None else 2
    x = _spacing_from_resolution(tags.get("XResolution"))
    y = _spacing_from_resolution(tags.get("YResolution"))
    factor = {3: 1e4, 4: 1e3, 5: 1.0}.get(code)  # cm, mm, um -> um; inch (2) is print DPI
    if factor is None or not (x or y):
        return {}, "pixel"
    return {"X": x and x * factor, "Y": y and y * factor}, "um"


def _read_data(path: Path, series: Any, lazy: bool) -> Any:
    import tifffile

    if lazy and series.dataoffset is not None:
        try:
            return tifffile.memmap(str(path), series=0, mode="r")
        except ValueError:
            pass
    if lazy:   # compressed or tiled: a zarr view through tifffile, read chunk by chunk
        import zarr

        return zarr.open(tifffile.imread(str(path), aszarr=True, series=0), mode="r")
    return series.asarray()


def read(path: Path, *, lazy: bool = False) -> RawImage:
    """Read the first image series of a TIFF file (see module doc). With ``lazy``, an
    uncompressed contiguous file is memory-mapped; others are opened as a read-only
    ``zarr.Array`` through tifffile's zarr store (pages/tiles read on demand)."""
    import tifffile

    where = str(path)
    with _tifffile_messages() as log:
        try:
            with tifffile.TiffFile(str(path)) as tif:
                if not tif.series:
                    raise InputError("the TIFF holds no image", where=where)
                series = tif.series[0]
                _check_complete(tif, series, path)
                if tif.is_ome:
                    values, unit, hints = _ome_meta(tif, where)
                    expected = values.pop("_expected_size", None)
                    if expected and int(np.prod(series.shape)) < expected:
                        raise InputError(
                            f"OME-TIFF announces {expected} pixels but holds "
                            f"{int(np.prod(series.shape))}", where=where, hint=_HINT)
                elif tif.is_imagej:
                    values, unit, hints = _imagej_meta(tif, where)
                else:
                    (values, unit), hints = _plain_meta(tif), None
                labels = series.axes
                data = _read_data(path, series, lazy)
        except GeosrError:
            raise
        except MemoryError:
            raise
        except Exception as err:  # tifffile raises many types on corrupt files
            raise InputError(f"cannot read this TIFF ({type(err).__name__}: {err})",
                             where=where, hint=_HINT + ", or check it is a TIFF") from None
    bad = [m for m in log.messages if _CORRUPT.search(m)]
    if bad:
        raise InputError(f"the TIFF is corrupt or truncated (tifffile: {bad[0]})", where=where,
                         hint=_HINT)
    if data.shape != tuple(series.shape):
        raise InputError(f"TIFF data has shape {data.shape}, expected {series.shape}",
                         where=where, hint=_HINT)
    spacing = [values.get(a) for a in labels]
    return RawImage(data, labels, spacing=spacing, unit=unit, hints=hints)


def _prepare(image: Image, where: str) -> np.ndarray:
    target = save_dtype(image.dtype, where=where, data=image.data, fmt="TIFF")
    return convert_block(image.numpy(), target, where=where)


def write(image: Image, path: Path, *, where: str, compression: str | None = "zlib") -> None:
    """Write ``image`` to ``path`` as an ImageJ hyperstack (``ZCYX`` order for channel
    volumes, resolution in pixels per ``unit``)."""
    import tifffile

    comp = compression_choice(compression, _COMPRESSIONS, fmt="TIFF")
    data = _prepare(image, where)
    axes = image.axes
    if axes == "CZYX":
        data, axes = data.transpose(1, 0, 2, 3), "ZCYX"
    spacing = dict(zip(image.spatial_axes, image.spacing))
    metadata: dict[str, Any] = {"axes": axes, "unit": IMAGEJ_UNITS[image.unit],
                                "Info": json.dumps(make_hints(image), ensure_ascii=True)}
    if "Z" in spacing:
        metadata["spacing"] = spacing["Z"]
    tifffile.imwrite(str(path), np.ascontiguousarray(data), imagej=True, ome=False,
                     photometric="minisblack", compression=comp, metadata=metadata,
                     resolution=(1.0 / spacing["X"], 1.0 / spacing["Y"]))


def write_ome(image: Image, path: Path, *, where: str,
              compression: str | None = "zlib") -> None:
    """Write ``image`` to ``path`` as OME-TIFF with ``PhysicalSizeX/Y/Z`` (omitted for unit
    ``pixel``)."""
    import tifffile

    comp = compression_choice(compression, _COMPRESSIONS, fmt="OME-TIFF")
    data = _prepare(image, where)
    metadata: dict[str, Any] = {"axes": image.axes,
                                "Description": json.dumps(make_hints(image), ensure_ascii=True)}
    if image.unit != "pixel":
        for axis, size in zip(image.spatial_axes, image.spacing):
            metadata[f"PhysicalSize{axis}"] = size
            metadata[f"PhysicalSize{axis}Unit"] = OME_UNITS[image.unit]
    tifffile.imwrite(str(path), np.ascontiguousarray(data), ome=True, imagej=False,
                     photometric="minisblack", compression=comp, metadata=metadata)
