"""The cortical-porosity study's pore metrics (benchmarks/ct_cortical.py) on analytic cases."""

from __future__ import annotations

import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def study(bench):
    return bench("ct_cortical")


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


def test_checkpoint_rule_is_final_weights_for_both_arms(study, tmp_path):
    cfgs = [study.training_config("xtremect2", arm, 0, tmp_path, ["seed5-z5"], 1500,
                                  (0.09, 0.02), None, 1, tmp_path / arm)
            for arm in ("sr_ct", "sr_image")]
    for cfg in cfgs:
        assert cfg["validation"]["keep"] == "last" and cfg["validation"]["patience"] is None
        assert cfg["validation"]["every"] == 375 and cfg["train"]["schedule"] == "cosine"
        assert cfg["data"]["split"] == {"by": "image", "names": ["seed5-z5"]}
    assert cfgs[0]["data"]["degradation"]["modality"] == "ct"
    assert "modality" not in cfgs[1]["data"]["degradation"]
    assert set(study.VAL_SEEDS).isdisjoint(study.TRAIN_SEEDS) and len(study.VAL_SEEDS) == 3
    from geosr.train.config import parse_config
    assert parse_config(cfgs[0]).validation.keep == "last"   # valid field names


def test_validation_record_reports_the_kept_step(study, tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps(
        {"steps_done": 1500, "best_step": 750,
         "val_psnr_norm_db": {"bicubic": 12.8, "first": 12.8, "best": 13.7, "last": 13.6}}))
    rec = study.validation_record(tmp_path)
    assert (rec["kept_step"], rec["best_step"]) == (1500, 750)
    assert rec["val_psnr_norm_db"]["last"] == 13.6


def test_previous_comparisons_keep_the_replaced_numbers(study, tmp_path):
    def per_image(psnrs):
        return [{"model_seed": s, "psnr_db": p, "ct_po": 0.03, "true_ct_po": 0.05}
                for s, p in enumerate(psnrs)]
    cond = {"methods": {"sr_ct": {"per_image": per_image([20.0, 21.0, 22.0])},
                        "sr_image": {"per_image": per_image([19.0, 21.5, 21.0])}}}
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"commit": "abc", "val_names": ["seed5-z5"],
                                "results": {"x_i0_2000": cond}}))
    before = study.previous_comparisons(path)
    d = before["comparisons"]["x_i0_2000"]["psnr_db_diff"]
    assert d["mean"] == pytest.approx(0.5) and d["ct_better_seeds"] == 2 and d["n"] == 3
    assert d["se"] == pytest.approx(np.std([1.0, -0.5, 1.0], ddof=1) / np.sqrt(3))
    assert before["checkpoint_rule"]["keep"] == "best" and before["commit"] == "abc"
    assert study.previous_comparisons(tmp_path / "missing.json") is None
