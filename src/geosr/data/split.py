"""Train/validation splits by image or by field of view — never by patch.

- :func:`split_by_image`: whole images go to validation (named explicitly, or a seeded random
  ``fraction`` of them, at least one, leaving at least one for training).
- :func:`field_boxes`: cut an image into a grid of non-overlapping fields of view (``fields``
  parts along each in-plane axis Y and X; Z is never cut), with every boundary on a multiple of
  the scale so LR and HR fields stay aligned. Each field becomes its own image (group), so a
  training patch can never straddle a validation field.

Example
-------
>>> split_by_image(["a", "b", "c", "d", "e"], fraction=0.4, seed=0)
(['b', 'c', 'd'], ['a', 'e'])
>>> field_boxes((64, 96), fields=2, scale=4)
[((0, 32), (0, 48)), ((0, 32), (48, 96)), ((32, 64), (0, 48)), ((32, 64), (48, 96))]
"""

from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np

from geosr.core.errors import ConfigError, InputError

__all__ = ["split_by_image", "field_boxes", "split_fields"]


def split_by_image(names: Sequence[str], *, fraction: float = 0.2,
                   val_names: Sequence[str] | None = None, seed: int = 0
                   ) -> tuple[list[str], list[str]]:
    """``(train, val)`` name lists (sorted). ``val_names`` wins over ``fraction``."""
    names = sorted(names)
    if val_names:
        missing = sorted(set(val_names) - set(names))
        if missing:
            raise ConfigError(f"validation image(s) {missing} are not in the data",
                              where="data.split.names", hint="available: " + ", ".join(names))
        val = sorted(set(val_names))
    else:
        if len(names) < 2:
            raise InputError(f"only {len(names)} image(s): cannot hold one out for validation",
                             where="data.split",
                             hint="add images, or split by field of view (split.by: field)")
        n_val = min(len(names) - 1, max(1, int(round(fraction * len(names)))))
        order = np.random.default_rng([seed, 7]).permutation(len(names))
        val = sorted(names[i] for i in order[:n_val])
    train = [n for n in names if n not in set(val)]
    if not train:
        raise ConfigError("every image is in the validation set", where="data.split.names")
    return train, val


def field_boxes(spatial_shape: Sequence[int], *, fields: int, scale: int
                ) -> list[tuple[tuple[int, int], ...]]:
    """Boxes ``((start, stop), ...)`` in HR pixels per spatial axis, row-major over the grid."""
    dims = len(spatial_shape)
    cuts = []
    for axis, n in enumerate(spatial_shape):
        if dims == 3 and axis == 0:
            cuts.append([(0, n)])
            continue
        blocks = n // scale
        if blocks < fields:
            raise InputError(f"axis of {n} pixels cannot be cut into {fields} fields at scale "
                             f"{scale}", where="data.split.fields", hint="use fewer fields")
        edges = [int(round(i * blocks / fields)) * scale for i in range(fields + 1)]
        edges[-1] = blocks * scale
        cuts.append(list(zip(edges[:-1], edges[1:])))
    return [tuple(box) for box in itertools.product(*cuts)]


def split_fields(n_fields: int, *, fraction: float, seed: int, key: str = "") -> list[int]:
    """Indices of the fields held out for validation (seeded; at least one, not all)."""
    if n_fields < 2:
        raise InputError("need at least 2 fields to hold one out", where="data.split.fields")
    n_val = min(n_fields - 1, max(1, int(round(fraction * n_fields))))
    salt = int.from_bytes(key.encode("utf-8")[:8].ljust(8, b"\0"), "little")
    order = np.random.default_rng([seed, 11, salt]).permutation(n_fields)
    return sorted(int(i) for i in order[:n_val])
