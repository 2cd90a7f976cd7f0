"""Continuous-space geometry for the phantoms: polylines, smooth perturbations, rotations and a
clearance index that keeps non-adjacent objects apart.

All coordinates are physical (µm) in the image's axis order, ``(y, x)`` in 2D and ``(z, y, x)``
in 3D. Nothing here touches a pixel grid; :mod:`geosr.phantoms.raster` does.

Example
-------
>>> import numpy as np
>>> p = np.array([[0.0, 0.0], [0.0, 3.0], [4.0, 3.0]])
>>> polyline_length(p)
7.0
>>> q, r = resample(p, np.ones(3), step=1.0)
>>> len(q), float(polyline_length(q))
(8, 7.0)
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

__all__ = [
    "polyline_length", "arc_lengths", "resample", "point_at", "split_at", "perpendiculars",
    "unit", "perturbed_path", "rotate_towards", "random_unit", "Clearance", "clip_to_box",
    "segment_inside", "project_to_polyline",
]


def unit(v: np.ndarray) -> np.ndarray:
    """``v / |v|`` (a zero vector is returned unchanged)."""
    v = np.asarray(v, float)
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def arc_lengths(points: np.ndarray) -> np.ndarray:
    """Cumulative arc length at each vertex of a polyline, starting at 0 (µm)."""
    points = np.asarray(points, float)
    if len(points) < 2:
        return np.zeros(len(points))
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])


def polyline_length(points: np.ndarray) -> float:
    """Total length of a polyline (µm)."""
    return float(arc_lengths(points)[-1]) if len(points) > 1 else 0.0


def resample(points: np.ndarray, radii: np.ndarray, step: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """Resample a polyline (and its per-vertex radii) at uniform arc-length ``step``; both ends
    are kept, so the result has ``ceil(L / step) + 1`` vertices."""
    points = np.asarray(points, float)
    radii = np.asarray(radii, float)
    s = arc_lengths(points)
    total = s[-1]
    n = max(2, int(np.ceil(total / step - 1e-9)) + 1)
    t = np.linspace(0.0, total, n)
    out = np.stack([np.interp(t, s, points[:, k]) for k in range(points.shape[1])], axis=1)
    return out, np.interp(t, s, radii)


def point_at(points: np.ndarray, radii: np.ndarray, s: float, arc: np.ndarray | None = None
             ) -> tuple[np.ndarray, float]:
    """The position and radius at arc length ``s`` along a polyline (``arc``: its cumulative
    arc lengths, if already known)."""
    arc = arc_lengths(points) if arc is None else arc
    pos = np.array([np.interp(s, arc, points[:, k]) for k in range(points.shape[1])])
    return pos, float(np.interp(s, arc, radii))


def split_at(points: np.ndarray, radii: np.ndarray, cuts: list[float]
             ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cut a polyline at the given arc lengths (sorted, strictly inside) into pieces; each cut
    point is inserted exactly, so consecutive pieces share their end/start vertex and the
    pieces' lengths add up to the whole."""
    arc = arc_lengths(points)
    bounds = [0.0, *sorted(cuts), float(arc[-1])]
    pieces = []
    for s0, s1 in zip(bounds[:-1], bounds[1:]):
        inner = (arc > s0) & (arc < s1)
        p0, r0 = point_at(points, radii, s0)
        p1, r1 = point_at(points, radii, s1)
        pts = np.vstack([p0, points[inner], p1])
        rad = np.concatenate([[r0], radii[inner], [r1]])
        pieces.append((pts, rad))
    return pieces


def perpendiculars(direction: np.ndarray) -> np.ndarray:
    """An orthonormal basis (rows) of the space perpendicular to ``direction`` (2D or 3D)."""
    d = unit(direction)
    if d.size == 2:
        return np.array([[-d[1], d[0]]])
    helper = np.zeros(3)
    helper[int(np.argmin(np.abs(d)))] = 1.0
    e1 = unit(np.cross(d, helper))
    e2 = np.cross(d, e1)
    return np.stack([e1, e2])


def random_unit(rng: np.random.Generator, dims: int) -> np.ndarray:
    """A direction uniformly distributed on the circle/sphere."""
    v = rng.normal(size=dims)
    while np.linalg.norm(v) < 1e-9:
        v = rng.normal(size=dims)
    return unit(v)


def rotate_towards(direction: np.ndarray, angle: float, rng: np.random.Generator) -> np.ndarray:
    """``direction`` turned by ``angle`` (radians) towards a random perpendicular direction."""
    d = unit(direction)
    perp = perpendiculars(d)
    w = unit(perp.T @ rng.normal(size=len(perp)))
    return unit(np.cos(angle) * d + np.sin(angle) * w)


def perturbed_path(start: np.ndarray, end: np.ndarray, *, amplitude: float, step: float,
                   rng: np.random.Generator, n_modes: int = 3) -> np.ndarray:
    """A gently tortuous path from ``start`` to ``end``: the straight segment plus a smooth
    perpendicular offset made of ``n_modes`` sine modes ``sin(k π t)`` (zero at both ends) with
    random Gaussian amplitudes of standard deviation ``amplitude / k`` (µm). Sampled every
    ``step`` µm or finer."""
    start = np.asarray(start, float)
    end = np.asarray(end, float)
    chord = end - start
    length = float(np.linalg.norm(chord))
    n = max(2, int(np.ceil(length / step)) + 1)
    t = np.linspace(0.0, 1.0, n)[:, None]
    path = start + t * chord
    if amplitude > 0 and length > 0:
        perp = perpendiculars(chord)
        for k in range(1, n_modes + 1):
            coeff = rng.normal(0.0, amplitude / k, size=len(perp))
            path = path + np.sin(k * np.pi * t) * (coeff @ perp)[None, :]
    return path


def project_to_polyline(points: np.ndarray, line: np.ndarray, radii: np.ndarray,
                        arc: np.ndarray | None = None
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each point: distance to the polyline ``line``, arc length of the closest point on
    it (plus ``arc[0]``, so a piece of a longer line keeps the whole line's arc lengths) and
    the radius interpolated there."""
    points = np.asarray(points, float)
    a, b = line[:-1], line[1:]
    ab = b - a
    denom = np.maximum((ab**2).sum(axis=1), 1e-300)
    diff = points[:, None, :] - a[None, :, :]
    t = np.clip((diff * ab[None]).sum(axis=2) / denom[None], 0.0, 1.0)
    d = np.linalg.norm(diff - t[..., None] * ab[None], axis=2)
    k = np.argmin(d, axis=1)
    rows = np.arange(len(points))
    arc = arc_lengths(line) if arc is None else arc
    seg_len = np.sqrt(denom)
    tk = t[rows, k]
    return (d[rows, k], arc[k] + tk * seg_len[k],
            radii[k] + tk * (radii[k + 1] - radii[k]))


def segment_inside(points: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> bool:
    """True if every vertex lies in the closed box ``[lo, hi]``."""
    return bool(np.all((points >= lo - 1e-9) & (points <= hi + 1e-9)))


def clip_to_box(points: np.ndarray, radii: np.ndarray, lo: np.ndarray, hi: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, bool]:
    """Truncate a polyline at its first exit from the box ``[lo, hi]``.

    Returns ``(points, radii, clipped)``; when clipped, the last vertex lies exactly on the face
    where the path left the box and everything after it is dropped (also any re-entry)."""
    inside = np.all((points >= lo - 1e-9) & (points <= hi + 1e-9), axis=1)
    if inside.all():
        return points, radii, False
    k = int(np.argmin(inside))  # first outside vertex
    if k == 0:
        return points[:0], radii[:0], True
    a, b = points[k - 1], points[k]
    d = b - a
    t_exit = 1.0
    for ax in range(len(a)):
        if d[ax] > 0 and b[ax] > hi[ax]:
            t_exit = min(t_exit, (hi[ax] - a[ax]) / d[ax])
        elif d[ax] < 0 and b[ax] < lo[ax]:
            t_exit = min(t_exit, (lo[ax] - a[ax]) / d[ax])
    t_exit = float(np.clip(t_exit, 0.0, 1.0))
    exit_point = np.clip(a + t_exit * d, lo, hi)
    r_exit = radii[k - 1] + t_exit * (radii[k] - radii[k - 1])
    return (np.vstack([points[:k], exit_point]), np.concatenate([radii[:k], [r_exit]]), True)


class Clearance:
    """Sampled centrelines with radii and owners, to reject a new object that would touch an
    existing one.

    Two objects are *clear* when their centrelines are farther apart than
    ``r_eff1 + r_eff2 + gap + step`` everywhere, with ``r_eff = max(r, pad)``: ``pad`` accounts
    for the voxels of a drawn centreline that stick out of a thinner tube, ``gap`` for the voxel
    adjacency used by connected components (``√dims · h``), ``step`` for the sampling. Ellipsoids
    (lacunae) are stored separately and tested with their normalised radius ``ρ``, using the
    conservative bound ``distance ≥ (ρ − 1)·c_min``. Each stored point has an owner (a strand
    id) so that a new branch may touch its parent near the junction, and only there.
    """

    def __init__(self, dims: int, *, gap: float, pad: float, step: float):
        self.dims = dims
        self.gap = float(gap)
        self.pad = float(pad)
        self.step = float(step)
        self._tree_pts = np.empty((0, dims))
        self._tree_rad = np.empty(0)
        self._tree_own = np.empty(0, np.int64)
        self._tree: cKDTree | None = None
        self._new: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._n_new = 0
        self.r_max = 0.0
        self.ellipsoids: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (c, R, semi)
        self._ell_arrays = None

    # -------------------------------------------------------------- tubes
    def sample(self, points: np.ndarray, radii: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The polyline resampled at this index's step, radii padded to ``r_eff``."""
        pts, rad = resample(points, radii, self.step)
        return pts, np.maximum(rad, self.pad)

    def add(self, points: np.ndarray, radii: np.ndarray, owner: int,
            keep: np.ndarray | None = None) -> None:
        """Store an accepted polyline (``keep`` selects which resampled vertices to store)."""
        pts, rad = self.sample(points, radii)
        if keep is not None:
            pts, rad = pts[keep], rad[keep]
        if len(pts) == 0:
            return
        self._new.append((pts, rad, np.full(len(pts), owner, np.int64)))
        self._n_new += len(pts)
        self.r_max = max(self.r_max, float(rad.max()))
        if self._n_new > 4000:
            self._rebuild()

    def _rebuild(self) -> None:
        if self._new:
            self._tree_pts = np.vstack([self._tree_pts, *[p for p, _, _ in self._new]])
            self._tree_rad = np.concatenate([self._tree_rad, *[r for _, r, _ in self._new]])
            self._tree_own = np.concatenate([self._tree_own, *[o for _, _, o in self._new]])
            self._new, self._n_new = [], 0
            self._tree = cKDTree(self._tree_pts)

    @staticmethod
    def _ignored(other: np.ndarray, owners: np.ndarray, ignore) -> np.ndarray:
        out = np.zeros(len(other), bool)
        for own_set, near in ignore:
            mine = np.isin(owners, list(own_set))
            if mine.any():
                out |= mine & near(other)
        return out

    def conflicts(self, pts: np.ndarray, rad: np.ndarray, check: np.ndarray,
                  ignore: list = ()) -> bool:
        """True if a resampled polyline (``pts``, padded ``rad``) comes too close to a stored
        point at a vertex where ``check`` is True. A stored point is ignored when, for some
        ``(owners, near)`` in ``ignore``, its owner is in ``owners`` and ``near(point)`` is
        True (``near`` maps an (n, dims) array to n booleans)."""
        pts, rad = pts[check], rad[check]
        if len(pts) == 0:
            return False
        tol = self.gap + self.step
        if self._tree is not None:
            hits = self._tree.query_ball_point(pts, rad + self.r_max + tol, return_sorted=False)
            for i, idx in enumerate(hits):
                if idx:
                    idx = np.asarray(idx)
                    d = np.linalg.norm(self._tree_pts[idx] - pts[i], axis=1)
                    bad = d < rad[i] + self._tree_rad[idx] + tol
                    if bad.any():
                        bad_idx = idx[bad]
                        if ignore:
                            skip = self._ignored(self._tree_pts[bad_idx], self._tree_own[bad_idx],
                                                 ignore)
                            if skip.all():
                                continue
                        return True
        for other, orad, own in self._new:
            lo = other.min(axis=0) - orad.max() - rad.max() - tol
            hi = other.max(axis=0) + orad.max() + rad.max() + tol
            near = np.all((pts >= lo) & (pts <= hi), axis=1)
            if not near.any():
                continue
            d = np.linalg.norm(pts[near][:, None, :] - other[None, :, :], axis=2)
            bad = d < rad[near][:, None] + orad[None, :] + tol
            if bad.any():
                cols = np.flatnonzero(bad.any(axis=0))
                if ignore and self._ignored(other[cols], own[cols], ignore).all():
                    continue
                return True
        return False

    # ---------------------------------------------------------- ellipsoids
    def add_ellipsoid(self, centre: np.ndarray, rotation: np.ndarray, semi: np.ndarray) -> None:
        self.ellipsoids.append((np.asarray(centre, float), np.asarray(rotation, float),
                                np.asarray(semi, float)))
        self._ell_arrays = None

    def _arrays(self):
        if getattr(self, "_ell_arrays", None) is None:
            centres = np.array([c for c, _, _ in self.ellipsoids])
            rots = np.array([r for _, r, _ in self.ellipsoids])
            semis = np.array([s for _, _, s in self.ellipsoids])
            self._ell_arrays = (centres, rots, semis, semis.max(axis=1), semis.min(axis=1))
        return self._ell_arrays

    def ellipsoid_rho(self, pts: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """Normalised radius ``ρ`` of each point w.r.t. each stored ellipsoid, shape (K, m);
        ellipsoids farther than their longest semi-axis + ``margin`` from every point's bounding
        box get ``inf``."""
        pts = np.asarray(pts, float)
        out = np.full((len(self.ellipsoids), len(pts)), np.inf)
        if not self.ellipsoids or len(pts) == 0:
            return out
        centres, rots, semis, amax, _ = self._arrays()
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        gap = np.maximum(np.maximum(lo - centres, centres - hi), 0.0)
        near = np.flatnonzero(np.linalg.norm(gap, axis=1) <= amax + margin)
        if len(near):
            diff = pts[None, :, :] - centres[near][:, None, :]
            local = np.einsum("kmd,kdj->kmj", diff, rots[near])
            out[near] = np.sqrt(np.sum((local / semis[near][:, None, :]) ** 2, axis=2))
        return out

    def ellipsoid_clearance(self, pts: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """Lower bound of the distance from each point to each ellipsoid surface, (K, m)
        (``inf`` for ellipsoids farther than ``margin`` beyond their bounding sphere)."""
        rho = self.ellipsoid_rho(pts, margin)
        if rho.size == 0:
            return rho
        cmin = self._arrays()[4][:, None]
        return (rho - 1.0) * cmin
