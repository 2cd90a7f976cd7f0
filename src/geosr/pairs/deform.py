"""A smooth non-rigid residual field on top of the global fit (``--deformable``).

The common field is cut into ``tiles`` per axis (3, fewer for small fields); in each tile the shift alone is refitted with
the global rotation, zoom, PSF and intensity map held fixed (same forward model, same
Gauss–Newton fit). The tile-centre corrections (LR px, relative to the global shift) are
interpolated linearly between the centres (constant beyond them) into a displacement field
``δ(p)``, applied in the single resampling of the HR image and reported separately
(``deformation_rms_lr_px``, ``deformation_max_lr_px``, ``deformation_tiles_undetermined``).

A tile without enough structure (an empty background corner) does not fix its shift: its fit
follows the noise (on real widefield scenes, corrections of up to 0.8 LR px where the truth was
0.2). Each tile's correction therefore carries its standard error (from the fit's Jacobian and
residual variance); a tile whose standard error exceeds ``max_se_lr_px`` (0.1 LR px) is
*undetermined*: its correction is set to 0 (the global fit), and the count is reported.

>>> import numpy as np
>>> f = DeformationField(((10.0, 30.0), (10.0, 30.0)), np.zeros((2, 2, 2)))
>>> f.at_lr(np.array([[20.0], [20.0]])).shape
(2, 1)
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from geosr.pairs.model import fit_standard_errors

__all__ = ["DeformationField", "fit_field"]


@dataclasses.dataclass(frozen=True)
class DeformationField:
    """Tile centres (LR px, per axis) and the shift correction at each (``(dims, *tiles)``,
    LR px)."""

    centres: tuple[tuple[float, ...], ...]
    values: np.ndarray
    standard_errors: np.ndarray | None = None
    undetermined: int = 0

    def at_lr(self, coords: np.ndarray) -> np.ndarray:
        """The correction (``(dims, n)``, LR px) at LR coordinates ``coords`` (``(dims, n)``)."""
        from scipy.interpolate import RegularGridInterpolator

        pts = np.stack([np.clip(c, min(cs), max(cs)) for c, cs in zip(coords, self.centres)],
                       axis=-1)
        if any(len(cs) == 1 for cs in self.centres):
            return np.repeat(self.values.reshape(len(self.centres), -1)[:, :1], len(pts), 1)
        return np.stack([RegularGridInterpolator(self.centres, v)(pts) for v in self.values])

    def stats(self) -> dict[str, float]:
        norm = np.sqrt((self.values ** 2).sum(axis=0))
        return {"deformation_rms_lr_px": float(np.sqrt(np.mean(norm ** 2))),
                "deformation_max_lr_px": float(norm.max()),
                "deformation_tiles_undetermined": int(self.undetermined)}


def fit_field(model, x: np.ndarray, lr_v: np.ndarray, box, tiles: int = 3,
              max_se_lr_px: float = 0.1) -> DeformationField | None:
    """Fit the per-tile shift corrections: ``tiles`` per axis, fewer when a tile would have
    less than 12 LR px a side (None below 2 tiles); a tile whose shift standard error exceeds
    ``max_se_lr_px`` (LR px) keeps the global shift (correction 0)."""
    from scipy.optimize import least_squares

    d = len(box)
    tiles = min(tiles, min(hi - lo for lo, hi in box) // 12)
    if tiles < 2:
        return None
    splits = [np.array_split(np.arange(lo, hi), tiles) for lo, hi in box]
    free = np.zeros(len(x), dtype=bool)
    free[:d] = True
    values = np.zeros((d,) + (tiles,) * d)
    ses = np.zeros_like(values)
    for idx in np.ndindex(*(tiles,) * d):
        parts = [splits[k][i] for k, i in enumerate(idx)]
        start = tuple(int(p[0]) for p in parts)
        shape = tuple(len(p) for p in parts)
        target = lr_v[tuple(slice(s, s + n) for s, n in zip(start, shape))]
        mask = np.ones(shape, dtype=bool)

        def fun(v, start=start, shape=shape, target=target):
            return (model.predict(_with(x, v, d), start, shape) - target).ravel()

        def jac(v, start=start, shape=shape, mask=mask):
            return model.jacobian(_with(x, v, d), start, shape, mask)[:, :d]

        result = least_squares(fun, x[:d].copy(), jac=jac, method="lm", xtol=1e-10,
                               max_nfev=40)
        values[(slice(None),) + idx] = result.x - x[:d]
        ses[(slice(None),) + idx] = _shift_se(result, d)
    undetermined = (ses > max_se_lr_px).any(axis=0)
    values[:, undetermined] = 0.0
    centres = tuple(tuple(float(np.mean(p)) for p in axis) for axis in splits)
    return DeformationField(centres, values, ses, int(undetermined.sum()))


def _shift_se(result, d: int) -> np.ndarray:
    """Standard errors (LR px) of a tile's fitted shift; infinite when they cannot be had."""
    se = fit_standard_errors(result, [str(k) for k in range(d)])
    return np.array([se[str(k)] for k in range(d)]) if se else np.full(d, np.inf)


def _with(x: np.ndarray, shift: Sequence[float], d: int) -> np.ndarray:
    out = x.copy()
    out[:d] = shift
    return out
