"""Full-reference metrics: exact values on hand-computed cases, cross-checks against
scikit-image (PSNR, SSIM, NRMSE) and pytorch-msssim (MS-SSIM), conventions recorded, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage, signal
from skimage.metrics import normalized_root_mse, peak_signal_noise_ratio, structural_similarity

from geosr.assess import (affine_fit, full_reference, gmsd, mae, ms_ssim, mse, nrmse, pearson,
                          psnr, ssim)
from geosr.assess.conventions import shape_mismatch_hint
from geosr.assess.structural import MS_SSIM_WEIGHTS, gaussian_window
from geosr.core import ConfigError, Image, InputError

WANG = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)


def _pair(shape=(64, 80), noise=0.1, seed=0, smooth=1.0):
    rng = np.random.default_rng(seed)
    gt = ndimage.gaussian_filter(rng.random(shape), smooth)
    gt = (gt - gt.min()) / (gt.max() - gt.min())
    pred = np.clip(gt + noise * rng.standard_normal(shape), 0, 1)
    return pred, gt


# ------------------------------------------------------------------ identity and exact values
def test_identity_gives_infinite_psnr_and_unit_ssim():
    pred, gt = _pair((176, 176))
    assert psnr(gt, gt, data_range=1.0).value == math.inf
    assert ssim(gt, gt, data_range=1.0).value == 1.0
    assert ms_ssim(gt, gt, data_range=1.0).value == 1.0
    assert gmsd(gt, gt, data_range=1.0).value == 0.0
    assert mae(gt, gt).value == 0.0 and mse(gt, gt).value == 0.0


def test_known_mse_gives_the_exact_psnr():
    gt = np.random.default_rng(1).integers(10, 240, (32, 32)).astype(np.uint8)
    pred = gt + np.where(np.indices(gt.shape).sum(0) % 2, 2, -2).astype(np.int16)  # MSE = 4
    result = psnr(pred, gt, data_range=255)
    assert result.details["mse"] == 4.0
    assert result.value == pytest.approx(10 * math.log10(255 ** 2 / 4), abs=1e-12)
    assert result.unit == "dB"
    # 16-bit data with the full 16-bit range vs the truth's span: two named conventions
    g16 = np.linspace(1000, 2000, 64 * 64).reshape(64, 64).astype(np.uint16)
    p16 = g16 + np.uint16(10)
    full = psnr(p16, g16, data_range="dtype")
    span = psnr(p16, g16, data_range="gt")
    assert full.convention.data_range == 65535 and full.convention.data_range_source == \
        "dtype uint16"
    assert span.convention.data_range == 1000 and span.convention.data_range_source == \
        "gt max-min"
    assert full.value == pytest.approx(20 * math.log10(65535 / 10))
    assert span.value == pytest.approx(20 * math.log10(1000 / 10))


def test_nrmse_normalisations_on_a_hand_computed_case():
    gt = np.array([[1.0, 2.0], [3.0, 4.0]])
    pred = gt + np.array([[1.0, -1.0], [1.0, -1.0]])          # RMSE = 1
    expected = {"range": 1 / 3, "mean": 1 / 2.5, "std": 1 / math.sqrt(1.25),
                "euclidean": 1 / math.sqrt(7.5)}
    for name, value in expected.items():
        result = nrmse(pred, gt, normalization=name)
        assert result.value == pytest.approx(value, abs=1e-15)
        assert result.convention.normalization.startswith(name)
    p, g = _pair()
    for ours, theirs in (("euclidean", "euclidean"), ("range", "min-max"), ("mean", "mean")):
        assert nrmse(p, g, normalization=ours).value == pytest.approx(
            normalized_root_mse(g, p, normalization=theirs), abs=1e-12)
    with pytest.raises(ConfigError, match="normalisation"):
        nrmse(pred, gt)
    assert math.isnan(nrmse(pred, np.zeros_like(gt), normalization="mean").value)


def test_mae_and_mse_maps():
    gt = np.zeros((4, 4))
    pred = gt.copy()
    pred[0, 0] = 4.0
    assert mae(pred, gt).value == 0.25 and mse(pred, gt).value == 1.0
    assert mae(pred, gt).map[0, 0] == 4.0 and mse(pred, gt).map[0, 0] == 16.0


def test_pearson_constant_and_linear():
    x = np.arange(20.0).reshape(4, 5)
    assert pearson(3 * x - 7, x).value == 1.0
    assert pearson(-x, x).value == -1.0
    result = pearson(np.full_like(x, 3.0), x)
    assert math.isnan(result.value) and result.note == "undefined: the prediction is constant"
    assert pearson(x, np.ones_like(x)).note == "undefined: the truth is constant"


# ------------------------------------------------------------------ scikit-image cross-checks
@pytest.mark.parametrize("shape", [(64, 80), (33, 47), (20, 24, 28)])
def test_ssim_and_psnr_match_scikit_image_with_wang_settings(shape):
    pred, gt = _pair(shape, seed=len(shape))
    ours = ssim(pred, gt, data_range=1.0)
    theirs = structural_similarity(gt, pred, data_range=1.0, **WANG)
    assert ours.value == pytest.approx(theirs, abs=1e-6)
    assert ours.map.shape == tuple(n - 10 for n in shape)
    assert psnr(pred, gt, data_range=1.0).value == pytest.approx(
        peak_signal_noise_ratio(gt, pred, data_range=1.0), abs=1e-6)


def test_ssim_matches_scikit_image_on_uint8_with_crop_and_channels():
    rng = np.random.default_rng(3)
    gt = rng.integers(0, 256, (3, 60, 70), dtype=np.uint8)
    pred = np.clip(gt + rng.normal(0, 8, gt.shape), 0, 255).astype(np.uint8)
    crop = 4
    g = gt[:, crop:-crop, crop:-crop].astype(np.float64)
    p = pred[:, crop:-crop, crop:-crop].astype(np.float64)
    ours = ssim(pred, gt, data_range=255, crop=crop, channel_axis=0)
    theirs = structural_similarity(g, p, data_range=255, channel_axis=0, **WANG)
    assert ours.value == pytest.approx(theirs, abs=1e-6)
    assert ours.convention.crop == (4, 4) and ours.convention.channel == "mean of 3 channels"
    assert psnr(pred, gt, data_range=255, crop=crop, channel_axis=0).value == pytest.approx(
        peak_signal_noise_ratio(g, p, data_range=255), abs=1e-6)
    image = Image(pred, "CYX")     # an Image with channels is handled without channel_axis
    assert ssim(image, Image(gt, "CYX"), data_range=255, crop=crop).value == ours.value


def test_gaussian_window_is_wang_2004():
    w = gaussian_window()
    x = np.arange(-5, 6)
    assert w.shape == (11,) and w.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(w, np.exp(-x ** 2 / 4.5) / np.exp(-x ** 2 / 4.5).sum())


# ------------------------------------------------------------------ MS-SSIM
def test_ms_ssim_matches_pytorch_msssim():
    torch = pytest.importorskip("torch")
    pm = pytest.importorskip("pytorch_msssim", reason="pytorch-msssim is the MS-SSIM oracle "
                             "(pip install pytorch-msssim)")
    for seed, shape in enumerate([(192, 208), (176, 240)]):
        pred, gt = _pair(shape, noise=0.05, seed=seed, smooth=2.0)
        ours = ms_ssim(pred, gt, data_range=1.0).value
        theirs = pm.ms_ssim(torch.from_numpy(pred)[None, None], torch.from_numpy(gt)[None, None],
                            data_range=1.0, win_size=11, win_sigma=1.5).item()
        assert ours == pytest.approx(theirs, abs=1e-4)
        assert ours < 1.0


def test_ms_ssim_3d_levels_compose_scikit_image_ssim():
    """3D MS-SSIM is the product of per-scale terms; with one scale it is the 3D SSIM."""
    pred, gt = _pair((24, 26, 28), noise=0.05, smooth=1.5)
    one = ms_ssim(pred, gt, data_range=1.0, weights=(1.0,))
    assert one.value == pytest.approx(structural_similarity(gt, pred, data_range=1.0, **WANG),
                                      abs=1e-9)
    two = ms_ssim(pred, gt, data_range=1.0, weights=(0.5, 0.5))
    cs1, s2 = two.details["scale_terms"]
    assert two.value == pytest.approx(math.sqrt(cs1 * s2), rel=1e-12)
    assert "3D extension" in two.convention.window


def test_ms_ssim_refuses_small_images_and_full_reference_says_why():
    pred, gt = _pair((100, 200))
    with pytest.raises(InputError, match="160"):
        ms_ssim(pred, gt, data_range=1.0)
    out = full_reference(pred, gt, data_range=1.0)
    assert math.isnan(out["MS-SSIM"].value) and "160" in out["MS-SSIM"].note
    assert out["SSIM"].value == ssim(pred, gt, data_range=1.0).value
    assert MS_SSIM_WEIGHTS == (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


# ------------------------------------------------------------------ GMSD
def _gmsd_reference(x, y, c):
    """Straight transcription of the authors' GMSD.m with MATLAB conv2 'same' semantics."""
    def down(a):
        a = signal.convolve2d(a, np.ones((2, 2)) / 4.0, mode="full")[1:, 1:]   # 'same', even k
        return a[::2, ::2]
    dx = np.array([[1, 0, -1]] * 3) / 3.0

    def mag(a):
        return np.hypot(signal.convolve2d(a, dx, mode="same"),
                        signal.convolve2d(a, dx.T, mode="same"))
    mx, my = mag(down(x)), mag(down(y))
    q = (2 * mx * my + c) / (mx ** 2 + my ** 2 + c)
    return q.std(ddof=1)


def test_gmsd_matches_a_transcription_of_the_published_code_and_grows_with_noise():
    rng = np.random.default_rng(5)
    gt = ndimage.gaussian_filter(rng.random((63, 80)), 1.5) * 255
    values = []
    for noise in (2.0, 5.0, 10.0):
        pred = gt + noise * rng.standard_normal(gt.shape)
        result = gmsd(pred, gt, data_range=255)
        assert result.value == pytest.approx(_gmsd_reference(pred, gt, 170.0), rel=1e-10)
        values.append(result.value)
    assert values == sorted(values)
    # data range scaling: the same images in [0, 1] give the same GMSD
    assert gmsd(pred / 255, gt / 255, data_range=1.0).value == pytest.approx(values[-1])
    with pytest.raises(InputError, match="2D"):
        gmsd(np.zeros((8, 16, 16)), np.zeros((8, 16, 16)), data_range=1.0)


# ------------------------------------------------------------------ scale-invariant mode
def test_affine_fit_recovers_gain_and_offset_and_is_labelled():
    pred, gt = _pair()
    distorted = (gt - 3.0) / 2.0                      # gt = 2 * distorted + 3
    fitted, a, b = affine_fit(distorted, gt)
    assert (a, b) == (pytest.approx(2.0), pytest.approx(3.0))
    np.testing.assert_allclose(fitted, gt, atol=1e-12)
    raw = psnr(distorted, gt, data_range=1.0)
    fit = psnr(distorted, gt, data_range=1.0, fit="affine")
    assert fit.value > 250 and raw.value < 0          # exact up to rounding vs hopeless raw
    assert raw.convention.fit == "none"
    assert fit.convention.fit.startswith("affine least-squares") and "gain=2" in fit.convention.fit
    noisy = psnr(2.5 * pred + 1, gt, data_range=1.0, fit="affine").value
    assert noisy == pytest.approx(psnr(affine_fit(2.5 * pred + 1, gt)[0], gt,
                                       data_range=1.0).value)
    with pytest.raises(ConfigError, match="fit"):
        psnr(pred, gt, data_range=1.0, fit="percentile")


def test_full_reference_records_conventions_and_keeps_pearson_unfitted():
    pred, gt = _pair((176, 176), noise=0.05)
    out = full_reference(-pred, gt, data_range=1.0, crop=3, fit="affine",
                         nrmse_normalization="range")
    assert set(out) == {"PSNR", "SSIM", "MS-SSIM", "NRMSE", "MAE", "Pearson", "GMSD"}
    assert out["Pearson"].value < -0.9                 # the sign survives (no fit)
    assert out["PSNR"].value == pytest.approx(
        psnr(-pred, gt, data_range=1.0, crop=3, fit="affine").value)
    for result in out.values():
        assert result.convention.crop == (3, 3)
    assert out["SSIM"].convention.data_range == 1.0
    assert "valid region" in out["SSIM"].convention.window
    assert out["NRMSE"].convention.normalization.startswith("range")
    assert out["PSNR"].as_dict()["convention"]["fit"].startswith("affine")


# ------------------------------------------------------------------ bad input
def test_data_range_is_never_guessed():
    pred, gt = _pair()
    with pytest.raises(ConfigError, match="data_range"):
        psnr(pred, gt)
    with pytest.raises(ConfigError, match="different dtypes"):
        ssim(pred.astype(np.float32), (gt * 255).astype(np.uint8))
    with pytest.raises(ConfigError, match="integer dtype"):
        psnr(pred, gt, data_range="dtype")
    with pytest.raises(ConfigError, match="positive"):
        psnr(pred, gt, data_range=-1)
    with pytest.raises(InputError, match="constant"):
        psnr(pred, np.ones_like(gt), data_range="gt")


def test_nan_shape_and_dimension_errors():
    pred, gt = _pair()
    bad = pred.copy()
    bad[3, 4] = np.nan
    with pytest.raises(InputError, match=r"NaN.*\(3, 4\)"):
        psnr(bad, gt, data_range=1.0)
    with pytest.raises(InputError, match="shape mismatch"):
        ssim(pred[:-1], gt, data_range=1.0)
    with pytest.raises(InputError, match="crop"):
        ssim(pred, gt, data_range=1.0, crop=40)
    with pytest.raises(InputError, match="2D or 3D"):
        psnr(np.zeros(10), np.zeros(10), data_range=1.0)


def test_shape_mismatch_hint_says_whether_a_crop_by_the_scale_fixes_it():
    assert "truth is not cropped" in shape_mismatch_hint((100, 128), (101, 130), 4)
    assert "(100, 128)" in shape_mismatch_hint((100, 128), (101, 130), 4)
    assert "low-resolution shape" in shape_mismatch_hint((25, 32), (100, 128), 4)
    assert "no crop" in shape_mismatch_hint((90, 128), (100, 128), 4)
