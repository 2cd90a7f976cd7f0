"""Helpers shared by the network metrics: masks with their spacing, connected-component
labelling with named connectivities, distance transforms in µm, physical volumes and units.

Connectivity convention (fixed for every network metric in geosr)
-----------------------------------------------------------------
Foreground (pores, the network) is **fully connected**: 8-connected in 2D, 26-connected in 3D.
Background (matrix) is the complementary **face connectivity**: 4-connected in 2D, 6-connected
in 3D. This pair is the only one for which the Euler characteristic equals
``β0 − β1 (+ β2)`` of the digital set and matches ``skimage.measure.euler_number(connectivity=
ndim)`` and BoneJ.

Example
-------
>>> import numpy as np
>>> m = np.zeros((5, 5), bool); m[1, 1] = m[2, 2] = True   # two diagonal pixels
>>> label(m, FOREGROUND[2])[1], label(m, 4)[1]
(1, 2)
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from geosr.core.errors import InputError
from geosr.core.image import Image

__all__ = ["FOREGROUND", "BACKGROUND", "as_mask", "label", "distance_um", "field_volume_um",
           "voxel_volume_um", "size_unit", "length_density_unit", "per_mm", "wasserstein",
           "safe_ratio", "check_dims"]

#: Foreground connectivity (neighbours) per number of spatial dimensions.
FOREGROUND = {2: 8, 3: 26}
#: Background connectivity, complementary to :data:`FOREGROUND`.
BACKGROUND = {2: 4, 3: 6}
_RANK = {4: 1, 8: 2, 6: 1, 18: 2, 26: 3}


def as_mask(x: Any, spacing: float | Sequence[float] | None = None, *, name: str = "mask"
            ) -> tuple[np.ndarray, tuple[float, ...]]:
    """``(bool array, spacing in µm per axis)`` from a binary array or :class:`~geosr.Image`.

    Non-zero values are foreground (pore). For an Image, its spacing (converted to µm) is used
    unless ``spacing`` is given; a bare array without ``spacing`` gets 1 µm per pixel.
    """
    if isinstance(x, Image):
        if x.has_channels:
            raise InputError(f"a mask has no channel axis, got axes {x.axes}", where=name,
                             hint="pass one channel (image.numpy()[c])")
        arr = x.numpy()
        default = x.spacing_um
    else:
        arr = np.asarray(x)
        default = (1.0,) * arr.ndim
    if arr.ndim not in (2, 3):
        raise InputError(f"expected a 2D or 3D mask, got shape {arr.shape}", where=name)
    if arr.size == 0:
        raise InputError("the mask is empty (no pixels)", where=name)
    if spacing is None:
        sp = tuple(float(s) for s in default)
    elif np.ndim(spacing) == 0:
        sp = (float(spacing),) * arr.ndim  # type: ignore[arg-type]
    else:
        sp = tuple(float(s) for s in spacing)  # type: ignore[union-attr]
    if len(sp) != arr.ndim or not all(math.isfinite(s) and s > 0 for s in sp):
        raise InputError(f"spacing must be {arr.ndim} positive numbers (µm), got {spacing!r}",
                         where="spacing")
    return (arr if arr.dtype == bool else arr != 0), sp


def check_dims(mask: np.ndarray, dims: int, metric: str) -> None:
    """Raise :class:`InputError` when ``metric`` is asked of an image of the wrong
    dimensionality."""
    if mask.ndim != dims:
        other = "volume (ZYX)" if dims == 3 else "2D image (YX)"
        raise InputError(f"{metric} is defined for a {other}, got a {mask.ndim}D array of shape "
                         f"{mask.shape}", where=metric,
                         hint="leave it out for this image" if dims == 3 else
                         "compute it per slice")


def label(mask: np.ndarray, connectivity: int) -> tuple[np.ndarray, int]:
    """Connected components: ``(labels, n)``, 0 = background. ``connectivity`` counts
    neighbours: 4 or 8 in 2D, 6, 18 or 26 in 3D (cc3d when installed, else scipy)."""
    mask = np.asarray(mask, dtype=bool)
    if connectivity not in _RANK or (mask.ndim == 2) != (connectivity in (4, 8)):
        raise InputError(f"connectivity {connectivity} is not valid in {mask.ndim}D",
                         where="connectivity", hint="use 4/8 (2D) or 6/18/26 (3D)")
    if not mask.any():
        return np.zeros(mask.shape, np.uint32), 0
    try:
        import cc3d

        labels, n = cc3d.connected_components(mask, connectivity=connectivity, return_N=True)
        return labels, int(n)
    except ImportError:  # pragma: no cover - cc3d is installed with geosr's extras
        from scipy import ndimage as ndi

        structure = ndi.generate_binary_structure(mask.ndim, _RANK[connectivity])
        labels, n = ndi.label(mask, structure=structure)
        return labels, int(n)


def distance_um(mask: np.ndarray, spacing: Sequence[float]) -> np.ndarray:
    """Euclidean distance (µm, float32) from each foreground voxel to the centre of the nearest
    background voxel (0 on the background); the outside of the array is not background."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return np.zeros(mask.shape, np.float32)
    if mask.all():
        return np.full(mask.shape, np.inf, np.float32)
    try:
        import edt

        return edt.edt(mask, anisotropy=tuple(float(s) for s in spacing), black_border=False,
                       parallel=_cores()).astype(np.float32, copy=False)
    except ImportError:  # pragma: no cover
        from scipy import ndimage as ndi

        return ndi.distance_transform_edt(mask, sampling=spacing).astype(np.float32)


def _cores() -> int:
    """CPU cores this process may use (affinity, else the CPU count)."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def voxel_volume_um(spacing: Sequence[float]) -> float:
    """Area (2D, µm²) or volume (3D, µm³) of one pixel/voxel."""
    return float(np.prod(spacing))


def field_volume_um(shape: Sequence[int], spacing: Sequence[float]) -> float:
    """Area (µm²) or volume (µm³) of the whole field."""
    return float(np.prod(shape)) * voxel_volume_um(spacing)


def size_unit(dims: int) -> str:
    """``um^2`` or ``um^3``."""
    return f"um^{dims}"


def length_density_unit(dims: int) -> str:
    """Skeleton length per area (``um^-1``) or per volume (``um^-2``)."""
    return f"um^-{dims - 1}"


def per_mm(value_per_um: float, power: int) -> float:
    """Convert a density in µm^-power to mm^-power."""
    return float(value_per_um) * 1000.0 ** power


def safe_ratio(num: float, den: float) -> float:
    """``num / den``, NaN when ``den`` is 0 (never a ZeroDivisionError)."""
    return float(num) / float(den) if den else float("nan")


def wasserstein(a: np.ndarray, b: np.ndarray) -> float:
    """1-Wasserstein (earth mover's) distance between two samples, NaN if one is empty."""
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    if a.size == 0 or b.size == 0:
        return float("nan")
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(a, b))
