"""Distance to the network and anisotropy of the network.

**Distance to the network** (``d_can`` of the LCN literature): for every matrix voxel, the
Euclidean distance (µm, spacing-aware) to the centre of the nearest pore voxel; mean, median,
95th percentile and maximum over the matrix. Cheap (one distance transform) and very sensitive
to missed thin branches. Voxels beyond the field are not pores, so the distance near the border
is measured to pores inside the field only.

**Anisotropy**: the **skeleton fabric tensor** ``T = Σ ℓ_i u_i u_iᵀ / Σ ℓ_i`` over short skeleton
segments (direction ``u_i``, length ``ℓ_i`` in µm; points taken every 3 skeleton voxels along
each branch, which averages out the staircase of digital lines), degree of anisotropy
``DA = 1 − λ_min / λ_max`` (0 isotropic, 1 all segments parallel) and the principal direction
(eigenvector of ``λ_max``, in the image's axis order). Not the mean-intercept length (MIL) of
BoneJ, which needs thousands of line probes; the fabric tensor describes the same orientation
for a network of thin branches. The comparison of prediction and truth gives the DA difference
and the angle between principal directions (degrees, 0–90).

A second, skeleton-free estimate is the **structure tensor** of the mask
(:func:`structure_tensor_anisotropy`): ``S = mean over voxels of ∇m ∇mᵀ`` of the mask smoothed
with a Gaussian of ``sigma_um`` (default 1 voxel), in µm⁻²; gradients are normal to the pore
walls, so the network direction is the eigenvector of the **smallest** eigenvalue and
``DA = 1 − λ_min / λ_max`` (1 for parallel tubes, also for parallel sheets — the fabric tensor
tells the two apart).

Example
-------
>>> import numpy as np
>>> m = np.zeros((32, 32), bool); m[::8, :] = True          # horizontal lines
>>> d = distance_to_network(m, spacing=0.5)
>>> round(d.mean_um, 3), round(d.max_um, 2)
(1.357, 3.5)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np

from geosr.assess.network._common import as_mask, distance_um

__all__ = ["DistanceResult", "Fabric", "distance_to_network", "fabric_tensor",
           "structure_tensor_anisotropy", "principal_angle_deg"]


@dataclasses.dataclass(frozen=True)
class DistanceResult:
    """Distance (µm) from matrix voxels to the nearest pore voxel."""

    mean_um: float
    median_um: float
    p95_um: float
    max_um: float
    n_voxels: int
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def distance_to_network(mask: Any, spacing: Sequence[float] | None = None) -> DistanceResult:
    """Distance from the matrix to the network (module notes); NaN with a note when there is
    no pore (the distance is then undefined) or no matrix."""
    m, sp = as_mask(mask, spacing)
    matrix = ~m
    n = int(np.count_nonzero(matrix))
    nan = float("nan")
    if not m.any():
        return DistanceResult(nan, nan, nan, nan, n, "segmentation found nothing: no network "
                                                     "to measure the distance to")
    if n == 0:
        return DistanceResult(0.0, 0.0, 0.0, 0.0, 0, "no matrix: everything is pore")
    d = distance_um(matrix, sp)[matrix]
    return DistanceResult(float(d.mean()), float(np.median(d)), float(np.percentile(d, 95)),
                          float(d.max()), n)


@dataclasses.dataclass(frozen=True)
class Fabric:
    """An orientation tensor (skeleton fabric tensor, trace 1; or structure tensor, µm⁻²), its
    eigenvalues (descending), the network's principal direction and the degree of anisotropy
    ``1 − λ_min/λ_max``."""

    tensor: np.ndarray = dataclasses.field(repr=False)
    eigenvalues: tuple[float, ...]
    principal_direction: tuple[float, ...]
    degree_of_anisotropy: float
    n_segments: int
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"tensor": np.asarray(self.tensor).tolist(), "eigenvalues": list(self.eigenvalues),
                "principal_direction": list(self.principal_direction),
                "degree_of_anisotropy": self.degree_of_anisotropy,
                "n_segments": self.n_segments, "note": self.note}


def fabric_tensor(segments_um: np.ndarray) -> Fabric:
    """Fabric tensor of segment vectors (µm, ``(n, dims)``), e.g.
    :attr:`SkeletonStats.segments_um <geosr.assess.network.skeleton.SkeletonStats>`.

    >>> f = fabric_tensor(np.array([[0.0, 1.0], [0.0, 2.0], [1.0, 0.0]]))
    >>> round(f.degree_of_anisotropy, 3), f.principal_direction
    (0.667, (0.0, 1.0))
    """
    v = np.asarray(segments_um, float)
    dims = v.shape[1] if v.ndim == 2 else 3
    lengths = np.linalg.norm(v, axis=1) if v.size else np.zeros(0)
    keep = lengths > 0
    if not keep.any():
        nan = float("nan")
        return Fabric(np.full((dims, dims), nan), (nan,) * dims, (nan,) * dims, nan, 0,
                      "no skeleton: anisotropy undefined")
    v, lengths = v[keep], lengths[keep]
    u = v / lengths[:, None]
    t = (u.T * lengths) @ u / lengths.sum()
    return _eig_fabric(t, int(keep.sum()), smallest=False)


def _eig_fabric(t: np.ndarray, n: int, *, smallest: bool, note: str | None = None) -> Fabric:
    w, vec = np.linalg.eigh(t)
    order = np.argsort(w)[::-1]
    w, vec = w[order], vec[:, order]
    p = vec[:, -1] if smallest else vec[:, 0]
    p = p * (1 if p[np.argmax(np.abs(p))] >= 0 else -1)
    direction = tuple(float(round(x, 12)) + 0.0 for x in p)
    da = 1.0 - float(max(w[-1], 0.0)) / float(w[0]) if w[0] > 0 else float("nan")
    return Fabric(t, tuple(float(x) for x in w), direction, da, n, note)


def structure_tensor_anisotropy(mask: Any, spacing: Sequence[float] | None = None, *,
                                sigma_um: float | None = None) -> Fabric:
    """Structure tensor of the (smoothed) mask: degree of anisotropy and network direction
    (eigenvector of the smallest eigenvalue); see the module notes.

    >>> m = np.zeros((32, 32), bool); m[::8, :] = True          # horizontal lines
    >>> f = structure_tensor_anisotropy(m, spacing=0.5)
    >>> round(f.degree_of_anisotropy, 3), f.principal_direction
    (1.0, (0.0, 1.0))
    """
    from scipy import ndimage as ndi

    m, sp = as_mask(mask, spacing)
    dims = m.ndim
    if not m.any() or m.all():
        nan = float("nan")
        return Fabric(np.full((dims, dims), nan), (nan,) * dims, (nan,) * dims, nan, 0,
                      "no pore wall: anisotropy undefined")
    sigma = float(min(sp)) if sigma_um is None else float(sigma_um)
    smooth = ndi.gaussian_filter(m.astype(np.float32), [sigma / h for h in sp])
    grads = np.gradient(smooth, *sp)
    t = np.empty((dims, dims))
    for i in range(dims):
        for j in range(i, dims):
            t[i, j] = t[j, i] = float(np.mean(grads[i] * grads[j], dtype=np.float64))
    return _eig_fabric(t, int(m.size), smallest=True)


def principal_angle_deg(a: Sequence[float], b: Sequence[float]) -> float:
    """Angle (degrees, 0–90) between two axes (directions up to sign); NaN if undefined.

    >>> principal_angle_deg((1, 0), (1, 1))
    45.0
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if not (np.isfinite(na) and np.isfinite(nb)) or na == 0 or nb == 0:
        return float("nan")
    c = abs(float(a @ b)) / (na * nb)
    return float(round(math.degrees(math.acos(min(1.0, c))), 10))
