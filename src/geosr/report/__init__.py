"""Reports: self-contained HTML pages with figures embedded as PNG, and their building blocks."""

from geosr.report.figures import display_range, panel_png, to_uint8, verdict_overlay_png
from geosr.report.html import Figure, Section, write_html_report

__all__ = ["Figure", "Section", "write_html_report", "panel_png", "to_uint8", "display_range",
           "verdict_overlay_png"]
