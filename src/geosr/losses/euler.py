"""A differentiable Euler-characteristic loss on the soft pore map, exact at 0/1 (2D and 3D).

The Euler number of a binary image is a sum of local contributions of its 2×2 (2D) or 2×2×2
(3D) vertex configurations (Gray 1971; the image padded with one layer of background), see
``/work/shared/reference/geometry_topology.md``. The contribution table (LUT) is built here from
the closed cell complex, not copied: for the *high* connectivity (8 in 2D, 26 in 3D) every
foreground pixel/voxel is a closed unit square/cube (touching corners connect), and a window centred on a lattice vertex
holds that vertex (weight 1), its 2·d half-edges (−1/2 each), its quarter faces (+1/4) and, in 3D,
its eighth cubes (−1/8); each cell is present when any pixel/voxel containing it is foreground.
The *low* connectivity (4 in 2D, 6 in 3D) is the dual: ``LUT_low(c) = (−1)^(d+1)·LUT_high(¬c)``.

Soft version: the prediction becomes the soft pore map ``p = sigmoid((I − t)/τ)`` (see
:mod:`geosr.losses.topology`), read as independent Bernoulli probabilities per pixel; the
*expected* Euler number is ``Σ_windows Σ_c LUT[c]·Π_i (p_i if c_i else 1 − p_i)`` — a multilinear
polynomial of the ``p_i``, so it equals the exact Euler number wherever ``p`` is 0/1 and is
differentiable everywhere. :func:`soft_euler_number` returns it per item (or per ``block`` of
pixels); :class:`EulerLoss` (registered ``euler``) is the mean absolute difference with the
Euler number of the truth mask (hard ``[I_HR > t]``), per item or per block, divided by
``scale`` (``None``: the number of blocks' pixels / 1000, i.e. an error per 1000 px).

Connectivity follows :func:`skimage.measure.euler_number`: 2D ``connectivity`` 1 (4) or 2 (8);
3D 1 (6) or 3 (26); ``None``: the highest (the segmentation convention of the benchmarks).

Example
-------
>>> import torch
>>> ring = torch.zeros(1, 1, 7, 7); ring[..., 1:6, 1:6] = 1; ring[..., 3, 3] = 0
>>> float(soft_euler_number(ring, connectivity=2))        # one object, one hole
0.0
>>> float(soft_euler_number(torch.full((1, 1, 4, 4), 0.0)))
0.0
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import torch
import torch.nn.functional as F

from geosr.core.errors import ConfigError, InputError
from geosr.losses.registry import register_loss
from geosr.losses.topology import SoftPoreMap, _check_dims

__all__ = ["euler_lut", "soft_euler_map", "soft_euler_number", "EulerLoss"]

_LOW = {2: 1, 3: 1}
_HIGH = {2: 2, 3: 3}


@functools.lru_cache(maxsize=None)
def _closed_lut(d: int) -> tuple[float, ...]:
    """High-connectivity (closed cells) contribution of each of the 2^(2^d) window configurations (bit i of
    the index = corner ``itertools.product((0, 1), repeat=d)[i]``)."""
    corners = list(itertools.product((0, 1), repeat=d))
    out = []
    for code in range(2 ** len(corners)):
        on = [c for i, c in enumerate(corners) if code >> i & 1]
        total = 0.0
        for k in range(d + 1):
            for axes in itertools.combinations(range(d), k):
                for signs in itertools.product((0, 1), repeat=k):
                    present = any(all(v[a] == s for a, s in zip(axes, signs)) for v in on)
                    total += (-0.5) ** k * present
        out.append(total)
    return tuple(out)


def euler_lut(dims: int, connectivity: int | None = None) -> np.ndarray:
    """The 2^(2^dims) local Euler contributions for ``connectivity`` (skimage's convention)."""
    if dims not in (2, 3):
        raise InputError(f"the Euler number needs 2D or 3D images, got {dims}D",
                         where="loss euler")
    conn = _HIGH[dims] if connectivity is None else connectivity
    allowed = (_LOW[dims], _HIGH[dims])
    if conn not in allowed:
        raise ConfigError(f"connectivity must be one of {allowed} in {dims}D, got {conn!r}",
                          where="loss.euler.connectivity",
                          hint="1 = face neighbours; 2 (2D) / 3 (3D) = all neighbours")
    high = np.asarray(_closed_lut(dims))
    if conn == _HIGH[dims]:
        return high
    full = high.size - 1
    return (-1.0) ** (dims + 1) * high[[full - c for c in range(high.size)]]


def soft_euler_map(p: torch.Tensor, connectivity: int | None = None) -> torch.Tensor:
    """Expected local Euler contribution of every vertex window of a probability map ``p``
    (``(N, C, [D,] H, W)`` in [0, 1], padded with one layer of 0); shape
    ``(N, C, [D+1,] H+1, W+1)``. Its sum is the (expected) Euler number."""
    dims = p.dim() - 2
    lut = euler_lut(dims, connectivity)
    q = F.pad(p, (1, 1) * dims)
    size = q.shape[2:]
    views = []
    for corner in itertools.product((0, 1), repeat=dims):
        idx = [slice(None), slice(None)] + [slice(c, c + s - 1) for c, s in zip(corner, size)]
        views.append(q[tuple(idx)])
    out = torch.zeros_like(views[0])

    def walk(i: int, prob: torch.Tensor | None, code: int) -> None:
        nonlocal out
        if i == len(views):
            if lut[code]:
                out = out + float(lut[code]) * prob
            return
        v = views[i]
        walk(i + 1, (1 - v) if prob is None else prob * (1 - v), code)
        walk(i + 1, v if prob is None else prob * v, code | 1 << i)

    walk(0, None, 0)
    return out


def _block_sums(m: torch.Tensor, block: int | None) -> torch.Tensor:
    """Sums of ``m`` over the whole item (``block`` None) or over block×block(×block) tiles
    (the last, partial tiles included) — shape (N, C, tiles)."""
    if not block:
        return m.flatten(2).sum(-1, keepdim=True)
    dims = m.dim() - 2
    pad = []
    for s in reversed(m.shape[2:]):
        pad += [0, (-s) % block]
    m = F.pad(m, pad)
    pool = F.avg_pool2d if dims == 2 else F.avg_pool3d
    return (pool(m, block) * block ** dims).flatten(2)


def soft_euler_number(p: torch.Tensor, connectivity: int | None = None,
                      block: int | None = None) -> torch.Tensor:
    """Expected Euler number of each item (``(N, C)``), or of each tile of ``block`` windows
    (``(N, C, tiles)``); exact where ``p`` is 0/1."""
    _check_dims(p, "euler")
    sums = _block_sums(soft_euler_map(p, connectivity), block)
    return sums[..., 0] if not block else sums


@register_loss("euler")
class EulerLoss(SoftPoreMap):
    """``mean |χ(p) − χ(G)| / scale`` on the soft pore map (see the module docstring).

    Parameters
    ----------
    threshold, tau, dark, soft_target:
        The soft pore map (normalised intensity units; see :class:`SoftPoreMap`).
    connectivity:
        Euler connectivity of the pores (None: 8 in 2D, 26 in 3D — skimage's convention).
    block:
        Compare the Euler numbers of block×block(×block) tiles of vertex windows (in HR
        pixels, e.g. 16) rather than of whole patches, so errors in different places do not
        cancel. None: whole patches.
    scale:
        Divisor of the absolute error (None: pixels per tile / 1000, an error per 1000 px).
    """

    name = "euler"

    def __init__(self, threshold: float = 0.5, tau: float = 0.05, dark: bool = False,
                 soft_target: bool = False, connectivity: int | None = None,
                 block: int | None = None, scale: float | None = None):
        super().__init__(threshold, tau, dark, soft_target)
        if block is not None and (isinstance(block, bool) or not isinstance(block, int)
                                  or block < 2):
            raise ConfigError(f"block must be an integer >= 2 or null, got {block!r}",
                              where="loss.euler.block")
        if scale is not None and not (isinstance(scale, (int, float)) and math.isfinite(scale)
                                      and scale > 0):
            raise ConfigError(f"scale must be a positive number or null, got {scale!r}",
                              where="loss.euler.scale")
        if connectivity is not None and connectivity not in (1, 2, 3):
            raise ConfigError(f"connectivity must be 1, 2, 3 or null, got {connectivity!r}",
                              where="loss.euler.connectivity")
        self.connectivity, self.block, self.scale = connectivity, block, scale

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p, g, dims = self._pair(pred, target)
        chi_p = soft_euler_number(p, self.connectivity, self.block)
        with torch.no_grad():
            chi_g = soft_euler_number(g, self.connectivity, self.block)
        if self.scale is not None:
            scale = self.scale
        else:
            tile = self.block ** dims if self.block else math.prod(p.shape[2:])
            scale = tile / 1000.0
        return (chi_p - chi_g).abs().mean() / scale
