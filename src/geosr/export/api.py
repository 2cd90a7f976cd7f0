"""``geosr.export.export(model, out, format=...)``: the front door of the export stage.

>>> from geosr.export.api import FORMATS
>>> FORMATS
('bioimageio', 'onnx')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from geosr.core.errors import ConfigError

__all__ = ["export", "FORMATS"]

FORMATS = ("bioimageio", "onnx")


def export(model: Any, out: str | os.PathLike, *, format: str = "bioimageio",
           **options: Any) -> Path:
    """Export ``model`` (folder / ``.zip`` / :class:`geosr.models.LoadedModel`) to ``out``:
    ``format="bioimageio"`` → :func:`geosr.export.bioimageio.export_bioimageio` (options:
    ``sample``, ``weights``, ``card``, ``name``, ``authors``, ``license``, ``test``);
    ``format="onnx"`` → :func:`geosr.export.onnx.export_onnx` (``opset``, ``check``)."""
    if format == "bioimageio":
        from geosr.export.bioimageio import export_bioimageio

        return export_bioimageio(model, out, **options)
    if format == "onnx":
        from geosr.export.onnx import export_onnx

        return export_onnx(model, out, **options)
    raise ConfigError(f"unknown export format {format!r}", where="format",
                      hint="choose from " + ", ".join(FORMATS))
