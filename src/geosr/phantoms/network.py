"""A network of tubes and ellipsoids built in continuous space, with the exact graph.

The kinds ``dentin``, ``lcn`` and ``cortical`` are built the same way:

1. *Nodes* (tubule ends, lacunae, junctions, tips, border crossings) and *strands* (polylines
   with a radius per vertex: a whole tubule, a canaliculus, a canal) are added one by one.
2. A candidate strand is accepted only if it keeps clear of every object it is not attached to
   (:class:`~geosr.phantoms.geometry.Clearance`): its centreline must stay ``r1 + r2 + gap``
   away from every other centreline (``gap = √dims·h + step``) and outside every other lacuna by
   ``r + gap``, so no two pixels of non-adjacent objects are neighbours. Only where it attaches
   are contacts allowed: its vertices inside the parent (or inside its lacuna) are not checked,
   the parent's own points are ignored within ``2·(r_parent + r + gap)`` of the junction and
   the parent's other branches within ``r_parent + r``. Contacts there only join things that
   are joined anyway, so the graph's connected components are exactly the mask's (8-connected
   in 2D, 26-connected in 3D); a small loop the graph lacks can still appear there, so the
   cycle rank (β1) is close to, but not guaranteed equal to, the mask's.
3. A branch starting on another strand creates a *junction* node there; inside the parent the
   branch runs along the perpendicular from the parent's centreline to the point where its own
   centreline leaves the parent's wall (hidden inside the parent in the image, and the route a
   skeleton takes), so branch lengths are comparable with skeleton lengths. At the end each
   strand is cut at its junctions into graph edges, so edge lengths add up to strand lengths.
4. Strands never leave the box ``[0, extent]``: a strand that may (a dangling canaliculus) is cut
   where it first leaves and ends on a ``border`` node; one that must not is rejected.

Example
-------
>>> import numpy as np
>>> net = Network((40, 40), (0.5, 0.5))
>>> a = net.add_node([2.0, 10.0], "tubule_end"); b = net.add_node([18.0, 10.0], "tubule_end")
>>> sid = net.add_strand(np.array([[2.0, 10.0], [18.0, 10.0]]), np.array([1.0, 1.0]),
...                      kind="tubule", label=1, start=a, end=b)
>>> bid = net.add_branch(sid, 8.0, np.array([[10.0, 10.0], [10.0, 16.0]]), np.full(2, 0.3),
...                      kind="branch", end_kind="branch_end")
>>> g = net.graph()
>>> total = sum(d["length_um"] for *_, d in g.edges(data=True))
>>> g.number_of_nodes(), g.number_of_edges(), round(total, 3)
(4, 3, 22.0)
"""

from __future__ import annotations

import dataclasses
from typing import Any

import networkx as nx
import numpy as np

from geosr.phantoms.geometry import (Clearance, arc_lengths, clip_to_box, point_at,
                                     polyline_length, project_to_polyline, resample,
                                     segment_inside, split_at)
from geosr.phantoms.raster import Canvas

__all__ = ["Network", "Strand", "LARGE", "THIN", "CANAL", "generate_network"]

LARGE = 1  # label code of large pores (tubules, lacunae, canals)
THIN = 2   # label code of thin branches (tubule branches, canaliculi, Volkmann canals)
CANAL = 3  # label code of a vascular (Haversian) canal inside an LCN phantom

_DECIMALS = 4  # positions in the graph are rounded to 0.1 nm


@dataclasses.dataclass
class Strand:
    points: np.ndarray
    radii: np.ndarray
    kind: str
    label: int
    start: int
    end: int
    junctions: list[tuple[float, int]] = dataclasses.field(default_factory=list)

    @property
    def arc(self) -> np.ndarray:
        """Cumulative arc length at each vertex (cached; points never change)."""
        if getattr(self, "_arc", None) is None:
            self._arc = arc_lengths(self.points)
        return self._arc

    @property
    def length(self) -> float:
        return float(self.arc[-1])

    def at(self, s: float) -> tuple[np.ndarray, float]:
        """Position and radius at arc length ``s``."""
        return point_at(self.points, self.radii, s, self.arc)


class Network:
    """Nodes, strands and lacunae in a box of ``shape × spacing`` µm (see the module doc)."""

    def __init__(self, shape: tuple[int, ...], spacing: tuple[float, ...], *,
                 excl_factor: float = 2.0):
        self.shape = tuple(int(n) for n in shape)
        self.dims = len(self.shape)
        self.spacing = np.asarray(spacing, float)
        self.extent = self.spacing * np.array(self.shape)
        self.lo = np.zeros(self.dims)
        self.hi = self.extent.copy()
        self.h = float(self.spacing.max())
        step = float(self.spacing.min())
        self.clear = Clearance(self.dims, gap=np.sqrt(self.dims) * self.h,
                               pad=0.5 * np.sqrt(self.dims) * self.h, step=step)
        self.excl_factor = excl_factor
        self.nodes: list[dict[str, Any]] = []
        self.strands: list[Strand] = []
        self.lacunae: list[int] = []  # node ids of lacunae
        self.attached: dict[int, set[int]] = {}  # node id -> strands ending there
        self.rejected = 0

    # --------------------------------------------------------------- nodes
    def add_node(self, pos, kind: str, **attrs: Any) -> int:
        self.nodes.append({"pos": np.asarray(pos, float), "kind": kind, **attrs})
        return len(self.nodes) - 1

    def add_lacuna(self, centre, rotation, semi_axes, kind: str = "lacuna") -> int:
        """An ellipsoid node; ``rotation``'s columns are the directions of ``semi_axes`` (µm)."""
        nid = self.add_node(centre, kind, rotation=np.asarray(rotation, float),
                            semi_axes_um=np.asarray(semi_axes, float))
        self.clear.add_ellipsoid(centre, rotation, semi_axes)
        self.lacunae.append(nid)
        return nid

    @property
    def gap(self) -> float:
        return self.clear.gap + self.clear.step

    def r_eff(self, r: float) -> float:
        return max(float(r), self.clear.pad)

    # ------------------------------------------------------------ checking
    def _attached_to_strand(self, sid: int) -> set[int]:
        """The strand and every strand attached to one of its junctions."""
        out = {sid}
        for _, node in self.strands[sid].junctions:
            out |= self.attached.get(node, set())
        return out

    def _endpoint_rules(self, pts: np.ndarray, rad: np.ndarray, end: Any):
        """For one end of a candidate: the vertices not to check at all (inside the object it
        attaches to) and the rules ``(owners, near)`` of stored points to ignore: the parent's
        points within ``2·(r_parent + r + gap)`` of the junction and its other branches' points
        within ``r_parent + r`` of it. At a lacuna nothing outside it is ignored: canaliculi of
        the same lacuna must be clear of each other from its surface on."""
        none = np.zeros(len(pts), bool)
        if end is None:
            return none, []
        r_new = float(rad.max())
        if isinstance(end, tuple):  # ("junction", parent strand, arc length)
            _, sid, s = end
            pos, r_par = self.strands[sid].at(s)
            r_par = self.r_eff(r_par)
            skip = np.linalg.norm(pts - pos, axis=1) < r_par + r_new
            far = self.excl_factor * (r_par + r_new + self.gap)
            near = r_par + r_new
            siblings = self._attached_to_strand(sid) - {sid}
            return skip, [({sid}, lambda q: np.linalg.norm(q - pos, axis=1) < far),
                          (siblings, lambda q: np.linalg.norm(q - pos, axis=1) < near)]
        node = self.nodes[end]
        if "semi_axes_um" in node:  # inside the lacuna; siblings must part at its surface
            k = self.lacunae.index(end)
            return self.clear.ellipsoid_rho(pts, r_new)[k] < 1.0, []
        return none, []

    def fits(self, points: np.ndarray, radii: np.ndarray, start: Any = None, end: Any = None
             ) -> bool:
        """True if the candidate strand keeps clear of everything but its end nodes."""
        pts, rad = self.clear.sample(points, radii)
        skip0, ign0 = self._endpoint_rules(pts, rad, start)
        skip1, ign1 = self._endpoint_rules(pts, rad, end)
        own = {e for e in (start, end) if isinstance(e, (int, np.integer))
               and "semi_axes_um" in self.nodes[e]}
        if self.lacunae:
            clearance = self.clear.ellipsoid_clearance(pts, rad.max() + self.gap)
            for k, nid in enumerate(self.lacunae):
                if nid in own:
                    continue
                if np.any(clearance[k] < rad + self.gap):
                    return False
        return not self.clear.conflicts(pts, rad, ~(skip0 | skip1), ign0 + ign1)

    def _store(self, points: np.ndarray, radii: np.ndarray, owner: int) -> None:
        pts, _ = self.clear.sample(points, radii)
        keep = np.ones(len(pts), bool)
        if self.lacunae:
            keep = ~np.any(self.clear.ellipsoid_rho(pts) < 1.0, axis=0)
        self.clear.add(points, radii, owner, keep=keep)

    def _register(self, strand: Strand) -> int:
        self.strands.append(strand)
        sid = len(self.strands) - 1
        for node in (strand.start, strand.end):
            self.attached.setdefault(node, set()).add(sid)
        self._store(strand.points, strand.radii, sid)
        return sid

    # ------------------------------------------------------------- strands
    def junction_ok(self, sid: int, s: float, min_sep: float) -> bool:
        """Whether a junction at arc length ``s`` of strand ``sid`` is at least ``min_sep`` µm
        from the strand's ends and its other junctions."""
        strand = self.strands[sid]
        if s < min_sep or s > strand.length - min_sep:
            return False
        return all(abs(s - s2) >= min_sep for s2, _ in strand.junctions)

    def add_strand(self, points, radii, *, kind: str, label: int, start: int, end: int,
                   check: bool = False) -> int | None:
        """Add a strand between two existing nodes (checked for clearance if ``check``)."""
        points = np.asarray(points, float)
        radii = np.asarray(radii, float)
        if check and not self.fits(points, radii, start, end):
            self.rejected += 1
            return None
        return self._register(Strand(points, radii, kind, label, start, end))

    def add_branch(self, parent: int, s: float, points, radii, *, kind: str,
                   label: int = THIN, end: int | None = None, end_kind: str = "tip",
                   clip: bool = True, check: bool = True, min_sep: float | None = None,
                   min_length: float = 0.0) -> int | None:
        """A strand starting at arc length ``s`` of strand ``parent`` (a new junction node there)
        and ending at node ``end``, or at a new node of kind ``end_kind`` (``border`` if the path
        had to be cut at the box). Returns the strand id, or None if rejected."""
        points = np.asarray(points, float)
        radii = np.asarray(radii, float)
        start_key = ("junction", parent, s)
        return self._add_attached(start_key, points, radii, kind=kind, label=label, end=end,
                                  end_kind=end_kind, clip=clip, check=check,
                                  min_length=min_length, min_sep=min_sep)

    def add_from_node(self, node: int, points, radii, *, kind: str, label: int = THIN,
                      end: Any = None, end_kind: str = "tip", clip: bool = True,
                      check: bool = True, min_length: float = 0.0) -> int | None:
        """A strand starting at an existing node (a lacuna) and ending at ``end``: an existing
        node, a junction ``("junction", strand, s)`` on another strand, or None for a new
        ``end_kind`` node at the path's last vertex."""
        return self._add_attached(node, np.asarray(points, float), np.asarray(radii, float),
                                  kind=kind, label=label, end=end, end_kind=end_kind,
                                  clip=clip, check=check, min_length=min_length)

    def branch_separation(self, radii: np.ndarray) -> float:
        return 2.0 * self.r_eff(float(np.max(radii))) + self.gap

    def ligature(self, sid: int, s: float, points: np.ndarray, radii: np.ndarray):
        """Re-route the part of a branch inside its parent strand ``sid``: the path (which starts
        on the parent's centreline at arc length ``s``) is cut where it leaves the parent's
        wall, at ``E``, and prefixed with the perpendicular from the parent's centreline to
        ``E``, as a skeleton would run. Returns ``(points, radii, s_new)`` with ``s_new`` the
        new junction's arc length on the parent, or None if the path does not leave the parent
        within a few parent radii."""
        parent = self.strands[sid]
        reach = 4.0 * float(parent.radii.max()) + 2 * self.clear.step
        near = np.linalg.norm(points - points[0], axis=1) <= reach
        n_near = int(np.argmin(near)) if not near.all() else len(points)
        if n_near < 2:
            n_near = min(2, len(points))
        arc = parent.arc
        lo = max(int(np.searchsorted(arc, s - reach)) - 1, 0)
        hi = min(int(np.searchsorted(arc, s + reach)) + 1, len(arc) - 1)
        window = slice(lo, hi + 1)
        w_pts, w_rad, w_arc = parent.points[window], parent.radii[window], arc[window]
        dist, _, r_par = project_to_polyline(points[:n_near], w_pts, w_rad, w_arc)
        outside = np.flatnonzero(dist > r_par)
        if len(outside) == 0 or outside[0] == 0:
            return None
        i = int(outside[0])
        d0, d1 = dist[i - 1] - r_par[i - 1], dist[i] - r_par[i]
        t = float(np.clip(-d0 / (d1 - d0), 0.0, 1.0)) if d1 != d0 else 1.0
        exit_pt = points[i - 1] + t * (points[i] - points[i - 1])
        exit_r = radii[i - 1] + t * (radii[i] - radii[i - 1])
        _, arc_e, _ = project_to_polyline(exit_pt[None, :], w_pts, w_rad, w_arc)
        s_new = float(arc_e[0])
        foot, _ = parent.at(s_new)
        new_pts = np.vstack([foot, exit_pt, points[i:]])
        new_rad = np.concatenate([[radii[0]], [exit_r], radii[i:]])
        keep = np.concatenate([[True], np.linalg.norm(np.diff(new_pts, axis=0), axis=1) > 1e-9])
        return new_pts[keep], new_rad[keep], s_new

    def _add_attached(self, start: Any, points, radii, *, kind, label, end, end_kind, clip,
                      check, min_length, min_sep=None) -> int | None:
        sep = self.branch_separation(radii) if min_sep is None else min_sep
        if isinstance(start, tuple):  # perpendicular ligature inside the parent
            routed = self.ligature(start[1], start[2], points, radii)
            if routed is None:
                self.rejected += 1
                return None
            points, radii, s_new = routed
            start = ("junction", start[1], s_new)
            if not self.junction_ok(start[1], s_new, sep):
                self.rejected += 1
                return None
        if isinstance(end, tuple):
            routed = self.ligature(end[1], end[2], points[::-1], radii[::-1])
            if routed is None:
                self.rejected += 1
                return None
            rev_pts, rev_rad, s_end = routed
            points, radii = rev_pts[::-1], rev_rad[::-1]
            end = ("junction", end[1], s_end)
            if not self.junction_ok(end[1], s_end, self.branch_separation(radii)):
                self.rejected += 1
                return None
        clipped = False
        if clip and end is None:
            points, radii, clipped = clip_to_box(points, radii, self.lo, self.hi)
        elif not segment_inside(points, self.lo, self.hi):
            self.rejected += 1
            return None
        if len(points) < 2 or polyline_length(points) <= max(min_length, 1e-9):
            self.rejected += 1
            return None
        if check and not self.fits(points, radii, start, end):
            self.rejected += 1
            return None
        start_node = self._materialise(start)
        if end is None:
            end_node = self.add_node(points[-1], "border" if clipped else end_kind)
        else:
            end_node = self._materialise(end)
        return self._register(Strand(points, radii, kind, label, start_node, end_node))

    def _materialise(self, key: Any) -> int:
        if isinstance(key, tuple):
            _, sid, s = key
            strand = self.strands[sid]
            pos, _ = strand.at(s)
            node = self.add_node(pos, "junction")
            strand.junctions.append((float(s), node))
            return node
        return int(key)

    # --------------------------------------------------------------- output
    def render(self, canvas: Canvas) -> None:
        """Paint lacunae and strands into ``canvas``."""
        for nid in self.lacunae:
            node = self.nodes[nid]
            canvas.add_ellipsoid(node["pos"], node["rotation"], node["semi_axes_um"],
                                 label=LARGE)
        for strand in self.strands:
            canvas.add_tube(strand.points, strand.radii, label=strand.label)

    def _length_outside_lacunae(self, points: np.ndarray) -> float:
        if not self.lacunae:
            return polyline_length(points)
        fine, _ = resample(points, np.zeros(len(points)), step=self.h / 8)
        mids = 0.5 * (fine[1:] + fine[:-1])
        seg = np.linalg.norm(np.diff(fine, axis=0), axis=1)
        inside = np.any(self.clear.ellipsoid_rho(mids) < 1.0, axis=0)
        return float(seg[~inside].sum())

    def graph(self) -> nx.Graph:
        """The ground-truth graph: every node, and one edge per strand piece between
        consecutive nodes along it (attributes in :mod:`geosr.phantoms.api`)."""
        g = nx.Graph()
        for nid, node in enumerate(self.nodes):
            attrs: dict[str, Any] = {"pos": _round(node["pos"]), "kind": node["kind"]}
            if "semi_axes_um" in node:
                attrs["semi_axes_um"] = _round(node["semi_axes_um"])
                attrs["axes"] = [_round(col) for col in np.asarray(node["rotation"]).T]
                attrs["volume_um3"] = round(_volume(node["semi_axes_um"]), _DECIMALS)
            g.add_node(nid, **attrs)
        for sid, strand in enumerate(self.strands):
            junctions = sorted(strand.junctions)
            cuts = [s for s, _ in junctions]
            chain = [strand.start, *[n for _, n in junctions], strand.end]
            pieces = split_at(strand.points, strand.radii, cuts) if cuts else [
                (strand.points, strand.radii)]
            for (pts, rad), u, v in zip(pieces, chain[:-1], chain[1:]):
                if g.has_edge(u, v):
                    raise RuntimeError(f"phantom generator produced a parallel edge {u}-{v}")
                seg = np.diff(arc_lengths(pts))
                r_mid = 0.5 * (rad[1:] + rad[:-1])
                length = float(seg.sum())
                radius = float((r_mid * seg).sum() / length) if length > 0 else float(rad[0])
                g.add_edge(u, v, kind=strand.kind, strand=sid,
                           length_um=round(length, _DECIMALS),
                           length_outside_um=round(self._length_outside_lacunae(pts), _DECIMALS),
                           radius_um=round(radius, _DECIMALS),
                           polyline=[_round(p) for p in pts],
                           radii_um=_round(rad))
        return g


def _round(values) -> list[float]:
    return [round(float(v), _DECIMALS) for v in np.asarray(values, float).ravel()]


def _volume(semi) -> float:
    semi = np.asarray(semi, float)
    return float(4.0 / 3.0 * np.pi * np.prod(semi)) if semi.size == 3 else float(
        np.pi * np.prod(semi))


def generate_network(build, shape, spacing, p: dict[str, Any], rng: np.random.Generator):
    """Run a kind's ``build(net, p, rng)``, rasterise the network and extract its graph.
    Returns ``(occupancy, mask, labels, graph, derived)``."""
    net = Network(shape, spacing)
    derived = dict(build(net, p, rng))
    canvas = Canvas(shape, spacing)
    net.render(canvas)
    derived["n_rejected_candidates"] = net.rejected
    derived["n_pinholes_filled"] = canvas.fill_pinholes()
    return canvas.occupancy, canvas.mask, canvas.labels, net.graph(), derived
