"""Conformal calibration and the OOD gate: coverage over ≥ 200 random calibration/test splits
(3 standard errors), a negative control with shifted noise, and the OOD false-alarm rate."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage, stats

from geosr.core import Image
from geosr.degrade import degrade
from geosr.resample import upscale
from geosr.trust.card import card_mismatches
from geosr.trust.conformal import (
    conformal_pvalue, conformal_quantile, crc_lambda, ratios, simultaneous_scores,
)
from geosr.trust.ood import OODGate, input_features

ALPHA, SPLITS, N_POOL = 0.1, 200, 400
PHOTONS = 40.0


def _pair(seed: int, photons: float):
    rng = np.random.default_rng(seed)
    hr = ndimage.gaussian_filter(rng.random((24, 24)), 2.0)
    hr = 0.5 + 1.5 * (hr - hr.min()) / (hr.max() - hr.min())
    lr = degrade(Image(hr, "YX"), scale=2, photons=photons, seed=seed + 10_000)
    low = np.asarray(lr.numpy(), np.float64)
    pred = np.asarray(upscale(low, 2, method="bicubic"), np.float64)
    near = np.kron(low, np.ones((2, 2)))
    u = 0.05 + np.abs(pred - near)     # input-derived size map, imperfect on purpose
    return hr, pred, u, low


@pytest.fixture(scope="module")
def pool():
    def make(seeds, photons):
        out = [_pair(s, photons) for s in seeds]
        return {"t": [ratios(h, p, u) for h, p, u, _ in out],
                "phi": np.stack([input_features(low) for *_, low in out])}

    return {"id": make(range(N_POOL), PHOTONS),
            "shifted": make(range(50_000, 50_100), PHOTONS / 9.0)}   # noise × 3


def test_conformal_helpers_exact():
    assert conformal_quantile(np.arange(1, 100), 0.1) == 90.0
    assert conformal_quantile(np.arange(1, 5), 0.1) == float("inf")
    assert conformal_pvalue([1, 2, 3], 10) == 0.25 and conformal_pvalue([1, 2, 3], 0) == 1.0
    # CRC by brute force over a fine grid on a small example
    rng = np.random.default_rng(0)
    cal = [rng.exponential(size=rng.integers(5, 30)) for _ in range(20)]
    lam = crc_lambda(cal, 0.2)
    grid = np.linspace(0, 10, 200_001)
    risk = np.mean([np.mean(t[:, None] > grid[None, :], axis=0) for t in cal], axis=0)
    ok = (20 / 21) * risk + 1 / 21 <= 0.2
    assert lam == pytest.approx(grid[np.argmax(ok)], abs=1e-4)
    assert crc_lambda(cal[:3], 0.2) == float("inf")     # alpha < 1/(n+1)


def test_crc_and_split_conformal_coverage_over_random_splits(pool):
    t = pool["id"]["t"]
    rng = np.random.default_rng(1)
    n_cal = N_POOL // 2
    risks, covered, widths = [], [], []
    for _ in range(SPLITS):
        order = rng.permutation(N_POOL)
        cal, test = [t[i] for i in order[:n_cal]], [t[i] for i in order[n_cal:]]
        lam = crc_lambda(cal, ALPHA)
        risks.append(np.mean([np.mean(x > lam) for x in test]))
        q = conformal_quantile(simultaneous_scores(cal), ALPHA)
        covered.append(np.mean([np.max(x) <= q for x in test]))
        widths.append(lam)
    risks, covered = np.array(risks), np.array(covered)
    se_r = risks.std(ddof=1) / np.sqrt(SPLITS)
    assert risks.mean() <= ALPHA + 3 * se_r                 # CRC: E[miss fraction] <= alpha
    assert risks.mean() >= ALPHA - 0.02                     # and not vacuous (tight to O(1/n))
    se_c = covered.std(ddof=1) / np.sqrt(SPLITS)
    assert 1 - ALPHA - 3 * se_c <= covered.mean() <= 1 - ALPHA + 1 / (n_cal + 1) + 3 * se_c


def test_negative_control_shifted_noise_breaks_coverage_and_trips_ood(pool):
    ident, shifted = pool["id"], pool["shifted"]
    lam = crc_lambda(ident["t"][:200], ALPHA)
    id_risk = [np.mean(x > lam) for x in ident["t"][200:]]
    shift_risk = [np.mean(x > lam) for x in shifted["t"]]
    se = np.std(shift_risk, ddof=1) / np.sqrt(len(shift_risk))
    assert np.mean(id_risk) <= ALPHA + 3 * np.std(id_risk, ddof=1) / np.sqrt(len(id_risk))
    assert np.mean(shift_risk) > ALPHA + 3 * se              # coverage fails ...
    gate = OODGate.fit(None, features=ident["phi"][:200], alpha=0.05)
    flags = [p <= 0.05 for p in (conformal_pvalue(gate.calibration_scores, s)
                                 for s in gate.score_features(shifted["phi"]))]
    assert np.mean(flags) > 0.9                              # ... and the OOD gate trips


def test_ood_false_alarm_rate_at_most_level(pool):
    phi = pool["id"]["phi"]
    level = 0.05
    gate = OODGate.fit(None, features=phi[:200], alpha=level)
    p = conformal_pvalue(gate.calibration_scores, gate.score_features(phi[200:]))
    k = int(np.sum(p <= level))
    assert stats.binomtest(k, len(p), level, alternative="greater").pvalue > 1e-3
    # averaged over random fit/calibration/test splits, the rate is within 3 SE of <= level
    rng = np.random.default_rng(2)
    rates = []
    for seed in range(100):
        order = rng.permutation(N_POOL)
        g = OODGate.fit(None, features=phi[order[:200]], alpha=level, seed=seed)
        rates.append(np.mean(conformal_pvalue(g.calibration_scores,
                                              g.score_features(phi[order[200:]])) <= level))
    rates = np.array(rates)
    assert rates.mean() <= level + 3 * rates.std(ddof=1) / np.sqrt(len(rates))


def test_card_refuses_other_model_or_setting():
    card = {"model": {"sha256": "a" * 64},
            "acquisition": {"scale": [4, 4], "lr_spacing_um": [0.4, 0.4],
                            "signature": {"gain": 0.01, "read_noise": 0.01}}}
    ok = dict(model_sha256="a" * 64, scale=(4, 4), lr_spacing_um=(0.4, 0.4),
              acquisition={"gain": 0.0105, "read_noise": 0.01})
    assert card_mismatches(card, **ok) == []
    assert card_mismatches(None, **ok)
    assert card_mismatches(card, **{**ok, "model_sha256": "b" * 64})
    assert card_mismatches(card, **{**ok, "scale": (2, 2)})
    assert card_mismatches(card, **{**ok, "lr_spacing_um": (0.5, 0.4)})
    assert card_mismatches(card, **{**ok, "acquisition": {"gain": 0.04, "read_noise": 0.01}})
