"""Out-of-distribution gate: "I don't know" (red everywhere) for inputs unlike the
calibration inputs (:class:`geosr.trust.ood.OODGate`, fitted by ``geosr calibrate``), with
the model-feature gate combined by Bonferroni when the card has one for this model. An
image-level test: it adds at most ``α_OOD`` to the image's false-red rate."""

from __future__ import annotations

from geosr.trust.context import TrustContext
from geosr.trust.registry import Evidence, register_evidence


@register_evidence("ood", order=70)
def ood_evidence(ctx: TrustContext) -> Evidence:
    from geosr.trust.conformal import conformal_pvalue
    from geosr.trust.ood import OODGate

    card, loaded = ctx.card, ctx.loaded
    if card is None or not card.ood_gate:
        return Evidence(summary={"ood": {"skipped": "no OOD gate (needs a matching "
                                                    "calibration card)"}})
    gate = OODGate.from_dict(dict(card.ood_gate))
    ood = gate.check(ctx.y)
    same_model = loaded is not None and card.model_sha256 == loaded.sha256
    if card.ood_features and same_model:
        from geosr.trust.ood import model_features

        fgate = OODGate.from_dict(dict(card.ood_features))
        p_feat = conformal_pvalue(fgate.calibration_scores,
                                  float(fgate.score_features(model_features(loaded, ctx.low))[0]))
        combined = min(1.0, 2.0 * min(ood["pvalue"], p_feat))   # Bonferroni over 2 gates
        ood = {**ood, "pvalue_inputs": ood["pvalue"], "pvalue_features": p_feat,
               "pvalue": combined, "flag": bool(combined <= gate.alpha),
               "combination": "Bonferroni: 2 * min(p_inputs, p_features)"}
    ev = Evidence(summary={"ood": ood},
                  image_tests=[f"the out-of-distribution gate adds a false-red rate <= "
                               f"{gate.alpha:g}"])
    if ood.get("flag"):
        ev.red.append(f"input unlike the calibration inputs (OOD p = {ood['pvalue']:.3g} "
                      f"<= {ood['alpha']}): I don't know")
    return ev
