"""The forward degradation model: how a low-resolution acquisition arises from a
high-resolution object, as composable, seeded steps (2D and 3D, channels processed separately).

- :func:`degrade` — the front door: PSF blur → area-integrating downsampling → Poisson–Gaussian
  noise → quantisation, returning the LR :class:`geosr.core.Image` with spacing/origin updated
  and ``metadata["degradation"]`` = the full parameter record.
- :func:`degradation_model` — the same keywords, returns the :class:`ForwardModel`.
- Steps: :class:`GaussianBlur`, :class:`MicroscopePSF`, :class:`Downsample`,
  :class:`PoissonGaussianNoise`, :class:`Quantize`; :class:`CTScan` (X-ray CT: projections,
  photon noise, FBP; presets in :mod:`geosr.degrade.ct_presets`, front door
  :func:`geosr.degrade.ct_degrade.degrade_ct`).
- The linear part as an operator with an exact adjoint: :class:`BlurDownsample`,
  :meth:`ForwardModel.linear_operator` (a :class:`SeparableOperator`).
- PSF helpers: :func:`fwhm_to_sigma`, :func:`sigma_to_fwhm`, :func:`microscope_sigma_um`,
  :func:`gaussian_kernel1d`.

Example
-------
>>> import numpy as np
>>> from geosr.core import Image
>>> hr = Image(np.random.default_rng(0).random((32, 64, 64)), "ZYX", spacing=(0.2, 0.1, 0.1))
>>> lr = degrade(hr, scale=(1, 4, 4), wavelength_nm=520, na=1.4, microscope="confocal",
...              photons=50.0, read_noise=0.01, bit_depth=12, seed=0)
>>> lr.shape, lr.dtype.name, lr.spacing
((32, 16, 16), 'uint16', (0.2, 0.4, 0.4))
>>> op = degradation_model(scale=(1, 4, 4), fwhm_um=0.3).linear_operator(hr)
>>> op.out_shape
(32, 16, 16)
"""

from geosr.degrade.model import RECORD_VERSION, ForwardModel, degradation_model, degrade
from geosr.degrade.operator import (
    BlurDownsample, SeparableOperator, block_mean_matrix, blur_matrix, reflect_indices,
)
from geosr.degrade.psf import (
    DEFAULT_REFRACTIVE_INDEX, FWHM_PER_SIGMA, fwhm_to_sigma, gaussian_kernel1d,
    microscope_sigma_um, sigma_to_fwhm,
)
from geosr.degrade.steps import (
    STEPS, Downsample, GaussianBlur, MicroscopePSF, PoissonGaussianNoise, Quantize, Step,
    register_step, step_from_params,
)
from geosr.degrade.ct import CTScan  # registers the "ct_scan" step (X-ray CT, issue 17)

__all__ = [
    "degrade", "degradation_model", "ForwardModel", "RECORD_VERSION",
    "Step", "GaussianBlur", "MicroscopePSF", "Downsample", "PoissonGaussianNoise", "Quantize",
    "STEPS", "register_step", "step_from_params", "CTScan",
    "SeparableOperator", "BlurDownsample", "blur_matrix", "block_mean_matrix",
    "reflect_indices",
    "FWHM_PER_SIGMA", "DEFAULT_REFRACTIVE_INDEX", "fwhm_to_sigma", "sigma_to_fwhm",
    "gaussian_kernel1d", "microscope_sigma_um",
]

import sys as _sys

from geosr.core.callable_module import make_callable as _make_callable

_make_callable(_sys.modules[__name__], "degrade")  # geosr.degrade(...) is the function's front door
