"""Cortical-bone phantom: Haversian canals along the bone axis with transverse Volkmann links.

Geometry (all lengths µm; reference §2.6 and §3.3):

- *Haversian canals* run along the bone axis (Z in 3D, Y in 2D, a longitudinal section), radius
  lognormal around 22 µm clipped to 10–50 µm, gently wandering (shared drift of ~30 µm over
  ~1.5 mm) with a slowly varying radius. Their positions across the bone axis come from
  hard-core random sequential addition at a mean spacing of ``canal_spacing_um`` (220 µm in 3D
  ⇔ ~21 canals/mm²; 300 µm in 2D). A fraction ``partial_fraction`` of the canals start and/or
  end inside the field with a rounded ``tip`` (a canal leaving the plane or ending).
- *Volkmann canals* (radius ~12 µm, clipped 8–25 µm and ≤ 0.8 × the thinner canal) join
  neighbouring canals roughly transversely, between junction nodes on the canal axes; some are
  blind (``tip``) or leave the field (``border``).
- Cortical porosity Ct.Po with the defaults: 3–8 % in 3D, higher in a 2D longitudinal section
  (every canal lies in the plane).

Graph: nodes ``canal`` (a canal reaching a face of the field), ``tip``, ``junction``, ``border``;
edges ``canal`` and ``volkmann`` (axis to axis, so lengths include the part inside the canals,
as a skeleton does).

>>> from geosr.phantoms import phantom
>>> ph = phantom("cortical", dims=2, size_um=800, spacing_um=5, seed=4)
>>> ph.params["n_canals"] > 0
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geosr.phantoms.geometry import perturbed_path, random_unit, unit
from geosr.phantoms.network import LARGE, THIN, Network, generate_network
from geosr.phantoms.params import ParamSpec

__all__ = ["SPECS", "DEFAULT_SIZE", "DEFAULT_SPACING", "build", "generate", "smallest_feature"]

DEFAULT_SIZE = (1500.0, 1000.0)  # µm, (2D, 3D)
DEFAULT_SPACING = (5.0, 8.0)     # µm, (2D, 3D)

SPECS: dict[str, ParamSpec] = {
    "canal_spacing_um": ParamSpec((300.0, 220.0), lo=10.0, hi=1e5, per_dims=True,
                                  doc="mean distance between canals across the bone axis, µm"),
    "canal_radius_um": ParamSpec(22.0, lo=1.0, hi=500.0, doc="median canal radius, µm"),
    "canal_radius_sigma": ParamSpec(0.3, lo=0.0, hi=2.0, doc="lognormal sigma of canal radii"),
    "canal_radius_range_um": ParamSpec((10.0, 50.0), tuple, lo=0.5, hi=1000.0, length=2,
                                       doc="clip range of canal radii, µm"),
    "radius_variation": ParamSpec(0.1, lo=0.0, hi=0.5,
                                  doc="relative slow radius change along a canal"),
    "drift_um": ParamSpec(30.0, lo=0.0, hi=1000.0, doc="lateral wandering amplitude, µm"),
    "drift_wavelength_um": ParamSpec(1500.0, lo=10.0, doc="wavelength of the wandering, µm"),
    "partial_fraction": ParamSpec((0.4, 0.15), lo=0.0, hi=1.0, per_dims=True,
                                  doc="fraction of canals ending inside the field"),
    "volkmann_per_mm": ParamSpec(4.0, lo=0.0, hi=100.0,
                                 doc="Volkmann links per mm of canal length"),
    "volkmann_radius_um": ParamSpec(12.0, lo=0.5, hi=200.0,
                                    doc="median Volkmann canal radius, µm"),
    "volkmann_radius_range_um": ParamSpec((8.0, 25.0), tuple, lo=0.5, hi=1000.0, length=2,
                                          doc="clip range of Volkmann radii, µm"),
    "volkmann_max_length_um": ParamSpec(450.0, lo=10.0, hi=1e5,
                                        doc="longest axis-to-axis Volkmann link, µm"),
    "blind_volkmann_fraction": ParamSpec(0.25, lo=0.0, hi=1.0,
                                         doc="fraction of Volkmann canals ending blind"),
    "allow_subvoxel": ParamSpec(False, bool,
                                doc="allow a spacing coarser than the smallest canal diameter"),
}


def smallest_feature(p: dict[str, Any], spacing, size) -> tuple[str, float]:
    """The smallest diameter: of the thinnest admissible Volkmann canal."""
    return ("2 × volkmann_radius_range_um[0]",
            2 * min(p["volkmann_radius_range_um"][0], p["canal_radius_range_um"][0]))


def generate(shape, spacing, p: dict[str, Any], rng: np.random.Generator):
    """``(occupancy, mask, labels, graph, derived)`` of a cortical phantom."""
    return generate_network(build, shape, spacing, p, rng)


def build(net: Network, p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Add canals and Volkmann links to ``net``; return derived ground-truth numbers.

    The steps, in the order they draw from ``rng``: canal positions across the bone axis
    (hard-core random sequential addition), the canals along it, their neighbours (no draws),
    the Volkmann links; then the ground-truth numbers."""
    cortical = _Cortical(net, p, rng)
    cortical.place_canals()
    cortical.draw_canals()
    cortical.find_neighbours()
    cortical.add_volkmann()
    return cortical.truth()


class _Cortical:
    """The state shared by the steps of :func:`build` (lengths in µm; the bone axis is index 0:
    Z in 3D, Y in 2D)."""

    def __init__(self, net: Network, p: dict[str, Any], rng: np.random.Generator):
        self.net, self.p, self.rng = net, p, rng
        self.dims = net.dims
        self.L = net.extent
        self.axial = float(self.L[0])
        self.lat_size = self.L[1:]
        self.step = max(2 * net.h, 0.25)
        self.gap = net.gap
        self.rlo, self.rhi = sorted(p["canal_radius_range_um"])
        self.vlo, self.vhi = sorted(p["volkmann_radius_range_um"])
        self.area = float(np.prod(self.lat_size))
        self.positions: list[np.ndarray] = []
        self.radii0: list[float] = []
        self.canals: list[int] = []
        self.n_links = self.n_blind = 0

    def place_canals(self) -> None:
        """Canal positions across the axis, ``canal_spacing_um`` apart on average."""
        net, p, rng, dims, lat_size = self.net, self.p, self.rng, self.dims, self.lat_size
        spacing = p["canal_spacing_um"]
        expected = self.area / spacing ** (dims - 1)
        self.n_target = n_target = int(rng.poisson(expected))
        positions, radii0 = self.positions, self.radii0
        hard_core = 0.5 * spacing
        self.drift_dir0 = random_unit(rng, dims - 1)
        self.phase0 = rng.uniform(0, 2 * np.pi)
        tries = 0
        while len(positions) < n_target and tries < 200 * max(n_target, 1):
            tries += 1
            r = float(np.clip(p["canal_radius_um"] * np.exp(rng.normal(0, p["canal_radius_sigma"])),
                              self.rlo, self.rhi))
            margin = r * (1 + p["radius_variation"]) + net.h
            if np.any(lat_size < 2 * margin):
                continue
            pos = rng.uniform(margin, lat_size - margin)
            if any(np.linalg.norm(pos - q) < max(hard_core,
                                                 r + rq + 2 * p["drift_um"] * 0.3 + self.gap)
                   for q, rq in zip(positions, radii0)):
                continue
            positions.append(pos)
            radii0.append(r)

    def draw_canals(self) -> None:
        """Each canal along the axis: a sinusoidal drift, a varying radius, some partial
        (starting or ending inside the field)."""
        n_axial = max(2, int(np.ceil(self.axial / max(self.step, 0.5 * self.rlo))) + 1)
        for pos, r in zip(self.positions, self.radii0):
            sid = self._canal(pos, r, n_axial)
            if sid is not None:
                self.canals.append(sid)
        self.n_canals = len(self.canals)
        self.canal_length = sum(self.net.strands[s].length for s in self.canals)

    def _canal(self, pos: np.ndarray, r: float, n_axial: int) -> int | None:
        net, p, rng, dims, L, axial = self.net, self.p, self.rng, self.dims, self.L, self.axial
        z0, z1 = 0.0, axial
        partial = rng.random() < p["partial_fraction"]
        if partial:
            which = rng.integers(3)  # 0: starts inside, 1: ends inside, 2: both
            if which in (0, 2):
                z0 = rng.uniform(0.05, 0.45) * axial
            if which in (1, 2):
                z1 = rng.uniform(0.55, 0.95) * axial
        z = np.linspace(z0, z1, max(2, int(np.ceil((z1 - z0) / axial * n_axial)) + 1))
        phase = self.phase0 + rng.normal(0, 0.4)
        direction = unit(self.drift_dir0 + rng.normal(0, 0.3, dims - 1))
        amp = p["drift_um"] * rng.uniform(0.6, 1.2)
        offset = amp * np.sin(2 * np.pi * z / p["drift_wavelength_um"] + phase)
        pts = np.zeros((len(z), dims))
        pts[:, 0] = z
        pts[:, 1:] = pos + offset[:, None] * direction[None, :]
        rad = r * (1 + p["radius_variation"] * np.sin(2 * np.pi * z / rng.uniform(300, 800)
                                                      + rng.uniform(0, 2 * np.pi)))
        for k in range(1, dims):
            lim = rad + net.h
            pts[:, k] = np.clip(pts[:, k], lim, L[k] - lim)
        if partial:  # keep rounded tips inside the field
            if z0 > 0:
                pts[0, 0] = max(pts[0, 0], rad[0] + net.h)
            if z1 < axial:
                pts[-1, 0] = min(pts[-1, 0], axial - rad[-1] - net.h)
        if not net.fits(pts, rad):
            net.rejected += 1
            return None
        u = net.add_node(pts[0], "canal" if z0 == 0 else "tip")
        v = net.add_node(pts[-1], "canal" if z1 == axial else "tip")
        return net.add_strand(pts, rad, kind="canal", label=LARGE, start=u, end=v)

    def find_neighbours(self) -> None:
        """Canals within ``volkmann_max_length_um`` of each other across the axis (in a 2D
        section only the next canal on either side)."""
        net, dims, n_canals = self.net, self.dims, self.n_canals
        mid = np.array([net.strands[s].points[len(net.strands[s].points) // 2, 1:]
                        for s in self.canals]).reshape(n_canals, dims - 1)
        nbrs: list[list[int]] = [[] for _ in range(n_canals)]
        for i in range(n_canals):
            for j in range(n_canals):
                if i != j and np.linalg.norm(mid[i] - mid[j]) <= self.p["volkmann_max_length_um"]:
                    nbrs[i].append(j)
            if dims == 2 and nbrs[i]:  # in a section only the next canals on either side
                left = [j for j in nbrs[i] if mid[j][0] < mid[i][0]]
                right = [j for j in nbrs[i] if mid[j][0] > mid[i][0]]
                nbrs[i] = ([max(left, key=lambda j: mid[j][0])] if left else []) + (
                    [min(right, key=lambda j: mid[j][0])] if right else [])
        self.mid, self.nbrs = mid, nbrs

    def _axial_arc(self, sid: int, zv: float) -> float | None:
        strand = self.net.strands[sid]
        zs = strand.points[:, 0]
        if not (zs[0] < zv < zs[-1]):
            return None
        return float(np.interp(zv, zs, strand.arc))

    def _v_radius(self, *parents: float) -> float:
        r = float(np.clip(self.p["volkmann_radius_um"] * np.exp(self.rng.normal(0, 0.25)),
                          self.vlo, self.vhi))
        return min(r, 0.8 * min(parents))

    def add_volkmann(self) -> None:
        """Poisson(``volkmann_per_mm`` × canal length) Volkmann canals: blind ones, or links
        to a neighbouring canal."""
        rng, canals = self.rng, self.canals
        n_links_target = int(rng.poisson(self.p["volkmann_per_mm"] * self.canal_length * 1e-3))
        for _ in range(n_links_target):
            if self.n_canals == 0:
                break
            i = int(rng.integers(self.n_canals))
            blind = rng.random() < self.p["blind_volkmann_fraction"] or not self.nbrs[i]
            zv = rng.uniform(0, self.axial)
            si = self._axial_arc(canals[i], zv)
            if si is None:
                continue
            if blind:
                self.n_blind += self._blind(i, si)
            else:
                self.n_links += self._link(i, si, zv)

    def _blind(self, i: int, si: float) -> bool:
        net, rng, dims, canal = self.net, self.rng, self.dims, self.canals[i]
        pi, ri = net.strands[canal].at(si)
        direction = np.zeros(dims)
        direction[1:] = random_unit(rng, dims - 1)
        direction[0] = rng.normal(0, 0.2)
        direction = unit(direction)
        rv = self._v_radius(ri)
        length = ri + self.gap + max(6 * rv, rng.exponential(120.0))
        path = perturbed_path(pi, pi + length * direction, amplitude=0.1 * rv, step=self.step,
                              rng=rng, n_modes=1)
        rad = np.linspace(rv, 0.8 * rv, len(path))
        sid = net.add_branch(canal, si, path, rad, kind="volkmann", label=THIN,
                             end_kind="tip", min_sep=2 * ri)
        return sid is not None

    def _link(self, i: int, si: float, zv: float) -> bool:
        net, rng, canals, mid = self.net, self.rng, self.canals, self.mid
        pi, ri = net.strands[canals[i]].at(si)
        j = self.nbrs[i][int(rng.integers(len(self.nbrs[i])))]
        zj = zv + rng.normal(0, 0.15 * np.linalg.norm(mid[i] - mid[j]))
        sj = self._axial_arc(canals[j], zj)
        if sj is None:
            return False
        pj, rj = net.strands[canals[j]].at(sj)
        rv = self._v_radius(ri, rj)
        path = perturbed_path(pi, pj, amplitude=0.1 * rv, step=self.step, rng=rng, n_modes=1)
        rad = np.full(len(path), rv)
        sid = net.add_branch(canals[i], si, path, rad, kind="volkmann", label=THIN,
                             end=("junction", canals[j], sj), min_sep=2 * max(ri, rj))
        return sid is not None

    def truth(self) -> dict[str, Any]:
        """The derived ground-truth numbers."""
        net, n_canals, area = self.net, self.n_canals, self.area
        volume = float(np.prod(self.L))
        out: dict[str, Any] = {
            "n_canals": n_canals,
            "n_canals_target": self.n_target,
            "canal_length_um": self.canal_length,
            "n_volkmann_links": self.n_links,
            "n_volkmann_blind": self.n_blind,
            "volkmann_length_um": sum(s.length for s in net.strands if s.kind == "volkmann"),
        }
        if self.dims == 3:
            out["canal_density_per_mm2"] = n_canals / (area * 1e-6)
            out["canal_length_density_per_mm2"] = self.canal_length * 1e-3 / (volume * 1e-9)
        else:
            out["canals_per_mm"] = n_canals / (area * 1e-3)
        return out
