"""Small line plots and histograms as self-contained SVG data URIs (no plotting library, no
fonts to fetch): the FRC curve, training and validation curves, intensity histograms.

Every plot is an ``<img>`` like the image panels, so the page has one kind of figure.

>>> uri = line_plot([Series("loss", [0, 1, 2], [3.0, 2.0, 1.5])], "step", "loss")
>>> uri.startswith("data:image/svg+xml;base64,")
True
"""

from __future__ import annotations

import base64
import dataclasses
import html
import math
from typing import Sequence

import numpy as np

__all__ = ["Series", "line_plot", "histogram_plot", "svg_data_uri"]

#: Line colours (Okabe–Ito, colour-blind safe).
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")
_W, _H, _L, _R, _T, _B = 440, 260, 58, 12, 26, 40


@dataclasses.dataclass
class Series:
    """One curve: a label, x and y values (NaN/None points are skipped), optional dashes."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    dashed: bool = False


def svg_data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if m * step >= raw)
    start = math.ceil(lo / step) * step
    return [start + k * step for k in range(int((hi - start) / step + 1e-9) + 1)]


def _range(values: list[np.ndarray], log: bool) -> tuple[float, float]:
    allv = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.array([0.0])
    if log:
        allv = allv[allv > 0]
    if allv.size == 0:
        return 0.0, 1.0
    lo, hi = float(allv.min()), float(allv.max())
    if log:
        return math.log10(lo), math.log10(hi) if hi > lo else math.log10(lo) + 1
    pad = 0.05 * (hi - lo) if hi > lo else max(abs(lo), 1.0) * 0.5
    return lo - pad, hi + pad


def _frame(title: str, xlabel: str, ylabel: str, xr, yr, log_y: bool, height: int = _H
           ) -> list[str]:
    def sx(v):
        return _L + (v - xr[0]) / (xr[1] - xr[0]) * (_W - _L - _R)

    def sy(v):
        return _H - _B - (v - yr[0]) / (yr[1] - yr[0]) * (_H - _T - _B)

    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{_W}' height='{height}' "
             f"viewBox='0 0 {_W} {height}' font-family='sans-serif' font-size='11'>",
             f"<rect width='{_W}' height='{height}' fill='white'/>",
             f"<text x='{_W / 2}' y='16' text-anchor='middle' font-size='12'>"
             f"{html.escape(title)}</text>",
             f"<rect x='{_L}' y='{_T}' width='{_W - _L - _R}' height='{_H - _T - _B}' "
             "fill='none' stroke='#888'/>"]
    for t in _ticks(*xr):
        parts.append(f"<text x='{sx(t):.1f}' y='{_H - _B + 14}' text-anchor='middle'>{t:g}</text>")
    for t in _ticks(*yr):
        label = f"{10 ** t:.3g}" if log_y else f"{t:.4g}"
        parts.append(f"<line x1='{_L}' x2='{_W - _R}' y1='{sy(t):.1f}' y2='{sy(t):.1f}' "
                     "stroke='#eee'/>"
                     f"<text x='{_L - 4}' y='{sy(t) + 4:.1f}' text-anchor='end'>{label}</text>")
    parts.append(f"<text x='{(_L + _W - _R) / 2}' y='{_H - 6}' text-anchor='middle'>"
                 f"{html.escape(xlabel)}</text>")
    parts.append(f"<text x='12' y='{(_T + _H - _B) / 2}' text-anchor='middle' transform="
                 f"'rotate(-90 12 {(_T + _H - _B) / 2})'>{html.escape(ylabel)}</text>")
    return parts


def line_plot(series: Sequence[Series], xlabel: str, ylabel: str, title: str = "", *,
              log_y: bool = False, hlines: Sequence[tuple[float, str]] = ()) -> str:
    """Curves on common axes, with a legend; ``hlines`` are (y, label) reference lines (e.g.
    the FRC 1/7 threshold). Returns an SVG data URI."""
    xs = [np.asarray(s.x, dtype=np.float64) for s in series]
    ys = [np.asarray([np.nan if v is None else v for v in s.y], dtype=np.float64)
          for s in series]
    xr = _range(xs, False)
    yr = _range(ys + [np.array([h for h, _ in hlines], dtype=np.float64)], log_y)
    parts = _frame(title, xlabel, ylabel, xr, yr, log_y, height=_H + 14 * len(series) + 4)

    def point(x, y):
        yv = math.log10(y) if log_y else y
        return (_L + (x - xr[0]) / (xr[1] - xr[0]) * (_W - _L - _R),
                _H - _B - (yv - yr[0]) / (yr[1] - yr[0]) * (_H - _T - _B))

    for k, (s, x, y) in enumerate(zip(series, xs, ys)):
        ok = np.isfinite(x) & np.isfinite(y) & ((y > 0) if log_y else True)
        pts = " ".join("%.1f,%.1f" % point(a, b) for a, b in zip(x[ok], y[ok]))
        colour = COLOURS[k % len(COLOURS)]
        dash = " stroke-dasharray='5,3'" if s.dashed else ""
        parts.append(f"<polyline points='{pts}' fill='none' stroke='{colour}' "
                     f"stroke-width='1.6'{dash}/>")
        y_legend = _H + 14 * k   # the legend sits under the plot, one line per curve
        parts.append(f"<line x1='{_L}' x2='{_L + 20}' y1='{y_legend}' y2='{y_legend}' "
                     f"stroke='{colour}' stroke-width='2'{dash}/>"
                     f"<text x='{_L + 26}' y='{y_legend + 4}'>{html.escape(s.label)}</text>")
    for y, label in hlines:
        _, py = point(xr[0], y)
        parts.append(f"<line x1='{_L}' x2='{_W - _R}' y1='{py:.1f}' y2='{py:.1f}' "
                     "stroke='#c00' stroke-dasharray='2,3'/>"
                     f"<text x='{_L + 4}' y='{py - 3:.1f}' fill='#c00'>{html.escape(label)}</text>")
    parts.append("</svg>")
    return svg_data_uri("".join(parts))


def histogram_plot(samples: dict[str, np.ndarray], xlabel: str, title: str = "",
                   bins: int = 64, value_range: tuple[float, float] | None = None) -> str:
    """Intensity histograms of several images on shared bins (fraction of pixels, log scale)
    as step curves. Returns an SVG data URI."""
    finite = [np.asarray(v, np.float64).ravel() for v in samples.values()]
    finite = [v[np.isfinite(v)] for v in finite]
    if value_range is None:
        lo = min(float(v.min()) for v in finite if v.size)
        hi = max(float(v.max()) for v in finite if v.size)
        value_range = (lo, hi if hi > lo else lo + 1.0)
    edges = np.linspace(*value_range, bins + 1)
    series = []
    for (label, _), v in zip(samples.items(), finite):
        counts, _ = np.histogram(v, bins=edges)
        frac = counts / max(1, v.size)
        series.append(Series(label, np.repeat(edges, 2)[1:-1], np.repeat(frac, 2)))
    return line_plot(series, xlabel, "fraction of pixels", title, log_y=True)
