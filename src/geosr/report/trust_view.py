"""The trust section of a report: the verdict overlaid on the prediction, the evidence maps,
the physics summary, what controlled false alarms, and — when the trust layer wrote them —
the elements most likely invented or missed (``elements.csv``) and their confidence map.

Works from a ``geosr trust`` folder or an in-memory :class:`~geosr.trust.report.TrustReport`
(through :class:`~geosr.report.case.Evidence`); every part is optional.
"""

from __future__ import annotations

import html
from collections import Counter
from typing import Any

import numpy as np

from geosr.core.image import Image
from geosr.report.case import Evidence
from geosr.report.figures import panel_png, verdict_overlay_png
from geosr.report.html import Figure, Section, grid_table_html

__all__ = ["trust_section", "MAP_CAPTIONS", "least_confident"]

#: Maps shown when present: name -> (caption, fixed window or None, show |value|).
MAP_CAPTIONS = {
    "consistency_z": ("|z| of the re-degraded prediction minus the measured input (0 black to "
                      "4 white; ±1 is noise alone)", (0.0, 4.0), True),
    "nullspace_energy": ("energy of the part of the prediction the measurement cannot see "
                         "(0 to its 99th percentile)", None, False),
    "uncertainty_std": ("spread of the prediction under test-time augmentation (0 to its 99th "
                        "percentile)", None, False),
    "hetero_std": ("standard deviation predicted by the model's variance head (0 to its 99th "
                   "percentile; uncalibrated)", None, False),
    "element_confidence": ("confidence of each detected element (0 black to 1 white)",
                           (0.0, 1.0), False),
}


def _map_figures(evidence: Evidence, pixel: float) -> list[Figure]:
    figures = []
    for name, (caption, window, absolute) in MAP_CAPTIONS.items():
        image = evidence.map(name)
        if image is None:
            continue
        if absolute:
            image = image.replace(data=np.abs(image.numpy()))
        shown = window or (0.0, float(np.nanpercentile(image.numpy(), 99)) or 1.0)
        src, bar = panel_png(image, shown, pixel)
        figures.append(Figure(src, f"{caption}; {bar}"))
    return figures


def _facts(summary: dict[str, Any]) -> dict[str, str]:
    facts = {}
    consistency = summary.get("consistency", {})
    if "chi2_per_pixel" in consistency:
        facts["χ²/N of the re-degraded prediction (1 = noise alone)"] = \
            f"{consistency['chi2_per_pixel']:.3g}"
    elif "skipped" in consistency:
        facts["data consistency"] = f"skipped: {consistency['skipped']}"
    intervals = summary.get("intervals", {})
    if intervals.get("halfwidth_rel") is not None:
        facts["calibrated interval half-width (share of the input range)"] = \
            f"{intervals['halfwidth_rel']:.3g} ({intervals['guarantee']}; {intervals['scope']})"
    elif "refused" in intervals:
        facts["calibrated intervals"] = "refused: " + "; ".join(intervals["refused"])
    elif "note" in intervals:
        facts["calibrated intervals"] = intervals["note"]
    ood = summary.get("ood", {})
    if ood:
        facts["out-of-distribution gate"] = ood.get("skipped") or (
            f"p = {ood['pvalue']:.3g}, {'flagged' if ood['flag'] else 'not flagged'} at "
            f"α = {ood['alpha']:g}" + ("" if ood.get("can_flag", True) else
                                       f" (with {ood['n_calibration']} calibration inputs it "
                                       "cannot flag at this α)"))
    return facts


def _physics(summary: dict[str, Any]) -> dict[str, str]:
    """The physics report's scalar entries and warnings, as text."""
    physics = summary.get("physics", {})
    rows = {}
    for key, value in physics.items():
        if isinstance(value, bool) or isinstance(value, (int, float, str)):
            rows[key.replace("_", " ")] = f"{value:.4g}" if isinstance(value, float) else value
        elif isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
            rows[key.replace("_", " ")] = ", ".join(f"{v:.4g}" for v in value)
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            rows[key.replace("_", " ")] = "; ".join(value)
    return rows


def least_confident(elements: list[dict[str, str]], n: int = 10) -> list[dict[str, str]]:
    """The ``n`` elements of lowest confidence per kind (most likely invented or missed).

    >>> rows = [{"id": "1", "kind": "invented", "confidence": "0.9"},
    ...         {"id": "2", "kind": "invented", "confidence": "0.1"}]
    >>> [r["id"] for r in least_confident(rows, n=1)]
    ['2']
    """
    column = next((c for c in (elements[0] if elements else {}) if "confidence" in c.lower()),
                  None)
    if column is None:
        return elements[:n]

    def value(row):
        try:
            return float(row[column])
        except (TypeError, ValueError):
            return float("inf")

    kinds: dict[str, list] = {}
    for row in elements:
        kinds.setdefault(row.get("kind", ""), []).append(row)
    out = []
    for rows in kinds.values():
        out.extend(sorted(rows, key=value)[:n])
    return out


def _elements_html(evidence: Evidence) -> str:
    """The least confident elements (most likely invented) and, from the summary, the
    elements the prediction may have missed."""
    out = ""
    info = evidence.summary.get("elements") or {}
    if evidence.elements:
        rows = least_confident(evidence.elements)
        header = list(rows[0])
        out += (f"<p>Per-element confidence ({len(evidence.elements)} elements in "
                "<code>elements.csv</code>; " + html.escape(str(info.get("confidence", "")))
                + "). The least confident of each kind, most likely invented:</p>"
                + grid_table_html(header, [[r.get(h, "") for h in header] for r in rows],
                                  sortable=True))
    missed = info.get("possibly_missed") or []
    if missed:
        header = [k for k in missed[0] if not isinstance(missed[0][k], (list, dict))]
        out += ("<p>Elements the prediction may have missed (segmented by most members where "
                "the prediction has nothing; uncalibrated):</p>"
                + grid_table_html(header, [[_cell(r.get(h)) for h in header] for r in missed],
                                  sortable=True))
    return out


def _cell(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def trust_section(evidence: Evidence, prediction: Image, pixel: float,
                  window: tuple[float, float], label: str = "prediction",
                  title: str = "Trust evidence for the model's prediction") -> Section:
    """The report section on the trust evidence of ``prediction``."""
    summary = evidence.summary
    verdict = summary.get("verdict", {})
    figures = []
    codes = evidence.map("verdict")
    if codes is not None:
        src, bar = verdict_overlay_png(prediction, codes, window, pixel)
        counts = ", ".join(f"{n} {name}" for name, n in verdict.get("tiles", {}).items())
        figures.append(Figure(src, f"{label}, tiles tinted by verdict ({counts}); {bar}"))
    figures.extend(_map_figures(evidence, pixel))
    reasons = Counter(reason.split(" (")[0] for tile in verdict.get("tile_reasons", [])
                      for reason in tile["reasons"])
    items = "".join(f"<li>{html.escape(reason)}: {count} tiles</li>"
                    for reason, count in reasons.most_common())
    global_items = "".join(f"<li>{html.escape(r)}</li>"
                           for r in verdict.get("global_reasons", []))
    image_verdict = str(verdict.get("image", "unknown"))
    control = summary.get("verdict_control")
    where = evidence.where or (str(evidence.folder) if evidence.folder else "")
    where = (f"<code>{html.escape(where)}</code>" if where else "memory (computed by the "
             "report; run <code>geosr trust</code> to keep the maps)")
    text = (f"<p>Verdict of the image: <b class='verdict-{html.escape(image_verdict)}'>"
            f"{html.escape(image_verdict)}</b> — {html.escape(str(verdict.get('meaning', '')))}"
            ". Green never means correct: it means consistent with the measured data and, for "
            "images like the calibration set, within the calibrated interval. Maps and the "
            f"full record (<code>trust.json</code>) are in {where}; what each map cannot "
            "detect is in the README.</p>"
            + (f"<p>What controlled false alarms: {html.escape(str(control))}</p>"
               if control else "")
            + (f"<p>Reasons for the whole image:</p><ul>{global_items}</ul>" if global_items
               else "")
            + (f"<p>Reasons given for tiles:</p><ul>{items}</ul>" if items else "")
            + _elements_html(evidence))
    tables = [("evidence", _facts(summary))]
    physics = _physics(summary)
    if physics:
        tables.append(("physics: what the optics and sampling support", physics))
    return Section(title, figures, text=text, tables=tables)
