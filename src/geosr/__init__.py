"""geosr: super-resolution of porosity-network images that says how far each result can be trusted.

The public API is re-exported here and imported lazily, so ``import geosr`` stays fast and never
fails because of an optional dependency:

>>> import geosr
>>> img = geosr.phantom("dentin", dims=2, size_um=20, spacing_um=0.1, seed=0)  # doctest: +SKIP
>>> lr = geosr.degrade(img.image, scale=4, fwhm_um=0.4, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

from geosr.core.lazy import lazy_exports
from geosr.core.version import __version__

# name -> module that defines it
_EXPORTS = {
    "Image": "geosr.core.image",
    "GeosrError": "geosr.core.errors",
    "InputError": "geosr.core.errors",
    "ConfigError": "geosr.core.errors",
    "load": "geosr.io",
    "save": "geosr.io",
    "phantom": "geosr.phantoms",
    "degrade": "geosr.degrade",
    "register_pair": "geosr.pairs",
    "upscale": "geosr.resample",
    "downscale": "geosr.resample",
    "evaluate": "geosr.assess.evaluation",
    "assess": "geosr.assess.network",
    "assess_network": "geosr.assess.network",
    "predict": "geosr.predict",
    "train": "geosr.train",
    "load_model": "geosr.models.files",
    "report": "geosr.report",
}

__all__ = ["__version__", *_EXPORTS]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
