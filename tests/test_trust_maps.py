"""Trust maps against oracle predictors with known ground truth: consistency, SQUIRREL,
null space, physics, TTA. Each map's blind spot is tested too (spec §7.4)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage, stats

from geosr.core import Image
from geosr.degrade import degrade
from geosr.trust.acquisition import Acquisition
from geosr.trust.data_consistency import consistency
from geosr.trust.nullspace import null_space, project_range, range_bases
from geosr.trust.physics import optical_limits, physics_report, power_above_cutoff
from geosr.trust.squirrel_map import squirrel
from geosr.trust.uncertainty import symmetries, tta

SCALE, SPACING, FWHM = 4, 0.1, 0.4
SPOT = (100, 60)          # hallucinated spot pair (HR pixels)
BLOB = (40, 190)          # visible corruption (HR pixels)


def _gaussian(shape, center, sigma):
    yy, xx = np.indices(shape)
    return np.exp(-((yy - center[0]) ** 2 + (xx - center[1]) ** 2) / (2 * sigma ** 2))


@pytest.fixture(scope="module")
def scene():
    rng = np.random.default_rng(3)
    shape = (256, 256)
    field = ndimage.gaussian_filter(rng.random(shape), 4)
    field = (field - field.min()) / (field.max() - field.min())
    gt = 0.5 + 1.5 * field
    for _ in range(6):   # thin bright lines: real fine detail
        r = rng.integers(10, 246)
        gt[r, 10:246] += 0.8
    hr = Image(gt, "YX", spacing=(SPACING, SPACING))
    lr = degrade(hr, scale=SCALE, fwhm_um=FWHM, photons=300.0, read_noise=0.01, seed=7)
    acq = Acquisition.from_image(lr)
    op = acq.operator(shape, SPACING)
    bases = range_bases(op)
    spots = (_gaussian(shape, SPOT, 0.8) - _gaussian(shape, (SPOT[0], SPOT[1] + 3), 0.8))
    spots = spots + _gaussian(shape, (SPOT[0] + 3, SPOT[1]), 0.8)
    hallucination = spots - project_range(spots, bases)
    hallucination *= 1.5 / np.abs(hallucination).max()
    from geosr.resample import upscale

    bicubic = np.asarray(upscale(lr, SCALE, method="bicubic").numpy(), np.float64)
    oracles = {
        "perfect": gt,
        "bicubic": bicubic,
        "hallucinator": gt + hallucination,
        "corrupter": gt + 0.6 * _gaussian(shape, BLOB, 5.0),
    }
    preds = {k: Image(v, "YX", spacing=(SPACING, SPACING)) for k, v in oracles.items()}
    return {"gt": gt, "lr": lr, "acq": acq, "op": op, "bases": bases, "preds": preds}


def _tile_of(pixel_hr, tile_lr=4):
    return tuple(p // SCALE // tile_lr for p in pixel_hr)


def test_perfect_prediction_is_consistent(scene):
    res = consistency(scene["preds"]["perfect"], scene["lr"], scene["acq"], tile=4)
    assert res.tile_p.size == 256
    assert 0.93 < res.chi2_per_pixel < 1.07           # chi2/N ≈ 1 (N = 4096 pixels, SE 0.022)
    assert stats.kstest(res.tile_p.ravel(), "uniform").pvalue > 0.01
    assert stats.kstest(res.z.ravel(), "norm").pvalue > 0.01
    assert res.flagged.sum() <= 2                     # 256 tiles at 0.001


def test_consistency_flags_visible_error_not_hallucination(scene):
    lr, acq, preds = scene["lr"], scene["acq"], scene["preds"]
    perfect = consistency(preds["perfect"], lr, acq, tile=4)
    corrupt = consistency(preds["corrupter"], lr, acq, tile=4)
    halluc = consistency(preds["hallucinator"], lr, acq, tile=4)
    assert corrupt.tile_p[_tile_of(BLOB)] < 1e-3
    assert corrupt.flagged.sum() > perfect.flagged.sum()
    # blind spot: the null-space hallucination leaves the residual unchanged
    assert np.abs(halluc.z - perfect.z).max() < 1e-6
    assert halluc.flagged.sum() == perfect.flagged.sum()


def test_squirrel_flags_visible_error_not_hallucination(scene):
    lr, preds = scene["lr"], scene["preds"]
    res = {k: squirrel(lr, preds[k], SCALE) for k in ("perfect", "hallucinator", "corrupter")}
    assert res["perfect"].rsp > 0.9     # noise-limited: LR noise sigma ~ 0.08
    assert res["perfect"].rse_over_noise < 1.3
    # the visible error raises RSE and the map peaks at the blob
    assert res["corrupter"].rse > res["perfect"].rse
    blob = (slice(BLOB[0] // SCALE - 2, BLOB[0] // SCALE + 3),
            slice(BLOB[1] // SCALE - 2, BLOB[1] // SCALE + 3))
    local = {k: float(np.sqrt(np.mean(r.residual[blob] ** 2))) for k, r in res.items()}
    assert local["corrupter"] > 2.5 * local["perfect"]
    peak = np.unravel_index(np.argmax(np.abs(res["corrupter"].residual)), lr.shape)
    assert np.hypot(peak[0] - BLOB[0] / SCALE, peak[1] - BLOB[1] / SCALE) <= 3
    # blind spot: the hallucination does not change the map
    assert abs(res["hallucinator"].rse - res["perfect"].rse) < 0.03 * res["perfect"].rse
    spot_lr = tuple(p // SCALE for p in SPOT)
    window = (slice(spot_lr[0] - 2, spot_lr[0] + 3), slice(spot_lr[1] - 2, spot_lr[1] + 3))
    assert np.abs(res["hallucinator"].residual[window]).max() < \
        1.2 * np.abs(res["perfect"].residual[window]).max() + 1e-3


def test_nullspace_flags_hallucination(scene):
    acq, preds = scene["acq"], scene["preds"]
    res = {k: null_space(preds[k], acq, tile=4) for k in preds}
    diff = res["hallucinator"].local_energy - res["perfect"].local_energy
    peak = np.unravel_index(np.argmax(diff), diff.shape)
    assert np.hypot(peak[0] - SPOT[0], peak[1] - SPOT[1]) <= 4
    t = _tile_of(SPOT)
    assert res["hallucinator"].tile_fraction[t] > 3 * res["perfect"].tile_fraction[t]
    # the visible corruption lives in the measured part: little change of the null space
    tb = _tile_of(BLOB)
    assert res["corrupter"].tile_fraction[tb] < 1.5 * res["perfect"].tile_fraction[tb] + 0.01
    # an interpolating (bicubic) prediction has much less unmeasured detail than the truth
    assert res["bicubic"].variance_fraction < 0.5 * res["perfect"].variance_fraction


@pytest.mark.parametrize("shape,scale,spacing", [((16,), 2, 0.1), ((12, 16), (3, 2), 0.1),
                                                 ((8, 8, 12), (2, 1, 2), (0.3, 0.1, 0.1))])
def test_nullspace_projector_algebra(shape, scale, spacing):
    dims = len(shape)
    acq = Acquisition.from_arguments(scale=scale, fwhm_um=0.26)
    op = acq.operator(shape, spacing)
    bases = range_bases(op, rcond=1e-12)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=shape), rng.normal(size=shape)
    px = project_range(x, bases)
    assert np.abs(project_range(px, bases) - px).max() < 1e-10            # P² = P
    assert abs(np.vdot(px, y) - np.vdot(x, project_range(y, bases))) < 1e-10   # symmetric
    assert np.abs(op.forward(x - px)).max() < 1e-10                     # D P_null = 0
    if dims == 1 or np.prod(shape) <= 256:   # against the explicit pseudo-inverse
        d = op.to_dense()
        p = np.linalg.pinv(d, rcond=1e-12) @ d
        assert np.abs(p @ x.ravel() - px.ravel()).max() < 1e-8


def test_squirrel_recovers_blur_and_scaling():
    rng = np.random.default_rng(1)
    s = ndimage.gaussian_filter(rng.random((128, 128)), 1.5)
    s = s / s.max()
    sigma0, alpha0, beta0 = 0.8, 2.5, 0.3
    blurred = ndimage.gaussian_filter(s, sigma0 * 4, mode="reflect", truncate=4.0)
    r = alpha0 * blurred.reshape(32, 4, 32, 4).mean((1, 3)) + beta0
    r = r + rng.normal(0, 0.002, r.shape)
    res = squirrel(r, s, 4)
    assert res.sigma_lr_px == pytest.approx(sigma0, rel=0.05)
    assert res.alpha == pytest.approx(alpha0, rel=0.05)
    assert res.beta == pytest.approx(beta0, abs=0.05)
    assert res.rsp > 0.99 and not res.at_bound
    # a prediction no Gaussian blur explains (LR sharper than the SR) hits the bound
    # a prediction blurrier than the input needs no blur: the lower bound
    assert squirrel(r, ndimage.gaussian_filter(s, 12), 4).bound == "lower"
    # an input blurrier than any blur in the search range: the upper bound
    wide = ndimage.gaussian_filter(s, 2.0 * 4, mode="reflect").reshape(32, 4, 32, 4).mean((1, 3))
    assert squirrel(wide, s, 4, bounds=(0.05, 1.0)).bound == "upper"


def test_physics_formulas_and_power_above_cutoff():
    from geosr.trust.physics import ct_blur_um

    assert ct_blur_um(focal_spot_um=5.0, detector_pitch_um=50.0, magnification=10.0)["blur_um"] \
        == pytest.approx(np.hypot(4.5, 5.0))
    lim = optical_limits(wavelength_nm=488, na=1.3, microscope="confocal",
                         refractive_index=1.515)
    assert lim["nyquist_pixel_um"] * 1000 == pytest.approx(46.9, abs=0.05)   # SVI example
    assert lim["axial_nyquist_pixel_um"] * 1000 == pytest.approx(165.5, abs=0.5)
    wf = optical_limits(wavelength_nm=520, na=1.0)
    assert wf["resolution_um"] == pytest.approx(0.26) and wf["nyquist_pixel_um"] == 0.13
    rep = physics_report(lr_spacing_um=0.2, scale=2, wavelength_nm=520, na=1.0)
    assert rep["supported_scale"] == pytest.approx(0.2 / 0.13) and rep["warnings"]
    ok = physics_report(lr_spacing_um=0.2, scale=1, wavelength_nm=520, na=1.0)
    assert not ok["warnings"]
    # band-limited image: no power above f_c; add energy above f_c: detected
    n, dx = 128, 0.02
    rng = np.random.default_rng(0)
    spec = np.fft.fft2(rng.normal(size=(n, n)))
    f = np.fft.fftfreq(n, d=dx)
    radius = np.hypot(*np.meshgrid(f, f, indexing="ij"))
    fc = wf["cutoff_cyc_per_um"]
    low = np.real(np.fft.ifft2(spec * (radius < 0.6 * fc)))
    assert power_above_cutoff(low, (dx, dx), (fc, fc)) < 0.01
    high = np.real(np.fft.ifft2(spec * (radius > 1.3 * fc) * (radius < 1.6 * fc)))
    mixed = low + 0.5 * high * low.std() / high.std()
    assert power_above_cutoff(mixed, (dx, dx), (fc, fc)) > 0.1


def test_symmetry_groups_and_tta():
    assert len(symmetries(2)) == 8 and len(symmetries(3)) == 48
    assert len(symmetries(3, spacing=(0.5, 0.1, 0.1))) == 16
    assert len(symmetries(2, spacing=(0.2, 0.1))) == 4     # no rotation across unlike axes
    rng = np.random.default_rng(0)
    for dims, shape in ((2, (5, 5)), (3, (3, 4, 5))):
        x = rng.normal(size=shape)
        for g in symmetries(dims, spacing=shape if dims == 3 else None):
            assert np.array_equal(g.invert(g.apply(x)), x)
    img = Image(rng.random((8, 8)), "YX")

    def nearest(im):   # equivariant: TTA spread is zero
        return im.replace(data=np.kron(im.numpy(), np.ones((2, 2))))

    def shifted(im):   # not equivariant: spread > 0
        return im.replace(data=np.roll(np.kron(im.numpy(), np.ones((2, 2))), 1, axis=1))

    res = tta(img, nearest)
    assert res.members == 8 and np.abs(res.std).max() < 1e-12
    assert np.allclose(res.mean, np.kron(img.numpy(), np.ones((2, 2))))
    assert tta(img, shifted).std.mean() > 0.05


def test_trust_report_3d_writes_maps_with_spacing(tmp_path):
    from geosr.io import load
    from geosr.trust.report import trust_report

    rng = np.random.default_rng(5)
    vol = 1.0 + ndimage.gaussian_filter(rng.random((8, 32, 32)), 2) * 4
    hr = Image(vol, "ZYX", spacing=(0.3, 0.1, 0.1))
    lr = degrade(hr, scale=(1, 2, 2), fwhm_um=(0.6, 0.2, 0.2), photons=500.0,
                 read_noise=0.01, seed=2)
    rep = trust_report(hr, lr, out=tmp_path / "vol.trust")
    s = rep.summary
    assert 0.85 < s["consistency"]["chi2_per_pixel"] < 1.15
    assert s["verdict"]["image"] == "red"           # no calibration card: "I don't know"
    verdict = load(tmp_path / "vol.trust" / "verdict.tif")
    assert verdict.shape == (2, 4, 4) and verdict.spacing == pytest.approx((1.2, 0.8, 0.8))
    null = load(tmp_path / "vol.trust" / "nullspace.tif")
    assert null.shape == (8, 32, 32) and null.spacing == pytest.approx((0.3, 0.1, 0.1))
    assert "uncertainty_std.tif" not in s["maps"]    # no model given


def test_consistency_of_quantised_input_in_level_units():
    """An integer (quantised, offset) LR: the prediction lives in LR units (levels), the
    noise model is converted to levels (gain, offset, read noise, 1/12 rounding)."""
    rng = np.random.default_rng(0)
    f = 0.5 + ndimage.gaussian_filter(rng.random((128, 128)), 3) * 2
    hr = Image(f, "YX", spacing=(0.1, 0.1))
    lr = degrade(hr, scale=4, fwhm_um=0.4, photons=300.0, read_noise=0.01, offset=0.1,
                 bit_depth=12, saturation=3.0, seed=1)
    acq = Acquisition.from_image(lr)
    ipl = 3.0 / 4095
    assert acq.gain == pytest.approx(1 / (300 * ipl)) and acq.quantization_var == 1 / 12
    res = consistency(hr.replace(data=(f + 0.1) / ipl), lr, acq, tile=4)
    assert 0.9 < res.chi2_per_pixel < 1.1


def test_docstring_examples():
    import doctest
    import importlib

    for name in ("acquisition", "data_consistency", "nullspace", "squirrel_map", "physics", "tiles",
                 "uncertainty", "conformal", "ood", "card", "verdict"):
        module = importlib.import_module(f"geosr.trust.{name}")
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, name


def test_physics_per_axis_blur_uses_lateral_and_axial_widths():
    rep = physics_report(lr_spacing_um=(0.3, 0.2, 0.2), scale=(1, 2, 2),
                         blur_fwhm_um=(0.6, 0.2, 0.2))
    lateral = optical_limits(blur_fwhm_um=0.2)
    assert rep["cutoff_cyc_per_um"] == pytest.approx(lateral["cutoff_cyc_per_um"])
    assert rep["axial_cutoff_cyc_per_um"] == pytest.approx(lateral["cutoff_cyc_per_um"] / 3)
    assert rep["supported_scale"] == pytest.approx(0.2 / lateral["nyquist_pixel_um"])
