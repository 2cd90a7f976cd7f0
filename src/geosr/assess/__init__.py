"""Assessment: image-quality metrics with their conventions, the classic SR protocol, resolution
(FRC/FSC, decorrelation) and the ``evaluate`` front door.

Every number records how it was computed (:class:`Convention`: data range and its source,
channel, border crop, fit, normalisation, window); the data range is never inferred silently.

Modules: :mod:`~geosr.assess.iqa` (PSNR, MSE, MAE, NRMSE, Pearson, GMSD),
:mod:`~geosr.assess.structural` (SSIM, MS-SSIM), :mod:`~geosr.assess.protocol` (classic SR protocol),
:mod:`~geosr.assess.resolution` (FRC/FSC, single-image FRC), :mod:`~geosr.assess.decorr`
(decorrelation analysis), :mod:`~geosr.assess.evaluation` (files/folders -> table, CSV, maps).

>>> import numpy as np
>>> from geosr.assess import psnr, ssim
>>> x = np.random.default_rng(0).random((32, 32))
>>> psnr(x, x, data_range=1.0).value, ssim(x, x, data_range=1.0).value
(inf, 1.0)
"""

from __future__ import annotations

import sys

from geosr.core.callable_module import make_callable
from geosr.core.lazy import lazy_exports


_EXPORTS = {
    "Convention": "geosr.assess.conventions",
    "MetricResult": "geosr.assess.conventions",
    "affine_fit": "geosr.assess.conventions",
    "crop_border": "geosr.assess.conventions",
    "mse": "geosr.assess.iqa",
    "psnr": "geosr.assess.iqa",
    "mae": "geosr.assess.iqa",
    "nrmse": "geosr.assess.iqa",
    "pearson": "geosr.assess.iqa",
    "gmsd": "geosr.assess.iqa",
    "full_reference": "geosr.assess.iqa",
    "ssim": "geosr.assess.structural",
    "ms_ssim": "geosr.assess.structural",
    "rgb_to_y": "geosr.assess.protocol",
    "luma": "geosr.assess.protocol",
    "classic_sr_metrics": "geosr.assess.protocol",
    "FRCResult": "geosr.assess.resolution",
    "frc": "geosr.assess.resolution",
    "fsc": "geosr.assess.resolution",
    "single_image_frc": "geosr.assess.resolution",
    "half_bit_threshold": "geosr.assess.resolution",
    "DecorrelationResult": "geosr.assess.decorr",
    "decorrelation": "geosr.assess.decorr",
    "EvaluationResult": "geosr.assess.evaluation",
    "evaluate": "geosr.assess.evaluation",
    "assess": "geosr.assess.network",
    "assess_network": "geosr.assess.network",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

# geosr.assess(...) is the network-assessment front door, whichever object geosr.assess names
make_callable(sys.modules[__name__], "assess")
