"""Register one LR/HR pair: ``register_pair(lr, hr, scale)``.

1. Coarse: the HR image blurred and binned to the LR grid (the anti-alias PSF guess) is
   phase-correlated with the LR image (:func:`skimage.registration.phase_cross_correlation`,
   ``upsample_factor=20``, Hann-windowed).
2. Fine: the full forward model ``V = a · f(bin(G_σ * HR)(T(p))) + b`` (:class:`LRModel`) is
   fitted to the LR pixels of the common field by Gauss–Newton
   (:func:`scipy.optimize.least_squares`, analytic Jacobian): shift (sub-pixel), rotation and
   zoom (``transform``), the PSF widths and the intensity map, all at once. The common field is
   re-derived from the fitted transform and the fit repeated until it no longer changes.
   Then one weighted refit: each LR pixel weighted by ``1 / sd`` of a Poisson–Gaussian noise
   model fitted to the residuals (so the standard errors are those of the actual noise).
3. The HR image is resampled **once** (cubic spline, from the raw HR values) onto the grid
   exactly ``scale`` × the cropped LR grid; spacing and origin follow the LR image.

>>> import numpy as np
>>> from geosr.pairs.simulate import simulate_acquisition
>>> from geosr.pairs.transform import PairTransform
>>> hr = np.random.default_rng(0).random((96, 96))
>>> hr = __import__("scipy.ndimage", fromlist=["x"]).gaussian_filter(hr, 2)
>>> lr = simulate_acquisition(hr, 4, PairTransform((1.3, -0.6)), fwhm_px=4.0, seed=0)
>>> reg = register_pair(lr, hr, 4)
>>> [round(v, 1) for v in reg.transform.shift]
[1.3, -0.6]
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np
from scipy import ndimage

from geosr.core.errors import ConfigError, InputError
from geosr.core.image import Image, as_image
from geosr.core.per_axis import per_axis
from geosr.degrade.psf import FWHM_PER_SIGMA
from geosr.pairs.model import LRModel, bin_blocks, fit_standard_errors
from geosr.pairs.qc import noise_sd
from geosr.pairs.transform import TRANSFORMS, PairTransform

__all__ = ["register_pair", "PairRegistration", "INTENSITY_MAPS", "ncc"]

INTENSITY_MAPS = ("affine", "gamma")
_NOISE_BINS = 24


@dataclasses.dataclass
class PairRegistration:
    """The result of :func:`register_pair`.

    ``lr``: the LR image cropped to the common field; ``hr``: the HR image resampled once onto
    ``scale`` × that grid; ``model``: the forward-modelled LR (``V``) on the same grid;
    ``transform``: shift (LR px), rotation, zoom; ``sigma_hr_px``/``fwhm_um``: the fitted PSF
    per axis (ZYX order); ``intensity``: the map ``{kind, a, b, gamma, m_ref}``;
    ``ncc_before``/``ncc_after``: normalised cross-correlation of LR with the unregistered /
    registered forward-modelled HR; ``noise_bins``: residual variance against signal level
    (for the Poisson–Gaussian fit); ``standard_errors``: Gauss–Newton standard errors of the
    fitted parameters; ``checks``: the single-pair quality numbers; ``before``: the
    forward-modelled HR *without* registration (identity transform, starting PSF, best affine
    intensity) on the same grid as ``lr``, for the before/after views.
    """

    lr: Image
    hr: Image
    model: Image
    transform: PairTransform
    sigma_hr_px: tuple[float, ...]
    fwhm_um: tuple[float, ...]
    intensity: dict[str, Any]
    ncc_before: float
    ncc_after: float
    residual_rms: float
    noise_bins: list[dict[str, float]]
    standard_errors: dict[str, float]
    lr_box: tuple[tuple[int, int], ...]
    scale: tuple[int, ...]
    checks: dict[str, Any]
    before: Image | None = None
    field: Any = None

    @property
    def residual(self) -> Image:
        """LR minus the forward-modelled HR (LR units), on the cropped LR grid."""
        return self.lr.replace(data=np.asarray(self.lr.numpy(), np.float64)
                               - np.asarray(self.model.numpy()))

    def summary(self) -> dict[str, Any]:
        """:meth:`record` plus what the forward-model estimate pools over pairs (noise bins,
        PSF in HR pixels, scale, spacings); JSON-ready."""
        return {**self.record(), "noise_bins": self.noise_bins, "scale": list(self.scale),
                "sigma_hr_px": list(self.sigma_hr_px), "fwhm_um": list(self.fwhm_um),
                "lr_spacing_um": list(self.lr.spacing_um),
                "hr_spacing_um": list(self.hr.spacing_um), "dims": self.lr.dims,
                "lr_shape": list(self.lr.shape), "checks": dict(self.checks)}

    def record(self) -> dict[str, Any]:
        """A flat, JSON-ready row (the columns of ``pairs.csv`` without name/verdict)."""
        out = self.transform.describe(self.lr.spacing_um)
        names = "zyx"[-len(self.fwhm_um):]
        out.update({f"fwhm_{a}_um": float(v) for a, v in zip(names, self.fwhm_um)})
        out.update({f"intensity_{k}": v for k, v in self.intensity.items()})
        if self.field is not None:
            out.update(self.field.stats())
        out.update(ncc_before=self.ncc_before, ncc_after=self.ncc_after,
                   residual_rms=self.residual_rms,
                   **{f"se_{k}": v for k, v in self.standard_errors.items()})
        return out


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation (Pearson r) of two equally shaped arrays; 0 if one is
    constant.

    >>> ncc(np.arange(4.0), 2 * np.arange(4.0) + 1)
    1.0
    """
    a = np.asarray(a, np.float64).ravel() - np.mean(a)
    b = np.asarray(b, np.float64).ravel() - np.mean(b)
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


def _check_inputs(lr: Image, hr: Image, scale: tuple[int, ...]) -> None:
    if lr.has_channels or hr.has_channels:
        raise InputError("registration needs single-channel images", where="image",
                         hint="register one channel at a time")
    if lr.dims != hr.dims:
        raise InputError(f"LR is {lr.dims}-D but HR is {hr.dims}-D", where="image")
    small = [n for n in lr.spatial_shape if n < 8]
    if small or any(n < 8 * f for n, f in zip(hr.spatial_shape, scale)):
        raise InputError(f"too small to register (LR {lr.spatial_shape}, HR "
                         f"{hr.spatial_shape}, scale {scale})", where="image",
                         hint="each image needs at least 8 LR pixels per axis")


def _window(shape: Sequence[int]) -> np.ndarray:
    w = np.ones(shape)
    for axis, n in enumerate(shape):
        profile = np.hanning(n) if n > 2 else np.ones(n)
        w = w * profile.reshape([-1 if k == axis else 1 for k in range(len(shape))])
    return w


def _coarse_shift(lr: np.ndarray, binned: np.ndarray) -> np.ndarray:
    """Shift (LR px) that moves ``binned`` (HR on its own LR-sized grid) onto ``lr``."""
    from skimage.registration import phase_cross_correlation

    shape = tuple(min(a, b) for a, b in zip(lr.shape, binned.shape))
    crop = tuple(slice(0, n) for n in shape)
    win = _window(shape)
    ref = (lr[crop] - lr[crop].mean()) * win
    mov = (binned[crop] - binned[crop].mean()) * win
    shift, _, _ = phase_cross_correlation(ref, mov, upsample_factor=20, normalization=None)
    return np.asarray(shift, dtype=np.float64)


def _valid_box(model: LRModel, x: np.ndarray, lr_shape: Sequence[int], margin: float
               ) -> tuple[tuple[int, int], ...] | None:
    """The largest axis-aligned LR box (found by peeling faces) whose every fine pixel maps
    at least ``margin`` HR pixels inside the HR image."""
    q = model.coordinates(x, (0,) * len(lr_shape), lr_shape)
    inside = np.ones(q.shape[1:], dtype=bool)
    for k, n in enumerate(model.hr.shape):
        inside &= (q[k] >= margin) & (q[k] <= n - 1 - margin)
    valid = bin_blocks(inside.astype(np.float64), model.scale) >= 1.0
    if not valid.any():
        return None
    box = [[int(i.min()), int(i.max()) + 1] for i in np.nonzero(valid)]
    while True:
        sub = valid[tuple(slice(lo, hi) for lo, hi in box)]
        if sub.size == 0:
            return None
        if sub.all():
            return tuple((lo, hi) for lo, hi in box)
        worst, which = -1.0, None
        for axis in range(sub.ndim):
            for side in (0, -1):
                face = np.take(sub, 0 if side == 0 else sub.shape[axis] - 1, axis=axis)
                bad = float((~face).mean())
                if bad > worst:
                    worst, which = bad, (axis, side)
        axis, side = which
        box[axis][0 if side == 0 else 1] += 1 if side == 0 else -1


def _fit(model: LRModel, lr: np.ndarray, x0: np.ndarray, box,
         weights: np.ndarray | None = None) -> Any:
    """Least-squares fit of the LR pixels in ``box``; ``weights`` (box-shaped, 1 / noise sd)
    make it a weighted fit, so the residuals and the Jacobian come back in noise units."""
    from scipy.optimize import least_squares

    start = tuple(lo for lo, _ in box)
    shape = tuple(hi - lo for lo, hi in box)
    target = lr[tuple(slice(lo, hi) for lo, hi in box)]
    mask = np.ones(shape, dtype=bool)
    w = np.ones(target.size) if weights is None else np.asarray(weights, np.float64).ravel()
    lo, hi = model.bounds()
    d = len(box)
    reach = np.array([max(4.0, (b - a) / 4.0) for a, b in box])   # LR px around the start
    lo[:d], hi[:d] = x0[:d] - reach, x0[:d] + reach
    x0 = np.clip(x0, lo + 1e-9, hi - 1e-9)
    return least_squares(lambda x: w * (model.predict(x, start, shape) - target).ravel(), x0,
                         jac=lambda x: w[:, None] * model.jacobian(x, start, shape, mask),
                         bounds=(lo, hi), method="trf", x_scale="jac", xtol=1e-10,
                         ftol=1e-12, max_nfev=60)


def _noise_weights(model: LRModel, x: np.ndarray, lr: np.ndarray, box) -> np.ndarray | None:
    """``1 / sd`` per LR pixel of ``box`` from a Poisson–Gaussian model
    (``var = gain · (V − b) + read²``, :func:`geosr.pairs.noise.fit_noise`) fitted to the
    residuals of the unweighted fit ``x``; ``None`` when no noise model can be fitted (too
    few pixels, or no residual at all). Bright pixels are noisier: weighting them down makes
    the fit efficient and its standard errors honest."""
    from geosr.pairs.noise import expected_sd, fit_noise

    start = tuple(lo for lo, _ in box)
    shape = tuple(hi - lo for lo, hi in box)
    target = lr[tuple(slice(lo, hi) for lo, hi in box)]
    predicted = model.predict(x, start, shape)
    residual = target - predicted
    if not float(np.mean(residual ** 2)) > 1e-12 * float(target.var()):   # noise-free
        return None
    signal = predicted - float(x[model.index["b"]])
    try:
        noise = fit_noise(_noise_bins(signal, residual))
    except (InputError, np.linalg.LinAlgError):
        return None
    var = expected_sd(noise, signal) ** 2
    mean_var = float(var.mean())
    if not (np.isfinite(mean_var) and mean_var > 0):
        return None
    return 1.0 / np.sqrt(np.maximum(var, 0.05 * mean_var))


def _affine_start(m: np.ndarray, lr: np.ndarray) -> tuple[float, float]:
    """Least-squares ``a, b`` with ``lr ≈ a m + b``."""
    design = np.stack([m.ravel(), np.ones(m.size)], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, lr.ravel(), rcond=None)
    return float(a), float(b)


def _noise_bins(signal: np.ndarray, residual: np.ndarray, n_bins: int = _NOISE_BINS
                ) -> list[dict[str, float]]:
    """Residual variance in quantile bins of the signal (modelled LR minus offset)."""
    order = np.argsort(signal.ravel())
    s, r = signal.ravel()[order], residual.ravel()[order]
    out = []
    for part_s, part_r in zip(np.array_split(s, n_bins), np.array_split(r, n_bins)):
        if part_s.size >= 8:
            out.append({"signal": float(part_s.mean()), "var": float(part_r.var(ddof=1)),
                        "n": int(part_s.size)})
    return out


def _a_unit(model: LRModel) -> float:
    """The gain ``a`` of the gamma map multiplies ``(M / m_ref)^γ``: at γ = 1 it equals the
    affine gain times ``m_ref``."""
    return model.m_ref if model.intensity == "gamma" else 1.0


def _translation_first(hr_v: np.ndarray, factors: tuple[int, ...], fit_psf: bool,
                       model: LRModel, x: np.ndarray, lr_v: np.ndarray, box) -> np.ndarray:
    """Fit shift, PSF and an affine map first (rotation/zoom/gamma held at identity), so the
    full fit starts in the right basin (a noisy coarse shift plus a free rotation can settle
    in a wrong local minimum)."""
    pre = LRModel(hr_v, factors, "translation", "affine", fit_psf=fit_psf)
    unit = _a_unit(model)
    x_pre = pre.initial(x[:len(factors)], model.sigma_of(x),
                        float(x[model.index["a"]]) / unit, float(x[model.index["b"]]))
    fitted = _fit(pre, lr_v, x_pre, box).x
    out = x.copy()
    for name, i in pre.index.items():
        out[model.index[name]] = fitted[i] * (unit if name == "a" else 1.0)
    if "gamma" in model.index:   # keep the affine fit's contrast for gamma = 1
        out[model.index["gamma"]] = 1.0
    return out


def _resolve(scale: Any, dims: int, transform: str, intensity: str) -> tuple[int, ...]:
    if transform not in TRANSFORMS:
        raise ConfigError(f"unknown transform {transform!r}", where="transform",
                          hint="use " + ", ".join(TRANSFORMS))
    if intensity not in INTENSITY_MAPS:
        raise ConfigError(f"unknown intensity map {intensity!r}", where="intensity",
                          hint="use " + ", ".join(INTENSITY_MAPS))
    return per_axis(scale, dims, where="scale", kind=int, minimum=1)


def _start_sigma(psf_fwhm_um: Any, lr_img: Image, factors: tuple[int, ...]
                 ) -> tuple[float, ...]:
    """The PSF σ (HR px) to start from: the given FWHM, or one LR pixel (the anti-alias
    guess)."""
    if psf_fwhm_um is None:
        return tuple(f / FWHM_PER_SIGMA for f in factors)
    hr_px_um = tuple(s / f for s, f in zip(lr_img.spacing_um, factors))
    fw = (psf_fwhm_um,) * lr_img.dims if np.ndim(psf_fwhm_um) == 0 else psf_fwhm_um
    return tuple(max(float(w) / FWHM_PER_SIGMA / p, 0.25) for w, p in zip(fw, hr_px_um))


def _start(model: LRModel, lr_v: np.ndarray, binned0: np.ndarray, sigma0, margin: float):
    """Parameters after phase correlation and a linear intensity start; the fitted box."""
    x = model.initial(_coarse_shift(lr_v, binned0), sigma0)
    box = _valid_box(model, x, lr_v.shape, margin)
    if box is None:
        raise InputError("the LR and HR fields do not overlap after the coarse alignment",
                         where="image", hint="check that the two images show the same field")
    sub = lr_v[tuple(slice(lo, hi) for lo, hi in box)]
    a0, b0 = _affine_start(model.binned(x, [lo for lo, _ in box], sub.shape), sub)
    x[model.index["a"]], x[model.index["b"]] = a0 * _a_unit(model), b0
    return x, box


def _fit_with_box(model: LRModel, lr_v: np.ndarray, x: np.ndarray, box, margin: float):
    """Fit, then shrink the box to the LR pixels the fitted HR still covers; up to 4 times."""
    result = None
    for _ in range(4):
        result = _fit(model, lr_v, x, box)
        x = result.x
        new_box = _valid_box(model, x, lr_v.shape, margin)
        if new_box is None or new_box == box:
            break
        box = new_box
    return result, x, box


def register_pair(lr: Image | np.ndarray, hr: Image | np.ndarray, scale: int | Sequence[int],
                  *, transform: str = "translation", intensity: str = "affine",
                  psf_fwhm_um: float | Sequence[float] | None = None, fit_psf: bool = True,
                  margin_hr_px: float = 2.0, deformable: bool = False,
                  noise_weights: bool = True) -> PairRegistration:
    """Register an LR acquisition to its HR partner through the forward model.

    Parameters
    ----------
    lr, hr:
        The two acquisitions (:class:`Image` or arrays; 2D or 3D, same dimensionality). The LR
        spacing is taken as exact; the HR grid is assumed ``scale`` times finer (a fitted
        ``zoom`` != 1 with ``transform="similarity"`` measures how far that is off).
    scale:
        The stated integer scale (one, or per axis).
    transform:
        ``"translation"`` (sub-pixel shift), ``"rigid"`` (+ rotation in the y-x plane) or
        ``"similarity"`` (+ zoom).
    intensity:
        ``"affine"`` (``a M + b``) or ``"gamma"`` (``a (M/m_ref)^γ + b``, monotone).
    psf_fwhm_um:
        Starting PSF FWHM in µm (default: one LR pixel, the anti-alias guess); with
        ``fit_psf=False`` it is kept fixed.
    margin_hr_px:
        LR pixels whose block maps closer than this to the HR border are cropped away.
    deformable:
        Add a smooth non-rigid residual field (3 tiles per axis, :mod:`geosr.pairs.deform`),
        reported separately (``deformation_rms_lr_px``, ``deformation_max_lr_px``; tiles too
        flat to fix their shift keep the global one, ``deformation_tiles_undetermined``).
    noise_weights:
        Refit once weighted by ``1 / noise sd`` per LR pixel, the Poisson–Gaussian noise model
        fitted to the first fit's residuals (the noise of a photon-counting LR image grows with
        the signal; unweighted, the bright edges that fix the rotation count too much and the
        standard errors come out too small).

    Returns
    -------
    PairRegistration
        Cropped LR, registered HR (spacing = LR spacing / scale, origin consistent), the
        fitted transform, PSF, intensity map, NCC before/after and residual statistics.
    """
    lr_img, hr_img = as_image(lr), as_image(hr)
    factors = _resolve(scale, lr_img.dims, transform, intensity)
    _check_inputs(lr_img, hr_img, factors)
    lr_v = np.asarray(lr_img.numpy(), dtype=np.float64)
    hr_v = np.asarray(hr_img.numpy(), dtype=np.float64)
    if not (np.isfinite(lr_v).all() and np.isfinite(hr_v).all()):
        raise InputError("NaN or Inf pixel values", where="image")
    sigma0 = _start_sigma(psf_fwhm_um, lr_img, factors)
    model = LRModel(hr_v, factors, transform, intensity, fit_psf=fit_psf)
    binned0 = bin_blocks(ndimage.gaussian_filter(hr_v, sigma0, mode="reflect"), factors)
    common = tuple(slice(0, min(a, b)) for a, b in zip(lr_v.shape, binned0.shape))
    ncc_before = ncc(lr_v[common], binned0[common])
    x, box = _start(model, lr_v, binned0, sigma0, margin_hr_px)
    if transform != "translation" or intensity != "affine":
        x = _translation_first(hr_v, factors, fit_psf, model, x, lr_v, box)
    result, x, box = _fit_with_box(model, lr_v, x, box, margin_hr_px)
    weights = _noise_weights(model, x, lr_v, box) if noise_weights else None
    if weights is not None:
        result = _fit(model, lr_v, x, box, weights)
        x = result.x
    field = None
    if deformable:
        from geosr.pairs.deform import fit_field

        field = fit_field(model, x, lr_v, box)
    reg = _assemble(lr_img, hr_img, hr_v, model, result, x, box, factors, ncc_before, field)
    x_id = model.initial((0.0,) * lr_img.dims, sigma0)
    m_id = model.binned(x_id, [lo for lo, _ in box], reg.lr.shape)
    a_id, b_id = _affine_start(m_id, np.asarray(reg.lr.numpy(), np.float64))
    reg.before = reg.lr.replace(data=a_id * m_id + b_id)
    return reg


def _deformed(q: np.ndarray, t: PairTransform, field: Any, start: Sequence[int],
              factors: tuple[int, ...]) -> np.ndarray:
    """``q`` with the non-rigid correction: the shift becomes ``shift + δ(p)``."""
    fine_shape = q.shape[1:]
    axes = [(np.arange(n) + s0 * f - (f - 1) / 2.0) / f
            for n, s0, f in zip(fine_shape, start, factors)]
    grids = np.meshgrid(*axes, indexing="ij")
    delta = field.at_lr(np.stack([g.ravel() for g in grids])).reshape((len(factors),)
                                                                      + fine_shape)
    inv = t._matrix_inverse()
    dy, dx = factors[-2] * delta[-2], factors[-1] * delta[-1]
    out = q.copy()
    out[-2] -= inv[0, 0] * dy + inv[0, 1] * dx
    out[-1] -= inv[1, 0] * dy + inv[1, 1] * dx
    if len(factors) == 3:
        out[0] -= factors[0] * delta[0] / t.zoom
    return out


def _assemble(lr_img: Image, hr_img: Image, hr_v: np.ndarray, model: LRModel, result: Any,
              x: np.ndarray, box, factors: tuple[int, ...], ncc_before: float,
              field: Any = None) -> PairRegistration:
    start = tuple(lo for lo, _ in box)
    shape = tuple(hi - lo for lo, hi in box)
    crop = tuple(slice(lo, hi) for lo, hi in box)
    lr_crop_v = np.asarray(lr_img.numpy())[crop]
    t = model.transform_of(x)
    fine_shape = tuple(n * f for n, f in zip(shape, factors))
    q = t.hr_coordinates(fine_shape, factors, hr_v.shape, tuple(s * f for s, f in
                                                               zip(start, factors)))
    if field is not None:
        q = _deformed(q, t, field, start, factors)
    predicted = model.predict_at(x, q)
    hr_reg = ndimage.map_coordinates(hr_v, q, order=3, mode="mirror")
    if np.issubdtype(hr_img.dtype, np.integer):
        info = np.iinfo(hr_img.dtype)
        hr_reg = np.clip(np.rint(hr_reg), info.min, info.max).astype(hr_img.dtype)
    lr_origin = tuple(o + s0 * sp for o, s0, sp in zip(lr_img.origin, start, lr_img.spacing))
    hr_spacing = tuple(sp / f for sp, f in zip(lr_img.spacing, factors))
    hr_origin = tuple(o - (f - 1) / 2.0 * hs for o, f, hs in zip(lr_origin, factors,
                                                                  hr_spacing))
    lr_out = lr_img.replace(data=lr_crop_v, origin=lr_origin)
    hr_out = hr_img.replace(data=hr_reg, spacing=hr_spacing, origin=hr_origin,
                            unit=lr_img.unit)
    sigma = model.sigma_of(x)
    hr_px_um = tuple(s / f for s, f in zip(lr_img.spacing_um, factors))
    a, b = float(x[model.index["a"]]), float(x[model.index["b"]])
    gamma = float(x[model.index["gamma"]]) if "gamma" in model.index else 1.0
    residual = np.asarray(lr_crop_v, np.float64) - predicted
    lr_noise = noise_sd(lr_crop_v)
    return PairRegistration(
        lr=lr_out, hr=hr_out, model=lr_out.replace(data=predicted), transform=t,
        sigma_hr_px=sigma, fwhm_um=tuple(s * FWHM_PER_SIGMA * p for s, p in zip(sigma,
                                                                                hr_px_um)),
        intensity={"kind": model.intensity, "a": a, "b": b, "gamma": gamma,
                   "m_ref": model.m_ref if model.intensity == "gamma" else None},
        ncc_before=ncc_before, ncc_after=ncc(lr_crop_v, predicted),
        residual_rms=float(np.sqrt(np.mean(residual ** 2))),
        noise_bins=_noise_bins(predicted - b, residual),
        standard_errors=fit_standard_errors(result, model.names),
        lr_box=tuple(box), scale=factors,
        field=field,
        checks={"lr_noise_sd": lr_noise, "residual_over_noise": float(
            np.sqrt(np.mean(residual ** 2))) / lr_noise if lr_noise > 0 else float("inf")})
