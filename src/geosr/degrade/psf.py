"""Point-spread functions in physical units: FWHM/sigma conversions, the sampled 1D Gaussian
kernel used by every blur in :mod:`geosr.degrade`, and the Gaussian approximation of the
widefield and confocal fluorescence-microscope PSFs.

Conventions
-----------
- A Gaussian PSF ``exp(-x² / (2 σ²))`` has ``FWHM = 2 sqrt(2 ln 2) σ ≈ 2.3548 σ``.
- Physical lengths are in micrometres (``*_um``), wavelengths in nanometres (``*_nm``); the
  conversion to pixels is ``sigma_px = fwhm_um / (2 sqrt(2 ln 2)) / spacing_um``.
- :func:`gaussian_kernel1d` reproduces :func:`scipy.ndimage.gaussian_filter1d` exactly: radius
  ``int(truncate * sigma_px + 0.5)`` (``truncate = 4``), weights ``exp(-x² / (2 σ²))``
  normalised to sum 1. A sigma of 0 is the identity (kernel ``[1.0]``).

Microscope PSF (Zhang, Zerubia & Olivo-Marin, "Gaussian approximations of fluorescence
microscope point-spread function models", Applied Optics 46(10):1819-1829, 2007,
doi:10.1364/AO.46.001819), *paraxial* closed forms of their Tables 2 (lateral) and 3 (axial),
with ``k = 2π/λ``, ``n`` the refractive index of the immersion/specimen medium and ``NA`` the
numerical aperture:

- widefield (WFFM):  ``σ_xy = √2 / (k_em NA)``            ≈ 0.2251 λ_em / NA
                     ``σ_z  = 2√6 n / (k_em NA²)``         ≈ 0.7797 n λ_em / NA²
- confocal (LSCM), pinhole of radius ``r`` (object space), ``c1 = k_ex r NA``,
  ``c2 = k_em r NA``, ``S = J0(c2)² + J1(c2)²``:

  ``σ_xy = √2 / sqrt( c1²/r² + (4 c2 J0(c2) J1(c2) − 8 J1(c2)²) / (r² (S − 1)) )``

  ``σ_z  = 2√6 / sqrt( c1² NA² / (r² n²) − (48 c2² S − 192 J1(c2)²) / (n² k_em² r⁴ (S − 1)) )``

  whose small-pinhole limit (``r → 0``, used when ``pinhole_au`` is None) is
  ``σ_xy = √2 / (NA sqrt(k_ex² + k_em²))`` and ``σ_z = 2√6 n / (NA² sqrt(k_ex² + k_em²))``,
  i.e. ≈ 0.1592 λ/NA and ≈ 0.5513 n λ/NA² when excitation and emission wavelengths are equal.
  For a large pinhole they tend to the widefield values at the excitation wavelength.

The pinhole size ``pinhole_au`` is the pinhole *diameter* back-projected to the sample in Airy
units, ``1 AU = 1.22 λ_em / NA``, so ``r = 0.61 · pinhole_au · λ_em / NA``.

These constants are the paper's paraxial (Taylor-matched) ones; rounded "rule of thumb" values
such as 0.21 λ/NA (a least-squares fit to the 2D Airy disk) differ from them by a few percent.

Example
-------
>>> round(fwhm_to_sigma(2.3548200450309493), 6)
1.0
>>> psf = microscope_sigma_um(wavelength_nm=520, na=1.4, refractive_index=1.518)
>>> round(psf["sigma_lateral_um"], 4), round(psf["sigma_axial_um"], 4)
(0.0836, 0.314)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from geosr.core.errors import ConfigError

__all__ = [
    "FWHM_PER_SIGMA", "fwhm_to_sigma", "sigma_to_fwhm", "gaussian_kernel1d", "kernel_radius",
    "microscope_sigma_um", "MICROSCOPE_KINDS", "DEFAULT_REFRACTIVE_INDEX",
]

#: ``FWHM / sigma`` of a Gaussian, ``2 sqrt(2 ln 2)``.
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))

#: Refractive index used when none is given: oil immersion (1.518), the usual medium of the
#: high-NA (1.3-1.4) objectives used for confocal imaging of dentin and bone. Use 1.33 for
#: water-immersion objectives.
DEFAULT_REFRACTIVE_INDEX = 1.518

MICROSCOPE_KINDS = ("widefield", "confocal")

_SQRT2 = math.sqrt(2.0)
_TWO_SQRT6 = 2.0 * math.sqrt(6.0)


def fwhm_to_sigma(fwhm: Any) -> Any:
    """Gaussian sigma from a full width at half maximum (same unit): ``fwhm / 2.3548...``."""
    return np.asarray(fwhm, dtype=np.float64) / FWHM_PER_SIGMA if np.ndim(fwhm) else \
        float(fwhm) / FWHM_PER_SIGMA


def sigma_to_fwhm(sigma: Any) -> Any:
    """Full width at half maximum of a Gaussian of standard deviation ``sigma``."""
    return np.asarray(sigma, dtype=np.float64) * FWHM_PER_SIGMA if np.ndim(sigma) else \
        float(sigma) * FWHM_PER_SIGMA


def kernel_radius(sigma_px: float, truncate: float = 4.0) -> int:
    """Half-length in pixels of the sampled Gaussian kernel, as scipy computes it:
    ``int(truncate * sigma_px + 0.5)`` (0 for ``sigma_px == 0``)."""
    if sigma_px <= 0:
        return 0
    return int(truncate * float(sigma_px) + 0.5)


def gaussian_kernel1d(sigma_px: float, truncate: float = 4.0) -> np.ndarray:
    """The normalised 1D Gaussian kernel of :func:`scipy.ndimage.gaussian_filter1d`.

    Parameters
    ----------
    sigma_px:
        Standard deviation in pixels (>= 0); 0 gives the identity kernel ``[1.0]``.
    truncate:
        Kernel half-length in units of sigma (scipy's default 4.0).

    Returns
    -------
    numpy.ndarray
        Weights of length ``2 * radius + 1``, symmetric, summing to 1 (float64).

    >>> gaussian_kernel1d(0.0)
    array([1.])
    >>> w = gaussian_kernel1d(1.0); len(w), round(float(w.sum()), 12)
    (9, 1.0)
    """
    sigma_px = float(sigma_px)
    if not math.isfinite(sigma_px) or sigma_px < 0:
        raise ConfigError(f"sigma must be finite and >= 0 pixels, got {sigma_px}",
                          where="sigma_px")
    radius = kernel_radius(sigma_px, truncate)
    if radius == 0:
        return np.ones(1, dtype=np.float64)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    phi = np.exp(-0.5 / (sigma_px * sigma_px) * x * x)
    return phi / phi.sum()


def microscope_sigma_um(wavelength_nm: float, na: float, *,
                        refractive_index: float = DEFAULT_REFRACTIVE_INDEX,
                        kind: str = "widefield", pinhole_au: float | None = None,
                        excitation_nm: float | None = None) -> dict[str, Any]:
    """Lateral and axial sigma (µm) of the Gaussian approximation of a fluorescence PSF.

    Uses the paraxial formulas of Zhang, Zerubia & Olivo-Marin (Applied Optics 2007), written
    out in the module docstring.

    Parameters
    ----------
    wavelength_nm:
        Emission wavelength in nm (the detected light).
    na:
        Numerical aperture of the objective; must be below ``refractive_index``.
    refractive_index:
        Refractive index of the immersion/specimen medium (default 1.518, oil; 1.33 for water).
        It only enters the axial sigma.
    kind:
        ``"widefield"`` or ``"confocal"`` (laser-scanning confocal).
    pinhole_au:
        Confocal pinhole diameter in Airy units (``1 AU = 1.22 λ_em / NA``); None is the
        small-pinhole limit. Not allowed for widefield.
    excitation_nm:
        Confocal excitation wavelength in nm; None uses ``wavelength_nm`` (emission ≈
        excitation).

    Returns
    -------
    dict
        ``sigma_lateral_um``, ``sigma_axial_um``, ``fwhm_lateral_um``, ``fwhm_axial_um``,
        ``coef_lateral`` (σ_xy / (λ_em/NA)), ``coef_axial`` (σ_z / (n λ_em/NA²)), the inputs and
        a ``formula`` string naming the expressions used. JSON-serialisable.

    >>> d = microscope_sigma_um(500, 1.0, refractive_index=1.33)
    >>> round(d["coef_lateral"], 4), round(d["coef_axial"], 4)
    (0.2251, 0.7797)
    """
    from scipy.special import j0, j1

    wavelength_nm = _positive(wavelength_nm, "wavelength_nm")
    na = _positive(na, "na")
    n = _positive(refractive_index, "refractive_index")
    if na >= n:
        raise ConfigError(
            f"numerical aperture {na} must be smaller than the refractive index {n}",
            where="na", hint="check NA and refractive_index (1.33 water, 1.518 oil)")
    if kind not in MICROSCOPE_KINDS:
        raise ConfigError(f"unknown microscope kind {kind!r}", where="microscope",
                          hint="use 'widefield' or 'confocal'")
    if kind == "widefield" and (pinhole_au is not None or excitation_nm is not None):
        raise ConfigError("pinhole_au and excitation_nm apply to the confocal microscope only",
                          where="pinhole_au" if pinhole_au is not None else "excitation_nm",
                          hint="use microscope='confocal' or leave them unset")
    lam_em = wavelength_nm * 1e-3  # µm
    k_em = 2.0 * math.pi / lam_em
    record: dict[str, Any] = {
        "reference": "Zhang, Zerubia & Olivo-Marin, Appl. Opt. 46(10):1819 (2007), paraxial",
        "kind": kind, "wavelength_nm": wavelength_nm, "na": na, "refractive_index": n,
    }
    if kind == "widefield":
        sigma_xy = _SQRT2 / (k_em * na)
        sigma_z = _TWO_SQRT6 * n / (k_em * na * na)
        record["formula"] = ("sigma_xy = sqrt(2)/(k_em NA); sigma_z = 2 sqrt(6) n/(k_em NA^2); "
                             "k_em = 2 pi/lambda_em")
    else:
        lam_ex = _positive(excitation_nm, "excitation_nm") * 1e-3 if excitation_nm is not None \
            else lam_em
        k_ex = 2.0 * math.pi / lam_ex
        record["excitation_nm"] = lam_ex * 1e3
        record["pinhole_au"] = None if pinhole_au is None else _positive(pinhole_au,
                                                                         "pinhole_au")
        r = 0.0 if pinhole_au is None else 0.61 * float(pinhole_au) * lam_em / na
        c1, c2 = k_ex * r * na, k_em * r * na
        if c2 < 1e-2:  # small-pinhole limit (the closed form cancels numerically here)
            k_eff = math.sqrt(k_ex * k_ex + k_em * k_em)
            sigma_xy = _SQRT2 / (na * k_eff)
            sigma_z = _TWO_SQRT6 * n / (na * na * k_eff)
            record["formula"] = ("small-pinhole limit: sigma_xy = sqrt(2)/(NA sqrt(k_ex^2 + "
                                 "k_em^2)); sigma_z = 2 sqrt(6) n/(NA^2 sqrt(k_ex^2 + k_em^2))")
        else:
            jj0, jj1 = float(j0(c2)), float(j1(c2))
            s = jj0 * jj0 + jj1 * jj1
            lat_den = c1 * c1 / (r * r) + (4 * c2 * jj0 * jj1 - 8 * jj1 * jj1) / (r * r * (s - 1))
            ax_den = (c1 * c1 * na * na / (r * r * n * n)
                      - (48 * c2 * c2 * s - 192 * jj1 * jj1)
                      / (n * n * k_em * k_em * r ** 4 * (s - 1)))
            sigma_xy = _SQRT2 / math.sqrt(lat_den)
            sigma_z = _TWO_SQRT6 / math.sqrt(ax_den)
            record["pinhole_radius_um"] = r
            record["formula"] = ("Zhang 2007 Tables 2-3 paraxial LSCM with pinhole radius r = "
                                 "0.61 pinhole_au lambda_em/NA, c1 = k_ex r NA, c2 = k_em r NA")
    record.update(
        sigma_lateral_um=sigma_xy, sigma_axial_um=sigma_z,
        fwhm_lateral_um=sigma_xy * FWHM_PER_SIGMA, fwhm_axial_um=sigma_z * FWHM_PER_SIGMA,
        coef_lateral=sigma_xy * na / lam_em, coef_axial=sigma_z * na * na / (n * lam_em),
    )
    return record


def _positive(value: Any, where: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"expected a positive number, got {value!r}", where=where) from None
    if not math.isfinite(out) or out <= 0:
        raise ConfigError(f"must be a positive finite number, got {value!r}", where=where)
    return out
