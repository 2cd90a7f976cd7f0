"""The main job: `geosr demo` writes the images, the parameters and a self-contained report."""

from __future__ import annotations

import json
import re
import time

import pytest

from geosr.core import ConfigError
from geosr.demo import run_demo


def test_demo_writes_report_with_images_and_pixel_sizes(tmp_path):
    start = time.perf_counter()
    report = run_demo(tmp_path / "demo", scale=4, seed=0, train_steps=40, calibration_pairs=10,
                      show_progress=False)
    elapsed = time.perf_counter() - start
    assert elapsed < 240  # ~60 s alone on 2 cores; generous for a shared CI machine
    out = report.parent
    names = sorted(p.name for p in out.iterdir())
    for expected in ["lr.tif", "lr.tif.params.json", "metrics.json", "predicted_fsrcnn.tif",
                     "report.html", "run.json", "training", "truth",
                     "upscaled_bicubic.tif", "upscaled_lanczos.tif", "upscaled_linear.tif",
                     "upscaled_nearest.tif"]:
        assert expected in names
    page = report.read_text(encoding="utf-8")
    images = re.findall(r"src='data:image/png;base64,", page)
    assert len(images) >= 13  # 4 whole field + 4 zoom + 4 methods + mask
    assert "fsrcnn (trained on other phantoms)" in page and "PSNR" in page
    assert "clDice" in page and "Betti error" in page
    network = json.loads((out / "network_metrics.json").read_text())
    assert network["bicubic"]["connected components"]["truth"] >= 1
    assert 0 <= network["fsrcnn"]["clDice"]["prediction"] <= 1  # 40 steps: barely trained
    assert "pixel 0.4 µm" in page and "pixel 0.1 µm" in page
    # self-contained: no URL outside the embedded data URIs (whose base64 may spell "http")
    outside = re.sub(r"data:[a-z+/]+;base64,[A-Za-z0-9+/=]+", "", page)
    assert "http" not in outside.replace("http-equiv", "")
    assert not re.search(r"(?:src|href)\s*=\s*['\"](?!data:|#)", page)
    run = json.loads((out / "run.json").read_text())
    assert run["scale"] == 4 and run["environment"]["geosr"] and run["train_steps"] == 40
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"bicubic", "fsrcnn", "convention"}
    assert 10 < metrics["bicubic"]["psnr_db"] < 40 and 0 < metrics["fsrcnn"]["ssim"] <= 1
    from geosr.models.files import load_model

    model = load_model(out / "training" / "model")
    assert model.architecture == "fsrcnn" and model.spec["seed"] == 0
    from geosr.io import load

    low, truth = load(out / "lr.tif"), load(out / "truth" / "image.tif")
    predicted = load(out / "predicted_fsrcnn.tif")
    assert low.shape == (128, 128) and truth.shape == predicted.shape == (512, 512)
    assert predicted.spacing == pytest.approx((0.1, 0.1))
    assert low.spacing == pytest.approx((0.4, 0.4)) and truth.spacing == pytest.approx((0.1, 0.1))
    # trust evidence of the prediction: maps on their grids, a verdict, a calibration card
    trust = json.loads((out / "trust" / "trust.json").read_text())
    tiles = trust["verdict"]["tiles"]
    assert sum(tiles.values()) == (128 // 8) ** 2 and trust["verdict"]["image"] in tiles
    assert "chi2_per_pixel" in trust["consistency"] and "halfwidth_rel" in trust["intervals"]
    assert load(out / "trust" / "consistency_z.tif").spacing == pytest.approx((0.4, 0.4))
    assert (out / "training" / "model" / "calibration.json").is_file()
    assert "Trust evidence" in page and "Green never means correct" in page


def test_demo_refuses_unsupported_scale_and_writes_nothing(tmp_path):
    with pytest.raises(ConfigError, match="scale"):
        run_demo(tmp_path / "demo", scale=3, show_progress=False)
    assert not (tmp_path / "demo").exists()
