"""Null space: the part of the prediction the measurement cannot see
(:func:`geosr.trust.nullspace.null_space`), with the known acquisition's operator or, when none
is known, the SQUIRREL-fitted Gaussian blur. When a matching calibration card holds the
in-distribution tile shares, each tile is tested against them (``nullspace_test``, run
after the card has been checked): a max-statistic over the calibration images, or Holm over
the tiles' conformal p-values when there are too few images."""

from __future__ import annotations

import numpy as np

from geosr.trust.acquisition import Acquisition
from geosr.trust.context import TrustContext
from geosr.trust.registry import Evidence, register_evidence
from geosr.trust.verdict import NULL_REASON, TileTest

FWHM_PER_SIGMA = 2.3548200450309493


@register_evidence("nullspace", order=40)
def nullspace_evidence(ctx: TrustContext) -> Evidence:
    from geosr.trust.nullspace import null_space

    acq = ctx.acquisition
    if acq is None:   # the SQUIRREL-fitted blur stands in for the unknown PSF
        sigma = ctx.results["squirrel"].sigma_lr_px if "squirrel" in ctx.results else None
        if sigma is None:
            from geosr.trust.squirrel_map import squirrel

            sigma = squirrel(ctx.y, ctx.f, ctx.scale).sigma_lr_px
        fwhm = [sigma * s * sp * FWHM_PER_SIGMA if s > 1 else 0.0
                for s, sp in zip(ctx.scale, ctx.pred.spacing_um)]
        acq = Acquisition.from_arguments(scale=ctx.scale, fwhm_um=tuple(fwhm))
    ns = null_space(ctx.pred, acq, tile=ctx.sizes)
    ctx.results["nullspace"] = ns
    operator = ("known acquisition" if ctx.acquisition is not None
                else "SQUIRREL-fitted Gaussian blur")
    return Evidence(summary={"nullspace": {**ns.summary(), "operator": operator}},
                    maps={"nullspace": ctx.sr_map(ns.null),
                          "nullspace_energy": ctx.sr_map(ns.local_energy),
                          "nullspace_tile_fraction": ctx.tile_map(ns.tile_fraction)})


@register_evidence("nullspace_test", order=80)
def nullspace_test(ctx: TrustContext) -> Evidence | None:
    """Amber tiles for unusual unseen detail, family-wise controlled at ``ctx.level``: with
    at least ``1/level`` calibration images, a max-statistic (each tile against the per-image
    maxima of the calibration tiles); otherwise the error control of ``ctx.control`` over the
    tiles' conformal p-values against the pooled calibration tiles."""
    from geosr.trust.conformal import conformal_pvalue

    ns = ctx.results.get("nullspace")
    ref = ctx.card.id_reference if ctx.card else {}
    reference, maxima = ref.get("null_tile_fraction"), ref.get("null_tile_max") or []
    if ns is None or not reference or not ctx.card_applies:
        return None
    values = np.asarray(ns.tile_fraction)
    if ctx.control != "none" and 1.0 / (len(maxima) + 1) <= ctx.level:
        p = np.asarray(conformal_pvalue(maxima, values))
        return Evidence(tests=[TileTest("nullspace", p, 1, NULL_REASON, "null-space",
                                        values=values, max_statistic=len(maxima))])
    p = np.asarray(conformal_pvalue(reference, values))
    ev = Evidence(tests=[TileTest("nullspace", p, 1, NULL_REASON, "null-space",
                                  values=values, alpha=0.05)])
    smallest, m = 1.0 / (len(reference) + 1), int(np.isfinite(p).sum())
    if ctx.control == "holm" and smallest > ctx.level / max(m, 1):
        ev.summary["nullspace_test"] = {
            "note": f"{len(reference)} calibration tiles give p >= {smallest:.2g}, above "
                    f"Holm's first threshold {ctx.level / max(m, 1):.2g} for {m} tiles, and "
                    f"{len(maxima)} calibration images are too few for the max-statistic "
                    f"(>= {int(np.ceil(1 / ctx.level)) - 1}): no tile can turn amber for "
                    f"null-space detail"}
    return ev
