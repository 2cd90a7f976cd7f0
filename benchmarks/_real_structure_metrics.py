"""Structure metrics of ``real_structure.py`` beyond the peers' table: 3D metrics of the
contiguous test block, and the components and branches a prediction invents and misses.

- 3D (one Otsu threshold, bone bright, spacing 19.5 µm): BV/TV, Conn.D (BoneJ-style,
  edge-corrected, mm⁻³; :func:`geosr.assess.network.topology.connectivity_density`), 3D
  components (26-connected), Tb.Th and Tb.Sp (mean local-thickness diameter of bone and of
  marrow, µm; :func:`geosr.assess.network.thickness.local_thickness`); signed relative errors.
- invented / missed, per test slice, summed over the slices:
  components by :func:`geosr.assess.network.components.match_components` (a truth component
  that no predicted pixel touches is *missed*, a predicted one touching no truth pixel is
  *invented*); branches of the pruned skeletons (:func:`~geosr.assess.network.skeleton.
  skeleton_stats`, branch pixels): a truth branch is *missed* when less than half of its pixels
  lie within ``tol_px`` (2) pixels of the predicted skeleton, a predicted branch *invented*
  when less than half of its pixels lie within ``tol_px`` of the truth skeleton (the coverage
  rule of :func:`~geosr.assess.network.skeleton.compare_graph`, on pixel skeletons).
  Shares: invented / predicted count, missed / truth count.

Example
-------
>>> import numpy as np
>>> g = np.zeros((1, 20, 20), bool); g[0, 2:5, 2:5] = True
>>> p = g.copy(); p[0, 12:15, 12:15] = True
>>> r = invented_missed(p, g)
>>> r["components_invented"], r["components_missed"]
(1, 0)
"""

from __future__ import annotations

from typing import Any

import numpy as np

SPACING_UM = 19.5


def _rel(a: float, b: float) -> float:
    return float((a - b) / b) if b else float("nan")


def structure_3d(mask: np.ndarray, spacing_um: float = SPACING_UM) -> dict[str, float]:
    from scipy import ndimage as ndi

    from geosr.assess.network.thickness import local_thickness
    from geosr.assess.network.topology import connectivity_density

    sp = (spacing_um,) * 3
    return {"bvtv": float(mask.mean()),
            "connd_mm3": float(connectivity_density(mask, spacing=sp).conn_density),
            "components_3d": float(ndi.label(mask, np.ones((3, 3, 3), bool))[1]),
            "tbth_um": float(local_thickness(mask, spacing=sp).mean_um),
            "tbsp_um": float(local_thickness(~mask, spacing=sp).mean_um)}


def compare_3d(pred: dict[str, float], truth: dict[str, float]) -> dict[str, float]:
    """``<key>_3d`` and ``<key>_3d_rel_error`` of every 3D metric."""
    out: dict[str, float] = {}
    for k, v in pred.items():
        name = k.removesuffix("_3d") + "_3d"
        out[name] = v
        out[f"{name}_rel_error"] = _rel(v, truth[k])
    return out


def _branches(mask: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    from geosr.assess.network.skeleton import skeleton_stats

    s = skeleton_stats(mask, spacing=1.0)
    return [np.asarray(b, int) for b in s.branch_pixels], np.asarray(s.skeleton, bool)


def _uncovered(branches: list[np.ndarray], other_skeleton: np.ndarray, tol_px: float) -> int:
    from scipy import ndimage as ndi

    if not branches:
        return 0
    if not other_skeleton.any():
        return len(branches)
    dist = ndi.distance_transform_edt(~other_skeleton)
    return int(sum(np.mean(dist[tuple(b.T)] <= tol_px) < 0.5 for b in branches if b.size))


def invented_missed(pred: np.ndarray, truth: np.ndarray, tol_px: float = 2.0
                    ) -> dict[str, Any]:
    """Invented / missed components and branches of a (Z, Y, X) stack of binary slices,
    summed over the slices (module notes)."""
    from geosr.assess.network.components import match_components

    tot = dict.fromkeys(("components_pred", "components_truth", "components_invented",
                         "components_missed", "branches_pred", "branches_truth",
                         "branches_invented", "branches_missed"), 0)
    for p, g in zip(pred, truth):
        m = match_components(p, g)
        tot["components_pred"] += m.n_pred
        tot["components_truth"] += m.n_gt
        tot["components_invented"] += m.invented
        tot["components_missed"] += m.missed
        bp, sp = _branches(p)
        bg, sg = _branches(g)
        tot["branches_pred"] += len(bp)
        tot["branches_truth"] += len(bg)
        tot["branches_invented"] += _uncovered(bp, sg, tol_px)
        tot["branches_missed"] += _uncovered(bg, sp, tol_px)
    for kind in ("components", "branches"):
        tot[f"{kind}_invented_share"] = tot[f"{kind}_invented"] / max(tot[f"{kind}_pred"], 1)
        tot[f"{kind}_missed_share"] = tot[f"{kind}_missed"] / max(tot[f"{kind}_truth"], 1)
    return tot
