"""The null-space (prior-contribution) map: the part of a prediction that the measurement
cannot see at all.

For the linear forward operator ``D`` (PSF blur + area binning) with pseudo-inverse ``D⁺``,
``P_range = D⁺ D`` keeps what the measurement constrains and ``P_null = I − D⁺ D`` what it does
not (Bhadra et al., IEEE TMI 40, 3249 (2021)). ``c = P_null f̂`` is the detail of the prediction
that comes from the model, not from the data: the measurement can neither confirm nor refute it.
For a minimum-norm reconstruction ``c ≡ 0``; for a learned SR model it is the model's prior.

Closed form used here: geosr's ``D`` is separable, ``D = D_0 ⊗ D_1 (⊗ D_2)`` with one small
matrix per axis (reflect boundaries, exactly the blur and binning of :mod:`geosr.degrade`), so
``D⁺ = D_0⁺ ⊗ D_1⁺ …`` and ``P_range = V_0 V_0ᵀ ⊗ V_1 V_1ᵀ …`` with ``V_i`` the right
singular vectors of ``D_i`` (singular values below ``rcond · max`` count as null). This is the
Fourier-space projector of Zhao et al. (IEEE TIP 25, 2016) without its periodic-boundary
assumption: exact for the image's own borders, in 2D and 3D. Cost: one SVD of an
``(n/s) × n`` matrix per axis.

What it cannot tell: whether the null-space detail is *right*. A real fine structure and a
hallucinated one look the same here; only calibrated intervals (and ground truth) speak to that.

>>> import numpy as np
>>> from geosr.trust.acquisition import Acquisition
>>> acq = Acquisition.from_arguments(scale=4, fwhm_um=0.4)
>>> f = np.random.default_rng(0).random((32, 32))
>>> res = null_space(f, acq, spacing_um=0.1)
>>> op = acq.operator((32, 32), 0.1)
>>> bool(np.abs(op.forward(res.null)).max() < 1e-10)
True
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from geosr.core.errors import InputError
from geosr.core.image import as_image
from geosr.trust.acquisition import Acquisition
from geosr.trust.tiles import tile_sizes, tile_sums

__all__ = ["NullSpaceResult", "null_space", "range_bases", "project_range", "DEFAULT_RCOND"]

DEFAULT_RCOND = 1e-3
_MAX_AXIS = 8192


def range_bases(op: Any, rcond: float = DEFAULT_RCOND) -> list[np.ndarray]:
    """Per-axis orthonormal bases ``V_i`` (n_i × k_i) of the row space of the operator's
    matrices (singular values above ``rcond`` × the largest)."""
    bases = []
    for matrix in op.matrices:
        if matrix.shape[1] > _MAX_AXIS:
            raise InputError(f"an axis of {matrix.shape[1]} pixels is too long for the exact "
                             "null-space projector", where="prediction",
                             hint=f"run the trust report on crops of at most {_MAX_AXIS} px")
        _, s, vt = np.linalg.svd(matrix.toarray(), full_matrices=False)
        keep = s > rcond * (s[0] if s.size else 0.0)
        bases.append(vt[keep].T)
    return bases


def project_range(x: np.ndarray, bases: Sequence[np.ndarray]) -> np.ndarray:
    """``P_range x`` (apply ``V_i V_iᵀ`` along each spatial axis)."""
    out = np.asarray(x, dtype=np.float64)
    for axis, v in enumerate(bases):
        moved = np.moveaxis(out, axis, -1)
        moved = (moved @ v) @ v.T
        out = np.moveaxis(moved, -1, axis)
    return out


@dataclasses.dataclass
class NullSpaceResult:
    """``null``: ``P_null f̂`` (prediction grid); ``local_energy``: Gaussian-smoothed ``c²``;
    ``energy_fraction``: ``‖c‖²/‖f̂‖²``; ``variance_fraction``: ``‖c‖²/‖f̂ − mean f̂‖²`` (the
    share of the image's structure that the data cannot see); ``tile_fraction``: the same per
    tile."""

    null: np.ndarray
    local_energy: np.ndarray
    energy_fraction: float
    variance_fraction: float
    tile: tuple[int, ...]
    tile_fraction: np.ndarray
    rcond: float
    rank: list[int]

    def summary(self) -> dict[str, Any]:
        return {
            "energy_fraction": self.energy_fraction,
            "variance_fraction": self.variance_fraction,
            "tile_fraction_max": float(np.nanmax(self.tile_fraction)),
            "tile_fraction_median": float(np.nanmedian(self.tile_fraction)),
            "rcond": self.rcond, "rank_per_axis": self.rank,
            "projector": "exact separable pseudo-inverse of blur+binning (reflect borders)",
            "cannot_tell": "whether the detail in the null space is right; only that the "
                           "measurement does not constrain it",
        }


def null_space(prediction: Any, acquisition: Acquisition, *, spacing_um: Any = None,
               tile: Any = None, rcond: float = DEFAULT_RCOND,
               smooth_px: float | None = None) -> NullSpaceResult:
    """Null-space component of ``prediction`` for the acquisition's forward operator.

    ``prediction``: Image (spacing in µm) or array (``spacing_um`` or 1 µm). ``tile``: tile
    side in LR pixels (default 8 in 2D, 4 in 3D). ``smooth_px``: sigma of the local-energy
    smoothing in prediction pixels (default: the scale).
    """
    from scipy import ndimage

    image = as_image(prediction, "prediction")
    f = np.asarray(image.numpy(), dtype=np.float64)
    if image.has_channels:
        f = f[0]
    spacing = spacing_um if spacing_um is not None else image.spacing_um
    op = acquisition.operator(f.shape, spacing)
    bases = range_bases(op, rcond)
    c = f - project_range(f, bases)
    scale = acquisition.scale_per_axis(f.ndim)
    sigma = [float(s) for s in scale] if smooth_px is None else float(smooth_px)
    local = ndimage.gaussian_filter(c * c, sigma, mode="reflect")
    centred = f - f.mean()
    total, var = float((f * f).sum()), float((centred * centred).sum())
    sizes = tile_sizes(tile, f.ndim)
    sr_tile = tuple(t * s for t, s in zip(sizes, scale))
    num, den = tile_sums(c * c, sr_tile), tile_sums(centred * centred, sr_tile)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(den > 0, num / np.maximum(den, 1e-300), 0.0)
    cc = float((c * c).sum())
    return NullSpaceResult(
        null=c, local_energy=local, energy_fraction=cc / total if total > 0 else 0.0,
        variance_fraction=cc / var if var > 0 else 0.0, tile=sizes, tile_fraction=frac,
        rcond=float(rcond), rank=[int(v.shape[1]) for v in bases])
