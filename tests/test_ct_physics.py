"""Physics validation of the X-ray CT forward model (geosr.degrade.ct, issue 17): convergence to
the blurred and binned HR image, noise variance ∝ 1/I0, ramp-shaped noise power spectrum,
slanted-edge MTF against the configured detector blur, and the real tooth projections."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from geosr.core import Image
from geosr.degrade import Downsample, ForwardModel, GaussianBlur, Quantize, step_from_params
from geosr.degrade.ct import CTScan, reconstruct_projections, rotation_axis

H_UM = 5.0  # HR pixel, µm


def _smooth_field(n=128, sigma=6.0, seed=0):
    x = ndimage.gaussian_filter(np.random.default_rng(seed).random((n, n)), sigma)
    return Image((x - x.min()) / (x.max() - x.min()), "YX", spacing=(H_UM, H_UM))


def _interior_rel_error(a, b, border=3):
    e = (a - b)[border:-border, border:-border]
    return float(np.sqrt(np.mean(e ** 2)) / b[border:-border, border:-border].std())


def test_noise_free_converges_to_blurred_binned_hr():
    hr = _smooth_field()
    ref = Downsample(4)(GaussianBlur(fwhm_um=40.0)(hr, None), None).numpy()
    errors = {}
    for n_angles in (8, 32, 360):
        lr = CTScan(scale=4, n_angles=n_angles, detector_fwhm_um=40.0)(hr, None)
        assert lr.shape == (32, 32) and lr.spacing == (20.0, 20.0)
        assert lr.origin == pytest.approx((7.5, 7.5))  # same grid as area binning
        errors[n_angles] = _interior_rel_error(lr.numpy(), ref)
    assert errors[360] < 0.05                      # measured 0.02-0.03
    assert errors[8] > 3 * errors[360]             # streaks from few angles
    assert errors[32] < errors[8]


def test_grid_alignment_with_area_binning():
    """The reconstruction lies on the area-binning grid: shifting the reference by one HR
    pixel in any direction makes the agreement worse."""
    hr = _smooth_field(sigma=8.0, seed=1)
    lr = CTScan(scale=4, n_angles=180)(hr, None).numpy()
    base = _interior_rel_error(lr, Downsample(4)(hr, None).numpy())
    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        shifted = hr.replace(data=np.roll(hr.numpy(), (dy, dx), axis=(0, 1)))
        assert _interior_rel_error(lr, Downsample(4)(shifted, None).numpy()) > base * 1.3


def _noise_stack(i0, seeds, filt="ramp", n=128, n_flats=10 ** 6):
    hr = Image(np.full((n, n), 0.5), "YX", spacing=(H_UM, H_UM))
    clean = CTScan(scale=2, n_angles=180, filter=filt)(hr, None).numpy()
    return np.stack([CTScan(scale=2, n_angles=180, i0=i0, filter=filt, n_flats=n_flats)(
        hr, int(s)).numpy() - clean for s in seeds])


def test_noise_variance_scales_as_one_over_i0():
    centre = (slice(16, 48), slice(16, 48))
    v_low = np.array([r[centre].var() for r in _noise_stack(1e3, range(8))])
    v_high = np.array([r[centre].var() for r in _noise_stack(1e4, range(8, 16))])
    ratio = v_low.mean() / v_high.mean()
    rse = np.hypot(v_low.std(ddof=1) / v_low.mean(), v_high.std(ddof=1) / v_high.mean())
    se = ratio * rse / np.sqrt(8)
    assert abs(ratio - 10.0) < 3 * se, (ratio, se)   # measured 9.8, se 0.3
    noisy = _noise_stack(1e3, [0])[0]
    assert abs(noisy[centre].mean()) < 0.1  # unbiased: mean error ≪ its 1.5 sd


def _radial_nps(stack, bins=10):
    roi = stack[:, 16:48, 16:48]
    roi = roi - roi.mean(axis=(1, 2), keepdims=True)
    power = (np.abs(np.fft.fft2(roi)) ** 2).mean(axis=0)
    f = np.fft.fftfreq(roi.shape[1])
    radius = np.hypot(*np.meshgrid(f, f, indexing="ij")).ravel()
    edges = np.linspace(0, 0.5, bins + 1)
    idx = np.digitize(radius, edges)
    return (edges[:-1] + edges[1:]) / 2, np.array([power.ravel()[idx == i].mean()
                                                    for i in range(1, bins + 1)])


def _predicted_nps(freq, filt):
    """|H(f)|²/|f| (filtered white projection noise spread over the angles) times the
    linear-interpolation transfer sinc⁴, with H scikit-image's own filter."""
    from skimage.transform.radon_transform import _get_fourier_filter

    size = 512
    response = _get_fourier_filter(size, filt)[:size // 2, 0]
    h = np.interp(freq, np.fft.fftfreq(size)[:size // 2], response)
    return h ** 2 / freq * np.sinc(freq) ** 4


@pytest.mark.parametrize("filt", ["ramp", "hann"])
def test_noise_power_spectrum_has_the_filter_shape(filt):
    freq, nps = _radial_nps(_noise_stack(1e3, range(8), filt))
    ratio = nps / _predicted_nps(freq, filt)
    band = slice(2, 7)                       # 0.10-0.35 cycles/voxel
    ratio = ratio / ratio[band].mean()
    assert np.all(np.abs(ratio[band] - 1) < 0.25), np.round(ratio, 3)
    if filt == "ramp":
        assert nps[5] / nps[1] > 1.5         # rises with frequency like the ramp
    else:
        assert nps[8] / nps[4] < 0.1         # the Hann window cuts the top band


def _edge_image(n=192, angle_deg=5.0, sub=8):
    yy, xx = np.mgrid[:n, :n] * H_UM
    c, a = n * H_UM / 2, np.deg2rad(angle_deg)
    offsets = ((np.arange(sub) + 0.5) / sub - 0.5) * H_UM
    img = sum(((xx + ox - c) * np.cos(a) - (yy + oy - c) * np.sin(a) > 0).astype(float)
              for oy in offsets for ox in offsets) / sub ** 2
    return Image(img, "YX", spacing=(H_UM, H_UM)), (c, a)


def _edge_mtf(lr, c, a, voxel):
    v = lr.numpy()
    cy, cx = [g * voxel + o for g, o in zip(np.mgrid[:v.shape[0], :v.shape[1]], lr.origin)]
    dist = (cx - c) * np.cos(a) - (cy - c) * np.sin(a)
    keep = np.abs(cy - c) < 0.3 * v.shape[0] * voxel
    width = voxel / 8
    edges = np.arange(-12 * voxel, 12 * voxel + width, width)
    idx = np.digitize(dist[keep], edges)
    esf = np.array([v[keep][idx == i].mean() for i in range(1, len(edges))])
    lsf = np.gradient(esf) * np.hanning(len(esf))
    mtf = np.abs(np.fft.rfft(lsf))
    return np.fft.rfftfreq(len(lsf), d=width), mtf / mtf[0]


def test_slanted_edge_mtf_matches_configured_blur():
    hr, (c, a) = _edge_image()
    voxel, fwhm = 2 * H_UM, 20.0
    f, sharp = _edge_mtf(CTScan(scale=2, n_angles=360)(hr, None), c, a, voxel)
    _, blurred = _edge_mtf(CTScan(scale=2, n_angles=360, detector_fwhm_um=fwhm)(hr, None),
                           c, a, voxel)
    sigma = fwhm / (2 * np.sqrt(2 * np.log(2)))
    gauss = np.exp(-2 * np.pi ** 2 * sigma ** 2 * f ** 2)
    band = (f > 0) & (f * voxel <= 0.4)
    assert np.max(np.abs(blurred[band] / sharp[band] - gauss[band])) < 0.04  # measured 0.02
    # without extra blur the MTF is the detector aperture's: still > 0.3 at 0.4 cycles/voxel
    assert sharp[np.argmin(np.abs(f * voxel - 0.4))] > 0.3


def test_record_rebuilds_and_composes_with_other_steps():
    hr = _smooth_field(n=64)
    model = ForwardModel([CTScan(scale=2, n_angles=60, i0=5e3, ring_sd=0.01,
                                 detector_fwhm_um=8.0), Quantize(16, saturation=2.0)])
    lr, record = model.apply(hr, seed=3)
    assert lr.dtype == np.uint16 and lr.shape == (32, 32)
    assert [s["name"] for s in record["steps"]] == ["ct_scan", "quantize"]
    assert record["steps"][0]["voxel_um"] == 10.0
    again, _ = ForwardModel.from_record(record).apply(hr, seed=3)
    np.testing.assert_array_equal(again.numpy(), lr.numpy())
    assert step_from_params(record["steps"][0]) == model.steps[0]


def test_rings_and_beam_hardening_and_3d():
    hr = Image(np.full((96, 96), 1.0), "YX", spacing=(100.0, 100.0))  # ~1 cm of bone
    flat = CTScan(scale=2, n_angles=90)(hr, None).numpy()
    cupped = CTScan(scale=2, n_angles=90, beam_hardening=0.3)(hr, None).numpy()
    yy, xx = np.mgrid[:48, :48] - 23.5
    r = np.hypot(yy, xx)
    assert abs(flat[r < 8].mean() - flat[(r > 16) & (r < 22)].mean()) < 0.02
    assert cupped[r < 8].mean() < cupped[(r > 16) & (r < 22)].mean() - 0.05  # cupping
    ringed = CTScan(scale=2, n_angles=90, ring_sd=0.02)(hr, 0).numpy()
    ring_profile = [ringed[(r >= k) & (r < k + 1)].mean() for k in range(2, 20)]
    assert np.std(np.diff(ring_profile)) > 5 * np.std(np.diff(
        [flat[(r >= k) & (r < k + 1)].mean() for k in range(2, 20)]))
    vol = Image(np.stack([np.full((32, 32), 0.5)] * 8), "ZYX", spacing=(5.0, 5.0, 5.0))
    out = CTScan(scale=2, n_angles=30, detector_fwhm_um=5.0)(vol, None)
    assert out.shape == (4, 16, 16) and out.spacing == (10.0, 10.0, 10.0)
    assert np.allclose(out.numpy()[:, 4:-4, 4:-4], 0.5, atol=0.02)


def test_bad_input_is_a_clear_error():
    from geosr.core.errors import ConfigError, InputError

    with pytest.raises(ConfigError, match="filter"):
        CTScan(scale=2, filter="lanczos")
    with pytest.raises(ConfigError, match="n_angles"):
        CTScan(scale=2, n_angles=1)
    with pytest.raises(InputError, match="crop"):
        CTScan(scale=3, n_angles=10)(Image(np.zeros((10, 10)), "YX"), None)
    with pytest.raises(ConfigError, match="seed"):
        CTScan(scale=2, n_angles=10, i0=100.0)(Image(np.zeros((8, 8)), "YX"), None)


@pytest.mark.data
def test_tooth_projections_reconstruct_the_expected_slice(data_dir):
    pytest.importorskip("h5py")
    from geosr.io.data_exchange import read_data_exchange

    raw = read_data_exchange(data_dir / "ct" / "tomopy_tooth_projections" / "tooth.h5")
    assert raw["data"].shape == (181, 2, 640) and raw["theta_unit_in_file"] == "degrees"
    slices = []
    for row in (0, 1):
        rec = reconstruct_projections(raw["data"][:, row], raw["flat"][:, row],
                                      raw["dark"][:, row], raw["theta_deg"])
        p = rec["sinogram"]
        mass = p.sum(axis=0)
        assert mass.std() / mass.mean() < 0.01      # flat/dark right: measured 0.3 %
        assert rec["center"] == pytest.approx(296.3, abs=0.5)  # off the detector centre 320
        assert rec["center_residual_px"] < 0.5      # a rigid rotation, angles in degrees
        slices.append(rec["slice"])
    s0 = slices[0]
    assert np.corrcoef(s0.ravel(), slices[1].ravel())[0, 1] > 0.95  # adjacent rows agree
    tooth = s0 > 0.4 * np.percentile(s0, 99.5)
    labels, n = ndimage.label(tooth)
    sizes = np.sort(ndimage.sum(tooth, labels, range(1, n + 1)))
    assert sizes[-1] > 0.8 * tooth.sum()            # one compact tooth
    yy, xx = np.mgrid[:640, :640]
    air = (np.hypot(yy - 320, xx - 320) < 300) & ~ndimage.binary_dilation(tooth, iterations=15)
    assert abs(s0[air].mean()) < 0.01 * s0[tooth].mean()
    # two mineral phases: enamel attenuates more than dentin
    hist, edges = np.histogram(s0[tooth], bins=40)
    peaks = [edges[i] for i in range(1, 39) if hist[i] >= hist[i - 1] and
             hist[i] >= hist[i + 1] and hist[i] > 0.05 * hist.max()]
    assert len(peaks) >= 2 and 1.2 < max(peaks) / min(peaks) < 3.0
    # the centre found is the one with the least negative density
    neg = {}
    for shift in (-10.0, 0.0, 10.0):
        r = reconstruct_projections(raw["data"][:, 0], raw["flat"][:, 0], raw["dark"][:, 0],
                                    raw["theta_deg"], center=296.3 + shift)["slice"]
        neg[shift] = -r[r < 0].sum() / r[r > 0].sum()
    assert neg[0.0] < min(neg[-10.0], neg[10.0])


def test_rotation_axis_recovers_a_known_shift():
    th = np.arange(0, 180, 1.0)
    img = np.zeros((64, 64))
    img[20:30, 35:45] = 1.0
    from skimage.transform import radon

    sino = np.roll(radon(img, th, circle=False), 3, axis=0)
    centre, resid = rotation_axis(sino, th)
    assert centre == pytest.approx(sino.shape[0] // 2 + 3, abs=0.05) and resid < 0.05
