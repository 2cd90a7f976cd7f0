"""The number sections of a report: image quality with its conventions, the network metrics
with the missed/invented overlays, plots (FRC, training curves, histograms) and provenance.

Numbers are printed as the CLI prints them (``geosr evaluate``: four decimals; ``geosr
assess``: four significant digits), and the exact values are embedded in the page's JSON.

>>> fmt_iqa(31.41592), fmt_network(0.000123456), fmt_network(12.0)
('31.4159', '0.0001235', '12')
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

import numpy as np

from geosr.core.formatting import format_number
from geosr.report.case import Case
from geosr.report.figures import rgb_png
from geosr.report.html import Figure, Section, grid_table_html
from geosr.report.plots import Series, histogram_plot, line_plot
from geosr.report.views import plane

__all__ = ["fmt_iqa", "fmt_network", "iqa_section", "network_section", "plots_section",
           "provenance_section"]


def fmt_iqa(value: Any) -> str:
    """As ``geosr evaluate`` prints: four decimals; ``inf`` and ``n/a`` spelled out."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    value = float(value)
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.4f}"


def fmt_network(value: Any) -> str:
    """As ``geosr assess`` prints (:func:`geosr.core.formatting.format_number`); text as is."""
    return value if isinstance(value, str) else format_number(value)


def iqa_section(case: Case) -> Section | None:
    iqa = case.evaluation
    if iqa is None:
        return None
    header = ["image"] + [f"{m} [{iqa.units[m]}]" if m in iqa.units else m for m in iqa.metrics]
    rows = [[case.label(key)] + [fmt_iqa(values.get(m)) for m in iqa.metrics]
            for key, values in iqa.values.items()]
    text = ("<p>Generic image-quality metrics against the truth (" + html.escape(iqa.source)
            + "). They rank methods in ways experts often disagree with; whether the network "
            "survives is measured below.</p>" + grid_table_html(header, rows))
    return Section(f"{case.name}: Image quality", text=text,
                   tables=[("conventions", {k: v for k, v in iqa.convention.items()})])


#: Readable names of the network metrics a scientist looks at first (others keep their key).
METRIC_LABELS = {
    "porosity": "porosity", "components": "connected components",
    "object_F1": "component F1", "beta0": "β0 (components)", "beta1": "β1 (loops)",
    "beta2": "β2 (cavities)", "betti_error_0": "Betti error β0 per tile",
    "betti_error_1": "Betti error β1 per tile", "clDice": "clDice",
    "skeleton_recall": "skeleton recall", "skeleton_precision": "skeleton precision",
    "length_density_mm": "skeleton length density", "endpoint_density": "endpoint density",
    "junction_density": "junction density", "thickness_mean": "mean thickness",
    "connections_preserved": "connections preserved through the stack",
}


def _network_table(case: Case) -> str:
    net = case.network
    keys = list(net.rows)
    first = net.rows[keys[0]]
    by_metric = {key: {r["metric"]: r for r in rows} for key, rows in net.rows.items()}
    has_truth = any(r.get("truth") is not None for r in first)
    header = ["group", "metric", "key", "unit"] + (["truth (or ideal)"] if has_truth else []) \
        + [case.label(k) for k in keys]
    rows = []
    for r in first:
        truth = fmt_network(r.get("truth"))
        if r.get("kind") == "comparison":
            truth = f"(ideal {truth})"
        rows.append([r["group"], METRIC_LABELS.get(r["metric"], ""), r["metric"], r["unit"]]
                    + ([truth] if has_truth else [])
                    + [fmt_network(by_metric[k].get(r["metric"], {}).get("prediction"))
                       for k in keys])
    return grid_table_html(header, rows)


def network_section(case: Case) -> Section | None:
    net = case.network
    if net is None:
        return None
    from geosr.assess.network.overlay import LEGEND

    figures = []
    ref = case.truth if case.truth is not None else case.prediction
    pixel = float(min(case.prediction.spacing_um[-2:]))
    for key, rgb in net.overlays.items():
        if rgb.ndim == 4:   # 3D: the XY slice through the centre
            z = rgb.shape[0] // 2
            rgb, sp, where = rgb[z], ref.spacing_um[1:], f" (XY slice {z + 1})"
        else:
            sp, where = ref.spacing_um[-2:], ""
        panel = rgb_png(rgb, sp, pixel) if rgb.shape[:2] == tuple(ref.spatial_shape[-2:]) \
            else rgb_png(rgb, (pixel, pixel), pixel)
        figures.append(Figure(panel.src, f"{case.label(key)}: network missed / invented"
                              f"{where}; scale bar {panel.bar_um:g} µm", panel.bar_um,
                              panel.um_per_px))
    seg = net.segmentation
    text = (f"<p>Prediction{' and truth' if case.truth is not None else ''} segmented "
            f"identically: {html.escape(str(seg.get('description', seg.get('method', ''))))}"
            f" (threshold {html.escape(str(seg.get('threshold')))}, "
            f"{html.escape(str(seg.get('threshold_source', '')))}); "
            f"{html.escape(net.source)}. Every number describes the whole field. "
            f"Overlays: {html.escape(LEGEND)}.</p>" + _network_table(case)
            + "".join(f"<p class='note'>note: {html.escape(n)}</p>" for n in net.notes))
    return Section(f"{case.name}: Network metrics", figures, text=text)


# ----------------------------------------------------------------------------- plots
def _frc_figure(case: Case) -> Figure | None:
    from geosr.assess.resolution import frc

    if case.truth is None or min(case.truth.spatial_shape) < 16:
        return None
    series = []
    for k, (key, image) in enumerate(case.outputs().items()):
        a, b = np.asarray(image.numpy(), float), np.asarray(case.truth.numpy(), float)
        r = frc(a, b, spacing=case.truth.spacing_um, unit="um", thresholds=("1/7",))
        res = r.resolution["1/7"]
        series.append(Series(f"{case.label(key)} ({f'{res:.4g} µm' if res else 'not crossed'})",
                             r.frequency[1:], r.smoothed[1:], dashed=k > 0))
    return Figure(line_plot(series, "spatial frequency (cycles/µm)", "correlation",
                            "Fourier ring/shell correlation with the truth",
                            hlines=[(1 / 7, "1/7")]),
                  "FRC of each image with the truth (resolution = 1/frequency where the curve "
                  "crosses 1/7; Tukey window, smoothed)")


def _training_figures(case: Case) -> list[Figure]:
    if case.model is None or case.model.run_dir is None:
        return []
    from geosr.train.log import read_log

    rows = read_log(case.model.run_dir / "log.csv")
    steps = [r.get("step") for r in rows]
    figures = []
    losses = [Series(name, steps, [r.get(column) for r in rows])
              for column, name in (("loss", "training loss"), ("val_loss", "validation loss"))
              if any(r.get(column) is not None for r in rows)]
    if losses:
        figures.append(Figure(line_plot(losses, "step", "loss", "training and validation loss",
                                        log_y=True),
                              "from the model's run folder (log.csv)"))
    if any(r.get("val_psnr_norm_db") is not None for r in rows):
        figures.append(Figure(line_plot([Series("validation PSNR", steps,
                                                [r.get("val_psnr_norm_db") for r in rows])],
                                        "step", "PSNR (dB, normalised)", "validation PSNR"),
                              "validation PSNR on normalised intensities"))
    return figures


def plots_section(case: Case) -> Section:
    figures = [f for f in [_frc_figure(case)] if f is not None]
    figures.extend(_training_figures(case))
    samples = {("LR input" if k == "lr" else case.label(k)): np.asarray(img.numpy())
               for k, img in (("lr", case.lr), *case.outputs().items(), ("truth", case.truth))
               if img is not None}
    figures.append(Figure(histogram_plot(samples, "intensity (image units)",
                                         "intensity histograms"),
                          "intensity histograms (fraction of pixels per bin, log scale)"))
    return Section(f"{case.name}: Plots", figures)


# ----------------------------------------------------------------------------- provenance
def _config_html(case: Case) -> str:
    """The model's training config: its run folder's ``config.yaml``, else the copy in
    ``model.json``."""
    import yaml

    m = case.model
    config = m.run_dir / "config.yaml" if m.run_dir is not None else None
    if config is not None and config.is_file():
        where = f"{case.model_shown}/../config.yaml" if case.model_shown else str(config)
        body = config.read_text(encoding="utf-8")
    elif isinstance(m.spec.get("config"), dict):
        where, body = "model.json: config", yaml.safe_dump(m.spec["config"], sort_keys=False)
    else:
        return "<p class='note'>No training config recorded with the model.</p>"
    return (f"<details><summary>Training config (<code>{html.escape(where)}</code>)</summary>"
            "<pre>" + html.escape(body[:20000]) + "</pre></details>")


def _baseline_text(spec: dict[str, Any]) -> str:
    """The trained model against bicubic on its validation images (issue #18), or n/a."""
    from geosr.models.quality import baseline_message

    record = (spec.get("validation") or {}).get("below_baseline")
    if not isinstance(record, dict):
        return "not recorded"
    return "WARNING: " + baseline_message(spec) if record.get("below") else (
        f"{record['margin_db']:+.2f} dB ({record['model_psnr_db']:.2f} vs "
        f"{record['baseline_psnr_db']:.2f} dB)")


def provenance_section(case: Case, environment: dict[str, Any]) -> Section:
    tables = [("files", dict(case.files)), ("data fingerprints", dict(case.fingerprints)),
              ("what made each part", dict(case.commands))]
    record = case.prediction.metadata.get("prediction")
    if isinstance(record, dict):
        tables.append(("prediction record (from the prediction's metadata)",
                       {k: json.dumps(v) if isinstance(v, (dict, list)) else v
                        for k, v in record.items()}))
    text = ""
    if case.model is not None:
        m = case.model
        tables.append(("model", {"path": case.model_shown or str(m.path),
                                 "weights sha256": m.sha256,
                                 "architecture": m.architecture, "scale": m.scale,
                                 "residual over": m.spec.get("residual_over", "none"),
                                 "validation vs bicubic": _baseline_text(m.spec),
                                 "training data fingerprint": m.spec.get("data_fingerprint",
                                                                         "not recorded"),
                                 "training seed": m.spec.get("seed", "not recorded")}))
        text = _config_html(case)
    tables.append(("versions", {k: v for k, v in environment.items()}))
    if case.notes:
        text += "".join(f"<p class='note'>note: {html.escape(n)}</p>" for n in case.notes)
    return Section(f"{case.name}: Provenance", text=text, tables=tables)
