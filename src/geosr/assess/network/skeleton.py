"""Skeleton-graph statistics (through ``skan``) and comparison with a ground-truth graph.

The skeleton (:func:`~geosr.assess.network.cldice.skeletonize`) is turned into a branch graph:
``skan.Skeleton`` paths with their lengths in µm (spacing-aware), where

- adjacent junction pixels (degree ≥ 3) form **one junction** (full connectivity), and paths
  made only of junction pixels are internal to it and dropped;
- **spurs** (junction–endpoint branches) shorter than ``prune_um`` (default 2 voxels of the
  coarsest axis) are removed once, then junctions left with two branches are dissolved and
  their branches joined;
- isolated skeleton pixels (single-voxel objects) are counted apart (``n_isolated``) and carry
  no length.

Reported: total length (µm) and **length density** ``L = Σ branch length / field`` in µm/µm²
(2D, µm⁻¹) or µm/µm³ (3D, µm⁻²), also per mm; junction and endpoint densities (mm⁻² or mm⁻³);
the distribution of node degrees (junctions and endpoints) and of branch lengths (µm).

Ground-truth graph matching rule (:func:`compare_graph`)
--------------------------------------------------------
Each truth edge's polyline (µm, attribute ``polyline``, else the straight segment between its
nodes' ``pos``) is sampled every ≤ half a pixel; a sample is **covered** when a predicted skeleton
voxel lies within the tolerance ``τ = max(radius_um of the edge, 2 voxels)`` (or the given
``tolerance_um``). An edge is **recovered** when at least ``coverage`` (default 50 %) of its
length inside the field is covered; ``length_recall`` is the covered fraction of the total
length. Conversely each predicted branch is **false** when less than ``coverage`` of its voxels
lie within τ (τ of the nearest truth edge) of a truth polyline.

Example
-------
>>> import numpy as np
>>> m = np.zeros((40, 40), bool); m[20, 5:35] = True; m[5:35, 20] = True
>>> s = skeleton_stats(m, spacing=0.5)
>>> round(s.length_um, 2), s.n_junctions, s.n_endpoints, sorted(s.degrees.tolist())
(29.0, 1, 4, [1, 1, 1, 1, 4])
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np

from geosr.assess.network._common import (FOREGROUND, as_mask, field_volume_um, label,
                                          length_density_unit, per_mm, safe_ratio)

__all__ = ["SkeletonStats", "GraphMatch", "skeleton_stats", "compare_graph"]


@dataclasses.dataclass(frozen=True)
class SkeletonStats:
    """Branch-graph statistics of one skeleton (see the module notes for the rules)."""

    dims: int
    spacing: tuple[float, ...]
    field_um: float
    length_um: float
    length_density: float
    length_density_mm: float
    n_branches: int
    n_junctions: int
    n_endpoints: int
    n_isolated: int
    junction_density_mm: float
    endpoint_density_mm: float
    mean_degree: float
    mean_branch_length_um: float
    prune_um: float
    degrees: np.ndarray = dataclasses.field(repr=False)
    branch_lengths_um: np.ndarray = dataclasses.field(repr=False)
    skeleton: np.ndarray = dataclasses.field(repr=False, compare=False)
    branch_pixels: list = dataclasses.field(repr=False, compare=False, default_factory=list)
    segments_um: np.ndarray | None = dataclasses.field(repr=False, compare=False, default=None)

    @property
    def length_unit(self) -> str:
        return length_density_unit(self.dims)

    def as_dict(self) -> dict[str, Any]:
        keys = ("dims", "length_um", "length_density", "length_density_mm", "n_branches",
                "n_junctions", "n_endpoints", "n_isolated", "junction_density_mm",
                "endpoint_density_mm", "mean_degree", "mean_branch_length_um", "prune_um")
        d = {k: getattr(self, k) for k in keys}
        d["length_density_unit"] = self.length_unit
        d["length_density_mm_unit"] = f"mm^-{self.dims - 1}"
        d["degree_histogram"] = {int(k): int(v) for k, v in
                                 zip(*np.unique(self.degrees, return_counts=True))}
        b = self.branch_lengths_um
        d["branch_length_quantiles_um"] = (
            {f"p{q}": float(np.percentile(b, q)) for q in (10, 25, 50, 75, 90)}
            if b.size else {})
        return d


def _neighbour_count(sk: np.ndarray) -> np.ndarray:
    from scipy import ndimage as ndi

    k = np.ones((3,) * sk.ndim, np.uint8)
    return ndi.convolve(sk.astype(np.uint8), k, mode="constant") - sk.astype(np.uint8)


def _segments(coords_list: list[np.ndarray], spacing: np.ndarray, step: int = 3) -> np.ndarray:
    """Vectors (µm) between points taken every ``step`` pixels along each branch."""
    out = []
    for c in coords_list:
        if len(c) < 2:
            continue
        idx = np.r_[np.arange(0, len(c) - 1, step), len(c) - 1]
        pts = c[idx] * spacing
        out.append(np.diff(pts, axis=0))
    return np.concatenate(out) if out else np.zeros((0, len(spacing)))


def skeleton_stats(mask: Any, spacing: Sequence[float] | None = None, *,
                   skeleton: np.ndarray | None = None, prune_um: float | None = None
                   ) -> SkeletonStats:
    """Length density, junction/endpoint densities and degree/branch-length distributions of
    the skeleton of ``mask`` (computed unless ``skeleton`` is given)."""
    import networkx as nx

    from geosr.assess.network.cldice import skeletonize

    m, sp = as_mask(mask, spacing)
    sk = skeletonize(m) if skeleton is None else np.asarray(skeleton, bool)
    dims = m.ndim
    field = field_volume_um(m.shape, sp)
    prune = 2 * max(sp) if prune_um is None else float(prune_um)
    nb = _neighbour_count(sk)
    isolated = sk & (nb == 0)
    n_isolated = int(np.count_nonzero(isolated))
    work = sk & ~isolated
    g = nx.MultiGraph()
    branch_pixels: list[np.ndarray] = []
    if work.any():
        import skan

        S = skan.Skeleton(work, spacing=np.asarray(sp, float))
        coords = np.asarray(S.coordinates)
        deg = np.asarray(S.degrees)
        junction_img = np.zeros(work.shape, bool)
        jidx = np.flatnonzero(deg >= 3)
        junction_img[tuple(coords[jidx].T)] = True
        jlab, _ = label(junction_img, FOREGROUND[dims])
        lengths = np.asarray(S.path_lengths(), float)
        for i in range(S.n_paths):
            path = np.asarray(S.path(i))
            ends = []
            for e in (path[0], path[-1]):
                if deg[e] >= 3:
                    ends.append(("J", int(jlab[tuple(coords[e])])))
                elif deg[e] == 1:
                    ends.append(("E", int(e)))
                else:
                    ends.append(("C", int(e)))      # isolated cycle
            if all(deg[path] >= 3):                 # inside a junction cluster
                continue
            g.add_edge(ends[0], ends[1], length=float(lengths[i]), path=i)
        # prune short spurs once
        spurs = [(u, v, k) for u, v, k, d in g.edges(keys=True, data=True)
                 if d["length"] < prune and ((u[0] == "E") != (v[0] == "E"))
                 and "J" in (u[0], v[0])]
        for u, v, k in spurs:
            g.remove_edge(u, v, k)
        g.remove_nodes_from([n for n in list(g.nodes) if g.degree(n) == 0])
        kept_paths = [d["path"] for _, _, d in g.edges(data=True)]
        branch_pixels = [coords[np.asarray(S.path(i))] for i in kept_paths]
        # dissolve junctions left with two branches
        for n in [n for n in list(g.nodes) if n[0] == "J" and g.degree(n) == 2]:
            nbrs = list(g.edges(n, data=True, keys=True))
            if len(nbrs) != 2 or any(u == v for u, v, _, _ in nbrs):
                continue
            (_, a, ka, da), (_, b, kb, db) = nbrs
            g.remove_node(n)
            g.add_edge(a, b, length=da["length"] + db["length"], path=-1)
    lengths_arr = np.array([d["length"] for _, _, d in g.edges(data=True)], float)
    degrees = np.array([g.degree(n) for n in g.nodes], int)
    total = float(lengths_arr.sum())
    n_j = int(np.count_nonzero(degrees >= 3))
    n_e = int(np.count_nonzero(degrees == 1))
    jdeg = degrees[degrees >= 3]
    return SkeletonStats(
        dims=dims, spacing=tuple(sp), field_um=field, length_um=total,
        length_density=total / field, length_density_mm=per_mm(total / field, dims - 1),
        n_branches=int(lengths_arr.size), n_junctions=n_j, n_endpoints=n_e,
        n_isolated=n_isolated, junction_density_mm=per_mm(n_j / field, dims),
        endpoint_density_mm=per_mm(n_e / field, dims),
        mean_degree=float(jdeg.mean()) if jdeg.size else float("nan"),
        mean_branch_length_um=float(lengths_arr.mean()) if lengths_arr.size else float("nan"),
        prune_um=prune, degrees=degrees, branch_lengths_um=lengths_arr, skeleton=sk,
        branch_pixels=branch_pixels,
        segments_um=_segments(branch_pixels, np.asarray(sp, float)))


# --------------------------------------------------------------------------- graph match
@dataclasses.dataclass(frozen=True)
class GraphMatch:
    """Comparison of a predicted skeleton with a ground-truth graph (module notes)."""

    n_truth_edges: int
    n_recovered: int
    recovered_fraction: float
    length_recall: float
    n_pred_branches: int
    n_false: int
    false_fraction: float
    false_length_fraction: float
    coverage: float
    tolerance_um: float | None
    rule: str

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _polyline(graph, u, v, data) -> np.ndarray:
    pts = data.get("polyline")
    if pts is None or len(pts) < 2:
        pts = [graph.nodes[u]["pos"], graph.nodes[v]["pos"]]
    return np.asarray(pts, float)


def _densify(pts: np.ndarray, step: float) -> np.ndarray:
    seg = np.diff(pts, axis=0)
    lens = np.linalg.norm(seg, axis=1)
    out = [pts[:1]]
    for p0, s, L in zip(pts[:-1], seg, lens):
        k = max(1, int(math.ceil(L / step)))
        t = (np.arange(1, k + 1) / k)[:, None]
        out.append(p0 + t * s)
    return np.concatenate(out)


def compare_graph(stats: SkeletonStats, graph: Any, *, shape: Sequence[int] | None = None,
                  origin: Sequence[float] | None = None, tolerance_um: float | None = None,
                  coverage: float = 0.5) -> GraphMatch:
    """Recovered and false edges of a predicted skeleton against a ground-truth graph.

    ``graph`` is a networkx graph (node ``pos`` in µm, axis order of the image; edge
    ``polyline``, ``radius_um``) or a ``graph.json`` path; ``origin`` is the physical
    position (µm) of the first pixel's centre (default 0); ``shape`` the image shape (default
    the skeleton's). Rule in the module notes.
    """
    from scipy.spatial import cKDTree

    if not hasattr(graph, "edges"):
        from geosr.phantoms import load_graph

        graph = load_graph(graph)
    sp = np.asarray(stats.spacing, float)
    shape = tuple(stats.skeleton.shape if shape is None else shape)
    org = np.zeros(len(sp)) if origin is None else np.asarray(origin, float)
    lo, hi = org - sp / 2, org + (np.asarray(shape) - 0.5) * sp
    step = 0.5 * float(sp.min())
    min_tol = 2 * float(sp.max())
    skel_pts = np.argwhere(stats.skeleton) * sp + org
    tree_p = cKDTree(skel_pts) if len(skel_pts) else None
    gt_pts, gt_tol = [], []
    n_edges = n_rec = 0
    total_len = covered_len = 0.0
    for u, v, data in graph.edges(data=True):
        pts = _densify(_polyline(graph, u, v, data), step)
        if len(pts) > 1:
            mid = (pts[1:] + pts[:-1]) / 2
            seglen = np.linalg.norm(np.diff(pts, axis=0), axis=1)
        else:
            mid, seglen = pts, np.zeros(1)
        inside = np.all((mid >= lo) & (mid <= hi), axis=1)
        if not inside.any() or seglen[inside].sum() <= 0:
            continue
        tol = tolerance_um if tolerance_um is not None else \
            max(float(data.get("radius_um", 0.0) or 0.0), min_tol)
        mid, seglen = mid[inside], seglen[inside]
        if tree_p is not None:
            d, _ = tree_p.query(mid, distance_upper_bound=tol * 1.0001)
            cov = np.isfinite(d) & (d <= tol)
        else:
            cov = np.zeros(len(mid), bool)
        L = float(seglen.sum())
        c = float(seglen[cov].sum())
        n_edges += 1
        total_len += L
        covered_len += c
        n_rec += int(c >= coverage * L)
        gt_pts.append(mid)
        gt_tol.append(np.full(len(mid), tol))
    n_branches = len(stats.branch_pixels)
    n_false, false_len, branch_len = 0, 0.0, 0.0
    if gt_pts and n_branches:
        allp, allt = np.concatenate(gt_pts), np.concatenate(gt_tol)
        tree_g = cKDTree(allp)
        for coords in stats.branch_pixels:
            pos = coords * sp + org
            d, j = tree_g.query(pos)
            ok = d <= allt[j]
            L = float(np.linalg.norm(np.diff(pos, axis=0), axis=1).sum()) if len(pos) > 1 \
                else float(sp.min())
            branch_len += L
            if ok.mean() < coverage:
                n_false += 1
                false_len += L
    elif n_branches:
        n_false = n_branches
        false_len = branch_len = 1.0
    rule = (f"truth edge recovered if >= {coverage:.0%} of its length lies within tolerance of "
            f"the predicted skeleton; predicted branch false if < {coverage:.0%} of its voxels "
            "lie within tolerance of a truth polyline; tolerance = "
            + (f"{tolerance_um:g} um" if tolerance_um is not None else
               f"max(edge radius, 2 voxels = {min_tol:g} um)"))
    return GraphMatch(
        n_truth_edges=n_edges, n_recovered=n_rec,
        recovered_fraction=safe_ratio(n_rec, n_edges),
        length_recall=safe_ratio(covered_len, total_len), n_pred_branches=n_branches,
        n_false=n_false, false_fraction=safe_ratio(n_false, n_branches),
        false_length_fraction=safe_ratio(false_len, branch_len), coverage=float(coverage),
        tolerance_um=tolerance_um, rule=rule)
