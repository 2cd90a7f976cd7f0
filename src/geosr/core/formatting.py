"""Number formatting shared by the command-line tables and the reports (one rule, so a report
shows the numbers exactly as `geosr assess` prints them).

>>> format_number(3.0), format_number(0.123456), format_number(float("nan"))
('3', '0.1235', 'n/a')
"""

from __future__ import annotations

import math

__all__ = ["format_number"]


def format_number(value) -> str:
    """Four significant digits; ``n/a`` for NaN/None, integers without decimals."""
    if value is None:
        return ""
    value = float(value)
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == int(value) and abs(value) < 1e7:
        return str(int(value))
    return f"{value:.4g}"
