"""napari writer: an image layer to OME-TIFF (``.ome.tif``) or OME-Zarr (``.zarr``) with
:func:`geosr.save`, keeping the pixel size and origin (µm) and the layer's geosr record."""

from __future__ import annotations

from typing import Any

__all__ = ["write_image"]


def write_image(path: str, data: Any, attributes: dict) -> list[str]:
    """Write one image layer; returns the written path (atomically written by geosr)."""
    from geosr.io import save
    from geosr.napari._layers import to_image

    dims = getattr(data, "ndim", 0)
    image = to_image(data, attributes.get("scale") or (1.0,) * dims,
                     attributes.get("translate") or (0.0,) * dims,
                     attributes.get("metadata"), attributes.get("name") or "layer")
    return [str(save(image, path))]
