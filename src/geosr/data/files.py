"""Image files and arrays for the data sources: listing a folder by image name, matching LR
and HR names, cropping fields of view, consistency checks and digests.

Example
-------
>>> import numpy as np
>>> from geosr.core.image import Image
>>> img = Image(np.arange(16.0).reshape(4, 4), "YX", spacing=(0.5, 0.5))
>>> field = crop_field(img, ((2, 4), (0, 2)))
>>> field.shape, field.origin
((2, 2), (1.0, 0.0))
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional

import numpy as np

from geosr.core.errors import ConfigError, InputError
from geosr.core.image import Image
from geosr.io.files import images_by_name, pair_by_name

__all__ = ["list_images", "match_by_name", "crop_field", "check_dims", "check_consistent",
           "array_digest", "progress"]


def list_images(folder: Path, where: str) -> dict[str, Path]:
    """Supported image files of a folder, keyed by name without the image extension
    (:func:`geosr.io.files.images_by_name`; ``where`` names the config field)."""
    return images_by_name(folder, label=where)


def match_by_name(lr: dict[str, Path], hr: dict[str, Path], lr_dir: Path, hr_dir: Path
                  ) -> list[str]:
    """The names present in both folders; :class:`InputError` listing those in only one
    (:func:`geosr.io.files.pair_by_name`)."""
    return [name for name, _, _ in pair_by_name(lr, hr, folders=(lr_dir, hr_dir))]


def crop_field(image: Image, box: tuple[tuple[int, int], ...]) -> Image:
    """The sub-image ``box`` (start, stop per spatial axis, pixels), origin updated."""
    index = (slice(None),) * int(image.has_channels) + tuple(slice(a, b) for a, b in box)
    origin = tuple(o + a * s for o, (a, _), s in zip(image.origin, box, image.spacing))
    return image.replace(data=np.asarray(image.numpy())[index], origin=origin)


def check_dims(dims: Optional[int], image: Image, where: str) -> int:
    if dims is not None and image.dims != dims:
        raise ConfigError(f"the config says dims = {dims} but {where} is {image.dims}D "
                          f"(axes {image.axes})", where="dims",
                          hint=f"set dims: {image.dims} or use {dims}D data")
    return image.dims


def check_consistent(images: list[tuple[str, Image]], where: str) -> None:
    """All images must share the axes (hence dims) and the number of channels."""
    first_name, first = images[0]
    for name, image in images[1:]:
        if image.axes != first.axes or image.channels != first.channels:
            raise InputError(f"{name} has axes {image.axes} with {image.channels} channel(s) "
                             f"but {first_name} has {first.axes} with {first.channels}",
                             where=where, hint="train on images of one kind (same axes and "
                                               "channels)")


def array_digest(pairs: list[tuple[str, Image]]) -> str:
    h = hashlib.sha256()
    for name, image in pairs:
        values = np.ascontiguousarray(image.numpy())
        h.update(f"{name}|{values.dtype.str}|{values.shape}".encode() + values.tobytes())
    return h.hexdigest()


def progress(items: list, description: str, show: bool):
    if not show:
        return items
    from geosr.core.progress import track

    return track(items, description)
