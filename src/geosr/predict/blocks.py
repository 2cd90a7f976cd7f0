"""Blocks for out-of-core prediction (numpy only): the input is cut into blocks of ``block``
pixels per axis (a multiple of the model's alignment); each block is predicted from a window
that adds ``margin`` ≥ the receptive-field halo on each side (clipped at the image border,
where the model's zero padding applies exactly as in an untiled pass), and exactly the block's
``block · scale`` output pixels are kept, so each output chunk is written once, whole, by one
task. A window that reaches the image end is extended by reflection to the alignment, as the
in-memory :func:`geosr.predict.predict` does.

>>> plan = BlockAxis(n=100, block=32, margin=8, align=1, scale=2)
>>> plan.count, plan.window(1), plan.keep(1)
(4, (24, 72, 0), (slice(16, 80, None), slice(64, 128, None)))
>>> plan.window(3), plan.keep(3)
((88, 100, 0), (slice(16, 24, None), slice(192, 200, None)))
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

from geosr.core.errors import ConfigError

__all__ = ["BlockAxis", "choose_block"]


@dataclasses.dataclass(frozen=True)
class BlockAxis:
    """Blocks along one axis (input pixels unless stated)."""

    n: int        #: image length
    block: int    #: block length (a multiple of align)
    margin: int   #: context added on each side (a multiple of align, ≥ halo)
    align: int    #: window origins and lengths are multiples of this
    scale: int    #: output pixels per input pixel

    @property
    def count(self) -> int:
        return -(-self.n // self.block)

    def window(self, i: int) -> tuple[int, int, int]:
        """``(start, stop, pad_after)`` of block ``i``'s input window; ``pad_after`` pixels
        of reflection make a window that reaches the image end a multiple of ``align``."""
        start = max(0, i * self.block - self.margin)
        stop = min(self.n, (i + 1) * self.block + self.margin)
        pad = (-(stop - start)) % self.align if stop == self.n else 0
        return start, stop, pad

    def keep(self, i: int) -> tuple[slice, slice]:
        """(slice of the window's output to keep, slice of the full output it fills)."""
        start = self.window(i)[0]
        lo, hi = i * self.block, min(self.n, (i + 1) * self.block)
        s = self.scale
        return slice((lo - start) * s, (hi - start) * s), slice(lo * s, hi * s)


def choose_block(shape: Sequence[int], *, halo: Sequence[int], align: Sequence[int],
                 scale: Sequence[int], budget_bytes: float, bytes_per_window_px: float,
                 max_out_chunk: int, block: int | Sequence[int] | None = None
                 ) -> list[BlockAxis]:
    """The largest equal-sided blocks whose window (block + 2·margin per axis) costs at most
    ``budget_bytes`` at ``bytes_per_window_px``, with output chunks at most ``max_out_chunk``
    pixels per axis. ``block`` (input pixels, one or per axis) overrides the choice.

    Raises :class:`ConfigError` when even the smallest block (one alignment step) exceeds the
    budget, saying how much memory it needs."""
    dims = len(shape)
    margins = [-(-h // a) * a for h, a in zip(halo, align)]
    if block is not None:
        sides = list(block) if isinstance(block, (list, tuple)) else [block] * dims
        if len(sides) != dims or any(int(b) < 1 for b in sides):
            raise ConfigError(f"needs one positive size or one per spatial axis, got {block}",
                              where="block")
        sides = [-(-int(b) // a) * a for b, a in zip(sides, align)]
    else:
        def cost(side: int) -> float:
            return math.prod(min(min(side, -(-n // a) * a) + 2 * m, n + a)
                             for n, m, a in zip(shape, margins, align)) * bytes_per_window_px

        step = max(align)
        least = step
        if cost(least) > budget_bytes:
            raise ConfigError(
                f"the smallest block the model allows ({least} input pixels plus a "
                f"{max(margins)}-pixel margin per side) needs about "
                f"{cost(least) / 2**20:.0f} MB", where="max_memory_mb",
                hint="allow more memory (--max-memory)")
        top = max(least, max_out_chunk // max(scale) // step * step)
        side = least
        while side + step <= top and cost(side + step) <= budget_bytes:
            side += step
        sides = [side] * dims
    return [BlockAxis(int(n), min(int(b), -(-n // a) * a), m, a, s)
            for n, b, m, a, s in zip(shape, sides, margins, align, scale)]
