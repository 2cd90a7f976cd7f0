"""Lacunae (osteocyte lacunae, or any compact pores) among the components of a pore mask:
count and density, size, shape axes, and detection F1 against the truth.

Detection rule
--------------
1. Open the mask with a Euclidean ball of diameter ``opening_um`` (default 2 µm), which removes
   the canaliculi (0.2–0.5 µm, or a few voxels in scaled phantoms) attached to the lacunae.
2. Keep the fully connected components of the opened mask whose volume lies in ``size_range_um``
   (default 50–2000 µm³ in 3D; 20–400 µm² for the areas of 2D sections).

Density: ``count / field`` in mm⁻³ (3D) or mm⁻² (2D); every lacuna whose centroid lies in the
field is counted (all centroids of a mask's components do). Shape: eigenvalues ``λ1 ≥ λ2 (≥ λ3)``
of the covariance of voxel positions (µm²): semi-axes ``√(5λ)`` in 3D (uniform ellipsoid),
``2√λ`` in 2D (uniform ellipse); lacunae that touch the border (cut by the field) are counted but
left out of the size and shape means.

Detection F1: predicted and true centroids are paired one-to-one by the Hungarian assignment of
their distances, pairs farther apart than ``max_distance_um`` (default 5 µm) are not matches;
precision = matches / predicted, recall = matches / true. The relative volume error is averaged
over matched pairs. The truth is the truth mask run through the same detector, or the
``lacuna`` nodes of a phantom graph (``pos``, ``volume_um3``).

Example
-------
>>> import numpy as np
>>> z, y, x = np.mgrid[:80, :80, :80] * 0.25                # µm, 0.25 µm voxels
>>> ell = ((z - 10) / 7.5) ** 2 + ((y - 10) / 4) ** 2 + ((x - 10) / 2.5) ** 2 <= 1
>>> lac = detect_lacunae(ell, spacing=0.25)
>>> lac.count, [round(float(a), 1) for a in lac.semi_axes_um[0]], round(float(lac.sizes_um[0]))
(1, [7.5, 4.0, 2.5], 310)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from geosr.assess.network._common import (FOREGROUND, as_mask, field_volume_um, label, per_mm,
                                          safe_ratio, size_unit, voxel_volume_um)

__all__ = ["Lacunae", "LacunaMatch", "detect_lacunae", "match_lacunae", "graph_lacunae",
           "DEFAULT_OPENING_UM", "default_size_range"]

DEFAULT_OPENING_UM = 2.0


def default_size_range(dims: int) -> tuple[float, float]:
    """Default size window: (50, 2000) µm³ in 3D, (20, 400) µm² in 2D."""
    return (50.0, 2000.0) if dims == 3 else (20.0, 400.0)


@dataclasses.dataclass(frozen=True)
class Lacunae:
    """Lacunae detected in one mask (module notes)."""

    dims: int
    count: int
    density_mm: float
    sizes_um: np.ndarray = dataclasses.field(repr=False)
    centroids_um: np.ndarray = dataclasses.field(repr=False)
    semi_axes_um: np.ndarray = dataclasses.field(repr=False)
    touches_border: np.ndarray = dataclasses.field(repr=False)
    opening_um: float = DEFAULT_OPENING_UM
    size_range_um: tuple[float, float] = (50.0, 2000.0)

    @property
    def interior(self) -> np.ndarray:
        return ~self.touches_border

    def summary(self) -> dict[str, float]:
        """Mean size and semi-axes (interior lacunae), elongation a/b and flatness b/c."""
        nan = float("nan")
        inside = self.interior
        out = {"count": self.count, "density_mm": self.density_mm,
               "n_border": int(np.count_nonzero(self.touches_border))}
        if not inside.any():
            out.update(mean_size_um=nan, a_um=nan, b_um=nan, c_um=nan, elongation=nan,
                       flatness=nan)
            return out
        axes = self.semi_axes_um[inside].mean(axis=0)
        out["mean_size_um"] = float(self.sizes_um[inside].mean())
        for name, v in zip("abc", axes):
            out[f"{name}_um"] = float(v)
        out["elongation"] = float(np.mean(self.semi_axes_um[inside, 0]
                                          / self.semi_axes_um[inside, 1]))
        out["flatness"] = (float(np.mean(self.semi_axes_um[inside, 1]
                                         / self.semi_axes_um[inside, 2]))
                           if self.dims == 3 else nan)
        return out

    def as_dict(self) -> dict[str, Any]:
        return {**self.summary(), "dims": self.dims, "size_unit": size_unit(self.dims),
                "opening_um": self.opening_um, "size_range_um": list(self.size_range_um)}


def detect_lacunae(mask: Any, spacing: Sequence[float] | None = None, *,
                   opening_um: float = DEFAULT_OPENING_UM,
                   size_range_um: tuple[float, float] | None = None,
                   origin: Sequence[float] | None = None,
                   distance: np.ndarray | None = None) -> Lacunae:
    """Detect lacunae in a binary mask (module notes). Centroids are in µm from ``origin``
    (the physical position of the first pixel's centre; default 0); ``distance`` is the
    mask's distance map in µm if already computed."""
    from scipy import ndimage as ndi

    from geosr.assess.network.porosity import large_pores

    m, sp = as_mask(mask, spacing)
    dims = m.ndim
    lo, hi = size_range_um or default_size_range(dims)
    opened = large_pores(m, sp, diameter_um=opening_um, distance=distance) \
        if opening_um > 0 else m
    labels, n = label(opened, FOREGROUND[dims])
    vox = voxel_volume_um(sp)
    field = field_volume_um(m.shape, sp)
    org = np.zeros(dims) if origin is None else np.asarray(origin, float)
    spa = np.asarray(sp, float)
    sizes, cents, axes, border = [], [], [], []
    if n:
        counts = np.bincount(labels.ravel(), minlength=n + 1)
        for k, sl in enumerate(ndi.find_objects(labels), start=1):
            size = counts[k] * vox
            if sl is None or not (lo <= size <= hi):
                continue
            local = np.argwhere(labels[sl] == k).astype(float)
            pos = (local + [s.start for s in sl]) * spa
            c = pos.mean(axis=0)
            cov = np.cov((pos - c).T, bias=True) if len(pos) > 1 else np.zeros((dims, dims))
            lam = np.clip(np.sort(np.linalg.eigvalsh(np.atleast_2d(cov)))[::-1], 0, None)
            factor = 5.0 if dims == 3 else 4.0
            sizes.append(size)
            cents.append(c + org)
            axes.append(np.sqrt(factor * lam))
            border.append(any(s.start == 0 or s.stop == n_ax
                              for s, n_ax in zip(sl, m.shape)))
    count = len(sizes)
    return Lacunae(dims, count, per_mm(count / field, dims), np.asarray(sizes, float),
                   np.asarray(cents, float).reshape(count, dims),
                   np.asarray(axes, float).reshape(count, dims), np.asarray(border, bool),
                   float(opening_um), (float(lo), float(hi)))


def graph_lacunae(graph: Any) -> tuple[np.ndarray, np.ndarray]:
    """Centroids (µm) and volumes (µm³, NaN if absent) of a phantom graph's ``lacuna`` nodes."""
    pts, vols = [], []
    for _, data in graph.nodes(data=True):
        if data.get("kind") == "lacuna":
            pts.append(np.asarray(data["pos"], float))
            vols.append(float(data.get("volume_um3", float("nan"))))
    dims = len(pts[0]) if pts else 3
    return np.asarray(pts, float).reshape(len(pts), dims), np.asarray(vols, float)


@dataclasses.dataclass(frozen=True)
class LacunaMatch:
    """Detection precision, recall and F1 of lacunae, and the mean relative volume error of
    matched pairs."""

    n_pred: int
    n_truth: int
    matched: int
    precision: float
    recall: float
    f1: float
    volume_error: float
    max_distance_um: float

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def match_lacunae(pred: Lacunae | np.ndarray, truth: Lacunae | np.ndarray, *,
                  max_distance_um: float = 5.0, pred_sizes: np.ndarray | None = None,
                  truth_sizes: np.ndarray | None = None) -> LacunaMatch:
    """One-to-one matching of lacuna centroids (Hungarian, ≤ ``max_distance_um``).

    >>> match_lacunae(np.array([[0., 0, 0], [20, 0, 0]]), np.array([[1., 0, 0]])).f1
    0.6666666666666666
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    def parts(x, sizes):
        if isinstance(x, Lacunae):
            return x.centroids_um, x.sizes_um
        return np.asarray(x, float), (None if sizes is None else np.asarray(sizes, float))

    pc, ps = parts(pred, pred_sizes)
    tc, ts = parts(truth, truth_sizes)
    n_p, n_t = len(pc), len(tc)
    matched, errors = 0, []
    if n_p and n_t:
        d = cdist(pc, tc)
        big = max_distance_um * 10 + d.max() + 1
        rows, cols = linear_sum_assignment(np.where(d <= max_distance_um, d, big))
        ok = d[rows, cols] <= max_distance_um
        matched = int(ok.sum())
        if ps is not None and ts is not None:
            for r, c in zip(rows[ok], cols[ok]):
                if np.isfinite(ts[c]) and ts[c] > 0:
                    errors.append((ps[r] - ts[c]) / ts[c])
    precision, recall = safe_ratio(matched, n_p), safe_ratio(matched, n_t)
    if n_p and n_t:
        f1 = 2 * precision * recall / (precision + recall) if matched else 0.0
    else:
        f1 = float("nan") if not (n_p or n_t) else 0.0
    return LacunaMatch(n_p, n_t, matched, precision, recall, float(f1),
                       float(np.mean(errors)) if errors else float("nan"),
                       float(max_distance_um))
