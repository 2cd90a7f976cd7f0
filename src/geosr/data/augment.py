"""Flips and 90° rotations applied identically to an LR patch and its HR patch.

The operations are the axis permutations and flips that map the sampling grid onto itself:

- axes are only exchanged when they have the same spacing (relative difference <= 1e-3) and the
  same patch size, so a rotation never mixes an axis of another resolution into the plane;
- 2D: the 8 symmetries of the square (4 when Y and X spacing differ: flips only);
- isotropic 3D: the 48 symmetries of the cube;
- anisotropic 3D (spacing Z ≠ Y) or ``in_plane_only=True``: only the 8 in-plane (YX) rotations
  and flips; Z is never flipped nor moved.

Because flips and transpositions commute with block downsampling, an augmented HR patch is still
the exact HR counterpart of the augmented LR patch.

Example
-------
>>> aug = Augmenter(dims=3, spacing=(0.5, 0.1, 0.1), patch=(8, 16, 16))
>>> len(aug), aug.in_plane_only
(8, True)
>>> len(Augmenter(dims=3, spacing=(0.1, 0.1, 0.1), patch=(16, 16, 16)))
48
"""

from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np

__all__ = ["Augmenter", "apply_op"]

Op = tuple[tuple[int, ...], tuple[bool, ...]]  # (spatial permutation, flip per output axis)


def _same(a: float, b: float, rel: float = 1e-3) -> bool:
    return abs(a - b) <= rel * max(abs(a), abs(b))


def apply_op(array: np.ndarray, op: Op) -> np.ndarray:
    """Apply ``(perm, flips)`` to the spatial axes of ``array`` (``(C, *spatial)`` or
    ``(N, C, *spatial)``): transpose the spatial axes by ``perm``, then flip the axes marked
    True. Returns a contiguous copy."""
    perm, flips = op
    lead = array.ndim - len(perm)
    out = np.transpose(array, tuple(range(lead)) + tuple(lead + p for p in perm))
    axes = tuple(lead + i for i, f in enumerate(flips) if f)
    if axes:
        out = np.flip(out, axis=axes)
    return np.ascontiguousarray(out)


class Augmenter:
    """The list of symmetry operations for a patch geometry.

    Parameters
    ----------
    dims:
        2 or 3 spatial dimensions.
    spacing:
        Pixel spacing per spatial axis (any unit).
    patch:
        Patch size per spatial axis (pixels; LR or HR, only equality between axes matters).
    flips, rot90:
        Enable flips / axis exchanges (rotations by 90°).
    in_plane_only:
        3D only. None: True when the Z spacing differs from Y (anisotropic stack).
    """

    def __init__(self, dims: int, spacing: Sequence[float], patch: Sequence[int], *,
                 flips: bool = True, rot90: bool = True, in_plane_only: bool | None = None):
        spacing = tuple(float(s) for s in spacing)
        patch = tuple(int(p) for p in patch)
        if dims == 3 and in_plane_only is None:
            in_plane_only = not _same(spacing[0], spacing[1])
        self.in_plane_only = bool(in_plane_only) if dims == 3 else False
        movable = [a for a in range(dims) if not (self.in_plane_only and a == 0)]
        perms = []
        for perm in itertools.permutations(range(dims)):
            if any(perm[a] != a for a in range(dims) if a not in movable):
                continue
            if not rot90 and perm != tuple(range(dims)):
                continue
            if all(_same(spacing[a], spacing[perm[a]]) and patch[a] == patch[perm[a]]
                   for a in range(dims)):
                perms.append(perm)
        flip_sets = []
        for bits in itertools.product((False, True), repeat=dims):
            if any(bits[a] for a in range(dims) if a not in movable) or (not flips and any(bits)):
                continue
            flip_sets.append(bits)
        self.ops: list[Op] = [(p, f) for p in perms for f in flip_sets]
        self.dims = dims

    def __len__(self) -> int:
        return len(self.ops)

    def __call__(self, lr: np.ndarray, hr: np.ndarray, index: int
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Apply operation ``index`` to both patches."""
        op = self.ops[index]
        return apply_op(lr, op), apply_op(hr, op)

    def describe(self) -> dict[str, object]:
        return {"operations": len(self.ops), "in_plane_only": self.in_plane_only}
