"""Reports: self-contained HTML pages with figures embedded as PNG/SVG, and their building
blocks. :func:`report` (also ``geosr.report(...)``) writes the report of one's own predictions;
the demo's page and other stages' pages (pair registration) are built from the same parts.

>>> import geosr
>>> geosr.report("sr/a.tif", lr="lr/a.tif", truth="hr/a.tif")    # doctest: +SKIP
"""

import sys as _sys

from geosr.core.callable_module import make_callable as _make_callable
from geosr.core.lazy import lazy_exports as _lazy_exports
from geosr.report.figures import display_range, panel_png, to_uint8, verdict_overlay_png
from geosr.report.html import Figure, Section, table_html, write_html_report

_LAZY = {"report": "geosr.report.api", "case_sections": "geosr.report.api",
         "build_case": "geosr.report.build", "Case": "geosr.report.case",
         "trust_section": "geosr.report.trust_view"}

__all__ = ["Figure", "Section", "write_html_report", "table_html", "panel_png", "to_uint8",
           "display_range", "verdict_overlay_png", *_LAZY]

__getattr__, __dir__ = _lazy_exports(__name__, _LAZY, globals())

_make_callable(_sys.modules[__name__], "report")  # geosr.report(...) is the front door
