"""The ``README.md`` of an exported package, written from the model's own record
(``model.json``: architecture, training data fingerprint, degradation or paired data, loss
recipe, validation numbers) and from its calibration card when there is one. Nothing is
invented: a field the model does not record is said to be unrecorded.

>>> text = package_readme({"architecture": "fsrcnn", "dims": 2, "scale": 4,
...                        "summary": {"parameters": 12464, "halo": [6, 6]}}, None,
...                        spacing_um=(0.4, 0.4))
>>> "# Validation" in text and "not recorded" in text
True
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

__all__ = ["package_readme", "short_description"]

_UNRECORDED = "not recorded in model.json"


def _fmt(value: Any, digits: int = 4) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    if value is None:
        return _UNRECORDED
    if isinstance(value, (dict, list)):
        return "`" + json.dumps(value, sort_keys=True)[:300] + "`"
    return str(value)


def _scale(spec: Mapping[str, Any]) -> str:
    scale = spec.get("scale")
    return "x".join(str(s) for s in scale) if isinstance(scale, list) else f"{scale}"


def short_description(spec: Mapping[str, Any]) -> str:
    """One line: ``"geosr fsrcnn 2D super-resolution x4 ..."``."""
    return (f"geosr {spec.get('architecture')} {spec.get('dims')}D super-resolution x"
            f"{_scale(spec)} of porosity-network images (percentile-normalised input; "
            "trained with geosr; pure-torch and ONNX weights)")


def _degradation(record: Mapping[str, Any]) -> str:
    """The degradation's settings in one line: mode, parameter ranges, variants and the
    non-null arguments of an example draw."""
    parts = []
    for key in ("mode", "kind", "variants"):
        if record.get(key) is not None:
            parts.append(f"{key} {record[key]}")
    ranges = record.get("ranges")
    if isinstance(ranges, dict):
        parts += [f"{k} {v}" for k, v in ranges.items()]
    example = (record.get("example_record") or {}).get("arguments")
    if isinstance(example, dict):
        parts += [f"{k} {v}" for k, v in example.items()
                  if v is not None and k not in ("seed",) and f"{k} " not in " ".join(parts)]
    return "; ".join(parts) if parts else _fmt(dict(record))


def _model_section(spec: Mapping[str, Any]) -> list[str]:
    summary = spec.get("summary") or {}
    args = spec.get("arguments") or {}
    residual = args.get("residual_over") or spec.get("residual_over")
    return [
        "## Model", "",
        f"- Architecture: `{spec.get('architecture')}` with arguments {_fmt(args)}",
        f"- Dimensions: {spec.get('dims')}D; scale per axis: {_scale(spec)}; channels "
        f"{spec.get('in_channels')} -> {spec.get('out_channels')}",
        f"- Output: {'fixed ' + residual + ' interpolation plus a learned correction' if residual and residual != 'none' else 'the network output'}",
        f"- Parameters: {_fmt(summary.get('parameters'))}; halo (input pixels per axis): "
        f"{_fmt(summary.get('halo'))}",
        f"- Weights SHA-256 (geosr safetensors): `{(spec.get('weights') or {}).get('sha256')}`",
        f"- geosr version: {spec.get('geosr_version')}", ""]


def _training_section(spec: Mapping[str, Any]) -> list[str]:
    training = spec.get("training") or {}
    lines = ["## Training data and recipe", "",
             f"- Data fingerprint: {_fmt(spec.get('data_fingerprint'))}"]
    data = training.get("data")
    if data is not None:
        lines.append(f"- Data: {_fmt(data)}")
    degradation = spec.get("degradation")
    if isinstance(degradation, dict) and degradation:
        lines.append(f"- Low-resolution inputs simulated: {_degradation(degradation)}")
    elif degradation:
        lines.append(f"- Low-resolution inputs simulated by the degradation {_fmt(degradation)}")
    else:
        lines.append("- Degradation: none recorded (paired data, or not recorded)")
    lines += [f"- Loss: {_fmt(training.get('loss'))}",
              f"- Steps: {_fmt(training.get('steps'))}; seed: {_fmt(spec.get('seed'))}",
              f"- Normalisation: {_fmt(spec.get('normalization'))}", ""]
    return lines


def _validation_section(spec: Mapping[str, Any]) -> list[str]:
    validation = spec.get("validation") or {}
    lines = ["# Validation", ""]
    if not validation:
        return lines + [f"Validation numbers: {_UNRECORDED}.", ""]
    best, base = validation.get("best") or {}, validation.get("bicubic") or {}
    lines += [f"- Metric: {_fmt(validation.get('metric'))} ({_fmt(validation.get('convention'))})",
              f"- Region: {_fmt(validation.get('region'))}",
              f"- Kept weights: {_fmt(validation.get('kept'))} (step "
              f"{_fmt(validation.get('best_step'))})"]
    for key in sorted(set(best) | set(base)):
        values = (best.get(key), base.get(key))
        if key == "step" or not any(isinstance(v, (int, float)) for v in values):
            continue
        lines.append(f"- {key}: model {_fmt(values[0])}, bicubic {_fmt(values[1])}")
    return lines + [""]


def _card_section(card: Mapping[str, Any] | None) -> list[str]:
    if not card:
        return ["## Calibration card", "",
                "This model has no calibration card: its outputs come with no calibrated "
                "error bars. Calibrate it with `geosr calibrate` on held-out pairs.", ""]
    intervals = card.get("intervals") or {}
    crc = intervals.get("crc") or {}
    data = card.get("data") or {}
    acq = card.get("acquisition") or {}
    return [
        "## Calibration card (attached as `calibration.json`)", "",
        f"- What the intervals cover: {intervals.get('interval', 'prediction +/- lambda * u')}"
        f" with lambda = {_fmt(crc.get('lambda'))}; guarantee: {_fmt(crc.get('guarantee'))}",
        f"- On which data: {_fmt(data.get('n_images'))} held-out images ({_fmt(data.get('pairs'))}"
        f"), simulated: {_fmt(data.get('simulated'))}; scope: {_fmt(card.get('scope'))}",
        f"- Acquisition it holds for: scale {_fmt(acq.get('scale'))}, LR spacing (um) "
        f"{_fmt(acq.get('lr_spacing_um'))}",
        f"- Uncertainty map: {_fmt((card.get('uncertainty') or {}).get('kind'))}; "
        f"out-of-distribution gate: {'yes' if card.get('ood') else 'no'}",
        "- What the verdict means: geosr's trust report marks each tile green (supported by "
        "the measurement and inside the calibrated domain), amber (the model's guess may "
        "differ from the truth) or red (outside the calibrated domain or inconsistent with "
        "the measurement). The card is valid only for this model's weights (SHA-256 above) "
        "and the acquisition listed; geosr refuses it otherwise.", ""]


def package_readme(spec: Mapping[str, Any], card: Mapping[str, Any] | None, *,
                   spacing_um: Sequence[float], formats: Sequence[str] = (
                       "pytorch_state_dict", "onnx")) -> str:
    """Markdown documentation of an exported model (see the module docstring)."""
    scale = _scale(spec)
    lines = [
        f"# {short_description(spec)}", "",
        "Exported by geosr. Input: one image, axes batch, channel, "
        f"{'z, y, x' if spec.get('dims') == 3 else 'y, x'}, in any intensity units; "
        "pre-processing maps its "
        f"{(spec.get('normalization') or {}).get('p_low', 1.0)}th and "
        f"{(spec.get('normalization') or {}).get('p_high', 99.8)}th percentiles to 0 and 1 "
        "(geosr's percentile normalisation). Output: the image upsampled "
        f"x{scale}, in those normalised units (bioimage.io has no operation that maps it back "
        "with the input's percentiles; `geosr predict --model THIS.zip` returns the input's "
        "intensity units).", "",
        f"Pixel size of the test input: {', '.join(f'{s:g}' for s in spacing_um)} um; the "
        f"output pixel size is the input's divided by the scale. Weights: {', '.join(formats)}"
        " (`model.py` is a generated, pure-torch architecture: consumers need no geosr).", ""]
    lines += _model_section(spec) + _training_section(spec)
    lines += _card_section(card) + _validation_section(spec)
    lines += ["## Files", "",
              "- `model.json`, `weights.safetensors`: the geosr model itself (hashed; "
              "`geosr predict --model THIS.zip` uses them)",
              "- `calibration.json`: the calibration card, when the model has one", ""]
    return "\n".join(lines)
