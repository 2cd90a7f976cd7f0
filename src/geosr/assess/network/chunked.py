"""Network metrics of volumes larger than memory, chunk by chunk (Zarr, TIFF or slice folders,
read lazily), equal to the in-memory metrics where they are exact.

Each chunk is one task (:func:`chunk_summary`, run here or on a dask cluster through
:mod:`geosr.core.cluster`) that reads its block plus a margin, segments it with a *global*
rule, and returns small summaries; the driver (:func:`assess_chunked`) merges them:

- **porosity**: foreground voxels / all voxels (additive; exact).
- **connected components across chunk borders** (8-connected in 2D, 26 in 3D): each chunk is
  labelled alone; the labels on both sides of every chunk boundary (whole planes, stitched from
  every chunk's faces, compared at all 3^(d−1) diagonal offsets) are merged in a union-find
  graph (scipy connected components). Count and largest-component share are exact.
- **Euler characteristic** χ of the closed-cube complex (as :func:`~.topology.
  euler_characteristic`): every lattice cell is owned by its lowest corner vertex, and each
  chunk counts the cells of the vertices it owns from a one-voxel margin below — additive,
  exact. **Conn.D** adds the χ of the stack's faces, edges and corners (read as planes/lines).
- **through-stack connectivity** (3D, with truth; as :func:`~.connectivity.stack_connectivity`):
  terminals are labelled on the foreground shell voxels (26-adjacency among them), each tagged
  with its global truth and prediction component. Exact.
- **clDice**: each chunk is skeletonised with a margin of ``skeleton_margin`` voxels and only
  its own block is counted. Skeletonisation is a global thinning, so this is an approximation
  (agreement with the in-memory value is reported by the tests, not guaranteed).

Segmentation is global: ``"fixed"`` (``threshold``), ``"otsu"`` (on a 256-bin histogram of the
truth — or of the prediction without truth — accumulated over chunks, as
``skimage.filters.threshold_otsu`` does on the whole image) or ``"mask"`` (non-zero = pore).

>>> import numpy as np
>>> m = np.zeros((20, 20), bool); m[2:5, :] = m[10:12, 3:9] = True
>>> res = assess_chunked(m, segmentation="mask", chunk=7)
>>> res["prediction"]["components"], res["prediction"]["porosity"], res["prediction"]["euler"]
(2, 0.18, 2)
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any, Callable, Sequence

import numpy as np

from geosr.core.errors import ConfigError, InputError
from geosr.core.per_axis import per_axis

__all__ = ["assess_chunked", "chunk_summary", "ChunkSpec"]

_CACHE: dict[Any, Any] = {}


@dataclasses.dataclass(frozen=True)
class ChunkSpec:
    """What a worker needs to summarise one chunk (picklable)."""

    sources: tuple[Any, ...]      #: prediction (and truth): paths, or arrays in-process
    shape: tuple[int, ...]
    chunk: tuple[int, ...]
    thresholds: tuple[float | None, ...]   #: None = mask (non-zero is pore)
    bright: bool
    skeleton_margin: int          #: 0: no clDice

    def indices(self) -> list[tuple[int, ...]]:
        return list(itertools.product(*[range(-(-n // c)) for n, c in zip(self.shape,
                                                                            self.chunk)]))


def _volume(source: Any) -> Any:
    if not isinstance(source, str):
        return source
    if source not in _CACHE:
        from geosr.io.volumes import open_volume

        _CACHE.clear()
        _CACHE[source] = open_volume(source).data
    return _CACHE[source]


def _read_mask(spec: ChunkSpec, which: int, lo: Sequence[int], hi: Sequence[int]
               ) -> np.ndarray:
    """Segmented region ``[lo, hi)`` (may reach outside the image: padded with background)."""
    clipped = [(max(0, a), min(n, b)) for a, b, n in zip(lo, hi, spec.shape)]
    values = np.asarray(_volume(spec.sources[which])[tuple(slice(a, b) for a, b in clipped)])
    t = spec.thresholds[which]
    mask = values != 0 if t is None else (values > t if spec.bright else values <= t)
    pad = [(a - l, h - b) for (a, b), l, h in zip(clipped, lo, hi)]
    return np.pad(mask, pad) if any(p for pair in pad for p in pair) else mask


def _chi_owned(block: np.ndarray) -> int:
    """χ contribution of the lattice vertices owned by a block that starts one voxel below
    them (see module doc): cells of dimension k at vertex p need voxels p along the k cell
    axes and p−1 or p along the others."""
    chi = 0
    d = block.ndim
    for k in range(d + 1):
        for cell_axes in itertools.combinations(range(d), k):
            part = block
            for ax in range(d):
                lo = [slice(None)] * d
                hi = [slice(None)] * d
                lo[ax], hi[ax] = slice(None, -1), slice(1, None)
                part = part[tuple(hi)] if ax in cell_axes else (part[tuple(lo)]
                                                                | part[tuple(hi)])
            chi += (-1) ** k * int(np.count_nonzero(part))
    return chi


def _faces(labels: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each axis, (first plane, last plane) of ``labels`` as sparse (flat index, label)."""
    out = []
    for ax in range(labels.ndim):
        pair = []
        for end in (0, -1):
            plane = np.take(labels, end, axis=ax).ravel()
            nz = np.flatnonzero(plane)
            pair.append((nz.astype(np.int64), plane[nz].astype(np.int64)))
        out.append(tuple(pair))
    return out


def chunk_summary(spec: ChunkSpec, index: Sequence[int]) -> dict[str, Any]:
    """Summaries of chunk ``index`` for each source (prediction, truth): foreground count,
    χ share, local labels' sizes and faces, shell voxels (3D) and skeleton counts."""
    from scipy import ndimage

    d = len(spec.shape)
    start = [i * c for i, c in zip(index, spec.chunk)]
    stop = [min(n, s + c) for s, c, n in zip(start, spec.chunk, spec.shape)]
    margin = max(1, spec.skeleton_margin)
    lo = [s - margin for s in start]
    hi = [e + margin for e in stop]
    core = tuple(slice(margin, margin + e - s) for s, e in zip(start, stop))
    chi_box = tuple(slice(margin - 1, margin + e - s + (e == n))
                    for s, e, n in zip(start, stop, spec.shape))
    masks = [_read_mask(spec, w, lo, hi) for w in range(len(spec.sources))]
    result: dict[str, Any] = {"index": tuple(index), "start": start, "stop": stop, "sources": []}
    for m in masks:
        c = m[core]
        labels, n = ndimage.label(c, structure=np.ones((3,) * d, bool))
        result["sources"].append({
            "foreground": int(np.count_nonzero(c)), "chi": _chi_owned(m[chi_box]),
            "n": int(n), "sizes": np.bincount(labels.ravel(), minlength=n + 1)[1:],
            "faces": _faces(labels), "labels_shell": _shell(labels, start, stop, spec.shape)})
    if spec.skeleton_margin and len(masks) == 2:
        result["skeleton"] = _skeleton_counts(masks[0], masks[1], core)
    return result


def _shell(labels: np.ndarray, start: Sequence[int], stop: Sequence[int],
           shape: Sequence[int]) -> tuple[np.ndarray, np.ndarray] | None:
    """(global linear index, local label) of the foreground voxels of this chunk that lie on
    the faces of the whole volume (3D only), else None."""
    if labels.ndim != 3:
        return None
    on = np.zeros(labels.shape, bool)
    for ax in range(3):
        for end, edge in ((0, start[ax] == 0), (-1, stop[ax] == shape[ax])):
            if edge:
                index: list[Any] = [slice(None)] * 3
                index[ax] = end
                on[tuple(index)] = True
    pos = np.nonzero(on & (labels > 0))
    linear = np.ravel_multi_index(tuple(p + s for p, s in zip(pos, start)), tuple(shape))
    return linear.astype(np.int64), labels[pos].astype(np.int64)


def _skeleton_counts(pm: np.ndarray, gm: np.ndarray, core: tuple) -> dict[str, int]:
    from geosr.assess.network.cldice import skeletonize

    sp, sg = skeletonize(pm)[core], skeletonize(gm)[core]
    p, g = pm[core], gm[core]
    return {"sp": int(sp.sum()), "sp_in_g": int((sp & g).sum()),
            "sg": int(sg.sum()), "sg_in_p": int((sg & p).sum())}


def _plane_ids(summaries: list, which: int, axis: int, b: int, side: str,
               shape: Sequence[int], offsets: dict) -> np.ndarray:
    """Global component ids on the plane ``b`` (``side`` "last": the plane b−1 of the chunks
    ending at b; "first": the plane b of those starting at b), whole extent of the other axes."""
    other = [a for a in range(len(shape)) if a != axis]
    plane = np.zeros([shape[a] for a in other], np.int64)
    for s in summaries:
        edge = s["stop"][axis] if side == "last" else s["start"][axis]
        if edge != b:
            continue
        flat, lab = s["sources"][which]["faces"][axis][1 if side == "last" else 0]
        if not flat.size:
            continue
        face_shape = [s["stop"][a] - s["start"][a] for a in other]
        pos = np.unravel_index(flat, face_shape)
        plane[tuple(p + s["start"][a] for p, a in zip(pos, other))] = lab + offsets[s["index"]]
    return plane


def _boundary_edges(a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    """Pairs (id in a, id in b) of foreground pixels adjacent across the boundary (the same
    or a diagonal position), as arrays."""
    out = []
    for shift in itertools.product((-1, 0, 1), repeat=a.ndim):
        sa = tuple(slice(1, None) if o < 0 else slice(None, -1) if o > 0 else slice(None)
                   for o in shift)
        sb = tuple(slice(None, -1) if o < 0 else slice(1, None) if o > 0 else slice(None)
                   for o in shift)
        pa, pb = a[sa], b[sb]
        both = (pa > 0) & (pb > 0)
        if both.any():
            out.append(np.stack([pa[both], pb[both]]))
    return out


def _merge_components(summaries: list, which: int, spec: ChunkSpec
                      ) -> tuple[int, np.ndarray, dict, np.ndarray]:
    """(number of components, component of every global id, id offset per chunk, size of
    every component) after merging labels across all chunk boundaries."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    offsets, total = {}, 0
    for s in summaries:
        offsets[s["index"]] = total
        total += s["sources"][which]["n"]
    edges = []
    for axis, (n, c) in enumerate(zip(spec.shape, spec.chunk)):
        for b in range(c, n, c):
            a_ids = _plane_ids(summaries, which, axis, b, "last", spec.shape, offsets)
            b_ids = _plane_ids(summaries, which, axis, b, "first", spec.shape, offsets)
            edges += _boundary_edges(a_ids, b_ids)
    pairs = np.concatenate(edges, axis=1) if edges else np.zeros((2, 0), np.int64)
    graph = coo_matrix((np.ones(pairs.shape[1], np.int8), (pairs[0], pairs[1])),
                       shape=(total + 1, total + 1))
    _, raw = connected_components(graph, directed=False)
    members = np.unique(raw[1:], return_inverse=True)[1].ravel() if total else \
        np.zeros(0, np.int64)
    k = int(members.max()) + 1 if total else 0
    comp = np.concatenate([[-1], members]).astype(np.int64)   # component of each global id
    sizes = np.concatenate([s["sources"][which]["sizes"] for s in summaries]) if total else \
        np.zeros(0)
    size = np.bincount(members, weights=sizes, minlength=k)
    return k, comp, offsets, size


def _global_shell(summaries: list, which: int, comp: np.ndarray, offsets: dict
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(sorted global linear index, component) of the foreground voxels on the volume's
    faces."""
    lin, ids = [], []
    for s in summaries:
        shell = s["sources"][which]["labels_shell"]
        if shell is not None and shell[0].size:
            lin.append(shell[0])
            ids.append(comp[shell[1] + offsets[s["index"]]])
    if not lin:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    lin_a, ids_a = np.concatenate(lin), np.concatenate(ids)
    order = np.argsort(lin_a)
    return lin_a[order], ids_a[order]


def _stack_connectivity(summaries: list, merged: list, spec: ChunkSpec) -> Any:
    """:func:`~.connectivity.stack_connectivity` from the shell voxels and global components
    (``axis=None``: the axis with the most truth connections through the stack)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from geosr.assess.network._common import safe_ratio
    from geosr.assess.network.connectivity import StackConnectivity, _pairs

    g_lin, g_comp = _global_shell(summaries, 1, merged[1][1], merged[1][2])
    p_lin, p_comp = _global_shell(summaries, 0, merged[0][1], merged[0][2])
    if not g_lin.size:
        return StackConnectivity(0, 0, 0, float("nan"), 0, 0, 0, 0, float("nan"),
                                 "the truth does not reach the faces of the stack")
    coords = np.stack(np.unravel_index(g_lin, spec.shape))
    edges = []
    for off in itertools.product((-1, 0, 1), repeat=3):
        if off <= (0, 0, 0):
            continue                                   # 13 of the 26 directions
        nb = coords + np.array(off)[:, None]
        ok = np.all((nb >= 0) & (nb < np.array(spec.shape)[:, None]), axis=0)
        lin = np.ravel_multi_index(tuple(nb[:, ok]), spec.shape)
        pos = np.searchsorted(g_lin, lin).clip(max=g_lin.size - 1)
        hit = g_lin[pos] == lin
        edges.append(np.stack([np.flatnonzero(ok)[hit], pos[hit]]))
    pairs = np.concatenate(edges, axis=1)
    n = g_lin.size
    n_term, term = connected_components(coo_matrix((np.ones(pairs.shape[1]), (pairs[0],
                                                    pairs[1])), shape=(n, n)), directed=False)
    term = term + 1
    pred_at = np.zeros(n, np.int64)          # prediction component + 1 at each shell voxel
    if p_lin.size:
        pos = np.searchsorted(p_lin, g_lin).clip(max=p_lin.size - 1)
        hit = p_lin[pos] == g_lin
        pred_at[hit] = p_comp[pos[hit]] + 1
    comp = np.zeros(n_term + 1, np.int64)
    comp[term] = g_comp + 1
    sets: list[set] = [set() for _ in range(n_term + 1)]
    for t, lab in set(zip(term[pred_at > 0].tolist(), pred_at[pred_at > 0].tolist())):
        sets[t].add(lab)
    fsets = [frozenset(s) for s in sets]
    n_conn, n_pres, n_false = _pairs(np.arange(1, n_term + 1), fsets[1:], comp[1:])

    def through(ax: int) -> tuple[int, int]:
        top = np.unique(term[coords[ax] == 0])
        bottom = np.unique(term[coords[ax] == spec.shape[ax] - 1])
        k, kept, _ = _pairs(top, [fsets[t] for t in top], comp[top],
                            bottom, [fsets[t] for t in bottom], comp[bottom])
        return k, kept

    results = [through(ax) for ax in range(3)]
    axis = int(np.argmax([r[0] for r in results]))
    n_thr, n_thr_pres = results[axis]
    note = None if n_thr else (f"no truth connection runs from the first to the last slice "
                               f"along axis {axis}")
    return StackConnectivity(int(n_term), n_conn, n_pres, safe_ratio(n_pres, n_conn), n_false,
                             axis, n_thr, n_thr_pres, safe_ratio(n_thr_pres, n_thr), note)


def _open(source: Any, name: str) -> tuple[Any, Any, tuple[float, ...]]:
    """(what workers read: a path string or an array, the lazy data, spacing in µm)."""
    import os

    from geosr.core.image import Image, as_image

    if isinstance(source, (str, os.PathLike)):
        from geosr.io.volumes import open_volume

        image = open_volume(source)
        if image.has_channels:
            raise InputError("network metrics need one channel", where=str(source))
        return str(source), image.data, image.spacing_um
    image = source if isinstance(source, Image) else as_image(np.asarray(source))
    return image.data, image.data, image.spacing_um


def _histogram_threshold(data: Any, chunk: Sequence[int], shape: Sequence[int]) -> float:
    """Otsu's threshold of ``data`` from a histogram accumulated chunk by chunk, with the bins
    ``skimage.filters.threshold_otsu`` uses on the whole image (one per integer value for
    integer data, 256 over [min, max] for floats)."""
    from skimage.filters import threshold_otsu

    boxes = [tuple(slice(i * c, min(n, (i + 1) * c)) for i, c, n in zip(idx, chunk, shape))
             for idx in itertools.product(*[range(-(-n // c)) for n, c in zip(shape, chunk)])]
    lo, hi = math.inf, -math.inf
    for box in boxes:
        v = np.asarray(data[box])
        v = v[np.isfinite(v)] if v.dtype.kind == "f" else v
        if v.size:
            lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
    if not lo < hi:
        return hi if math.isfinite(hi) else 0.0
    integer = np.dtype(data.dtype).kind in "iub"
    counts = np.zeros(int(hi - lo) + 1 if integer else 256, np.int64)
    for box in boxes:
        v = np.asarray(data[box]).ravel()
        if integer:
            counts += np.bincount((v.astype(np.int64) - int(lo)), minlength=counts.size)
        else:
            counts += np.histogram(v[np.isfinite(v)], bins=256, range=(lo, hi))[0]
    if integer:
        centers = np.arange(int(lo), int(hi) + 1, dtype=float)
    else:
        edges = np.histogram_bin_edges([lo, hi], bins=256, range=(lo, hi))
        centers = (edges[:-1] + edges[1:]) / 2
    return float(threshold_otsu(hist=(counts, centers)))


def _conn_density(spec: ChunkSpec, which: int, chi: int, spacing: Sequence[float]) -> dict:
    """Conn.D (BoneJ) from χ and the stack's faces, edges and corners, read as planes."""
    from geosr.assess.network._common import safe_ratio
    from geosr.assess.network.topology import _runs, euler_characteristic

    n = spec.shape

    def read(index: Sequence[Any]) -> np.ndarray:
        lo = [0 if isinstance(i, slice) else i for i in index]
        hi = [m if isinstance(i, slice) else i + 1 for i, m in zip(index, n)]
        return _read_mask(spec, which, lo, hi).squeeze()

    faces = edges = corners = 0
    for ax in range(3):
        for end in (0, n[ax] - 1):
            index: list[Any] = [slice(None)] * 3
            index[ax] = end
            face = read(index)
            faces += euler_characteristic(face) if face.any() else 0
        others = [a for a in range(3) if a != ax]
        for e0 in (0, n[others[0]] - 1):
            for e1 in (0, n[others[1]] - 1):
                index = [slice(None)] * 3
                index[others[0]], index[others[1]] = e0, e1
                edges += _runs(read(index))
    for corner in itertools.product(*[(0, m - 1) for m in n]):
        corners += int(read(corner).any())
    delta = chi - 0.5 * faces + 0.25 * edges - 0.125 * corners
    volume_mm3 = float(np.prod(n)) * float(np.prod(spacing)) * 1e-9
    return {"euler": chi, "delta_chi": float(delta), "connectivity": 1.0 - delta,
            "volume_mm3": volume_mm3, "conn_density": safe_ratio(1.0 - delta, volume_mm3)}


def _map(spec: ChunkSpec, cluster: Any, progress: Callable[[int, int], None] | None) -> list:
    import functools

    from geosr.core.cluster import map_tasks

    if cluster is not None and any(not isinstance(s, str) for s in spec.sources):
        raise ConfigError("a cluster reads the volumes itself: give file paths",
                          where="cluster")
    return map_tasks(functools.partial(chunk_summary, spec), spec.indices(), cluster,
                     progress=progress)


def assess_chunked(pred: Any, gt: Any = None, *, segmentation: str = "otsu",
                   threshold: float | None = None, bright: bool = True,
                   chunk: int | Sequence[int] | None = None, skeleton_margin: int = 16,
                   cluster: Any = None,
                   progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Porosity, components across chunk borders, Euler characteristic, Conn.D (3D),
    through-stack connectivity (3D, with truth) and clDice (with truth) of volumes read chunk
    by chunk (module doc).

    Parameters
    ----------
    pred, gt:
        Paths (Zarr/OME-Zarr, TIFF, folder of TIFF slices) or arrays/Images of one shape.
    segmentation, threshold, bright:
        ``"otsu"`` (of the truth when given), ``"fixed"`` (``threshold``, image units) or
        ``"mask"``; ``bright=False`` for dark pores (``value <= threshold``).
    chunk:
        Chunk side in voxels (one, or per axis); default 1024 (2D) / 128 (3D).
    skeleton_margin:
        Voxels of context around each chunk for clDice skeletons (0 skips clDice).
    cluster:
        ``None``, ``"local:N"``, ``"tcp://HOST:PORT"`` or a ``distributed.Client``.

    Returns
    -------
    dict
        ``prediction`` / ``truth``: ``porosity``, ``components``, ``largest_component_share``,
        ``euler`` (+ ``conn_density`` … in 3D); ``comparison``: ``stack_connectivity``,
        ``cldice`` (…); ``convention``: segmentation, connectivity, chunking.
    """
    sources, datas, spacings = zip(*[_open(s, n) for s, n in
                                     ((pred, "prediction"), (gt, "truth")) if s is not None])
    shape = tuple(int(n) for n in datas[0].shape)
    if any(tuple(d.shape) != shape for d in datas):
        raise InputError(f"shape mismatch: prediction {shape}, truth {tuple(datas[1].shape)}",
                         where="truth")
    if len(shape) not in (2, 3):
        raise InputError(f"needs a 2D or 3D image, got shape {shape}", where="prediction")
    sides = chunk if chunk is not None else (1024 if len(shape) == 2 else 128)
    sides = per_axis(sides, len(shape), where="chunk", kind=int, minimum=2, unit="voxels")
    if segmentation == "mask":
        thresholds: tuple = (None,) * len(datas)
    elif segmentation == "fixed":
        if threshold is None:
            raise ConfigError("the fixed segmentation needs a threshold", where="threshold")
        thresholds = (float(threshold),) * len(datas)
    elif segmentation == "otsu":
        t = _histogram_threshold(datas[-1], sides, shape)
        thresholds = (t,) * len(datas)
    else:
        raise ConfigError(f"chunked assessment segments with otsu, fixed or mask, not "
                          f"{segmentation!r}", where="segmentation",
                          hint="local and tubeness filters need the whole image")
    spec = ChunkSpec(tuple(sources), shape, sides, thresholds, bool(bright),
                     int(skeleton_margin) if gt is not None else 0)
    summaries = _map(spec, cluster, progress)
    return _merge(summaries, spec, spacings[0], segmentation)


def _merge(summaries: list, spec: ChunkSpec, spacing: Sequence[float],
           segmentation: str) -> dict[str, Any]:
    d = len(spec.shape)
    total = math.prod(spec.shape)
    out: dict[str, Any] = {}
    merged = []
    for which, name in enumerate(("prediction", "truth")[:len(spec.sources)]):
        k, comp, offsets, size = _merge_components(summaries, which, spec)
        merged.append((k, comp, offsets))
        fg = sum(s["sources"][which]["foreground"] for s in summaries)
        chi = sum(s["sources"][which]["chi"] for s in summaries)
        entry = {"porosity": fg / total, "foreground_voxels": fg, "components": k,
                 "largest_component_share": float(size.max() / fg) if fg else float("nan"),
                 "euler": chi}
        if d == 3:
            entry.update(_conn_density(spec, which, chi, spacing))
        out[name] = entry
    comparison: dict[str, Any] = {}
    if len(spec.sources) == 2:
        if d == 3:
            comparison["stack_connectivity"] = _stack_connectivity(summaries, merged,
                                                                   spec).as_dict()
        if spec.skeleton_margin:
            c = {k: sum(s["skeleton"][k] for s in summaries) for k in ("sp", "sp_in_g", "sg",
                                                                        "sg_in_p")}
            tprec = c["sp_in_g"] / c["sp"] if c["sp"] else float("nan")
            tsens = c["sg_in_p"] / c["sg"] if c["sg"] else float("nan")
            score = (2 * tprec * tsens / (tprec + tsens) if c["sp"] and c["sg"]
                     and tprec + tsens > 0 else float("nan"))
            comparison["cldice"] = {"precision": tprec, "recall": tsens, "cldice": score,
                                    "approximate": f"chunk skeletons with a "
                                                   f"{spec.skeleton_margin}-voxel margin"}
    out["comparison"] = comparison
    out["convention"] = {
        "segmentation": segmentation, "thresholds": list(spec.thresholds),
        "bright_pores": spec.bright,
        "connectivity": "8/4" if d == 2 else "26/6", "chunk": list(spec.chunk),
        "chunks": len(summaries), "region": "whole image"}
    return out
