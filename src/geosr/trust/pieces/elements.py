"""Element confidence (``confidence=True``): for each connected component and skeleton branch
of the segmented prediction, the probability that it exists in the truth, from the agreement
of the model's own draws (TTA members; ensemble members or hetero samples when that is the
uncertainty kind), calibrated by the card's element calibration when it has one
(:mod:`geosr.trust.elements`). Writes ``elements.csv`` and ``element_confidence.tif``."""

from __future__ import annotations

from geosr.core.errors import ConfigError
from geosr.trust.context import TrustContext
from geosr.trust.registry import Evidence, register_evidence


@register_evidence("elements", order=90)
def elements_evidence(ctx: TrustContext) -> Evidence | None:
    from geosr.trust.elements import ElementCalibration, model_element_table

    if not ctx.options.get("confidence"):
        return None
    if ctx.loaded is None:
        raise ConfigError("element confidence needs the model that made the prediction",
                          where="--model", hint="give --model M with --confidence")
    spec = ctx.card.get("elements") if ctx.card is not None else None
    calibration = (ElementCalibration.from_dict(spec) if spec and "w" in spec and ctx.card_applies
                   else None)
    members = int((spec or {}).get("members", ctx.tta_members or 8))
    kind = (spec or {}).get("member_kind") or (
        ctx.uncertainty_kind if ctx.uncertainty_kind in ("ensemble", "hetero") else "tta")
    table = model_element_table(ctx.pred, ctx.low, ctx.loaded, kind=kind, members=members,
                                ensemble=ctx.ensemble,
                                calibration=calibration,
                                threshold=(spec or {}).get("threshold"),
                                device=str(ctx.loaded.device))
    ctx.results["elements"] = table
    summary = table.summary()
    if spec and calibration is None:
        summary["note"] = "the card's element calibration does not apply (see intervals)"
    if calibration is not None:
        summary["calibration"] = {k: spec.get(k) for k in ("n", "ece", "ece_heldout", "truth")}
    return Evidence(summary={"elements": summary},
                    maps={"element_confidence": ctx.sr_map(table.confidence_image)},
                    files={"elements.csv": table.csv().encode("utf-8")})
