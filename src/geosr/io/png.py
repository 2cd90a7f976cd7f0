"""PNG: 2D grey (``YX``) or colour (``CYX``, channels first), uint8 or uint16.

PNG has no pixel-size field geosr can rely on, so spacing, unit, origin and metadata travel in a
sidecar ``<name>.png.json`` written by :func:`geosr.io.save` (see :mod:`geosr.io.sidecar`).
Pillow reads and writes 8-bit images and 16-bit grey; 16-bit colour goes through
:mod:`geosr.io.png16` because Pillow would reduce it to 8 bits. Palette images are expanded to
RGB(A), 1-bit images read as uint8 0/1.

>>> import numpy as np, tempfile, pathlib
>>> from geosr.core.image import Image
>>> path = pathlib.Path(tempfile.mkdtemp()) / "rgb.png"
>>> write(Image(np.zeros((3, 4, 5), np.uint16), "CYX"), path, where=str(path))
>>> raw = read(path)
>>> raw.labels, raw.data.shape, raw.data.dtype.name
('CYX', (3, 4, 5), 'uint16')
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geosr.core.errors import InputError
from geosr.core.image import Image
from geosr.io import png16
from geosr.io.dtypes import convert_block, save_dtype
from geosr.io.options import compression_choice
from geosr.io.raw import RawImage

__all__ = ["read", "write"]

_ALLOWED = (np.dtype(np.uint8), np.dtype(np.uint16))
_COMPRESSIONS = {"zlib": 6, None: 0}
_HINT = "the file is truncated or not a PNG: copy or export it again"


def _decode_pillow(path: Path) -> np.ndarray:
    from PIL import Image as PILImage

    with PILImage.open(path) as im:
        if im.format != "PNG":
            raise ValueError(f"this is a {im.format} file, not PNG")
        im.load()
        if im.mode == "P":
            im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        elif im.mode in ("PA", "CMYK", "YCbCr"):
            im = im.convert("RGBA")
        values = np.asarray(im)
    if values.dtype == bool:
        values = values.astype(np.uint8)
    elif values.dtype.kind == "i":  # old Pillow reads 16-bit grey as int32 mode "I"
        values = values.astype(np.uint16)
    elif values.dtype.kind == "u" and not values.dtype.isnative:
        values = values.astype(values.dtype.newbyteorder("="))
    return values


def read(path: Path, *, lazy: bool = False) -> RawImage:
    """Read a PNG as ``YX`` (grey) or ``CYX`` (grey+alpha, RGB, RGBA). ``lazy`` is ignored
    (PNG is read whole)."""
    where = str(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(33)
        info = png16.header(head)
        if info["depth"] == 16 and info["colour"] in (2, 4, 6):
            values = png16.decode(path.read_bytes())
        else:
            values = _decode_pillow(path)
    except MemoryError:
        raise
    except Exception as err:  # Pillow and zlib raise many types on corrupt files
        raise InputError(f"cannot read this PNG ({type(err).__name__}: {err})", where=where,
                         hint=_HINT) from None
    if values.ndim == 3:
        return RawImage(np.ascontiguousarray(np.moveaxis(values, -1, 0)), "CYX")
    return RawImage(values, "YX")


def write(image: Image, path: Path, *, where: str, compression: str | None = "zlib") -> None:
    """Write a ``YX`` image, or a ``CYX`` image with 3 (RGB) or 4 (RGBA) channels, as uint8 or
    uint16 PNG."""
    level = compression_choice(compression, _COMPRESSIONS, fmt="PNG")
    if image.axes not in ("YX", "CYX") or (image.axes == "CYX" and image.channels not in (3, 4)):
        raise InputError(
            f"PNG holds 2D grey (YX) or RGB/RGBA (CYX with 3 or 4 channels), not {image.axes} "
            f"with shape {image.shape}", where=where,
            hint="save volumes and other channel counts as .tif, .zarr, .nrrd or .npy")
    target = save_dtype(image.dtype, where=where, data=image.data, allowed=_ALLOWED, fmt="PNG")
    values = convert_block(image.numpy(), target, where=where)
    if image.axes == "CYX":
        values = np.moveaxis(values, 0, -1)
    values = np.ascontiguousarray(values)
    if values.dtype == np.uint16 and values.ndim == 3:
        path.write_bytes(png16.encode(values, level=level))
        return
    from PIL import Image as PILImage

    PILImage.fromarray(values).save(path, format="PNG", compress_level=level)
