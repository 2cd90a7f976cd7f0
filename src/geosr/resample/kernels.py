"""Interpolation kernels of MATLAB ``imresize``, written from their published definitions.

Each kernel is a function of the distance ``x`` between an output sample and an input sample,
measured in *input pixels* (dimensionless), together with its support width (also in input
pixels): the kernel is zero outside ``[-width/2, width/2]``.

=========  =====================  =====  ==============================================
name       MATLAB name            width  definition
=========  =====================  =====  ==============================================
nearest    ``'nearest'`` (box)    1      1 on ``[-0.5, 0.5)``, 0 elsewhere
linear     ``'bilinear'``         2      triangle ``1 - |x|`` on ``[-1, 1]``
bicubic    ``'bicubic'``          4      Keys cubic convolution with ``a = -0.5``
lanczos    ``'lanczos3'``         6      ``sinc(x) sinc(x/3)`` on ``(-3, 3)``
=========  =====================  =====  ==============================================

The cubic with ``a = -0.5`` reproduces polynomials up to degree 2 exactly (Keys 1981); the
triangle reproduces polynomials up to degree 1.

Example
-------
>>> import numpy as np
>>> cubic(np.array([0.0, 0.5, 1.0, 1.5, 2.0]))
array([ 1.    ,  0.5625,  0.    , -0.0625,  0.    ])
>>> KERNELS["bicubic"].width
4.0
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from geosr.core.errors import ConfigError

__all__ = ["Kernel", "KERNELS", "METHODS", "box", "triangle", "cubic", "lanczos3", "get_kernel"]

_EPS = float(np.finfo(np.float64).eps)  # MATLAB's ``eps``


def box(x: np.ndarray) -> np.ndarray:
    """Box kernel (nearest neighbour): 1 on ``[-0.5, 0.5)``, 0 elsewhere (MATLAB ``box``)."""
    x = np.asarray(x, dtype=np.float64)
    return ((x >= -0.5) & (x < 0.5)).astype(np.float64)


def triangle(x: np.ndarray) -> np.ndarray:
    """Triangle kernel (linear interpolation): ``1 - |x|`` on ``[-1, 1]`` (MATLAB ``triangle``)."""
    x = np.asarray(x, dtype=np.float64)
    return ((x + 1.0) * ((x >= -1.0) & (x < 0.0))
            + (1.0 - x) * ((x >= 0.0) & (x <= 1.0)))


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys cubic convolution kernel with ``a = -0.5`` (MATLAB ``cubic``).

    ``1.5|x|^3 - 2.5|x|^2 + 1`` for ``|x| <= 1``,
    ``-0.5|x|^3 + 2.5|x|^2 - 4|x| + 2`` for ``1 < |x| <= 2``, 0 elsewhere.
    """
    ax = np.abs(np.asarray(x, dtype=np.float64))
    ax2 = ax * ax
    ax3 = ax2 * ax
    return ((1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1.0)
            + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1.0) & (ax <= 2.0)))


def lanczos3(x: np.ndarray) -> np.ndarray:
    """Lanczos kernel with 3 lobes, ``sinc(x) sinc(x/3)`` (MATLAB ``lanczos3``), including
    MATLAB's ``eps`` guard against 0/0 at ``x = 0``:
    ``(sin(pi x) sin(pi x/3) + eps) / (pi^2 x^2 / 3 + eps)`` on ``|x| < 3``.

    >>> np.round(lanczos3(np.array([0.0, 0.5, 1.0, 3.0])), 6)
    array([1.      , 0.607927, 0.      , 0.      ])
    """
    x = np.asarray(x, dtype=np.float64)
    num = np.sin(np.pi * x) * np.sin(np.pi * x / 3.0) + _EPS
    den = (np.pi ** 2) * x * x / 3.0 + _EPS
    return (num / den) * (np.abs(x) < 3.0)


@dataclasses.dataclass(frozen=True)
class Kernel:
    """A resampling kernel: ``function(x)`` of the distance in input pixels, its support
    ``width`` in input pixels, and whether MATLAB antialiases with it by default."""

    name: str
    matlab_name: str
    function: Callable[[np.ndarray], np.ndarray]
    width: float
    antialias_default: bool = True


KERNELS: dict[str, Kernel] = {
    "nearest": Kernel("nearest", "nearest", box, 1.0, antialias_default=False),
    "linear": Kernel("linear", "bilinear", triangle, 2.0),
    "bicubic": Kernel("bicubic", "bicubic", cubic, 4.0),
    "lanczos": Kernel("lanczos", "lanczos3", lanczos3, 6.0),
}

#: The method names accepted by :func:`geosr.resample.imresize`, ``upscale`` and ``downscale``.
METHODS: tuple[str, ...] = tuple(KERNELS)

_ALIASES = {"bilinear": "linear", "triangle": "linear", "cubic": "bicubic",
            "lanczos3": "lanczos", "box": "nearest"}


def get_kernel(method: str) -> Kernel:
    """The :class:`Kernel` for a method name (MATLAB spellings such as ``"bilinear"``,
    ``"cubic"`` or ``"lanczos3"`` are accepted too).

    Raises :class:`geosr.core.errors.ConfigError` for an unknown name, listing the allowed ones.
    """
    key = str(method).strip().lower() if isinstance(method, str) else method
    key = _ALIASES.get(key, key)
    if key not in KERNELS:
        raise ConfigError(f"unknown resampling method {method!r}", where="method",
                          hint="use one of " + ", ".join(METHODS))
    return KERNELS[key]
