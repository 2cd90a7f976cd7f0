"""Tiled 2D/3D super-resolution with a trained model.

- :func:`predict` — one image (array or :class:`geosr.core.Image`) → super-resolved
  :class:`~geosr.core.Image`, tiled with receptive-field-derived overlap and linear-ramp
  blending, memory bounded by ``max_memory_mb``, normalisation undone, spacing/origin updated.
- :func:`predict_files` — a file or a folder, resumable (complete outputs skipped), atomic.
- :mod:`geosr.predict.tiling` — the tile plan and blending weights (numpy only).

Importing this package does not import torch.

>>> from geosr.predict import predict            # doctest: +SKIP
>>> sr = predict(lr_image, "runs/model", max_memory_mb=512)   # doctest: +SKIP
"""

from __future__ import annotations

from geosr.core.lazy import lazy_exports


_LAZY = {"predict": "geosr.predict.core", "predict_files": "geosr.predict.batch",
         "DEFAULT_MAX_MEMORY_MB": "geosr.predict.core"}

__all__ = list(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())


import sys as _sys

from geosr.core.callable_module import make_callable as _make_callable

_make_callable(_sys.modules[__name__], "predict")  # geosr.predict(...) is the function's front door
