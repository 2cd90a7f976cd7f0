"""Resolution metrics on synthetic images of known cut-off: FRC/FSC (two images), single-image
FRC (checkerboard) and decorrelation analysis are within 10 % of theory and monotone in the blur.

Theory used
-----------
- Hard cut-off: white noise whose spectrum is set to zero beyond ``k_c`` (cycles/pixel); the
  correlation drops at ``k_c``, so the resolution is ``1/k_c`` (FRC) and the normalised cut-off
  ``2 k_c`` (decorrelation, 1 = Nyquist).
- Gaussian blur (sigma pixels) of unit white noise plus independent noise of sd ``s``: the SNR
  per frequency is ``exp(-4 pi^2 sigma^2 f^2) / s^2``; FRC = SNR / (1 + SNR) equals 1/7 where
  SNR = 1/6, at ``f* = sqrt(ln(6 / s^2)) / (2 pi sigma)``; resolution ``1/f*``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from geosr.assess import decorrelation, frc, fsc, half_bit_threshold, single_image_frc
from geosr.core import ConfigError, Image, InputError


def band_limited(shape, kc, seed):
    """Unit-power-per-frequency white noise with a hard spherical cut-off at kc cycles/px."""
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.fft.fftfreq(n) for n in shape], indexing="ij", sparse=True)
    radius = np.sqrt(sum(g * g for g in grids))
    return np.fft.ifftn(np.fft.fftn(rng.standard_normal(shape)) * (radius < kc)).real


def blurred(shape, sigma, seed):
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")


def gaussian_theory(sigma, noise):
    return 2 * math.pi * sigma / math.sqrt(math.log(6 / noise ** 2))


def noisy(signal, noise, seed):
    return signal + noise * np.random.default_rng(seed).standard_normal(signal.shape)


# ------------------------------------------------------------------ thresholds and edge cases
def test_thresholds():
    n = np.array([1.0, 100.0, 1e12])
    t = half_bit_threshold(n)
    assert t[0] == pytest.approx(1.0, abs=1e-4)            # (0.2071+1.9102)/(1.2071+0.9102)
    assert t[1] == pytest.approx((0.2071 + 0.19102) / (1.2071 + 0.09102))
    assert t[2] == pytest.approx(0.2071 / 1.2071, abs=1e-5)
    r = frc(np.ones((32, 32)) + np.eye(32), np.ones((32, 32)) + np.eye(32),
            thresholds=("1/7", "half-bit", "one-bit"))
    assert np.all(r.thresholds["1/7"] == 1 / 7)
    with pytest.raises(ConfigError, match="threshold"):
        frc(np.eye(32), np.eye(32), thresholds=("3sigma-typo",))


def test_identical_images_are_nyquist_limited_and_noise_pairs_uncorrelated():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 128))
    same = frc(x, x, spacing=0.2, unit="um")
    assert np.allclose(same.correlation[1:], 1.0)
    assert same.resolution == {"1/7": None, "half-bit": None}
    assert same.bound == pytest.approx(0.4) and "Nyquist-limited" in same.notes[-1]
    pure = frc(rng.standard_normal((256, 256)), rng.standard_normal((256, 256)), window=None)
    c, n = pure.correlation[2:], pure.n_pixels[2:]
    assert np.mean(np.abs(c) > 3 / np.sqrt(n)) < 0.02      # |FRC| ~ 1/sqrt(n) for noise
    assert abs(np.mean(c)) < 0.02


# ------------------------------------------------------------------ two-image FRC / FSC
def test_frc_hard_cutoff_within_10_percent_in_physical_units_and_monotone():
    spacing = 0.1   # um
    estimates = []
    for i, kc in enumerate((0.1, 0.15, 0.2, 0.3)):
        s = band_limited((256, 256), kc, seed=i)
        r = frc(noisy(s, 0.5, 100 + i), noisy(s, 0.5, 200 + i), spacing=spacing, unit="um")
        truth = spacing / kc
        for name in ("1/7", "half-bit"):
            assert r.resolution[name] == pytest.approx(truth, rel=0.10), (kc, name)
        assert r.unit == "um"
        estimates.append(r.resolution["1/7"])
    assert estimates == sorted(estimates, reverse=True)


def test_frc_gaussian_blur_within_10_percent_of_theory_and_monotone():
    estimates = []
    for i, sigma in enumerate((2.0, 3.0, 4.0, 6.0)):
        s = blurred((256, 256), sigma, seed=i)
        r = frc(noisy(s, 0.1, 10 + i), noisy(s, 0.1, 20 + i))
        assert r.resolution["1/7"] == pytest.approx(gaussian_theory(sigma, 0.1), rel=0.10)
        estimates.append(r.resolution["1/7"])
    assert estimates == sorted(estimates)


def test_fsc_3d_gaussian_blur_and_image_spacing():
    estimates = []
    for i, sigma in enumerate((2.0, 3.0)):
        s = blurred((64, 64, 64), sigma, seed=i)
        a = Image(noisy(s, 0.1, 30 + i), "ZYX", spacing=(0.5,) * 3, unit="um")
        b = Image(noisy(s, 0.1, 40 + i), "ZYX", spacing=(0.5,) * 3, unit="um")
        r = fsc(a, b)
        assert r.kind == "FSC" and r.unit == "um"
        assert r.resolution["1/7"] == pytest.approx(0.5 * gaussian_theory(sigma, 0.1), rel=0.10)
        estimates.append(r.resolution["1/7"])
    assert estimates[0] < estimates[1]


def test_frc_anisotropic_spacing_uses_physical_frequency():
    """The same band-limited field sampled on a grid twice as fine along x (x spacing halved):
    rings in physical frequency give the same resolution."""
    s = band_limited((128, 256), 0.15, seed=3)               # cut-off 0.15 cycles/px along y
    # resample along x by 2 (exact: the spectrum is zero beyond 0.25 cycles/px along x)
    f = np.fft.fft(s, axis=1)
    g = np.concatenate([f[:, :128], np.zeros((128, 256)), f[:, 128:]], axis=1)
    fine = np.fft.ifft(g, axis=1).real * 2
    ra = frc(noisy(s, 0.5, 1), noisy(s, 0.5, 2), spacing=(1.0, 1.0))
    rb = frc(noisy(fine, 0.5, 3), noisy(fine, 0.5, 4), spacing=(1.0, 0.5))
    assert ra.resolution["1/7"] == pytest.approx(1 / 0.15, rel=0.10)
    assert rb.resolution["1/7"] == pytest.approx(1 / 0.15, rel=0.10)


# ------------------------------------------------------------------ single-image FRC
def test_single_image_frc_gaussian_within_10_percent_and_monotone():
    estimates = []
    for i, sigma in enumerate((2.0, 3.0, 4.0, 6.0)):
        image = noisy(blurred((512, 512), sigma, seed=50 + i), 0.1, 60 + i)
        r = single_image_frc(image)
        assert r.resolution["1/7"] == pytest.approx(gaussian_theory(sigma, 0.1), rel=0.10)
        estimates.append(r.resolution["1/7"])
        assert "never on an SR output" in " ".join(r.notes)
    assert estimates == sorted(estimates)


def test_single_image_frc_hard_cutoff_and_measurable_range():
    s = band_limited((512, 512), 0.125, seed=7)
    r = single_image_frc(noisy(s, 0.5, 8), spacing=0.05, unit="um")
    assert r.resolution["1/7"] == pytest.approx(0.05 / 0.125, rel=0.10)
    # finer than 4 pixels cannot be measured from sub-lattices: reported as a bound
    fine = single_image_frc(noisy(blurred((256, 256), 1.0, seed=9), 0.1, 10))
    assert fine.resolution["1/7"] is None and fine.bound == pytest.approx(4.0)


def test_single_image_fsc_3d_within_10_percent():
    image = noisy(blurred((64, 64, 64), 2.0, seed=11), 0.1, 12)
    r = single_image_frc(image)
    assert "FSC" in r.kind and "28 pairs" in r.notes[0]
    assert r.resolution["1/7"] == pytest.approx(gaussian_theory(2.0, 0.1), rel=0.10)


def test_single_image_frc_koho_option_and_errors():
    image = noisy(blurred((256, 256), 3.0, seed=13), 0.1, 14)
    koho = single_image_frc(image, correction="koho")
    assert "Koho" in koho.kind
    assert koho.resolution["1/7"] == pytest.approx(gaussian_theory(3.0, 0.1), rel=0.25)
    with pytest.raises(ConfigError, match="square"):
        single_image_frc(image, spacing=(1.0, 2.0), correction="koho")
    with pytest.raises(ConfigError, match="correction"):
        single_image_frc(image, correction="sqrt2")


def test_frc_input_errors():
    with pytest.raises(InputError, match="shape mismatch"):
        frc(np.zeros((32, 32)), np.zeros((32, 30)))
    bad = np.zeros((32, 32))
    bad[0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        frc(bad, np.zeros((32, 32)))
    with pytest.raises(InputError, match="channels"):
        single_image_frc(Image(np.zeros((2, 32, 32)), "CYX"))


# ------------------------------------------------------------------ decorrelation
def test_decorrelation_hard_cutoff_within_10_percent_and_monotone():
    estimates = []
    for i, kc in enumerate((0.1, 0.15, 0.2, 0.3, 0.4)):
        s = band_limited((255, 255), kc, seed=70 + i)
        r = decorrelation(noisy(s / s.std(), 0.3, 80 + i), spacing=0.1, unit="um")
        assert r.kc == pytest.approx(2 * kc, rel=0.10), kc
        assert r.resolution == pytest.approx(2 * 0.1 / r.kc)
        assert r.resolution == pytest.approx(0.1 / kc, rel=0.10)
        estimates.append(r.kc)
    assert estimates == sorted(estimates)


def test_decorrelation_monotone_in_gaussian_blur():
    w = np.random.default_rng(90).standard_normal((255, 255))
    kcs = []
    for sigma in (1.0, 1.5, 2.0, 3.0, 4.0, 6.0):
        image = noisy(ndimage.gaussian_filter(w, sigma, mode="wrap"), 0.05, 91)
        r = decorrelation(image)
        # the cut-off lies where the signal sinks into the noise: between SNR 10 and SNR 0.1
        lo = math.sqrt(math.log(0.1 / 0.05 ** 2)) / (2 * math.pi * sigma)
        hi = math.sqrt(math.log(10 / 0.05 ** 2)) / (2 * math.pi * sigma)
        assert 2 * lo < r.kc < 2 * hi
        kcs.append(r.kc)
    assert kcs == sorted(kcs, reverse=True)
    assert len(set(kcs)) == len(kcs)


def test_decorrelation_3d_noise_and_errors():
    s = band_limited((64, 64, 64), 0.2, seed=95)
    r = decorrelation(Image(noisy(s / s.std(), 0.3, 96), "ZYX", spacing=(0.5,) * 3))
    assert r.kc == pytest.approx(0.4, rel=0.10) and r.unit == "um"
    pure = decorrelation(np.random.default_rng(97).standard_normal((128, 128)))
    assert pure.kc == 0.0 and pure.resolution is None and "noise" in pure.notes[-1]
    with pytest.raises(ConfigError, match="isotropic"):
        decorrelation(np.zeros((32, 32)), spacing=(1.0, 2.0))
    with pytest.raises(InputError, match="16 pixels"):
        decorrelation(np.zeros((8, 8)))


def test_uncorrelated_pair_is_reported_as_such():
    rng = np.random.default_rng(98)
    r = frc(rng.standard_normal((128, 128)), rng.standard_normal((128, 128)),
            thresholds=("half-bit",))
    assert r.resolution == {"half-bit": None} and "no common signal" in r.notes[-1]
