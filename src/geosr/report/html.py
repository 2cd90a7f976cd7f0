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
import os
from pathlib import Path
from typing import Any, Sequence

from geosr.core.files import atomic_path

__all__ = ["Figure", "Section", "write_html_report", "table_html"]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
.row { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; flex: 1 1 300px; max-width: 440px; }
figure img { width: 100%; image-rendering: pixelated; border: 1px solid #999; }
figcaption { font-size: 0.85em; margin-top: 4px; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
.note { font-size: 0.85em; color: #555; }
code { background: #f4f4f4; padding: 0 3px; }
"""


@dataclasses.dataclass
class Figure:
    """One image panel: a PNG data URI and its caption (plain text, escaped on output)."""

    src: str
    caption: str


@dataclasses.dataclass
class Section:
    """A titled block: optional trusted HTML text, a row of figures, and key/value tables."""

    title: str
    figures: Sequence[Figure] = ()
    text: str = ""
    tables: Sequence[tuple[str, dict[str, Any]]] = ()


def table_html(rows: dict[str, Any], caption: str = "") -> str:
    """A two-column HTML table (keys, values), values shown with ``str``."""
    body = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in rows.items())
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}{body}</table>"


def write_html_report(path: str | os.PathLike, title: str, sections: Sequence[Section],
                      footer: str = "") -> Path:
    """Write a self-contained HTML page atomically and return its path."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
             f"</title><style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>{section.text}")
        if section.figures:
            parts.append("<div class='row'>")
            for fig in section.figures:
                parts.append(f"<figure><img src='{fig.src}' alt='{html.escape(fig.caption)}'>"
                             f"<figcaption>{html.escape(fig.caption)}</figcaption></figure>")
            parts.append("</div>")
        for caption, rows in section.tables:
            parts.append(table_html(rows, caption))
    parts.append(f"<p class='note'>{footer}</p></body></html>")
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text("".join(parts), encoding="utf-8")
    return path
