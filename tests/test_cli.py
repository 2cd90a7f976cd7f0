"""The command line: help on every command, one-line errors with exit status 2 and no partial
output, and each command end to end on small inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from geosr.cli.main import main
from geosr.core import Image

COMMANDS = ["info", "phantom", "degrade", "downscale", "upscale", "demo"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "geosr", *args], capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    assert main([command, "--help"]) == 0
    assert "Usage" in capsys.readouterr().out


def _write_tiff(path, shape=(64, 64), spacing=(0.1, 0.1), dtype=np.float32, seed=0):
    from geosr.io import save

    data = np.random.default_rng(seed).random(shape).astype(dtype)
    return save(Image(data, "YX" if len(shape) == 2 else "ZYX", spacing=spacing), path)


def test_info_on_truncated_tiff_prints_one_line_and_exits_2(tmp_path):
    good = _write_tiff(tmp_path / "good.tif", shape=(256, 256))
    bad = tmp_path / "truncated.tif"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    result = run_cli("info", str(bad))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "truncated.tif" in lines[0] and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_info_prints_shape_axes_spacing_and_range(tmp_path, capsys):
    path = _write_tiff(tmp_path / "v.tif", shape=(4, 32, 48), spacing=(0.5, 0.1, 0.1),
                       dtype=np.uint16)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "(4, 32, 48)" in out and "ZYX" in out and "uint16" in out
    assert "0.5 x 0.1 x 0.1 um" in out and "range:   0 .. 0" in out


@pytest.mark.parametrize("args, fragment", [
    (["info", "does-not-exist.tif"], "not found"),
    (["degrade", "{good}", "{out}", "--scale", "3"], "crop"),
    (["upscale", "{good}", "{out}", "--scale", "2", "--method", "sinc"], "sinc"),
    (["phantom", "dentin", "--dims", "4", "--out", "{out}"], "--dims"),
    (["degrade", "{good}", "{out}", "--scale", "2", "--na", "1.6", "--wavelength-nm", "500"],
     "na"),
])
def test_bad_input_exits_2_without_traceback_or_output(tmp_path, args, fragment):
    good = _write_tiff(tmp_path / "good.tif", shape=(64, 64))
    out = tmp_path / "out.tif"
    args = [a.format(good=good, out=out) for a in args]
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert fragment.lower() in result.stderr.lower()
    assert not out.exists()
    assert sorted(os.listdir(tmp_path)) == ["good.tif"]


def test_nan_input_is_refused(tmp_path):
    from geosr.io import save

    data = np.ones((32, 32), np.float32)
    data[3, 4] = np.nan
    path = save(Image(data, "YX"), tmp_path / "nan.tif")
    result = run_cli("degrade", str(path), str(tmp_path / "o.tif"), "--scale", "2")
    assert result.returncode == 2 and "nan" in result.stderr.lower()
    assert not (tmp_path / "o.tif").exists()


def test_phantom_degrade_upscale_downscale_chain(tmp_path, capsys):
    from geosr.io import load

    out = tmp_path / "ph"
    assert main(["phantom", "dentin", "--dims", "2", "--size-um", "12.8", "--spacing-um",
                 "0.1", "--seed", "3", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["graph.json", "image.tif", "labels.tif",
                                                     "mask.tif", "params.json"]
    image = load(out / "image.tif")
    assert image.shape == (128, 128) and image.spacing == pytest.approx((0.1, 0.1))
    graph = json.loads((out / "graph.json").read_text())
    assert graph["nodes"] and graph["edges"]

    lr = tmp_path / "lr.tif"
    assert main(["degrade", str(out / "image.tif"), str(lr), "--scale", "4", "--fwhm-um", "0.3",
                 "--photons", "100", "--seed", "1"]) == 0
    low = load(lr)
    assert low.shape == (32, 32) and low.spacing == pytest.approx((0.4, 0.4))
    params = json.loads((tmp_path / "lr.tif.params.json").read_text())
    assert params["seed"] == 1 and "steps" in params

    up = tmp_path / "up.tif"
    assert main(["upscale", str(lr), str(up), "--scale", "4", "--method", "lanczos"]) == 0
    upscaled = load(up)
    assert upscaled.shape == (128, 128) and upscaled.spacing == pytest.approx((0.1, 0.1))

    down = tmp_path / "down.tif"
    assert main(["downscale", str(up), str(down), "--scale", "4"]) == 0
    assert load(down).shape == (32, 32)


def test_folder_in_folder_out(tmp_path):
    from geosr.io import load

    src = tmp_path / "in"
    for i in range(3):
        _write_tiff(src / f"img{i}.tif", shape=(32, 32), seed=i)
    dst = tmp_path / "out"
    assert main(["upscale", str(src), str(dst), "--scale", "2", "--method", "nearest"]) == 0
    assert sorted(p.name for p in dst.iterdir()) == ["img0.tif", "img1.tif", "img2.tif"]
    assert load(dst / "img1.tif").shape == (64, 64)
