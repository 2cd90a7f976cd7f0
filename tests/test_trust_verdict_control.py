"""The verdict's error control across tiles (issue 13, part 1) and trust evidence as registered
pieces (issue 20, item 2): Holm/BH against their definitions, the image-level false-red rate of
perfect (oracle) predictions over 600 simulated images within 3 SE of the level, the visible
corrupter still caught, and a toy piece registered in a test appearing in ``trust.json``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from geosr.core import Image
from geosr.degrade import degrade
from geosr.trust.acquisition import Acquisition, resolve_acquisition
from geosr.trust.data_consistency import consistency
from geosr.trust.multiple import benjamini_hochberg, control, holm
from geosr.trust.verdict import tile_verdicts

LEVEL, N_ORACLE = 0.05, 600


def _holm_brute(p, level):
    """Holm by its adjusted p-values: max_{j<=i} min(1, (m - j + 1) p_(j)) <= level."""
    order = np.argsort(p)
    m = p.size
    adj = np.maximum.accumulate(np.minimum(1, (m - np.arange(m)) * p[order]))
    out = np.zeros(m, bool)
    out[order] = adj <= level
    return out


def _bh_brute(p, level):
    """BH by its adjusted p-values: min_{j>=i} min(1, m p_(j) / j) <= level."""
    order = np.argsort(p)
    m = p.size
    adj = np.minimum.accumulate((np.minimum(1, m * p[order] / np.arange(1, m + 1)))[::-1])[::-1]
    out = np.zeros(m, bool)
    out[order] = adj <= level
    return out


def test_holm_and_bh_match_their_definitions():
    rng = np.random.default_rng(0)
    for _ in range(300):
        m = int(rng.integers(1, 40))
        p = np.where(rng.random(m) < 0.3, rng.random(m) * 1e-3, rng.random(m))
        assert np.array_equal(holm(p, LEVEL), _holm_brute(p, LEVEL))
        assert np.array_equal(benjamini_hochberg(p, LEVEL), _bh_brute(p, LEVEL))
    # NaN (tiles without data) is never flagged and not counted
    p = np.array([[1e-4, np.nan], [0.5, 0.02]])
    c = control(p, LEVEL, "holm")
    assert c.m == 3 and c.flagged.tolist() == [[True, False], [False, True]]   # 0.02 <= 0.05/2
    with pytest.raises(Exception, match="level"):
        control(p, 1.5)


def _oracle(seed: int, n: int = 128):
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.random((n, n)), 3)
    gt = 0.5 + 1.5 * (field - field.min()) / (field.max() - field.min())
    hr = Image(gt, "YX", spacing=(0.1, 0.1))
    lr = degrade(hr, scale=2, fwhm_um=0.2, photons=300.0, read_noise=0.01, seed=seed + 10**6)
    return hr, lr, rng


@pytest.fixture(scope="module")
def oracle_pvalues():
    """Tile χ² p-values (16 × 16 = 256 tiles) of perfect predictions of 600 fresh scenes."""
    acq, out = None, []
    for k in range(N_ORACLE):
        hr, lr, _ = _oracle(k)
        acq = acq or Acquisition.from_image(lr)
        out.append(consistency(hr, lr, acq, tile=4).tile_p)
    return out


@pytest.mark.parametrize("method", ["holm", "bh"])
def test_false_red_rate_of_perfect_predictions_at_the_level(oracle_pvalues, method):
    reds = np.array([tile_verdicts(p.shape, chi2_p=p, level=LEVEL, method=method)
                     .codes.max() == 2 for p in oracle_pvalues])
    se = np.sqrt(LEVEL * (1 - LEVEL) / reds.size)
    assert oracle_pvalues[0].size == 256
    assert reds.mean() <= LEVEL + 3 * se                  # measured 0.050 over 1000 images
    assert reds.mean() >= LEVEL / 4                       # not vacuous: the test has power


def test_uncontrolled_tiles_cry_wolf(oracle_pvalues):
    """The former rule (each tile at p < 0.001) reds about 1 − 0.999²⁵⁶ ≈ 0.23 of perfect
    images: the control is what brings this to the level."""
    reds = np.mean([tile_verdicts(p.shape, chi2_p=p, method="none").codes.max() == 2
                    for p in oracle_pvalues])
    assert 0.15 < reds < 0.30


def test_visible_corrupter_still_caught_under_holm():
    acq, caught = None, []
    for k in range(40):
        hr, lr, rng = _oracle(5000 + k)
        acq = acq or Acquisition.from_image(lr)
        yy, xx = np.indices(hr.shape)
        b = rng.integers(20, 108, 2)
        bad = hr.numpy() + 0.6 * np.exp(-((yy - b[0]) ** 2 + (xx - b[1]) ** 2) / 50.0)
        p = consistency(hr.replace(data=bad), lr, acq, tile=4).tile_p
        v = tile_verdicts(p.shape, chi2_p=p, level=LEVEL)
        caught.append(v.codes[tuple(int(c) // 8 for c in b)] == 2)
    assert np.mean(caught) >= 0.95


def test_trust_json_states_the_control_and_a_registered_piece_appears(tmp_path):
    from geosr.trust.registry import (
        Evidence, available_evidence, register_evidence, unregister_evidence,
    )
    from geosr.trust.report import trust_report

    hr, lr, _ = _oracle(7)

    @register_evidence("toy_mean", order=95)
    def toy_mean(ctx):
        return Evidence(summary={"toy_mean": {"mean": float(ctx.f.mean())}},
                        maps={"toy_map": ctx.sr_map(ctx.f * 0 + 1)})

    try:
        assert available_evidence()[-1] == "toy_mean"
        trust_report(hr, lr, out=tmp_path / "a.trust", level=0.01, tile=4)
    finally:
        unregister_evidence("toy_mean")
    summary = json.loads((tmp_path / "a.trust" / "trust.json").read_text())
    assert summary["toy_mean"]["mean"] == pytest.approx(float(hr.numpy().mean()), rel=1e-5)
    assert "toy_map.tif" in summary["maps"] and (tmp_path / "a.trust" / "toy_map.tif").exists()
    sentence = summary["verdict_control"]
    assert sentence.startswith("Tiles are red only where Holm's procedure over 256 tile chi2")
    assert "<= 0.01" in sentence and sentence.count(".") == 2   # one sentence ("0.01.")
    assert summary["verdict"]["control"][0]["tests"] == 256
    # without the piece, it is gone
    rep = trust_report(hr, lr, evidence=["physics", "squirrel"])
    assert "toy_mean" not in rep.summary and "consistency" not in rep.summary
    assert rep.summary["verdict_control"].startswith("No per-tile statistical test ran")


def test_resolve_acquisition_from_forward_model_record_or_file(tmp_path):
    from geosr.degrade import degradation_model

    fm = degradation_model(scale=2, fwhm_um=0.2)
    acq, source = resolve_acquisition(fm)
    assert acq.scale_per_axis(2) == (2, 2) and not acq.has_noise_model
    path = tmp_path / "forward.json"
    path.write_text(json.dumps(fm.params()))
    from_file, source = resolve_acquisition(path)
    assert from_file.linear_steps == acq.linear_steps and source == str(path)
    _, lr, _ = _oracle(1)
    meta, source = resolve_acquisition(None, lr=lr)
    assert meta.gain == pytest.approx(1 / 300) and source == "LR image metadata"
    card = {"acquisition": {"description": meta.to_dict()}}
    from_card, source = resolve_acquisition(None, lr=lr.replace(metadata={}), card=card)
    assert from_card.signature() == meta.signature() and source == "calibration card"
    assert resolve_acquisition(None) == (None, None)
    with pytest.raises(Exception, match="describes no acquisition"):
        resolve_acquisition({"foo": 1})


def test_docstring_examples_of_the_new_modules():
    import doctest
    import importlib

    for name in ("multiple", "verdict", "registry", "context", "card", "elements",
                 "acquisition"):
        module = importlib.import_module(f"geosr.trust.{name}")
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 0, name


def test_max_statistic_keeps_the_family_wise_false_amber_rate():
    """Tile shares of exchangeable images: flagging tiles above the per-image maxima of 40
    calibration images (conformal p <= 0.05) turns at most 5 % of fresh images amber."""
    from geosr.trust.conformal import conformal_pvalue
    from geosr.trust.verdict import NULL_REASON, TileTest, compose_verdict

    rng = np.random.default_rng(0)
    reps, n_cal = 400, 40
    ambers = []
    for _ in range(reps):
        maxima = [rng.lognormal(size=(16, 16)).max() for _ in range(n_cal)]
        share = rng.lognormal(size=(16, 16))
        p = np.asarray(conformal_pvalue(maxima, share))
        v = compose_verdict((16, 16), [TileTest("nullspace", p, 1, NULL_REASON, "null-space",
                                                values=share, max_statistic=n_cal)])
        ambers.append(v.codes.max() == 1)
    rate = np.mean(ambers)
    assert rate <= LEVEL + 3 * np.sqrt(LEVEL * (1 - LEVEL) / reps)
    assert rate > 0.005                                    # it can flag
    share[3, 4] = 50.0                                     # far beyond any calibration tile
    p = np.asarray(conformal_pvalue(maxima, share))
    v = compose_verdict((16, 16), [TileTest("nullspace", p, 1, NULL_REASON, "null-space",
                                            values=share, max_statistic=n_cal)])
    assert v.codes[3, 4] == 1 and "max-statistic over 40" in v.sentence()
