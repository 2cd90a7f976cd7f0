"""The parts of a :class:`~geosr.report.case.Case` that come from ``geosr evaluate``,
``geosr assess`` and ``geosr trust``: read from their output files when given, else computed
with the same functions (so the report's numbers are theirs), with the command that would
reproduce each part recorded for the provenance.

>>> import numpy as np
>>> from geosr.core.image import Image
>>> hr = Image(np.random.default_rng(0).random((64, 64)), "YX", spacing=(0.1, 0.1))
>>> case = build_case(hr, truth=hr, data_range=1.0, network_metrics="porosity")
>>> case.evaluation.values["prediction"]["MAE"], case.network.source
(0.0, 'computed')
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from geosr.core.errors import InputError
from geosr.core.image import Image
from geosr.report.case import (IQA, Case, Evidence, ModelInfo, Network, csv_rows, fingerprint,
                               load_image, read_csv_rows, stem)

__all__ = ["build_case", "load_case", "model_info", "gather_parts", "evaluation_part", "network_part", "trust_part"]


def _scale_of(prediction: Image, lr: Image) -> tuple[int, ...]:
    p, q = prediction.spatial_shape, lr.spatial_shape
    if len(p) != len(q) or any(a % b for a, b in zip(p, q)):
        raise InputError(f"the prediction {p} is not an integer multiple of the LR input {q}",
                         where="lr", hint="pass the low-resolution image the prediction was "
                         "made from")
    return tuple(a // b for a, b in zip(p, q))


def model_info(model: Any) -> ModelInfo | None:
    """The model resolved once (path, zip or LoadedModel): identity and run folder."""
    if model is None:
        return None
    from geosr.models.files import LoadedModel, load_model

    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    path = loaded.path
    run_dir = None
    if path is not None and path.is_dir() and (path.parent / "log.csv").is_file():
        run_dir = path.parent
    return ModelInfo(path=path, sha256=loaded.sha256, architecture=loaded.architecture,
                     scale=list(loaded.scale), spec=loaded.spec, run_dir=run_dir,
                     loaded=loaded)


def build_case(prediction: Any, lr: Any = None, truth: Any = None, *, model: Any = None,
               evaluation: Any = None, assessment: Any = None, trust: Any = "auto",
               compute: bool = True, data_range: Any = None,
               network_metrics: Any = None, segmentation: Any = None,
               name: str | None = None) -> Case:
    """Gather one image's report (see the module notes; arguments as :func:`geosr.report`)."""
    case = load_case(prediction, lr, truth, model=model_info(model), name=name)
    gather_parts(case, prediction, evaluation=evaluation, assessment=assessment, trust=trust,
                 compute=compute, data_range=data_range, network_metrics=network_metrics,
                 segmentation=segmentation)
    return case


def load_case(prediction: Any, lr: Any = None, truth: Any = None, *,
              model: ModelInfo | None = None, name: str | None = None) -> Case:
    """Read and check one image's inputs (cheap: before any metric is computed) and add the
    bicubic interpolation of the LR input on the prediction's grid."""
    pred = load_image(prediction, "prediction")
    low = load_image(lr, "lr") if lr is not None else None
    gt = load_image(truth, "truth") if truth is not None else None
    if name is None:
        name = stem(prediction) if isinstance(prediction, (str, os.PathLike)) else "image"
    case = Case(name=name, prediction=pred, lr=low, truth=gt, model=model)
    for part, item, image in (("prediction", prediction, pred), ("lr", lr, low),
                              ("truth", truth, gt)):
        if image is not None:
            case.files[part] = str(item) if isinstance(item, (str, os.PathLike)) else "<array>"
            case.fingerprints[part] = fingerprint(item, image)
    if gt is not None and gt.spatial_shape != pred.spatial_shape:
        raise InputError(f"the truth {gt.spatial_shape} and the prediction "
                         f"{pred.spatial_shape} differ in shape", where=case.files["truth"],
                         hint="pass the high-resolution image on the prediction's grid")
    if low is not None:
        from geosr.resample import upscale

        scale = _scale_of(pred, low)
        if model is not None and tuple(model.scale) != scale:
            raise InputError(f"the model upsamples by {model.scale} but the prediction is the "
                             f"LR × {list(scale)}", where=case.files["lr"],
                             hint="pass the model that made the prediction")
        case.interpolation = upscale(low, scale, method="bicubic")
        case.labels["interpolation"] = "bicubic ×" + "×".join(map(str, sorted(set(scale))))
    case.labels["prediction"] = "prediction" if model is None else \
        f"{model.architecture} prediction"
    return case


def gather_parts(case: Case, prediction: Any, *, evaluation: Any, assessment: Any, trust: Any,
                 compute: bool, data_range: Any, network_metrics: Any,
                 segmentation: Any) -> None:
    """Fill the evaluation, network and trust parts of a loaded case (the costly step)."""
    pred_file = case.files.get("prediction", "PRED")
    truth_file = case.files.get("truth", "GT")
    if evaluation is not None:
        case.evaluation = read_evaluation(evaluation, case)
        case.commands["image quality"] = f"read from {evaluation}"
    elif compute and case.truth is not None:
        case.evaluation = evaluation_part(case, data_range)
        scale = case.evaluation.convention.get("scale")
        case.commands["image quality"] = (
            f"geosr evaluate {pred_file} {truth_file} --data-range "
            f"{case.evaluation.convention['data_range'].split(' ')[0]}"
            + (f" --scale {scale}" if scale else "") + " (same function, in the report)")
    if assessment is not None:
        case.network = read_assessment(assessment, case)
        case.commands["network metrics"] = f"read from {assessment}"
    elif compute:
        case.network = network_part(case, network_metrics, segmentation)
        case.commands["network metrics"] = (
            f"geosr assess {pred_file}" + (f" {truth_file}" if case.truth is not None else "")
            + f" --metrics {network_metrics or ','.join(REPORT_GROUPS)}"
            + " (same function, in the report)")
    case.trust = trust_part(case, prediction, trust, compute)


def _scale_int(case: Case) -> int | None:
    if case.lr is None:
        return None
    scales = {a // b for a, b in zip(case.prediction.spatial_shape, case.lr.spatial_shape)}
    return scales.pop() if len(scales) == 1 else None


# ----------------------------------------------------------------------------- IQA
def evaluation_part(case: Case, data_range: Any, crop: int | None = None) -> IQA:
    """``geosr.evaluate`` (microscopy protocol, border crop = the scale unless ``crop`` is
    given) of the prediction and of the interpolation against the truth. ``data_range`` None:
    the truth's max − min (the convention says so)."""
    from geosr.assess.evaluation import evaluate

    scale = _scale_int(case)
    values, convention, units, metrics = {}, {}, {}, []
    for key, image in case.outputs().items():
        result = evaluate(image, case.truth, data_range="gt" if data_range is None
                          else data_range, scale=scale, crop=crop)
        row = result.rows[0]
        values[key] = {m: float(row[m]) for m in result.metrics}
        if row["notes"]:
            case.notes.append(f"image quality of the {case.label(key)}: {row['notes']}")
        convention, units, metrics = result.convention, result.units, list(result.metrics)
    return IQA(metrics, dict(units), values, dict(convention), "computed")


def read_evaluation(path: Any, case: Case) -> IQA:
    """The prediction's row of a ``geosr evaluate --out`` CSV (matched by name or path)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("evaluation table not found", where=str(path),
                         hint="pass the CSV written by geosr evaluate --out")
    with open(path, encoding="utf-8") as fh:
        header = [line[2:].rstrip("\n") for line in fh if line.startswith("# ")]
    convention = dict(line.split(": ", 1) for line in header[1:] if ": " in line)
    rows = read_csv_rows(path)
    match = [r for r in rows if r.get("name") == case.name
             or (r.get("prediction") and Path(r["prediction"]).name
                 == Path(case.files.get("prediction", "")).name)]
    if not match:
        raise InputError(f"no row for {case.name!r} in this table", where=str(path),
                         hint="evaluate the same prediction, or let the report compute it")
    columns = [c for c in rows[0] if c not in ("name", "prediction", "truth", "notes")]
    metrics = [c.split(" [")[0] for c in columns]
    units = {m: c.split(" [")[1].rstrip("]") for m, c in zip(metrics, columns) if " [" in c}
    values = {"prediction": {m: float(match[0][c]) for m, c in zip(metrics, columns)}}
    return IQA(metrics, units, values, convention, f"read from {path}")


# ----------------------------------------------------------------------------- network
#: Metric groups a report computes by default (the cheap ones; ``geosr assess`` or
#: ``network_metrics=`` for thickness, lacunae and fabric).
REPORT_GROUPS = ("porosity", "components", "topology", "cldice", "skeleton")


def network_part(case: Case, metrics: Any, segmentation: Any) -> Network:
    """``geosr.assess`` of the prediction and of the interpolation (against the truth when
    given), one segmentation for all (default Otsu of the truth). ``metrics`` None: the
    :data:`REPORT_GROUPS` (and 3D connectivity through the stack, with a truth)."""
    from geosr.assess.network.api import assess_network

    rows, overlays, notes, seg = {}, {}, [], {}
    if metrics is None:
        metrics = list(REPORT_GROUPS) + (["connectivity"] if case.prediction.dims == 3
                                         and case.truth is not None else [])
        notes.append("thickness, lacunae and fabric not computed by the report (costly): "
                     "run geosr assess --json and pass it, or choose --metrics")
    for key, image in case.outputs().items():
        item = assess_network(image, case.truth, segmentation=segmentation, metrics=metrics,
                              name=case.name)
        rows[key] = item.rows
        seg = item.segmentation
        notes.extend(n for n in item.notes if n not in notes)
        if item.gt_mask is not None:
            overlays[key] = item.overlay()
    return Network(rows, seg, overlays, notes, "computed")


def read_assessment(path: Any, case: Case) -> Network:
    """The prediction's entry of a ``geosr assess --json`` file, with its overlay PNG when the
    assessment wrote one (``--overlays``)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("assessment file not found", where=str(path),
                         hint="pass the JSON written by geosr assess --json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    items = [it for it in doc.get("images", []) if it.get("name") == case.name]
    if not items:
        raise InputError(f"no entry for {case.name!r} in this file", where=str(path),
                         hint="assess the same prediction, or let the report compute it")
    item = items[0]
    overlays = {}
    for file in item.get("overlays", []):
        if file.endswith(".png") and Path(file).is_file():
            from PIL import Image as PILImage

            overlays["prediction"] = np.asarray(PILImage.open(file).convert("RGB"))
            break
    rows = [{**r, **{k: _num(r.get(k)) for k in ("prediction", "truth", "error")}}
            for r in item["metrics"]]
    return Network({"prediction": rows}, item.get("segmentation", {}), overlays,
                   list(item.get("notes", [])), f"read from {path}")


def _num(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


# ----------------------------------------------------------------------------- trust
def trust_part(case: Case, prediction: Any, trust: Any, compute: bool) -> Evidence | None:
    """The trust evidence: a folder written by ``geosr trust`` (``"auto"``: the one beside
    the prediction file, if any), else computed in memory when the model and LR are known."""
    from geosr.trust.report import SUMMARY_FILE, trust_folder

    folder = None
    if trust is not None and trust != "auto":
        folder = Path(trust)
        if not (folder / SUMMARY_FILE).is_file():
            raise InputError(f"no {SUMMARY_FILE} in this folder", where=str(folder),
                             hint="pass the folder written by geosr trust (or --trust)")
    elif trust == "auto" and isinstance(prediction, (str, os.PathLike)):
        candidate = trust_folder(prediction)
        folder = candidate if (candidate / SUMMARY_FILE).is_file() else None
    if folder is not None:
        summary = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
        case.commands["trust evidence"] = f"read from {folder}"
        evidence = Evidence(summary, folder=folder, source=f"read from {folder}")
        _read_elements(evidence, folder, prediction)
        return evidence
    if trust is None or not compute or case.model is None or case.lr is None:
        return None
    from geosr.trust.report import trust_report

    rep = trust_report(case.prediction, case.lr, model=case.model.loaded, card="auto")
    case.commands["trust evidence"] = (f"geosr trust {case.files.get('prediction', 'PRED')} "
                                       f"{case.files.get('lr', 'LR')} --model "
                                       f"{case.model.path if case.model else 'MODEL'} "
                                       "(same function, in the report)")
    evidence = Evidence(rep.summary, maps=dict(rep.maps), source="computed")
    if "elements.csv" in getattr(rep, "files", {}):
        evidence.elements = csv_rows(rep.files["elements.csv"].decode("utf-8"))
    return evidence


def _read_elements(evidence: Evidence, folder: Path, prediction: Any) -> None:
    """``elements.csv`` (and ``element_confidence.tif``) from the trust folder, else from the
    ``PRED.elements/`` folder ``geosr assess --confidence`` writes beside the prediction."""
    candidates = [folder]
    if isinstance(prediction, (str, os.PathLike)):
        from geosr.trust.element_cli import elements_folder

        candidates.append(elements_folder(Path(prediction)))
    for place in candidates:
        if (place / "elements.csv").is_file():
            evidence.elements = read_csv_rows(place / "elements.csv")
            if place != folder and (place / "element_confidence.tif").is_file():
                from geosr.io import load

                evidence.maps["element_confidence"] = load(place / "element_confidence.tif")
            return
