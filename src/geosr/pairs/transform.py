"""The geometric relation between an LR acquisition and its HR partner, 2D and 3D.

Conventions (one place, used by the registration *and* by the simulator, so a recovered
parameter means exactly what the simulator applied):

- The *fine grid* is the LR grid refined ``scale`` times: fine pixel ``p`` (HR pixel units) lies
  in LR pixel ``p // scale``. With no misalignment, fine pixel ``p`` is HR pixel ``p`` (the LR
  image is the mean of ``scale``-blocks of the blurred HR, as :class:`geosr.degrade.Downsample`
  makes it).
- :class:`PairTransform` says how the HR *content* moves onto the LR grid: the HR point ``q``
  appears on the fine grid at ``p = c + zoom · R(θ) (q − c) + scale · shift``, where ``c`` is the
  centre of the HR image, ``shift`` is in **LR pixels** (per spatial axis, ZYX order) and
  ``R(θ)`` rotates the (y, x) plane by ``rotation_deg`` — counter-clockwise as displayed with y
  pointing down. In 3D the rotation is about the z axis (in-plane stage rotation).
- So a positive ``shift_y_lr_px`` means the HR content appears lower in the LR image.

>>> t = PairTransform(shift=(0.5, -1.0))
>>> q = t.hr_coordinates((4, 4), scale=2, hr_shape=(8, 8))
>>> [float(v) for v in q[:, 0, 0]]
[-1.0, 2.0]
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

__all__ = ["PairTransform", "TRANSFORMS"]

#: The transform kinds the registration can fit.
TRANSFORMS = ("translation", "rigid", "similarity")


@dataclasses.dataclass(frozen=True)
class PairTransform:
    """Shift (LR pixels, per spatial axis), in-plane rotation (degrees) and zoom (1 = the stated
    scale is exact). See the module docstring for the exact convention."""

    shift: tuple[float, ...]
    rotation_deg: float = 0.0
    zoom: float = 1.0

    @property
    def dims(self) -> int:
        return len(self.shift)

    def _matrix_inverse(self) -> np.ndarray:
        """``R(θ)^-1 / zoom`` acting on (y, x) (the last two axes)."""
        th = math.radians(self.rotation_deg)
        c, s = math.cos(th), math.sin(th)
        return np.array([[c, s], [-s, c]]) / self.zoom

    def hr_coordinates(self, fine_shape: Sequence[int], scale: Sequence[int] | int,
                       hr_shape: Sequence[int], start: Sequence[int] | None = None
                       ) -> np.ndarray:
        """HR pixel coordinates ``q`` (shape ``(dims, *fine_shape)``) of the fine-grid pixels
        ``start + index`` (``start`` in fine pixels, default 0)."""
        dims = self.dims
        scale = _per_axis(scale, dims)
        start = (0,) * dims if start is None else tuple(start)
        centre = np.array([(n - 1) / 2.0 for n in hr_shape])
        axes = [np.arange(n, dtype=np.float64) + s0 for n, s0 in zip(fine_shape, start)]
        grids = np.meshgrid(*axes, indexing="ij")
        rel = [g - sh * f - c for g, sh, f, c in zip(grids, self.shift, scale, centre)]
        inv = self._matrix_inverse()
        out = [None] * dims
        y, x = rel[-2], rel[-1]
        out[-2] = inv[0, 0] * y + inv[0, 1] * x + centre[-2]
        out[-1] = inv[1, 0] * y + inv[1, 1] * x + centre[-1]
        if dims == 3:
            out[0] = rel[0] / self.zoom + centre[0]
        return np.stack(out)

    def describe(self, lr_spacing_um: Sequence[float] | None = None) -> dict:
        """A flat record: ``shift_{z,y,x}_lr_px``, ``shift_*_um`` (with ``lr_spacing_um``),
        ``rotation_deg``, ``zoom``."""
        names = "zyx"[-self.dims:]
        out = {f"shift_{a}_lr_px": float(v) for a, v in zip(names, self.shift)}
        if lr_spacing_um is not None:
            out.update({f"shift_{a}_um": float(v) * float(s)
                        for a, v, s in zip(names, self.shift, lr_spacing_um)})
        out.update(rotation_deg=float(self.rotation_deg), zoom=float(self.zoom))
        return out


def _per_axis(value: Sequence[int] | int, dims: int) -> tuple[int, ...]:
    if np.ndim(value) == 0:
        return (int(value),) * dims
    return tuple(int(v) for v in value)
