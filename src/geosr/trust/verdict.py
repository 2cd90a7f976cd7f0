"""Verdict per tile: red / amber / green, always with the evidence behind it — never "correct".

- **red — do not trust / I don't know**: the input is out of distribution (OOD p ≤ α_OOD), or
  the tile contradicts the measurement (its χ² p-value survives the error control across the
  image's tiles, :mod:`~geosr.trust.multiple`: Holm at level 0.05 by default), or no Gaussian
  degradation explains the prediction (SQUIRREL σ at the upper bound), or there is no matching
  calibration card for this model and setting.
- **amber — unverifiable detail**: consistent with the data, but the tile's null-space share is
  unusual for the calibration images (conformal p-values under the same error control), or
  the interval is wider than 95 % of the calibration images', or the requested scale exceeds
  what the optics support, or the prediction is no sharper than the input (SQUIRREL σ at the
  lower bound).
- **green — consistent**: none of the above: "consistent with the measured data and, for images
  like the calibration set, within the shown interval with ≥ 1 − α expected pixel coverage".

Every family of tile tests (a :class:`TileTest`) is controlled on its own at ``level``; the
verdict's ``control`` sentence says which procedure bounded the false alarms and how.

>>> import numpy as np
>>> v = tile_verdicts((1, 2), chi2_p=np.array([[0.5, 1e-6]]), card_reasons=[])
>>> v.codes.tolist(), v.reasons[(0, 1)]   # doctest: +ELLIPSIS
([[0, 2]], ["contradicts the measured data (chi2 p = 1e-06; Holm's procedure over 2 tiles, ..."])
>>> print(v.sentence())                                          # doctest: +NORMALIZE_WHITESPACE
Tiles are red only where Holm's procedure over 2 tile chi2 p-values keeps the family-wise
false-red rate <= 0.05.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from geosr.trust.conformal import conformal_pvalue
from geosr.trust.multiple import CONTROLS, DEFAULT_LEVEL, Controlled, control

__all__ = ["Verdicts", "TileTest", "tile_verdicts", "compose_verdict", "LABELS", "WORDING"]

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
class TileTest:
    """One family of per-tile p-values (tile grid; NaN = no test) whose small values flag
    tiles ``code`` (1 amber, 2 red). ``reason`` is formatted with ``p`` (the tile's p-value),
    ``value`` (``values[tile]`` when given) and ``how`` (the control, e.g. "Holm's procedure
    over 256 tiles, level 0.05"); ``what`` names the p-values in the control sentence.
    ``alpha``: the per-tile level used when the control is ``"none"`` (default: ``level``).
    ``max_statistic``: the p-values are already adjusted for the family — conformal p-values
    against the per-image maxima of ``max_statistic`` reference fields, ``max_over`` (e.g.
    calibration images, or the noise draws of a CT re-acquisition) — and a tile is flagged
    when ``p <= level`` (family-wise error ``<= level`` by exchangeability)."""

    name: str
    pvalues: np.ndarray
    code: int
    reason: str
    what: str
    values: np.ndarray | None = None
    alpha: float | None = None
    max_statistic: int | None = None
    max_over: str = "calibration images"


@dataclasses.dataclass
class Verdicts:
    """``codes``: tile grid of 0 (green), 1 (amber), 2 (red); ``reasons``: tile index → list
    of sentences; ``global_reasons``: those that apply to every tile; ``controls``: one entry
    per family of tile tests (procedure, level, tests, flagged)."""

    codes: np.ndarray
    reasons: dict[tuple[int, ...], list[str]]
    global_reasons: list[str]
    controls: list[tuple[TileTest, Controlled]] = dataclasses.field(default_factory=list)
    image_tests: list[str] = dataclasses.field(default_factory=list)

    def sentence(self) -> str:
        """One sentence saying what controlled the false alarms of this verdict."""
        return control_sentence(self.controls, self.image_tests)

    def summary(self, limit: int = 200) -> dict[str, Any]:
        counts = {LABELS[c]: int((self.codes == c).sum()) for c in (0, 1, 2)}
        worst = int(self.codes.max()) if self.codes.size else 2
        listed = sorted(self.reasons.items(), key=lambda kv: -int(self.codes[kv[0]]))[:limit]
        return {"image": LABELS[worst], "meaning": WORDING[worst], "tiles": counts,
                "global_reasons": self.global_reasons,
                "tile_reasons": [{"tile": list(k), "verdict": LABELS[int(self.codes[k])],
                                  "reasons": v} for k, v in listed],
                "control": [{"test": t.name, "verdict": LABELS[t.code], **c.summary(),
                             **_max_statistic_summary(t)} for t, c in self.controls],
                "legend": {LABELS[k]: WORDING[k] for k in LABELS}}


def _max_statistic_summary(test: TileTest) -> dict[str, Any]:
    """A family adjusted by a max-statistic is family-wise controlled, not per tile."""
    if not test.max_statistic:
        return {}
    return {"method": "max-statistic", "controls": "family-wise",
            "reference": f"{test.max_statistic} {test.max_over}"}


def _how(c: Controlled, test: TileTest | None = None) -> str:
    if test is not None and test.max_statistic:
        return f"max-statistic over {test.max_statistic} {test.max_over}, level {c.level:g}"
    if c.method == "none":
        return f"per-tile level {c.level:g}, no control across tiles"
    return f"{CONTROLS[c.method][1]} over {c.m} tiles, level {c.level:g}"


def control_sentence(controls: Sequence[tuple[TileTest, Controlled]],
                     image_tests: Sequence[str] = ()) -> str:
    """E.g. "Tiles are red only where Holm's procedure over 256 tile chi2 p-values keeps the
    family-wise false-red rate <= 0.05." (one sentence, whatever the number of families)."""
    parts = []
    for t, c in controls:
        colour = LABELS[t.code]
        if t.max_statistic:
            parts.append(f"tiles are {colour} only where their {t.what} statistic is more "
                         f"extreme than the most extreme tile of the reference fields "
                         f"(max-statistic over {t.max_statistic} {t.max_over}), which keeps "
                         f"the family-wise false-{colour} rate <= {c.level:g}")
        elif c.method == "none":
            parts.append(f"tiles are {colour} where their own {t.what} p-value is below "
                         f"{c.level:g}, with no control across the {c.m} tiles")
        elif c.method == "bh":
            parts.append(f"tiles are {colour} only where {CONTROLS['bh'][1]} over {c.m} tile "
                         f"{t.what} p-values keeps the expected share of false {colour} tiles "
                         f"(false-discovery rate) <= {c.level:g}")
        else:
            parts.append(f"tiles are {colour} only where {CONTROLS[c.method][1]} over {c.m} "
                         f"tile {t.what} p-values keeps the family-wise false-{colour} rate "
                         f"<= {c.level:g}")
    if not parts:
        parts.append("no per-tile statistical test ran (no noise model or matching "
                     "calibration card), so the verdict rests on image-wide evidence only")
    text = "; ".join(parts)
    if image_tests:
        text += ", and " + " and ".join(image_tests)
    return text[0].upper() + text[1:] + "."


def compose_verdict(grid: Sequence[int], tests: Sequence[TileTest] = (), *,
                    global_red: Sequence[str] = (), global_amber: Sequence[str] = (),
                    image_tests: Sequence[str] = (), level: float = DEFAULT_LEVEL,
                    method: str = "holm") -> Verdicts:
    """The verdict from families of tile tests (each controlled at ``level`` by ``method``)
    and image-wide reasons (red, amber). ``image_tests``: phrases naming image-level tests
    and their false-alarm rates, for the control sentence."""
    grid = tuple(int(g) for g in grid)
    codes = np.zeros(grid, dtype=np.uint8)
    reasons: dict[tuple[int, ...], list[str]] = {}
    controls = []
    for test in tests:
        p = np.asarray(test.pvalues, dtype=np.float64)
        lvl = test.alpha if method == "none" and test.alpha is not None else level
        c = control(p, lvl, "none" if test.max_statistic else method)
        controls.append((test, c))
        how = _how(c, test)
        for idx in zip(*np.nonzero(c.flagged)):
            idx = tuple(int(i) for i in idx)
            value = None if test.values is None else float(np.asarray(test.values)[idx])
            codes[idx] = max(codes[idx], test.code)
            reasons.setdefault(idx, []).append(
                test.reason.format(p=float(p[idx]), value=value, how=how))
    if global_amber:
        codes[...] = np.maximum(codes, 1)
    if global_red:
        codes[...] = 2
    return Verdicts(codes=codes, reasons=reasons,
                    global_reasons=list(global_red) + list(global_amber),
                    controls=controls, image_tests=list(image_tests))


CHI2_REASON = "contradicts the measured data (chi2 p = {p:.3g}; {how})"
NULL_REASON = ("more detail the measurement cannot see than in the calibration images "
               "(null-space share {value:.3g}, p = {p:.3g}; {how})")


def tile_verdicts(grid: Sequence[int], *, chi2_p: np.ndarray | None = None,
                  chi2_alpha: float = 1e-3, ood: dict[str, Any] | None = None,
                  squirrel_bound: str | None = None, card_reasons: Sequence[str] = (),
                  null_tile_fraction: np.ndarray | None = None,
                  id_null_tile_fraction: Sequence[float] | None = None,
                  null_alpha: float = 0.05, halfwidth_rel: float | None = None,
                  id_halfwidth_rel: Sequence[float] | None = None,
                  scale_exceeds_optics: bool = False, level: float = DEFAULT_LEVEL,
                  method: str = "holm") -> Verdicts:
    """Combine the evidence into a verdict per tile (``grid``: tiles per axis).

    χ² and null-space tile p-values are controlled across tiles by ``method`` at ``level``;
    ``chi2_alpha`` and ``null_alpha`` are the per-tile levels of ``method="none"``."""
    global_red, global_amber, image_tests = [], [], []
    if ood is not None:
        image_tests.append(f"the out-of-distribution gate adds a false-red rate <= "
                           f"{ood['alpha']:g}")
        if ood.get("flag"):
            global_red.append(f"input unlike the calibration inputs (OOD p = "
                              f"{ood['pvalue']:.3g} <= {ood['alpha']}): I don't know")
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
    tests = []
    if chi2_p is not None:
        tests.append(TileTest("consistency", np.asarray(chi2_p), 2, CHI2_REASON, "chi2",
                              alpha=chi2_alpha))
    if null_tile_fraction is not None and id_null_tile_fraction:
        pvals = conformal_pvalue(id_null_tile_fraction, np.asarray(null_tile_fraction))
        tests.append(TileTest("nullspace", np.asarray(pvals), 1, NULL_REASON, "null-space",
                              values=np.asarray(null_tile_fraction), alpha=null_alpha))
    return compose_verdict(grid, tests, global_red=global_red, global_amber=global_amber,
                           image_tests=image_tests, level=level, method=method)
