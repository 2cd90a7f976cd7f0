"""clDice: how much of each skeleton lies inside the other mask (Shit et al., CVPR 2021).

``Tprec = |S(P) ∩ G| / |S(P)|`` (skeleton precision: the fraction of the predicted centrelines
that lie in the true network), ``Tsens = |S(G) ∩ P| / |S(G)|`` (skeleton recall: the fraction of
the true centrelines that the prediction covers), ``clDice = 2 Tprec Tsens / (Tprec + Tsens)``.
Skeletons come from :func:`skeletonize` (scikit-image: Zhang 2D, Lee 3D thinning), counted in
voxels (the same on both sides, so the spacing cancels).

Undefined cases are explicit, never a division by zero: an empty predicted skeleton gives
``Tprec = NaN`` (and clDice 0 if the truth has a network), an empty true skeleton gives
``Tsens = NaN``; both empty give NaN and a note.

Example
-------
>>> import numpy as np
>>> gt = np.zeros((20, 20), bool); gt[10, 2:18] = True; gt[2:18, 10] = True
>>> pred = gt.copy(); pred[2:9, 10] = False                 # one arm missing
>>> r = cldice_score(pred, gt)
>>> round(r.precision, 3), round(r.recall, 3), round(r.cldice, 3)
(1.0, 0.774, 0.873)
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from geosr.assess.network._common import as_mask
from geosr.core.errors import InputError

__all__ = ["ClDiceResult", "cldice_score", "skeletonize"]


def skeletonize(mask: Any) -> np.ndarray:
    """Topology-preserving skeleton (bool) of a 2D or 3D mask; empty in, empty out.

    >>> int(skeletonize(np.ones((3, 9), bool)).sum())
    8
    """
    m, _ = as_mask(mask)
    if not m.any():
        return np.zeros(m.shape, bool)
    from skimage.morphology import skeletonize as _sk

    return np.asarray(_sk(m), bool)


@dataclasses.dataclass(frozen=True)
class ClDiceResult:
    """Skeleton precision (Tprec), skeleton recall (Tsens) and clDice, all in [0, 1]."""

    precision: float
    recall: float
    cldice: float
    pred_skeleton_voxels: int
    gt_skeleton_voxels: int
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def cldice_score(pred: Any, gt: Any, *, pred_skeleton: np.ndarray | None = None,
           gt_skeleton: np.ndarray | None = None) -> ClDiceResult:
    """clDice of binary prediction and truth (same shape); skeletons may be passed in."""
    pm, _ = as_mask(pred, name="prediction")
    gm, _ = as_mask(gt, name="truth")
    if pm.shape != gm.shape:
        raise InputError(f"shape mismatch: prediction {pm.shape}, truth {gm.shape}",
                         where="prediction")
    sp = skeletonize(pm) if pred_skeleton is None else np.asarray(pred_skeleton, bool)
    sg = skeletonize(gm) if gt_skeleton is None else np.asarray(gt_skeleton, bool)
    n_p, n_g = int(np.count_nonzero(sp)), int(np.count_nonzero(sg))
    tprec = float(np.count_nonzero(sp & gm)) / n_p if n_p else float("nan")
    tsens = float(np.count_nonzero(sg & pm)) / n_g if n_g else float("nan")
    note = None
    if n_p == 0 and n_g == 0:
        score, note = float("nan"), "neither image has a network: clDice undefined"
    elif n_p == 0 or n_g == 0:
        score = 0.0
        note = ("the prediction has no network" if n_p == 0 else
                "the truth has no network") + ": clDice 0"
    elif tprec + tsens == 0:
        score = 0.0
    else:
        score = 2 * tprec * tsens / (tprec + tsens)
    return ClDiceResult(tprec, tsens, float(score), n_p, n_g, note)
