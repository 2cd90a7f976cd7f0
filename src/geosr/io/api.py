"""``load`` and ``save``: one pair of functions for every format, chosen by file extension.

=============  =====================================================================
extension      format
=============  =====================================================================
``.tif``       TIFF; written as ImageJ hyperstack, read plain/ImageJ/OME
``.ome.tif``   OME-TIFF with physical pixel sizes
``.png``       PNG, 2D grey or RGB(A), uint8/uint16, + ``<name>.png.json`` sidecar
``.npy``       numpy array (never unpickled), + ``<name>.npy.json`` sidecar
``.nrrd``      NRRD, gzip by default, spacing and units in the header
``.zarr``      Zarr v3 folder with OME-NGFF 0.5 attributes, lazily readable
=============  =====================================================================

>>> import numpy as np, tempfile, pathlib
>>> from geosr.core.image import Image
>>> out = pathlib.Path(tempfile.mkdtemp()) / "stack.tif"
>>> img = Image(np.zeros((4, 16, 16), np.uint16), "ZYX", spacing=(0.5, 0.1, 0.1))
>>> save(img, out).name
'stack.tif'
>>> back = load(out)
>>> back.axes, back.spacing, back.unit
('ZYX', (0.5, 0.1, 0.1), 'um')
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from geosr.core.errors import InputError
from geosr.core.files import atomic_path
from geosr.core.image import Image
from geosr.core.registry import Registry
from geosr.io import npy, nrrd_file, png, tiff, zarr_store
from geosr.io.raw import finalize, make_hints, merge_hints
from geosr.io.sidecar import read_sidecar, write_sidecar

__all__ = ["load", "save", "supported_formats", "register_format", "FORMATS"]


@dataclasses.dataclass(frozen=True)
class _Format:
    description: str
    read: Callable[..., Any]
    write: Callable[..., None]
    folder: bool = False
    sidecar: bool = False


_TIFF = "TIFF: read plain, ImageJ hyperstack or OME-TIFF; written as ImageJ hyperstack"
_OME = "OME-TIFF with physical pixel sizes (PhysicalSizeX/Y/Z)"
#: Image formats by extension (a :class:`geosr.core.registry.Registry`, in table order; a name
#: is matched against the longest extensions first, so ".ome.tif" wins over ".tif").
FORMATS: Registry[_Format] = Registry("image format", where="path", case_sensitive=False,
                                      sort_names=False)


def register_format(extension: str, *, description: str, read: Callable[..., Any],
                    write: Callable[..., None], folder: bool = False, sidecar: bool = False,
                    replace: bool = False) -> _Format:
    """Make :func:`load` and :func:`save` handle files ending in ``extension``.

    ``read(path, lazy=...)`` returns a :class:`geosr.io.raw.RawImage`;
    ``write(image, path, where=..., compression=...)`` writes an :class:`Image` to ``path``
    (a temporary name that is renamed into place). ``folder``: the "file" is a directory
    (Zarr); ``sidecar``: spacing and axes travel in a ``<name>.<ext>.json`` beside it.
    """
    return FORMATS.add(extension, _Format(description, read, write, folder=folder,
                                          sidecar=sidecar), replace=replace)


_BUILTIN_FORMATS: dict[str, _Format] = {
    ".ome.tif": _Format(_OME, tiff.read, tiff.write_ome),
    ".ome.tiff": _Format(_OME, tiff.read, tiff.write_ome),
    ".tif": _Format(_TIFF, tiff.read, tiff.write),
    ".tiff": _Format(_TIFF, tiff.read, tiff.write),
    ".png": _Format("PNG: 2D grey (YX) or RGB/RGBA (CYX), uint8/uint16; spacing in a "
                    "<name>.png.json sidecar", png.read, png.write, sidecar=True),
    ".npy": _Format("NumPy array (never unpickled; memory-mapped when lazy); spacing in a "
                    "<name>.npy.json sidecar", npy.read, npy.write, sidecar=True),
    ".nrrd": _Format("NRRD (raw/gzip/bzip2) with space directions and space units",
                     nrrd_file.read, nrrd_file.write),
    ".zarr": _Format("Zarr v3 folder with OME-NGFF 0.5 metadata (lazy loading)",
                     zarr_store.read, zarr_store.write, folder=True),
}
for _ext, _fmt in _BUILTIN_FORMATS.items():
    FORMATS.add(_ext, _fmt)
del _ext, _fmt
_FORMATS = FORMATS   # the former name


def supported_formats() -> dict[str, str]:
    """File extensions geosr reads and writes, with a one-line description of each.

    >>> sorted(supported_formats())[:3]
    ['.npy', '.nrrd', '.ome.tif']
    """
    return {ext: fmt.description for ext, fmt in FORMATS.items()}


def _format_of(path: Path) -> tuple[str, _Format]:
    name = path.name.lower()
    for ext, fmt in sorted(FORMATS.items(), key=lambda item: -len(item[0])):
        if name.endswith(ext):
            return ext, fmt
    if path.is_dir() and any((path / m).is_file() for m in ("zarr.json", ".zarray", ".zgroup")):
        return ".zarr", FORMATS[".zarr"]
    raise InputError(
        f"unknown file extension {''.join(path.suffixes) or '(none)'!r}", where=str(path),
        hint="geosr reads and writes " + ", ".join(FORMATS) + "; convert the file or rename "
             "it if its extension is wrong")


def load(path: str | os.PathLike, *, axes: str | None = None, lazy: bool = False) -> Image:
    """Read an image or volume with its axes, spacing, unit, origin and metadata.

    Parameters
    ----------
    path:
        A ``.tif``/``.tiff``/``.ome.tif``, ``.png``, ``.npy``, ``.nrrd`` file or a ``.zarr``
        folder (see :func:`supported_formats`).
    axes:
        Override the axes the file declares (or that geosr guesses): one letter of ``C``, ``Z``,
        ``Y``, ``X`` per stored dimension, in the order the file stores them (for PNG, channels
        first), e.g. ``"YXC"`` for an RGB ``.npy`` stored channel-last. Dimensions of length 1
        may be left out. The result is always in geosr order (``YX``, ``ZYX``, ``CYX``,
        ``CZYX``); spacing read from the file follows its dimension.
    lazy:
        Do not read the pixels now: a Zarr image's ``data`` is the ``zarr.Array`` (sliced on
        demand; ``Image.numpy()`` reads it), an ``.npy`` or uncompressed TIFF is memory-mapped,
        a compressed TIFF is a ``zarr.Array`` over tifffile's store (read page by page).
        Other files are read whole.

    Returns
    -------
    Image
        Spacing and origin are in ``unit``, the unit the file declares (``"um"`` for ImageJ
        ``micron``; ``"pixel"`` with spacing 1 when the file states none); use
        ``Image.spacing_um`` or ``Image.in_um()`` for micrometres. ``bool`` data become
        ``uint8``; NaN/Inf are kept (see ``Image.check_finite``).

    Raises
    ------
    InputError
        The path is missing, is a folder where a file is expected, has an unknown extension, or
        the file is truncated, corrupt or holds something geosr cannot represent.

    Example
    -------
    >>> img = load("Lund_000500_resampled-cropped.tif")           # doctest: +SKIP
    >>> img.axes, img.shape, img.spacing_um                       # doctest: +SKIP
    ('ZYX', (100, 256, 256), (1.0, 1.000001, 1.000001))
    """
    path = Path(path)
    where = str(path)
    if not path.exists():
        raise InputError("file not found", where=where,
                         hint="check the path (relative paths start from "
                              f"{Path.cwd()})")
    _, fmt = _format_of(path)
    if fmt.folder and not path.is_dir():
        raise InputError("a Zarr store is a folder, but this is a file", where=where,
                         hint="point to the .zarr folder")
    if not fmt.folder and path.is_dir():
        raise InputError("this is a folder, but a file is expected", where=where,
                         hint="point to one image file inside it")
    raw = fmt.read(path, lazy=lazy)
    authoritative = False
    if fmt.sidecar:
        side = read_sidecar(path, tuple(raw.data.shape))
        if side is not None:
            raw.hints, authoritative = side, True
            if [int(n) for n in side["shape"]] == list(raw.data.shape) and isinstance(
                    side.get("axes"), str) and len(side["axes"]) == len(raw.data.shape):
                raw.labels, raw.exact = side["axes"].upper(), True
    image = finalize(raw, axes=axes, where=where)
    return merge_hints(image, raw.hints, authoritative=authoritative, keep_axes=axes is not None)


def save(image: Image | np.ndarray, path: str | os.PathLike, *,
         compression: str | None = "zlib") -> Path:
    """Write an image (or a bare array, axes ``YX``/``ZYX``, spacing 1 µm) to ``path`` in the
    format its extension names, atomically: the file appears complete or not at all. Parent
    folders are created; an existing file (or ``.zarr`` folder) is replaced.

    Parameters
    ----------
    image:
        The image. Pixel types written: ``uint8``, ``uint16``, ``float32``; ``bool`` is written
        as ``uint8`` 0/1 and ``float64`` as ``float32`` (refused if a value exceeds the float32
        range). PNG takes only ``uint8``/``uint16`` and ``YX`` or ``CYX`` with 3/4 channels.
    path:
        Destination; see :func:`supported_formats`. PNG and NPY also get a
        ``<name>.<ext>.json`` sidecar with axes, spacing (in ``image.unit``), origin and
        metadata.
    compression:
        ``"zlib"`` (default; ``"gzip"``/``"deflate"`` are synonyms) or ``None``. Zarr also
        takes ``"zstd"`` and ``"blosc"``, NRRD ``"bzip2"``; NPY ignores it.

    Returns
    -------
    pathlib.Path
        ``path``.

    Example
    -------
    >>> import numpy as np, tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a" / "mask.nrrd"
    >>> save(np.zeros((8, 8, 8), bool), out).exists()
    True
    """
    path = Path(path)
    where = str(path)
    if not isinstance(image, Image):
        image = Image.from_array(image)
    _, fmt = _format_of(path)
    if not fmt.folder and path.is_dir():
        raise InputError("a folder exists where the file should be written", where=where,
                         hint="choose another name or remove the folder")
    with atomic_path(path, is_dir=fmt.folder) as tmp:
        fmt.write(image, tmp, where=where, compression=compression)
    if fmt.sidecar:
        write_sidecar(path, make_hints(image))
    return path
