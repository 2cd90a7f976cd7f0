"""Physics report: what the optics and the sampling of the input can support.

Light microscopy (incoherent fluorescence, emission wavelength λ, numerical aperture NA):

- Abbe limit ``d = λ / (2 NA)``; OTF cut-off ``f_c = 2 NA / λ`` (widefield) or ``4 NA / λ``
  (confocal, small pinhole, with λ the excitation wavelength);
- Nyquist pixel ``p_N = 1 / (2 f_c)``: ``λ/(4 NA)`` widefield, ``λ_ex/(8 NA)`` confocal (SVI
  Huygens' Nyquist calculator: 488 nm, NA 1.3 confocal → 46.9 nm);
- axial (when the refractive index n is known): ``Δz_N = λ / (2 n (1 − cos θ))`` widefield,
  ``λ / (4 n (1 − cos θ))`` confocal, ``sin θ = NA / n``.

X-ray micro-CT (or any Gaussian blur of known FWHM): the cut-off is where the Gaussian MTF falls
to 10 %, ``f_c = sqrt(ln 10 / 2) / (π σ)`` with ``σ = FWHM / 2.3548``.

Physically supported SR factor ``s_phys = max(1, p_LR / p_N)``: the output grid can be refined
until its pixel reaches the Nyquist pixel; beyond that, detail finer than ``d`` is made by the
model, not measured. The fraction of the prediction's spectral power above ``f_c`` (computed
with a Hann window, mean removed, frequencies scaled per axis by each axis' cut-off) is that
unmeasured part.

>>> r = physics_report(lr_spacing_um=0.1, scale=4, wavelength_nm=488, na=1.3,
...                    microscope="confocal")
>>> round(r["nyquist_pixel_um"] * 1000, 1), round(r["supported_scale"], 2)
(46.9, 2.13)
>>> r["warnings"][0][:40]
'the requested scale 4 exceeds the 2.13 t'
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from geosr.core.errors import ConfigError
from geosr.degrade.psf import FWHM_PER_SIGMA

__all__ = ["optical_limits", "physics_report", "power_above_cutoff", "ct_blur_um"]

_MTF10 = math.sqrt(math.log(10.0) / 2.0) / math.pi


def ct_blur_um(*, focal_spot_um: float, detector_pitch_um: float,
               magnification: float) -> dict[str, float]:
    """Object-plane blur and voxel size of a cone-beam micro-CT geometry:
    ``blur ≈ sqrt((s_f (M − 1)/M)² + (p_d/M)²)``, ``voxel = p_d / M`` (µm; ``M`` the
    geometric magnification). Use ``blur_um`` as ``blur_fwhm_um`` of :func:`physics_report`.

    >>> d = ct_blur_um(focal_spot_um=5.0, detector_pitch_um=50.0, magnification=10.0)
    >>> round(d["blur_um"], 3), d["voxel_um"]
    (6.727, 5.0)
    """
    m = float(magnification)
    if not (m >= 1.0 and focal_spot_um >= 0 and detector_pitch_um > 0):
        raise ConfigError("need magnification >= 1, focal spot >= 0 and pitch > 0 (µm)",
                          where="magnification")
    blur = math.hypot(focal_spot_um * (m - 1.0) / m, detector_pitch_um / m)
    return {"blur_um": blur, "voxel_um": detector_pitch_um / m,
            "formula": "sqrt((s_f (M-1)/M)^2 + (p_d/M)^2); voxel = p_d/M"}


def optical_limits(*, wavelength_nm: float | None = None, na: float | None = None,
                   microscope: str = "widefield", excitation_nm: float | None = None,
                   refractive_index: float | None = None,
                   blur_fwhm_um: float | None = None) -> dict[str, Any]:
    """Lateral (and axial when possible) cut-off frequency (cycles/µm), resolution ``d`` (µm)
    and Nyquist pixel (µm), from λ/NA or a Gaussian blur FWHM (µm)."""
    if wavelength_nm is not None and na is not None:
        if na <= 0 or wavelength_nm <= 0:
            raise ConfigError("wavelength and NA must be positive", where="na")
        lam = wavelength_nm * 1e-3
        if microscope == "confocal":
            lam_ex = (excitation_nm or wavelength_nm) * 1e-3
            fc = 4.0 * na / lam_ex
        elif microscope == "widefield":
            fc = 2.0 * na / lam
        else:
            raise ConfigError(f"unknown microscope {microscope!r}", where="microscope",
                              hint="widefield or confocal")
        out: dict[str, Any] = {
            "kind": microscope, "cutoff_cyc_per_um": fc, "resolution_um": lam / (2.0 * na),
            "nyquist_pixel_um": 1.0 / (2.0 * fc),
            "formula": "f_c = 2NA/lambda (widefield) or 4NA/lambda_ex (confocal); "
                       "d = lambda/(2NA); p_N = 1/(2 f_c)"}
        if refractive_index is not None and na < refractive_index:
            cos_t = math.sqrt(1.0 - (na / refractive_index) ** 2)
            dz = (lam if microscope == "widefield" else (excitation_nm or wavelength_nm) * 1e-3
                  / 2.0) / (2.0 * refractive_index * (1.0 - cos_t))
            out["axial_nyquist_pixel_um"] = dz
            out["axial_cutoff_cyc_per_um"] = 1.0 / (2.0 * dz)
        return out
    if blur_fwhm_um is not None:
        if blur_fwhm_um <= 0:
            raise ConfigError("blur FWHM must be positive", where="blur_fwhm_um")
        sigma = blur_fwhm_um / FWHM_PER_SIGMA
        fc = _MTF10 / sigma
        return {"kind": "gaussian blur (CT or known PSF)", "cutoff_cyc_per_um": fc,
                "resolution_um": blur_fwhm_um, "nyquist_pixel_um": 1.0 / (2.0 * fc),
                "formula": "f_c = MTF10 of a Gaussian: sqrt(ln10/2)/(pi sigma); "
                           "resolution = FWHM"}
    return {}


def power_above_cutoff(image: np.ndarray, spacing_um: Sequence[float],
                       cutoff_cyc_per_um: Sequence[float]) -> float:
    """Fraction of the (Hann-windowed, mean-removed) spectral power of ``image`` at normalised
    frequency ``sqrt(Σ (f_i / f_c,i)²) > 1`` (``f_i`` in cycles/µm); axes with an infinite
    cut-off do not count."""
    x = np.asarray(image, dtype=np.float64)
    x = x - x.mean()
    for axis, n in enumerate(x.shape):
        shape = [1] * x.ndim
        shape[axis] = n
        x = x * np.hanning(n).reshape(shape) if n > 2 else x
    power = np.abs(np.fft.fftn(x)) ** 2
    radius = np.zeros(x.shape)
    for axis, (n, d, fc) in enumerate(zip(x.shape, spacing_um, cutoff_cyc_per_um)):
        if not np.isfinite(fc):
            continue
        f = np.fft.fftfreq(n, d=d) / fc
        shape = [1] * x.ndim
        shape[axis] = n
        radius = radius + f.reshape(shape) ** 2
    total = float(power.sum())
    return float(power[radius > 1.0].sum() / total) if total > 0 else 0.0


def physics_report(*, lr_spacing_um: float | Sequence[float], scale: int | Sequence[int],
                   wavelength_nm: float | None = None, na: float | None = None,
                   microscope: str = "widefield", excitation_nm: float | None = None,
                   refractive_index: float | None = None,
                   blur_fwhm_um: float | Sequence[float] | None = None,
                   prediction: np.ndarray | None = None) -> dict[str, Any]:
    """Nyquist, cut-off, supported SR factor and (with ``prediction``, on the SR grid) the
    share of its power above the optical cut-off, with plain-language warnings.

    Parameters are in physical units: pixel sizes in µm (per axis, ZYX order for 3D; the last
    two are lateral), wavelengths in nm, ``blur_fwhm_um`` the system blur (CT or a Gaussian
    PSF) in µm, one value or one per axis (then the lateral cut-off uses the wider lateral
    width and, in 3D, the first is the axial width).
    Returns a JSON-serialisable dict; ``warnings`` is a list of sentences.
    """
    spacing = [float(lr_spacing_um)] if np.ndim(lr_spacing_um) == 0 else [
        float(s) for s in lr_spacing_um]
    dims = prediction.ndim if prediction is not None else max(len(spacing),
                                                             1 if np.ndim(scale) == 0
                                                             else len(scale))
    spacing = spacing * dims if len(spacing) == 1 else spacing
    scales = [int(scale)] * dims if np.ndim(scale) == 0 else [int(s) for s in scale]
    axial_fwhm = None
    if blur_fwhm_um is not None and np.ndim(blur_fwhm_um):
        widths = [float(w) for w in blur_fwhm_um]
        axial_fwhm = widths[0] if len(widths) == 3 and widths[0] > 0 else None
        blur_fwhm_um = max(widths[-2:])
    limits = optical_limits(wavelength_nm=wavelength_nm, na=na, microscope=microscope,
                            excitation_nm=excitation_nm, refractive_index=refractive_index,
                            blur_fwhm_um=blur_fwhm_um)
    if axial_fwhm is not None and limits:
        fcz = _MTF10 / (axial_fwhm / FWHM_PER_SIGMA)
        limits = {**limits, "axial_cutoff_cyc_per_um": fcz,
                  "axial_nyquist_pixel_um": 1.0 / (2.0 * fcz)}
    report: dict[str, Any] = {"lr_spacing_um": spacing, "scale": scales,
                              "sr_spacing_um": [p / s for p, s in zip(spacing, scales)],
                              "lr_nyquist_cyc_per_um": [1.0 / (2.0 * p) for p in spacing],
                              **limits, "warnings": []}
    if not limits:
        report["warnings"].append("no optics metadata (wavelength and NA, or blur FWHM): the "
                                  "physics of the input cannot be assessed")
        return report
    pn = limits["nyquist_pixel_um"]
    lateral = spacing[-2:] if dims >= 2 else spacing
    lat_scale = scales[-2:] if dims >= 2 else scales
    p_lr = max(lateral)
    s_phys = max(1.0, p_lr / pn)
    report["supported_scale"] = s_phys
    report["undersampled_input"] = p_lr > pn
    report["scale_exceeds_optics"] = bool(max(lat_scale) > s_phys * (1 + 1e-9))
    if report["scale_exceeds_optics"]:
        report["warnings"].append(
            f"the requested scale {max(lat_scale)} exceeds the {s_phys:.2f} the optics support: "
            f"the output grid is finer than the optics can resolve, so detail finer than "
            f"d = {limits['resolution_um'] * 1000:.0f} nm is generated by the model, not measured")
    if p_lr <= pn:
        report["warnings"].append(
            "the input is already Nyquist-sampled: super-resolution can only interpolate or "
            "deconvolve; any apparent resolution gain beyond d is not measured")
    if prediction is not None:
        sr_spacing = report["sr_spacing_um"]
        fcs = [limits["cutoff_cyc_per_um"]] * dims
        if dims == 3:
            fcs[0] = limits.get("axial_cutoff_cyc_per_um", float("inf"))
        frac = power_above_cutoff(prediction, sr_spacing, fcs)
        report["power_above_cutoff"] = frac
        report["power_above_cutoff_note"] = ("share of the prediction's spectral power above "
                                             "the optical cut-off: not measured at all")
    return report
