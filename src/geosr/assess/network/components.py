"""Connected components: count, size distribution in physical units, and matching between
prediction and truth.

Components are fully connected (8 in 2D, 26 in 3D; see :mod:`._common`). Sizes are areas (µm²)
in 2D and volumes (µm³) in 3D; centroids are in µm from the centre of the first pixel.

Matching rule
-------------
For every pair (prediction component *i*, truth component *j*) the overlap ``|P_i ∩ G_j|`` is
counted.

- **matched**: *i* and *j* are each other's largest overlap and ``IoU(P_i, G_j) ≥ iou``
  (default 0.5, which also guarantees one-to-one matches). Object precision = matched /
  prediction components, recall = matched / truth components, F1 their harmonic mean.
- **split**: a truth component that holds the majority (> 50 % of the voxels) of two or more
  prediction components (the prediction broke it into pieces).
- **merge**: a prediction component that holds the majority of two or more truth components
  (the prediction joined what is separate).
- **missed**: a truth component that no prediction voxel touches; **invented**: a prediction
  component that no truth voxel touches.

Example
-------
>>> import numpy as np
>>> gt = np.zeros((20, 20), bool); gt[2:8, 2:8] = True; gt[12:18, 12:18] = True
>>> pred = gt.copy(); pred[12:18, 14] = False            # splits the second square
>>> m = match_components(pred, gt)
>>> m.n_pred, m.n_gt, m.matched, m.splits, round(m.f1, 3)
(3, 2, 2, 1, 0.8)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from geosr.assess.network._common import (FOREGROUND, as_mask, label, safe_ratio, size_unit,
                                          voxel_volume_um)

from geosr.core.errors import InputError
__all__ = ["ComponentStats", "ComponentMatch", "component_stats", "match_components",
           "component_table_columns"]


@dataclasses.dataclass(frozen=True)
class ComponentStats:
    """Connected components of one mask.

    Attributes
    ----------
    count:
        Number of components (β0).
    sizes_um:
        Size of each component (µm² or µm³), label order.
    centroids_um:
        ``(count, dims)`` centroids in µm from the centre of the first pixel.
    unit:
        ``um^2`` or ``um^3``.
    """

    count: int
    sizes_um: np.ndarray = dataclasses.field(repr=False)
    centroids_um: np.ndarray = dataclasses.field(repr=False)
    unit: str = "um^3"
    labels: np.ndarray | None = dataclasses.field(default=None, repr=False, compare=False)

    def summary(self) -> dict[str, float]:
        """Mean, median, 10th/90th percentile, largest and total size (NaN when empty)."""
        s = self.sizes_um
        if s.size == 0:
            nan = float("nan")
            return {"mean": nan, "median": nan, "p10": nan, "p90": nan, "max": nan,
                    "total": 0.0}
        return {"mean": float(s.mean()), "median": float(np.median(s)),
                "p10": float(np.percentile(s, 10)), "p90": float(np.percentile(s, 90)),
                "max": float(s.max()), "total": float(s.sum())}

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "unit": self.unit, **self.summary()}


def _stats(labels: np.ndarray, n: int, spacing: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Voxel counts and centroids (in voxel index units) of labels 1..n."""
    if n == 0:
        return np.zeros(0, np.int64), np.zeros((0, labels.ndim))
    try:
        import cc3d

        st = cc3d.statistics(labels)
        counts = np.asarray(st["voxel_counts"][1:n + 1], np.int64)
        cents = np.asarray(st["centroids"][1:n + 1], float)
        return counts, cents
    except (ImportError, KeyError, TypeError):  # pragma: no cover
        flat = labels.ravel()
        fg = np.flatnonzero(flat)
        lab = flat[fg]
        counts = np.bincount(lab, minlength=n + 1)[1:]
        coords = np.unravel_index(fg, labels.shape)
        cents = np.stack([np.bincount(lab, weights=c, minlength=n + 1)[1:]
                          for c in coords], axis=1) / np.maximum(counts, 1)[:, None]
        return counts.astype(np.int64), cents


def component_stats(mask: Any, spacing: Sequence[float] | None = None) -> ComponentStats:
    """Count and measure the fully connected components of a binary mask.

    >>> m = np.zeros((10, 10), bool); m[1:3, 1:3] = True; m[6, 6:9] = True
    >>> c = component_stats(m, spacing=0.5)
    >>> c.count, c.sizes_um.tolist(), c.unit
    (2, [1.0, 0.75], 'um^2')
    """
    m, sp = as_mask(mask, spacing)
    labels, n = label(m, FOREGROUND[m.ndim])
    counts, cents = _stats(labels, n, sp)
    return ComponentStats(n, counts * voxel_volume_um(sp), cents * np.asarray(sp),
                          size_unit(m.ndim), labels)


@dataclasses.dataclass(frozen=True)
class ComponentMatch:
    """Object-level comparison of prediction and truth components (see the module notes).

    ``table`` has one row per component of either side: ``side`` (truth/prediction), ``id``,
    ``size_um``, ``centroid_um``, ``partner`` (the other side's component with the largest
    overlap, 0 if none), ``overlap_fraction`` (of this component's voxels), ``iou``,
    ``matched`` (counted as a match) and ``status``: split / merge (takes precedence),
    matched, split piece / merged (a piece of a split or merge), missed, invented or
    unmatched.
    """

    n_pred: int
    n_gt: int
    matched: int
    precision: float
    recall: float
    f1: float
    splits: int
    split_pieces: int
    merges: int
    merged_truth: int
    missed: int
    invented: int
    iou_threshold: float
    table: list[dict[str, Any]] = dataclasses.field(repr=False)

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("table")
        return d


def component_table_columns() -> list[str]:
    """Column order of :attr:`ComponentMatch.table`."""
    return ["side", "id", "size_um", "centroid_um", "partner", "overlap_fraction", "iou",
            "matched", "status"]


def _best(side: np.ndarray, other: np.ndarray, counts: np.ndarray, n: int
          ) -> tuple[np.ndarray, np.ndarray]:
    """For labels 1..n of one side: the other side's label with the largest overlap (ties: the
    smaller label) and that overlap; 0 where there is no overlap."""
    best = np.zeros(n + 1, np.int64)
    overlap = np.zeros(n + 1, np.int64)
    if side.size:
        order = np.lexsort((-other, counts, side))     # by side, then overlap, then -label
        s = side[order]
        last = np.r_[s[1:] != s[:-1], True]
        best[s[last]] = other[order][last]
        overlap[s[last]] = counts[order][last]
    return best, overlap


def match_components(pred: Any, gt: Any, spacing: Sequence[float] | None = None, *,
                     iou: float = 0.5, pred_stats: ComponentStats | None = None,
                     gt_stats: ComponentStats | None = None) -> ComponentMatch:
    """Match the components of a prediction to those of the truth (rule in the module notes).

    ``pred`` and ``gt`` must have the same shape. Empty masks give NaN precision (no
    prediction component) or recall (no truth component), never a division by zero.
    """
    pm, sp = as_mask(pred, spacing, name="prediction")
    gm, _ = as_mask(gt, sp, name="truth")
    if pm.shape != gm.shape:
        raise InputError(f"shape mismatch: prediction {pm.shape}, truth {gm.shape}",
                         where="prediction")
    ps = pred_stats if pred_stats is not None and pred_stats.labels is not None \
        else component_stats(pm, sp)
    gs = gt_stats if gt_stats is not None and gt_stats.labels is not None \
        else component_stats(gm, sp)
    lp, lg = ps.labels, gs.labels
    n_p, n_g = ps.count, gs.count
    vox_p = np.round(ps.sizes_um / voxel_volume_um(sp)).astype(np.int64)
    vox_g = np.round(gs.sizes_um / voxel_volume_um(sp)).astype(np.int64)
    both = (lp > 0) & (lg > 0)
    keys = lp[both].astype(np.int64) * (n_g + 1) + lg[both].astype(np.int64)
    uniq, counts = np.unique(keys, return_counts=True)
    pi, gj = (uniq // (n_g + 1)).astype(np.int64), (uniq % (n_g + 1)).astype(np.int64)
    # best partner on each side (largest overlap)
    best_g_of_p, best_ov_p = _best(pi, gj, counts, n_p)
    best_p_of_g, best_ov_g = _best(gj, pi, counts, n_g)
    inter_pg = dict(zip(zip(pi.tolist(), gj.tolist()), counts.tolist()))

    def iou_of(i: int, j: int) -> float:
        c = inter_pg.get((i, j), 0)
        return c / float(vox_p[i - 1] + vox_g[j - 1] - c) if c else 0.0

    matched_p = np.zeros(n_p + 1, bool)
    matched_g = np.zeros(n_g + 1, bool)
    n_match = 0
    for j in range(1, n_g + 1):
        i = int(best_p_of_g[j])
        if i and best_g_of_p[i] == j and iou_of(i, j) >= iou:
            matched_p[i] = matched_g[j] = True
            n_match += 1
    # majority containment: fraction of each component inside its best partner
    frac_p = best_ov_p[1:] / np.maximum(vox_p, 1)
    frac_g = best_ov_g[1:] / np.maximum(vox_g, 1)
    major_p = np.bincount(best_g_of_p[1:][frac_p > 0.5], minlength=n_g + 1)  # per truth comp
    major_g = np.bincount(best_p_of_g[1:][frac_g > 0.5], minlength=n_p + 1)  # per pred comp
    split_g = np.flatnonzero(major_p[1:] >= 2) + 1
    merge_p = np.flatnonzero(major_g[1:] >= 2) + 1
    split_set, merge_set = set(split_g.tolist()), set(merge_p.tolist())
    precision = safe_ratio(n_match, n_p)
    recall = safe_ratio(n_match, n_g)
    if np.isfinite(precision) and np.isfinite(recall) and precision + recall > 0:
        f1 = 2 * precision * recall / (precision + recall)
    else:   # nothing matched, or one side empty: 0; both empty: undefined
        f1 = 0.0 if (n_p or n_g) else float("nan")
    table: list[dict[str, Any]] = []
    for side, n, sizes, cents, best, frac, matched, special, other_special in (
            ("truth", n_g, gs.sizes_um, gs.centroids_um, best_p_of_g, frac_g, matched_g,
             split_set, None),
            ("prediction", n_p, ps.sizes_um, ps.centroids_um, best_g_of_p, frac_p, matched_p,
             merge_set, split_set)):
        for k in range(1, n + 1):
            partner = int(best[k])
            if partner == 0:
                status = "missed" if side == "truth" else "invented"
            elif k in special:
                status = "split" if side == "truth" else "merge"
            elif matched[k]:
                status = "matched"
            elif other_special is not None and partner in other_special and frac[k - 1] > 0.5:
                status = "split piece"
            elif side == "truth" and partner in merge_set and frac[k - 1] > 0.5:
                status = "merged"
            else:
                status = "unmatched"
            i, j = (partner, k) if side == "truth" else (k, partner)
            table.append({"side": side, "id": k, "size_um": float(sizes[k - 1]),
                          "centroid_um": [round(float(c), 4) for c in cents[k - 1]],
                          "partner": partner, "overlap_fraction": float(frac[k - 1]),
                          "iou": float(iou_of(i, j)) if partner else 0.0,
                          "matched": bool(matched[k]), "status": status})
    return ComponentMatch(
        n_pred=n_p, n_gt=n_g, matched=n_match, precision=precision, recall=recall, f1=f1,
        splits=len(split_g), split_pieces=int(major_p[split_g].sum() - len(split_g)),
        merges=len(merge_p), merged_truth=int(major_g[merge_p].sum()),
        missed=int(np.count_nonzero(best_p_of_g[1:] == 0)),
        invented=int(np.count_nonzero(best_g_of_p[1:] == 0)),
        iou_threshold=float(iou), table=table)
