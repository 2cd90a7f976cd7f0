"""Out-of-core prediction into OME-Zarr 0.5 (issue 14, item 1): equal to the in-memory
prediction, OME metadata (scale/translation per pyramid level), output types, lazy inputs
(compressed TIFF, Zarr, folder of slices) and kill-and-resume with identical bytes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from geosr.core import Image
from geosr.core.errors import ConfigError
from geosr.io import load, save
from geosr.models import build_model, load_model, save_model
from geosr.predict import predict
from geosr.predict.blocks import BlockAxis, choose_block
from geosr.predict.outofcore import predict_to_zarr


@pytest.fixture(autouse=True)
def _one_thread_native():
    """Native CPU kernels on one thread: tiny shapes run fast, and bytes are reproducible
    between this process and the subprocess of the kill test."""
    from geosr.models.summary import native_kernels

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with native_kernels():
        yield
    torch.set_num_threads(threads)


def _model(tmp_path, name, dims, **kw):
    torch.manual_seed(0)
    return load_model(save_model(tmp_path / f"{name}{dims}", build_model(name, dims=dims,
                                                                          scale=2, **kw)))


def _volume(shape, seed=0):
    data = (np.random.default_rng(seed).random(shape) * 1000 + 50).astype(np.float32)
    axes = "YX" if len(shape) == 2 else "ZYX"
    return Image(data, axes, spacing=(0.5,) * len(shape), origin=(1.0,) * len(shape))


def _rel(a, b) -> float:
    return float(np.abs(a - b).max() / (b.max() - b.min()))


def test_block_plan_covers_every_pixel_once():
    for n, block, margin, align in [(100, 32, 8, 1), (37, 8, 12, 2), (5, 8, 4, 4)]:
        plan = BlockAxis(n, block, margin, align, 3)
        covered = np.zeros(n * 3, int)
        for i in range(plan.count):
            start, stop, pad = plan.window(i)
            assert start % align == 0 and (stop - start + pad) % align == 0
            src, dst = plan.keep(i)
            assert src.stop - src.start == dst.stop - dst.start
            assert src.stop <= (stop - start + pad) * 3
            covered[dst] += 1
            inner = (dst.start // 3 - start, stop - dst.stop // 3)   # context each side
            assert inner[0] >= min(margin, dst.start // 3)
            assert inner[1] >= min(margin, n - dst.stop // 3)
        assert (covered == 1).all()


def test_block_size_follows_the_budget():
    axes = choose_block((500, 500, 500), halo=(8, 8, 8), align=(1, 1, 1), scale=(2, 2, 2),
                        budget_bytes=256 * 2**20, bytes_per_window_px=4000, max_out_chunk=128)
    window = (axes[0].block + 2 * axes[0].margin) ** 3 * 4000
    bigger = (axes[0].block + 1 + 2 * axes[0].margin) ** 3 * 4000
    assert window <= 256 * 2**20 < bigger
    with pytest.raises(ConfigError, match="needs about .* MB"):
        choose_block((500, 500), halo=(30, 30), align=(1, 1), scale=(2, 2),
                     budget_bytes=1e5, bytes_per_window_px=4000, max_out_chunk=1024)


@pytest.mark.parametrize("name, dims, kw, shape, block", [
    ("fsrcnn", 3, {"d": 8, "s": 4, "m": 1}, (19, 23, 26), 8),
    ("care", 2, {"features": 4}, (50, 37), 8),          # alignment 2, odd sizes
    ("espcn", 2, {}, (61, 45), 16),
])
def test_zarr_output_equals_in_memory_prediction(tmp_path, name, dims, kw, shape, block):
    model = _model(tmp_path, name, dims, **kw)
    image = _volume(shape)
    save(image, tmp_path / "in.tif")
    ref = predict(image, model, device="cpu")
    result = predict_to_zarr(tmp_path / "in.tif", tmp_path / "sr.ome.zarr", model, block=block,
                             device="cpu")
    assert result["status"] == "written" and result["chunks"] > 4
    out = load(tmp_path / "sr.ome.zarr")
    assert out.shape == ref.shape and out.axes == ref.axes
    assert _rel(out.data, ref.data) < 1e-5
    assert out.spacing == ref.spacing == (0.25,) * dims
    assert out.origin == ref.origin == (0.875,) * dims          # 1 − (2−1)·0.5/4
    record = out.metadata["prediction"]
    assert record["model_sha256"] == model.sha256 and record["out_of_core"]["exact"]
    assert record["normalization"]["fitted_on"] == "whole input"
    again = predict_to_zarr(tmp_path / "in.tif", tmp_path / "sr.ome.zarr", model,
                            block=block, device="cpu")
    assert again["status"] == "skipped"


def test_ome_metadata_pyramid_and_integer_output(tmp_path):
    import zarr

    model = _model(tmp_path, "fsrcnn", 2, d=4, s=2, m=1)
    image = _volume((40, 30))
    save(image, tmp_path / "in.tif")
    predict_to_zarr(tmp_path / "in.tif", tmp_path / "f.ome.zarr", model, block=16,
                    device="cpu", pyramid=2)
    group = zarr.open_group(str(tmp_path / "f.ome.zarr"), mode="r")
    ome = group.attrs["ome"]
    assert ome["version"] == "0.5"
    datasets = ome["multiscales"][0]["datasets"]
    assert [d["path"] for d in datasets] == ["0", "1", "2"]
    assert datasets[2]["coordinateTransformations"] == [
        {"type": "scale", "scale": [1.0, 1.0]},
        {"type": "translation", "translation": [0.875 + 3 * 0.25 / 2] * 2}]
    assert ome["multiscales"][0]["axes"][0] == {"name": "y", "type": "space",
                                                "unit": "micrometer"}
    level0, level1 = group["0"][...], group["1"][...]
    assert group["1"].shape == (40, 30) and group["2"].shape == (20, 15)
    assert level1[3, 4] == pytest.approx(level0[6:8, 8:10].mean(), rel=1e-6)
    assert not (tmp_path / ".f.ome.zarr.partial").exists()
    # uint16 with an explicit range: value = (I − 0) · 65535 / 2000, clipped
    predict_to_zarr(tmp_path / "in.tif", tmp_path / "u.ome.zarr", model, block=16,
                    device="cpu", dtype="uint16", clip=(0.0, 2000.0))
    u = load(tmp_path / "u.ome.zarr")
    assert u.dtype == np.uint16
    expected = np.clip(np.rint(level0.astype(np.float64) * 65535 / 2000), 0, 65535)
    assert np.abs(u.data.astype(np.float64) - expected).max() <= 1
    assert u.metadata["prediction"]["output_dtype"]["clip_range"] == [0.0, 2000.0]


def test_lazy_inputs_give_the_same_output(tmp_path):
    import tifffile

    from geosr.io.volumes import open_volume

    model = _model(tmp_path, "fsrcnn", 3, d=4, s=2, m=1)
    image = _volume((12, 20, 18))
    save(image, tmp_path / "in.tif")                       # zlib-compressed ImageJ TIFF
    lazy = load(tmp_path / "in.tif", lazy=True)
    assert not isinstance(lazy.data, np.ndarray) and lazy.spacing == (0.5, 0.5, 0.5)
    assert np.array_equal(np.asarray(lazy.data[3:5, 2:9, 1:4]), image.data[3:5, 2:9, 1:4])
    save(image, tmp_path / "in.zarr")
    (tmp_path / "slices").mkdir()
    for z in range(12):
        tifffile.imwrite(tmp_path / "slices" / f"s{z:04d}.tif", image.data[z],
                         compression="zlib")
    stack = open_volume(tmp_path / "slices")
    assert stack.shape == (12, 20, 18) and np.array_equal(stack.data[4], image.data[4])
    outputs = []
    for name in ("in.tif", "in.zarr", "slices"):
        predict_to_zarr(tmp_path / name, tmp_path / f"{name}.ome.zarr", model, block=8,
                        device="cpu")
        outputs.append(load(tmp_path / f"{name}.ome.zarr").data)
    assert np.array_equal(outputs[0], outputs[1]) and np.array_equal(outputs[0], outputs[2])


_CHILD = textwrap.dedent("""
    import sys, time, torch
    torch.set_num_threads(1)
    from geosr.models.summary import native_kernels
    import geosr.predict.outofcore as ooc
    original = ooc.run_block
    def slow(job, index):            # slow enough to be killed mid-run
        result = original(job, index)
        time.sleep(0.05)
        return result
    ooc.run_block = slow
    with native_kernels():
        ooc.predict_to_zarr(sys.argv[1], sys.argv[2], sys.argv[3], block=8, device="cpu")
""")


def _chunk_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted((folder / "0").rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_sigkill_then_resume_gives_identical_bytes(tmp_path):
    model = _model(tmp_path, "fsrcnn", 3, d=4, s=2, m=1)
    save(_volume((24, 24, 32)), tmp_path / "in.tif")      # 3 × 3 × 4 = 36 blocks
    out = tmp_path / "sr.ome.zarr"
    partial = tmp_path / ".sr.ome.zarr.partial"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path / "in.tif"),
                              str(out), str(model.path)],
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
    markers = partial / ".geosr-chunks"
    deadline = time.time() + 120
    while time.time() < deadline and child.poll() is None:
        if markers.is_dir() and len(list(markers.iterdir())) >= 8:
            break
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    assert not out.exists() and partial.is_dir()            # nothing under the final name
    done = len(list(markers.iterdir()))
    assert 8 <= done < 36
    resumed = predict_to_zarr(tmp_path / "in.tif", out, model.path, block=8, device="cpu")
    assert resumed["resumed"] == done and resumed["computed"] == 36 - done
    reference = predict_to_zarr(tmp_path / "in.tif", tmp_path / "ref.ome.zarr", model.path,
                                block=8, device="cpu")
    assert reference["computed"] == 36
    got, want = _chunk_bytes(out), _chunk_bytes(tmp_path / "ref.ome.zarr")
    assert sum(name.startswith("0/c/") for name in want) == 36 and got == want
    meta = json.loads((out / "zarr.json").read_text())["attributes"]
    assert "geosr_job" not in meta and not partial.exists()


def test_out_of_core_refusals(tmp_path):
    model = _model(tmp_path, "fsrcnn", 2, d=4, s=2, m=1)
    save(_volume((20, 20)), tmp_path / "in.tif")
    with pytest.raises(ConfigError, match="must be one of float32, uint16, uint8"):
        predict_to_zarr(tmp_path / "in.tif", tmp_path / "o.zarr", model, dtype="int8")
    with pytest.raises(ConfigError, match="writes OME-Zarr"):
        predict_to_zarr(tmp_path / "in.tif", tmp_path / "o.tif", model)
    with pytest.raises(ConfigError, match="cannot write in the folder /proc"):
        predict_to_zarr(tmp_path / "in.tif", "/proc/nope/o.ome.zarr", model)
    assert not (tmp_path / "o.zarr").exists()


def test_cli_predict_to_ome_zarr(tmp_path, capsys):
    from geosr.cli.main import main

    model = _model(tmp_path, "fsrcnn", 2, d=4, s=2, m=1)
    image = _volume((30, 26))
    save(image, tmp_path / "in.tif")
    args = ["predict", str(tmp_path / "in.tif"), "--model", str(model.path), "--out",
            str(tmp_path / "sr.ome.zarr"), "--device", "cpu", "--pyramid", "1",
            "--dtype", "uint16", "--clip", "0", "--clip", "1500"]
    previous = os.umask(0o022)
    try:
        assert main(args) == 0
    finally:
        os.umask(previous)
    assert "computed 1 of 1 chunks" in capsys.readouterr().out
    assert (tmp_path / "sr.ome.zarr").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "sr.ome.zarr" / "zarr.json").stat().st_mode & 0o777 == 0o644
    assert main(args + ["--trust"]) == 2
    assert "--trust maps are computed in memory" in capsys.readouterr().err
    out = load(tmp_path / "sr.ome.zarr")
    assert out.shape == (60, 52) and out.dtype == np.uint16
    assert main(args) == 0 and "skipped" in capsys.readouterr().out
    assert main(args[:-4] + ["--clip", "5", "--clip", "1", "--overwrite"]) == 2
    assert "needs LOW < HIGH" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["geosr.core.outputs", "geosr.core.cluster", "geosr.core.memory",
                                  "geosr.io.outputs", "geosr.io.volumes", "geosr.io.ome_zarr",
                                  "geosr.predict.blocks", "geosr.assess.network.chunked",
                                  "geosr.train.distributed"])
def test_module_examples_run(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_cluster_needs_a_model_path_before_any_output(tmp_path):
    """Workers load the model from its folder: an in-memory model with a cluster is refused
    before the partial output is created."""
    import dataclasses

    loaded = dataclasses.replace(_model(tmp_path, "fsrcnn", 2), path=None)
    save(_volume((32, 32)), tmp_path / "in.tif")
    with pytest.raises(ConfigError, match="folder path"):
        predict_to_zarr(tmp_path / "in.tif", tmp_path / "out.ome.zarr", loaded,
                        cluster="local:1")
    assert not [p.name for p in tmp_path.iterdir() if "out" in p.name]
