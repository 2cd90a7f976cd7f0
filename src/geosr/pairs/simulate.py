"""Simulated experimental pairs: an LR acquisition of a real HR image with a known misalignment,
PSF, intensity map and noise. The ground truth for the registration tests and benchmark.

The misalignment is applied to the HR content with the *same* convention the registration
fits (:class:`geosr.pairs.transform.PairTransform`), by one cubic-spline resampling of the raw
HR image; the rest is the project's own forward model (:mod:`geosr.degrade.steps`):
``LR = a · (bin(G_fwhm * warp(HR)) / m_ref)^γ`` (γ = 1: ``a · bin(...)``, no ``m_ref``), then
Poisson–Gaussian noise with ``offset = b``.

>>> import numpy as np
>>> from geosr.pairs.transform import PairTransform
>>> hr = np.random.default_rng(0).random((64, 64))
>>> lr = simulate_acquisition(hr, 4, PairTransform((0.3, -1.2)), fwhm_px=3.0, seed=0)
>>> lr.shape, lr.spacing
((16, 16), (4.0, 4.0))
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage

from geosr.core.image import Image, as_image
from geosr.core.per_axis import per_axis
from geosr.core.seeding import rng as make_rng
from geosr.degrade.psf import FWHM_PER_SIGMA
from geosr.degrade.steps import Downsample, GaussianBlur, IntensityMap, PoissonGaussianNoise
from geosr.pairs.transform import PairTransform

__all__ = ["simulate_acquisition", "reference_level", "random_transform"]


def reference_level(hr: np.ndarray) -> float:
    """The HR level that the gamma intensity map normalises by (99.5th percentile, or 1)."""
    top = float(np.percentile(np.asarray(hr, dtype=np.float64), 99.5))
    return top if top > 0 else 1.0


def random_transform(rng: np.random.Generator | int, dims: int, max_shift_lr_px: float = 6.0,
                     max_rotation_deg: float = 1.5) -> PairTransform:
    """A uniform random shift (±``max_shift_lr_px`` per axis) and rotation (±deg)."""
    gen = make_rng(rng)
    shift = tuple(float(v) for v in gen.uniform(-max_shift_lr_px, max_shift_lr_px, dims))
    rot = float(gen.uniform(-max_rotation_deg, max_rotation_deg)) if max_rotation_deg else 0.0
    return PairTransform(shift, rot)


def simulate_acquisition(hr: Image | np.ndarray, scale: int | Sequence[int],
                         transform: PairTransform, *, fwhm_px: float | Sequence[float],
                         a: float = 1.0, b: float = 0.0, gamma: float = 1.0,
                         photons: float | None = None, read_noise: float = 0.0,
                         seed: int | np.random.Generator | None = 0) -> Image:
    """The LR image of ``hr`` (field of ``hr.shape // scale`` LR pixels; content beyond the HR
    border is mirrored — the registration crops it away; the blur at the edge of the LR field
    sees the scene beyond that edge, not a reflection of the field).

    ``fwhm_px``: PSF FWHM in HR pixels (one, or per axis); ``a``, ``b``, ``gamma``: the
    intensity map; ``photons`` (per LR intensity unit) and ``read_noise`` (LR units): the
    Poisson–Gaussian noise. The LR spacing is ``scale ×`` the HR spacing.
    """
    image = as_image(hr)
    values = np.asarray(image.numpy(), dtype=np.float64)
    dims = values.ndim
    factors = per_axis(scale, dims, where="scale", kind=int, minimum=1)
    fine = tuple((n // f) * f for n, f in zip(values.shape, factors))
    fwhm = fwhm_px if np.ndim(fwhm_px) == 0 else tuple(float(v) for v in fwhm_px)
    # the field is warped with a margin of whole LR pixels wider than the blur's support and
    # cropped after the blur: the edge pixels of the LR field see the scene beyond the field
    # (as an instrument does), not a reflected copy of the field's own edge
    pad = [f * (int(np.ceil(4.0 * s / f)) + 1) for s, f in
           zip(np.broadcast_to(np.asarray(fwhm, dtype=np.float64) / FWHM_PER_SIGMA, (dims,)),
               factors)]
    q = transform.hr_coordinates(tuple(n + 2 * p for n, p in zip(fine, pad)), factors,
                                 values.shape, tuple(-p for p in pad))
    warped = ndimage.map_coordinates(values, q, order=3, mode="mirror")
    blurred = GaussianBlur(fwhm_px=fwhm)(image.replace(data=warped))
    inner = tuple(slice(p, p + n) for p, n in zip(pad, fine))
    current = blurred.replace(data=np.asarray(blurred.numpy())[inner])
    current = Downsample(factors if len(set(factors)) > 1 else factors[0])(current)
    current = IntensityMap(a, gamma, reference_level(values) if gamma != 1.0 else None)(current)
    if photons is not None or read_noise > 0 or b != 0:
        current = PoissonGaussianNoise(photons, read_noise, offset=b)(current, make_rng(seed))
    return current
