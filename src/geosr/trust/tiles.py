"""Tiles: the unit at which the trust layer states its evidence.

A tile is a block of ``tile`` LR pixels per axis (``tile × scale`` pixels of the prediction).
Edge tiles are smaller; their statistics use the pixels they have.

>>> import numpy as np
>>> tile_sums(np.ones((5, 4)), (2, 2)).tolist()
[[4.0, 4.0], [4.0, 4.0], [2.0, 2.0]]
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from geosr.core.per_axis import per_axis

__all__ = ["tile_sizes", "tile_sums", "tile_counts", "expand_tiles", "default_tile"]


def default_tile(dims: int) -> int:
    """Default tile side in LR pixels: 8 (2D) or 4 (3D) — 64 pixels per tile."""
    return 8 if dims == 2 else 4


def tile_sizes(tile: Any, dims: int) -> tuple[int, ...]:
    """One positive integer per axis from an int, a sequence or None (the default)."""
    if tile is None:
        tile = default_tile(dims)
    return per_axis(tile, dims, where="tile", kind=int, positive=True, unit="LR pixels")


def _blocks(values: np.ndarray, tile: Sequence[int]) -> np.ndarray:
    """``values`` padded with NaN to whole tiles and reshaped to (t0, b0, t1, b1, ...)."""
    pad = [(0, -n % t) for n, t in zip(values.shape, tile)]
    padded = np.pad(values.astype(np.float64), pad, constant_values=np.nan)
    shape: list[int] = []
    for n, t in zip(padded.shape, tile):
        shape += [n // t, t]
    return padded.reshape(shape)


def tile_sums(values: np.ndarray, tile: Sequence[int]) -> np.ndarray:
    """Sum of the finite values of each tile (NaN = excluded pixel)."""
    blocks = _blocks(np.asarray(values), tile)
    return np.nansum(blocks, axis=tuple(range(1, blocks.ndim, 2)))


def tile_counts(values: np.ndarray, tile: Sequence[int]) -> np.ndarray:
    """Number of finite values in each tile."""
    blocks = _blocks(np.asarray(values), tile)
    return np.isfinite(blocks).sum(axis=tuple(range(1, blocks.ndim, 2)))


def expand_tiles(tiles: np.ndarray, tile: Sequence[int], shape: Sequence[int]) -> np.ndarray:
    """A per-tile array repeated back to a pixel grid of ``shape`` (``tile`` pixels per tile
    on that grid)."""
    out = np.asarray(tiles)
    for axis, t in enumerate(tile):
        out = np.repeat(out, t, axis=axis)
    return out[tuple(slice(0, n) for n in shape)]
