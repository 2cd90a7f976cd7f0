"""napari reader: every format :func:`geosr.load` reads (TIFF/OME-TIFF, PNG, NPY, NRRD,
OME-Zarr), with the pixel size and origin in µm.

>>> get_reader("notes.txt") is None
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

__all__ = ["get_reader", "read"]


def _supported(path: Any) -> bool:
    if not isinstance(path, (str, Path)):
        return False
    from geosr.io.files import is_image_file

    return is_image_file(str(path).rstrip("/"))


def get_reader(path: Any) -> Callable[[Any], list] | None:
    """``read`` when every path is a format geosr reads, else None (never raises)."""
    paths = path if isinstance(path, list) else [path]
    try:
        return read if paths and all(_supported(p) for p in paths) else None
    except Exception:  # a reader must never raise (npe2 contract)
        return None


def read(path: Any) -> list[tuple[Any, dict, str]]:
    """LayerData tuples, one per path (lazy arrays stay lazy)."""
    from geosr.io import load
    from geosr.napari._layers import layer_data

    paths = path if isinstance(path, list) else [path]
    layers = []
    for p in paths:
        image = load(p, lazy=True)
        layers.append(layer_data(image, Path(str(p).rstrip("/")).name.split(".")[0]))
    return layers
