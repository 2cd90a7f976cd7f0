"""Whether a trained model beats the interpolation it was meant to improve, recorded at the end
of training and read back wherever the model is used.

The trainer compares the kept model's validation PSNR with the bicubic baseline on the same
held-out images (:mod:`geosr.train.validate`, dB on normalised intensities) and records
:func:`baseline_record` as ``validation.below_baseline`` in ``model.json`` and
``below_baseline`` in ``summary.json``; :func:`baseline_message` turns a model description
into the warning ``geosr train`` ends with and ``geosr predict`` prints once per model.

Example
-------
>>> record = baseline_record(33.6, 34.6)
>>> record["below"], record["margin_db"]
(True, -1.0)
>>> baseline_message({"validation": {"below_baseline": record}})[:46]
'the model is 1.00 dB below bicubic interpolati'
"""

from __future__ import annotations

from typing import Any

__all__ = ["BelowBaselineWarning", "baseline_record", "baseline_message", "TOLERANCE_DB"]

#: A model within this many dB of the baseline is not "below" it (float32 vs float64
#: rounding of a model that *is* the interpolation, as a residual model is at step 0).
TOLERANCE_DB = 0.01


class BelowBaselineWarning(UserWarning):
    """A model whose validation PSNR is below the interpolation baseline."""


def baseline_record(model_psnr: float | None, baseline_psnr: float | None,
                    baseline: str = "bicubic") -> dict[str, Any] | None:
    """``{"below", "model_psnr_db", "baseline_psnr_db", "margin_db", "baseline"}`` (margin =
    model − baseline, dB, rounded to 1e-4; below = margin < −:data:`TOLERANCE_DB`), or None
    when either number is missing."""
    if model_psnr is None or baseline_psnr is None:
        return None
    margin = round(float(model_psnr) - float(baseline_psnr), 4)
    return {"below": bool(margin < -TOLERANCE_DB), "model_psnr_db": float(model_psnr),
            "baseline_psnr_db": float(baseline_psnr), "margin_db": margin,
            "baseline": baseline}


def baseline_message(spec: dict[str, Any] | None) -> str | None:
    """The warning for a model description (``model.json`` or ``summary.json``) whose kept
    model is below its baseline; None otherwise (also for files without the record)."""
    spec = spec or {}
    record = spec.get("below_baseline")
    if record is None and isinstance(spec.get("validation"), dict):
        record = spec["validation"].get("below_baseline")
    if not isinstance(record, dict) or not record.get("below"):
        return None
    return (f"the model is {-float(record['margin_db']):.2f} dB below "
            f"{record.get('baseline', 'bicubic')} interpolation on its validation images "
            f"({float(record['model_psnr_db']):.2f} vs "
            f"{float(record['baseline_psnr_db']):.2f} dB): interpolation is the better "
            "estimate; train longer, or use a model with residual_over (the default fsrcnn "
            "starts from bicubic)")
