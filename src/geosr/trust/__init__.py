"""The trust layer: evidence of where a super-resolved image can and cannot be believed.

An SR model always produces an output; these tools say how much of it the measurement supports:

- :func:`physics_report` — Nyquist, optical cut-off, the SR factor the optics support, the
  share of output power above the cut-off, warnings (:mod:`~geosr.trust.physics`).
- :func:`consistency` — re-degrade the prediction with the known forward model, per-tile χ²
  test against the LR input under the Poisson–Gaussian noise model
  (:mod:`~geosr.trust.data_consistency`).
- :func:`squirrel` — SQUIRREL error map with a fitted blur and intensity scaling, RSE, RSP
  (:mod:`~geosr.trust.squirrel_map`).
- :func:`null_space` — the part of the prediction the measurement cannot see
  (:mod:`~geosr.trust.nullspace`).
- :func:`tta`, :func:`ensemble_predict` — heuristic uncertainty (:mod:`~geosr.trust.uncertainty`).
- :func:`crc_lambda`, :func:`conformal_quantile`, :func:`conformal_pvalue` — calibration with
  finite-sample guarantees (:mod:`~geosr.trust.conformal`); :func:`calibrate` writes the
  calibration card bound to the model hash and acquisition (:mod:`~geosr.trust.calibration`).
- :class:`OODGate` — "I don't know" for inputs unlike the calibration set
  (:mod:`~geosr.trust.ood`).
- :func:`tile_verdicts` — red / amber / green per tile with the evidence, never "correct";
  tile tests controlled across the image (:func:`holm`, :func:`benjamini_hochberg`).
- :func:`element_table` — a confidence per network element (component, branch)
  (:mod:`~geosr.trust.elements`).
- :func:`trust_report` — all of the above for one prediction, maps as TIFF + JSON. Each piece
  of evidence is a function registered with :func:`register_evidence` that sees one
  :class:`TrustContext` and returns an :class:`Evidence`; the verdict is composed from them.

>>> from geosr.trust import conformal_quantile
>>> conformal_quantile([1, 2, 3, 4], alpha=0.5)
3.0
"""

from __future__ import annotations

from geosr.core.lazy import lazy_exports

_EXPORTS = {
    "Acquisition": "geosr.trust.acquisition",
    "physics_report": "geosr.trust.physics",
    "optical_limits": "geosr.trust.physics",
    "power_above_cutoff": "geosr.trust.physics",
    "ct_blur_um": "geosr.trust.physics",
    "consistency": "geosr.trust.data_consistency",
    "ConsistencyResult": "geosr.trust.data_consistency",
    "squirrel": "geosr.trust.squirrel_map",
    "SquirrelResult": "geosr.trust.squirrel_map",
    "null_space": "geosr.trust.nullspace",
    "NullSpaceResult": "geosr.trust.nullspace",
    "tta": "geosr.trust.uncertainty",
    "symmetries": "geosr.trust.uncertainty",
    "ensemble_predict": "geosr.trust.uncertainty",
    "load_ensemble": "geosr.trust.uncertainty",
    "conformal_quantile": "geosr.trust.conformal",
    "conformal_pvalue": "geosr.trust.conformal",
    "crc_lambda": "geosr.trust.conformal",
    "calibrate": "geosr.trust.calibration",
    "read_card": "geosr.trust.card",
    "card_mismatches": "geosr.trust.card",
    "OODGate": "geosr.trust.ood",
    "input_features": "geosr.trust.ood",
    "tile_verdicts": "geosr.trust.verdict",
    "compose_verdict": "geosr.trust.verdict",
    "holm": "geosr.trust.multiple",
    "benjamini_hochberg": "geosr.trust.multiple",
    "resolve_acquisition": "geosr.trust.acquisition",
    "CalibrationCard": "geosr.trust.card",
    "resolve_card": "geosr.trust.card",
    "register_evidence": "geosr.trust.registry",
    "available_evidence": "geosr.trust.registry",
    "Evidence": "geosr.trust.registry",
    "TrustContext": "geosr.trust.context",
    "element_table": "geosr.trust.elements",
    "model_element_table": "geosr.trust.elements",
    "trust_report": "geosr.trust.report",
    "TrustReport": "geosr.trust.report",
    "trust_folder": "geosr.trust.report",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
