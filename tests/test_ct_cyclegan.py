"""The physics-informed CycleGAN on CT-degraded unpaired phantoms uses the CT model's linear
equivalent (the preset's system blur) as its fixed backward operator (issue 17)."""

from __future__ import annotations

import json

import pytest

from geosr.degrade.ct_presets import get_preset
from geosr.train import train


def test_physics_cyclegan_takes_the_ct_system_blur(tmp_path):
    cfg = {
        "seed": 0, "scale": 4, "algorithm": "cyclegan", "cyclegan": {"backward": "physics"},
        "data": {"source": "unpaired_phantom", "kind": "cortical", "size_um": 486.0,
                 "spacing_um": 15.175, "bright": False, "hr_seeds": [0], "lr_seeds": [50],
                 "val_seeds": [100],
                 "degradation": {"modality": "ct", "variants": 1,
                                 "ct": {"preset": "xtremect2", "n_angles": 30,
                                        "intensity_range": [0.15, 0.85]}}},
        "model": {"name": "unet_pix2pix", "arguments": {"ngf": 4, "depth": 2}},
        "loss": "l1", "patch": {"size": 16},
        "adversarial": {"ndf": 4, "receptive_field": 16, "pool_size": 2},
        "train": {"steps": 2, "batch_size": 2, "checkpoint_every": 2, "threads": 1,
                  "device": "cpu"},
        "validation": {"every": 2, "patience": None},
        "logging": {"every": 1, "progress": False},
    }
    train(cfg, out=tmp_path / "run")
    state = sorted((tmp_path / "run" / "checkpoints").glob("step-*"))[-1] / "state.json"
    forward = json.loads(state.read_text())["extra"]["forward"]
    assert forward["kind"] == "physics"
    assert forward["fwhm_um"] == pytest.approx(get_preset("xtremect2").detector_fwhm_um)
