"""Tile planning and blending weights for sliding-window super-resolution (numpy only).

Along each spatial axis of ``n`` input pixels, with ``halo`` = the one-sided reach of the
model's receptive field (input pixels), ``align`` = the input stride a window origin must be a
multiple of (pooling grids of U-Nets), and output ``scale``:

1. the axis is extended at its end by reflection to ``length`` = ``n`` rounded up to a
   multiple of ``align`` (nothing for plain convolutional networks). The untiled pass is the
   one-window case of the same plan, so both see identical image borders (the model's own
   zero padding, as in training);
2. windows of ``window`` pixels start every ``step`` pixels (``step ≤ window − overlap``, a
   multiple of ``align``); the last one ends exactly at ``length`` (so it may overlap its
   neighbour more);
3. in the output, a window's weight along the axis is 0 over ``margin = min(halo,
   ⌊(o − 1)/2⌋)`` input pixels (× scale) next to an edge it shares with a neighbour (``o`` =
   their overlap), then ramps linearly over the remaining ``o − 2·margin`` pixels, then is 1;
   edges on the image border keep weight 1. Window weights are products over axes and the
   accumulated output is divided by the accumulated weights (a separable product of 1-D sums,
   so no weight volume is stored).

With ``margin ≥ halo`` every output pixel that receives weight is computed from a window that
holds its whole receptive field, so tiled and untiled outputs are equal up to float rounding;
with a global receptive field (channel attention) the ramps make the seams smooth.

>>> plan = plan_axis(100, tile=40, overlap=12, halo=4, align=1, scale=2)
>>> plan.starts, plan.window, plan.margins, plan.ramps
([0, 28, 56, 60], 40, [4, 4, 4], [4, 4, 28])
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

from geosr.core.errors import ConfigError

__all__ = ["AxisPlan", "plan_axis", "plan_tiles", "default_overlap", "axis_weights",
           "axis_weight_sums"]


@dataclasses.dataclass(frozen=True)
class AxisPlan:
    """Tiling of one axis (input pixels unless stated)."""

    n: int              #: image length
    length: int         #: image length after the trailing reflection (a multiple of align)
    window: int         #: window (tile) length
    starts: list[int]   #: window origins
    margins: list[int]  #: zero-weight margin at each shared edge (len(starts) − 1)
    ramps: list[int]    #: ramp length after the margin at each shared edge
    scale: int          #: output pixels per input pixel

    @property
    def overlaps(self) -> list[int]:
        return [a + self.window - b for a, b in zip(self.starts, self.starts[1:])]

    @property
    def pad_after(self) -> int:
        return self.length - self.n

    def exact_for(self, halo: int) -> bool:
        """Whether this tiling is exact for a model reaching ``halo`` pixels."""
        return all(m >= halo for m in self.margins)


def default_overlap(halo: int) -> int:
    """``2·halo + blend`` with ``blend = max(2, ⌈halo/4⌉)`` input pixels: the zero margins
    that make tiles exact plus a short ramp."""
    return 2 * halo + max(2, math.ceil(halo / 4))


def plan_axis(n: int, *, tile: int | None, overlap: int | None, halo: int, align: int,
              scale: int) -> AxisPlan:
    """Plan the windows along one axis (see the module docstring).

    ``tile=None`` or a tile at least as long as the axis → one window. ``overlap`` defaults to
    :func:`default_overlap`; with a smaller one, margins shrink to ``⌊(overlap − 1)/2⌋`` and
    the tiling is no longer exact.
    """
    length = -(-n // align) * align
    if tile is None or tile >= length:
        return AxisPlan(n, length, length, [0], [], [], scale)
    overlap = default_overlap(halo) if overlap is None else int(overlap)
    if overlap < 0:
        raise ConfigError(f"must be >= 0, got {overlap}", where="overlap")
    window = tile // align * align
    step = (window - overlap) // align * align
    if step < align:
        need = -(-(overlap + align) // align) * align
        raise ConfigError(f"a tile of {tile} input pixels leaves no room beyond the "
                          f"overlap of {overlap} (receptive-field halo {halo}, alignment "
                          f"{align})", where="tile",
                          hint=f"use tiles of at least {need} pixels (or more memory)")
    starts = list(range(0, length - window, step)) + [length - window]
    overlaps = [a + window - b for a, b in zip(starts, starts[1:])]
    margins = [min(halo, max(0, (o - 1) // 2)) for o in overlaps]
    ramps = [o - 2 * m for o, m in zip(overlaps, margins)]
    return AxisPlan(n, length, window, starts, margins, ramps, scale)


def axis_weights(plan: AxisPlan, index: int) -> np.ndarray:
    """Output-pixel weights (length ``window·scale``) of window ``index`` along the axis."""
    s = plan.scale
    w = np.ones(plan.window * s, np.float64)
    if index > 0:
        m, r = plan.margins[index - 1] * s, plan.ramps[index - 1] * s
        w[:m] = 0.0
        w[m:m + r] = np.minimum(w[m:m + r], (np.arange(r) + 0.5) / r)
    if index < len(plan.starts) - 1:
        m, r = plan.margins[index] * s, plan.ramps[index] * s
        end = len(w)
        w[end - m:] = 0.0
        w[end - m - r:end - m] = np.minimum(w[end - m - r:end - m],
                                            (np.arange(r)[::-1] + 0.5) / r)
    return w


def axis_weight_sums(plan: AxisPlan) -> np.ndarray:
    """Sum of all windows' weights along the axis (output pixels, length ``length·scale``)."""
    total = np.zeros(plan.length * plan.scale, np.float64)
    for i, start in enumerate(plan.starts):
        total[start * plan.scale:(start + plan.window) * plan.scale] += axis_weights(plan, i)
    return total


def plan_tiles(shape: Sequence[int], *, tile: Sequence[int | None],
               overlap: Sequence[int | None], halo: Sequence[int], align: Sequence[int],
               scale: Sequence[int]) -> list[AxisPlan]:
    """One :class:`AxisPlan` per spatial axis."""
    return [plan_axis(n, tile=t, overlap=o, halo=h, align=a, scale=s)
            for n, t, o, h, a, s in zip(shape, tile, overlap, halo, align, scale)]
