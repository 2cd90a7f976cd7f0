"""Data consistency: the prediction degraded by the known forward model against the LR input,
per-tile χ² p-values under the Poisson–Gaussian noise model
(:func:`geosr.trust.data_consistency.consistency`). The tile p-values form one family of
tests; the verdict turns tiles red under its error control (Holm at 0.05 by default). X-ray
CT results bring their own family decision, a max-statistic over the re-acquisition's noise
draws (:mod:`geosr.trust.ct_consistency`)."""

from __future__ import annotations

from geosr.trust.context import TrustContext
from geosr.trust.registry import Evidence, register_evidence
from geosr.trust.verdict import CHI2_REASON, TileTest


@register_evidence("consistency", order=30)
def consistency_evidence(ctx: TrustContext) -> Evidence:
    from geosr.trust.data_consistency import consistency

    acq = ctx.acquisition
    if acq is None or not acq.has_noise_model:
        return Evidence(summary={"consistency": {
            "skipped": "no forward and noise model known for the input (give the "
                       "acquisition: fwhm, photons, read noise)"}})
    cons = consistency(ctx.pred, ctx.low, acq, tile=ctx.sizes)
    ctx.results["consistency"] = cons
    return Evidence(summary={"consistency": cons.summary()},
                    maps={"consistency_z": ctx.lr_map(cons.z),
                          "consistency_p": ctx.tile_map(cons.tile_p)},
                    tests=[_family(cons, ctx)])


def _family(cons, ctx: TrustContext) -> TileTest:
    """The tile test the verdict controls: a CT result's max-statistic over its noise draws
    when the draws can reach the level (exact family-wise rate), else the per-tile p-values
    under the verdict's control."""
    draws = cons.family_draws
    if cons.family_p is not None and ctx.control != "none" and 1.0 / (draws + 1) <= ctx.level:
        return TileTest("consistency", cons.family_p, 2, CHI2_REASON, "chi2",
                        max_statistic=draws, max_over="noise draws")
    return TileTest("consistency", cons.tile_p, 2, CHI2_REASON, "chi2", alpha=cons.alpha)
