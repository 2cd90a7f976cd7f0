"""``geosr.report``: one self-contained HTML report of predictions on one's own data.

One image: the images side by side at one physical size (LR, bicubic interpolation,
prediction, truth), the error map, zoomed regions where the prediction and the interpolation
differ most, for 3D orthogonal slices, projections and slice steppers; the image-quality table
with its conventions; the network metrics with missed/invented overlays; the trust verdict,
maps and physics; plots (FRC, training curves, histograms) and the provenance.

A folder of predictions is one report: an index (one row per image: thumbnail, key metrics,
verdict; sortable, worst first) linking to each image's sections.

Every number comes from :func:`geosr.evaluate`, :func:`geosr.assess` and the trust layer —
read from their outputs when given, else computed here by the same functions — and is embedded
in the page as JSON (``<script id='geosr-data'>``). No network access, no external file.

>>> path = report("sr/a.tif", lr="lr/a.tif", truth="hr/a.tif", model="runs/m/model",
...               data_range=255)                                       # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from geosr.core.errors import InputError
from geosr.report.build import gather_parts, load_case, model_info
from geosr.report.case import Case, stem
from geosr.report.html import Section, write_html_report

__all__ = ["report", "case_sections", "case_data", "default_output"]


def default_output(prediction: Any) -> Path:
    """``sr/a.tif`` → ``sr/a.report.html``; folder ``sr`` → ``sr.report.html`` beside it."""
    p = Path(prediction)
    if p.is_dir() and not p.name.endswith(".zarr"):
        return p.with_name(p.name + ".report.html")
    return p.with_name(stem(p) + ".report.html")


def case_sections(case: Case, *, point_um: Sequence[float] | None = None,
                  environment: dict[str, Any] | None = None, anchor: str = "",
                  extra: Sequence[Section] = ()) -> list[Section]:
    """Every section of one image's report, in reading order (``extra`` after the images)."""
    from geosr.core.provenance import environment as current_environment
    from geosr.report.tables import (iqa_section, network_section, plots_section,
                                     provenance_section)
    from geosr.report.trust_view import trust_section
    from geosr.report.views import display_settings, view_sections

    sections = view_sections(case, point_um, anchor=anchor)
    sections.extend(extra)
    sections.extend(s for s in (iqa_section(case), network_section(case)) if s is not None)
    if case.trust is not None:
        window, pixel = display_settings(case)
        sections.append(trust_section(case.trust, case.prediction, pixel, window,
                                      label=case.label("prediction"),
                                      title=f"{case.name}: Trust evidence"))
    sections.append(plots_section(case))
    sections.append(provenance_section(case, environment or current_environment()))
    return sections


def case_data(case: Case) -> dict[str, Any]:
    """The numbers one image's report shows (embedded in the page as JSON)."""
    data: dict[str, Any] = {"name": case.name, "files": case.files,
                            "labels": {k: case.label(k) for k in case.outputs()},
                            "spacing_um": {k: list(img.spacing_um) for k, img in
                                           (("prediction", case.prediction), ("lr", case.lr),
                                            ("truth", case.truth)) if img is not None}}
    if case.evaluation is not None:
        e = case.evaluation
        data["image_quality"] = {"values": e.values, "units": e.units,
                                 "convention": e.convention, "source": e.source}
    if case.network is not None:
        n = case.network
        data["network"] = {"rows": n.rows, "segmentation": n.segmentation, "source": n.source}
    if case.trust is not None:
        data["trust"] = {"verdict": case.trust.summary.get("verdict", {}).get("image"),
                         "tiles": case.trust.summary.get("verdict", {}).get("tiles"),
                         "verdict_control": case.trust.summary.get("verdict_control"),
                         "source": case.trust.source}
    if case.model is not None:
        data["model"] = {"sha256": case.model.sha256, "architecture": case.model.architecture,
                         "path": case.model_shown or str(case.model.path)}
    data["commands"] = case.commands
    return data


def _pairs(prediction: Any, lr: Any, truth: Any) -> list[tuple[str, Any, Any, Any]]:
    """(name, prediction, lr, truth) per image: one file, or a folder matched by name."""
    from geosr.assess.evaluation import _image_files, _is_folder, pair_files

    if not isinstance(prediction, (str, os.PathLike)) or not _is_folder(Path(prediction)):
        return [(None, prediction, lr, truth)]
    files = _image_files(Path(prediction))
    lrs = {p: q for _, p, q in pair_files(prediction, lr)} if lr is not None else {}
    truths = {p: q for _, p, q in pair_files(prediction, truth)} if truth is not None else {}
    return [(stem(f), f, lrs.get(f), truths.get(f)) for f in files]


def report(prediction: Any, lr: Any = None, truth: Any = None, *, model: Any = None,
           out: str | os.PathLike | None = None, evaluation: Any = None,
           assessment: Any = None, trust: Any = "auto", compute: bool = True,
           data_range: Any = None, network_metrics: Any = None, segmentation: Any = None,
           point_um: Sequence[float] | None = None, title: str | None = None) -> Path:
    """Write one self-contained HTML report and return its path.

    Parameters
    ----------
    prediction:
        A prediction (file, Image or array) or a folder of predictions.
    lr, truth:
        Its low-resolution input and its truth (same kind as ``prediction``: files, or
        folders matched by name as ``geosr evaluate`` does). Optional; without the LR there is
        no interpolation to compare with, without the truth no error map against it.
    model:
        The model folder (or zip) that made the prediction: hash, training curves and config.
    out:
        HTML file (default ``<prediction stem>.report.html`` beside it).
    evaluation, assessment:
        A ``geosr evaluate --out`` CSV and a ``geosr assess --json`` file to read the numbers
        from (else they are computed).
    trust:
        A ``geosr trust`` folder; ``"auto"`` (default): the one beside the prediction if any,
        else computed when ``model`` and ``lr`` are given; None: no trust section.
    compute:
        False: show only what is given or found, compute nothing.
    data_range:
        Intensity span for PSNR/SSIM (a number, ``"dtype"`` or ``"gt"``; default: ``"gt"``,
        max − min of the truth, said in the conventions table).
    network_metrics, segmentation:
        Metric groups and segmentation of the network assessment (as ``geosr assess``).
    point_um:
        3D: the (z, y, x) point in µm from the corner the orthogonal slices go through
        (default: the centre).
    """
    from geosr.core.provenance import environment

    pairs = _pairs(prediction, lr, truth)
    out = Path(out) if out is not None else (
        default_output(prediction) if isinstance(prediction, (str, os.PathLike))
        else Path("report.html"))
    if out.exists() and out.is_dir():
        raise InputError("the output is a folder", where=str(out), hint="give an .html file")
    from geosr.core.outputs import check_writable

    check_writable(out, where="out")
    env = environment()
    info = model_info(model)
    cases = [load_case(p, q, t, model=info, name=name) for name, p, q, t in pairs]
    for case, (_, p, _, _) in zip(cases, pairs):   # every input checked: now the work
        gather_parts(case, p, evaluation=evaluation, assessment=assessment, trust=trust,
                     compute=compute, data_range=data_range, network_metrics=network_metrics,
                     segmentation=segmentation)
    if len(cases) == 1:
        sections = case_sections(cases[0], point_um=point_um, environment=env)
        data = {"format": "geosr-report", "version": 1, "images": [case_data(cases[0])],
                "environment": env}
        return write_html_report(out, title or f"geosr report: {cases[0].name}", sections,
                                 footer=_footer(env), data=data)
    return _folder_page(out, cases, title or f"geosr report: {Path(prediction).name}",
                        environment=env, point_um=point_um, footer=_footer(env))


def _folder_page(out: Path, cases: Sequence[Case], title: str, *, environment: dict[str, Any],
                 point_um: Sequence[float] | None, footer: str) -> Path:
    """The folder report: the index (worst first), then every image's sections."""
    from geosr.report.index import index_rows, index_section

    rows = index_rows(cases)
    sections = [index_section(cases, rows)]
    for case, row in zip(cases, rows):
        sections.extend(case_sections(case, point_um=point_um, environment=environment,
                                      anchor=row["anchor"]))
    data = {"format": "geosr-report", "version": 1, "index": rows,
            "images": [case_data(c) for c in cases], "environment": environment}
    return write_html_report(out, title, sections, footer=footer, data=data)


def _footer(env: dict[str, Any]) -> str:
    return (f"written by geosr {env.get('geosr')} on {env.get('created_utc')}; self-contained "
            "(no network access, no external files)")
