"""Verdict per tile: red / amber / green, always with the evidence behind it — never "correct".

- **red — do not trust / I don't know**: the input is out of distribution (OOD p ≤ α_OOD), or
  the tile contradicts the measurement (χ² p < 0.001), or no Gaussian degradation explains the
  prediction (SQUIRREL σ at the upper bound), or there is no matching calibration card for this model
  and setting.
- **amber — unverifiable detail**: consistent with the data, but the tile's null-space share is
  unusual for the calibration images (conformal p ≤ 0.05), or the interval is wider than 95 %
  of the calibration images', or the requested scale exceeds what the optics support, or the
  prediction is no sharper than the input (SQUIRREL σ at the lower bound).
- **green — consistent**: none of the above: "consistent with the measured data and, for images
  like the calibration set, within the shown interval with ≥ 1 − α expected pixel coverage".

>>> import numpy as np
>>> v = tile_verdicts((1, 2), chi2_p=np.array([[0.5, 1e-6]]), card_reasons=[])
>>> v.codes.tolist(), v.reasons[(0, 1)]
([[0, 2]], ['contradicts the measured data (chi2 p = 1e-06 < 0.001)'])
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from geosr.trust.conformal import conformal_pvalue

__all__ = ["Verdicts", "tile_verdicts", "LABELS", "WORDING"]

LABELS = {0: "green", 1: "amber", 2: "red"}
WORDING = {
    0: "consistent with the measured data and, for images like the calibration set, within "
       "the shown interval with the calibrated expected pixel coverage (this does not say "
       "that the image is right)",
    1: "unverifiable detail: consistent with the data, but it contains detail the measurement "
       "cannot confirm (or wide intervals)",
    2: "do not trust / I don't know",
}


@dataclasses.dataclass
class Verdicts:
    """``codes``: tile grid of 0 (green), 1 (amber), 2 (red); ``reasons``: tile index → list
    of sentences; ``global_reasons``: those that apply to every tile."""

    codes: np.ndarray
    reasons: dict[tuple[int, ...], list[str]]
    global_reasons: list[str]

    def summary(self, limit: int = 200) -> dict[str, Any]:
        counts = {LABELS[c]: int((self.codes == c).sum()) for c in (0, 1, 2)}
        worst = int(self.codes.max()) if self.codes.size else 2
        listed = sorted(self.reasons.items(), key=lambda kv: -int(self.codes[kv[0]]))[:limit]
        return {"image": LABELS[worst], "meaning": WORDING[worst], "tiles": counts,
                "global_reasons": self.global_reasons,
                "tile_reasons": [{"tile": list(k), "verdict": LABELS[int(self.codes[k])],
                                  "reasons": v} for k, v in listed],
                "legend": {LABELS[k]: WORDING[k] for k in LABELS}}


def tile_verdicts(grid: Sequence[int], *, chi2_p: np.ndarray | None = None,
                  chi2_alpha: float = 1e-3, ood: dict[str, Any] | None = None,
                  squirrel_bound: str | None = None, card_reasons: Sequence[str] = (),
                  null_tile_fraction: np.ndarray | None = None,
                  id_null_tile_fraction: Sequence[float] | None = None,
                  null_alpha: float = 0.05, halfwidth_rel: float | None = None,
                  id_halfwidth_rel: Sequence[float] | None = None,
                  scale_exceeds_optics: bool = False) -> Verdicts:
    """Combine the evidence into a verdict per tile (``grid``: tiles per axis)."""
    grid = tuple(int(g) for g in grid)
    codes = np.zeros(grid, dtype=np.uint8)
    reasons: dict[tuple[int, ...], list[str]] = {}
    global_red, global_amber = [], []
    if ood is not None and ood.get("flag"):
        global_red.append(f"input unlike the calibration inputs (OOD p = {ood['pvalue']:.3g} "
                          f"<= {ood['alpha']}): I don't know")
    if squirrel_bound == "upper":
        global_red.append("no Gaussian blur explains the prediction (SQUIRREL sigma at the "
                          "upper bound)")
    global_red.extend(f"intervals refused: {r}" for r in card_reasons)
    if squirrel_bound == "lower":
        global_amber.append("the prediction is no sharper than the input (SQUIRREL sigma at "
                            "the lower bound): no resolution gain to verify")
    if scale_exceeds_optics:
        global_amber.append("the scale exceeds what the optics support: finer detail is "
                            "the model's")
    if halfwidth_rel is not None and id_halfwidth_rel:
        ref = np.asarray(id_halfwidth_rel, dtype=np.float64)
        if halfwidth_rel > np.quantile(ref, 0.95):
            global_amber.append("intervals wider than for 95 % of the calibration images")

    def add(idx: tuple[int, ...], code: int, text: str) -> None:
        codes[idx] = max(codes[idx], code)
        reasons.setdefault(idx, []).append(text)

    if chi2_p is not None:
        for idx in zip(*np.nonzero(np.asarray(chi2_p) < chi2_alpha)):
            idx = tuple(int(i) for i in idx)
            add(idx, 2, f"contradicts the measured data (chi2 p = {float(chi2_p[idx]):.3g} "
                        f"< {chi2_alpha:g})")
    if null_tile_fraction is not None and id_null_tile_fraction:
        pvals = conformal_pvalue(id_null_tile_fraction, np.asarray(null_tile_fraction))
        for idx in zip(*np.nonzero(np.asarray(pvals) <= null_alpha)):
            idx = tuple(int(i) for i in idx)
            add(idx, 1, f"more detail the measurement cannot see than in the calibration "
                        f"images (null-space share {float(null_tile_fraction[idx]):.3g}, "
                        f"p = {float(pvals[idx]):.3g})")
    if global_amber:
        codes[...] = np.maximum(codes, 1)
    if global_red:
        codes[...] = 2
    return Verdicts(codes=codes, reasons=reasons, global_reasons=global_red + global_amber)
