"""Tests of geosr.degrade: the forward model (PSF, sampling, noise, quantisation) and its
linear operator. Numbers only, offline, a few seconds."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import ndimage

from geosr.core import ConfigError, Image, InputError
from geosr.degrade import (
    FWHM_PER_SIGMA, BlurDownsample, Downsample, ForwardModel, GaussianBlur, MicroscopePSF,
    PoissonGaussianNoise, Quantize, blur_matrix, degradation_model, degrade,
    gaussian_kernel1d, microscope_sigma_um, reflect_indices, step_from_params,
)

RNG = np.random.default_rng(12345)

# (shape, spacing µm, fwhm µm, factors, crop) — 2D and 3D, anisotropic spacing, per-axis and
# z-only factors, no blur, tiny blur, and kernels much longer than the image.
OPERATOR_CASES = [
    pytest.param((36, 27), (0.1, 0.13), (0.3, 0.5), (2, 3), False, id="2d-aniso"),
    pytest.param((37, 29), (0.1, 0.1), 0.4, (4, 4), True, id="2d-crop"),
    pytest.param((16, 12, 20), (0.5, 0.1, 0.1), (1.5, 0.2, 0.2), (4, 1, 1), False,
                 id="3d-zonly"),
    pytest.param((12, 16, 8), (0.3, 0.1, 0.2), 0.0, (3, 2, 2), False, id="3d-noblur"),
    pytest.param((8, 12), (0.1, 0.1), 1e-4, 2, False, id="2d-tiny"),
    pytest.param((10, 12), (0.1, 0.1), 5.0, 2, False, id="2d-kernel-longer-than-image"),
    pytest.param((6, 10, 9), (0.4, 0.1, 0.1), (20.0, 3.0, 0.05), (2, 5, 3), False,
                 id="3d-huge-kernel"),
    pytest.param((1, 7), (1.0, 0.1), 0.5, 1, False, id="2d-single-row"),
]


def _model(fwhm, factors, crop=False):
    return ForwardModel([GaussianBlur(fwhm_um=fwhm), Downsample(factors, crop=crop)])


def _image(shape, spacing, data=None):
    axes = "YX" if len(shape) == 2 else "ZYX"
    data = RNG.normal(size=shape) if data is None else data
    return Image(data, axes, spacing=spacing)


def _measure_fwhm(profile: np.ndarray) -> float:
    """FWHM in samples of a single-peaked profile, by linear interpolation at half maximum."""
    peak = int(np.argmax(profile))
    half = profile[peak] / 2.0
    left = peak
    while profile[left - 1] > half:
        left -= 1
    right = peak
    while profile[right + 1] > half:
        right += 1
    x_left = left - 1 + (half - profile[left - 1]) / (profile[left] - profile[left - 1])
    x_right = right + (profile[right] - half) / (profile[right] - profile[right + 1])
    return x_right - x_left


# ------------------------------------------------------------------ linear operator
@pytest.mark.parametrize("shape,spacing,fwhm,factors,crop", OPERATOR_CASES)
def test_adjoint_identity(shape, spacing, fwhm, factors, crop):
    op = BlurDownsample(shape, spacing, fwhm, factors, crop=crop)
    for _ in range(3):
        x = RNG.normal(size=op.in_shape)
        y = RNG.normal(size=op.out_shape)
        lhs = float(np.vdot(op.forward(x), y))
        rhs = float(np.vdot(x, op.adjoint(y)))
        scale = np.linalg.norm(op.forward(x)) * np.linalg.norm(y)
        assert abs(lhs - rhs) <= 1e-12 * scale


@pytest.mark.parametrize("shape,spacing,fwhm,factors,crop", OPERATOR_CASES)
def test_operator_forward_equals_pipeline(shape, spacing, fwhm, factors, crop):
    img = _image(shape, spacing)
    model = _model(fwhm, factors, crop)
    lr, _ = model.apply(img, seed=0)
    op = model.linear_operator(img)
    np.testing.assert_allclose(op.forward(img.data), lr.data, rtol=0, atol=1e-10)
    assert op.out_shape == lr.shape


def test_adjoint_matches_dense_transpose_and_scipy_linear_operator():
    op = BlurDownsample((9, 14), (0.2, 0.1), (2.5, 0.3), (3, 2))
    dense = op.to_dense()
    x = RNG.normal(size=op.in_shape)
    y = RNG.normal(size=op.out_shape)
    np.testing.assert_allclose(op.forward(x).ravel(), dense @ x.ravel(), atol=1e-13)
    np.testing.assert_allclose(op.adjoint(y).ravel(), dense.T @ y.ravel(), atol=1e-13)
    lin = op.aslinearoperator()
    np.testing.assert_allclose(lin.rmatvec(y.ravel()), dense.T @ y.ravel(), atol=1e-13)


def test_reflect_padding_matches_scipy_for_any_radius():
    assert reflect_indices(4, 2).tolist() == [1, 0, 0, 1, 2, 3, 3, 2]
    for n, sigma in [(5, 0.7), (5, 9.0), (1, 3.0), (3, 40.0)]:
        x = RNG.normal(size=n)
        expected = ndimage.gaussian_filter1d(x, sigma, mode="reflect", truncate=4.0)
        np.testing.assert_allclose(blur_matrix(n, sigma) @ x, expected, atol=1e-13)


def test_operator_with_microscope_psf_and_channels():
    img = Image(RNG.random((2, 8, 12, 12)), "CZYX", spacing=(0.4, 0.1, 0.1))
    model = ForwardModel([MicroscopePSF(wavelength_nm=520, na=1.2, kind="confocal"),
                          Downsample((2, 3, 3))])
    lr, _ = model.apply(img, seed=0)
    op = model.linear_operator(img)
    np.testing.assert_allclose(op.forward(img.data), lr.data, atol=1e-10)
    # each channel is processed on its own
    single, _ = model.apply(Image(img.data[1], "ZYX", spacing=img.spacing), seed=0)
    np.testing.assert_array_equal(lr.data[1], single.data)


def test_linear_operator_needs_linear_steps_first():
    model = ForwardModel([PoissonGaussianNoise(10.0), Downsample(2)])
    with pytest.raises(ConfigError, match="steps"):
        model.linear_operator((8, 8), 0.1)
    noisy = degradation_model(scale=2, fwhm_um=0.2, photons=5.0, bit_depth=8)
    assert noisy.linear_operator((8, 8), 0.1).out_shape == (4, 4)


# --------------------------------------------------------------------------- blur
def test_blur_step_equals_scipy_gaussian_filter():
    for shape, spacing, fwhm in [((40, 33), (0.1, 0.2), (0.5, 0.9)),
                                 ((7, 9, 6), (0.5, 0.1, 0.1), (3.0, 1.5, 0.2))]:
        img = _image(shape, spacing)
        out = GaussianBlur(fwhm_um=fwhm)(img, None)
        sigma = [f / FWHM_PER_SIGMA / s for f, s in zip(fwhm, spacing)]
        expected = ndimage.gaussian_filter(img.data, sigma, mode="reflect", truncate=4.0)
        np.testing.assert_allclose(out.data, expected, atol=1e-12)


def test_blur_of_delta_has_requested_fwhm():
    delta = np.zeros((201, 201))
    delta[100, 100] = 1.0
    out = GaussianBlur(fwhm_um=1.0)(Image(delta, "YX", spacing=(0.05, 0.05)), None).data
    for profile in (out[100, :], out[:, 100]):
        measured_um = _measure_fwhm(profile) * 0.05
        assert measured_um == pytest.approx(1.0, rel=0.02)
    # 3D, anisotropic spacing and FWHM
    delta3 = np.zeros((41, 61, 61))
    delta3[20, 30, 30] = 1.0
    fwhm = (2.0, 0.6, 0.4)
    spacing = (0.2, 0.05, 0.04)
    out3 = GaussianBlur(fwhm_um=fwhm)(Image(delta3, "ZYX", spacing=spacing), None).data
    profiles = (out3[:, 30, 30], out3[20, :, 30], out3[20, 30, :])
    for profile, f, s in zip(profiles, fwhm, spacing):
        assert _measure_fwhm(profile) * s == pytest.approx(f, rel=0.02)


def test_blur_and_binning_preserve_intensity_and_constants():
    img = _image((48, 36), (0.1, 0.1), RNG.random((48, 36)))
    blurred = GaussianBlur(fwhm_um=0.8)(img, None)
    assert blurred.data.sum() == pytest.approx(img.data.sum(), rel=1e-12)
    binned = Downsample((4, 3))(img, None)
    assert binned.data.mean() == pytest.approx(img.data.mean(), rel=1e-12)
    const = Image(np.full((6, 24, 24), 3.25), "ZYX", spacing=(0.5, 0.1, 0.1))
    lr = degrade(const, scale=(2, 4, 4), fwhm_um=(1.0, 0.3, 0.3), seed=0)
    np.testing.assert_allclose(lr.data, 3.25, rtol=0, atol=1e-12)


def test_kernel_is_scipys():
    w = gaussian_kernel1d(2.0)
    assert len(w) == 2 * int(4 * 2.0 + 0.5) + 1
    assert w.sum() == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_array_equal(gaussian_kernel1d(0.0), [1.0])


# ------------------------------------------------------------------- downsampling
def test_downsample_updates_spacing_and_origin_exactly():
    lr = degrade(Image(np.zeros((64, 64)), "YX", spacing=(0.1, 0.1)), scale=4, seed=0)
    assert lr.spacing == pytest.approx((0.4, 0.4), abs=1e-15)
    assert lr.origin == pytest.approx((0.15, 0.15), abs=1e-15)
    img = Image(np.zeros((8, 10, 10)), "ZYX", spacing=(500.0, 100.0, 100.0), unit="nm",
                origin=(1000.0, 5.0, -3.0))
    lr3 = degrade(img, scale=(4, 1, 1), seed=0)
    assert lr3.shape == (2, 10, 10)
    assert lr3.unit == "nm"
    assert lr3.spacing == pytest.approx((2000.0, 100.0, 100.0))
    assert lr3.origin == pytest.approx((1750.0, 5.0, -3.0))
    rec = lr3.metadata["degradation"]
    assert rec["output"]["spacing_um"] == pytest.approx([2.0, 0.1, 0.1])


def test_non_dividing_shape_raises_with_suggested_crop():
    img = Image(np.zeros((100, 96)), "YX", spacing=(0.1, 0.1))
    with pytest.raises(InputError) as err:
        degrade(img, scale=8, seed=0)
    assert "crop Y to 96" in str(err.value)
    assert err.value.where == "scale"
    lr = degrade(img, scale=8, crop=True, seed=0)
    assert lr.shape == (12, 12)
    down = next(s for s in lr.metadata["degradation"]["steps"] if s["name"] == "downsample")
    assert down["crop"] is True and down["cropped_px"] == [4, 0]
    with pytest.raises(InputError, match="crop Z to 9"):
        Downsample((3, 1, 1))(Image(np.zeros((10, 4, 4)), "ZYX"), None)


# -------------------------------------------------------------------------- noise
@pytest.mark.parametrize("photons,read_noise,offset", [(20.0, 0.3, 2.0), (50.0, 0.0, 0.0),
                                                       (None, 0.5, -1.0)])
def test_poisson_gaussian_mean_and_variance(photons, read_noise, offset):
    level = 5.0
    n = 100_000
    img = Image(np.full((400, 250), level), "YX")
    out = PoissonGaussianNoise(photons, read_noise, offset)(img, np.random.default_rng(7))
    values = out.data.ravel()
    var = (level / photons if photons else 0.0) + read_noise ** 2
    kappa4 = level / photons ** 3 if photons else 0.0  # 4th cumulant of Poisson(p I)/p
    se_mean = math.sqrt(var / n)
    se_var = math.sqrt((kappa4 + 2 * var ** 2) / n)
    assert abs(values.mean() - (level + offset)) < 3 * se_mean
    assert abs(values.var(ddof=1) - var) < 3 * se_var


def test_seeding_is_reproducible():
    hr = Image(RNG.random((32, 32)), "YX", spacing=(0.1, 0.1))
    kw = dict(scale=2, fwhm_um=0.3, photons=30.0, read_noise=0.02)
    a = degrade(hr, seed=3, **kw)
    b = degrade(hr, seed=3, **kw)
    c = degrade(hr, seed=4, **kw)
    assert a.data.tobytes() == b.data.tobytes()
    assert a.data.tobytes() != c.data.tobytes()
    d = degrade(hr, seed=np.random.default_rng(3), **kw)
    assert d.data.tobytes() == a.data.tobytes()
    assert d.metadata["degradation"]["seed"] is None
    with pytest.raises(ConfigError, match="seed"):
        PoissonGaussianNoise(10.0)(hr, None)


# ---------------------------------------------------------------------- quantize
def test_bit_depth_dtype_and_range():
    hr = Image(RNG.random((40, 40)) * 2.0, "YX", spacing=(0.1, 0.1))
    for bits, dtype, top in [(8, np.uint8, 255), (12, np.uint16, 4095), (16, np.uint16, 65535)]:
        lr = degrade(hr, scale=2, bit_depth=bits, seed=0)
        assert lr.dtype == dtype
        assert lr.data.min() >= 0 and lr.data.max() == top  # saturation = data max
        q = next(s for s in lr.metadata["degradation"]["steps"] if s["name"] == "quantize")
        assert q["levels"] == top and q["saturation_from"] == "data max"
        # the record undoes the scaling to within half a level
        blurred = degrade(hr, scale=2, seed=0).data
        restored = q["black_level"] + lr.data * q["intensity_per_level"]
        assert np.abs(restored - blurred).max() <= q["intensity_per_level"] / 2 + 1e-12


def test_saturation_clips():
    img = Image(np.linspace(-0.5, 2.0, 100).reshape(10, 10), "YX")
    q = Quantize(8, saturation=1.0)
    out = q(img, None).data
    assert out.dtype == np.uint8
    assert (out[img.data >= 1.0] == 255).all()
    assert (out[img.data <= 0.0] == 0).all()
    rec = q.params(img)
    assert rec["fraction_saturated"] == pytest.approx(np.mean(img.data >= 1.0))
    as_float = Quantize(8, saturation=1.0, as_float=True)(img, None).data
    inside = (img.data >= 0) & (img.data <= 1)
    assert np.abs(as_float[inside] - img.data[inside]).max() <= 0.5 / 255 + 1e-12
    assert as_float.max() == pytest.approx(1.0)


# ------------------------------------------------------------------ microscope PSF
def test_microscope_psf_known_case():
    lam, na, n = 0.520, 1.4, 1.518  # µm
    k = 2 * math.pi / lam
    wide = microscope_sigma_um(520, na, refractive_index=n)
    assert wide["sigma_lateral_um"] == pytest.approx(math.sqrt(2) / (k * na), rel=1e-12)
    assert wide["sigma_axial_um"] == pytest.approx(2 * math.sqrt(6) * n / (k * na ** 2),
                                                   rel=1e-12)
    assert wide["sigma_lateral_um"] == pytest.approx(0.08361, abs=1e-5)  # 0.2251 λ/NA
    conf = microscope_sigma_um(520, na, refractive_index=n, kind="confocal")
    assert conf["sigma_lateral_um"] == pytest.approx(1 / (k * na), rel=1e-12)  # 0.159 λ/NA
    assert conf["sigma_axial_um"] == pytest.approx(2 * math.sqrt(3) * n / (k * na ** 2),
                                                   rel=1e-12)
    # the finite-pinhole formula joins the small-pinhole limit and tends to widefield
    tiny = microscope_sigma_um(520, na, refractive_index=n, kind="confocal", pinhole_au=0.01)
    assert tiny["sigma_lateral_um"] == pytest.approx(conf["sigma_lateral_um"], rel=1e-4)
    assert tiny["sigma_axial_um"] == pytest.approx(conf["sigma_axial_um"], rel=1e-4)
    big = microscope_sigma_um(520, na, refractive_index=n, kind="confocal", pinhole_au=20)
    assert big["sigma_lateral_um"] == pytest.approx(wide["sigma_lateral_um"], rel=0.01)
    assert big["sigma_axial_um"] == pytest.approx(wide["sigma_axial_um"], rel=0.01)


def test_microscope_psf_step_in_2d_and_3d():
    psf = MicroscopePSF(wavelength_nm=520, na=1.4)
    info = psf.psf()
    rec2 = psf.params(Image(np.zeros((8, 8)), "YX", spacing=(0.05, 0.05)))
    assert rec2["sigma_px"] == pytest.approx([info["sigma_lateral_um"] / 0.05] * 2)
    rec3 = psf.params(Image(np.zeros((4, 8, 8)), "ZYX", spacing=(0.2, 0.05, 0.05)))
    assert rec3["sigma_px"] == pytest.approx([info["sigma_axial_um"] / 0.2,
                                              info["sigma_lateral_um"] / 0.05,
                                              info["sigma_lateral_um"] / 0.05])
    assert "formula" in rec3["psf"] and rec3["refractive_index"] == 1.518


# ------------------------------------------------------------------------ records
def test_record_is_json_and_replays_bytes():
    hr = Image(RNG.random((8, 32, 32)), "ZYX", spacing=(0.3, 0.1, 0.1))
    lr = degrade(hr, scale=(2, 4, 4), fwhm_um=(0.9, 0.4, 0.4), photons=40.0, read_noise=0.01,
                 offset=0.1, bit_depth=12, seed=11)
    rec = lr.metadata["degradation"]
    text = json.dumps(rec)
    assert rec["scale"] == [2, 4, 4]
    assert rec["fwhm_um"] == pytest.approx([0.9, 0.4, 0.4])
    expected_sigma = [f / FWHM_PER_SIGMA / s for f, s in zip((0.9, 0.4, 0.4), (0.3, 0.1, 0.1))]
    assert rec["sigma_px"] == pytest.approx(expected_sigma)
    assert rec["seed"] == 11
    assert rec["input"]["shape"] == [8, 32, 32] and rec["output"]["shape"] == [4, 8, 8]
    replay = json.loads(text)
    again = degrade(hr, **replay["arguments"])
    assert again.data.tobytes() == lr.data.tobytes()
    rebuilt, _ = ForwardModel.from_record(replay).apply(hr, seed=replay["seed"])
    assert rebuilt.data.tobytes() == lr.data.tobytes()
    # seed=None draws a seed and records it
    drawn = degrade(hr, scale=2, photons=10.0, seed=None)
    rec_d = drawn.metadata["degradation"]
    assert isinstance(rec_d["seed"], int) and rec_d["seed_source"] == "drawn"
    assert degrade(hr, **rec_d["arguments"]).data.tobytes() == drawn.data.tobytes()


def test_default_psf_is_output_pixel():
    img = Image(np.zeros((8, 16, 16)), "ZYX", spacing=(0.5, 0.1, 0.1))
    rec = degrade(img, scale=(4, 2, 1), seed=0).metadata["degradation"]
    assert rec["fwhm_um"] == pytest.approx([2.0, 0.2, 0.0])
    assert rec["steps"][0]["fwhm_px"] == [4.0, 2.0, 0.0]
    rec_iso = degrade(np.zeros((16, 16)), scale=4, seed=0).metadata["degradation"]
    assert rec_iso["fwhm_um"] == pytest.approx([4.0, 4.0])
    assert step_from_params(rec["steps"][0]) == GaussianBlur(fwhm_px=(4.0, 2.0, 0.0))


def test_integer_input_and_previous_record():
    hr = Image((RNG.random((16, 16)) * 1000).astype(np.uint16), "YX")
    lr = degrade(hr, scale=2, seed=0)
    assert lr.dtype == np.float64
    lr2 = degrade(lr, scale=2, seed=0)
    assert lr2.metadata["degradation"]["previous"]["scale"] == [2, 2]


# ------------------------------------------------------------------------- errors
@pytest.mark.parametrize("kwargs,cls,field", [
    (dict(scale=0), ConfigError, "scale"),
    (dict(scale=2.5), ConfigError, "scale"),
    (dict(scale=(2, -1)), ConfigError, "scale"),
    (dict(scale=2, fwhm_um=-0.1), ConfigError, "fwhm_um"),
    (dict(scale=2, fwhm_um=0.1, wavelength_nm=500, na=1.0), ConfigError, "fwhm_um"),
    (dict(scale=2, wavelength_nm=500), ConfigError, "na"),
    (dict(scale=2, wavelength_nm=500, na=1.6), ConfigError, "na"),
    (dict(scale=2, wavelength_nm=500, na=1.2, microscope="sted"), ConfigError, "microscope"),
    (dict(scale=2, photons=0), ConfigError, "photons"),
    (dict(scale=2, read_noise=-1), ConfigError, "read_noise"),
    (dict(scale=2, bit_depth=20), ConfigError, "bit_depth"),
    (dict(scale=2, bit_depth=8, saturation=-1), ConfigError, "saturation"),
    (dict(scale=(2, 2, 2)), InputError, "scale"),
    (dict(scale=2, fwhm_um=(0.1, 0.2, 0.3)), InputError, "fwhm_um"),
])
def test_invalid_arguments_name_the_field(kwargs, cls, field):
    with pytest.raises(cls) as err:
        degrade(Image(np.zeros((8, 8)), "YX"), seed=0, **kwargs)
    assert err.value.where == field
    assert str(err.value).startswith(field)


def test_nan_input_is_rejected():
    data = np.zeros((8, 8))
    data[2, 3] = np.nan
    with pytest.raises(InputError) as err:
        degrade(data, scale=2, seed=0)
    assert err.value.where == "image" and "(2, 3)" in str(err.value)
    data[2, 3] = np.inf
    with pytest.raises(InputError, match="image"):
        degrade(data, scale=2, seed=0)
