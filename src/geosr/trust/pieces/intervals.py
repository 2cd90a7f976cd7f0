"""Uncertainty (TTA, ensemble, constant or the hetero model's σ) and, when a matching
calibration card exists, the calibrated intervals ``prediction ± λ u`` (conformal risk
control). Refusals are added to ``ctx.card_reasons`` (every tile then turns red); intervals
wider than for 95 % of the calibration images make every tile amber. Leaves
``ctx.results["size_map"] = (u, spread)``."""

from __future__ import annotations

import numpy as np

from geosr.trust.context import TrustContext
from geosr.trust.registry import Evidence, register_evidence


def _size_map(ctx: TrustContext, kind: str) -> tuple[np.ndarray, np.ndarray | None]:
    from geosr.trust.calibration import input_range, size_map

    card = ctx.card
    u_floor = card.u_floor_rel if card else 0.01
    members = card.uncertainty.get("tta_members", ctx.tta_members) if card else ctx.tta_members
    if kind == "hetero":   # already written as hetero_std; same floor as size_map
        spread = ctx.results["hetero_std"]
        return spread + u_floor * input_range(ctx.low.numpy()), spread
    return size_map(ctx.low, ctx.loaded, kind=kind, ensemble=ctx.ensemble, tta_members=members,
                    u_floor=u_floor, device=str(ctx.loaded.device))


def _intervals(ctx: TrustContext, u: np.ndarray, ev: Evidence) -> None:
    from geosr.trust.calibration import input_range

    card = ctx.card
    lam = float(card.crc["lambda"])
    halfwidth_rel = None
    if np.isfinite(lam):
        ev.maps["interval_lower"] = ctx.sr_map(ctx.f - lam * u)
        ev.maps["interval_upper"] = ctx.sr_map(ctx.f + lam * u)
        halfwidth_rel = float(lam * u.mean()) / input_range(ctx.y)
    ev.summary["intervals"] = {**card.crc, "kind": "crc", "halfwidth_rel": halfwidth_rel,
                               "scope": card.scope}
    if not np.isfinite(lam):
        ev.summary["intervals"]["note"] = ("no finite interval: too few calibration images "
                                           "for this alpha (no map written)")
    reference = card.id_reference.get("halfwidth_rel")
    if halfwidth_rel is not None and reference and \
            halfwidth_rel > np.quantile(np.asarray(reference, np.float64), 0.95):
        ev.amber.append("intervals wider than for 95 % of the calibration images")


@register_evidence("intervals", order=60)
def intervals_evidence(ctx: TrustContext) -> Evidence:
    kind, card, reasons = ctx.uncertainty_kind, ctx.card, ctx.card_reasons
    ev = Evidence()
    if kind is not None and ctx.loaded is not None:
        u, spread = _size_map(ctx, kind)
        ctx.results["size_map"] = (u, spread)
        if spread is not None and kind != "hetero":
            ev.maps["uncertainty_std"] = ctx.sr_map(spread)
        ev.summary["uncertainty"] = {"kind": kind, "std_mean": None if spread is None
                                     else float(spread.mean()), "guarantee": "none by itself"}
        if card is not None and card.uncertainty_kind != kind:
            reasons.append(f"the card calibrated '{card.uncertainty_kind}' intervals, "
                           f"not '{kind}'")
        if not reasons:
            _intervals(ctx, u, ev)
    elif card is not None and not reasons:
        reasons.append("no uncertainty map (give the model) to scale the intervals")
    if reasons:
        ev.summary["intervals"] = {"refused": list(reasons)}
    return ev
