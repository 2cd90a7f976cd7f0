"""Writing outputs safely (issue 14, item 6): outputs respect the umask; output paths,
extensions, writability and sizes are checked before any computation, with a one-line error
and exit status 2."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import numpy as np
import pytest

from geosr.cli.main import main
from geosr.core import Image
from geosr.core.errors import ConfigError
from geosr.core.files import atomic_path, current_umask, write_json
from geosr.core.outputs import check_output_size, check_writable
from geosr.io import save
from geosr.io.outputs import check_output


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it after."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


@pytest.mark.parametrize("mask, file_mode, dir_mode", [(0o022, 0o644, 0o755),
                                                       (0o027, 0o640, 0o750),
                                                       (0o077, 0o600, 0o700)])
def test_atomic_outputs_follow_the_umask(tmp_path, umask, mask, file_mode, dir_mode):
    umask(mask)
    assert current_umask() == mask
    write_json(tmp_path / "a.json", {"x": 1})
    save(np.zeros((4, 4), np.float32), tmp_path / "a.tif")
    save(np.zeros((4, 4), np.float32), tmp_path / "a.zarr")
    with atomic_path(tmp_path / "d", is_dir=True) as tmp:
        (tmp / "inner.txt").write_text("x")
    assert _mode(tmp_path / "a.json") == file_mode
    assert _mode(tmp_path / "a.tif") == file_mode
    assert _mode(tmp_path / "a.zarr") == dir_mode
    assert _mode(tmp_path / "a.zarr" / "zarr.json") == file_mode
    assert _mode(tmp_path / "d") == dir_mode


def test_phantom_command_writes_readable_files(tmp_path, umask):
    umask(0o022)
    out = tmp_path / "DIR"
    assert main(["phantom", "dentin", "--dims", "2", "--size-um", "12.8", "--spacing-um",
                 "0.1", "--seed", "1", "--out", str(out)]) == 0
    assert _mode(out / "image.tif") == 0o644
    assert _mode(out / "params.json") == 0o644
    assert _mode(out) == 0o755


def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "geosr", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


@pytest.fixture
def small_tif(tmp_path):
    return save(Image(np.random.default_rng(0).random((32, 32)).astype(np.float32), "YX",
                      spacing=(0.1, 0.1)), tmp_path / "img.tif")


def test_upscale_into_an_unwritable_folder_is_one_line_exit_2(small_tif, tmp_path):
    result = _cli("upscale", str(small_tif), "/proc/geosr-no-such-dir/x.tif", "--scale", "2")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("geosr: error: /proc/geosr-no-such-dir/x.tif: cannot write")
    assert "Traceback" not in result.stderr + result.stdout
    assert "upscaling" not in result.stderr + result.stdout   # refused before any work


def test_impossible_size_is_refused_up_front(small_tif, tmp_path):
    out = tmp_path / "out.tif"
    result = _cli("upscale", str(small_tif), str(out), "--scale", "100000")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "more than this machine's memory" in lines[0], result.stderr
    assert "37.3 TiB (shape 3200000x3200000, float32)" in lines[0]   # 4·(3.2e6)² B
    assert not out.exists()


def test_wrong_extension_refused_before_any_work(small_tif, tmp_path, capsys):
    assert main(["upscale", str(small_tif), str(tmp_path / "out.jpg"), "--scale", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot write '.jpg' files" in err[0]
    assert main(["degrade", str(small_tif), str(tmp_path / "lr.bmp"), "--scale", "2"]) == 2
    assert not list(tmp_path.glob("lr*"))


def test_output_checks_name_the_problem(tmp_path, monkeypatch):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ConfigError, match="file.txt is a file, not a folder"):
        check_writable(tmp_path / "file.txt" / "out.tif")
    (tmp_path / "folder.tif").mkdir()
    with pytest.raises(ConfigError, match="a folder exists where the output file"):
        check_output(tmp_path / "folder.tif")
    assert check_output(tmp_path / "new" / "deeper" / "x.ome.zarr") == ".zarr"
    assert not (tmp_path / "new").exists()            # the check creates nothing
    assert check_output_size((100, 100), "uint16", where="x") == 20000
    import geosr.core.outputs as outputs

    class Usage:
        free = 10_000

    monkeypatch.setattr(outputs.shutil, "disk_usage", lambda path: Usage)
    with pytest.raises(ConfigError, match=r"19.5 KiB \(shape 100x100, uint16\), more than the "
                                          r"9.77 KiB free on disk"):
        check_output_size((100, 100), "uint16", where="x", folder=tmp_path)


def test_predict_refuses_bad_outputs_before_predicting(tmp_path, monkeypatch):
    import torch

    import geosr.predict.batch as batch
    from geosr.models import build_model, save_model

    torch.manual_seed(0)
    model = save_model(tmp_path / "m", build_model("fsrcnn", dims=2, scale=2, d=4, s=2, m=1))
    src = save(Image(np.ones((16, 16), np.float32), "YX"), tmp_path / "lr.tif")

    def never(*args, **kwargs):
        raise AssertionError("predict ran before the output was checked")

    monkeypatch.setattr(batch, "predict_loaded", never)
    with pytest.raises(ConfigError, match="cannot write '.jpg' files"):
        batch.predict_files(src, tmp_path / "sr.jpg", model, device="cpu")
    with pytest.raises(ConfigError, match="cannot write in the folder /proc"):
        batch.predict_files(src, "/proc/geosr-no-such-dir/sr.tif", model, device="cpu")
    import geosr.core.outputs as outputs

    monkeypatch.setattr(outputs, "physical_memory", lambda: 1000.0)   # a 1 kB machine
    with pytest.raises(ConfigError, match=r"4 KiB \(shape 1x32x32, float32\), more than this "
                                          r"machine's memory.*OUT.ome.zarr"):
        batch.predict_files(src, tmp_path / "sr.tif", model, device="cpu")
