"""Dentin phantom: parallel, gently S-curved tubules along Y with sub-micron lateral branches.

Geometry (all lengths µm; numbers from the reference, §2.6 and §3.3):

- *Tubules* (diameter 0.5–2.5 µm, default 1.5; spacing 4–7 µm ⇔ 65–20 k/mm², default 7 µm ⇔
  23.6 k/mm²) run along Y through the whole field: in 2D (a longitudinal section, axes YX) they
  sit side by side along X; in 3D (ZYX) their cross-sections form a jittered hexagonal lattice in
  the ZX plane. All tubules share the primary S-curvature (same phase, small jitter), and each
  tubule's radius varies slowly along Y (±``diameter_variation``).
- *Connecting branches* (diameter 0.3–0.5 µm, default 0.4) join neighbouring tubules (next along
  X in 2D, Delaunay neighbours in 3D) between junction nodes on their centrelines, slightly
  oblique and bowed.
- *Dangling branches* leave a tubule at 40–90° to its axis, reach Exp(``dangling_length_um``)
  but at least 3 branch diameters beyond the tubule wall, and end in the matrix
  (``branch_end``), or at the border.

Graph: nodes ``tubule_end`` (on the faces Y = 0 and Y = extent), ``junction``, ``branch_end``,
``border``; edges ``tubule`` (pieces of a tubule between consecutive nodes) and ``branch``
(centreline to centreline, so edge lengths include the part of a branch inside its tubules — as
a skeleton does). Porosity of a 3D phantom is 2–6 % with the defaults; a 2D longitudinal section
shows every tubule in the plane, so its area fraction is higher (≈ 20–25 %).

>>> from geosr.phantoms import phantom
>>> ph = phantom("dentin", dims=2, size_um=20, spacing_um=0.1, seed=1)
>>> ph.image.shape, ph.params["n_tubules"]
((200, 200), 2)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geosr.phantoms.geometry import perturbed_path, unit
from geosr.phantoms.network import LARGE, THIN, Network, generate_network
from geosr.phantoms.params import ParamSpec

__all__ = ["SPECS", "DEFAULT_SIZE", "DEFAULT_SPACING", "build", "generate", "smallest_feature"]

DEFAULT_SIZE = (64.0, 32.0)      # µm, (2D, 3D)
DEFAULT_SPACING = (0.1, 0.2)     # µm, (2D, 3D)

SPECS: dict[str, ParamSpec] = {
    "tubule_diameter_um": ParamSpec(1.5, lo=0.1, hi=20.0,
                                    doc="median tubule diameter in µm (dentin: 0.5–2.5)"),
    "tubule_diameter_sigma": ParamSpec(0.1, lo=0.0, hi=1.0,
                                       doc="lognormal sigma of the per-tubule diameter"),
    "diameter_variation": ParamSpec(0.15, lo=0.0, hi=0.5,
                                    doc="relative amplitude of the slow diameter change along Y"),
    "tubule_spacing_um": ParamSpec(7.0, lo=0.5, hi=1000.0,
                                   doc="mean tubule centre spacing in µm (4–7 µm ⇔ 65–20 k/mm²)"),
    "position_jitter": ParamSpec(0.12, lo=0.0, hi=0.3,
                                 doc="random shift of tubule positions, fraction of spacing"),
    "curvature_amplitude_um": ParamSpec(1.0, lo=0.0, hi=100.0,
                                        doc="amplitude of the S-curvature in µm"),
    "curvature_wavelength_um": ParamSpec(80.0, lo=1.0, doc="wavelength of the S-curvature in µm"),
    "branch_diameter_um": ParamSpec(0.4, lo=0.01, hi=10.0,
                                    doc="median lateral-branch diameter in µm (0.3–0.5)"),
    "branch_density_per_um": ParamSpec(0.25, lo=0.0, hi=10.0,
                                       doc="connecting branches per µm of tubule length"),
    "dangling_density_per_um": ParamSpec(0.15, lo=0.0, hi=10.0,
                                         doc="dangling branches per µm of tubule length"),
    "dangling_length_um": ParamSpec(2.0, lo=0.05, hi=100.0,
                                    doc="mean length of a dangling branch outside its tubule, µm"),
    "branch_offset_um": ParamSpec(2.0, lo=0.0, hi=100.0,
                                  doc="sd of the Y offset between the ends of a connecting branch"),
    "branch_bow_um": ParamSpec(0.3, lo=0.0, hi=10.0, doc="sd of the sideways bow of branches, µm"),
    "allow_subvoxel": ParamSpec(False, bool,
                                doc="allow a spacing coarser than the branch diameter (warns)"),
}


def smallest_feature(p: dict[str, Any], spacing, size) -> tuple[str, float]:
    """Name and size (µm) of the smallest feature that must be resolved."""
    return "branch_diameter_um", min(p["branch_diameter_um"], p["tubule_diameter_um"])


def generate(shape, spacing, p: dict[str, Any], rng: np.random.Generator):
    """``(occupancy, mask, labels, graph, derived)`` of a dentin phantom."""
    return generate_network(build, shape, spacing, p, rng)


def _lateral_positions(net: Network, spacing: float, margin: float, jitter: float,
                       rng: np.random.Generator) -> np.ndarray:
    """Tubule positions in the lateral coordinates (x in 2D; (z, x) in 3D), inside the box
    shrunk by ``margin``."""
    if net.dims == 2:
        width = net.extent[1]
        usable = width - 2 * margin
        if usable < 0:
            return np.empty((0, 1))
        n = int(np.floor(usable / spacing)) + 1
        x = margin + rng.uniform(0, spacing) + spacing * np.arange(n)
        x = x[x <= width - margin]
        x = x + rng.uniform(-jitter, jitter, len(x)) * spacing
        return np.clip(x, margin, width - margin)[:, None]
    wz, wx = net.extent[0], net.extent[2]
    row = spacing * np.sqrt(3) / 2
    pts = []
    z = margin + rng.uniform(0, row)
    k = 0
    while z <= wz - margin:
        x = margin + rng.uniform(0, spacing) + (spacing / 2 if k % 2 else 0.0)
        while x <= wx - margin:
            pts.append((z, x))
            x += spacing
        z += row
        k += 1
    pts = np.array(pts, float).reshape(-1, 2)
    pts += rng.uniform(-jitter, jitter, pts.shape) * spacing
    pts[:, 0] = np.clip(pts[:, 0], margin, wz - margin)
    pts[:, 1] = np.clip(pts[:, 1], margin, wx - margin)
    return pts


def _neighbours(lateral: np.ndarray, dims: int, max_dist: float) -> list[list[int]]:
    n = len(lateral)
    nbrs: list[set[int]] = [set() for _ in range(n)]
    if dims == 2:
        order = np.argsort(lateral[:, 0])
        for a, b in zip(order[:-1], order[1:]):
            nbrs[a].add(int(b))
            nbrs[b].add(int(a))
    elif n >= 2:
        pairs = set()
        if n >= 3:
            try:
                from scipy.spatial import Delaunay

                tri = Delaunay(lateral)
                for simplex in tri.simplices:
                    for i in range(3):
                        a, b = sorted((int(simplex[i]), int(simplex[(i + 1) % 3])))
                        pairs.add((a, b))
            except Exception:  # degenerate (collinear) layout: all pairs
                pairs = {(a, b) for a in range(n) for b in range(a + 1, n)}
        else:
            pairs = {(0, 1)}
        for a, b in pairs:
            if np.linalg.norm(lateral[a] - lateral[b]) <= max_dist:
                nbrs[a].add(b)
                nbrs[b].add(a)
    return [sorted(s) for s in nbrs]


def build(net: Network, p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Add the dentin geometry to ``net``; return derived ground-truth numbers.

    The steps, in the order they draw from ``rng``: tubule positions across Y, the tubules
    along Y, the connecting branches between neighbouring tubules, the dangling branches; then
    the ground-truth numbers."""
    dentin = _Dentin(net, p, rng)
    dentin.add_tubules()
    dentin.add_connecting_branches()
    dentin.add_dangling_branches()
    return dentin.truth()


class _Dentin:
    """The state shared by the steps of :func:`build` (lengths in µm; tubules run along Y)."""

    def __init__(self, net: Network, p: dict[str, Any], rng: np.random.Generator):
        self.net, self.p, self.rng = net, p, rng
        self.dims = dims = net.dims
        self.ya = 0 if dims == 2 else 1                      # index of the Y axis
        self.lat_axes = [1] if dims == 2 else [0, 2]          # lateral axes (x) or (z, x)
        self.height = float(net.extent[self.ya])
        self.step = max(2 * net.h, 0.25)
        self.r_med = p["tubule_diameter_um"] / 2
        self.spacing = p["tubule_spacing_um"]
        self.r_b = p["branch_diameter_um"] / 2
        self.tubules: list[int] = []            # strand ids
        self.n_conn = self.n_dang = 0

    def add_tubules(self) -> None:
        """Tubules at jittered lattice positions, S-curved along Y, diameters lognormal and
        varying along their length; then each tubule's neighbours."""
        net, p, rng, dims, ya = self.net, self.p, self.rng, self.dims, self.ya
        sigma = p["tubule_diameter_sigma"]
        # tubes are kept whole inside the box (their centrelines are clipped to this margin),
        # so that area / length measures their diameter; the S-curve may flatten against a face
        margin = self.r_med * (1 + p["diameter_variation"]) * np.exp(2 * sigma) + net.h
        lateral = _lateral_positions(net, self.spacing, margin, p["position_jitter"], rng)
        phase0 = rng.uniform(0, 2 * np.pi)
        theta0 = rng.uniform(0, 2 * np.pi)
        n_y = max(2, int(np.ceil(self.height / self.step)) + 1)
        y = np.linspace(0.0, self.height, n_y)
        tubule_lateral: list[np.ndarray] = []
        for base in lateral:
            a = p["curvature_amplitude_um"] * rng.uniform(0.7, 1.3)
            phase = phase0 + rng.normal(0, 0.3)
            offset = a * np.sin(2 * np.pi * y / p["curvature_wavelength_um"] + phase)
            pts = np.zeros((n_y, dims))
            pts[:, ya] = y
            if dims == 2:
                pts[:, 1] = base[0] + offset
            else:
                theta = theta0 + rng.normal(0, 0.3)
                pts[:, 0] = base[0] + offset * np.cos(theta)
                pts[:, 2] = base[1] + offset * np.sin(theta)
            r_t = self.r_med * float(np.exp(rng.normal(0, sigma))) if sigma > 0 else self.r_med
            lam_r = rng.uniform(20.0, 40.0)
            radii = r_t * (1 + p["diameter_variation"] * np.sin(2 * np.pi * y / lam_r
                                                                + rng.uniform(0, 2 * np.pi)))
            for ax in self.lat_axes:  # keep the tube inside the box
                pts[:, ax] = np.clip(pts[:, ax], margin, net.extent[ax] - margin)
            if not net.fits(pts, radii):
                net.rejected += 1
                continue
            u = net.add_node(pts[0], "tubule_end")
            v = net.add_node(pts[-1], "tubule_end")
            self.tubules.append(net.add_strand(pts, radii, kind="tubule", label=LARGE, start=u,
                                               end=v))
            tubule_lateral.append(base)
        self.n_tub = len(self.tubules)
        lat_arr = np.array(tubule_lateral).reshape(self.n_tub, dims - 1)
        self.nbrs = _neighbours(lat_arr, dims, 1.75 * self.spacing)
        self.total_tubule = sum(net.strands[s].length for s in self.tubules)

    def _arc_at(self, sid: int, yv: float) -> float:
        strand = self.net.strands[sid]
        return float(np.interp(yv, strand.points[:, self.ya], strand.arc))

    def _branch_radius(self) -> float:
        return self.r_b * float(np.clip(np.exp(self.rng.normal(0, 0.1)), 0.75, 1.25))

    def add_connecting_branches(self) -> None:
        """Poisson(``branch_density_per_um`` × tubule length) branches joining a tubule to a
        neighbour, bowed, ``branch_offset_um`` apart along Y on average."""
        net, p, rng, tubules, nbrs = self.net, self.p, self.rng, self.tubules, self.nbrs
        n_tub, height = self.n_tub, self.height
        n_target = int(rng.poisson(p["branch_density_per_um"] * self.total_tubule)) \
            if n_tub > 1 else 0
        for _ in range(n_target):
            i = int(rng.integers(n_tub))
            if not nbrs[i]:
                continue
            j = int(nbrs[i][rng.integers(len(nbrs[i]))])
            y0 = rng.uniform(0, height)
            y1 = y0 + rng.normal(0, p["branch_offset_um"])
            if not (0 < y1 < height):
                continue
            si, sj = self._arc_at(tubules[i], y0), self._arc_at(tubules[j], y1)
            pi, _ = net.strands[tubules[i]].at(si)
            pj, _ = net.strands[tubules[j]].at(sj)
            path = perturbed_path(pi, pj, amplitude=p["branch_bow_um"], step=self.step, rng=rng,
                                  n_modes=2)
            radii = np.full(len(path), self._branch_radius())
            sid = net.add_branch(tubules[i], si, path, radii, kind="branch", label=THIN,
                                 end=("junction", tubules[j], sj))
            self.n_conn += sid is not None

    def add_dangling_branches(self) -> None:
        """Poisson(``dangling_density_per_um`` × tubule length) blind branches leaving a tubule
        at 40–90° to it, at least 3 diameters long."""
        net, p, rng, dims = self.net, self.p, self.rng, self.dims
        n_target = int(rng.poisson(p["dangling_density_per_um"] * self.total_tubule)) \
            if self.n_tub else 0
        for _ in range(n_target):
            i = int(rng.integers(self.n_tub))
            strand = net.strands[self.tubules[i]]
            s = rng.uniform(0, strand.length)
            pos, r_par = strand.at(s)
            alpha = np.deg2rad(rng.uniform(40, 90))
            sy = rng.choice([-1.0, 1.0])
            if dims == 2:
                lateral_dir = np.array([0.0, rng.choice([-1.0, 1.0])])
            else:
                psi = rng.uniform(0, 2 * np.pi)
                lateral_dir = np.array([np.cos(psi), 0.0, np.sin(psi)])
            axis_dir = np.zeros(dims)
            axis_dir[self.ya] = sy
            direction = unit(np.cos(alpha) * axis_dir + np.sin(alpha) * lateral_dir)
            rb = self._branch_radius()
            # at least 3 diameters outside the tubule: a shorter stub is not a branch
            extra = min(rng.exponential(p["dangling_length_um"]), 4 * p["dangling_length_um"])
            length = r_par + net.gap + max(extra, 6 * rb, 2 * net.h)
            path = perturbed_path(pos, pos + length * direction,
                                  amplitude=p["branch_bow_um"] / 2, step=self.step, rng=rng,
                                  n_modes=1)
            radii = np.linspace(rb, 0.7 * rb, len(path))
            sid = net.add_branch(self.tubules[i], s, path, radii, kind="branch", label=THIN,
                                 end_kind="branch_end")
            self.n_dang += sid is not None

    def truth(self) -> dict[str, Any]:
        """The derived ground-truth numbers."""
        net, n_tub = self.net, self.n_tub
        out: dict[str, Any] = {
            "n_tubules": n_tub,
            "n_connecting_branches": self.n_conn,
            "n_dangling_branches": self.n_dang,
            "tubule_length_um": self.total_tubule,
            "branch_length_um": sum(st.length for st in net.strands if st.kind == "branch"),
            "tubule_density_lattice_per_mm2": 1e6 / (self.spacing**2 * np.sqrt(3) / 2),
        }
        if self.dims == 3:
            out["tubule_density_per_mm2"] = n_tub / (net.extent[0] * net.extent[2] * 1e-6)
        else:
            out["tubules_per_mm"] = n_tub / (net.extent[1] * 1e-3)
        return out
