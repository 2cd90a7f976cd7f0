"""Classical resampling with MATLAB ``imresize`` semantics (numpy/scipy only).

Public API
----------
- :func:`upscale` / :func:`downscale`: integer factors on an :class:`geosr.core.Image` (spatial
  axes only; spacing, origin and ``metadata["resample"]`` updated) or a bare 2-D/3-D array.
- :func:`modcrop`: crop trailing pixels to a multiple of the scale.
- :func:`imresize`: the core numpy resize, any positive (also non-integer) scale per axis.
- :func:`resize_axis`, :func:`contributions`, :func:`weight_matrix`: one axis at a time.
- :data:`METHODS`: ``("nearest", "linear", "bicubic", "lanczos")``.

Example
-------
>>> import numpy as np
>>> lr = downscale(np.full((12, 12), 100, np.uint8), 3)      # MATLAB imresize(hr, 1/3)
>>> lr.shape, int(lr.min()), int(lr.max())
((4, 4), 100, 100)
>>> upscale(lr, 3).shape
(12, 12)
"""

from geosr.resample.api import downscale, modcrop, upscale
from geosr.resample.matlab import (contributions, imresize, matlab_round, output_length,
                                     resize_axis, resize_order, weight_matrix)
from geosr.resample.kernels import KERNELS, METHODS, Kernel, get_kernel

__all__ = [
    "upscale", "downscale", "modcrop", "imresize", "resize_axis", "contributions",
    "weight_matrix", "resize_order", "output_length", "matlab_round",
    "METHODS", "KERNELS", "Kernel", "get_kernel",
]
