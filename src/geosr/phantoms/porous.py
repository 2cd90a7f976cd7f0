"""Porous-material phantom: :func:`porespy.generators.blobs` with a skeleton graph.

The pore space is ``field < porosity`` where ``field`` is porespy's blob field (uniform white
noise, Gaussian-smoothed, then mapped to a uniform distribution). The smoothing length is
``blob_size_um`` (µm, default 8 in 2D, 6 in 3D; porespy's ``blobiness`` per axis is derived from
it and the spacing), or, if ``blobiness`` is given, porespy's own mean(size)/(40·blobiness),
which grows with the field.
The partial-volume occupancy comes from the same field: ``o = clip(0.5 − (field − porosity) /
|∇field|, 0, 1)`` (a first-order sub-voxel distance to the threshold surface), so ``o ≥ 0.5``
exactly where the mask is 1.

Ground-truth graph: **the skeleton**, not a pore network: ``skimage.morphology.skeletonize`` of
the mask (checked for the 3D thinning bug, :mod:`geosr.phantoms.skeleton`), then
``skan.Skeleton`` paths → one edge per skeleton path (``kind="skeleton"``,
``length_um`` = skan's path length in µm, ``radius_um`` = mean Euclidean distance transform on
the path, ``polyline`` = its pixel centres) between nodes at junction pixels (``junction``) and
end pixels (``tip``); a skeleton reduced to one pixel, or a small component that 3D thinning
deletes outright, is an ``isolated`` node (at its deepest voxel); where skan finds
two paths between the same two nodes, one of them gets a ``path_point`` node in its middle (the
graph is a simple :class:`networkx.Graph`). Because skeletonisation preserves topology, the graph
has as many components as the mask (8-/26-connectivity); its lengths are those of the digital
skeleton, so it is not an independent check of skeleton length.

>>> from geosr.phantoms import phantom
>>> ph = phantom("porous", dims=2, size_um=128, spacing_um=2, seed=0)
>>> 0.2 < ph.params["porosity"] < 0.4
True
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np

from geosr.phantoms.params import ParamSpec

__all__ = ["SPECS", "DEFAULT_SIZE", "DEFAULT_SPACING", "generate", "smallest_feature",
           "skeleton_graph"]

DEFAULT_SIZE = (512.0, 200.0)   # µm, (2D, 3D)
DEFAULT_SPACING = (2.0, 2.0)    # µm, (2D, 3D)

SPECS: dict[str, ParamSpec] = {
    "porosity": ParamSpec(0.3, lo=0.01, hi=0.99, doc="target pore fraction (porespy blobs)"),
    "blob_size_um": ParamSpec((8.0, 6.0), lo=0.01, hi=1e5, per_dims=True,
                              doc="Gaussian smoothing length of the blob field, µm (sets the "
                                  "pore size; ignored if blobiness is given)"),
    "blobiness": ParamSpec(None, lo=0.01, hi=1000.0, optional=True,
                           doc="porespy blobiness instead of blob_size_um: smoothing length = "
                               "mean(size_um)/(40·blobiness) µm, so it scales with the field"),
    "periodic": ParamSpec(True, bool, doc="periodic blobs (porespy's default)"),
    "allow_subvoxel": ParamSpec(False, bool,
                                doc="allow a spacing coarser than the blob correlation length"),
}


def _sigma_um(p: dict[str, Any], size) -> float:
    if p["blobiness"] is not None:
        return float(np.mean(size)) / (40 * p["blobiness"])
    return float(p["blob_size_um"])


def smallest_feature(p: dict[str, Any], spacing, size) -> tuple[str, float]:
    """The blob smoothing length (µm): ``blob_size_um``, or mean(size_um)/(40·blobiness)."""
    return "blob smoothing length (blob_size_um)", _sigma_um(p, size)


def _blob_field(shape: tuple[int, ...], blobiness: list[float], periodic: bool, seed: int
                ) -> np.ndarray:
    """porespy's blob field (porosity=None: the uniform-normalised smooth noise). porespy seeds
    numpy's global generator; its state is saved and restored around the call."""
    from porespy.generators import blobs

    state = np.random.get_state()
    try:
        field = blobs(list(shape), porosity=None, blobiness=blobiness, parallel_kw={"divs": 1},
                      seed=seed, periodic=periodic)
    finally:
        np.random.set_state(state)
    return np.asarray(field, np.float64)


def skeleton_graph(mask: np.ndarray, spacing: tuple[float, ...]) -> nx.Graph:
    """The skeleton graph of a binary mask (see the module doc). Positions in µm with pixel
    ``i`` at ``(i + 0.5)·spacing``."""
    import skan

    from geosr.phantoms.skeleton import skeletonize_checked

    spacing_a = np.asarray(spacing, float)
    origin = spacing_a / 2
    mask = np.asarray(mask, bool)
    skel = skeletonize_checked(mask)
    g = nx.Graph()
    if not skel.any():
        return g
    try:
        import edt as edt_mod

        dist = edt_mod.edt(mask, anisotropy=tuple(spacing_a), black_border=False)
    except ImportError:  # pragma: no cover
        from scipy import ndimage as ndi

        dist = ndi.distance_transform_edt(mask, sampling=spacing_a)
    sk = skan.Skeleton(skel, spacing=spacing_a)
    coords = np.asarray(sk.coordinates)
    degrees = np.asarray(sk.degrees)
    lengths = np.asarray(sk.path_lengths())

    def pos(idx: int) -> list[float]:
        return [round(float(v), 4) for v in coords[idx] * spacing_a + origin]

    def add_node(idx: int) -> int:
        if idx not in g:
            deg = int(degrees[idx])
            kind = "tip" if deg == 1 else ("junction" if deg >= 3 else
                                           ("isolated" if deg == 0 else "path_point"))
            g.add_node(int(idx), pos=pos(idx), kind=kind)
        return int(idx)

    for i in range(sk.n_paths):
        path = np.asarray(sk.path(i))
        u, v = add_node(int(path[0])), add_node(int(path[-1]))
        pieces = [path]
        if g.has_edge(u, v) and len(path) >= 3:  # parallel path: split it in the middle
            mid = len(path) // 2
            g.add_node(int(path[mid]), pos=pos(int(path[mid])), kind="path_point")
            pieces = [path[: mid + 1], path[mid:]]
        for piece in pieces:
            a, b = int(piece[0]), int(piece[-1])
            pts = coords[piece] * spacing_a + origin
            seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
            length = float(seg.sum()) if len(pieces) > 1 else float(lengths[i])
            radii = dist[tuple(coords[piece].astype(int).T)]
            g.add_edge(a, b, kind="skeleton", length_um=round(length, 4),
                       length_outside_um=round(length, 4),
                       radius_um=round(float(np.mean(radii)), 4),
                       polyline=[[round(float(c), 4) for c in p] for p in pts])
    for idx in np.flatnonzero(degrees == 0):
        add_node(int(idx))
    # 3D thinning deletes some tiny components outright: give each an isolated node at its
    # deepest voxel, so that the graph keeps one component per mask component
    from geosr.phantoms.graph import label_components

    labels, n = label_components(mask)
    has_skel = np.zeros(n + 1, bool)
    has_skel[labels[skel]] = True
    missing = np.flatnonzero(~has_skel[1:]) + 1
    if len(missing):
        from scipy import ndimage as ndi

        deepest = ndi.maximum_position(dist, labels, missing)
        next_id = len(coords)
        for k, idx in enumerate(deepest):
            g.add_node(next_id + k, pos=[round(float(v), 4) for v in
                                         np.asarray(idx) * spacing_a + origin],
                       kind="isolated", radius_um=round(float(dist[idx]), 4))
    return g


def generate(shape, spacing, p: dict[str, Any], rng: np.random.Generator):
    """``(occupancy, mask, labels, graph, derived)`` of a porous phantom."""
    seed = int(rng.integers(0, 2**31 - 1))
    size = np.asarray(shape) * np.asarray(spacing, float)
    sigma_um = _sigma_um(p, size)
    # porespy smooths with sigma = mean(shape) / (40·blobiness) voxels along every axis; pick the
    # blobiness per axis that gives sigma_um in µm
    sigma_vox = sigma_um / np.asarray(spacing, float)
    blobiness = [float(np.mean(shape) / (40 * sv)) for sv in sigma_vox]
    field = _blob_field(tuple(shape), blobiness, p["periodic"], seed)
    mask = field < p["porosity"]
    grads = np.gradient(field)
    if not isinstance(grads, (list, tuple)):
        grads = [grads]
    gnorm = np.sqrt(sum(gk**2 for gk in grads))
    sdf_vox = (field - p["porosity"]) / np.maximum(gnorm, 1e-12)
    occupancy = np.clip(0.5 - sdf_vox, 0.0, 1.0).astype(np.float32)
    occupancy[mask & (occupancy < 0.5)] = 0.5  # exact consistency at ties
    occupancy[~mask & (occupancy >= 0.5)] = np.float32(0.4999)
    labels = mask.astype(np.uint8)  # every pore voxel is "large" (no thin class here)
    graph = skeleton_graph(mask, spacing)
    derived = {
        "blob_seed": seed,
        "blob_sigma_um": sigma_um,
        "porespy_blobiness": blobiness,
        "graph_source": "skeleton (skimage skeletonize + skan paths)",
    }
    return occupancy, mask, labels, graph, derived
