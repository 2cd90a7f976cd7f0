"""Models that leave geosr: bioimage.io model packages and ONNX files.

- :func:`export` — one front door: ``export(model, out, format="bioimageio" | "onnx")``.
- :func:`export_bioimageio` — a bioimage.io (spec 0.5) package: generated pure-torch
  architecture + state dict, ONNX weights, percentile pre-processing, test tensors, cover,
  README from the model's provenance and calibration card; geosr's own model and card attached.
- :func:`export_onnx` — an ONNX file with dynamic sizes, checked with onnxruntime.
- :func:`test_package` — ``bioimageio.core.test_model`` per weight format.

The stage sits after ``trust`` (a package carries the calibration card). Importing it imports
neither torch nor the optional exporters.

>>> from geosr.export import export                                  # doctest: +SKIP
>>> export("runs/model", "model.zip", format="bioimageio")           # doctest: +SKIP
PosixPath('model.zip')
"""

from __future__ import annotations

from geosr.core.lazy import lazy_exports

_LAZY = {
    "export": "geosr.export.api",
    "FORMATS": "geosr.export.api",
    "EXPORTERS": "geosr.export.api",
    "register_exporter": "geosr.export.api",
    "export_bioimageio": "geosr.export.bioimageio",
    "test_package": "geosr.export.bioimageio",
    "export_onnx": "geosr.export.onnx",
    "run_onnx": "geosr.export.onnx",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
