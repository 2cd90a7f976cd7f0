"""NPY: one numpy array, never unpickled.

Files are read with ``numpy.load(allow_pickle=False)``: an array of Python objects (or any
pickled content) is refused rather than executed. With ``lazy`` the file is memory-mapped
(``mmap_mode='r'``). Axes, spacing, unit, origin and metadata travel in a sidecar
``<name>.npy.json`` (see :mod:`geosr.io.sidecar`); without one, axes are guessed from the rank
(``YX``, ``ZYX``) and spacing is 1 pixel. NPY has no compression; the ``compression`` option of
:func:`geosr.io.save` is accepted and ignored for it.

>>> import numpy as np, tempfile, pathlib
>>> from geosr.core.image import Image
>>> path = pathlib.Path(tempfile.mkdtemp()) / "v.npy"
>>> write(Image(np.ones((2, 3, 4), np.float32), "ZYX"), path, where=str(path))
>>> read(path, lazy=True).data.shape
(2, 3, 4)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geosr.core.errors import InputError
from geosr.core.image import Image, default_axes
from geosr.io.dtypes import convert_block, save_dtype
from geosr.io.options import compression_choice
from geosr.io.raw import RawImage

__all__ = ["read", "write"]

_COMPRESSIONS = {"zlib": None, None: None}


def read(path: Path, *, lazy: bool = False) -> RawImage:
    """Read an ``.npy`` file (memory-mapped with ``lazy``). Axes are guessed from the rank;
    the dispatcher applies the sidecar, if any."""
    where = str(path)
    try:
        values = np.load(path, mmap_mode="r" if lazy else None, allow_pickle=False)
    except ValueError as err:
        text = str(err)
        if "pickle" in text.lower() or "object" in text.lower():
            raise InputError(
                "the file holds Python objects (object dtype or pickled data); geosr never "
                "unpickles files, because unpickling can run arbitrary code", where=where,
                hint="re-save a plain numeric array with numpy.save(path, "
                     "array.astype(numpy.float32))") from None
        raise InputError(f"cannot read this .npy file ({err})", where=where,
                         hint="the file is truncated or not an .npy file: write it again") \
            from None
    except (OSError, EOFError) as err:
        raise InputError(f"cannot read this .npy file ({type(err).__name__}: {err})",
                         where=where, hint="the file is truncated or not an .npy file") from None
    if not isinstance(values, np.ndarray):
        if hasattr(values, "close"):
            values.close()
        raise InputError("this is an .npz archive, not a single .npy array", where=where,
                         hint="extract one array (numpy.load(path)[name]) and save it as .npy")
    labels = default_axes(values.ndim) if values.ndim in (2, 3) else "Q" * values.ndim
    return RawImage(values, labels)


def write(image: Image, path: Path, *, where: str, compression: str | None = None) -> None:
    """Write the pixels as a plain ``.npy`` array in geosr axis order."""
    compression_choice(compression, _COMPRESSIONS, fmt="NPY")
    target = save_dtype(image.dtype, where=where, data=image.data, fmt="NPY")
    values = convert_block(image.numpy(), target, where=where)
    with open(path, "wb") as fh:
        np.save(fh, np.ascontiguousarray(values), allow_pickle=False)
