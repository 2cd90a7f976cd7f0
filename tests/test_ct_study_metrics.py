"""The cortical-porosity study's pore metrics (benchmarks/ct_cortical.py) on analytic cases."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def study():
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("ct_cortical_study", BENCH / "ct_cortical.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pore_parts_and_dice_on_squares(study):
    truth = np.zeros((100, 100), bool)
    truth[10:30, 10:30] = True            # 400 px, detected below
    truth[60:70, 60:70] = True            # 100 px, missed
    pores = np.zeros_like(truth)
    pores[10:30, 15:35] = True            # 300 px right, 100 invented
    pores[80:90, 10:20] = True            # a spurious 100-px pore
    s = study.pore_stats(pores, truth, pixel_um=10.0)
    assert s["invented"] == pytest.approx(200 / 1e4)
    assert s["missed"] == pytest.approx(200 / 1e4)   # 100 of the first square + the second
    assert s["pixel_error"] == pytest.approx(400 / 1e4)
    assert s["dice"] == pytest.approx(2 * 300 / (2 * 300 + 200 + 200))
    assert s["ct_po"] - truth.mean() == pytest.approx(s["invented"] - s["missed"])
    assert s["detected"] == [True, False]
    assert s["spurious_per_mm2"] == pytest.approx(1 / 1.0)   # 1 pore in 1 mm²


def test_perfect_segmentation(study):
    truth = np.zeros((40, 40), bool)
    truth[5:15, 5:15] = True
    s = study.pore_stats(truth.copy(), truth, pixel_um=5.0)
    assert (s["pixel_error"], s["dice"], s["invented"], s["missed"]) == (0.0, 1.0, 0.0, 0.0)


def test_old_results_are_keyed_by_acquisition(study):
    old = {"models": {"sr_ct": [{"seed": 0}], "sr_image": []},
           "noise_sd": {"train_i0_range": [0.1, 0.02], "test_doses": {"2000": 0.09}}}
    new = study.upgrade(old)
    assert new["models"]["xtremect2"]["sr_ct"] == [{"seed": 0}]
    assert new["noise_sd"]["xtremect2"]["test_doses"]["2000"] == 0.09
    assert study.upgrade(new) == new


def test_d50_is_the_edge_above_which_every_bin_is_detected(study):
    rows = [{"bin_um": [lo, hi], "detected": d} for lo, hi, d in
            [(0, 40, 0.0), (40, 60, 0.6), (60, 80, 0.4), (80, 100, 0.9), (100, 150, None),
             (150, 400, 1.0)]]
    assert study.d50(rows) == 80
