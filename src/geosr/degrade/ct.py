"""X-ray CT as it is acquired: a parallel-beam forward model with noise made in the projections
and shaped by filtered back-projection (FBP).

:class:`CTScan` is a degradation step (the :class:`geosr.degrade.Step` protocol: ``__call__(image,
rng)`` and ``params(image=None)``, rebuilt by :func:`geosr.degrade.step_from_params`), so it
composes with the other steps in a :class:`geosr.degrade.ForwardModel` (e.g. followed by
:class:`geosr.degrade.Quantize`) and is recorded the same way. Per 2D slice (a ZYX volume is
processed slice by slice after detector blur and row binning along Z):

1. **Attenuation** μ in 1/cm from the HR intensities: ``attenuation="linear"`` maps
   ``intensity_range = (lo, hi)`` linearly onto ``mu_per_cm = (μ_lo, μ_hi)`` (no clipping);
   ``"two_phase"`` gives μ_hi where the intensity is >= ``threshold`` and μ_lo elsewhere.
2. **Projection**: line integrals ``p = ∫ μ dl`` over ``n_angles`` angles evenly spaced over
   180°, by :func:`skimage.transform.radon` (``circle=False``: the whole field is inside the
   detector; the field is reflect-padded to a square and, with ``extend``, by a few voxels
   more, as the inside of a larger object; the reconstruction is cropped back).
3. **Beam hardening** (optional, ``beam_hardening = b``): ``p → p / (1 + b p)`` (cupping).
4. **Detector**: transmission ``T = exp(-p)`` is blurred by a Gaussian of FWHM
   ``detector_fwhm_um`` and integrated over detector pixels ``scale`` HR pixels wide whose centres
   align with the coarse voxel grid (exact area integration, so the LR voxel grid coincides with
   area binning of the HR image; the partial-volume averaging happens on intensities, as in a
   real detector).
5. **Photons** (``i0`` photons per detector pixel per projection in the flat field, None = noise
   free): counts ``Poisson(i0 · g · T) + Poisson(dark_counts)``; ``n_flats`` flat and dark
   frames are averaged; the flat/dark-normalised transmission
   ``(counts − dark) / (flat − dark)`` is clipped at ``0.5 / i0`` (photon starvation; the clipped
   fraction is recorded in ``image.metadata["ct"]``) and ``p = −log``. ``ring_sd``: relative
   per-pixel detector gain change between flat and scan, which the flat field does not correct
   (ring artefacts).
6. **Reconstruction**: FBP (:func:`skimage.transform.iradon`, filter ``ramp``, ``shepp-logan``,
   ``cosine``, ``hamming`` or ``hann``) onto the coarse grid (voxel = ``scale`` × HR pixel), in
   1/cm; ``output="intensity"`` maps μ back to the input's intensity units with the inverse of
   the linear map (so LR and HR compare directly), ``"attenuation"`` keeps 1/cm.

Spacing and origin are updated like :class:`geosr.degrade.Downsample` (origin at the block
centres). Noise free, with many angles and weak attenuation, the result converges to the HR
image blurred by the detector PSF and binned (tested, with the variance ∝ 1/I0, the ramp-shaped
noise power spectrum and the slanted-edge MTF, in ``tests/test_ct_physics.py``).

Not modelled: cone-beam geometry (a 3D volume is parallel-beam slice by slice, so there are no
cone-beam artefacts far from the central slice; a GPU cone-beam projector, optional in issue
17, is not implemented), a polychromatic spectrum beyond the ``beam_hardening`` term, scatter,
and patient motion.

Example
-------
>>> import numpy as np
>>> from geosr.core import Image
>>> hr = Image(np.pad(np.ones((32, 32)), 16), "YX", spacing=(10.0, 10.0))
>>> lr = CTScan(scale=4, n_angles=90, i0=1e4)(hr, np.random.default_rng(0))
>>> lr.shape, lr.spacing
((16, 16), (40.0, 40.0))
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, Sequence

import numpy as np
from scipy import ndimage

from geosr.core.errors import ConfigError, InputError
from geosr.core.image import Image
from geosr.degrade.psf import FWHM_PER_SIGMA
from geosr.degrade.steps import STEPS, Downsample, GaussianBlur, _number, _require_rng

__all__ = ["CTScan", "FILTERS", "ATTENUATION_MODELS", "attenuation_map", "project",
           "detector_transmission", "acquire", "normalize_projections", "fbp",
           "rotation_axis", "reconstruct_projections", "UM_PER_CM"]

FILTERS = ("ramp", "shepp-logan", "cosine", "hamming", "hann")
ATTENUATION_MODELS = ("linear", "two_phase")
OUTPUTS = ("intensity", "attenuation")
UM_PER_CM = 1e4


# ------------------------------------------------------------------- the stages
def attenuation_map(values: np.ndarray, *, mu_per_cm: Sequence[float],
                    intensity_range: Sequence[float], model: str = "linear",
                    threshold: float | None = None) -> np.ndarray:
    """Linear attenuation coefficient in 1/cm from intensities.

    ``linear``: ``μ = μ_lo + (I − lo)/(hi − lo) · (μ_hi − μ_lo)``; ``two_phase``: ``μ_hi`` where
    ``I >= threshold`` (default ``(lo + hi)/2``), ``μ_lo`` elsewhere.

    >>> attenuation_map(np.array([0.0, 0.5, 1.0]), mu_per_cm=(0.2, 1.2), intensity_range=(0, 1))
    array([0.2, 0.7, 1.2])
    """
    lo, hi = (float(v) for v in intensity_range)
    mu_lo, mu_hi = (float(v) for v in mu_per_cm)
    if model == "two_phase":
        cut = (lo + hi) / 2.0 if threshold is None else float(threshold)
        return np.where(values >= cut, mu_hi, mu_lo).astype(np.float64)
    return mu_lo + (np.asarray(values, dtype=np.float64) - lo) * ((mu_hi - mu_lo) / (hi - lo))


def project(mu: np.ndarray, angles_deg: np.ndarray, pixel_um: float) -> np.ndarray:
    """Parallel-beam line integrals ``∫ μ dl`` (dimensionless) of a square 2D μ map (1/cm)
    with pixels of ``pixel_um`` µm: shape ``(n_detector, n_angles)``, detector pixel = image
    pixel, rotation axis at pixel ``(n//2, n//2)`` (scikit-image's ``radon``, ``circle=False``).
    """
    from skimage.transform import radon

    return radon(mu, theta=angles_deg, circle=False) * (pixel_um / UM_PER_CM)


def detector_transmission(p_hr: np.ndarray, angles_deg: np.ndarray, *, scale: int,
                          fwhm_px: float, n_detector: int, axis_offset_px: float
                          ) -> np.ndarray:
    """Transmission seen by detector pixels ``scale`` HR pixels wide: ``exp(-p)`` blurred by a
    Gaussian of ``fwhm_px`` HR pixels and area-integrated (mean) over each detector pixel.

    ``p_hr`` (HR line integrals, ``(N, n_angles)``, rotation axis at row ``N//2``). LR detector
    pixel ``k`` is centred at ``t = axis(θ) + (k − n_detector//2) · scale`` HR pixels from the
    HR rotation axis, with ``axis(θ) = d (cos θ − sin θ)`` the projection of the LR rotation axis,
    offset by ``d = axis_offset_px`` HR pixels along both image axes. Outside the HR detector
    the beam is unattenuated (T = 1).
    """
    sigma = fwhm_px / FWHM_PER_SIGMA
    margin = int(math.ceil(4.0 * sigma)) + scale + 2
    absorbed = np.pad(1.0 - np.exp(-p_hr), ((margin, margin), (0, 0)))
    if sigma > 0:
        absorbed = ndimage.gaussian_filter1d(absorbed, sigma, axis=0, mode="constant",
                                             truncate=4.0)
    n_hr = p_hr.shape[0]
    centre = n_hr // 2 + margin
    edges = np.arange(absorbed.shape[0] + 1) - 0.5 - centre  # HR bin edges, from the axis
    cumulative = np.concatenate([np.zeros((1, absorbed.shape[1])),
                                 np.cumsum(absorbed, axis=0)])
    theta = np.deg2rad(angles_deg)
    k = (np.arange(n_detector) - n_detector // 2) * float(scale)
    out = np.empty((n_detector, len(theta)))
    for j, th in enumerate(theta):
        u = axis_offset_px * (math.cos(th) - math.sin(th)) + k
        hi = np.interp(u + scale / 2.0, edges, cumulative[:, j])
        lo = np.interp(u - scale / 2.0, edges, cumulative[:, j])
        out[:, j] = 1.0 - (hi - lo) / scale
    return out


def acquire(transmission: np.ndarray, *, i0: float | None, rng: np.random.Generator,
            n_flats: int = 20, dark_counts: float = 0.0, ring_sd: float = 0.0
            ) -> dict[str, np.ndarray | None]:
    """Photon counts of a scan and its flat and dark fields (averages of ``n_flats`` frames).

    ``i0``: photons per detector pixel per projection in the flat field (None: noise free,
    the expected values are returned). ``ring_sd``: the relative change of each detector
    pixel's gain between the flat field and the scan (not corrected by flat-fielding).
    Returns ``{"counts", "flat", "dark"}`` with counts of shape ``(n_detector, n_angles)``,
    flat and dark of shape ``(n_detector, 1)``.
    """
    n_det = transmission.shape[0]
    gain = np.ones((n_det, 1))
    if ring_sd > 0:
        gain = gain + rng.normal(0.0, ring_sd, size=(n_det, 1))
    scale = 1.0 if i0 is None else float(i0)
    expected = scale * np.clip(gain, 0.0, None) * transmission
    if i0 is None:
        return {"counts": expected + dark_counts, "flat": np.full((n_det, 1), scale + dark_counts),
                "dark": np.full((n_det, 1), float(dark_counts))}
    counts = rng.poisson(expected).astype(np.float64)
    flat = rng.poisson(scale * n_flats, size=(n_det, 1)) / n_flats
    dark = np.zeros((n_det, 1))
    if dark_counts > 0:
        counts += rng.poisson(dark_counts, size=counts.shape)
        flat = flat + rng.poisson(dark_counts * n_flats, size=(n_det, 1)) / n_flats
        dark = rng.poisson(dark_counts * n_flats, size=(n_det, 1)) / n_flats
    return {"counts": counts, "flat": flat, "dark": dark}


def normalize_projections(counts: np.ndarray, flat: np.ndarray, dark: np.ndarray,
                          floor: float = 1e-6) -> tuple[np.ndarray, float]:
    """Flat/dark normalisation and ``−log``: ``p = −log(max((I − D)/(F − D), floor))``.

    Returns ``(p, fraction clipped at the floor)``. ``flat`` and ``dark`` broadcast against
    ``counts`` (e.g. ``(n_detector, 1)`` averages of flat and dark frames).

    >>> p, clipped = normalize_projections(np.array([[60.0]]), np.array([[110.0]]),
    ...                                    np.array([[10.0]]))
    >>> round(float(p[0, 0]), 4), clipped
    (0.6931, 0.0)
    """
    denom = np.asarray(flat, dtype=np.float64) - np.asarray(dark, dtype=np.float64)
    if np.any(denom <= 0):
        raise InputError("the flat field is not above the dark field for "
                         f"{int(np.sum(denom <= 0))} detector pixel(s)", where="flat/dark",
                         hint="check that flat and dark frames are not swapped")
    ratio = (np.asarray(counts, dtype=np.float64) - dark) / denom
    low = ratio < floor
    return -np.log(np.where(low, floor, ratio)), float(np.mean(low))


def fbp(sinogram: np.ndarray, angles_deg: np.ndarray, *, output_size: int, pixel_um: float,
        filter_name: str = "ramp", interpolation: str = "linear") -> np.ndarray:
    """Filtered back-projection of line integrals (detector pixel = output pixel =
    ``pixel_um`` µm, rotation axis at detector row ``n//2`` and pixel
    ``(output_size//2, output_size//2)``) to μ in 1/cm (scikit-image's ``iradon``)."""
    from skimage.transform import iradon

    recon = iradon(sinogram, theta=angles_deg, output_size=output_size, circle=False,
                   filter_name=filter_name, interpolation=interpolation)
    return recon / (pixel_um / UM_PER_CM)



def rotation_axis(sinogram: np.ndarray, angles_deg: np.ndarray) -> tuple[float, float]:
    """The rotation axis (detector row, fractional) of a parallel-beam sinogram
    ``(n_detector, n_angles)`` of line integrals: the centre of mass of each projection traces
    ``c + a cos θ + b sin θ`` (a rigid rotation), fitted by least squares. Returns
    ``(c, rms residual in detector pixels)``; a residual above ~1 px means the object leaves
    the field of view, the angles are wrong (degrees vs radians) or the sample moved.

    >>> th = np.arange(0, 180, 2.0)
    >>> rows = np.arange(64)[:, None]
    >>> sino = np.exp(-0.5 * (rows - 30 - 8 * np.cos(np.deg2rad(th))) ** 2)
    >>> round(rotation_axis(sino, th)[0], 3)
    30.0
    """
    p = np.asarray(sinogram, dtype=np.float64)
    mass = p.sum(axis=0)
    if np.any(mass <= 0):
        raise InputError("a projection has no attenuation (sum of line integrals <= 0)",
                         where="sinogram", hint="check the flat/dark normalisation")
    com = (p * np.arange(p.shape[0])[:, None]).sum(axis=0) / mass
    theta = np.deg2rad(angles_deg)
    design = np.stack([np.ones_like(theta), np.cos(theta), np.sin(theta)], axis=1)
    coef, *_ = np.linalg.lstsq(design, com, rcond=None)
    return float(coef[0]), float(np.sqrt(np.mean((com - design @ coef) ** 2)))


def reconstruct_projections(counts: np.ndarray, flat: np.ndarray, dark: np.ndarray,
                            angles_deg: np.ndarray, *, center: float | None = None,
                            filter_name: str = "ramp", pixel_um: float = 1.0,
                            output_size: int | None = None) -> dict[str, Any]:
    """Reconstruct one slice from raw parallel-beam projections (the usual
    synchrotron/lab chain): flat/dark normalisation, ``−log``, rotation axis (given, or by
    :func:`rotation_axis`), shift of the axis to the detector centre, FBP.

    ``counts``: ``(n_angles, n_detector)`` raw projections of one detector row (Data Exchange
    order); ``flat``/``dark``: ``(n_frames, n_detector)`` frames (averaged) or
    ``(n_detector,)``. Returns ``{"slice" (μ in 1/cm when pixel_um is the detector pixel in µm,
    else per pixel), "sinogram", "center", "center_residual_px", "fraction_clipped"}``.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] != len(angles_deg):
        raise InputError(f"projections of shape {counts.shape} do not match "
                         f"{len(angles_deg)} angles", where="counts",
                         hint="give (n_angles, n_detector) for one detector row")
    flat_m = np.atleast_2d(np.asarray(flat, dtype=np.float64)).mean(axis=0)
    dark_m = np.atleast_2d(np.asarray(dark, dtype=np.float64)).mean(axis=0)
    p, clipped = normalize_projections(counts.T, flat_m[:, None], dark_m[:, None])
    residual = None
    if center is None:
        center, residual = rotation_axis(p, angles_deg)
    n_det = p.shape[0]
    shifted = ndimage.shift(p, (n_det // 2 - center, 0.0), order=1, mode="constant")
    size = output_size or n_det
    recon = fbp(shifted, np.asarray(angles_deg, dtype=np.float64), output_size=size,
                pixel_um=pixel_um, filter_name=filter_name)
    return {"slice": recon, "sinogram": shifted, "center": float(center),
            "center_residual_px": residual, "fraction_clipped": clipped}

# ---------------------------------------------------------------------- the step
def _pair(value: Any, where: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"expected two numbers (low, high), got {value!r}",
                          where=where) from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        raise ConfigError(f"needs finite low < high, got {value!r}", where=where)
    return lo, hi


def _choice(value: str, options: Sequence[str], where: str) -> str:
    if value not in options:
        raise ConfigError(f"unknown value {value!r}", where=where,
                          hint="use one of " + ", ".join(options))
    return value


@dataclasses.dataclass(frozen=True)
class CTScan:
    """A parallel-beam CT acquisition and FBP reconstruction onto a grid ``scale`` × coarser
    (see the module docstring for the stages).

    Parameters
    ----------
    scale:
        Integer factor between the HR pixel and the reconstructed voxel (= detector pixel in
        the object plane), applied to every spatial axis.
    n_angles:
        Projections, evenly spaced over [0°, 180°).
    i0:
        Photons per detector pixel per projection in the flat field (the dose); None = noise
        free.
    detector_fwhm_um:
        FWHM (µm, in the object plane) of the Gaussian blur of the detector and source (focal
        spot, scintillator), applied to the transmission before the detector pixel integrates
        it (and along Z for a volume). 0 = none.
    filter:
        FBP filter: ``ramp``, ``shepp-logan``, ``cosine``, ``hamming``, ``hann``.
    mu_per_cm:
        ``(μ_lo, μ_hi)`` in 1/cm for the two ends of ``intensity_range`` (pore/soft tissue and
        bone; the presets take them from NIST tables).
    intensity_range:
        Input intensities mapped to ``mu_per_cm``; None = the image's min and max (recorded).
    attenuation:
        ``linear`` (default) or ``two_phase`` (threshold at ``threshold``, default mid-range).
    n_flats, dark_counts:
        Flat and dark frames averaged; mean dark counts per pixel and projection.
    ring_sd:
        Relative per-pixel gain change between flat and scan (ring artefacts); 0 = none.
    beam_hardening:
        ``b`` of ``p → p/(1 + b p)``; 0 = monochromatic.
    output:
        ``intensity`` (μ mapped back to input units by the inverse linear map) or
        ``attenuation`` (μ in 1/cm).
    crop:
        Drop trailing pixels that do not fill a voxel instead of raising :class:`InputError`.
    extend:
        True (default): the object continues beyond the field of view (the image is
        reflect-padded by whole voxels, ``1.5 × FWHM + 2`` voxels, before projection and the
        reconstruction cropped back: an interior region of a larger sample, such as a cortex
        biopsy of a radius). False: the image is the whole object, surrounded by air.

    >>> step = CTScan(scale=2, n_angles=60)
    >>> step.params()["name"], step.linear
    ('ct_scan', False)
    """

    scale: int
    n_angles: int = 900
    i0: float | None = None
    detector_fwhm_um: float = 0.0
    filter: str = "ramp"
    mu_per_cm: tuple[float, float] = (0.2683, 1.278)
    intensity_range: tuple[float, float] | None = (0.0, 1.0)
    attenuation: str = "linear"
    threshold: float | None = None
    n_flats: int = 20
    dark_counts: float = 0.0
    ring_sd: float = 0.0
    beam_hardening: float = 0.0
    output: str = "intensity"
    crop: bool = False
    interpolation: str = "linear"
    extend: bool = True

    name: ClassVar[str] = "ct_scan"
    linear: ClassVar[bool] = False

    def __post_init__(self) -> None:
        down = Downsample(self.scale, crop=self.crop)
        if isinstance(down.factors, tuple):
            raise ConfigError("the CT scale is one integer (isotropic voxels)", where="scale")
        object.__setattr__(self, "scale", int(down.factors))
        n = self.n_angles
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
            raise ConfigError(f"needs an integer >= 2, got {n!r}", where="n_angles")
        object.__setattr__(self, "n_angles", int(n))
        object.__setattr__(self, "i0", _number(self.i0, "i0", minimum=0.0, strict=True,
                                               allow_none=True))
        for field in ("detector_fwhm_um", "dark_counts", "ring_sd", "beam_hardening"):
            object.__setattr__(self, field, _number(getattr(self, field), field, minimum=0.0))
        object.__setattr__(self, "mu_per_cm", _pair(self.mu_per_cm, "mu_per_cm"))
        if self.intensity_range is not None:
            object.__setattr__(self, "intensity_range",
                               _pair(self.intensity_range, "intensity_range"))
        object.__setattr__(self, "threshold", _number(self.threshold, "threshold",
                                                      allow_none=True))
        if int(self.n_flats) < 1:
            raise ConfigError(f"needs at least one flat frame, got {self.n_flats!r}",
                              where="n_flats")
        object.__setattr__(self, "n_flats", int(self.n_flats))
        object.__setattr__(self, "extend", bool(self.extend))
        _choice(self.filter, FILTERS, "filter")
        _choice(self.attenuation, ATTENUATION_MODELS, "attenuation")
        _choice(self.output, OUTPUTS, "output")
        _choice(self.interpolation, ("linear", "nearest", "cubic"), "interpolation")
        if self.output == "intensity" and self.attenuation == "two_phase" \
                and self.intensity_range is None:
            raise ConfigError("a two-phase map needs intensity_range to map back to "
                              "intensities", where="intensity_range")

    @property
    def angles_deg(self) -> np.ndarray:
        """The projection angles in degrees, ``n_angles`` evenly over [0, 180)."""
        return np.arange(self.n_angles) * (180.0 / self.n_angles)

    def resolved_range(self, values: np.ndarray) -> tuple[float, float]:
        """The intensity range used for ``values`` (given, or their min and max)."""
        if self.intensity_range is not None:
            return self.intensity_range
        lo, hi = float(np.min(values)), float(np.max(values))
        return (lo, hi) if hi > lo else (lo, lo + 1.0)

    def __call__(self, image: Image, rng: Any) -> Image:
        gen = _require_rng(rng, "CT") if self.i0 is not None or self.ring_sd > 0 else None
        (recon, clipped), = self._reconstructions(image, [gen])
        facs = Downsample(self.scale, crop=self.crop).plan(image.spatial_shape,
                                                             image.spatial_axes)[0]
        lo_hi = self.resolved_range(self._cropped(image))
        spacing = tuple(s * f for s, f in zip(image.spacing, facs))
        origin = tuple(o + (f - 1) / 2.0 * s for o, s, f in zip(image.origin, image.spacing,
                                                                 facs))
        metadata = dict(image.metadata)
        metadata["ct"] = {"fraction_clipped": clipped, "intensity_range": list(lo_hi),
                          "output": self.output}
        return image.replace(data=np.ascontiguousarray(recon), spacing=spacing, origin=origin,
                             metadata=metadata)

    def _along_z(self, image: Image, mu: np.ndarray) -> np.ndarray:
        """Detector blur and row binning along Z (exact for parallel beam: rows are
        independent), applied to μ."""
        sub = image.replace(data=mu)
        if self.detector_fwhm_um > 0:
            sub = GaussianBlur(fwhm_um=(self.detector_fwhm_um, 0.0, 0.0))(sub, None)
        return Downsample((self.scale, 1, 1))(sub, None).numpy()

    def reacquire(self, image: Image, rngs: Sequence[np.random.Generator | None]
                  ) -> list[np.ndarray]:
        """The reconstructions of ``image`` for each generator of ``rngs`` (None: noise free;
        each as ``self(image, rng).numpy()``), projecting ``image`` once: repeated scans of
        the same object, e.g. noise realisations for the trust layer's CT consistency test.

        >>> import numpy as np
        >>> from geosr.core import Image
        >>> hr = Image(np.pad(np.ones((16, 16)), 8), "YX", spacing=(10.0, 10.0))
        >>> clean, noisy = CTScan(scale=4, n_angles=30, i0=1e4).reacquire(
        ...     hr, [None, np.random.default_rng(0)])
        >>> clean.shape, bool(np.abs(noisy - clean).max() > 0)
        ((8, 8), True)
        """
        return [r for r, _ in self._reconstructions(image, list(rngs))]

    def _cropped(self, image: Image) -> np.ndarray:
        out_shape = Downsample(self.scale, crop=self.crop).plan(image.spatial_shape,
                                                                  image.spatial_axes)[2]
        values = np.asarray(image.numpy(), dtype=np.float64)
        return values[tuple(slice(0, o * self.scale) for o in out_shape)]

    def _reconstructions(self, image: Image, gens: list[np.random.Generator | None]
                         ) -> list[tuple[np.ndarray, float]]:
        """(reconstruction in output units, fraction clipped) of ``image`` per generator."""
        if image.has_channels:
            raise InputError("CT acquisition needs a single-channel 2D or 3D image",
                             where="image", hint="split the channels first")
        values = self._cropped(image)
        lo_hi = self.resolved_range(values)
        mu = attenuation_map(values, mu_per_cm=self.mu_per_cm, intensity_range=lo_hi,
                             model=self.attenuation, threshold=self.threshold)
        pixel_um = float(image.spacing_um[-1])
        if image.dims == 3:
            mu = self._along_z(image, mu)
            per_slice = [self._slice(m, pixel_um, gens) for m in mu]
            runs = [(np.stack([s[k][0] for s in per_slice]),
                     float(np.mean([s[k][1] for s in per_slice]))) for k in range(len(gens))]
        else:
            runs = self._slice(mu, pixel_um, gens)
        if self.output == "intensity":
            factor = (lo_hi[1] - lo_hi[0]) / (self.mu_per_cm[1] - self.mu_per_cm[0])
            runs = [(lo_hi[0] + (r - self.mu_per_cm[0]) * factor, c) for r, c in runs]
        return runs

    def _slice(self, mu: np.ndarray, pixel_um: float,
               gens: list[np.random.Generator | None]) -> list[tuple[np.ndarray, float]]:
        """One 2D μ slice (dimensions multiples of ``scale``) → FBP on the coarse grid, once
        per generator of ``gens`` (the projection is shared)."""
        s = self.scale
        ny, nx = mu.shape
        fwhm_px = self.detector_fwhm_um / pixel_um
        # whole LR voxels of reflected object around the field, so the grid stays aligned
        margin = (int(math.ceil(1.5 * fwhm_px / s)) + 2) if self.extend else 0
        side = max(ny, nx)
        mu = np.pad(mu, ((margin * s, side - ny + margin * s),
                         (margin * s, side - nx + margin * s)), mode="reflect")
        side = mu.shape[0]
        n_lr = side // s
        axis_offset = (n_lr // 2) * s + (s - 1) / 2.0 - side // 2
        n_det = int(math.ceil(n_lr * math.sqrt(2.0) + 2 * fwhm_px / s)) + 4
        angles = self.angles_deg
        p_hr = project(mu, angles, pixel_um)
        if self.beam_hardening > 0:
            p_hr = p_hr / (1.0 + self.beam_hardening * p_hr)
        trans = detector_transmission(p_hr, angles, scale=s, fwhm_px=fwhm_px,
                                      n_detector=n_det, axis_offset_px=axis_offset)
        out = []
        for gen in gens:
            i0 = None if gen is None else self.i0
            frames = acquire(trans, i0=i0, rng=gen, n_flats=self.n_flats,
                             dark_counts=self.dark_counts,
                             ring_sd=0.0 if gen is None else self.ring_sd)
            floor = 1e-12 if i0 is None else 0.5 / i0
            p_lr, clipped = normalize_projections(frames["counts"], frames["flat"],
                                                  frames["dark"], floor=floor)
            recon = fbp(p_lr, angles, output_size=n_lr, pixel_um=pixel_um * s,
                        filter_name=self.filter, interpolation=self.interpolation)
            out.append((recon[margin:margin + ny // s, margin:margin + nx // s], clipped))
        return out

    def params(self, image: Image | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            out[field.name] = list(value) if isinstance(value, tuple) else value
        out.update({
            "geometry": "parallel beam, angles evenly over [0, 180) degrees",
            "projector": "skimage.transform.radon (circle=False)",
            "reconstruction": "skimage.transform.iradon (FBP, circle=False)",
            "noise": "Poisson(i0*gain*T) + Poisson(dark); flat/dark averaged over n_flats",
            "units": {"mu_per_cm": "1/cm", "detector_fwhm_um": "µm", "i0": "photons per "
                      "detector pixel per projection"},
        })
        if image is not None:
            values = np.asarray(image.numpy(), dtype=np.float64)
            pixel_um = float(image.spacing_um[-1])
            out.update({"axes": image.spatial_axes, "input_shape": list(image.spatial_shape),
                        "input_spacing_um": list(image.spacing_um),
                        "voxel_um": pixel_um * self.scale,
                        "intensity_range_used": list(self.resolved_range(values)),
                        "detector_fwhm_px": self.detector_fwhm_um / pixel_um,
                        "factors_per_axis": [self.scale] * image.dims,
                        # the detector blur, read by the record's summary (fwhm_um, sigma_px)
                        "fwhm_um_per_axis": [self.detector_fwhm_um] * image.dims,
                        "sigma_px": [self.detector_fwhm_um / FWHM_PER_SIGMA / s
                                     for s in image.spacing_um],
                        "linear_equivalent": [
                            GaussianBlur(fwhm_um=self.detector_fwhm_um).params(),
                            Downsample(self.scale, crop=self.crop).params()]})
        return out


STEPS[CTScan.name] = CTScan  # rebuilt by geosr.degrade.step_from_params
