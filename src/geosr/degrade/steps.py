"""The steps of the forward degradation model, each a small frozen dataclass.

Every step has

- ``__call__(image, rng) -> Image``: apply the step to a :class:`geosr.core.Image` (2D or 3D,
  with or without a channel axis ``C``; spatial steps act on each channel separately). Random
  steps need ``rng`` (a ``numpy.random.Generator`` or an int seed); deterministic steps ignore
  it.
- ``params(image=None) -> dict``: a JSON-serialisable record with the step ``name``, its
  constructor arguments (so :func:`step_from_params` rebuilds it) and, when ``image`` (the
  step's input) is given, the values actually used (sigma in pixels, crops, saturation, ...).

Steps
-----
- :class:`GaussianBlur`: Gaussian PSF of a given FWHM in µm (per axis or isotropic).
- :class:`MicroscopePSF`: Gaussian approximation of a widefield/confocal PSF from λ, NA, n.
- :class:`Downsample`: area-integrating (mean) binning by integer factors per axis.
- :class:`PoissonGaussianNoise`: shot noise + Gaussian read noise + offset.
- :class:`Quantize`: detector digitisation to 1-16 bits (uint8/uint16).

Blur and downsampling are linear and also provide ``axis_matrices(shape, spacing_um)``, used by
:meth:`geosr.degrade.ForwardModel.linear_operator` to build the exact operator and adjoint.

Example
-------
>>> import numpy as np
>>> from geosr.core import Image
>>> img = Image(np.ones((8, 8)), "YX", spacing=(0.1, 0.1))
>>> out = Downsample(4)(GaussianBlur(fwhm_um=0.4)(img, None), None)
>>> out.shape, out.spacing, tuple(round(o, 6) for o in out.origin)
((2, 2), (0.4, 0.4), (0.15, 0.15))
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np
from scipy import ndimage

from geosr.core.errors import ConfigError, InputError
from geosr.core.image import Image
from geosr.core.per_axis import per_axis
from geosr.core.registry import Registry
from geosr.core.seeding import rng as make_rng
from geosr.degrade.operator import blur_matrix, block_mean_matrix
from geosr.degrade.psf import (
    DEFAULT_REFRACTIVE_INDEX, FWHM_PER_SIGMA, gaussian_kernel1d, kernel_radius,
    microscope_sigma_um,
)

__all__ = [
    "Step", "GaussianBlur", "MicroscopePSF", "Downsample", "PoissonGaussianNoise", "Quantize",
    "IntensityMap", "STEPS", "register_step", "step_from_params",
]


@runtime_checkable
class Step(Protocol):
    """What a degradation step provides (a protocol; the steps below implement it)."""

    name: ClassVar[str]
    linear: ClassVar[bool]

    def __call__(self, image: Image, rng: np.random.Generator | int | None) -> Image: ...

    def params(self, image: Image | None = None) -> dict[str, Any]: ...


# ----------------------------------------------------------------------------- helpers
def _spatial_axes(image: Image) -> list[int]:
    start = 1 if image.has_channels else 0
    return list(range(start, start + image.dims))


def _float_values(image: Image) -> np.ndarray:
    return np.asarray(image.numpy(), dtype=np.float64)


def _number(value: Any, where: str, *, minimum: float | None = None, strict: bool = False,
            allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool):
        raise ConfigError(f"expected a number, got {value!r}", where=where)
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"expected a number, got {value!r}", where=where) from None
    if not math.isfinite(out):
        raise ConfigError(f"must be finite, got {value!r}", where=where)
    if minimum is not None and (out <= minimum if strict else out < minimum):
        raise ConfigError(f"must be {'>' if strict else '>='} {minimum}, got {value!r}",
                          where=where)
    return out


def _per_axis_values(value: float | tuple[float, ...], dims: int, where: str,
                     axes: str) -> tuple[float, ...]:
    """One value or one per spatial axis of the image (:func:`geosr.core.per_axis.per_axis`)."""
    return per_axis(value, dims, where=where, kind=None, axes=axes, error=InputError)


def _require_rng(rng: Any, step: str) -> np.random.Generator:
    if rng is None:
        raise ConfigError(f"the {step} step is random and needs a seed or a "
                          "numpy.random.Generator", where="seed",
                          hint="pass rng=numpy.random.default_rng(0) or an int seed")
    return make_rng(rng)


# ------------------------------------------------------------------------------ blur
@dataclasses.dataclass(frozen=True)
class GaussianBlur:
    """Gaussian PSF blur specified in physical units (or in input pixels).

    Parameters
    ----------
    fwhm_um:
        Full width at half maximum in µm: one value (isotropic) or one per spatial axis in the
        image's axis order (``(z, y, x)`` for ZYX). 0 means no blur along that axis.
    truncate:
        Kernel half-length in sigmas (scipy's default 4.0).
    fwhm_px:
        Alternative to ``fwhm_um``: the FWHM in pixels of the step's input image (one value or
        one per axis), converted to µm with the image spacing when applied. Used for the
        anti-alias default of :func:`geosr.degrade.degrade` (FWHM = one output pixel). Give
        exactly one of ``fwhm_um`` and ``fwhm_px``.

    Per axis ``sigma_px = fwhm_um / (2 sqrt(2 ln 2)) / spacing_um``. The boundary is scipy's
    ``mode='reflect'`` (``d c b a | a b c d``), so the blur preserves the total intensity
    exactly; the result is float64 and identical to
    ``scipy.ndimage.gaussian_filter(x, sigma_px, mode='reflect', truncate=4.0)``.

    >>> GaussianBlur(fwhm_um=(1.0, 0.3)).params()["fwhm_um"]
    [1.0, 0.3]
    """

    fwhm_um: float | tuple[float, ...] | None = None
    truncate: float = 4.0
    fwhm_px: float | tuple[float, ...] | None = None

    name: ClassVar[str] = "gaussian_blur"
    linear: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if (self.fwhm_um is None) == (self.fwhm_px is None):
            raise ConfigError("give exactly one of fwhm_um and fwhm_px", where="fwhm_um")
        for field in ("fwhm_um", "fwhm_px"):
            value = getattr(self, field)
            if value is not None:
                object.__setattr__(self, field, _widths(value, field))
        object.__setattr__(self, "truncate", _number(self.truncate, "truncate", minimum=0.0,
                                                     strict=True))

    def fwhm_per_axis(self, dims: int, axes: str = "",
                      spacing_um: Sequence[float] | None = None) -> tuple[float, ...]:
        """The FWHM in µm along each of ``dims`` spatial axes (``spacing_um`` is needed when
        the width was given in pixels)."""
        axes = axes or "ZYX"[-dims:]
        if self.fwhm_um is not None:
            return _per_axis_values(self.fwhm_um, dims, "fwhm_um", axes)
        if spacing_um is None:
            raise ConfigError("a blur given in pixels needs the pixel spacing",
                              where="spacing_um")
        px = _per_axis_values(self.fwhm_px, dims, "fwhm_px", axes)
        return tuple(p * s for p, s in zip(px, spacing_um))

    def sigma_px(self, spacing_um: Sequence[float], axes: str = "") -> tuple[float, ...]:
        """Sigma in pixels along each axis for pixels of ``spacing_um`` µm."""
        fwhm = self.fwhm_per_axis(len(spacing_um), axes, spacing_um)
        return tuple(f / FWHM_PER_SIGMA / s for f, s in zip(fwhm, spacing_um))

    def __call__(self, image: Image, rng: Any = None) -> Image:
        values = _float_values(image)
        for axis, sigma in zip(_spatial_axes(image),
                               self.sigma_px(image.spacing_um, image.spatial_axes)):
            weights = gaussian_kernel1d(sigma, self.truncate)
            if len(weights) > 1:
                values = ndimage.correlate1d(values, weights, axis=axis, mode="reflect")
        return image.replace(data=values)

    def axis_matrices(self, shape: Sequence[int], spacing_um: Sequence[float]):
        """Per-axis sparse blur matrices, and the (unchanged) shape and spacing."""
        sigma = self.sigma_px(spacing_um)
        return ([blur_matrix(n, s, self.truncate) for n, s in zip(shape, sigma)],
                tuple(shape), tuple(spacing_um))

    def params(self, image: Image | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name, "fwhm_um": _jsonable_widths(self.fwhm_um),
            "fwhm_px": _jsonable_widths(self.fwhm_px), "truncate": self.truncate,
            "mode": "reflect",
        }
        if image is not None:
            out.update(_blur_resolved(self, image))
        return out


def _widths(value: Any, where: str) -> float | tuple[float, ...]:
    if np.ndim(value) == 0:
        return _number(value, where, minimum=0.0)
    widths = tuple(_number(v, where, minimum=0.0) for v in value)
    if len(widths) not in (1, 2, 3):
        raise ConfigError(f"expected 1, 2 or 3 values, got {len(widths)}", where=where)
    return widths[0] if len(widths) == 1 else widths


def _jsonable_widths(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _blur_resolved(blur: GaussianBlur, image: Image) -> dict[str, Any]:
    fwhm = blur.fwhm_per_axis(image.dims, image.spatial_axes, image.spacing_um)
    sigma_px = blur.sigma_px(image.spacing_um, image.spatial_axes)
    return {
        "axes": image.spatial_axes,
        "fwhm_um_per_axis": list(fwhm),
        "sigma_um": [f / FWHM_PER_SIGMA for f in fwhm],
        "sigma_px": list(sigma_px),
        "fwhm_px_per_axis": [s * FWHM_PER_SIGMA for s in sigma_px],
        "kernel_radius_px": [kernel_radius(s, blur.truncate) for s in sigma_px],
        "spacing_um": list(image.spacing_um),
    }


@dataclasses.dataclass(frozen=True)
class MicroscopePSF:
    """Gaussian approximation of a fluorescence-microscope PSF (Zhang et al. 2007, paraxial).

    Parameters
    ----------
    wavelength_nm:
        Emission wavelength, nm.
    na:
        Numerical aperture (< ``refractive_index``).
    refractive_index:
        Immersion/specimen refractive index; default 1.518 (oil immersion, the usual medium for
        NA 1.3-1.4 objectives); use 1.33 for water. Only the axial width depends on it.
    kind:
        ``"widefield"`` or ``"confocal"``.
    pinhole_au:
        Confocal pinhole diameter in Airy units (1 AU = 1.22 λ_em/NA); None = small-pinhole
        limit.
    excitation_nm:
        Confocal excitation wavelength, nm (None: equal to the emission wavelength).
    truncate:
        Kernel half-length in sigmas.

    The formulas (see :mod:`geosr.degrade.psf`): widefield ``σ_xy = √2/(k NA) ≈ 0.225 λ/NA``,
    ``σ_z = 2√6 n/(k NA²) ≈ 0.780 n λ/NA²``; confocal, small pinhole, λ_ex = λ_em:
    ``σ_xy = 1/(k NA) ≈ 0.159 λ/NA``, ``σ_z = 2√3 n/(k NA²) ≈ 0.551 n λ/NA²`` (``k = 2π/λ``).
    A 3D image (ZYX) is blurred with ``(σ_z, σ_xy, σ_xy)``; a 2D image with the lateral sigma
    only.

    >>> psf = MicroscopePSF(wavelength_nm=520, na=1.4)
    >>> [round(v, 4) for v in psf.fwhm_per_axis(3)]
    [0.7394, 0.1969, 0.1969]
    """

    wavelength_nm: float
    na: float
    refractive_index: float = DEFAULT_REFRACTIVE_INDEX
    kind: str = "widefield"
    pinhole_au: float | None = None
    excitation_nm: float | None = None
    truncate: float = 4.0

    name: ClassVar[str] = "microscope_psf"
    linear: ClassVar[bool] = True

    def __post_init__(self) -> None:
        self.psf()  # validates

    def psf(self) -> dict[str, Any]:
        """The lateral/axial sigma and FWHM (µm) and the formula used."""
        return microscope_sigma_um(self.wavelength_nm, self.na,
                                   refractive_index=self.refractive_index, kind=self.kind,
                                   pinhole_au=self.pinhole_au, excitation_nm=self.excitation_nm)

    def fwhm_per_axis(self, dims: int) -> tuple[float, ...]:
        """FWHM in µm per spatial axis: 2D ``(xy, xy)``, 3D ``(z, xy, xy)``."""
        psf = self.psf()
        lateral, axial = psf["fwhm_lateral_um"], psf["fwhm_axial_um"]
        if dims == 2:
            return (lateral, lateral)
        if dims == 3:
            return (axial, lateral, lateral)
        raise InputError(f"the microscope PSF needs a 2D or 3D image, got {dims} spatial axes",
                         where="image")

    def as_blur(self, dims: int) -> GaussianBlur:
        """The equivalent :class:`GaussianBlur` for ``dims`` spatial axes."""
        return GaussianBlur(fwhm_um=self.fwhm_per_axis(dims), truncate=self.truncate)

    def __call__(self, image: Image, rng: Any = None) -> Image:
        return self.as_blur(image.dims)(image, rng)

    def axis_matrices(self, shape: Sequence[int], spacing_um: Sequence[float]):
        return self.as_blur(len(shape)).axis_matrices(shape, spacing_um)

    def params(self, image: Image | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name, "wavelength_nm": float(self.wavelength_nm), "na": float(self.na),
            "refractive_index": float(self.refractive_index), "kind": self.kind,
            "pinhole_au": self.pinhole_au, "excitation_nm": self.excitation_nm,
            "truncate": self.truncate, "mode": "reflect", "psf": self.psf(),
        }
        if image is not None:
            out.update(_blur_resolved(self.as_blur(image.dims), image))
        return out


# ------------------------------------------------------------------------ downsample
@dataclasses.dataclass(frozen=True)
class Downsample:
    """Area-integrating downsampling: the mean over non-overlapping blocks.

    Parameters
    ----------
    factors:
        Positive integer factor, one (all spatial axes) or one per spatial axis in the image's
        axis order, e.g. ``(4, 1, 1)`` for a z-only reduction of a ZYX stack.
    crop:
        If a factor does not divide the size of its axis, drop the trailing pixels (recorded in
        :meth:`params` as ``cropped_px``) instead of raising :class:`InputError`.

    The spacing is multiplied by the factor and the origin (centre of the first pixel) moves to
    the centre of the first block: ``origin + (f - 1) / 2 * spacing``. Block means preserve the
    mean intensity (and a constant image); the result is float64.

    >>> Downsample((4, 1, 1)).params()["factors"]
    [4, 1, 1]
    """

    factors: int | tuple[int, ...]
    crop: bool = False

    name: ClassVar[str] = "downsample"
    linear: ClassVar[bool] = True

    def __post_init__(self) -> None:
        raw = self.factors if np.ndim(self.factors) else (self.factors,)
        facs = tuple(_integer_factor(v) for v in raw)
        if len(facs) not in (1, 2, 3):
            raise ConfigError(f"expected 1, 2 or 3 factors, got {len(facs)}", where="scale")
        object.__setattr__(self, "factors", facs[0] if len(facs) == 1 else facs)
        object.__setattr__(self, "crop", bool(self.crop))

    def factors_per_axis(self, dims: int, axes: str = "") -> tuple[int, ...]:
        return _per_axis_values(self.factors, dims, "scale", axes or "ZYX"[-dims:])

    def plan(self, shape: Sequence[int], axes: str = "") -> tuple[tuple[int, ...], ...]:
        """``(factors, cropped_px, out_shape)`` for a spatial shape; raises :class:`InputError`
        naming the axes and the crop that would work when a factor does not divide."""
        axes = axes or "ZYX"[-len(shape):]
        facs = self.factors_per_axis(len(shape), axes)
        cropped = tuple(n % f for n, f in zip(shape, facs))
        too_small = [f"{a} ({n} px < factor {f})" for a, n, f in zip(axes, shape, facs) if n < f]
        if too_small:
            raise InputError("the image is smaller than one block along " +
                             ", ".join(too_small), where="scale",
                             hint="use a smaller scale or a larger image")
        if any(cropped) and not self.crop:
            bad = [(a, n, f) for a, n, f, c in zip(axes, shape, facs, cropped) if c]
            what = "; ".join(f"factor {f} does not divide {a} = {n} px" for a, n, f in bad)
            crop = " and ".join(f"crop {a} to {n - n % f}" for a, n, f in bad)
            raise InputError(what, where="scale", hint=f"{crop}, or pass crop=True to drop the "
                             "trailing pixels")
        out = tuple(n // f for n, f in zip(shape, facs))
        return facs, cropped, out

    def __call__(self, image: Image, rng: Any = None) -> Image:
        facs, cropped, out_shape = self.plan(image.spatial_shape, image.spatial_axes)
        values = _float_values(image)
        if image.has_channels:
            values = values[(slice(None),) + tuple(slice(0, o * f)
                                                   for o, f in zip(out_shape, facs))]
            blocked: list[int] = [values.shape[0]]
            mean_axes = []
        else:
            values = values[tuple(slice(0, o * f) for o, f in zip(out_shape, facs))]
            blocked, mean_axes = [], []
        for o, f in zip(out_shape, facs):
            blocked += [o, f]
            mean_axes.append(len(blocked) - 1)
        if any(f > 1 for f in facs):
            values = values.reshape(blocked).mean(axis=tuple(mean_axes))
        spacing = tuple(s * f for s, f in zip(image.spacing, facs))
        origin = tuple(o + (f - 1) / 2.0 * s for o, s, f in zip(image.origin, image.spacing,
                                                                 facs))
        return image.replace(data=np.ascontiguousarray(values), spacing=spacing, origin=origin)

    def axis_matrices(self, shape: Sequence[int], spacing_um: Sequence[float]):
        facs, _, out_shape = self.plan(shape)
        return ([block_mean_matrix(n, f, self.crop) for n, f in zip(shape, facs)], out_shape,
                tuple(s * f for s, f in zip(spacing_um, facs)))

    def params(self, image: Image | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "factors": list(self.factors) if isinstance(self.factors, tuple) else self.factors,
            "crop": self.crop, "reduction": "mean",
        }
        if image is not None:
            facs, cropped, out_shape = self.plan(image.spatial_shape, image.spatial_axes)
            out.update({
                "axes": image.spatial_axes, "factors_per_axis": list(facs),
                "cropped_px": list(cropped), "input_shape": list(image.spatial_shape),
                "output_shape": list(out_shape), "unit": image.unit,
                "input_spacing": list(image.spacing),
                "output_spacing": [s * f for s, f in zip(image.spacing, facs)],
                "input_origin": list(image.origin),
                "output_origin": [o + (f - 1) / 2.0 * s
                                  for o, s, f in zip(image.origin, image.spacing, facs)],
            })
        return out


def _integer_factor(value: Any) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"scale must be a positive integer, got {value!r}", where="scale")
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"scale must be a positive integer, got {value!r}",
                          where="scale") from None
    if not math.isfinite(as_float) or as_float != int(as_float):
        raise ConfigError(f"scale must be a positive integer, got {value!r}", where="scale",
                          hint="area-integrating downsampling needs whole blocks (2, 3, 4, 8)")
    if as_float < 1:
        raise ConfigError(f"scale must be a positive integer (>= 1), got {value!r}",
                          where="scale")
    return int(as_float)


# ----------------------------------------------------------------------------- noise
@dataclasses.dataclass(frozen=True)
class PoissonGaussianNoise:
    """Poisson (shot) noise plus Gaussian read noise plus a constant offset, in the image's
    intensity units.

    ``out = Poisson(photons_per_unit * max(I, 0)) / photons_per_unit
    + Normal(0, read_noise²) + offset``

    Parameters
    ----------
    photons_per_unit:
        Expected photo-electrons per unit of intensity (the inverse gain), > 0; None = no shot
        noise (Gaussian read noise only).
    read_noise:
        Standard deviation of the Gaussian read noise **in intensity units** (the image's
        units, not electrons); ``read_noise * photons_per_unit`` is the read noise in electrons
        (recorded as ``read_noise_e``).
    offset:
        Constant added after the noise (camera baseline), intensity units.

    For a noise-free intensity ``I >= 0``: mean ``I + offset``, variance
    ``I / photons_per_unit + read_noise²``. Negative intensities give no shot noise. The
    output is float64 (it can be negative where read noise exceeds the signal + offset).

    >>> import numpy as np
    >>> from geosr.core import Image
    >>> img = Image(np.full((4, 4), 2.0), "YX")
    >>> out = PoissonGaussianNoise(photons_per_unit=100.0)(img, np.random.default_rng(0))
    >>> out.dtype
    dtype('float64')
    """

    photons_per_unit: float | None
    read_noise: float = 0.0
    offset: float = 0.0

    name: ClassVar[str] = "poisson_gaussian_noise"
    linear: ClassVar[bool] = False

    _MAX_LAMBDA: ClassVar[float] = 1e15

    def __post_init__(self) -> None:
        object.__setattr__(self, "photons_per_unit",
                           _number(self.photons_per_unit, "photons", minimum=0.0, strict=True,
                                   allow_none=True))
        object.__setattr__(self, "read_noise", _number(self.read_noise, "read_noise",
                                                       minimum=0.0))
        object.__setattr__(self, "offset", _number(self.offset, "offset"))

    def __call__(self, image: Image, rng: Any) -> Image:
        gen = _require_rng(rng, "noise")
        values = _float_values(image)
        p = self.photons_per_unit
        if p is not None:
            lam = p * np.maximum(values, 0.0)
            if lam.size and float(lam.max()) > self._MAX_LAMBDA:
                raise ConfigError(
                    f"photons × intensity reaches {float(lam.max()):.3g}, beyond what the "
                    "Poisson sampler accepts", where="photons",
                    hint="lower photons (or rescale the image) so that photons × max(I) < 1e15")
            values = gen.poisson(lam).astype(np.float64) / p
        if self.read_noise > 0:
            values = values + gen.normal(0.0, self.read_noise, size=values.shape)
        if self.offset != 0:
            values = values + self.offset
        return image.replace(data=values)

    def params(self, image: Image | None = None) -> dict[str, Any]:
        p = self.photons_per_unit
        out: dict[str, Any] = {
            "name": self.name, "photons_per_unit": p, "read_noise": self.read_noise,
            "offset": self.offset,
            "read_noise_e": None if p is None else self.read_noise * p,
            "read_noise_unit": "image intensity units (std of the Gaussian term)",
            "model": "Poisson(photons_per_unit*max(I,0))/photons_per_unit + "
                     "Normal(0, read_noise^2) + offset",
            "variance": "I/photons_per_unit + read_noise^2",
        }
        if image is not None:
            values = _float_values(image)
            mean_i = float(np.maximum(values, 0.0).mean())
            out["mean_input"] = float(values.mean())
            if p is not None:
                out["mean_photons_per_pixel"] = mean_i * p
            noise_var = (mean_i / p if p is not None else 0.0) + self.read_noise ** 2
            out["snr_at_mean"] = mean_i / math.sqrt(noise_var) if noise_var > 0 else None
        return out


# --------------------------------------------------------------------------- quantize
@dataclasses.dataclass(frozen=True)
class Quantize:
    """Detector digitisation: clip, scale to ``0 .. 2**bit_depth - 1`` and round.

    ``level = rint(clip((I - black_level) / (saturation - black_level), 0, 1) * (2**b - 1))``

    Parameters
    ----------
    bit_depth:
        1 to 16 (8, 12 and 16 are the usual); stored as uint8 for <= 8 bits, else uint16
        (12-bit values occupy 0..4095 of a uint16).
    saturation:
        Intensity mapped to the top level (``2**b - 1``); brighter pixels saturate. None uses
        the maximum of the step's input (recorded in :meth:`params` as the value used, with
        ``saturation_from = "data max"``).
    black_level:
        Intensity mapped to level 0; darker pixels clip to 0.
    as_float:
        False (default): return the integer levels (uint8/uint16), like a raw detector file.
        True: return the dequantised intensities ``black_level + level * intensity_per_level``
        as float64 (same units as the input, with the rounding and clipping applied).

    To undo the scaling of the integer output: ``I ≈ black_level + level *
    intensity_per_level`` with ``intensity_per_level = (saturation - black_level) /
    (2**bit_depth - 1)``; both are in :meth:`params` and in the degradation record.

    >>> import numpy as np
    >>> from geosr.core import Image
    >>> q = Quantize(8, saturation=1.0)
    >>> q(Image(np.array([[-0.1, 0.5], [1.0, 2.0]]), "YX"), None).data
    array([[  0, 128],
           [255, 255]], dtype=uint8)
    """

    bit_depth: int
    saturation: float | None = None
    black_level: float = 0.0
    as_float: bool = False

    name: ClassVar[str] = "quantize"
    linear: ClassVar[bool] = False

    def __post_init__(self) -> None:
        b = self.bit_depth
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or not 1 <= int(b) <= 16:
            raise ConfigError(f"bit depth must be an integer from 1 to 16, got {b!r}",
                              where="bit_depth", hint="use 8, 12 or 16")
        object.__setattr__(self, "bit_depth", int(b))
        object.__setattr__(self, "black_level", _number(self.black_level, "black_level"))
        sat = _number(self.saturation, "saturation", allow_none=True)
        if sat is not None and sat <= self.black_level:
            raise ConfigError(f"saturation {sat} must be above the black level "
                              f"{self.black_level}", where="saturation")
        object.__setattr__(self, "saturation", sat)
        object.__setattr__(self, "as_float", bool(self.as_float))

    @property
    def levels(self) -> int:
        """The top level, ``2**bit_depth - 1``."""
        return 2 ** self.bit_depth - 1

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8 if self.bit_depth <= 8 else np.uint16)

    def resolve_saturation(self, values: np.ndarray) -> float:
        """The saturation used for ``values``: the given one, or their maximum (or
        ``black_level + 1`` when the maximum is not above the black level)."""
        if self.saturation is not None:
            return self.saturation
        top = float(np.max(values))
        return top if top > self.black_level else self.black_level + 1.0

    def __call__(self, image: Image, rng: Any = None) -> Image:
        values = _float_values(image)
        sat = self.resolve_saturation(values)
        scaled = (values - self.black_level) * (self.levels / (sat - self.black_level))
        levels = np.rint(np.clip(scaled, 0.0, float(self.levels)))
        if self.as_float:
            step = (sat - self.black_level) / self.levels
            return image.replace(data=self.black_level + levels * step)
        return image.replace(data=levels.astype(self.dtype))

    def params(self, image: Image | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name, "bit_depth": self.bit_depth, "saturation": self.saturation,
            "black_level": self.black_level, "as_float": self.as_float,
            "levels": self.levels, "dtype": "float64" if self.as_float else str(self.dtype),
            "rounding": "round half to even (numpy.rint) after clipping",
            "inverse": "intensity = black_level + level * intensity_per_level",
        }
        if image is not None:
            values = _float_values(image)
            sat = self.resolve_saturation(values)
            out.update({
                "saturation": sat,
                "saturation_from": "given" if self.saturation is not None else "data max",
                "intensity_per_level": (sat - self.black_level) / self.levels,
                "fraction_saturated": float(np.mean(values >= sat)),
                "fraction_below_black": float(np.mean(values < self.black_level)),
            })
        elif self.saturation is not None:
            out["intensity_per_level"] = (self.saturation - self.black_level) / self.levels
        return out


# ----------------------------------------------------------------------- intensity map
@dataclasses.dataclass(frozen=True)
class IntensityMap:
    """A monotone map between two acquisitions' intensity units (gain and gamma; the offset
    belongs to :class:`PoissonGaussianNoise` so that the noise model sees the signal above
    it): ``out = a · I`` (``gamma == 1``) or ``out = a · (max(I, 0) / m_ref)^gamma``.

    Used by the forward model fitted from experimental pairs (:mod:`geosr.pairs`), between the
    binning and the noise: the HR instrument's units in, the LR instrument's units out.

    >>> import numpy as np
    >>> from geosr.core import Image
    >>> IntensityMap(a=2.0)(Image(np.ones((2, 2)), "YX")).data
    array([[2., 2.],
           [2., 2.]])
    """

    a: float = 1.0
    gamma: float = 1.0
    m_ref: float | None = None

    name: ClassVar[str] = "intensity_map"
    linear: ClassVar[bool] = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "a", _number(self.a, "a"))
        object.__setattr__(self, "gamma", _number(self.gamma, "gamma", minimum=0.0,
                                                  strict=True))
        ref = _number(self.m_ref, "m_ref", minimum=0.0, strict=True, allow_none=True)
        if self.gamma != 1.0 and ref is None:
            raise ConfigError("a gamma map needs m_ref (the level mapped to 1)", where="m_ref")
        object.__setattr__(self, "m_ref", ref)

    def __call__(self, image: Image, rng: Any = None) -> Image:
        values = _float_values(image)
        if self.gamma != 1.0:
            values = np.maximum(values / self.m_ref, 0.0) ** self.gamma
        return image.replace(data=self.a * values)

    def params(self, image: Image | None = None) -> dict[str, Any]:
        return {"name": self.name, "a": self.a, "gamma": self.gamma, "m_ref": self.m_ref,
                "formula": "a * I if gamma == 1 else a * (max(I, 0) / m_ref)^gamma"}


# --------------------------------------------------------------------------- registry
#: Degradation steps by ``name`` (a :class:`geosr.core.registry.Registry`; indexable like the
#: dict it replaces). A new step: a frozen dataclass implementing :class:`Step`, decorated
#: with :func:`register_step`.
STEPS: Registry[type] = Registry("degradation step", where="steps", hint_label="use one of",
                                 sort_names=False)


def register_step(cls: type) -> type:
    """Class decorator registering a :class:`Step` under its ``name`` (so that
    :func:`step_from_params` rebuilds it from a record)."""
    return STEPS.add(cls.name, cls)


for _cls in (GaussianBlur, MicroscopePSF, Downsample, PoissonGaussianNoise, Quantize,
             IntensityMap):
    register_step(_cls)
del _cls


def step_from_params(params: Mapping[str, Any]) -> Step:
    """Rebuild a step from its :meth:`params` record (the constructor arguments are read, the
    resolved values ignored; for :class:`Quantize` the *resolved* saturation is used so the
    rebuilt step reproduces the recorded output exactly).

    >>> step_from_params(GaussianBlur(0.5).params())
    GaussianBlur(fwhm_um=0.5, truncate=4.0, fwhm_px=None)
    """
    name = params.get("name")
    if name not in STEPS:
        raise ConfigError(f"unknown degradation step {name!r}", where="steps",
                          hint="use one of " + ", ".join(sorted(STEPS)))
    cls = STEPS[name]
    kwargs = {}
    for field in dataclasses.fields(cls):
        if field.name in params:
            value = params[field.name]
            kwargs[field.name] = tuple(value) if isinstance(value, list) else value
    return cls(**kwargs)
