"""Open a volume lazily, whatever holds it: a Zarr/OME-Zarr folder, a TIFF (memory-mapped, or
read page by page through tifffile's zarr store) or a folder of 2D TIFF slices (one per z,
sorted by name, through tifffile's file-sequence store). Nothing is read until sliced.

>>> import numpy as np, tempfile, pathlib, tifffile
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> for z in range(3):
...     tifffile.imwrite(d / f"s{z:03d}.tif", np.full((4, 5), z, np.uint16))
>>> vol = open_volume(d)
>>> vol.axes, vol.shape, int(vol.data[2, 0, 0])
('ZYX', (3, 4, 5), 2)
"""

from __future__ import annotations

import os
from pathlib import Path

from geosr.core.errors import InputError
from geosr.core.image import Image

__all__ = ["open_volume", "open_slices"]

_SLICE_EXTS = (".tif", ".tiff")


def open_volume(path: str | os.PathLike) -> Image:
    """An :class:`Image` whose ``data`` is read on demand (see module doc).

    Raises :class:`InputError` for a missing path or a folder holding neither a zarr store nor
    TIFF slices."""
    from geosr.io.api import load

    path = Path(path)
    if path.is_dir() and not path.name.lower().endswith(".zarr") and not any(
            (path / m).is_file() for m in ("zarr.json", ".zarray", ".zgroup")):
        return open_slices(path)
    return load(path, lazy=True)


def open_slices(folder: str | os.PathLike) -> Image:
    """A ``ZYX`` volume from a folder of 2D TIFF slices of equal shape (sorted by file name).

    In-plane spacing and unit come from the first slice; the z spacing from its ImageJ
    ``spacing`` if it has one, else it is taken equal to the in-plane spacing (the voxels of
    reconstructed CT slices are cubic), as ``metadata["slices"]["z_spacing"]`` says."""
    import tifffile
    import zarr

    from geosr.io.api import load

    folder = Path(folder)
    files = sorted(p for p in folder.iterdir()
                   if p.name.lower().endswith(_SLICE_EXTS) and not p.name.startswith("."))
    if not files:
        raise InputError("the folder holds no TIFF slices", where=str(folder),
                         hint="give a Zarr store, a TIFF file or a folder of .tif slices")
    first = load(files[0], lazy=True)
    if first.axes != "YX":
        raise InputError(f"slices must be 2D grey images; {files[0].name} has axes "
                         f"{first.axes}", where=str(folder))
    try:
        store = tifffile.TiffSequence([str(f) for f in files]).aszarr()
        data = zarr.open(store, mode="r")
    except Exception as err:  # tifffile raises many types on mismatched or corrupt slices
        raise InputError(f"cannot read the slices as one volume ({type(err).__name__}: "
                         f"{err})", where=str(folder),
                         hint="all slices must be 2D TIFFs of the same shape and type") from None
    if tuple(data.shape) != (len(files),) + tuple(first.shape):
        raise InputError(f"slices give a volume of shape {tuple(data.shape)}, expected "
                         f"{(len(files),) + tuple(first.shape)}", where=str(folder),
                         hint="all slices must have the same shape")
    with tifffile.TiffFile(str(files[0])) as tif:
        z = (tif.imagej_metadata or {}).get("spacing")
    z_from = "ImageJ spacing of the first slice"
    if not isinstance(z, (int, float)) or z <= 0:
        z, z_from = first.spacing[1], "assumed equal to the in-plane spacing (cubic voxels)"
    return Image(data, "ZYX", spacing=(float(z),) + tuple(first.spacing), unit=first.unit,
                 origin=(0.0,) + tuple(first.origin),
                 metadata={"slices": {"folder": str(folder), "count": len(files),
                                      "first": files[0].name, "last": files[-1].name,
                                      "z_spacing": z_from}})
