"""Pair quality control: find the pairs that must not be trained on, and say why.

Verdicts are ``ok``, ``suspect`` (kept, flagged in the report) or ``reject`` (left out).

Before registration (:func:`precheck`): an *empty* image (no contrast), a *saturated* one (more
than ``SATURATED_FRACTION`` of its pixels at its maximum value), a physical spacing ratio that
is not the stated scale.

After registration (:func:`judge`): NCC of the LR image with the registered, forward-modelled
HR below ``NCC_REJECT``, or a residual more than ``RATIO_REJECT`` times the LR image's own
noise sd (:func:`noise_sd`), is a *different field* — unless another integer scale matches clearly
better (:func:`best_scale`, template matching of the binned HR over candidate scales), then it
is a *scale mismatch*; below ``NCC_SUSPECT`` the pair is suspect; a zoom (similarity fit) more
than 2 % from 1 is a scale mismatch; a fit whose own standard errors exceed ``SE_SHIFT`` LR
px or ``SE_ROTATION`` degrees is suspect (:func:`judge_precision`).

Across pairs (:func:`judge_focus`): a pair whose fitted PSF width is an outlier against the
others (robust z-score > ``FOCUS_Z`` and more than ``FOCUS_REL`` relative difference) had a
*focus change*; a residual above ``RESIDUAL_SUSPECT`` times the fitted noise sd is suspect.

>>> precheck(np.zeros((16, 16)), np.ones((64, 64)), (4, 4))
('reject', 'empty LR image (no contrast)')
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from scipy import ndimage

from geosr.degrade.psf import FWHM_PER_SIGMA
from geosr.pairs.model import bin_blocks

__all__ = ["precheck", "judge", "judge_precision", "judge_registration", "judge_focus", "best_scale", "noise_sd",
           "residual_in_noise_units", "NCC_REJECT", "NCC_SUSPECT"]

SATURATED_FRACTION = 0.02
NCC_REJECT = 0.5
NCC_SUSPECT = 0.8
FOCUS_Z = 4.0
FOCUS_REL = 0.2
RESIDUAL_SUSPECT = 1.5
ZOOM_TOLERANCE = 0.02
RATIO_REJECT = 1.5
SE_SHIFT = 0.05
SE_ROTATION = 0.1
RATIO_SUSPECT = 1.25


def _saturated(values: np.ndarray) -> float:
    top = values.max()
    return float(np.mean(values >= top))


def precheck(lr: np.ndarray, hr: np.ndarray, scale: Sequence[int],
             spacing_ratio: Sequence[float] | None = None) -> tuple[str, str]:
    """``(verdict, reason)`` from the raw images, before any registration."""
    for name, values in (("LR", lr), ("HR", hr)):
        lo, hi = np.percentile(values, [1.0, 99.0])
        if not hi > lo:
            return "reject", f"empty {name} image (no contrast)"
        frac = _saturated(values)
        if frac > SATURATED_FRACTION:
            return "reject", (f"saturated {name} image ({100 * frac:.1f} % of the pixels at "
                              f"the maximum value {float(values.max()):g})")
    if spacing_ratio is not None:
        bad = [(r, s) for r, s in zip(spacing_ratio, scale) if abs(r / s - 1) > 0.02]
        if bad:
            r, s = bad[0]
            return "reject", (f"scale mismatch: the LR/HR pixel-size ratio is {r:.3g}, not "
                              f"the stated {s}")
    return "ok", ""


def best_scale(lr: np.ndarray, hr: np.ndarray, candidates: Sequence[int]) -> dict[int, float]:
    """Peak normalised cross-correlation (template matching, any shift) of the LR image with
    the HR image blurred and binned at each candidate integer scale."""
    from skimage.feature import match_template

    out = {}
    for s in candidates:
        if any(n < 4 * s for n in hr.shape):
            continue
        binned = bin_blocks(ndimage.gaussian_filter(hr, s / FWHM_PER_SIGMA), (s,) * hr.ndim)
        small, big = (lr, binned) if lr.size <= binned.size else (binned, lr)
        shape = [max(4, min(int(0.8 * n), m)) for n, m in zip(small.shape, big.shape)]
        start = [(n - m) // 2 for n, m in zip(small.shape, shape)]
        template = small[tuple(slice(a, a + m) for a, m in zip(start, shape))]
        if template.std() == 0 or any(m > n for m, n in zip(shape, big.shape)):
            continue
        out[int(s)] = float(match_template(big, template).max())
    return out


def judge(ncc_after: float, scale: Sequence[int], lr: np.ndarray, hr: np.ndarray,
          zoom: float = 1.0, residual_ratio: float | None = None) -> tuple[str, str]:
    """``(verdict, reason)`` of one registered pair. ``residual_ratio``: RMS residual over the
    LR image's own noise sd (:func:`noise_sd`); about 1 when the HR explains the LR."""
    if abs(zoom - 1.0) > ZOOM_TOLERANCE:
        return "reject", (f"scale mismatch: the fitted zoom is {zoom:.3f} (the HR grid is "
                          f"{zoom * scale[-1]:.2f}x finer, not {scale[-1]}x)")
    mismatch = residual_ratio is not None and residual_ratio > RATIO_REJECT
    if ncc_after < NCC_REJECT or mismatch:
        stated = int(scale[-1])
        if len(set(scale)) == 1:
            cands = sorted({2, 3, 4, 5, 6, 8, stated})
            scores = best_scale(np.asarray(lr, np.float64), np.asarray(hr, np.float64), cands)
            if scores:
                best = max(scores, key=scores.get)
                at_stated = scores.get(stated, ncc_after)
                if best != stated and scores[best] > max(0.6, at_stated + 0.15):
                    return "reject", (f"scale mismatch: the LR matches the HR at x{best} "
                                      f"(NCC {scores[best]:.2f}), not at the stated x{stated} "
                                      f"(NCC {at_stated:.2f})")
        ratio = "" if residual_ratio is None else (f", residual {residual_ratio:.2f} x the "
                                                   "LR noise")
        return "reject", (f"different field: NCC {ncc_after:.2f} after registration"
                          f"{ratio}")
    if ncc_after < NCC_SUSPECT:
        return "suspect", f"low NCC {ncc_after:.2f} after registration (< {NCC_SUSPECT})"
    if residual_ratio is not None and residual_ratio > RATIO_SUSPECT:
        return "suspect", f"residual {residual_ratio:.2f} x the LR noise (> {RATIO_SUSPECT})"
    return "ok", ""


def judge_precision(standard_errors: Mapping[str, float]) -> tuple[str, str]:
    """``suspect`` when the fit itself says the registration is poorly determined (a shift
    standard error above ``SE_SHIFT`` LR px or a rotation one above ``SE_ROTATION`` deg), as
    for images with little structure."""
    shift = max((v for k, v in standard_errors.items() if k.startswith("shift_")), default=0.0)
    rot = standard_errors.get("rotation_deg", 0.0)
    if shift > SE_SHIFT or rot > SE_ROTATION:
        return "suspect", (f"registration poorly determined (standard error: shift "
                           f"{shift:.3f} LR px, rotation {rot:.3f} deg)")
    return "ok", ""


def judge_registration(reg: Any, lr: np.ndarray, hr: np.ndarray) -> tuple[str, str]:
    """The single-pair verdict of a registration (:func:`judge`, then, if ``ok``,
    :func:`judge_precision`): ``(verdict, reason)``."""
    verdict, reason = judge(reg.ncc_after, reg.scale, lr, hr, reg.transform.zoom,
                            reg.checks["residual_over_noise"])
    if verdict == "ok":
        verdict, reason = judge_precision(reg.standard_errors)
    return verdict, reason


def judge_focus(widths: Mapping[str, float], errors: Mapping[str, float] | None = None
                ) -> dict[str, str]:
    """Reasons for the pairs whose PSF FWHM (µm, lateral) is an outlier among ``widths``
    (name -> FWHM): robust z-score against the spread of the others combined with the pair's
    own standard error (``errors``: name -> SE, µm; the PSF trades off against a gamma map on
    images with little structure); needs at least 3 pairs."""
    if len(widths) < 3:
        return {}
    values = np.array(list(widths.values()), dtype=np.float64)
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med))) * 1.4826
    spread = max(mad, 0.02 * med, 1e-12)
    out = {}
    for name, w in widths.items():
        own = float((errors or {}).get(name, 0.0))
        z = (w - med) / float(np.hypot(spread, own))
        if abs(z) > FOCUS_Z and abs(w / med - 1) > FOCUS_REL:
            out[name] = (f"focus change: PSF FWHM {w:.3g} um against {med:.3g} um for the "
                         f"other pairs")
    return out


def noise_sd(values: np.ndarray) -> float:
    """Immerkær's (1996) estimate of the sd of white noise in an image, any dimension: the
    mean absolute response to the separable second-difference mask ``[1, -2, 1]^⊗d``, times
    ``sqrt(π/2) / sqrt(6^d)``. Structure inflates it, so it is an upper bound in practice.

    >>> round(noise_sd(np.random.default_rng(0).normal(0, 2.0, (256, 256))), 1)
    2.0
    """
    out = np.asarray(values, dtype=np.float64)
    for axis in range(out.ndim):
        out = ndimage.correlate1d(out, [1.0, -2.0, 1.0], axis=axis, mode="reflect")
    inner = out[tuple(slice(1, -1) for _ in range(out.ndim))]
    return float(np.sqrt(np.pi / 2) * np.abs(inner).mean() / np.sqrt(6.0 ** out.ndim))


def residual_in_noise_units(pair: Mapping[str, Any], noise: Mapping[str, Any]) -> float:
    """RMS of the registration residual divided by the RMS noise sd the fitted model predicts
    (1 = the residual is noise)."""
    bins = pair["noise_bins"]
    var = sum(b["var"] * b["n"] for b in bins) / sum(b["n"] for b in bins)
    exp = sum((noise["gain"] * max(b["signal"], 0.0) + noise["read_noise"] ** 2) * b["n"]
              for b in bins) / sum(b["n"] for b in bins)
    return float(np.sqrt(var / exp)) if exp > 0 else float("inf")
