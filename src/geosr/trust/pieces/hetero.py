"""The standard deviation predicted by a heteroscedastic model's variance head (aleatoric,
uncalibrated), whenever the model has one or ``uncertainty="hetero"``
(:func:`geosr.trust.uncertainty.hetero_std`). Leaves it in ``ctx.results["hetero_std"]``."""

from __future__ import annotations

from geosr.trust.context import TrustContext, plane
from geosr.trust.registry import Evidence, register_evidence


@register_evidence("hetero", order=50)
def hetero_evidence(ctx: TrustContext) -> Evidence | None:
    from geosr.trust.uncertainty import has_variance_head, hetero_std

    loaded = ctx.loaded
    if loaded is None or not (ctx.uncertainty_kind == "hetero" or has_variance_head(loaded)):
        return None
    sd = plane(hetero_std(ctx.low, loaded, device=str(loaded.device)))
    ctx.results["hetero_std"] = sd
    return Evidence(summary={"hetero": {
        "std_mean": float(sd.mean()), "std_max": float(sd.max()),
        "kind": "aleatoric: the model's predicted standard deviation",
        "guarantee": "none: uncalibrated until conformal calibration; over-confident on "
                     "inputs unlike the training data"}},
        maps={"hetero_std": ctx.sr_map(sd)})
