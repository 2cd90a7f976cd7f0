"""Fourier ring / shell correlation (FRC in 2D, FSC in 3D) and single-image FRC.

Two-image FRC (van Heel; Nieuwenhuizen et al. 2013)
---------------------------------------------------
For two images of the same field with independent noise, after mean subtraction and an edge
window (Tukey, alpha 0.25, per axis),
``FRC(f) = Re sum_{k in ring f} F1(k) F2*(k) / sqrt(sum |F1|^2 sum |F2|^2)``.
Rings are shells of *physical* spatial frequency ``|f| = sqrt(sum_i f_i^2)`` (cycles per unit of
length, ``f_i = fftfreq(n_i, spacing_i)``), so anisotropic spacing and non-square shapes are
handled; the ring width is the coarsest frequency step ``max_i 1/(n_i p_i)`` (one DFT pixel for a
square image), the ring index is ``round(|f| / width)``, and rings stop at the smallest per-axis
Nyquist frequency (the last complete shell).

Thresholds: the fixed ``1/7`` (0.143) and the half-bit curve of van Heel & Schatz (2005),
``T(n) = (0.2071 + 1.9102/sqrt(n)) / (1.2071 + 0.9102/sqrt(n))`` with ``n`` the number of
Fourier pixels in the ring. The resolution is ``1/f*`` at the first crossing (linear
interpolation between rings). The crossing counted is the first one after the low-frequency
plateau that stays below the threshold for 3 rings (a single noisy ring does not end the
curve), read on the curve smoothed by a Savitzky-Golay filter (window ~7 % of the rings, order
3, as NanoPyx; ``smooth=False`` reads the raw curve). If the curve never drops below the
threshold the result is Nyquist-limited (``resolution`` is None, ``bound`` gives the finest
measurable period ``1/f_max``).

Known bias: the edge window leaks a little power across frequencies and the smoothing spreads a
step over a few rings, so a spectrum with a hard cut-off is read 1-2 rings beyond it (about 5 %
at 25 rings, more below), and more when the SNR per frequency is very high (hundreds) or one
image is noise-free (FRC is normalised per ring, so even leaked power correlates). For smooth
spectra (Gaussian-like optics) and moderate SNR the estimate is within a few percent of theory
(see the tests).

What this measures (say it to users): FRC between *independent* acquisitions measures the
resolution of the data; FRC(SR, GT) measures the frequency up to which a prediction is faithful
to an independent truth; FRC between two SR outputs of independent inputs measures
reproducibility, and a network that invents the same structure twice scores high. Checkerboard
FRC on an SR output (or any processed image whose neighbouring pixels' noise is correlated) is
invalid.

Single-image FRC (checkerboard split, Koho et al. 2019)
-------------------------------------------------------
The image is split into its ``2^d`` sub-lattices ``I[a::2, b::2]`` (pixel ``2 p``). Koho et al.
(miplib) correlate the diagonal partners ``I[0::2, 0::2]`` / ``I[1::2, 1::2]`` and
``I[0::2, 1::2]`` / ``I[1::2, 0::2]``, which are offset by one original pixel along each axis (a
diagonal offset of sqrt(2) pixels, half a sub-image pixel per axis); the offset pulls the
correlation down at high frequency, and they compensate with an empirical curve. Here
(``correction="shift"``, the default) the offset is removed *exactly* in Fourier space, by
multiplying the partner's spectrum by ``exp(-2 pi i sum_j d_j k_j / n_j)`` with ``d_j`` in
{0, +-1/2} sub-image pixels, which makes every pair of sub-lattices usable: all
``2^d (2^d - 1) / 2`` pairs (6 in 2D, 28 in 3D) are averaged, which lowers the scatter.
Each sub-image holds ``1/2^d`` of the pixels, so its SNR per frequency is ``2^d`` times lower
than the full image's; the curve is rescaled to the full image,
``FRC' = 2^d FRC / (1 + (2^d - 1) FRC)`` (the Rosenthal-Henderson relation with a factor
``2^d``), so that it estimates what a two-image FRC of two such acquisitions would give, and it
is smoothed (Savitzky-Golay) before the crossing is read because the rescaling amplifies the
noise floor. The measurable range is resolutions of at least 4 original pixels (the sub-image
Nyquist). ``correction="koho"`` reproduces miplib instead (diagonal pairs, no shift or SNR
correction, ``res = (2 p / nu*) / (0.95988 exp(13.90442 (nu* - 0.97979)) + 0.55146)`` with
``nu*`` the crossing as a fraction of the sub-image Nyquist). Valid only for raw data with
pixel-independent noise; never on an SR output or any filtered image.

Example
-------
Gaussian blur (sigma 2 px) of white noise, plus independent noise of sd 0.1 in each image: the
SNR per frequency is ``exp(-4 pi^2 sigma^2 f^2) / 0.1^2`` and FRC = 1/7 where it equals 1/6, at
``f = sqrt(ln 600) / (2 pi sigma)`` = 0.201 cycles/px, i.e. 0.497 um at 0.1 um pixels.

>>> import numpy as np
>>> from scipy import ndimage
>>> rng = np.random.default_rng(0)
>>> s = ndimage.gaussian_filter(rng.standard_normal((256, 256)), 2, mode="wrap")
>>> a, b = (s + 0.1 * rng.standard_normal(s.shape) for _ in range(2))
>>> r = frc(a, b, spacing=0.1, unit="um")
>>> round(r.resolution["1/7"], 2), r.unit
(0.5, 'um')
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Sequence

import numpy as np
from scipy.signal import savgol_filter, windows

from geosr.core.errors import ConfigError, InputError
from geosr.core.image import Image
from geosr.core.per_axis import per_axis

__all__ = ["FRCResult", "frc", "fsc", "single_image_frc", "half_bit_threshold",
           "one_bit_threshold", "fixed_threshold", "THRESHOLDS"]


def fixed_threshold(n: np.ndarray, value: float = 1.0 / 7.0) -> np.ndarray:
    """The fixed 1/7 threshold (Nieuwenhuizen et al. 2013), broadcast to ``n``."""
    return np.full(np.shape(n), value, dtype=np.float64)


def half_bit_threshold(n: np.ndarray) -> np.ndarray:
    """Half-bit threshold (van Heel & Schatz 2005) for rings of ``n`` Fourier pixels.

    >>> round(float(half_bit_threshold(np.array(1e12))), 4)   # -> 0.2071/1.2071
    0.1716
    """
    s = 1.0 / np.sqrt(np.maximum(np.asarray(n, dtype=np.float64), 1.0))
    return (0.2071 + 1.9102 * s) / (1.2071 + 0.9102 * s)


def one_bit_threshold(n: np.ndarray) -> np.ndarray:
    """One-bit threshold (van Heel & Schatz 2005)."""
    s = 1.0 / np.sqrt(np.maximum(np.asarray(n, dtype=np.float64), 1.0))
    return (0.5 + 2.4142 * s) / (1.5 + 1.4142 * s)


#: Threshold curves by name, functions of the number of Fourier pixels per ring.
THRESHOLDS = {"1/7": fixed_threshold, "half-bit": half_bit_threshold,
              "one-bit": one_bit_threshold}


@dataclasses.dataclass(frozen=True)
class FRCResult:
    """A Fourier ring/shell correlation curve and the resolutions it gives.

    Attributes
    ----------
    kind:
        ``"FRC"``, ``"FSC"`` or ``"single-image FRC (checkerboard, ...)"``.
    frequency:
        Ring centres in cycles per ``unit``.
    nu:
        Ring centres as a fraction of the Nyquist frequency of the grid analysed.
    correlation:
        The correlation per ring (ring 0 is the mean, ~0 after mean subtraction).
    smoothed:
        The curve the crossings were read on (``correlation`` itself when not smoothed).
    n_pixels:
        Fourier pixels per ring.
    thresholds:
        Threshold curve per name.
    crossing:
        Crossing frequency per threshold name (cycles per unit), None if none (see ``notes``:
        Nyquist-limited, or no correlation at all).
    resolution:
        ``1 / crossing`` in ``unit`` per threshold, None when not crossed.
    bound:
        The finest period the analysis can resolve (``1 / f_max``, in ``unit``): a None
        resolution means "at least this fine (Nyquist-limited)" if the curve stayed above the
        threshold.
    unit:
        Length unit of ``resolution`` (and of ``1/frequency``).
    notes:
        Conventions and caveats, in words.
    """

    kind: str
    frequency: np.ndarray
    nu: np.ndarray
    correlation: np.ndarray
    smoothed: np.ndarray
    n_pixels: np.ndarray
    thresholds: dict[str, np.ndarray]
    crossing: dict[str, float | None]
    resolution: dict[str, float | None]
    bound: float
    unit: str
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary with the curves as lists."""
        return {"kind": self.kind, "unit": self.unit, "resolution": dict(self.resolution),
                "crossing": dict(self.crossing), "bound": self.bound,
                "frequency": self.frequency.tolist(), "correlation": self.correlation.tolist(),
                "smoothed": self.smoothed.tolist(),
                "n_pixels": self.n_pixels.tolist(),
                "thresholds": {k: v.tolist() for k, v in self.thresholds.items()},
                "notes": list(self.notes)}


# ----------------------------------------------------------------------------- helpers
def _array_spacing(x: Any, spacing: float | Sequence[float] | None, unit: str | None,
                   name: str) -> tuple[np.ndarray, tuple[float, ...], str]:
    if isinstance(x, Image):
        if x.has_channels:
            raise InputError(f"has channels (axes {x.axes})", where=name,
                             hint="pass one channel at a time")
        arr = x.numpy()
        sp = x.spacing if spacing is None else spacing
        unit = x.unit if unit is None else unit
    else:
        arr = np.asarray(x)
        sp = 1.0 if spacing is None else spacing
        unit = ("pixel" if spacing is None else "um") if unit is None else unit
    if arr.ndim not in (2, 3):
        raise InputError(f"expected a 2D or 3D image, got shape {arr.shape}", where=name)
    if arr.dtype.kind not in "biuf":
        raise InputError(f"has dtype {arr.dtype}; expected real numbers", where=name)
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise InputError("contains NaN or infinite values", where=name,
                         hint="replace or mask them first")
    sp_t = per_axis(sp, arr.ndim, where="spacing", positive=True)
    return arr, sp_t, unit


def _window(shape: Sequence[int], alpha: float | None) -> np.ndarray | None:
    if alpha is None or alpha == 0:
        return None
    w = np.ones(shape, dtype=np.float64)
    for axis, n in enumerate(shape):
        taper = windows.tukey(n, alpha)
        w *= taper.reshape([n if a == axis else 1 for a in range(len(shape))])
    return w


def _prepare(x: np.ndarray, alpha: float | None) -> np.ndarray:
    x = x - x.mean()
    w = _window(x.shape, alpha)
    return x if w is None else x * w


def _rings(shape: Sequence[int], spacing: Sequence[float]
           ) -> tuple[np.ndarray, int, float, np.ndarray]:
    """Ring index per Fourier pixel, number of rings, ring width (cycles/unit), |f| grid."""
    freqs = [np.fft.fftfreq(n, d=p) for n, p in zip(shape, spacing)]
    grids = np.meshgrid(*freqs, indexing="ij", sparse=True)
    radius = np.sqrt(sum(g * g for g in grids))
    width = max(1.0 / (n * p) for n, p in zip(shape, spacing))
    f_max = min(1.0 / (2.0 * p) for p in spacing)
    n_rings = int(np.floor(f_max / width + 1e-9)) + 1
    index = np.rint(radius / width).astype(np.int64)
    return index, n_rings, width, radius


def _ring_sums(index: np.ndarray, n_rings: int, values: np.ndarray) -> np.ndarray:
    flat = index.ravel()
    keep = flat < n_rings
    return np.bincount(flat[keep], weights=values.ravel()[keep], minlength=n_rings)


def _smooth(corr: np.ndarray) -> np.ndarray:
    """Savitzky-Golay smoothing of the curve from ring 1 on (window ~7 % of the rings, order 3,
    as NanoPyx); ring 0 is left alone."""
    n = len(corr) - 1
    win = int(round(0.0707 * n)) | 1
    win = max(win, 5)
    if n < win + 2:
        return corr
    out = corr.copy()
    out[1:] = savgol_filter(corr[1:], win, 3, mode="interp")
    return out


PERSIST = 3


def _crossing(freq: np.ndarray, corr: np.ndarray, thr: np.ndarray,
              persist: int = PERSIST) -> tuple[float | None, str]:
    """``(frequency, status)``: the first frequency where the correlation falls below the
    threshold after having been above it (the low-frequency plateau) and stays below for
    ``persist`` rings (or to the end), linearly interpolated between the two rings around it;
    ring 0 (the mean) is ignored. Status ``"crossed"``, ``"nyquist"`` (never falls below) or
    ``"uncorrelated"`` (never above the threshold)."""
    diff = corr - thr
    above = np.flatnonzero(diff[1:] > 0)
    if above.size == 0:
        return None, "uncorrelated"
    for i in range(int(above[0]) + 2, len(freq)):
        if (diff[i:i + persist] < 0).all():
            t = diff[i - 1] / (diff[i - 1] - diff[i])
            return float(freq[i - 1] + t * (freq[i] - freq[i - 1])), "crossed"
    return None, "nyquist"


def _curve(spectra_a: list[np.ndarray], spectra_b: list[np.ndarray], shape: Sequence[int],
           spacing: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    index, n_rings, width, _ = _rings(shape, spacing)
    num = np.zeros(n_rings)
    pa = np.zeros(n_rings)
    pb = np.zeros(n_rings)
    for fa, fb in zip(spectra_a, spectra_b):
        num += _ring_sums(index, n_rings, (fa * np.conj(fb)).real)
        pa += _ring_sums(index, n_rings, (fa * np.conj(fa)).real)
        pb += _ring_sums(index, n_rings, (fb * np.conj(fb)).real)
    count = np.bincount(index.ravel()[index.ravel() < n_rings], minlength=n_rings)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where(pa * pb > 0, num / np.sqrt(pa * pb), 0.0)
    freq = np.arange(n_rings) * width
    return freq, corr, count.astype(np.float64), width


def _result(kind: str, freq: np.ndarray, corr: np.ndarray, count: np.ndarray, nyquist: float,
            unit: str, thresholds: Sequence[str], notes: list[str], smooth: bool,
            resolution_from_crossing=None) -> FRCResult:
    unknown = [t for t in thresholds if t not in THRESHOLDS]
    if unknown:
        raise ConfigError(f"unknown threshold(s) {unknown}", where="thresholds",
                          hint="use some of " + ", ".join(THRESHOLDS))
    curves = {t: THRESHOLDS[t](count) for t in thresholds}
    used = _smooth(corr) if smooth else corr
    if smooth:
        notes.append("crossings read on the Savitzky-Golay smoothed curve (window ~7 % of the "
                     "rings, order 3); `correlation` is the raw curve, `smoothed` the one used")
    found = {t: _crossing(freq, used, c) for t, c in curves.items()}
    crossing = {t: f for t, (f, _) in found.items()}
    to_res = resolution_from_crossing or (lambda f: 1.0 / f)
    resolution = {t: (None if f is None or f <= 0 else float(to_res(f)))
                  for t, f in crossing.items()}
    for t, (_, status) in found.items():
        if status == "nyquist":
            notes.append(f"{t}: no crossing up to the last complete ring (Nyquist-limited: the "
                         f"resolution is {1.0 / freq[-1]:.4g} {unit} or finer)")
        elif status == "uncorrelated":
            notes.append(f"{t}: the correlation is below the threshold at every frequency: no "
                         "common signal (independent noise, or misregistered images)")
    return FRCResult(kind, freq, freq / nyquist, corr, used, count, curves, crossing,
                     resolution, float(1.0 / freq[-1]), unit, tuple(notes))


# ----------------------------------------------------------------------------- public API
def frc(a: Any, b: Any, *, spacing: float | Sequence[float] | None = None,
        unit: str | None = None, window: float | None = 0.25,
        thresholds: Sequence[str] = ("1/7", "half-bit"), smooth: bool = True) -> FRCResult:
    """Fourier ring (2D) or shell (3D) correlation of two images of the same field.

    Parameters
    ----------
    a, b:
        Arrays or :class:`geosr.core.Image` of the same shape, with *independent* noise.
    spacing:
        Pixel size per axis (or one for all), in ``unit``. Defaults to the images' spacing, or
        1 pixel for bare arrays.
    unit:
        Length unit of the spacing and of the returned resolution.
    window:
        Tukey alpha of the edge apodisation (None or 0: no window).
    thresholds:
        Names from :data:`THRESHOLDS` (``"1/7"``, ``"half-bit"``, ``"one-bit"``).
    smooth:
        Read the crossings on a Savitzky-Golay smoothed curve (robust to ring-to-ring noise).

    Returns
    -------
    FRCResult
        Curve, thresholds and resolution (in ``unit``) per threshold.
    """
    xa, sp, unit_a = _array_spacing(a, spacing, unit, "first image")
    xb, _, _ = _array_spacing(b, sp, unit_a, "second image")
    if xa.shape != xb.shape:
        raise InputError(f"shape mismatch: {xa.shape} and {xb.shape}", where="second image",
                         hint="FRC compares two images of the same field on the same grid")
    if min(xa.shape) < 8:
        raise InputError(f"too small for a Fourier correlation: {xa.shape}", where="first image")
    fa = np.fft.fftn(_prepare(xa, window))
    fb = np.fft.fftn(_prepare(xb, window))
    freq, corr, count, _ = _curve([fa], [fb], xa.shape, sp)
    kind = "FRC" if xa.ndim == 2 else "FSC"
    notes = [f"{kind} of two images; Tukey window alpha={window}; rings of physical frequency, "
             f"width {freq[1]:.4g} cycles/{unit_a}"]
    return _result(kind, freq, corr, count, min(1 / (2 * p) for p in sp), unit_a, thresholds,
                   notes, smooth)


def fsc(a: Any, b: Any, **kwargs: Any) -> FRCResult:
    """Fourier shell correlation: :func:`frc` of two volumes (same parameters)."""
    return frc(a, b, **kwargs)


def _koho_resolution(pixel: float, nyquist_sub: float):
    def convert(f: float) -> float:
        nu = f / nyquist_sub
        c = 0.95988 * np.exp(13.90442 * (nu - 0.97979)) + 0.55146
        return (2.0 * pixel / nu) / c
    return convert


def single_image_frc(image: Any, *, spacing: float | Sequence[float] | None = None,
                     unit: str | None = None, window: float | None = 0.25,
                     thresholds: Sequence[str] = ("1/7", "half-bit"),
                     correction: str = "shift", smooth: bool = True) -> FRCResult:
    """Single-image FRC/FSC by checkerboard (diagonal sub-lattice) splitting.

    Parameters are as for :func:`frc`; ``correction`` is ``"shift"`` (exact Fourier-space
    removal of the half-sub-pixel offset between partners and rescaling of the curve to the full
    image's SNR, default) or ``"koho"`` (miplib's empirical correction, 2D, isotropic spacing). See the module notes for validity: raw data
    with pixel-independent noise only, never an SR output.

    Example
    -------
    Gaussian blur sigma 3 px, noise sd 0.1: theory (see the module example) 7.45 px.

    >>> import numpy as np
    >>> from scipy import ndimage
    >>> rng = np.random.default_rng(2)
    >>> s = ndimage.gaussian_filter(rng.standard_normal((256, 256)), 3, mode="wrap")
    >>> r = single_image_frc(s + 0.1 * rng.standard_normal(s.shape))
    >>> 6.3 < r.resolution["1/7"] < 8.6     # single-image estimates scatter (~10 %)
    True
    """
    if correction not in ("shift", "koho"):
        raise ConfigError(f"unknown correction {correction!r}", where="correction",
                          hint="use 'shift' or 'koho'")
    x, sp, unit_x = _array_spacing(image, spacing, unit, "image")
    dims = x.ndim
    x = x[tuple(slice(0, n - n % 2) for n in x.shape)]
    sub_shape = tuple(n // 2 for n in x.shape)
    if min(sub_shape) < 8:
        raise InputError(f"too small for a single-image FRC: {x.shape}", where="image")
    sub_sp = tuple(2 * p for p in sp)
    grids = np.meshgrid(*[np.fft.fftfreq(n) for n in sub_shape], indexing="ij", sparse=True)
    offsets = list(itertools.product((0, 1), repeat=dims))
    if correction == "shift":   # every pair of sub-lattices, offsets removed exactly
        pairs = list(itertools.combinations(offsets, 2))
    else:                       # miplib: the diagonal pairs only
        pairs = [(o, tuple(1 - v for v in o)) for o in offsets if o[0] == 0]
    spectra = {o: np.fft.fftn(_prepare(x[tuple(slice(v, None, 2) for v in o)], window))
               for o in offsets}
    spectra_a, spectra_b = [], []
    for first, second in pairs:
        fb = spectra[second]
        if correction == "shift":
            shift = [(b - a) / 2.0 for a, b in zip(first, second)]   # sub-pixels, 0 or +-1/2
            fb = fb * np.exp(-2j * np.pi * sum(d * g for d, g in zip(shift, grids)))
        spectra_a.append(spectra[first])
        spectra_b.append(fb)
    freq, corr, count, _ = _curve(spectra_a, spectra_b, sub_shape, sub_sp)
    if correction == "shift":
        m = 2.0 ** dims   # each sub-image holds 1/2^d of the pixels: SNR per frequency / 2^d
        corr = m * corr / (1.0 + (m - 1.0) * corr)
    nyquist_sub = min(1 / (2 * p) for p in sub_sp)
    kind = "single-image " + ("FRC" if dims == 2 else "FSC")
    notes = [f"{kind}: checkerboard split into {2 ** dims} sub-lattices, {len(pairs)} pairs "
             f"averaged; Tukey window alpha={window}",
             "valid only for raw data with pixel-independent noise; never on an SR output"]
    convert = None
    if correction == "shift":
        kind += " (checkerboard, shift and SNR corrections)"
        notes.append("half-sub-pixel offset removed in Fourier space; curve rescaled to the "
                     f"full image, FRC' = {2 ** dims} FRC / (1 + {2 ** dims - 1} FRC), since each "
                     f"sub-image has 1/{2 ** dims} of the pixels (SNR per frequency / "
                     f"{2 ** dims}); measurable resolutions >= {1 / nyquist_sub:.4g} {unit_x} "
                     "(4 pixels)")
    else:
        if dims != 2 or len(set(sp)) != 1:
            raise ConfigError("the 'koho' correction is defined for 2D images with square "
                              "pixels", where="correction", hint="use correction='shift'")
        kind += " (checkerboard, Koho empirical correction)"
        notes.append("miplib empirical correction c(nu) = 0.95988 exp(13.90442 (nu - 0.97979))"
                     " + 0.55146 applied to 2p/nu")
        convert = _koho_resolution(sp[0], nyquist_sub)
    return _result(kind, freq, corr, count, nyquist_sub, unit_x, thresholds, notes, smooth,
                   convert)
