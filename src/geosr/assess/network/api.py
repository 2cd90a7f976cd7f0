"""Front doors of the network assessment: :func:`assess_network` (one pair) and :func:`assess`
(files, folders, arrays or Images; CSV, JSON and overlays).

Both segment prediction and truth with the **same** :class:`~.segment.Segmentation`, then
compute, in physical units from the spacing (µm; densities per mm), the metric groups:

========================  =============================================================
``porosity``              total, large-pore and thin-branch porosity (:mod:`.porosity`)
``components``            count, sizes, object precision/recall/F1, splits, merges
``topology``              β0, β1 (β2 in 3D), χ, Betti error per tile, Conn.D (3D)
``cldice``                skeleton precision, skeleton recall, clDice
``skeleton``              length, junction and endpoint densities, degree and branch-length
                          distributions (W1 distances), recovered/false edges vs a graph
``connectivity``          3D only: truth connections between boundary terminals preserved
``thickness``             local-thickness diameter distribution (µm)
``lacunae``               lacuna count, density, size, semi-axes, detection F1
``fabric``                distance to the network, degree of anisotropy, principal angle
========================  =============================================================

Every number describes the **whole field** of the image. A 3D-only metric on a 2D image is
skipped with a note when it comes with the defaults, and raises
:class:`~geosr.core.errors.InputError` when asked for by name. An empty segmentation gives
porosity 0 and a note ("segmentation found nothing"); metrics that need a network are NaN.

Example
-------
>>> import numpy as np
>>> gt = np.zeros((64, 64), np.float32); gt[10:54, 30:33] = 1; gt[30:33, 10:54] = 1
>>> pred = gt.copy(); pred[10:20, 30:33] = 0                       # one arm shortened
>>> res = assess_network(pred, gt, spacing=0.5, metrics=["porosity", "cldice"])
>>> round(res.value("porosity", "error"), 4), round(res.value("skeleton_recall"), 3)
(-0.0073, 0.881)
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from geosr.assess.network._common import length_density_unit, size_unit, wasserstein
from geosr.assess.network.result import AssessmentResult, NetworkAssessment
from geosr.assess.network.segment import Segmentation, segment_pair, threshold_sweep
from geosr.core.errors import ConfigError, InputError

__all__ = ["assess", "assess_network", "GROUPS", "THREE_D_ONLY"]

GROUPS = ("porosity", "components", "topology", "cldice", "skeleton", "connectivity",
          "thickness", "lacunae", "fabric")
#: Metric groups defined for volumes only.
THREE_D_ONLY = ("connectivity",)
_NEED_TRUTH = ("connectivity",)


def _parse_metrics(metrics: Sequence[str] | str | None, dims: int, has_truth: bool,
                   notes: list[str]) -> list[str]:
    if metrics is None:
        chosen = [g for g in GROUPS if not (g in THREE_D_ONLY and dims != 3)
                  and not (g in _NEED_TRUTH and not has_truth)]
        if dims != 3:
            notes.append("3D-only metrics (connectivity through the stack, β2, Conn.D) "
                         "skipped: the image is 2D")
        return chosen
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    unknown = [m for m in metrics if m not in GROUPS]
    if unknown:
        raise ConfigError(f"unknown metric group(s) {unknown}", where="metrics",
                          hint="choose from " + ", ".join(GROUPS))
    for m in metrics:
        if m in THREE_D_ONLY and dims != 3:
            raise InputError(f"'{m}' (3D connectivity through a stack) is defined for volumes; "
                             f"the image is {dims}D", where="metrics",
                             hint="leave it out for 2D images")
        if m in _NEED_TRUTH and not has_truth:
            raise ConfigError(f"'{m}' compares a prediction with its truth", where="metrics",
                              hint="pass the truth image")
    return [g for g in GROUPS if g in metrics]


class _Rows:
    """Collects metric rows."""

    def __init__(self, has_truth: bool):
        self.rows: list[dict[str, Any]] = []
        self.has_truth = has_truth

    def image(self, group: str, metric: str, unit: str, p: float, t: float | None,
              note: str | None = None) -> None:
        p = float(p)
        t = float(t) if (t is not None and self.has_truth) else None
        err = rel = None
        if t is not None:
            err = p - t if np.isfinite(p) and np.isfinite(t) else float("nan")
            rel = err / abs(t) if (t != 0 and np.isfinite(err)) else float("nan")
        self.rows.append({"group": group, "metric": metric, "unit": unit, "kind": "per-image",
                          "prediction": p, "truth": t, "error": err, "relative_error": rel,
                          "note": note})

    def compare(self, group: str, metric: str, unit: str, value: float, ideal: float,
                note: str | None = None) -> None:
        value = float(value)
        err = value - ideal if np.isfinite(value) else float("nan")
        self.rows.append({"group": group, "metric": metric, "unit": unit, "kind": "comparison",
                          "prediction": value, "truth": float(ideal), "error": err,
                          "relative_error": None, "note": note})


def assess_network(pred: Any, gt: Any = None, *,
                   segmentation: Segmentation | str | dict | None = None,
                   tile_um: float | None = None, graph: Any = None,
                   metrics: Sequence[str] | str | None = None,
                   spacing: float | Sequence[float] | None = None,
                   split_diameter_um: float | None = 1.0, match_iou: float = 0.5,
                   graph_tolerance_um: float | None = None, axis: int | None = None,
                   lacuna_opening_um: float = 2.0,
                   lacuna_size_um: tuple[float, float] | None = None,
                   lacuna_distance_um: float = 5.0, check_spacing: bool = True,
                   sweep: int = 0, name: str = "image") -> NetworkAssessment:
    """Network and topology metrics of a prediction against its truth (or of one image).

    Parameters
    ----------
    pred, gt:
        Arrays, :class:`~geosr.Image` or file paths, 2D or 3D, one channel; intensities or
        masks. ``gt`` None: the metrics of ``pred`` alone.
    segmentation:
        A :class:`~.segment.Segmentation` (or method name / dict); default Otsu of the truth,
        bright pores. Recorded in the result.
    tile_um:
        Side of the Betti-error tiles in µm (default 64 pixels).
    graph:
        Ground-truth graph (networkx, or a ``graph.json`` path) for recovered/false edges and
        true lacunae.
    metrics:
        Metric groups to compute (default all that apply; see the module notes).
    spacing:
        Pixel size in µm for bare arrays (one value or one per axis); overrides a file's.
    split_diameter_um:
        Ball diameter separating large pores from thin branches (porosity split).
    match_iou:
        IoU needed for a component match.
    graph_tolerance_um:
        Tolerance of the graph comparison (default max(edge radius, 2 voxels)).
    axis:
        Axis of the through-stack connectivity (default: the truth's main direction).
    lacuna_opening_um, lacuna_size_um, lacuna_distance_um:
        Lacuna detector and matching distance (see :mod:`.lacunae`).
    check_spacing:
        Refuse a pair whose spacings differ on the same shape.
    sweep:
        Number of thresholds of a threshold sweep (0: none).
    name:
        Name of the pair in tables.
    """
    from geosr.assess.network.grids import check_pair, to_image

    notes: list[str] = []
    seg = Segmentation.parse(segmentation)
    p_img = to_image(pred, "prediction", spacing)
    g_img = to_image(gt, "truth", spacing) if gt is not None else None
    if g_img is not None:
        p_img, g_img = check_pair(p_img, g_img, notes, check_spacing=check_spacing)
    elif p_img.unit == "pixel":
        notes.append("no physical calibration: 1 pixel counted as 1 um (pass spacing= in um)")
    ref = g_img if g_img is not None else p_img
    sp = tuple(float(s) for s in ref.spacing_um)
    origin = tuple(float(o) for o in ref.in_um().origin)
    has_truth = g_img is not None
    groups = _parse_metrics(metrics, ref.dims, has_truth, notes)
    if graph is not None and not hasattr(graph, "edges"):
        from geosr.phantoms import load_graph

        graph = load_graph(graph)

    pm, gm, record = segment_pair(p_img, g_img, seg, spacing=sp)
    notes.extend(record.get("notes", []))
    notes.extend(_empty_or_full_notes(pm, gm, record))
    sweep_result = None
    if sweep and has_truth:
        sweep_result = threshold_sweep(p_img, g_img, seg, n=int(sweep), spacing=sp)

    options = {
        "porosity": {"split_diameter_um": split_diameter_um},
        "components": {"iou": match_iou},
        "topology": {"tile_um": tile_um},
        "skeleton": {"tolerance_um": graph_tolerance_um},
        "connectivity": {"axis": axis},
        "lacunae": {"opening_um": lacuna_opening_um, "size_um": lacuna_size_um,
                    "distance_um": lacuna_distance_um},
    }
    rows = _Rows(has_truth)
    details: dict[str, Any] = {"timings_s": {}}
    ctx = _Context(pm, gm, sp, origin, graph)
    for group in groups:
        t0 = time.perf_counter()
        _GROUPS[group](ctx, rows, details, notes, **options.get(group, {}))
        details["timings_s"][group] = round(time.perf_counter() - t0, 4)
    return NetworkAssessment(name=name, dims=len(sp), shape=tuple(pm.shape), spacing_um=sp,
                             segmentation=record, rows=rows.rows,
                             components=details.pop("_component_table", []), details=details,
                             notes=notes, has_truth=has_truth, pred_mask=pm, gt_mask=gm,
                             sweep=sweep_result)


def _empty_or_full_notes(pm: np.ndarray, gm: np.ndarray | None, record: dict) -> list[str]:
    """Warnings for a segmentation that found nothing, or nothing but pores."""
    notes = []
    for mask, who in ((pm, "prediction"), (gm, "truth")):
        if mask is None:
            continue
        if not mask.any():
            notes.append(f"segmentation found nothing in the {who} ({record['description']}, "
                         f"threshold {record.get('threshold')}): porosity 0; metrics that need "
                         "a network are undefined (NaN)")
        elif mask.all():
            notes.append(f"segmentation found only pores in the {who}: check the polarity "
                         "(--dark) and the threshold")
    return notes


class _Context:
    """Masks and shared intermediate results (skeletons, components) of one pair."""

    def __init__(self, pm, gm, spacing, origin, graph):
        self.pm, self.gm, self.sp, self.origin, self.graph = pm, gm, spacing, origin, graph
        self.dims = pm.ndim
        self._cache: dict[str, Any] = {}

    def get(self, key: str, fn):
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def masks(self):
        return [("p", self.pm)] + ([("g", self.gm)] if self.gm is not None else [])

    def distance(self, which: str):
        from geosr.assess.network._common import distance_um

        return self.get(f"dist_{which}", lambda: distance_um(self.pm if which == "p"
                                                             else self.gm, self.sp))

    def skeleton(self, which: str):
        from geosr.assess.network.cldice import skeletonize

        return self.get(f"skel_{which}", lambda: skeletonize(self.pm if which == "p"
                                                             else self.gm))

    def components(self, which: str):
        from geosr.assess.network.components import component_stats

        return self.get(f"comp_{which}", lambda: component_stats(self.pm if which == "p"
                                                            else self.gm, self.sp))

    def skeleton_stats(self, which: str):
        from geosr.assess.network.skeleton import skeleton_stats

        return self.get(f"stats_{which}", lambda: skeleton_stats(
            self.pm if which == "p" else self.gm, self.sp, skeleton=self.skeleton(which)))


def _pt(ctx, fn):
    """(value for prediction, value for truth or None)."""
    p = fn("p")
    return p, (fn("g") if ctx.gm is not None else None)


def _porosity(ctx, rows, details, notes, *, split_diameter_um):
    from geosr.assess.network.porosity import measure_porosity

    res = {w: measure_porosity(m, ctx.sp, split_diameter_um=split_diameter_um,
                               distance=ctx.distance(w)) for w, m in ctx.masks()}
    details["porosity"] = {w: r.as_dict() for w, r in res.items()}
    g = res.get("g")
    note = res["p"].note if res["p"].note and "below two voxels" in res["p"].note else None
    rows.image("porosity", "porosity", "1", res["p"].total, g and g.total)
    rows.image("porosity", "porosity_large", "1", res["p"].large, g and g.large,
               f"pores a {split_diameter_um:g} um ball fits in" if split_diameter_um else None)
    rows.image("porosity", "porosity_thin", "1", res["p"].thin, g and g.thin, note)


def _components(ctx, rows, details, notes, *, iou):
    from geosr.assess.network.components import match_components

    cp = ctx.components("p")
    cg = ctx.components("g") if ctx.gm is not None else None
    unit = size_unit(ctx.dims)
    rows.image("components", "components", "count", cp.count, cg and cg.count)
    sp_, sg_ = cp.summary(), (cg.summary() if cg else None)
    rows.image("components", "component_size_mean", unit, sp_["mean"], sg_ and sg_["mean"])
    rows.image("components", "component_size_median", unit, sp_["median"],
               sg_ and sg_["median"])
    details["components"] = {"prediction": cp.as_dict(),
                             **({"truth": cg.as_dict()} if cg else {})}
    if cg is None:
        return
    m = match_components(ctx.pm, ctx.gm, ctx.sp, iou=iou, pred_stats=cp, gt_stats=cg)
    rule = f"mutual largest overlap with IoU >= {iou:g}"
    rows.compare("components", "object_precision", "1", m.precision, 1.0, rule)
    rows.compare("components", "object_recall", "1", m.recall, 1.0, rule)
    rows.compare("components", "object_F1", "1", m.f1, 1.0)
    rows.compare("components", "splits", "count", m.splits, 0.0,
                 "truth components holding the majority of >= 2 predicted components")
    rows.compare("components", "merges", "count", m.merges, 0.0,
                 "predicted components holding the majority of >= 2 truth components")
    rows.compare("components", "missed_components", "count", m.missed, 0.0)
    rows.compare("components", "invented_components", "count", m.invented, 0.0)
    details["components"]["match"] = m.as_dict()
    details["_component_table"] = m.table


def _topology(ctx, rows, details, notes, *, tile_um):
    from geosr.assess.network.topology import betti_error, betti_numbers, connectivity_density

    b = {w: betti_numbers(m) for w, m in ctx.masks()}
    g = b.get("g")
    rows.image("topology", "beta0", "count", b["p"].b0, g and g.b0)
    rows.image("topology", "beta1", "count", b["p"].b1, g and g.b1)
    if ctx.dims == 3:
        rows.image("topology", "beta2", "count", b["p"].b2, g and g.b2)
    rows.image("topology", "euler", "count", b["p"].euler, g and g.euler)
    details["topology"] = {"connectivity": b["p"].connectivity,
                           "betti": {w: v.as_dict() for w, v in b.items()}}
    if ctx.gm is not None:
        be = betti_error(ctx.pm, ctx.gm, ctx.sp, tile_um=tile_um)
        tile = "x".join(f"{t:g}" for t in be.tile_um)
        for k, e in enumerate(be.error):
            rows.compare("topology", f"betti_error_{k}", "count/tile", e, 0.0,
                         f"mean |dbeta_{k}| over {be.n_tiles} tiles of {tile} um")
        details["topology"]["betti_error"] = be.as_dict()
    if ctx.dims == 3:
        cd = {w: connectivity_density(m, ctx.sp) for w, m in ctx.masks()}
        rows.image("topology", "conn_density", "mm^-3", cd["p"].conn_density,
                   cd["g"].conn_density if "g" in cd else None,
                   "BoneJ edge-corrected (1 - delta chi) / V")
        for w, v in cd.items():
            if v.connectivity < 0:
                notes.append(f"Conn.D of the {'prediction' if w == 'p' else 'truth'} is "
                             "negative: the mask holds several particles or enclosed cavities "
                             "(BoneJ's caveat; remove them, e.g. with min_size_um, to read it "
                             "as trabecular connectivity)")
        details["topology"]["conn_density"] = {w: v.as_dict() for w, v in cd.items()}


def _cldice(ctx, rows, details, notes):
    from geosr.assess.network.cldice import cldice_score

    if ctx.gm is None:
        return
    r = cldice_score(ctx.pm, ctx.gm, pred_skeleton=ctx.skeleton("p"), gt_skeleton=ctx.skeleton("g"))
    rows.compare("cldice", "skeleton_precision", "1", r.precision, 1.0,
                 "fraction of the predicted skeleton inside the true network")
    rows.compare("cldice", "skeleton_recall", "1", r.recall, 1.0,
                 "fraction of the true skeleton covered by the prediction")
    rows.compare("cldice", "clDice", "1", r.cldice, 1.0, r.note)
    details["cldice"] = r.as_dict()


def _skeleton(ctx, rows, details, notes, *, tolerance_um):
    from geosr.assess.network.skeleton import compare_graph

    s = {w: ctx.skeleton_stats(w) for w, _ in ctx.masks()}
    g = s.get("g")
    d = ctx.dims
    rows.image("skeleton", "length_density", length_density_unit(d), s["p"].length_density,
               g and g.length_density, "skeleton length / field " + ("area" if d == 2 else
                                                                    "volume"))
    rows.image("skeleton", "length_density_mm", f"mm^-{d - 1}", s["p"].length_density_mm,
               g and g.length_density_mm)
    rows.image("skeleton", "junction_density", f"mm^-{d}", s["p"].junction_density_mm,
               g and g.junction_density_mm)
    rows.image("skeleton", "endpoint_density", f"mm^-{d}", s["p"].endpoint_density_mm,
               g and g.endpoint_density_mm)
    rows.image("skeleton", "mean_junction_degree", "1", s["p"].mean_degree,
               g and g.mean_degree)
    rows.image("skeleton", "branch_length_mean", "um", s["p"].mean_branch_length_um,
               g and g.mean_branch_length_um)
    details["skeleton"] = {w: v.as_dict() for w, v in s.items()}
    if g is not None:
        rows.compare("skeleton", "branch_length_W1", "um",
                     wasserstein(s["p"].branch_lengths_um, g.branch_lengths_um), 0.0,
                     "1-Wasserstein distance between branch-length distributions")
        rows.compare("skeleton", "degree_W1", "1", wasserstein(s["p"].degrees, g.degrees), 0.0,
                     "1-Wasserstein distance between node-degree distributions")
    if ctx.graph is not None:
        gmatch = compare_graph(s["p"], ctx.graph, shape=ctx.pm.shape, origin=ctx.origin,
                               tolerance_um=tolerance_um)
        rows.compare("skeleton", "graph_edges_recovered", "1", gmatch.recovered_fraction, 1.0,
                     f"{gmatch.n_recovered} of {gmatch.n_truth_edges} truth edges")
        rows.compare("skeleton", "graph_length_recall", "1", gmatch.length_recall, 1.0)
        rows.compare("skeleton", "false_branches", "1", gmatch.false_fraction, 0.0,
                     f"{gmatch.n_false} of {gmatch.n_pred_branches} predicted branches")
        details["skeleton"]["graph"] = gmatch.as_dict()


def _connectivity(ctx, rows, details, notes, *, axis):
    from geosr.assess.network.connectivity import stack_connectivity

    if ctx.gm is None:
        return
    c = stack_connectivity(ctx.pm, ctx.gm, axis=axis)
    rows.compare("connectivity", "connections_preserved", "1", c.fraction_preserved, 1.0,
                 f"{c.n_preserved} of {c.n_connections} truth connections between "
                 f"{c.n_terminals} boundary terminals")
    rows.compare("connectivity", "through_preserved", "1", c.through_preserved, 1.0,
                 f"{c.n_through_preserved} of {c.n_through} first-to-last-slice connections "
                 f"along axis {'ZYX'[c.axis]}")
    rows.compare("connectivity", "false_connections", "count", c.n_false, 0.0)
    if c.note:
        notes.append(c.note)
    details["connectivity"] = c.as_dict()


def _thickness(ctx, rows, details, notes):
    from geosr.assess.network.thickness import local_thickness

    if not np.allclose(ctx.sp, ctx.sp[0], rtol=1e-3):
        notes.append(f"thickness skipped: local thickness needs isotropic voxels, spacing is "
                     f"{ctx.sp} um (resample first)")
        return
    t = {w: local_thickness(m, ctx.sp) for w, m in ctx.masks()}
    g = t.get("g")
    for key, label in (("mean_um", "thickness_mean"), ("sd_um", "thickness_sd"),
                       ("median_um", "thickness_median"), ("max_um", "thickness_max")):
        rows.image("thickness", label, "um", getattr(t["p"], key), g and getattr(g, key),
                   "local-thickness diameter over pore voxels" if key == "mean_um" else None)
    if g is not None:
        rows.compare("thickness", "thickness_W1", "um",
                     wasserstein(t["p"].values_um, g.values_um), 0.0,
                     "1-Wasserstein distance between diameter distributions")
    details["thickness"] = {w: v.as_dict() for w, v in t.items()}


def _lacunae(ctx, rows, details, notes, *, opening_um, size_um, distance_um):
    from geosr.assess.network.lacunae import detect_lacunae, graph_lacunae, match_lacunae

    lac = {w: detect_lacunae(m, ctx.sp, opening_um=opening_um, size_range_um=size_um,
                             origin=ctx.origin, distance=ctx.distance(w))
           for w, m in ctx.masks()}
    s = {w: v.summary() for w, v in lac.items()}
    g = s.get("g")
    d = ctx.dims
    rows.image("lacunae", "lacunae", "count", s["p"]["count"], g and g["count"])
    rows.image("lacunae", "lacuna_density", f"mm^-{d}", s["p"]["density_mm"],
               g and g["density_mm"])
    details["lacunae"] = {w: v.as_dict() for w, v in lac.items()}
    lo, hi = lac["p"].size_range_um
    graph_cents = graph_lacunae(ctx.graph) if ctx.graph is not None else None
    if not any(v.count for v in lac.values()) and not (graph_cents and len(graph_cents[0])):
        notes.append(f"no lacunae found (components of {lo:g}-{hi:g} {size_unit(d)} after an "
                     f"opening of {opening_um:g} um)")
        return
    rows.image("lacunae", "lacuna_size_mean", size_unit(d), s["p"]["mean_size_um"],
               g and g["mean_size_um"], "interior lacunae")
    for axis_name in ("a", "b", "c")[:d]:
        rows.image("lacunae", f"lacuna_{axis_name}", "um", s["p"][f"{axis_name}_um"],
                   g and g[f"{axis_name}_um"], "mean semi-axis" if axis_name == "a" else None)
    truth = None
    source = None
    if graph_cents is not None:
        cents, vols = graph_cents
        if len(cents):
            truth, sizes, source = cents, vols, "graph lacuna nodes"
    if truth is None and "g" in lac:
        truth, sizes, source = lac["g"].centroids_um, lac["g"].sizes_um, "truth mask"
    if truth is not None and (len(truth) or lac["p"].count):
        m = match_lacunae(lac["p"], truth, max_distance_um=distance_um, truth_sizes=sizes)
        rule = f"Hungarian matching of centroids within {distance_um:g} um ({source})"
        rows.compare("lacunae", "lacuna_precision", "1", m.precision, 1.0, rule)
        rows.compare("lacunae", "lacuna_recall", "1", m.recall, 1.0)
        rows.compare("lacunae", "lacuna_F1", "1", m.f1, 1.0)
        details["lacunae"]["match"] = {**m.as_dict(), "truth": source}


def _fabric(ctx, rows, details, notes):
    from geosr.assess.network.fabric import (distance_to_network, fabric_tensor,
                                             principal_angle_deg, structure_tensor_anisotropy)

    dist = {w: distance_to_network(m, ctx.sp) for w, m in ctx.masks()}
    g = dist.get("g")
    rows.image("fabric", "distance_mean", "um", dist["p"].mean_um, g and g.mean_um,
               "matrix to nearest pore voxel")
    rows.image("fabric", "distance_p95", "um", dist["p"].p95_um, g and g.p95_um)
    fab = {w: fabric_tensor(ctx.skeleton_stats(w).segments_um) for w, _ in ctx.masks()}
    fg = fab.get("g")
    rows.image("fabric", "degree_of_anisotropy", "1", fab["p"].degree_of_anisotropy,
               fg and fg.degree_of_anisotropy, "skeleton fabric tensor, 1 - lmin/lmax")
    if fg is not None:
        rows.compare("fabric", "principal_angle_error", "deg",
                     principal_angle_deg(fab["p"].principal_direction, fg.principal_direction),
                     0.0, "angle between principal directions")
    st = {w: structure_tensor_anisotropy(m, ctx.sp) for w, m in ctx.masks()}
    sg = st.get("g")
    rows.image("fabric", "structure_tensor_DA", "1", st["p"].degree_of_anisotropy,
               sg and sg.degree_of_anisotropy, "structure tensor of the mask, 1 - lmin/lmax")
    details["fabric"] = {"distance": {w: v.as_dict() for w, v in dist.items()},
                         "fabric": {w: v.as_dict() for w, v in fab.items()},
                         "structure_tensor": {w: v.as_dict() for w, v in st.items()}}


_GROUPS = {"porosity": _porosity, "components": _components, "topology": _topology,
           "cldice": _cldice, "skeleton": _skeleton, "connectivity": _connectivity,
           "thickness": _thickness, "lacunae": _lacunae, "fabric": _fabric}


# --------------------------------------------------------------------------- files/folders
def assess(pred: Any, gt: Any = None, *,
           segmentation: Segmentation | str | dict | None = None,
           tile_um: float | None = None, graph: Any = None,
           metrics: Sequence[str] | str | None = None,
           spacing: float | Sequence[float] | None = None,
           out_csv: str | os.PathLike | None = None, out_json: str | os.PathLike | None = None,
           overlays_dir: str | os.PathLike | None = None, **options: Any) -> AssessmentResult:
    """Assess predictions against truths: two files, two folders (paired by name as
    :func:`geosr.evaluate` does), or two arrays / Images; ``gt`` may be omitted.

    Keyword options are those of :func:`assess_network` (``split_diameter_um``,
    ``match_iou``, ``axis``, ``sweep``, ``check_spacing``, ...). Outputs are written only
    after every pair was assessed: ``out_csv`` (metric rows, plus ``<stem>_components.csv``),
    ``out_json`` (everything), ``overlays_dir`` (missed/invented overlays, see
    :mod:`.overlay`). Returns an :class:`~.result.AssessmentResult`.

    >>> gt = np.zeros((48, 48)); gt[20:28, :] = 1.0
    >>> res = assess(gt, gt, spacing=0.5, metrics="porosity,topology")
    >>> res.value("porosity"), res.value("betti_error_0")
    (0.16666666666666666, 0.0)
    """
    seg = Segmentation.parse(segmentation)
    pairs = _pairs(pred, gt)
    if graph is not None and len(pairs) > 1:
        raise ConfigError("one ground-truth graph cannot serve several image pairs",
                          where="graph", hint="assess the pairs one by one")
    items = []
    for name, p_src, g_src in pairs:
        try:
            items.append(assess_network(p_src, g_src, segmentation=seg, tile_um=tile_um,
                                        graph=graph, metrics=metrics, spacing=spacing,
                                        name=name, **options))
        except InputError as err:
            if not isinstance(p_src, (str, os.PathLike)):
                raise
            what = f"{err.where}: " if err.where else ""
            raise InputError(what + err.message,
                             where=f"{p_src}" + (f" vs {g_src}" if g_src is not None else ""),
                             hint=err.hint) from None
    result = AssessmentResult(items, seg.model_dump())
    if overlays_dir is not None:
        from geosr.assess.network.overlay import save_overlay

        if not any(it.gt_mask is not None for it in items):
            raise ConfigError("overlays compare a prediction with its truth", where="overlays",
                              hint="pass the truth image")
        for it in items:
            if it.gt_mask is not None:
                it.overlays = save_overlay(it.pred_mask, it.gt_mask, overlays_dir, it.name,
                                           spacing=it.spacing_um)
                result.overlays.extend(it.overlays)
    if out_csv is not None:
        result.to_csv(out_csv)
    if out_json is not None:
        result.to_json(out_json)
    return result


def _pairs(pred: Any, gt: Any) -> list[tuple[str, Any, Any]]:
    from geosr.assess.evaluation import _image_files, _is_folder, _stem, pair_files

    is_path = isinstance(pred, (str, os.PathLike))
    if gt is not None and is_path != isinstance(gt, (str, os.PathLike)):
        raise InputError("pass two paths or two arrays/images, not one of each",
                         where="prediction")
    if not is_path:
        return [("image", pred, gt)]
    if gt is not None:
        return [(name, p, g) for name, p, g in pair_files(pred, gt)]
    path = Path(pred)
    if not path.exists():
        raise InputError("prediction not found", where=str(path))
    if _is_folder(path):
        return [(_stem(f), f, None) for f in _image_files(path)]
    return [(_stem(path), path, None)]
