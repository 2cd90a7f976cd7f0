"""SQUIRREL: the LR input against the prediction degraded by a fitted Gaussian blur and
intensity scaling (:func:`geosr.trust.squirrel_map.squirrel`). Red when no Gaussian blur
explains the prediction (σ at the upper bound), amber when the prediction is no sharper than
the input (σ at the lower bound). Leaves the result in ``ctx.results["squirrel"]``."""

from __future__ import annotations

from geosr.trust.context import TrustContext
from geosr.trust.registry import Evidence, register_evidence


@register_evidence("squirrel", order=20)
def squirrel_evidence(ctx: TrustContext) -> Evidence:
    from geosr.trust.squirrel_map import squirrel

    sq = squirrel(ctx.y, ctx.f, ctx.scale)
    ctx.results["squirrel"] = sq
    ev = Evidence(summary={"squirrel": sq.summary()},
                  maps={"squirrel_residual": ctx.lr_map(sq.residual)})
    if sq.bound == "upper":
        ev.red.append("no Gaussian blur explains the prediction (SQUIRREL sigma at the upper "
                      "bound)")
    elif sq.bound == "lower":
        ev.amber.append("the prediction is no sharper than the input (SQUIRREL sigma at the "
                        "lower bound): no resolution gain to verify")
    return ev
