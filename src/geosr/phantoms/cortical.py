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
    """Add canals and Volkmann links to ``net``; return derived ground-truth numbers."""
    dims = net.dims
    L = net.extent
    axial = float(L[0])                  # bone axis: Z (3D) or Y (2D), index 0
    lat_size = L[1:] if dims == 2 else L[1:]
    step = max(2 * net.h, 0.25)
    gap = net.gap
    rlo, rhi = sorted(p["canal_radius_range_um"])
    vlo, vhi = sorted(p["volkmann_radius_range_um"])
    spacing = p["canal_spacing_um"]

    # ---- canal positions across the axis (hard-core RSA)
    area = float(np.prod(lat_size))
    expected = area / spacing ** (dims - 1)
    n_target = int(rng.poisson(expected))
    positions: list[np.ndarray] = []
    radii0: list[float] = []
    hard_core = 0.5 * spacing
    drift_dir0 = random_unit(rng, dims - 1)
    phase0 = rng.uniform(0, 2 * np.pi)
    tries = 0
    while len(positions) < n_target and tries < 200 * max(n_target, 1):
        tries += 1
        r = float(np.clip(p["canal_radius_um"] * np.exp(rng.normal(0, p["canal_radius_sigma"])),
                          rlo, rhi))
        margin = r * (1 + p["radius_variation"]) + net.h
        if np.any(lat_size < 2 * margin):
            continue
        pos = rng.uniform(margin, lat_size - margin)
        if any(np.linalg.norm(pos - q) < max(hard_core, r + rq + 2 * p["drift_um"] * 0.3 + gap)
               for q, rq in zip(positions, radii0)):
            continue
        positions.append(pos)
        radii0.append(r)

    canals: list[int] = []
    n_axial = max(2, int(np.ceil(axial / max(step, 0.5 * rlo))) + 1)
    for pos, r in zip(positions, radii0):
        z0, z1 = 0.0, axial
        partial = rng.random() < p["partial_fraction"]
        if partial:
            which = rng.integers(3)  # 0: starts inside, 1: ends inside, 2: both
            if which in (0, 2):
                z0 = rng.uniform(0.05, 0.45) * axial
            if which in (1, 2):
                z1 = rng.uniform(0.55, 0.95) * axial
        z = np.linspace(z0, z1, max(2, int(np.ceil((z1 - z0) / axial * n_axial)) + 1))
        phase = phase0 + rng.normal(0, 0.4)
        direction = unit(drift_dir0 + rng.normal(0, 0.3, dims - 1))
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
            continue
        u = net.add_node(pts[0], "canal" if z0 == 0 else "tip")
        v = net.add_node(pts[-1], "canal" if z1 == axial else "tip")
        canals.append(net.add_strand(pts, rad, kind="canal", label=LARGE, start=u, end=v))
    n_canals = len(canals)
    canal_length = sum(net.strands[s].length for s in canals)

    # ---- neighbours across the axis
    mid = np.array([net.strands[s].points[len(net.strands[s].points) // 2, 1:] for s in canals]
                   ).reshape(n_canals, dims - 1)
    nbrs: list[list[int]] = [[] for _ in range(n_canals)]
    for i in range(n_canals):
        for j in range(n_canals):
            if i != j and np.linalg.norm(mid[i] - mid[j]) <= p["volkmann_max_length_um"]:
                nbrs[i].append(j)
        if dims == 2 and nbrs[i]:  # in a section only the next canals on either side
            left = [j for j in nbrs[i] if mid[j][0] < mid[i][0]]
            right = [j for j in nbrs[i] if mid[j][0] > mid[i][0]]
            nbrs[i] = ([max(left, key=lambda j: mid[j][0])] if left else []) + (
                [min(right, key=lambda j: mid[j][0])] if right else [])

    def axial_arc(sid: int, zv: float) -> float | None:
        strand = net.strands[sid]
        zs = strand.points[:, 0]
        if not (zs[0] < zv < zs[-1]):
            return None
        return float(np.interp(zv, zs, strand.arc))

    def v_radius(*parents: float) -> float:
        r = float(np.clip(p["volkmann_radius_um"] * np.exp(rng.normal(0, 0.25)), vlo, vhi))
        return min(r, 0.8 * min(parents))

    # ---- Volkmann links
    n_links_target = int(rng.poisson(p["volkmann_per_mm"] * canal_length * 1e-3))
    n_links = n_blind = 0
    for _ in range(n_links_target):
        if n_canals == 0:
            break
        i = int(rng.integers(n_canals))
        blind = rng.random() < p["blind_volkmann_fraction"] or not nbrs[i]
        zv = rng.uniform(0, axial)
        si = axial_arc(canals[i], zv)
        if si is None:
            continue
        pi, ri = net.strands[canals[i]].at(si)
        if blind:
            direction = np.zeros(dims)
            direction[1:] = random_unit(rng, dims - 1)
            direction[0] = rng.normal(0, 0.2)
            direction = unit(direction)
            rv = v_radius(ri)
            length = ri + gap + max(6 * rv, rng.exponential(120.0))
            path = perturbed_path(pi, pi + length * direction, amplitude=0.1 * rv, step=step,
                                  rng=rng, n_modes=1)
            rad = np.linspace(rv, 0.8 * rv, len(path))
            sid = net.add_branch(canals[i], si, path, rad, kind="volkmann", label=THIN,
                                 end_kind="tip", min_sep=2 * ri)
            n_blind += sid is not None
            continue
        j = nbrs[i][int(rng.integers(len(nbrs[i])))]
        zj = zv + rng.normal(0, 0.15 * np.linalg.norm(mid[i] - mid[j]))
        sj = axial_arc(canals[j], zj)
        if sj is None:
            continue
        pj, rj = net.strands[canals[j]].at(sj)
        rv = v_radius(ri, rj)
        path = perturbed_path(pi, pj, amplitude=0.1 * rv, step=step, rng=rng, n_modes=1)
        rad = np.full(len(path), rv)
        sid = net.add_branch(canals[i], si, path, rad, kind="volkmann", label=THIN,
                             end=("junction", canals[j], sj), min_sep=2 * max(ri, rj))
        n_links += sid is not None

    volume = float(np.prod(L))
    out: dict[str, Any] = {
        "n_canals": n_canals,
        "n_canals_target": n_target,
        "canal_length_um": canal_length,
        "n_volkmann_links": n_links,
        "n_volkmann_blind": n_blind,
        "volkmann_length_um": sum(s.length for s in net.strands if s.kind == "volkmann"),
    }
    if dims == 3:
        out["canal_density_per_mm2"] = n_canals / (area * 1e-6)
        out["canal_length_density_per_mm2"] = canal_length * 1e-3 / (volume * 1e-9)
    else:
        out["canals_per_mm"] = n_canals / (area * 1e-3)
    return out
