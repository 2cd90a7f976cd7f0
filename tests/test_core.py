"""The image type, errors, atomic writing and seeding."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from geosr.core import (ConfigError, GeosrError, Image, InputError, atomic_path, normalize_unit,
                        read_json, rng, write_json)


def test_image_axes_spacing_and_derived_sizes():
    img = Image(np.zeros((2, 4, 8, 10), np.float32), "czyx", spacing=(0.5, 0.1, 0.2))
    assert img.axes == "CZYX"
    assert img.dims == 3 and img.channels == 2 and img.has_channels
    assert img.spatial_shape == (4, 8, 10)
    assert img.spacing == (0.5, 0.1, 0.2) and img.origin == (0.0, 0.0, 0.0)
    assert img.extent_um == pytest.approx((2.0, 0.8, 2.0))


def test_unit_normalisation_and_conversion():
    assert normalize_unit("µm") == normalize_unit("micron") == normalize_unit("\u03bcm") == "um"
    img = Image(np.zeros((4, 4)), "YX", spacing=(100.0, 50.0), unit="nanometer")
    assert img.unit == "nm"
    assert img.spacing_um == pytest.approx((0.1, 0.05))
    in_um = img.in_um()
    assert in_um.unit == "um" and in_um.spacing == pytest.approx((0.1, 0.05))
    with pytest.raises(InputError, match="unit"):
        Image(np.zeros((4, 4)), "YX", unit="parsec")


@pytest.mark.parametrize("axes, shape", [("ZYX", (4, 4)), ("XY", (4, 4)), ("YX", (4, 4, 4))])
def test_wrong_axes_are_refused_with_the_field_named(axes, shape):
    with pytest.raises(InputError) as err:
        Image(np.zeros(shape), axes)
    assert "axes" in str(err.value)


@pytest.mark.parametrize("spacing", [(0.0, 1.0), (-1.0, 1.0), (float("nan"), 1.0), (1.0,)])
def test_bad_spacing_is_refused(spacing):
    with pytest.raises(InputError, match="spacing"):
        Image(np.zeros((4, 4)), "YX", spacing=spacing)


def test_empty_array_and_nan_values():
    with pytest.raises(InputError, match="empty"):
        Image(np.zeros((0, 4)), "YX")
    data = np.zeros((3, 3), np.float32)
    data[1, 2] = np.nan
    with pytest.raises(InputError, match=r"1 value\(s\) are NaN.*\(1, 2\)"):
        Image(data, "YX").check_finite()


def test_from_array_guesses_axes_and_broadcasts_spacing():
    img = Image.from_array(np.zeros((5, 6, 7)), spacing=0.25)
    assert img.axes == "ZYX" and img.spacing == (0.25, 0.25, 0.25)
    with pytest.raises(InputError, match="axes"):
        Image.from_array(np.zeros((2, 3, 4, 5)))


def test_error_message_names_where_and_hint():
    err = ConfigError("must be 2 or 3, got 4", where="dims", hint="use --dims 2")
    assert str(err) == "dims: must be 2 or 3, got 4; use --dims 2"
    assert isinstance(err, GeosrError) and isinstance(err, ValueError)


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.tif"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("crash while writing")
    assert not target.exists() and os.listdir(tmp_path) == []
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"complete")
    assert target.read_bytes() == b"complete" and os.listdir(tmp_path) == ["out.tif"]


def test_atomic_directory_replaces_whole_folder(tmp_path):
    target = tmp_path / "run"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_path(target, is_dir=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(os.listdir(target)) == ["new.txt"]
    with pytest.raises(KeyError):
        with atomic_path(target, is_dir=True) as tmp:
            (tmp / "half.txt").write_text("half")
            raise KeyError("boom")
    assert sorted(os.listdir(target)) == ["new.txt"]
    assert sorted(os.listdir(tmp_path)) == ["run"]


def test_json_helpers_convert_numpy_and_report_bad_files(tmp_path):
    path = write_json(tmp_path / "p.json", {"a": np.float32(1.5), "b": np.arange(3),
                                            "c": (1, 2), "d": float("inf")})
    assert json.loads(path.read_text()) == {"a": 1.5, "b": [0, 1, 2], "c": [1, 2], "d": "inf"}
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match="bad.json"):
        read_json(tmp_path / "bad.json")
    with pytest.raises(InputError, match="not found"):
        read_json(tmp_path / "missing.json")


def test_rng_is_deterministic_and_passes_generators_through():
    assert np.array_equal(rng(7).random(5), rng(7).random(5))
    gen = np.random.default_rng(1)
    assert rng(gen) is gen


def test_import_geosr_is_light():
    import subprocess
    import sys

    code = "import sys, geosr; print(int('torch' in sys.modules), int('skimage' in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["0", "0"]


def test_front_door_functions_survive_their_subpackage_being_imported():
    import subprocess
    import sys

    code = ("import numpy as np, geosr.degrade, geosr.predict, geosr; "
            "low = geosr.degrade(np.ones((8, 8), np.float32), scale=2); "
            "print(low.shape, callable(geosr.predict), geosr.degrade.degrade is not None)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "(4, 4) True True"


def test_assess_front_door_is_callable_after_import_of_the_stage():
    import subprocess
    import sys

    code = ("import numpy as np, geosr.assess, geosr; m = np.zeros((32, 32), np.uint8); "
            "m[8:24, 10:12] = 1; r = geosr.assess(m, m, segmentation={'method': 'mask'}, "
            "metrics=['porosity']); print(type(r).__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()
