"""Element confidence (placeholder until :mod:`geosr.trust.elements` lands)."""

from __future__ import annotations

from geosr.trust.context import TrustContext
from geosr.trust.registry import Evidence, register_evidence


@register_evidence("elements", order=90)
def elements_evidence(ctx: TrustContext) -> Evidence | None:
    return None
