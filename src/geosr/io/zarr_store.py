"""Zarr v3 folders (``.zarr``) with OME-NGFF 0.5 attributes, read lazily on request.

Layout written
    A group whose attributes hold ``{"ome": {"version": "0.5", "multiscales": [...]}}`` (axes
    with names ``c``/``z``/``y``/``x``, types ``channel``/``space`` and units such as
    ``micrometer``; one dataset at path ``"0"`` with a ``scale`` and a ``translation``
    coordinate transformation = spacing and origin) and ``{"geosr": {...}}`` (axes, unit, exact
    spacing/origin, metadata). The array ``"0"`` is chunked about 64 voxels per spatial axis in
    3D (``(64, 64, 64)``), 256 in 2D, one channel per chunk, and named with
    ``dimension_names``.

Reading
    OME-NGFF groups (0.5 ``ome`` attributes or 0.4 top-level ``multiscales``; the first, full
    resolution dataset), geosr groups, and bare zarr arrays (axes from ``dimension_names`` if
    they are ``c/z/y/x``, else guessed from the rank; spacing 1 pixel). With ``lazy`` the image
    data is the ``zarr.Array`` itself (or a :class:`~geosr.io.lazy.LazyView` of it when its axes
    must be reordered); ``Image.numpy()`` reads it.

>>> import numpy as np, tempfile, pathlib
>>> from geosr.core.image import Image
>>> path = pathlib.Path(tempfile.mkdtemp()) / "v.zarr"
>>> write(Image(np.ones((2, 3, 4), np.uint16), "ZYX", spacing=(0.5, 0.1, 0.1)), path,
...       where=str(path))
>>> raw = read(path, lazy=True)
>>> type(raw.data).__name__, raw.labels, raw.spacing
('Array', 'ZYX', [0.5, 0.1, 0.1])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from geosr.core.errors import GeosrError, InputError
from geosr.core.image import Image
from geosr.io._units import NGFF_UNITS, parse_unit, to_common_unit
from geosr.io.dtypes import convert_block, save_dtype
from geosr.io.options import compression_choice
from geosr.io.raw import RawImage, make_hints

__all__ = ["read", "write", "chunk_shape"]

_NAMES = {"c": "C", "z": "Z", "y": "Y", "x": "X", "t": "T"}


def _codec(name: str | None) -> list[Any]:
    from zarr.codecs import BloscCodec, GzipCodec, ZstdCodec

    choice = compression_choice(name, {"zlib": "gzip", "zstd": "zstd", "blosc": "blosc",
                                       None: None}, fmt="Zarr")
    if choice is None:
        return []
    return [{"gzip": GzipCodec(level=5), "zstd": ZstdCodec(level=3),
             "blosc": BloscCodec(cname="zstd", clevel=5)}[choice]]


def chunk_shape(axes: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Chunks geosr writes: 1 per channel, 64 per spatial axis in 3D, 256 in 2D (capped by the
    shape).

    >>> chunk_shape("CZYX", (2, 100, 300, 300))
    (1, 64, 64, 64)
    """
    side = 64 if "Z" in axes else 256
    return tuple(1 if a == "C" else min(side, n) for a, n in zip(axes, shape))


def _multiscales_attrs(image: Image) -> dict[str, Any]:
    axes = []
    for letter in image.axes:
        if letter == "C":
            axes.append({"name": "c", "type": "channel"})
        else:
            entry = {"name": letter.lower(), "type": "space"}
            if image.unit in NGFF_UNITS:
                entry["unit"] = NGFF_UNITS[image.unit]
            axes.append(entry)
    scale = [1.0] * image.has_channels + list(image.spacing)
    translation = [0.0] * image.has_channels + list(image.origin)
    return {"version": "0.5", "multiscales": [{
        "name": "image", "axes": axes,
        "datasets": [{"path": "0", "coordinateTransformations": [
            {"type": "scale", "scale": scale},
            {"type": "translation", "translation": translation}]}],
    }]}


def write(image: Image, path: Path, *, where: str, compression: str | None = "zlib") -> None:
    """Write ``image`` into the (empty) folder ``path`` as an OME-Zarr v3 group. A lazy image is
    copied slab by slab, never read whole."""
    import zarr

    compressors = _codec(compression)
    target = save_dtype(image.dtype, where=where,
                        data=image.data if isinstance(image.data, np.ndarray) else None,
                        fmt="Zarr")
    chunks = chunk_shape(image.axes, image.shape)
    group = zarr.open_group(store=str(path), mode="w", zarr_format=3)
    array = group.create_array("0", shape=image.shape, dtype=target, chunks=chunks,
                               compressors=compressors, fill_value=0,
                               dimension_names=[a.lower() for a in image.axes])
    if isinstance(image.data, np.ndarray):
        array[...] = convert_block(image.data, target, where=where)
    else:
        step = chunks[0]
        for start in range(0, image.shape[0], step):
            block = image.data[start:start + step]
            array[start:start + step] = convert_block(block, target, where=where)
    group.attrs.update({"ome": _multiscales_attrs(image), "geosr": make_hints(image)})


def _transforms(items: Any, n: int) -> tuple[list[float], list[float]]:
    """Scale and translation from a list of NGFF coordinate transformations."""
    scale, translation = [1.0] * n, [0.0] * n
    for item in items or []:
        if not isinstance(item, Mapping):
            continue
        if item.get("type") == "scale" and len(item.get("scale") or []) == n:
            new = [float(v) for v in item["scale"]]
            scale = [a * b for a, b in zip(scale, new)]
            translation = [a * b for a, b in zip(translation, new)]
        elif item.get("type") == "translation" and len(item.get("translation") or []) == n:
            translation = [a + float(b) for a, b in zip(translation, item["translation"])]
    return scale, translation


def _from_multiscales(group: Any, attrs: Mapping[str, Any], where: str):
    multiscale = attrs["multiscales"][0]
    dataset = multiscale["datasets"][0]
    array = group[str(dataset["path"])]
    n = len(array.shape)
    axes = multiscale.get("axes") or []
    if len(axes) != n:
        raise InputError(f"OME-Zarr lists {len(axes)} axes for a {n}-D array", where=where,
                         hint="fix the 'multiscales' axes or pass axes=")
    labels, units = "", []
    for axis in axes:
        name = axis.get("name", "") if isinstance(axis, Mapping) else str(axis)
        kind = axis.get("type") if isinstance(axis, Mapping) else None
        letter = "C" if kind == "channel" else _NAMES.get(str(name).lower(), "Q")
        labels += letter
        unit = axis.get("unit") if isinstance(axis, Mapping) else None
        units.append(parse_unit(unit, where=where) if unit else ("pixel", 1.0))
    scale, translation = _transforms(dataset.get("coordinateTransformations"), n)
    scale2, translation2 = _transforms(multiscale.get("coordinateTransformations"), n)
    scale = [a * b for a, b in zip(scale, scale2)]
    translation = [a * s2 + b for a, s2, b in zip(translation, scale2, translation2)]
    spatial = [i for i, c in enumerate(labels) if c in "ZYX"]
    spacing: list[float | None] = [None] * n
    origin: list[float | None] = [None] * n
    values, unit = to_common_unit([(scale[i] * units[i][1], units[i][0]) for i in spatial]
                                  + [(translation[i] * units[i][1], units[i][0])
                                     for i in spatial])
    for k, i in enumerate(spatial):
        spacing[i], origin[i] = values[k], values[len(spatial) + k]
    if unit == "pixel" and all(s == 1.0 for s in values[:len(spatial)]):
        spacing = [None] * n
    return array, labels, spacing, origin, unit


def _bare(array: Any) -> tuple[str, bool]:
    names = getattr(array.metadata, "dimension_names", None)
    if names and all(str(n).lower() in _NAMES for n in names if n is not None) \
            and None not in names:
        return "".join(_NAMES[str(n).lower()] for n in names), True
    n = len(array.shape)
    return {2: "YX", 3: "ZYX"}.get(n, "Q" * n), False


def read(path: Path, *, lazy: bool = False) -> RawImage:
    """Read a zarr folder (see module doc)."""
    import zarr

    where = str(path)
    try:
        node = zarr.open(store=str(path), mode="r")
        attrs = dict(node.attrs)
        hints = attrs.get("geosr") if isinstance(attrs.get("geosr"), dict) else None
        spacing = origin = None
        unit = "pixel"
        if isinstance(node, zarr.Array):
            array = node
            labels, _ = _bare(array)
        else:
            ome = attrs.get("ome") if isinstance(attrs.get("ome"), Mapping) else attrs
            if ome.get("multiscales"):
                array, labels, spacing, origin, unit = _from_multiscales(node, ome, where)
            else:
                arrays = dict(node.arrays())
                if not arrays:
                    raise InputError("the zarr group holds no array", where=where,
                                     hint="point to the array folder or an OME-Zarr image")
                array = arrays["0"] if "0" in arrays else arrays[sorted(arrays)[0]]
                labels, _ = _bare(array)
        data = array if lazy else array[...]
    except GeosrError:
        raise
    except MemoryError:
        raise
    except Exception as err:  # zarr raises many types on a folder that is not a store
        raise InputError(f"cannot read this as a zarr store ({type(err).__name__}: {err})",
                         where=where, hint="check the folder is a zarr v2/v3 array or group "
                                           "(it holds zarr.json, .zarray or .zgroup)") from None
    if hints is not None and tuple(hints.get("shape") or ()) != tuple(array.shape):
        hints = dict(hints)  # written by geosr for another array: keep its metadata only
        hints.pop("axes", None)
    exact = hints is not None and "axes" in hints
    return RawImage(data, labels, spacing=spacing, origin=origin, unit=unit, hints=hints,
                    exact=exact)
