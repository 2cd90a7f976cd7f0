"""A read-only lazy view that drops singleton dimensions, reorders the others and casts the
dtype of an on-disk array (a zarr array, a memory map) without reading it.

Readers use it when a file stores its axes in another order than geosr's (``ZCYX`` in place of
``CZYX``, ``TCZYX`` with ``T = 1``) and the caller asked for lazy loading. Only integer and slice
indexing are lazy; any other index reads the whole array first.

>>> import numpy as np
>>> base = np.arange(24).reshape(1, 2, 3, 4)          # T=1, Z=2, C=3, ... as stored
>>> view = LazyView(base, keep=(2, 1, 3))             # -> (C, Z, X) = (3, 2, 4)
>>> view.shape, view[1, :, 0].tolist()
((3, 2, 4), [4, 16])
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["LazyView"]


class LazyView:
    """View of ``base`` keeping the dimensions ``keep`` (in that output order); every other
    dimension must have length 1 and is read at index 0. With ``dtype`` the values read are cast
    to it (e.g. ``bool`` to ``uint8``)."""

    def __init__(self, base: Any, keep: tuple[int, ...], dtype: Any = None):
        dropped = [d for d in range(len(base.shape)) if d not in keep]
        if any(base.shape[d] != 1 for d in dropped):
            raise ValueError("LazyView can only drop dimensions of length 1")
        if sorted(keep) != sorted(set(keep)):
            raise ValueError("keep must not repeat a dimension")
        self.base = base
        self.keep = tuple(int(k) for k in keep)
        self.shape = tuple(int(base.shape[d]) for d in self.keep)
        self.dtype = np.dtype(dtype if dtype is not None else base.dtype)
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"LazyView(shape={self.shape}, dtype={self.dtype}, base={type(self.base).__name__})"

    def _expand(self, key: Any) -> tuple[Any, ...] | None:
        """The key as one int or slice per output dimension, or None if it is not that simple."""
        key = key if isinstance(key, tuple) else (key,)
        if sum(k is Ellipsis for k in key) > 1:
            return None
        if Ellipsis in key:
            i = key.index(Ellipsis)
            key = key[:i] + (slice(None),) * (self.ndim - len(key) + 1) + key[i + 1:]
        key = key + (slice(None),) * (self.ndim - len(key))
        if len(key) != self.ndim:
            return None
        out = []
        for k, n in zip(key, self.shape):
            if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
                k = int(k)
                if not -n <= k < n:
                    raise IndexError(f"index {k} is out of bounds for a dimension of size {n}")
                out.append(k % n)
            elif isinstance(k, slice):
                out.append(k)
            else:
                return None
        return tuple(out)

    def __getitem__(self, key: Any) -> np.ndarray:
        expanded = self._expand(key)
        if expanded is None:
            return self[...][key]
        base_key: list[Any] = [0] * len(self.base.shape)
        for out_dim, base_dim in enumerate(self.keep):
            base_key[base_dim] = expanded[out_dim]
        values = np.asarray(self.base[tuple(base_key)])
        remaining = [d for d in range(len(base_key)) if isinstance(base_key[d], slice)]
        wanted = [d for d in self.keep if isinstance(base_key[d], slice)]
        values = values.transpose([remaining.index(d) for d in wanted])
        return values.astype(self.dtype, copy=False)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        values = self[...]
        return values if dtype is None else values.astype(dtype, copy=False)
