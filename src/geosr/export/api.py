"""``geosr.export.export(model, out, format=...)``: the front door of the export stage, over
the registry of export formats (the core :class:`~geosr.core.registry.Registry` style).

A format is a function ``f(model, out, **options) -> Path`` registered with
``@register_exporter(name, suffix=".ext")``; the built-ins are imported on first use.

>>> FORMATS
('bioimageio', 'onnx')
>>> EXPORTERS.meta("onnx")["suffix"]
'.onnx'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from geosr.core.registry import Registry

__all__ = ["export", "EXPORTERS", "FORMATS", "register_exporter", "suffix"]

#: Export format → exporter (metadata: ``suffix`` of the file it writes).
EXPORTERS: Registry[Callable[..., Path]] = Registry(
    "export format", where="format", sort_names=False, builtins={
        "bioimageio": "geosr.export.bioimageio:export_bioimageio",
        "onnx": "geosr.export.onnx:export_onnx",
    })

#: The built-in formats.
FORMATS = tuple(EXPORTERS.builtins)


def register_exporter(name: str, *, suffix: str, replace: bool = False
                      ) -> Callable[[Callable[..., Path]], Callable[..., Path]]:
    """Decorator registering an exporter ``f(model, out, **options) -> Path`` as ``name``,
    writing files ending with ``suffix``."""
    return EXPORTERS.register(name, replace=replace, suffix=suffix)


def suffix(format: str) -> str:
    """The file suffix a format writes (:class:`ConfigError` for an unknown format)."""
    return EXPORTERS.meta(format)["suffix"]


def export(model: Any, out: str | os.PathLike, *, format: str = "bioimageio",
           **options: Any) -> Path:
    """Export ``model`` (folder / ``.zip`` / :class:`geosr.models.LoadedModel`) to ``out``:
    ``format="bioimageio"`` → :func:`geosr.export.bioimageio.export_bioimageio` (options:
    ``sample``, ``weights``, ``card``, ``name``, ``authors``, ``license``, ``test``);
    ``format="onnx"`` → :func:`geosr.export.onnx.export_onnx` (``opset``, ``check``)."""
    return EXPORTERS.get(format)(model, out, **options)
