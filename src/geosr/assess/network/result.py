"""What the network assessment returns and writes: one :class:`NetworkAssessment` per image
pair, gathered in an :class:`AssessmentResult` with CSV and JSON writers.

Rows
----
Every metric is a row: ``group``, ``metric``, ``unit``, ``kind``, ``prediction``, ``truth``,
``error``, ``relative_error``, ``note``.

- ``kind="per-image"``: measured on each image on its own (porosity, β0, length density, ...);
  ``error = prediction − truth``, ``relative_error = error / |truth|`` (NaN when the truth is 0).
- ``kind="comparison"``: computed from the pair (object F1, clDice, Betti error, ...); the
  ``prediction`` column holds the value, ``truth`` the ideal value (1 for scores, 0 for errors
  and counts of mistakes) and ``error = value − ideal``.

CSV (long format, written atomically): ``#`` lines naming geosr's version and the segmentation
(resolved threshold included), then one line per image and metric. The per-component match
table goes to ``<stem>_components.csv`` beside it. JSON holds everything, with the
segmentation, notes, timings and the threshold sweep when one was run.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from geosr.core.files import atomic_path, to_jsonable, write_json
from geosr.core.version import __version__

__all__ = ["NetworkAssessment", "AssessmentResult", "ROW_FIELDS"]

ROW_FIELDS = ["group", "metric", "unit", "kind", "prediction", "truth", "error",
              "relative_error", "note"]


def _full(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    return str(value)


@dataclasses.dataclass
class NetworkAssessment:
    """Network metrics of one prediction (and its truth).

    Attributes
    ----------
    name:
        Image name (file stem, or ``"image"``).
    dims, shape, spacing_um:
        Grid of the evaluated pair (µm per axis).
    segmentation:
        The resolved segmentation record (method, threshold used and its source, ...).
    rows:
        Metric rows (module notes).
    components:
        Per-component match table (see
        :class:`~geosr.assess.network.components.ComponentMatch`); empty without truth.
    details:
        Per-group results as dicts (distributions summarised, tile sizes, rules, timings).
    notes:
        What the numbers need to be read with (empty segmentation, skipped 3D-only metrics, ...).
    """

    name: str
    dims: int
    shape: tuple[int, ...]
    spacing_um: tuple[float, ...]
    segmentation: dict[str, Any]
    rows: list[dict[str, Any]]
    components: list[dict[str, Any]]
    details: dict[str, Any]
    notes: list[str]
    has_truth: bool = True
    pred_mask: np.ndarray | None = dataclasses.field(default=None, repr=False)
    gt_mask: np.ndarray | None = dataclasses.field(default=None, repr=False)
    sweep: Any = dataclasses.field(default=None, repr=False)
    overlays: list[Path] = dataclasses.field(default_factory=list)

    @property
    def metrics(self) -> list[str]:
        return [r["metric"] for r in self.rows]

    def row(self, metric: str) -> dict[str, Any]:
        """The row of one metric (KeyError naming the available ones)."""
        for r in self.rows:
            if r["metric"] == metric:
                return r
        raise KeyError(f"no metric {metric!r}; available: {', '.join(self.metrics)}")

    def value(self, metric: str, which: str = "prediction") -> float:
        """``prediction``, ``truth``, ``error`` or ``relative_error`` of one metric."""
        v = self.row(metric)[which]
        return float("nan") if v is None else float(v)

    def overlay(self) -> np.ndarray:
        """RGB overlay (missed orange, invented blue, agreement grey) of the masks."""
        from geosr.assess.network.overlay import overlay_rgb

        if self.gt_mask is None:
            raise ValueError("an overlay needs a truth")
        return overlay_rgb(self.pred_mask, self.gt_mask)

    def as_dict(self) -> dict[str, Any]:
        d = {"name": self.name, "dims": self.dims, "shape": list(self.shape),
             "spacing_um": list(self.spacing_um), "has_truth": self.has_truth,
             "segmentation": self.segmentation, "notes": list(self.notes),
             "metrics": self.rows, "components": self.components, "details": self.details,
             "overlays": [str(p) for p in self.overlays]}
        if self.sweep is not None:
            d["threshold_sweep"] = self.sweep.model_dump()
        return to_jsonable(d)


@dataclasses.dataclass
class AssessmentResult:
    """Network assessments of one or several image pairs (``items``), with the segmentation
    config shared by all, and where the outputs were written."""

    items: list[NetworkAssessment]
    segmentation: dict[str, Any]
    csv_path: Path | None = None
    components_csv_path: Path | None = None
    json_path: Path | None = None
    overlays: list[Path] = dataclasses.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key: int | str) -> NetworkAssessment:
        if isinstance(key, str):
            for item in self.items:
                if item.name == key:
                    return item
            raise KeyError(key)
        return self.items[key]

    def value(self, metric: str, which: str = "prediction") -> float:
        """The value of a metric for a single pair (mean over pairs for several)."""
        vals = [it.value(metric, which) for it in self.items if metric in it.metrics]
        return float(np.nanmean(vals)) if vals and not all(np.isnan(vals)) else float("nan")

    def summary(self) -> list[dict[str, Any]]:
        """Per metric: unit, kind, mean prediction, mean truth, mean and sd of the error, n
        (pairs where the metric is defined)."""
        order: list[str] = []
        info: dict[str, dict[str, Any]] = {}
        for item in self.items:
            for r in item.rows:
                m = r["metric"]
                if m not in info:
                    order.append(m)
                    info[m] = {"group": r["group"], "metric": m, "unit": r["unit"],
                               "kind": r["kind"], "p": [], "t": [], "e": []}
                for key, col in (("p", "prediction"), ("t", "truth"), ("e", "error")):
                    v = r[col]
                    info[m][key].append(float("nan") if v is None else float(v))
        out = []
        for m in order:
            d = info[m]
            e = np.asarray(d["e"], float)
            ok = ~np.isnan(e)
            row = {k: d[k] for k in ("group", "metric", "unit", "kind")}
            with np.errstate(all="ignore"):
                row["prediction"] = _nanmean(d["p"])
                row["truth"] = _nanmean(d["t"])
                row["error_mean"] = float(e[ok].mean()) if ok.any() else float("nan")
                row["error_sd"] = float(e[ok].std(ddof=1)) if ok.sum() > 1 else float("nan")
            row["n"] = int(ok.sum())
            out.append(row)
        return out

    def header_lines(self) -> list[str]:
        lines = [f"geosr assess (geosr {__version__}): network metrics, whole field of each "
                 "image"]
        seg = self.items[0].segmentation if self.items else self.segmentation
        lines.append("segmentation: " + seg.get("description", ""))
        for key in ("threshold", "threshold_source", "min_size_um", "scales_um", "block_um",
                    "offset"):
            if seg.get(key) not in (None, 0, 0.0):
                lines.append(f"segmentation.{key}: {seg[key]}")
        lines.append("connectivity: foreground 8 (2D) / 26 (3D), background 4 / 6")
        lines.append("kind=comparison rows: prediction = value, truth = ideal value")
        return lines

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write the metric rows (long format) and, beside them, the component table."""
        from geosr.assess.network.components import component_table_columns

        path = Path(path)
        buf = io.StringIO()
        for line in self.header_lines():
            buf.write(f"# {line}\n")
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["name", *ROW_FIELDS])
        for item in self.items:
            for r in item.rows:
                w.writerow([item.name, *[_full(r.get(k)) for k in ROW_FIELDS]])
        with atomic_path(path) as tmp:
            tmp.write_text(buf.getvalue(), encoding="utf-8")
        self.csv_path = path
        if any(item.components for item in self.items):
            cpath = path.with_name(path.stem + "_components.csv")
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            cols = component_table_columns()
            w.writerow(["name", *cols])
            for item in self.items:
                for r in item.components:
                    w.writerow([item.name, *[_full(r[c]) if c != "centroid_um" else
                                             " ".join(f"{v:g}" for v in r[c]) for c in cols]])
            with atomic_path(cpath) as tmp:
                tmp.write_text(buf.getvalue(), encoding="utf-8")
            self.components_csv_path = cpath
        return path

    def as_dict(self) -> dict[str, Any]:
        return to_jsonable({"geosr": __version__, "segmentation": self.segmentation,
                            "header": self.header_lines(), "summary": self.summary(),
                            "images": [item.as_dict() for item in self.items]})

    def to_json(self, path: str | os.PathLike) -> Path:
        self.json_path = write_json(path, self.as_dict())
        return self.json_path


def _nanmean(values: list[float]) -> float:
    v = np.asarray(values, float)
    v = v[~np.isnan(v)]
    return float(v.mean()) if v.size else float("nan")
