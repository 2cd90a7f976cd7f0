"""OME-Zarr 0.5 (Zarr v3) multiscale images written chunk by chunk, for outputs larger than
memory.

:func:`create_multiscale` makes the group and its empty arrays ``"0"``, ``"1"``, … (level ``k``
is ``2^k`` times coarser along every spatial axis, ``ceil(n / 2^k)`` pixels); the caller fills
level 0 region by region (each write covering whole chunks, so parallel writers never touch the
same chunk), then :func:`downsample_level` fills each coarser level from the one above (mean of
2×2(×2) blocks, chunk by chunk) and :func:`multiscales_attrs` gives the ``ome`` attributes:
per level a ``scale`` (spacing × 2^k) and a ``translation`` (origin + (2^k − 1)·spacing/2, the
centre of the first coarse pixel) in the image's unit.

>>> import numpy as np, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "v.ome.zarr"
>>> group = create_multiscale(path, shape=(5, 6), axes="YX", dtype="float32",
...                           chunks=(4, 4), levels=1)
>>> group["0"][...] = np.arange(30, dtype="float32").reshape(5, 6)
>>> downsample_level(group, 1, "YX")
>>> group["1"][...].tolist()
[[3.5, 5.5, 7.5], [15.5, 17.5, 19.5], [24.5, 26.5, 28.5]]
>>> multiscales_attrs("YX", (0.5, 0.5), (0.0, 0.0), "um", 1)["multiscales"][0]["datasets"][1]
{'path': '1', 'coordinateTransformations': [{'type': 'scale', 'scale': [1.0, 1.0]}, {'type': 'translation', 'translation': [0.25, 0.25]}]}
"""

from __future__ import annotations

import itertools
import os
from typing import Any, Sequence

import numpy as np

from geosr.io._units import NGFF_UNITS

__all__ = ["create_multiscale", "multiscales_attrs", "downsample_level", "level_shape"]


def level_shape(shape: Sequence[int], axes: str, level: int) -> tuple[int, ...]:
    """Shape of pyramid level ``level`` (spatial axes ``ceil(n / 2^level)``, channels kept)."""
    f = 2 ** level
    return tuple(int(n) if a == "C" else -(-int(n) // f) for a, n in zip(axes, shape))


def create_multiscale(path: str | os.PathLike, *, shape: Sequence[int], axes: str, dtype: Any,
                      chunks: Sequence[int], levels: int = 0,
                      compression: str | None = "zlib") -> Any:
    """Create (replacing) a Zarr v3 group at ``path`` with empty arrays ``"0"`` … ``levels``
    of ``dtype``, chunked ``chunks`` (capped by each level's shape), fill value 0, named with
    ``dimension_names``. Returns the ``zarr.Group``; attributes are set by the caller."""
    import zarr

    from geosr.io.zarr_store import _codec

    group = zarr.open_group(store=str(path), mode="w", zarr_format=3)
    for level in range(levels + 1):
        lshape = level_shape(shape, axes, level)
        group.create_array(str(level), shape=lshape, dtype=dtype,
                           chunks=tuple(min(c, n) for c, n in zip(chunks, lshape)),
                           compressors=_codec(compression), fill_value=0,
                           dimension_names=[a.lower() for a in axes])
    return group


def multiscales_attrs(axes: str, spacing: Sequence[float], origin: Sequence[float], unit: str,
                      levels: int, name: str = "image") -> dict[str, Any]:
    """The ``ome`` attribute (NGFF 0.5) of a ``levels + 1``-level image (see module doc)."""
    entries = []
    for letter in axes:
        entry: dict[str, Any] = ({"name": "c", "type": "channel"} if letter == "C"
                                 else {"name": letter.lower(), "type": "space"})
        if letter != "C" and unit in NGFF_UNITS:
            entry["unit"] = NGFF_UNITS[unit]
        entries.append(entry)
    channels = [1.0] * ("C" in axes)
    datasets = []
    for level in range(levels + 1):
        f = 2 ** level
        scale = channels + [float(s) * f for s in spacing]
        shift = [0.0] * len(channels) + [float(o) + (f - 1) * float(s) / 2
                                         for o, s in zip(origin, spacing)]
        datasets.append({"path": str(level), "coordinateTransformations": [
            {"type": "scale", "scale": scale}, {"type": "translation", "translation": shift}]})
    return {"version": "0.5", "multiscales": [{"name": name, "axes": entries,
                                               "datasets": datasets}]}


def _mean2(block: np.ndarray, axes: str) -> np.ndarray:
    """Mean over 2-pixel groups along every spatial axis (a trailing odd pixel alone)."""
    values = block.astype(np.float64)
    for axis, letter in enumerate(axes):
        if letter == "C":
            continue
        n = values.shape[axis]
        even = np.take(values, np.arange(0, n - n % 2), axis=axis)
        shape = list(even.shape)
        shape[axis:axis + 1] = [n // 2, 2]
        pairs = even.reshape(shape).mean(axis=axis + 1)
        if n % 2:
            pairs = np.concatenate([pairs, np.take(values, [n - 1], axis=axis)], axis=axis)
        values = pairs
    return values


def downsample_level(group: Any, level: int, axes: str) -> None:
    """Fill array ``level`` of ``group`` from array ``level − 1``, one output chunk at a time
    (memory: one chunk × 2^d). Integer types are rounded half to even and clipped."""
    src, dst = group[str(level - 1)], group[str(level)]
    dtype = np.dtype(dst.dtype)
    ranges = [range(0, n, c) for n, c in zip(dst.shape, dst.chunks)]
    for corner in itertools.product(*ranges):
        out_sl = tuple(slice(c, min(c + k, n)) for c, k, n in zip(corner, dst.chunks, dst.shape))
        in_sl = tuple(s if a == "C" else slice(2 * s.start, min(2 * s.stop, n))
                      for s, a, n in zip(out_sl, axes, src.shape))
        values = _mean2(np.asarray(src[in_sl]), axes)
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            values = np.clip(np.rint(values), info.min, info.max)
        dst[out_sl] = values.astype(dtype)

