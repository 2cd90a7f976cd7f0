"""``geosr assess``: the acceptance case (a ×4-degraded, bicubic-upscaled dentin phantom
against its truth), outputs (CSV, component table, JSON, overlays), options and bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from geosr.cli.assess import assess as assess_command
from geosr.core.errors import ConfigError, InputError
from geosr.core.image import Image


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command(name="assess")(assess_command)

    @app.callback()
    def _root() -> None:      # keep "assess" as a sub-command, as in geosr's CLI
        """geosr (test)."""

    return app


def _run(*args: str):
    return CliRunner().invoke(_app(), ["assess", *map(str, args)])


@pytest.fixture(scope="module")
def dentin_pair(tmp_path_factory):
    """HR dentin phantom (truth), and its x4-degraded, bicubic-upscaled version (prediction)."""
    from geosr.degrade import degrade
    from geosr.io import save
    from geosr.phantoms import phantom
    from geosr.resample import upscale

    folder = tmp_path_factory.mktemp("dentin")
    ph = phantom("dentin", dims=2, size_um=32, spacing_um=0.1, seed=1)
    files = ph.save(folder / "truth")
    sr = upscale(degrade(ph.image, scale=4, seed=0), 4, method="bicubic")
    save(sr, folder / "dentin_x4_bicubic.tif")
    return folder, files, sr, ph


def test_acceptance_bicubic_x4_dentin(dentin_pair, tmp_path):
    folder, files, sr, ph = dentin_pair
    out, js, ov = tmp_path / "net.csv", tmp_path / "net.json", tmp_path / "overlays"
    r = _run(folder / "dentin_x4_bicubic.tif", files["image"], "--out", out, "--json", js,
             "--overlays", ov, "--graph", files["graph"])
    assert r.exit_code == 0, r.output
    text = r.output
    for metric in ("components", "object_F1", "beta0", "beta1", "betti_error_0", "clDice",
                   "skeleton_recall", "length_density", "graph_edges_recovered"):
        assert metric in text, metric
    assert "otsu of the truth" in text and "overlays: 1 files" in text
    rows = [r for r in csv.reader(line for line in out.read_text().splitlines()
                                  if not line.startswith("#"))]
    header, body = rows[0], rows[1:]
    table = {row[header.index("metric")]: dict(zip(header, row)) for row in body}
    # the x4 bicubic loses thin branches: errors are visible and of the expected sign
    assert float(table["length_density"]["error"]) < 0
    assert float(table["skeleton_recall"]["prediction"]) < 1.0
    assert float(table["clDice"]["prediction"]) < 1.0
    assert float(table["components"]["prediction"]) != float(table["components"]["truth"]) \
        or float(table["betti_error_1"]["prediction"]) > 0
    assert table["length_density"]["unit"] == "um^-1"
    comp = out.with_name("net_components.csv")
    assert comp.exists() and "status" in comp.read_text().splitlines()[0]
    data = json.loads(js.read_text())
    seg = data["images"][0]["segmentation"]
    assert seg["method"] == "otsu" and seg["threshold"] == pytest.approx(
        data["images"][0]["segmentation"]["threshold"])
    # overlay: RGB PNG with missed (orange) and invented (blue) pixels
    from PIL import Image as PILImage

    png = ov / "dentin_x4_bicubic_overlay.png"
    rgb = np.asarray(PILImage.open(png))
    assert rgb.shape == ph.image.shape + (3,)
    missed = np.all(rgb == (255, 140, 0), axis=-1)
    invented = np.all(rgb == (0, 150, 255), axis=-1)
    assert missed.sum() > 0 and invented.sum() > 0


def test_library_front_door_returns_the_same(dentin_pair):
    from geosr.assess.network import assess

    folder, files, sr, ph = dentin_pair
    res = assess(folder / "dentin_x4_bicubic.tif", files["image"],
                 metrics="components,topology,cldice,skeleton")
    res2 = assess(sr, ph.image, metrics="components,topology,cldice,skeleton")
    for metric in ("components", "beta1", "clDice", "length_density"):
        assert res.value(metric) == pytest.approx(res2.value(metric))


def test_options_dark_fixed_min_size_and_sweep(tmp_path):
    from geosr.io import save

    img = np.full((48, 48), 200, np.uint8)
    img[20:24, :] = 20                # a dark canal
    img[5, 5] = 20                    # a one-pixel speck
    save(Image(img, "YX", spacing=(2.0, 2.0)), tmp_path / "a.tif")
    r = _run(tmp_path / "a.tif", tmp_path / "a.tif", "--segment", "fixed", "--threshold", 100,
             "--dark", "--min-size-um", 8, "--metrics", "porosity,components", "--sweep", 3)
    assert r.exit_code == 0, r.output
    assert "threshold sweep" in r.output
    line = next(l for l in r.output.splitlines() if l.startswith("│ porosity "))
    assert "0.08333" in line                   # 192 / 2304, speck removed


def test_single_image_without_truth(tmp_path):
    from geosr.io import save

    img = np.zeros((32, 32), np.uint8)
    img[10:20, 5:25] = 255
    save(Image(img, "YX", spacing=(0.5, 0.5)), tmp_path / "m.tif")
    r = _run(tmp_path / "m.tif", "--segment", "mask", "--metrics", "porosity,topology")
    assert r.exit_code == 0, r.output
    assert "error" not in r.output.splitlines()[7] and "beta0" in r.output


def test_bad_input_is_explained(tmp_path):
    from geosr.io import save

    save(Image(np.zeros((64, 64), np.float32), "YX", spacing=(0.1, 0.1)), tmp_path / "p.tif")
    save(Image(np.zeros((16, 16), np.float32), "YX", spacing=(0.4, 0.4)), tmp_path / "g.tif")
    r = _run(tmp_path / "p.tif", tmp_path / "g.tif")
    assert isinstance(r.exception, InputError)
    assert "grid mismatch" in str(r.exception) and "downscale(pred, 4)" in str(r.exception)
    r = _run(tmp_path / "p.tif", tmp_path / "p.tif", "--segment", "fixed")
    assert isinstance(r.exception, ConfigError) and "threshold" in str(r.exception)
    r = _run(tmp_path / "p.tif", tmp_path / "p.tif", "--metrics", "connectivity")
    assert isinstance(r.exception, InputError) and "volumes" in str(r.exception)
    r = _run(tmp_path / "p.tif", tmp_path / "p.tif", "--metrics", "nonsense")
    assert isinstance(r.exception, ConfigError) and "--metrics" in str(r.exception)


def test_3d_overlay_stack(tmp_path):
    from geosr.assess.network import assess

    gt = np.zeros((12, 24, 24), np.float32)
    gt[:, 10:13, 10:13] = 1.0
    gt[0, 0, 0] = 0.5
    pred = gt.copy()
    pred[6] = 0.0
    res = assess(Image(pred, "ZYX", spacing=(0.5, 0.2, 0.2)),
                 Image(gt, "ZYX", spacing=(0.5, 0.2, 0.2)), overlays_dir=tmp_path,
                 metrics="porosity,connectivity")
    names = sorted(p.name for p in res.overlays)
    assert names == ["image_overlay.tif", "image_overlay_zproj.png"]
    from geosr.io import load

    stack = load(tmp_path / "image_overlay.tif")
    assert stack.shape == (3, 12, 24, 24) and stack.spacing == pytest.approx((0.5, 0.2, 0.2))
    assert res.value("through_preserved") == 0.0


def test_subprocess_entry(tmp_path):
    """The command runs in a fresh interpreter (python -c) and exits 0."""
    from geosr.io import save

    img = np.zeros((40, 40), np.float32)
    img[18:22, :] = 1.0
    img[0, 0] = 0.5
    save(Image(img, "YX", spacing=(0.5, 0.5)), tmp_path / "x_SR.tif")
    save(Image(img, "YX", spacing=(0.5, 0.5)), tmp_path / "x_HR.tif")
    code = ("import typer; from geosr.cli.assess import assess; app = typer.Typer(); "
            "app.command()(assess); app()")
    out = tmp_path / "o.csv"
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "x_SR.tif"),
                           str(tmp_path / "x_HR.tif"), "--metrics", "porosity,components",
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "porosity" in proc.stdout and out.exists()
    assert Path(out).read_text().count("\nx,") == 13      # 3 porosity + 10 component rows
