"""A folder of predictions as one report: an index with one row per image (thumbnail, key
metrics, verdict), sortable by any column and ordered worst first, linking to each image's
sections below it.

"Worst first": red before amber before green (images without a verdict after those with
one), then the lowest clDice, then the lowest SSIM, then the lowest PSNR.

>>> worst_first_key({"verdict": "red", "clDice": 0.9})
(0, 0.9, inf, inf)
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from geosr.report.case import Case
from geosr.report.html import Markup, Section, grid_table_html
from geosr.report.tables import fmt_iqa, fmt_network

__all__ = ["index_rows", "worst_first_key", "index_section"]

_VERDICT_RANK = {"red": 0, "amber": 1, "green": 2}


def _network_value(case: Case, metric: str) -> float:
    if case.network is None:
        return float("nan")
    for r in case.network.rows.get("prediction", []):
        if r["metric"] == metric:
            return float("nan") if r["prediction"] is None else float(r["prediction"])
    return float("nan")


def index_rows(cases: Sequence[Case]) -> list[dict[str, Any]]:
    """One dict per image: name, anchor, PSNR, SSIM, clDice, porosity error, verdict."""
    rows = []
    for k, case in enumerate(cases):
        iqa = case.evaluation.values.get("prediction", {}) if case.evaluation else {}
        porosity_error = float("nan")
        if case.network is not None:
            for r in case.network.rows.get("prediction", []):
                if r["metric"] == "porosity" and r.get("error") is not None:
                    porosity_error = float(r["error"])
        verdict = (case.trust.summary.get("verdict", {}).get("image")
                   if case.trust is not None else None)
        rows.append({"name": case.name, "anchor": f"image-{k}",
                     "PSNR": float(iqa.get("PSNR", float("nan"))),
                     "SSIM": float(iqa.get("SSIM", float("nan"))),
                     "clDice": _network_value(case, "clDice"),
                     "porosity_error": porosity_error, "verdict": verdict})
    return rows


def worst_first_key(row: dict[str, Any]) -> tuple:
    def low(v):
        return math.inf if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

    return (_VERDICT_RANK.get(row.get("verdict"), 3), low(row.get("clDice")),
            low(row.get("SSIM")), low(row.get("PSNR")))


def _thumbnail(case: Case) -> str:
    from geosr.report.figures import display_range, png_data_uri, to_uint8
    from geosr.report.views import plane

    data = plane(case.prediction, 0 if case.prediction.dims == 3 else None,
                 tuple(e / 2 for e in case.prediction.extent_um))[0]
    step = max(1, int(np.ceil(max(data.shape) / 128)))
    small = data[::step, ::step]
    return png_data_uri(to_uint8(small, display_range(small)))


def _index_table(cases: Sequence[Case], rows: list[dict[str, Any]]) -> str:
    order = sorted(range(len(rows)), key=lambda k: worst_first_key(rows[k]))
    header = ["rank (worst first)", "image", "thumbnail", "PSNR [dB]", "SSIM", "clDice",
              "porosity error", "verdict"]
    body = []
    for rank, k in enumerate(order, 1):
        r, case = rows[k], cases[k]
        verdict = r["verdict"] or "n/a"
        body.append([
            (str(rank), rank),
            Markup(f"<a href='#{r['anchor']}'>{_escape(r['name'])}</a>"),
            Markup(f"<img class='thumb' src='{_thumbnail(case)}' alt='{_escape(r['name'])}'>"),
            (fmt_iqa(r["PSNR"]), _sortable(r["PSNR"])),
            (fmt_iqa(r["SSIM"]), _sortable(r["SSIM"])),
            (fmt_network(r["clDice"]), _sortable(r["clDice"])),
            (fmt_network(r["porosity_error"]), _sortable(r["porosity_error"])),
            Markup(f"<span class='verdict-{_escape(verdict)}' data-v="
                   f"'{_VERDICT_RANK.get(r['verdict'], 3)}'>{_escape(verdict)}</span>")])
    return grid_table_html(header, body, sortable=True)


def _escape(text: Any) -> str:
    import html

    return html.escape(str(text))


def _sortable(value: float) -> str:
    return "1e308" if value is None or not np.isfinite(value) else repr(float(value))


def index_section(cases: Sequence[Case], rows: list[dict[str, Any]]) -> Section:
    """The index section: one row per image, worst first, sortable, linking to each image."""
    text = (f"<p>{len(cases)} images, worst first (red, amber, green verdict; then lowest "
            "clDice, SSIM, PSNR). Click a column header to sort by it; click a name to go to "
            "its sections.</p>" + _index_table(cases, rows))
    return Section("Index", text=text, anchor="index")
