"""The physics-aware OOD gate (issue 13, part 2): on the trust benchmark's oracle scenes
(256² HR at 0.1 µm, smooth field + thin lines, ×4, Gaussian PSF FWHM 0.4 µm, 300 photons),
a 1.5× wider PSF and a 2× larger pixel are flagged with AUROC ≥ 0.9, while the false-alarm
rate on in-distribution inputs stays at α (within 3 SE, over random splits); a gate from an
older card (the ten intensity statistics) keeps working."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from geosr.core import Image
from geosr.degrade import degrade
from geosr.trust.conformal import conformal_pvalue
from geosr.trust.ood import BASIC_NAMES, FEATURE_NAMES, OODGate, input_features

N_FIT, N_TEST, N_SHIFT, LEVEL = 120, 100, 60, 0.05


def scene_lr(seed: int, fwhm_um: float = 0.4, scale: int = 4, photons: float = 300.0):
    """The benchmark's oracle scene, degraded (``scale`` 8 = the same sample, optics and HR
    grid seen through pixels twice as large as the calibration's)."""
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.random((256, 256)), 4)
    gt = 0.5 + 1.5 * (field - field.min()) / (field.max() - field.min())
    for _ in range(6):
        gt[rng.integers(10, 246), 10:246] += 0.8
    lr = degrade(Image(gt, "YX", spacing=(0.1, 0.1)), scale=scale, fwhm_um=fwhm_um,
                 photons=photons, read_noise=0.01, seed=seed + 1)
    return np.asarray(lr.numpy(), np.float64)


def auroc(id_scores, ood_scores) -> float:
    a, b = np.asarray(id_scores), np.asarray(ood_scores)
    return float((b[:, None] > a[None, :]).mean() + 0.5 * (b[:, None] == a[None, :]).mean())


@pytest.fixture(scope="module")
def features():
    ident = np.stack([input_features(scene_lr(s)) for s in range(N_FIT + N_TEST)])
    shifts = {"PSF x1.5": dict(fwhm_um=0.6), "pixel size x2": dict(scale=8)}
    shifted = {k: np.stack([input_features(scene_lr(90_000 + s, **kw)) for s in range(N_SHIFT)])
               for k, kw in shifts.items()}
    return ident, shifted


def test_gate_sees_acquisition_shifts(features):
    ident, shifted = features
    gate = OODGate.fit(None, features=ident[:N_FIT], alpha=LEVEL)
    id_scores = gate.score_features(ident[N_FIT:])
    old = OODGate.fit(None, features=ident[:N_FIT, :10], alpha=LEVEL, names=BASIC_NAMES)
    for name, phi in shifted.items():
        assert auroc(id_scores, gate.score_features(phi)) >= 0.9, name   # measured 0.94 / 1.0
    # the ten intensity statistics alone barely see the wider PSF (measured 0.76)
    psf_old = auroc(old.score_features(ident[N_FIT:, :10]),
                    old.score_features(shifted["PSF x1.5"][:, :10]))
    assert psf_old < 0.85


def test_false_alarm_rate_at_alpha_over_random_splits(features):
    ident, _ = features
    rng = np.random.default_rng(0)
    rates = []
    for seed in range(100):
        order = rng.permutation(len(ident))
        g = OODGate.fit(None, features=ident[order[:N_FIT]], alpha=LEVEL, seed=seed)
        p = conformal_pvalue(g.calibration_scores, g.score_features(ident[order[N_FIT:]]))
        rates.append(np.mean(p <= LEVEL))
    rates = np.array(rates)
    assert rates.mean() <= LEVEL + 3 * rates.std(ddof=1) / np.sqrt(len(rates))
    assert rates.mean() > LEVEL / 5        # the gate does flag at its level


def test_gate_from_an_older_card_uses_its_own_statistics():
    rng = np.random.default_rng(1)
    ids = [rng.normal(10, 1, (32, 32)) for _ in range(20)]
    old = OODGate.fit(ids, alpha=0.1, names=BASIC_NAMES)
    restored = OODGate.from_dict(old.to_dict())
    assert len(restored.center) == 10 and 0 < restored.pvalue(ids[0]) <= 1
    assert input_features(ids[0]).size == len(FEATURE_NAMES) == 18
    # 3D works too
    assert np.all(np.isfinite(input_features(rng.normal(5, 1, (6, 16, 16)))))
