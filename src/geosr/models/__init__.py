"""Super-resolution architectures behind an explicit, lazily imported registry, in 2D and 3D.

Importing this package imports neither torch nor any architecture; they load on first use.

- :func:`build_model` / :func:`available_models` / :func:`register_model` — the registry
  (``fsrcnn``, ``espcn``, ``edsr``, ``rcan``, ``unet_pix2pix``, ``care``; ``geo`` wraps any of
  them with a tubeness input and/or an auxiliary segmentation head).
- ``build_model(..., residual_over="bicubic")`` — any architecture as a zero-started
  correction over a fixed interpolation (:mod:`geosr.models.residual`; on by default for
  ``fsrcnn``); :mod:`geosr.models.quality` — whether a trained model beats bicubic.
- :func:`model_summary` — parameters, FLOPs per output pixel/voxel, receptive field.
- :func:`save_model` / :func:`load_model` / :func:`zip_model` / :class:`LoadedModel` — model
  files (``weights.safetensors`` + ``model.json``, hashed; never unpickled).
- :func:`resolve_device` — ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``.

>>> from geosr.models import available_models
>>> available_models()
['care', 'edsr', 'espcn', 'fsrcnn', 'geo', 'hetero', 'rcan', 'unet_pix2pix']
"""

from __future__ import annotations

from geosr.core.lazy import lazy_exports
from geosr.models.registry import (available_models, build_model, model_arguments,
                                   register_model)

_LAZY = {
    "model_summary": "geosr.models.summary",
    "receptive_field": "geosr.models.summary",
    "resolve_device": "geosr.models.device",
    "save_model": "geosr.models.files",
    "load_model": "geosr.models.files",
    "zip_model": "geosr.models.files",
    "LoadedModel": "geosr.models.files",
}

__all__ = ["available_models", "build_model", "model_arguments", "register_model", *_LAZY]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
