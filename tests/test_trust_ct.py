"""The trust layer on X-ray CT images (follow-up of issues 17 and 13): the acquisition of a CT
record uses the scan's linear equivalent; the consistency test re-acquires the prediction
through the CT model (correlated, ramp-filtered noise), so that the truth given as a perfect
prediction is red at the controlled level while a prediction with pores removed or invented
is flagged; ``geosr trust --forward`` with a CT record works."""

from __future__ import annotations

import json

import numpy as np
import pytest

from geosr.core import Image
from geosr.core.errors import ConfigError, InputError
from geosr.degrade.ct_degrade import degrade_ct
from geosr.phantoms import phantom
from geosr.trust.acquisition import Acquisition, resolve_acquisition
from geosr.trust.ct_consistency import ct_consistency, quadratic_form_sf
from geosr.trust.multiple import control

PIXEL_UM, SCALE, SIDE = 15.175, 4, 48        # HR pixel (XtremeCT II voxel / 4), HR side
CT = dict(preset="xtremect2", scale=SCALE, intensity_range=(0.0, 1.0), n_angles=60)
LEVEL = 0.05


def _truth(seed: int) -> Image:
    """A 2D cortical section (dark pores in bright bone), 48 × 48 HR pixels of 15.175 µm."""
    ph = phantom("cortical", dims=2, size_um=(SIDE * PIXEL_UM,) * 2, spacing_um=PIXEL_UM,
                 seed=seed, bright=False)
    return Image(np.asarray(ph.image.numpy(), np.float64), "YX", spacing=(PIXEL_UM,) * 2)


@pytest.fixture(scope="module")
def truths():
    return [_truth(s) for s in range(4)]


def test_acquisition_of_a_ct_record_is_its_linear_equivalent(truths):
    lr = degrade_ct(truths[0], seed=1, **CT)
    acq = Acquisition.from_image(lr)
    assert acq.modality == "ct" and acq.has_noise_model and acq.scale == (4, 4)
    names = [s["name"] for s in acq.linear_steps]
    assert names == ["gaussian_blur", "downsample"]
    assert acq.linear_steps[0]["fwhm_um"] == pytest.approx(73.0788, abs=1e-3)   # the preset
    assert acq.fwhm_um == pytest.approx(73.0788, abs=1e-3)
    assert acq.operator(truths[0].shape, PIXEL_UM).out_shape == lr.shape
    # the CT chain keeps the intensity range it mapped (not the prediction's min/max)
    assert acq.ct_model().steps[0].intensity_range == (0.0, 1.0)
    with pytest.raises(ConfigError, match="correlated"):
        acq.noise_variance(np.ones(lr.shape))
    again = Acquisition.from_dict(json.loads(json.dumps(acq.to_dict())))
    assert again.modality == "ct" and again.signature() == acq.signature()
    # the linear equivalent approximates the noise-free CT of the truth (same grid)
    clean = degrade_ct(truths[0], seed=1, **{**CT, "i0": 0})
    assert not Acquisition.from_image(clean).has_noise_model
    linear = acq.operator(truths[0].shape, PIXEL_UM).forward(truths[0].numpy())
    err = np.sqrt(np.mean((linear - clean.numpy()) ** 2)) / np.std(clean.numpy())
    assert err < 0.3, err
    record = dict(lr.metadata["degradation"])
    record["steps"] = [{**record["steps"][0], "intensity_range": None,
                        "intensity_range_used": None}]
    with pytest.raises(InputError, match="intensity range"):
        Acquisition.from_record(record)


def test_quadratic_form_tail_matches_monte_carlo():
    """Σ λ_i χ²_1 with unequal λ: the 3-cumulant tail against 400 000 draws."""
    lam = np.array([3.0, 1.0, 1.0, 0.5, 0.2, 0.2])
    rng = np.random.default_rng(0)
    sample = (rng.standard_normal((400_000, lam.size)) ** 2) @ lam
    c = [float(np.sum(lam ** j)) for j in (1, 2, 3)]
    for q in np.quantile(sample, [0.9, 0.99, 0.999]):
        exact = float(np.mean(sample >= q))
        assert quadratic_form_sf(float(q), *c, 10 ** 9) == pytest.approx(exact, rel=0.15)


def _scans(truth: Image, seeds: range) -> list[Image]:
    """Independent CT acquisitions of ``truth`` (the recorded physics of ``degrade_ct``)."""
    return [degrade_ct(truth, seed=s, **CT) for s in seeds]


def _red(pred: Image, lr: Image, seed: int) -> bool:
    """Image verdict of the consistency family: a red tile under the max-statistic at LEVEL."""
    res = ct_consistency(pred, lr, Acquisition.from_image(lr), tile=4, seed=seed)
    return bool((res.family_p <= LEVEL).any())


def test_max_statistic_family_is_exact_where_the_tail_approximation_is_not():
    """Correlated noise of a strongly varying amplitude (the 3-cumulant tail is off there):
    the residual as one more draw is red at the max-statistic's exact rate
    ⌊0.05 · 33⌋ / 33 = 1/33 over 600 images (3 SE), K = 32, 16 tiles."""
    from scipy import ndimage

    from geosr.trust.ct_consistency import family_pvalues

    rng = np.random.default_rng(5)
    amp = np.linspace(0.3, 3.0, 16)[None, :] * np.ones((16, 1))

    def field(n):
        white = rng.standard_normal((n, 16, 16))
        return ndimage.gaussian_filter(white, (0, 0.6, 2.0)) * amp

    reds = sum(bool((family_pvalues(field(1)[0], field(32), (4, 4)) <= LEVEL).any())
               for _ in range(600))
    exact = 1 / 33
    assert abs(reds / 600 - exact) <= 3 * np.sqrt(exact * (1 - exact) / 600), reds


N_ORACLE = 160


@pytest.mark.slow
def test_truth_is_red_at_the_controlled_level(truths):
    """The truth as a perfect prediction: image false-red rate (max-statistic over 64 draws,
    9 tiles of 4 × 4 voxels) within 3 SE of the level or below, over 160 fresh CT
    acquisitions (4 phantoms × 40 noise seeds, fresh re-acquisition draws each); tile
    p-values uniform."""
    reds, pvals = 0, []
    for k in range(N_ORACLE):
        truth = truths[k % 4]
        lr = degrade_ct(truth, seed=10 ** 6 + k, **CT)
        res = ct_consistency(truth, lr, Acquisition.from_image(lr), tile=4, seed=k)
        reds += bool((res.family_p <= LEVEL).any())
        pvals.append(res.tile_p.ravel())
    rate, p = reds / N_ORACLE, np.concatenate(pvals)
    se = np.sqrt(LEVEL * (1 - LEVEL) / N_ORACLE)
    assert rate <= LEVEL + 3 * se, (rate, se)
    for a in (0.5, 0.1):
        assert abs(np.mean(p < a) - a) <= 3 * np.sqrt(a * (1 - a) / p.size) + 0.01, a


def _without_pores(truth: Image) -> Image:
    v = truth.numpy().copy()
    bone = float(np.median(v[v > 0.5]))
    return truth.replace(data=np.where(v < 0.5, bone, v))


def _with_invented_pores(truth: Image, seed: int) -> Image:
    v = truth.numpy().copy()
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:v.shape[0], :v.shape[1]]
    pore = float(np.median(v[v < 0.5])) if (v < 0.5).any() else 0.15
    for _ in range(3):   # canals of 61 µm radius (4 px; 45 µm ones: 6 of 12 seen)
        cy, cx = rng.integers(6, v.shape[0] - 6, size=2)
        v[(yy - cy) ** 2 + (xx - cx) ** 2 <= 16] = pore
    return truth.replace(data=v)


def test_pores_removed_or_invented_are_flagged(truths):
    """Visibly wrong predictions are red (same acquisitions and level as the control)."""
    removed = invented = 0
    for k in range(12):
        truth = truths[k % 4]
        lr = degrade_ct(truth, seed=2 * 10 ** 6 + k, **CT)
        removed += _red(_without_pores(truth), lr, k)
        invented += _red(_with_invented_pores(truth, k), lr, k)
    assert removed >= 11 and invented >= 11, (removed, invented)


def test_trust_report_and_cli_with_a_ct_record(truths, tmp_path, capsys):
    """``trust_report`` reads the CT record from the LR; ``geosr trust --forward`` takes the
    record as a file: the truth is not red, the prediction without pores is."""
    from geosr.cli.main import main
    from geosr.core.files import write_json
    from geosr.io import save
    from geosr.trust import trust_report

    truth = truths[1]
    lr = degrade_ct(truth, seed=11, **CT)
    report = trust_report(truth, lr, card=None, uncertainty=None, tile=4)
    cons = report.summary["consistency"]
    assert cons["modality"] == "ct" and cons["repeats"] == 64 and cons["tiles"] == 9
    family = next(c for c in report.summary["verdict"]["control"] if c["test"] == "consistency")
    assert family["flagged"] == 0 and family["tests"] == 9     # (red overall: no card)
    wrong = trust_report(_without_pores(truth), lr, card=None, uncertainty=None, tile=4)
    family = next(c for c in wrong.summary["verdict"]["control"] if c["test"] == "consistency")
    assert family["flagged"] >= 3

    save(lr.replace(metadata={}), tmp_path / "lr.tif")          # no record in the file
    save(_without_pores(truth).replace(data=_without_pores(truth).numpy().astype(np.float32)),
         tmp_path / "pred.tif")
    write_json(tmp_path / "ct_record.json", lr.metadata["degradation"])
    acq, _ = resolve_acquisition(tmp_path / "ct_record.json")
    assert acq.modality == "ct"
    code = main(["trust", str(tmp_path / "pred.tif"), str(tmp_path / "lr.tif"), "--forward",
                 str(tmp_path / "ct_record.json"), "--uncertainty", "none", "--tile", "4",
                 "--out", str(tmp_path / "t")])
    assert code in (0, None)
    summary = json.loads((tmp_path / "t" / "trust.json").read_text())
    assert summary["consistency"]["modality"] == "ct"
    assert next(c for c in summary["verdict"]["control"]
                if c["test"] == "consistency")["flagged"] >= 3
    assert "trust: red" in capsys.readouterr().out


def test_volumes_and_quantised_ct_records():
    """3D (slice by slice, detector blur along Z) and a 12-bit record (levels; saturated voxels
    left out): the truth is re-acquired on the LR grid and no tile is red (fixed seeds)."""
    v = np.full((8, 32, 32), 0.9)
    v[:, 10:16, 12:20] = 0.15
    hr = Image(v, "ZYX", spacing=(15.0,) * 3)
    lr = degrade_ct(hr, scale=4, n_angles=40, i0=2e4, intensity_range=(0, 1), seed=2)
    res = ct_consistency(hr, lr, Acquisition.from_image(lr), tile=4)
    assert lr.shape == (2, 8, 8) and res.tile_p.shape == res.family_p.shape == (1, 2, 2)
    assert not (res.family_p <= LEVEL).any()
    plane = Image(v[0], "YX", spacing=(15.0, 15.0))
    lq = degrade_ct(plane, scale=4, n_angles=40, i0=2e4, intensity_range=(0, 1), seed=2,
                    bit_depth=12, saturation=1.2)
    acq = Acquisition.from_image(lq)
    assert acq.saturation_value == 4095.0 and lq.numpy().dtype == np.uint16
    res = ct_consistency(plane, lq, acq, tile=4)
    assert res.excluded == int(np.sum(lq.numpy() >= 4095))
    assert 0.5 < res.chi2_per_pixel < 2.0
    assert not (res.family_p <= LEVEL).any()
    # a wrong prediction in levels is still caught
    wrong = ct_consistency(plane.replace(data=np.full_like(v[0], 0.9)), lq, acq, tile=4)
    assert (wrong.family_p <= LEVEL).any()
