"""Osteocyte lacuno-canalicular network (LCN) phantom, after the reference recipe (§3.2, §3.3).

Geometry (all lengths µm):

- *Lacunae*: ellipsoids with semi-axes ``(7.5, 4, 2.5)`` (a 15 × 8 × 5 µm lacuna; ellipses
  15 × 8 µm in 2D) × lognormal(σ = 0.15) per axis, long axis along the bone axis (Z in 3D, Y in
  2D) and short axis radial, with ~12° orientation jitter. Centres by hard-core random sequential
  addition at 25 000 /mm³ (3D) or 610 /mm² (2D, a section), minimum centre distance 18 µm; the
  number is Poisson(density × bone volume). Lacunae lie wholly inside the field.
- *Connecting canaliculi* along the Delaunay edges of the centres no longer than
  ``max_link_um`` (40 µm), gently tortuous (3 sine modes, ~0.8 µm).
- *Dangling canaliculi*: Poisson(``dangling_per_lacuna``) per lacuna, directions biased towards
  the radial (short) axis, outside length Exp(mean 8 µm) but at least 2 µm and 3 diameters;
  with probability ``branch_prob`` a
  dangling or connecting canaliculus branches at a degree-3 junction. A dangling canaliculus that
  reaches the border is cut there (``border`` node).
- Optional *Haversian canal* (``haversian=True``): a cylinder of radius 22 µm along the bone axis
  through the centre; the lacunae nearest to it send a canaliculus to a junction on its axis.
- Canaliculus diameter: ``mode="physical"`` → lognormal around ``canaliculus_diameter_um``
  (0.3 µm; 0.2–0.4 in bone); ``mode="scaled"`` (the default in 3D, the "scaled" mode of §3.2.7)
  → ``canaliculus_diameter_vox`` voxels (3; clipped to 2–4) whatever the spacing, lacunae kept at
  their physical size. Physical canaliculi need a spacing ≤ their diameter.

Graph: ``lacuna`` nodes at the centres (with ``semi_axes_um``, ``axes``, ``volume_um3``),
``junction``, ``tip``, ``border`` and ``canal`` nodes; edges ``canaliculus`` (from a lacuna
centre, so ``length_um`` includes the part inside the lacuna; ``length_outside_um`` is the part
outside lacunae) and ``canal``. A lacuna without canaliculi is an isolated node: one component,
as in the mask.

>>> from geosr.phantoms import phantom
>>> ph = phantom("lcn", dims=2, size_um=80, spacing_um=0.2, seed=2)
>>> ph.params["n_lacunae"] > 0, ph.params["mode"]
(True, 'physical')
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from geosr.core.errors import ConfigError
from geosr.phantoms.geometry import perturbed_path, random_unit, rotate_towards, unit
from geosr.phantoms.network import CANAL, Network, generate_network
from geosr.phantoms.params import ParamSpec

__all__ = ["SPECS", "DEFAULT_SIZE", "DEFAULT_SPACING", "build", "generate", "smallest_feature"]

DEFAULT_SIZE = (160.0, 80.0)     # µm, (2D, 3D)
DEFAULT_SPACING = (0.1, 0.5)     # µm, (2D, 3D)

SPECS: dict[str, ParamSpec] = {
    "mode": ParamSpec(("physical", "scaled"), str, choices=("physical", "scaled"), per_dims=True,
                      doc="canaliculus width: 'physical' (µm) or 'scaled' (voxels)"),
    "canaliculus_diameter_um": ParamSpec(0.3, lo=0.01, hi=10.0,
                                         doc="median canaliculus diameter in µm (physical mode)"),
    "canaliculus_diameter_vox": ParamSpec(3.0, lo=1.0, hi=10.0,
                                          doc="canaliculus diameter in voxels (scaled mode, 2–4)"),
    "canaliculus_sigma": ParamSpec(0.15, lo=0.0, hi=1.0,
                                   doc="lognormal sigma of the canaliculus diameter"),
    "lacuna_density_per_mm3": ParamSpec(25000.0, lo=0.0, hi=1e6,
                                        doc="lacunae per mm³ of bone (3D; 15–30 k)"),
    "lacuna_density_per_mm2": ParamSpec(610.0, lo=0.0, hi=1e5,
                                        doc="lacunae per mm² of bone (2D; 500–800)"),
    "lacuna_semi_axes_um": ParamSpec((7.5, 4.0, 2.5), tuple, lo=0.1, hi=100.0, length=3,
                                     doc="median lacuna semi-axes a ≥ b ≥ c in µm (2D: a, b)"),
    "lacuna_size_sigma": ParamSpec(0.15, lo=0.0, hi=1.0,
                                   doc="lognormal sigma of each semi-axis"),
    "min_lacuna_distance_um": ParamSpec(18.0, lo=0.0, hi=1000.0,
                                        doc="hard-core distance between lacuna centres, µm"),
    "orientation_jitter_deg": ParamSpec(12.0, lo=0.0, hi=90.0,
                                        doc="sd of the lacuna orientation, degrees"),
    "max_link_um": ParamSpec(40.0, lo=0.0, hi=1000.0,
                             doc="longest centre-to-centre canaliculus (Delaunay edge), µm"),
    "link_fraction": ParamSpec(1.0, lo=0.0, hi=1.0,
                               doc="fraction of admissible Delaunay edges made canaliculi"),
    "dangling_per_lacuna": ParamSpec(None, lo=0.0, hi=500.0, optional=True,
                                     doc="mean dangling canaliculi per lacuna; None = 30 "
                                         "(physical 3D), 8 (2D), 6 (scaled 3D)"),
    "dangling_length_um": ParamSpec(8.0, lo=0.1, hi=200.0,
                                    doc="mean outside length of a dangling canaliculus, µm"),
    "branch_prob": ParamSpec(0.3, lo=0.0, hi=1.0,
                             doc="probability that a canaliculus branches (degree-3 junction)"),
    "tortuosity_um": ParamSpec(0.8, lo=0.0, hi=20.0,
                               doc="amplitude of the canaliculus meander, µm"),
    "radial_bias": ParamSpec(1.0, lo=0.0, hi=10.0,
                             doc="bias of dangling directions towards the short (radial) axis"),
    "taper": ParamSpec(0.7, lo=0.1, hi=1.0, doc="tip radius / base radius of dangling canaliculi"),
    "haversian": ParamSpec(False, bool, doc="add a Haversian canal along the bone axis"),
    "haversian_radius_um": ParamSpec(22.0, lo=1.0, hi=500.0,
                                     doc="Haversian canal radius, µm (20–25)"),
    "canal_link_um": ParamSpec(25.0, lo=0.0, hi=1000.0,
                               doc="lacunae closer than this to the canal surface link to it, µm"),
    "allow_subvoxel": ParamSpec(False, bool,
                                doc="allow a spacing coarser than the canaliculus diameter"),
}


def smallest_feature(p: dict[str, Any], spacing, size) -> tuple[str, float]:
    """The smallest feature: the canaliculus diameter (physical mode) or the lacuna thickness."""
    thickness = 2 * min(p["lacuna_semi_axes_um"])
    if p["mode"] == "physical":
        return "canaliculus_diameter_um", min(p["canaliculus_diameter_um"], thickness)
    return "2 × smallest lacuna semi-axis", thickness


def generate(shape, spacing, p: dict[str, Any], rng: np.random.Generator):
    """``(occupancy, mask, labels, graph, derived)`` of an LCN phantom."""
    return generate_network(build, shape, spacing, p, rng)


def _lacuna_frame(dims: int, radial: np.ndarray, jitter: float, rng: np.random.Generator
                  ) -> np.ndarray:
    """Rotation whose columns are the long (bone axis), middle and short (radial) axes."""
    long_axis = np.zeros(dims)
    long_axis[0] = 1.0  # Z in 3D, Y in 2D
    if jitter > 0:
        long_axis = rotate_towards(long_axis, abs(rng.normal(0, jitter)), rng)
    if dims == 2:
        short = np.array([-long_axis[1], long_axis[0]])
        return np.stack([long_axis, short], axis=1)
    short = radial - (radial @ long_axis) * long_axis
    if np.linalg.norm(short) < 1e-6:
        short = random_unit(rng, 3)
        short = short - (short @ long_axis) * long_axis
    short = unit(short)
    middle = np.cross(short, long_axis)
    return np.stack([long_axis, middle, short], axis=1)


def build(net: Network, p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Add the LCN geometry to ``net``; return derived ground-truth numbers.

    The steps, in the order they draw from ``rng``: the optional Haversian canal, the lacunae
    (random sequential addition), the connecting canaliculi, the links to the canal, the
    dangling canaliculi; then the ground-truth numbers (no draws)."""
    lcn = _LCN(net, p, rng)
    lcn.add_canal()
    lcn.place_lacunae()
    lcn.link_lacunae()
    lcn.link_to_canal()
    lcn.add_dangling()
    return lcn.truth()


class _LCN:
    """The state shared by the steps of :func:`build` (lengths in µm)."""

    def __init__(self, net: Network, p: dict[str, Any], rng: np.random.Generator):
        self.net, self.p, self.rng = net, p, rng
        self.dims = net.dims
        self.L = net.extent
        self.step = max(2 * net.h, 0.25)
        self.gap = net.gap
        if p["mode"] == "scaled":
            self.d_median = p["canaliculus_diameter_vox"] * net.h
        else:
            self.d_median = p["canaliculus_diameter_um"]
        dangling = p["dangling_per_lacuna"]
        if dangling is None:
            dangling = 8.0 if self.dims == 2 else (6.0 if p["mode"] == "scaled" else 30.0)
        self.dangling = dangling
        self.canal_sid = None
        self.canal_r = p["haversian_radius_um"]
        self.centre_lat = self.L[1:] / 2
        self.centres: list[np.ndarray] = []
        self.lac: list[int] = []
        self.counts = {"n_links": 0, "n_link_branches": 0, "n_canal_links": 0,
                       "n_dangling": 0, "n_dangling_branches": 0}

    # ---------------------------------------------------------------- shared pieces
    def can_radius(self) -> float:
        """A canaliculus radius: lognormal around the median (µm, or voxels when scaled)."""
        p, rng = self.p, self.rng
        if p["mode"] == "scaled":
            d_vox = p["canaliculus_diameter_vox"] * np.exp(rng.normal(0, p["canaliculus_sigma"]))
            return 0.5 * self.net.h * float(np.clip(d_vox,
                                                    max(1.0, p["canaliculus_diameter_vox"] - 1),
                                                    p["canaliculus_diameter_vox"] + 1))
        f = float(np.clip(np.exp(rng.normal(0, p["canaliculus_sigma"])), 0.6, 1.6))
        return 0.5 * p["canaliculus_diameter_um"] * f

    def surface_t(self, nid: int, direction: np.ndarray) -> float:
        """Distance from a lacuna's centre to its surface along ``direction``."""
        node = self.net.nodes[nid]
        local = direction @ node["rotation"]
        return float(1.0 / np.sqrt(np.sum((local / node["semi_axes_um"]) ** 2)))

    def try_child(self, sid: int, s_lo: float, s_hi: float) -> bool:
        """A dangling side branch from strand ``sid`` at an arc length in [s_lo, s_hi]."""
        net, p, rng, step = self.net, self.p, self.rng, self.step
        strand = net.strands[sid]
        if s_hi <= s_lo:
            return False
        s = rng.uniform(s_lo, s_hi)
        pos, r_par = strand.at(s)
        ahead, _ = strand.at(min(s + step, strand.length))
        behind, _ = strand.at(max(s - step, 0.0))
        tangent = unit(ahead - behind)
        direction = rotate_towards(tangent, np.deg2rad(rng.uniform(35, 75)), rng)
        r_c = 0.85 * r_par
        excl = net.excl_factor * (net.r_eff(r_par) + net.r_eff(r_c) + self.gap)
        length = excl + max(2.0, 6 * r_c, min(rng.exponential(0.6 * p["dangling_length_um"]),
                                               3 * p["dangling_length_um"]))
        amp = p["tortuosity_um"] * min(1.0, length / 20)
        path = perturbed_path(pos, pos + length * direction, amplitude=amp, step=step, rng=rng,
                              n_modes=2)
        radii = np.linspace(r_c, p["taper"] * r_c, len(path))
        return net.add_branch(sid, s, path, radii, kind="canaliculus", end_kind="tip") is not None

    # ---------------------------------------------------------------- steps
    def add_canal(self) -> None:
        """The Haversian canal (``haversian=True``), and the bone volume and expected number
        of lacunae around it."""
        net, p, dims, L, canal_r = self.net, self.p, self.dims, self.L, self.canal_r
        if p["haversian"]:
            if np.any(canal_r + net.h >= L[1:] / 2):
                raise ConfigError(f"a Haversian canal of radius {canal_r:g} µm does not fit in "
                                  f"the field ({L[1:].min():g} µm across)",
                                  where="lcn.haversian_radius_um",
                                  hint="reduce haversian_radius_um or increase size_um")
            n_ax = 2  # a straight cylinder: one capsule
            pts = np.zeros((n_ax, dims))
            pts[:, 0] = np.linspace(0.0, L[0], n_ax)
            pts[:, 1:] = self.centre_lat
            u = net.add_node(pts[0], "canal")
            v = net.add_node(pts[-1], "canal")
            self.canal_sid = net.add_strand(pts, np.full(n_ax, canal_r), kind="canal",
                                            label=CANAL, start=u, end=v)
        self.volume = float(np.prod(L))
        canal_volume = 0.0
        if self.canal_sid is not None:
            canal_volume = L[0] * (np.pi * canal_r**2 if dims == 3 else 2 * canal_r)
        self.bone_volume = self.volume - canal_volume
        if dims == 3:
            self.expected = p["lacuna_density_per_mm3"] * self.bone_volume * 1e-9
        else:
            self.expected = p["lacuna_density_per_mm2"] * self.bone_volume * 1e-6

    def place_lacunae(self) -> None:
        """Lacunae by random sequential addition: inside the field, clear of the canal and
        ``min_lacuna_distance_um`` apart."""
        net, p, rng, dims, L, gap = self.net, self.p, self.rng, self.dims, self.L, self.gap
        centre_lat, canal_r = self.centre_lat, self.canal_r
        jitter = np.deg2rad(p["orientation_jitter_deg"])
        semi0 = np.array(p["lacuna_semi_axes_um"][:dims], float)
        self.n_target = n_target = int(rng.poisson(self.expected))
        centres = self.centres
        bounds: list[float] = []
        attempts = 0
        max_attempts = 400 * max(n_target, 1)
        while len(centres) < n_target and attempts < max_attempts:
            attempts += 1
            c = rng.uniform(0, 1, dims) * L
            semi = np.sort(semi0 * np.clip(np.exp(rng.normal(0, p["lacuna_size_sigma"], dims)),
                                           0.7, 1.4))[::-1]
            radial = np.zeros(dims)
            if self.canal_sid is not None:
                radial[1:] = c[1:] - centre_lat
            else:
                radial[1:] = random_unit(rng, dims - 1)
            rot = _lacuna_frame(dims, unit(radial), jitter, rng)
            half = np.sqrt(((rot * semi[None, :]) ** 2).sum(axis=1))
            if np.any(c < half + gap) or np.any(c > L - half - gap):
                continue
            if self.canal_sid is not None:
                e_r = np.zeros(dims)
                e_r[1:] = unit(c[1:] - centre_lat)
                extent_r = float(np.sqrt((((e_r @ rot) * semi) ** 2).sum()))
                if np.linalg.norm(c[1:] - centre_lat) < canal_r + extent_r + gap:
                    continue
            a = float(semi[0])
            if any(np.linalg.norm(c - c2) < max(p["min_lacuna_distance_um"], a + b2 + gap)
                   for c2, b2 in zip(centres, bounds)):
                continue
            centres.append(c)
            bounds.append(a)
            net.add_lacuna(c, rot, semi)
        if len(centres) < n_target:
            warnings.warn(f"lcn phantom: placed {len(centres)} of {n_target} lacunae (the field "
                          "is too crowded for min_lacuna_distance_um)", stacklevel=4)
        self.lac = list(net.lacunae)

    def _candidate_pairs(self) -> list[tuple[int, int]]:
        """Lacuna index pairs joined by a Delaunay edge (all pairs for a degenerate layout)."""
        n_lac, dims = len(self.lac), self.dims
        pairs: set[tuple[int, int]] = set()
        if n_lac >= dims + 1:
            try:
                from scipy.spatial import Delaunay

                tri = Delaunay(np.array(self.centres))
                for simplex in tri.simplices:
                    for i in range(len(simplex)):
                        for j in range(i + 1, len(simplex)):
                            pairs.add(tuple(sorted((int(simplex[i]), int(simplex[j])))))
            except Exception:  # degenerate layout: all pairs
                pairs = {(i, j) for i in range(n_lac) for j in range(i + 1, n_lac)}
        elif n_lac >= 2:
            pairs = {(i, j) for i in range(n_lac) for j in range(i + 1, n_lac)}
        return sorted(pairs)

    def link_lacunae(self) -> None:
        """Connecting canaliculi along Delaunay edges no longer than ``max_link_um``, some
        with a side branch."""
        net, p, rng, lac, centres = self.net, self.p, self.rng, self.lac, self.centres
        for i, j in self._candidate_pairs():
            ci, cj = centres[i], centres[j]
            if np.linalg.norm(ci - cj) > p["max_link_um"] or rng.random() >= p["link_fraction"]:
                continue
            path = perturbed_path(ci, cj, amplitude=p["tortuosity_um"], step=self.step, rng=rng)
            radii = np.full(len(path), self.can_radius())
            sid = net.add_from_node(lac[i], path, radii, kind="canaliculus", end=lac[j],
                                    clip=False)
            if sid is None:
                continue
            self.counts["n_links"] += 1
            if rng.random() < p["branch_prob"] / 2:
                d = unit(cj - ci)
                t_i, t_j = self.surface_t(lac[i], d), self.surface_t(lac[j], -d)
                length = net.strands[sid].length
                self.counts["n_link_branches"] += self.try_child(
                    sid, t_i + 0.3 * (length - t_i - t_j), t_i + 0.7 * (length - t_i - t_j))

    def link_to_canal(self) -> None:
        """A canaliculus from each lacuna within ``canal_link_um`` of the canal surface to a
        junction on its axis."""
        if self.canal_sid is None:
            return
        net, p, rng, dims, L = self.net, self.p, self.rng, self.dims, self.L
        centre_lat, canal_r, lac = self.centre_lat, self.canal_r, self.lac
        for k, c in enumerate(self.centres):
            lateral = c[1:] - centre_lat
            e_r = np.zeros(dims)
            e_r[1:] = unit(lateral)
            depth = np.linalg.norm(lateral) - canal_r - 1.0 / np.sqrt(
                np.sum(((e_r @ net.nodes[lac[k]]["rotation"]) / net.nodes[lac[k]]["semi_axes_um"])
                       ** 2))
            if depth > p["canal_link_um"]:
                continue
            for shift in (0.0, 1.0, -1.0, 2.0, -2.0):
                s = float(np.clip(c[0] + shift * net.branch_separation(np.array([canal_r])),
                                  0, L[0]))
                target = np.zeros(dims)
                target[0] = s
                target[1:] = centre_lat
                path = perturbed_path(c, target, amplitude=p["tortuosity_um"] / 2,
                                      step=self.step, rng=rng, n_modes=2)
                radii = np.full(len(path), self.can_radius())
                sid = net.add_from_node(lac[k], path, radii, kind="canaliculus",
                                        end=("junction", self.canal_sid, s), clip=False)
                if sid is not None:
                    self.counts["n_canal_links"] += 1
                    break

    def add_dangling(self) -> None:
        """Poisson(``dangling``) dangling canaliculi per lacuna, biased towards the radial
        axis, some branching."""
        net, p, rng, dims = self.net, self.p, self.rng, self.dims
        for k, nid in enumerate(self.lac):
            rot = net.nodes[nid]["rotation"]
            for _ in range(int(rng.poisson(self.dangling))):
                for _try in range(3):
                    radial = rot[:, -1] * rng.choice([-1.0, 1.0])
                    direction = unit(random_unit(rng, dims) + p["radial_bias"] * radial)
                    t_s = self.surface_t(nid, direction)
                    r0 = self.can_radius()
                    # at least 3 diameters (and 2 µm) outside: a shorter stub is not a canaliculus
                    out_len = max(2.0, 6 * r0, min(rng.exponential(p["dangling_length_um"]),
                                                   3 * p["dangling_length_um"]))
                    end = self.centres[k] + (t_s + out_len) * direction
                    amp = p["tortuosity_um"] * min(1.0, out_len / 20)
                    path = perturbed_path(self.centres[k], end, amplitude=amp, step=self.step,
                                          rng=rng)
                    radii = np.linspace(r0, p["taper"] * r0, len(path))
                    sid = net.add_from_node(nid, path, radii, kind="canaliculus", end=None,
                                            end_kind="tip", min_length=t_s + 2 * net.h)
                    if sid is None:
                        continue
                    self.counts["n_dangling"] += 1
                    if rng.random() < p["branch_prob"]:
                        length = net.strands[sid].length
                        self.counts["n_dangling_branches"] += self.try_child(
                            sid, t_s + 0.3 * (length - t_s), t_s + 0.7 * (length - t_s))
                    break

    def _canalicular_lengths(self) -> tuple[float, float]:
        """Canalicular length outside lacunae: in all, and in the bone matrix (without the
        part inside the canal), µm."""
        net = self.net
        can_total = can_matrix = 0.0
        for strand in net.strands:
            if strand.kind != "canaliculus":
                continue
            outside = net._length_outside_lacunae(strand.points)
            can_total += outside
            if self.canal_sid is not None:  # drop the part inside the canal
                lat = np.linalg.norm(strand.points[:, 1:] - self.centre_lat, axis=1)
                inside_canal = lat < self.canal_r
                if inside_canal.any():
                    seg = np.linalg.norm(np.diff(strand.points, axis=0), axis=1)
                    outside -= float(seg[inside_canal[1:] & inside_canal[:-1]].sum())
            can_matrix += outside
        return can_total, can_matrix

    def truth(self) -> dict[str, Any]:
        """The derived ground-truth numbers."""
        net, dims, lac, n = self.net, self.dims, self.lac, self.counts
        lac_volumes = [4 / 3 * np.pi * np.prod(net.nodes[i]["semi_axes_um"]) if dims == 3 else
                       np.pi * np.prod(net.nodes[i]["semi_axes_um"]) for i in lac]
        can_total, can_matrix = self._canalicular_lengths()
        unit_v = "mm3" if dims == 3 else "mm2"
        scale = 1e-9 if dims == 3 else 1e-6
        return {
            "n_lacunae_expected": float(self.expected),
            "n_lacunae_target": self.n_target,
            "n_lacunae": len(lac),
            f"lacunar_density_per_{unit_v}": len(lac) / (self.bone_volume * scale),
            "bone_volume_um" + ("3" if dims == 3 else "2"): self.bone_volume,
            "lacunar_volume_um" + ("3" if dims == 3 else "2"): float(np.sum(lac_volumes)),
            "lacunar_porosity_analytic": float(np.sum(lac_volumes) / self.volume),
            "n_links": n["n_links"],
            "n_canal_links": n["n_canal_links"],
            "n_dangling": n["n_dangling"],
            "n_side_branches": n["n_link_branches"] + n["n_dangling_branches"],
            "canaliculus_diameter_um_median": float(self.d_median),
            "dangling_per_lacuna_used": float(self.dangling),
            "canalicular_length_um": can_matrix,
            "canalicular_length_outside_lacunae_um": can_total,
            ("canalicular_length_density_per_um2" if dims == 3 else
             "canalicular_length_density_per_um"): can_matrix / self.bone_volume,
        }
