"""A self-contained HTML report (figures embedded as PNG data URIs, no external files).

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "r.html"
>>> _ = write_html_report(path, "Demo", [Section("Hello", text="<p>no figures</p>")])
>>> "Hello" in path.read_text()
True
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
from pathlib import Path
from typing import Any, Sequence

from geosr.core.files import atomic_path

__all__ = ["Figure", "Section", "write_html_report", "table_html", "grid_table_html"]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
.row { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; flex: 1 1 300px; max-width: 440px; }
figure img { width: 100%; image-rendering: pixelated; border: 1px solid #999; box-sizing: border-box; }
figcaption { font-size: 0.85em; margin-top: 4px; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
.note { font-size: 0.85em; color: #555; }
code { background: #f4f4f4; padding: 0 3px; }
table.sortable th { cursor: pointer; } table.sortable th:hover { background: #eef; }
.verdict-green { color: #1a7a36; font-weight: bold; } .verdict-amber { color: #a86b00;
  font-weight: bold; } .verdict-red { color: #b41e1e; font-weight: bold; }
.stepper input { width: 100%; } h2.image { font-size: 1.4em; border-bottom: 3px solid #888; }
img.thumb { width: 96px; image-rendering: pixelated; }
caption { text-align: left; font-weight: bold; padding: 2px 0; }
pre { white-space: pre-wrap; font-size: 0.8em; background: #f8f8f8; padding: 6px; }
td { overflow-wrap: anywhere; } table { max-width: 100%; }
"""

#: The page's only script (inline): sortable tables, slice steppers, and a record of script
#: errors and undecoded images (read by the headless-browser test from the DOM).
_SCRIPT = """
window.geosrErrors = [];
window.addEventListener('error', function (e) { window.geosrErrors.push(String(e.message)); });
document.querySelectorAll('table.sortable th').forEach(function (th) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0], col = th.cellIndex;
    var asc = th.dataset.asc !== '1'; th.dataset.asc = asc ? '1' : '0';
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].dataset.v || a.cells[col].textContent;
      var y = b.cells[col].dataset.v || b.cells[col].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      var r = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
      return asc ? r : -r;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
document.querySelectorAll('.stepper').forEach(function (s) {
  var data = JSON.parse(s.querySelector('script').textContent);
  var img = s.querySelector('img'), range = s.querySelector('input');
  var label = s.querySelector('.slice-label');
  range.addEventListener('input', function () {
    img.src = data.frames[range.value]; label.textContent = data.labels[range.value];
  });
});
window.addEventListener('load', function () {
  var bad = [];
  document.querySelectorAll('img').forEach(function (im, k) {
    if (!im.complete || im.naturalWidth === 0) bad.push(k);
  });
  document.body.setAttribute('data-images', String(document.images.length));
  document.body.setAttribute('data-undecoded', bad.join(','));
  document.body.setAttribute('data-errors', window.geosrErrors.join(' | '));
  document.body.setAttribute('data-loaded', '1');
});
"""


@dataclasses.dataclass
class Figure:
    """One image panel: a PNG data URI and its caption (plain text, escaped on output)."""

    src: str
    caption: str
    #: Scale-bar length drawn in the panel (µm) and the panel's pixel size (µm), when it has one.
    scale_bar_um: float | None = None
    um_per_px: float | None = None
    #: A slice stepper: ``[(data URI, label), ...]``; ``src`` is the frame shown first.
    frames: Sequence[tuple[str, str]] = ()


@dataclasses.dataclass
class Section:
    """A titled block: optional trusted HTML text, a row of figures, and key/value tables."""

    title: str
    figures: Sequence[Figure] = ()
    text: str = ""
    tables: Sequence[tuple[str, dict[str, Any]]] = ()
    #: ``id`` of the heading (a link target, e.g. from a folder index); ``css`` its class.
    anchor: str = ""
    css: str = ""


def table_html(rows: dict[str, Any], caption: str = "") -> str:
    """A two-column HTML table (keys, values), values shown with ``str``."""
    body = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in rows.items())
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}{body}</table>"


def grid_table_html(header: Sequence[str], rows: Sequence[Sequence[Any]], caption: str = "",
                    sortable: bool = False) -> str:
    """A table with a header row; cells are escaped text, or ``(text, sort_value)`` pairs
    (the value sorts the column numerically), or ``Markup`` (trusted HTML, see below)."""
    def cell(value: Any) -> str:
        if isinstance(value, Markup):
            return f"<td>{value}</td>"
        if isinstance(value, tuple):
            return f"<td data-v='{html.escape(str(value[1]))}'>{html.escape(str(value[0]))}</td>"
        return f"<td>{html.escape(str(value))}</td>"

    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    css = " class='sortable'" if sortable else ""
    return f"<table{css}>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Markup(str):
    """Trusted HTML for a :func:`grid_table_html` cell (e.g. a link or a thumbnail)."""


def _figure_html(fig: Figure) -> str:
    attrs = ""
    if fig.scale_bar_um is not None:
        attrs += f" data-scale-bar-um='{fig.scale_bar_um:g}' data-um-per-px='{fig.um_per_px:g}'"
    img = f"<img src='{fig.src}' alt='{html.escape(fig.caption)}'{attrs}>"
    if fig.frames:
        data = json.dumps({"frames": [f for f, _ in fig.frames],
                           "labels": [label for _, label in fig.frames]})
        first = next((k for k, (f, _) in enumerate(fig.frames) if f == fig.src), 0)
        return (f"<figure class='stepper'>{img}<input type='range' min='0' "
                f"max='{len(fig.frames) - 1}' value='{first}' aria-label='slice'>"
                f"<figcaption><span class='slice-label'>{html.escape(fig.frames[first][1])}"
                f"</span>; {html.escape(fig.caption)}</figcaption>"
                f"<script type='application/json'>{data}</script></figure>")
    return f"<figure>{img}<figcaption>{html.escape(fig.caption)}</figcaption></figure>"


def write_html_report(path: str | os.PathLike, title: str, sections: Sequence[Section],
                      footer: str = "", data: dict[str, Any] | None = None) -> Path:
    """Write a self-contained HTML page atomically and return its path.

    ``data`` (JSON-serialisable) is embedded as ``<script type='application/json'
    id='geosr-data'>``: the numbers the page shows, for programs that read the report."""
    from geosr.core.files import to_jsonable

    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
             f"</title><style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    for section in sections:
        anchor = f" id='{html.escape(section.anchor)}'" if section.anchor else ""
        css = f" class='{html.escape(section.css)}'" if section.css else ""
        parts.append(f"<h2{anchor}{css}>{html.escape(section.title)}</h2>{section.text}")
        if section.figures:
            parts.append("<div class='row'>")
            parts.extend(_figure_html(fig) for fig in section.figures)
            parts.append("</div>")
        for caption, rows in section.tables:
            parts.append(table_html(rows, caption))
    parts.append(f"<p class='note'>{footer}</p>")
    if data is not None:
        text = json.dumps(to_jsonable(data), allow_nan=True).replace("</", "<\\/")
        parts.append(f"<script type='application/json' id='geosr-data'>{text}</script>")
    parts.append(f"<script>{_SCRIPT}</script></body></html>")
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text("".join(parts), encoding="utf-8")
    return path
