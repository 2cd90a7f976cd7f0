"""Zero-shot SR: trained on one LR image's own downscaled copies; the loss goes down, the
image is super-resolved into sr.tif, and the model folder runs in `geosr predict`."""

from __future__ import annotations

import csv

import pytest

from geosr.core.errors import ConfigError
from geosr.train import parse_config, train


def test_zssr_trains_on_one_image_and_predicts(tmp_path):
    from typer.testing import CliRunner

    from geosr.cli.main import app
    from geosr.degrade import degrade
    from geosr.io import load, save
    from geosr.phantoms import phantom

    hr = phantom("dentin", dims=2, size_um=12.8, spacing_um=0.1, seed=4).image
    save(degrade(hr, scale=2, seed=0), tmp_path / "lr.tif")            # 64 x 64, 0.2 um
    cfg = {"seed": 0, "scale": 2, "algorithm": "zssr",
           "data": {"source": "single", "image": str(tmp_path / "lr.tif"), "pyramid": 2,
                    "degradation": {"variants": 2}},
           "model": {"name": "care", "arguments": {"features": 8, "depth": 1,
                                                   "upsample": "cubic", "residual": True}},
           "zssr": {"noise": 0.01}, "patch": {"size": 16},
           "train": {"steps": 40, "batch_size": 8, "lr": 2e-3, "threads": 1, "device": "cpu",
                     "checkpoint_every": 40},
           "validation": {"every": 20, "patience": None},
           "logging": {"every": 5, "progress": False}, "out": str(tmp_path / "run")}
    model = train(cfg)
    with open(tmp_path / "run" / "log.csv") as fh:
        values = [float(r["loss"]) for r in csv.DictReader(fh) if r["loss"]]
    assert values[-1] < 0.7 * values[0]
    sr = load(tmp_path / "run" / "sr.tif")
    assert sr.shape == (128, 128) and abs(sr.spacing[0] - 0.1) < 1e-9
    result = CliRunner().invoke(app, ["predict", str(tmp_path / "lr.tif"), "--model", str(model),
                                      "--out", str(tmp_path / "cli.tif"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert load(tmp_path / "cli.tif").shape == (128, 128)


def test_zssr_needs_a_single_image_source():
    with pytest.raises(ConfigError, match="source: single"):
        parse_config({"algorithm": "zssr", "data": {"source": "phantom"}})
