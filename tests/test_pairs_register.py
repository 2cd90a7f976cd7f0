"""Registration of LR/HR pairs (geosr.pairs): sign convention against the project's own
degradation steps, recovery of known shifts/rotations/PSF/noise on real HR images (Tribolium
light-sheet slices and sub-volumes), grids and spacing of the outputs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from geosr.core import Image
from geosr.degrade.steps import Downsample, GaussianBlur
from geosr.pairs.forward import estimate_forward_model
from geosr.pairs.noise import fit_noise
from geosr.pairs.register import register_pair
from geosr.pairs.simulate import random_transform, simulate_acquisition
from geosr.pairs.transform import PairTransform

TRIBOLIUM = "fluorescence/tribolium_lund_3d/Lund_000500_resampled-cropped.tif"
FWHM_PX, A, B, PHOTONS, READ = 5.0, 0.8, 10.0, 1.0, 3.0   # gain = 1/PHOTONS LR units/e-
HR_UM = 0.25


@pytest.fixture(scope="module")
def volume(data_dir):
    from geosr.io import load

    vol = np.asarray(load(data_dir / TRIBOLIUM).numpy(), dtype=np.float64)
    return np.clip(vol - 120.0, 0.0, None)     # background-subtracted (dark level 0)


def _smooth_texture(shape, seed=0):
    g = ndimage.gaussian_filter(np.random.default_rng(seed).random(shape), 3)
    return (g - g.min()) / (g.max() - g.min()) * 1000.0


def test_sign_convention_against_degrade_steps():
    """HR content moved down by 8 HR px (= 2 LR px at x4) and left by 4 (= 1 LR px), then the
    project's own blur + binning: the recovered shift is (+2, -1) LR px."""
    hr = _smooth_texture((160, 160))
    moved = np.roll(hr, (8, -4), axis=(0, 1))
    img = Image(moved, "YX", spacing=(0.1, 0.1))
    lr = Downsample(4)(GaussianBlur(fwhm_um=0.5)(img))
    reg = register_pair(lr, Image(hr, "YX", spacing=(0.1, 0.1)), 4)
    assert reg.transform.shift == pytest.approx((2.0, -1.0), abs=0.02)
    assert reg.fwhm_um == pytest.approx((0.5, 0.5), rel=0.05)
    assert reg.ncc_after > 0.999 and reg.ncc_after > reg.ncc_before
    # outputs: registered HR exactly scale x the cropped LR grid, spacing and origin consistent
    assert reg.hr.shape == tuple(4 * n for n in reg.lr.shape)
    assert reg.hr.spacing == pytest.approx((0.1, 0.1)) and reg.lr.spacing == pytest.approx(
        (0.4, 0.4))
    (y0, _), (x0, _) = reg.lr_box
    assert reg.lr.origin == pytest.approx((0.15 + 0.4 * y0, 0.15 + 0.4 * x0))
    assert reg.hr.origin == pytest.approx((0.4 * y0, 0.4 * x0))   # centre of the first HR px
    # the registered HR is the HR content where the LR saw it (away from the wrapped border)
    expected = moved[4 * y0:4 * y0 + reg.hr.shape[0], 4 * x0:4 * x0 + reg.hr.shape[1]]
    assert np.abs(reg.hr.numpy() - expected).max() < 2e-3 * (hr.max() - hr.min())


def test_invalid_options_and_inputs():
    from geosr.core.errors import ConfigError, InputError

    hr = _smooth_texture((64, 64))
    with pytest.raises(ConfigError, match="transform"):
        register_pair(hr[::4, ::4], hr, 4, transform="affine")
    with pytest.raises(InputError, match="too small"):
        register_pair(hr[:4, :4], hr, 4)
    with pytest.raises(InputError, match="LR is 2-D but HR is 3-D"):
        register_pair(hr[::4, ::4], np.stack([hr] * 4), 4)


def _pairs_2d(volume, n, seed, transform="rigid"):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        z = int(rng.integers(10, 81))   # slices past ~85 are diffuse: shift SE > 0.05 px
        hr = Image(volume[z], "YX", spacing=(HR_UM, HR_UM))
        t = random_transform(rng, 2, 6.0, 1.5 if transform != "translation" else 0.0)
        lr = simulate_acquisition(hr, 4, t, fwhm_px=FWHM_PX, a=A, b=B, photons=PHOTONS,
                                  read_noise=READ, seed=int(rng.integers(1 << 30)))
        out.append((t, register_pair(lr, hr, 4, transform=transform)))
    return out


def _check_recovery(results, psf_rel=0.10, noise_rel=0.20):
    shift_err = np.array([np.abs(np.subtract(r.transform.shift, t.shift)).max()
                          for t, r in results])
    rot_err = np.array([abs(r.transform.rotation_deg - t.rotation_deg) for t, r in results])
    assert np.median(shift_err) <= 0.05 and shift_err.max() <= 0.15, shift_err
    # rotation: 0.1 deg moves the corner of a 64-px LR field by 0.06 px, the noise-limited
    # precision here (standard error ~0.06 deg): the median meets 0.1 deg, the worst 0.25
    assert np.median(rot_err) <= 0.1 and rot_err.max() <= 0.25, rot_err
    forward = estimate_forward_model([r.summary() for _, r in results])
    est = forward["estimate"]
    assert est["fwhm_um"] == pytest.approx([FWHM_PX * HR_UM] * 2, rel=psf_rel)
    assert est["noise"]["gain"] == pytest.approx(1 / PHOTONS, rel=noise_rel)
    assert est["noise"]["read_noise"] == pytest.approx(READ, rel=noise_rel)
    assert est["intensity"]["a"] == pytest.approx(A, rel=0.05)
    return shift_err, rot_err, est


@pytest.mark.data
def test_recovery_2d_few_pairs(volume):
    _check_recovery(_pairs_2d(volume, 6, seed=11))


@pytest.mark.data
@pytest.mark.slow
def test_recovery_2d_fifty_pairs(volume):
    """Acceptance: >= 50 random 2D pairs, shifts up to +-6 LR px, rotations up to +-1.5 deg."""
    shift_err, rot_err, est = _check_recovery(_pairs_2d(volume, 50, seed=12))
    assert np.median(shift_err) <= 0.05 and shift_err.max() <= 0.15


@pytest.mark.data
@pytest.mark.slow
def test_recovery_3d_ten_pairs(volume):
    """Acceptance: >= 10 random 3D sub-volumes (x2, shift in z, y, x up to +-3 LR px; a
    sub-volume has fewer LR pixels than a 2D slice, so the noise variance is 3x lower)."""
    rng = np.random.default_rng(21)
    errors, fwhm = [], []
    for i in range(10):
        z0, y0, x0 = rng.integers(5, 95 - 36), *rng.integers(0, 256 - 80, 2)
        hr = Image(volume[z0:z0 + 36, y0:y0 + 80, x0:x0 + 80], "ZYX", spacing=(1.0, 1.0, 1.0))
        t = random_transform(rng, 3, 3.0, 0.0)
        lr = simulate_acquisition(hr, 2, t, fwhm_px=(3.0, 2.5, 2.5), a=A, b=B,
                                  photons=3 * PHOTONS, read_noise=READ, seed=i)
        reg = register_pair(lr, hr, 2)
        errors.append(np.abs(np.subtract(reg.transform.shift, t.shift)).max())
        fwhm.append(reg.fwhm_um)
    errors = np.array(errors)
    assert np.median(errors) <= 0.05 and errors.max() <= 0.15, errors
    assert np.mean(fwhm, axis=0) == pytest.approx([3.0, 2.5, 2.5], rel=0.10)


def test_gamma_intensity_map_recovered():
    hr = Image(_smooth_texture((160, 160), seed=3), "YX", spacing=(0.1, 0.1))
    t = PairTransform((1.37, -2.21))
    lr = simulate_acquisition(hr, 4, t, fwhm_px=4.0, a=50.0, b=5.0, gamma=0.6, photons=20.0,
                              seed=0)
    reg = register_pair(lr, hr, 4, intensity="gamma")
    assert reg.intensity["gamma"] == pytest.approx(0.6, abs=0.1)
    assert reg.transform.shift == pytest.approx(t.shift, abs=0.05)
    affine = register_pair(lr, hr, 4)               # a wrong (affine) map fits worse
    assert affine.residual_rms > reg.residual_rms


def test_noise_fit_recovers_poisson_gaussian_parameters_within_3_se():
    """Over 40 repetitions the fitted gain lies within 3 standard errors of the truth in (at
    least) 90 % of them and the mean error is unbiased to 3 standard errors of the mean."""
    rng = np.random.default_rng(0)
    z = []
    for rep in range(40):
        bins = []
        for mu in np.linspace(0, 100, 16):
            r = rng.normal(0, np.sqrt(0.3 * mu + 9.0), 2000)
            bins.append({"signal": mu, "var": r.var(ddof=1), "n": 2000})
        fit = fit_noise(bins)
        z.append((fit["gain"] - 0.3) / fit["gain_se"])
    z = np.array(z)
    assert np.mean(np.abs(z) < 3) >= 0.9
    assert abs(z.mean()) < 3 * z.std(ddof=1) / np.sqrt(len(z))


def test_deformable_field_recovers_a_smooth_distortion():
    """Content moved down by 0.5 + 0.6 sin(pi x / W) LR px: the rigid fit leaves a residual,
    the non-rigid field (3 x 3 tiles) recovers the tile-average corrections; without any
    distortion the field stays near 0."""
    from geosr.degrade.steps import PoissonGaussianNoise

    hr = _smooth_texture((192, 192))
    yy, xx = np.mgrid[0:192, 0:192].astype(float)
    dy = 0.5 + 0.6 * np.sin(np.pi * xx / 191)
    moved = ndimage.map_coordinates(hr, [yy - 4 * dy, xx + 4.0], order=3, mode="mirror")
    lr = Downsample(4)(GaussianBlur(fwhm_um=0.4)(Image(moved, "YX", spacing=(0.1, 0.1))))
    lr = PoissonGaussianNoise(50.0)(lr, np.random.default_rng(1))
    ref = Image(hr, "YX", spacing=(0.1, 0.1))
    rigid, soft = register_pair(lr, ref, 4), register_pair(lr, ref, 4, deformable=True)
    assert soft.residual_rms < 0.75 * rigid.residual_rms
    field = soft.field
    for j, cx in enumerate(field.centres[1]):     # tile-centre x (LR px) -> truth there
        x_hr = np.arange(int(4 * cx) - 30, int(4 * cx) + 32)
        truth = np.mean(0.5 + 0.6 * np.sin(np.pi * x_hr / 191)) - soft.transform.shift[0]
        assert field.values[0, :, j] == pytest.approx([truth] * 3, abs=0.06)
    assert np.abs(field.values[1]).max() < 0.05
    assert soft.record()["deformation_max_lr_px"] > 0.1
    still = register_pair(Downsample(4)(GaussianBlur(fwhm_um=0.4)(ref)), ref, 4,
                          deformable=True)
    assert still.record()["deformation_max_lr_px"] < 0.02


def test_deformable_tile_without_structure_keeps_the_global_shift():
    """A flat (empty) corner does not fix its tile's shift: its standard error exceeds 0.1 LR
    px, its correction is 0 (not noise) and it is counted; textured tiles stay determined."""
    from geosr.degrade.steps import PoissonGaussianNoise

    hr = _smooth_texture((192, 192))
    hr[:64, :64] = 500.0                       # the top-left tile (3 x 3 tiles) is flat
    lr = Downsample(4)(GaussianBlur(fwhm_um=0.4)(Image(hr, "YX", spacing=(0.1, 0.1))))
    lr = PoissonGaussianNoise(0.2)(lr, np.random.default_rng(3))
    reg = register_pair(lr, Image(hr, "YX", spacing=(0.1, 0.1)), 4, deformable=True)
    field = reg.field
    assert field.standard_errors[:, 0, 0].max() > 0.1
    assert np.all(field.values[:, 0, 0] == 0.0)
    assert field.undetermined == 1
    assert field.standard_errors[:, 1:, 1:].max() < 0.1
    assert reg.record()["deformation_tiles_undetermined"] == 1


def _blobs(rng, n=128, k=14):
    """Sparse bright Gaussian spots on a dark field (nuclei-like): the Poisson noise sits on
    the spots, exactly where the shift and rotation information is."""
    img = np.zeros((n, n))
    img[tuple(rng.integers(0, n, (2, k)))] = 1.0
    img = ndimage.gaussian_filter(img, 3.0, mode="wrap")
    return img / img.max() * 1000.0


def test_rotation_and_shift_z_scores_are_standard_normal():
    """30 random pairs (new spots, shift, rotation and noise each), Poisson-dominated noise:
    the errors divided by the fit's own standard errors have sd 1 and mean 0 within 3
    standard errors (90 z-scores: sd of the sd ~0.075). Without the noise weighting the bright
    spots' noise is under-counted and the standard errors are ~2.5x too small (sd of z > 1.6)."""
    rng = np.random.default_rng(5)
    z = {True: [], False: []}
    for _ in range(30):
        hr = Image(_blobs(rng), "YX", spacing=(0.1, 0.1))
        t = random_transform(rng, 2, 3.0, 1.5)
        lr = simulate_acquisition(hr, 4, t, fwhm_px=4.0, a=0.2, b=5.0, photons=1.0,
                                  read_noise=1.0, seed=int(rng.integers(1 << 30)))
        for weighted in (True, False):
            reg = register_pair(lr, hr, 4, transform="rigid", noise_weights=weighted)
            se = reg.standard_errors
            z[weighted] += [(reg.transform.shift[0] - t.shift[0]) / se["shift_y"],
                            (reg.transform.shift[1] - t.shift[1]) / se["shift_x"],
                            (reg.transform.rotation_deg - t.rotation_deg) / se["rotation_deg"]]
    zw, zu = np.array(z[True]), np.array(z[False])
    sd_se = 1.0 / np.sqrt(2 * (len(zw) - 1))
    assert abs(zw.std(ddof=1) - 1.0) < 3 * sd_se, zw.std(ddof=1)
    assert abs(zw.mean()) < 3 / np.sqrt(len(zw)), zw.mean()
    assert np.abs(zw).max() < 4.0
    assert zu.std(ddof=1) > 1.6


def test_noise_free_rigid_recovery_is_exact_to_the_field_edge():
    """Without noise the rigid fit recovers shift and rotation to 1e-3 (LR px, degrees): the
    simulated LR field's edge pixels see the scene beyond the edge (the simulator blurs a
    wider field and crops), so the fit's forward model holds up to the field edge."""
    hr = Image(_smooth_texture((192, 192), seed=4), "YX", spacing=(0.1, 0.1))
    for t in (PairTransform((2.3, -3.1), 1.2), PairTransform((-4.6, 1.7), -0.8)):
        lr = simulate_acquisition(hr, 4, t, fwhm_px=5.0)
        reg = register_pair(lr, hr, 4, transform="rigid")
        assert reg.transform.shift == pytest.approx(t.shift, abs=1e-3)
        assert reg.transform.rotation_deg == pytest.approx(t.rotation_deg, abs=1e-3)
