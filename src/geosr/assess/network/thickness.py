"""Local thickness as a **diameter** distribution in µm (Hildebrand & Rüegsegger 1997).

At each pore voxel, the diameter of the largest ball that fits in the pores and contains the
voxel. Computed with ``porespy.filters.local_thickness`` (integer radii, brute-force sphere
insertion), which returns a **radius** ``R`` in voxels. The diameter reported here is
``(2 R + 1) · h``: a digital ball of integer radius R spans 2R + 1 voxels. Plain doubling
(``2 R · h``) measures between the centres of the outermost voxels and is one voxel short on
average: a cylinder of radius r voxels centred between pixels (2r voxels wide) gets R = r − 1,
so doubling gives 2r − 2 while 2R + 1 gives 2r − 1; centred on a pixel (2r + 1 wide) R = r and
2R + 1 = 2r + 1 — within one voxel either way (checked in the tests).

Summary statistics are over the pore voxels (the BoneJ convention for Tb.Th: mean of the
thickness map over the phase). Needs isotropic voxels: resample first otherwise.

Example
-------
>>> import numpy as np
>>> y, x = np.mgrid[:40, :40]
>>> disk = (y - 20) ** 2 + (x - 20) ** 2 <= 8 ** 2        # 17 pixels wide
>>> t = local_thickness(disk, spacing=0.5)
>>> t.max_um                              
8.5
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from geosr.assess.network._common import as_mask
from geosr.core.errors import InputError

__all__ = ["ThicknessResult", "local_thickness"]


@dataclasses.dataclass(frozen=True)
class ThicknessResult:
    """Local-thickness diameters (µm) of the pore voxels: mean, sd, median, max, the values
    and the map (0 outside the pores)."""

    mean_um: float
    sd_um: float
    median_um: float
    max_um: float
    n_voxels: int
    convention: str
    values_um: np.ndarray = dataclasses.field(repr=False)
    map_um: np.ndarray = dataclasses.field(repr=False, compare=False)
    note: str | None = None

    def histogram(self, bins: int | Sequence[float] = 20) -> tuple[np.ndarray, np.ndarray]:
        """Counts and bin edges (µm) of the diameter distribution."""
        return np.histogram(self.values_um, bins=bins)

    def as_dict(self) -> dict[str, Any]:
        v = self.values_um
        quant = {f"p{q}_um": float(np.percentile(v, q)) for q in (10, 90)} if v.size else {}
        return {"mean_um": self.mean_um, "sd_um": self.sd_um, "median_um": self.median_um,
                "max_um": self.max_um, **quant, "n_voxels": self.n_voxels,
                "convention": self.convention, "note": self.note}


CONVENTION = ("diameter = (2 R + 1) h, R the integer radius (voxels) of porespy's local "
              "thickness (method bf); statistics over pore voxels")


def local_thickness(mask: Any, spacing: Sequence[float] | None = None) -> ThicknessResult:
    """Local-thickness diameter map and distribution of a 2D or 3D mask (module notes)."""
    m, sp = as_mask(mask, spacing)
    if not np.allclose(sp, sp[0], rtol=1e-3):
        raise InputError(f"local thickness needs isotropic voxels, got spacing {sp} um",
                         where="thickness",
                         hint="resample to isotropic voxels first (e.g. geosr.resample.upscale "
                              "of the coarse axis), or leave thickness out")
    h = float(sp[0])
    n = int(np.count_nonzero(m))
    if n == 0:
        nan = float("nan")
        return ThicknessResult(nan, nan, nan, nan, 0, CONVENTION, np.zeros(0, np.float32),
                               np.zeros(m.shape, np.float32),
                               "segmentation found nothing: no thickness")
    if n == m.size:
        nan = float("nan")
        return ThicknessResult(nan, nan, nan, nan, n, CONVENTION, np.zeros(0, np.float32),
                               np.zeros(m.shape, np.float32),
                               "segmentation found only pores: no matrix bounds the thickness")
    import porespy as ps

    radius = ps.filters.local_thickness(m, method="bf")
    diam = np.where(m, (2.0 * np.asarray(radius, np.float32) + 1.0) * h, 0.0).astype(np.float32)
    vals = diam[m]
    return ThicknessResult(float(vals.mean()), float(vals.std()), float(np.median(vals)),
                           float(vals.max()), n, CONVENTION, vals, diam)
