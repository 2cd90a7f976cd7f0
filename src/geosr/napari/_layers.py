"""Conversion between napari layer data and :class:`geosr.core.Image`: the layer's ``scale``
is the pixel size and its ``translate`` the centre of the first pixel, both in µm, so layers
of different resolutions overlay in physical space.

>>> import numpy as np
>>> from geosr.core.image import Image
>>> data, kwargs, kind = layer_data(Image(np.zeros((4, 6)), "YX", spacing=(0.5, 0.25)), "x")
>>> kwargs["scale"], kwargs["translate"], kind
((0.5, 0.25), (0.0, 0.0), 'image')
>>> to_image(data, kwargs["scale"], kwargs["translate"]).spacing
(0.5, 0.25)
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from geosr.core.errors import InputError
from geosr.core.image import Image

__all__ = ["layer_data", "to_image", "layer_image", "GEOSR_KEY"]

#: Key of the geosr record (image metadata) inside a layer's ``metadata``.
GEOSR_KEY = "geosr"


def layer_data(image: Image, name: str, kind: str = "image",
               **kwargs: Any) -> tuple[Any, dict[str, Any], str]:
    """A napari LayerData tuple of ``image`` (channels, if any, as ``channel_axis=0``)."""
    image = image.in_um() if image.unit != "pixel" else image
    options = {"name": name, "scale": tuple(image.spacing), "translate": tuple(image.origin),
               "metadata": {GEOSR_KEY: dict(image.metadata), "axes": image.axes,
                            "unit": image.unit}, **kwargs}
    if image.has_channels and kind == "image":
        options["channel_axis"] = 0
    if image.unit != "pixel":
        options["units"] = ("um",) * image.dims
    return image.data, options, kind


def to_image(data: Any, scale: Sequence[float], translate: Sequence[float],
             metadata: Mapping[str, Any] | None = None, name: str = "layer") -> Image:
    """A geosr image (axes ``YX`` or ``ZYX``, µm) of a layer's data, scale and translate."""
    array = np.asarray(data)
    if array.ndim not in (2, 3):
        raise InputError(f"layer {name!r} has {array.ndim} dimensions; geosr works on 2D "
                         "(YX) and 3D (ZYX) single-channel layers", where=name)
    record = dict((metadata or {}).get(GEOSR_KEY) or {})
    dims = array.ndim
    return Image(array, "YX" if dims == 2 else "ZYX", spacing=tuple(scale)[-dims:],
                 origin=tuple(translate)[-dims:], unit="um", metadata=record)


def layer_image(layer: Any) -> Image:
    """The geosr image of a napari layer."""
    return to_image(layer.data, layer.scale, layer.translate, layer.metadata, layer.name)
