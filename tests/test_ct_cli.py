"""``geosr degrade --modality ct`` and the degrade_ct front door (issue 17)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from geosr.cli.main import main
from geosr.core import Image
from geosr.degrade.ct_degrade import degrade_ct


def _hr(path, spacing=10.25, n=64):
    from geosr.io import save

    yy, xx = np.mgrid[:n, :n]
    data = np.where(np.hypot(yy - n / 2, xx - n / 3) < 6, 0.0, 1.0).astype(np.float32)
    return save(Image(data, "YX", spacing=(spacing, spacing)), path)


def test_cli_ct_with_preset_writes_image_and_record(tmp_path, capsys):
    from geosr.io import load

    src = _hr(tmp_path / "hr.tif")
    out = tmp_path / "lr.tif"
    assert main(["degrade", str(src), str(out), "--modality", "ct", "--ct-preset", "xtremect1",
                 "--angles", "60", "--i0", "5000", "--seed", "3"]) == 0
    lr = load(out)
    assert lr.shape == (8, 8) and lr.spacing == pytest.approx((82.0, 82.0))
    record = json.loads((tmp_path / "lr.tif.params.json").read_text())
    assert record["modality"] == "ct" and record["preset"]["name"] == "xtremect1"
    assert record["steps"][0]["i0"] == 5000.0 and record["scale"] == [8, 8]
    # the recorded arguments replay the output exactly
    again = degrade_ct(load(src), **record["arguments"])
    np.testing.assert_allclose(again.numpy(), lr.numpy(), rtol=1e-6)


@pytest.mark.parametrize("args,where", [
    (["--scale", "2", "--i0", "100"], "--i0"),                      # CT option, image modality
    (["--modality", "ct", "--scale", "2", "--ct-filter", "box"], "filter"),
    (["--modality", "ct", "--ct-preset", "nope"], "preset"),
    (["--modality", "ct"], "scale"),                                # no scale, no preset
    (["--modality", "ct", "--scale", "2", "--scale", "1"], "--scale"),
    (["--modality", "xray", "--scale", "2"], "--modality"),
])
def test_cli_ct_bad_options_exit_2_before_work(tmp_path, capsys, args, where):
    src = _hr(tmp_path / "hr.tif")
    out = tmp_path / "lr.tif"
    assert main(["degrade", str(src), str(out), *args]) == 2
    err = capsys.readouterr().err
    assert where in err and "Traceback" not in err
    assert not out.exists()


def test_preset_scale_mismatch_is_a_clear_error(tmp_path, capsys):
    src = _hr(tmp_path / "hr.tif", spacing=25.0)
    assert main(["degrade", str(src), str(tmp_path / "lr.tif"), "--modality", "ct",
                 "--ct-preset", "xtremect2"]) == 2
    assert "integer multiple" in capsys.readouterr().err
