"""Chunked network assessment (issue 14, item 3): porosity, components across chunk borders,
Euler characteristic, Conn.D, through-stack connectivity and clDice of volumes read chunk by
chunk equal the in-memory metrics."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from geosr.assess.network.chunked import assess_chunked
from geosr.assess.network.cldice import cldice_score
from geosr.assess.network.connectivity import stack_connectivity
from geosr.assess.network.topology import connectivity_density, euler_characteristic


def _pair(shape, seed):
    rng = np.random.default_rng(seed)
    g = ndimage.gaussian_filter(rng.random(shape), 1.5)
    p = g + 0.02 * rng.standard_normal(shape)
    return p, g, float(np.quantile(g, 0.7))


@pytest.mark.parametrize("shape, chunk", [((37, 41), 8), ((20, 22, 25), 7),
                                          ((30, 30, 30), (8, 11, 16))])
@pytest.mark.parametrize("seed", [0, 1])
def test_chunked_metrics_equal_in_memory(shape, chunk, seed):
    p, g, t = _pair(shape, seed)
    pm, gm = p > t, g > t
    res = assess_chunked(p, g, segmentation="fixed", threshold=t, chunk=chunk,
                         skeleton_margin=8)
    d = len(shape)
    for name, m in (("prediction", pm), ("truth", gm)):
        labels, n = ndimage.label(m, np.ones((3,) * d))
        r = res[name]
        assert r["components"] == n                         # exact, across chunk borders
        assert r["euler"] == euler_characteristic(m)        # exact
        assert abs(r["porosity"] - m.mean()) <= 1e-9
        sizes = np.bincount(labels.ravel())[1:]
        assert r["largest_component_share"] == pytest.approx(sizes.max() / m.sum())
        if d == 3:
            cd = connectivity_density(m, spacing=(1.0, 1.0, 1.0))
            assert r["delta_chi"] == cd.delta_chi and r["conn_density"] == cd.conn_density
    if d == 3:
        assert res["comparison"]["stack_connectivity"] == stack_connectivity(pm, gm).as_dict()
    assert res["comparison"]["cldice"]["cldice"] == pytest.approx(
        cldice_score(pm, gm).cldice, abs=0.02)
    assert res["convention"]["chunks"] > 8


def test_components_that_touch_only_diagonally_across_a_chunk_corner():
    m = np.zeros((8, 8, 8), bool)
    m[3, 3, 3] = m[4, 4, 4] = True          # 26-connected through the corner of 4³ chunks
    m[0, 7, 0] = True
    res = assess_chunked(m, segmentation="mask", chunk=4)["prediction"]
    assert res["components"] == 2 and res["euler"] == 2


def test_otsu_and_files_and_refusals(tmp_path):
    from skimage.filters import threshold_otsu

    from geosr.core import Image
    from geosr.core.errors import ConfigError
    from geosr.io import save

    p, g, _ = _pair((16, 18, 20), 3)
    for name, v in (("p", p), ("g", g)):
        save(Image(v.astype(np.float32), "ZYX", spacing=(0.5, 0.5, 0.5)), tmp_path / f"{name}.zarr")
    res = assess_chunked(str(tmp_path / "p.zarr"), str(tmp_path / "g.zarr"), chunk=6)
    t = threshold_otsu(g.astype(np.float32))
    assert res["convention"]["thresholds"][0] == pytest.approx(t, rel=1e-6)
    gm = g.astype(np.float32) > res["convention"]["thresholds"][0]
    assert res["truth"]["components"] == ndimage.label(gm, np.ones((3, 3, 3)))[1]
    volume_mm3 = 16 * 18 * 20 * 0.125 * 1e-9
    assert res["truth"]["volume_mm3"] == pytest.approx(volume_mm3)
    u16 = (g * 1000).astype(np.uint16)
    res = assess_chunked(u16, segmentation="otsu", chunk=5)
    assert res["convention"]["thresholds"][0] == threshold_otsu(u16)
    with pytest.raises(ConfigError, match="otsu, fixed or mask"):
        assess_chunked(p, segmentation="local")
    with pytest.raises(ConfigError, match="needs a threshold"):
        assess_chunked(p, segmentation="fixed")


def test_cli_assess_chunked(tmp_path, capsys):
    import json

    from geosr.cli.main import main
    from geosr.core import Image
    from geosr.io import save

    p, g, t = _pair((14, 16, 18), 4)
    save(Image((p > t).astype(np.uint8), "ZYX"), tmp_path / "p.zarr")
    save(Image((g > t).astype(np.uint8), "ZYX"), tmp_path / "g.zarr")
    assert main(["assess", str(tmp_path / "p.zarr"), str(tmp_path / "g.zarr"), "--chunked",
                 "--segment", "mask", "--chunk", "6", "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    n = ndimage.label(g > t, np.ones((3, 3, 3)))[1]
    assert "components" in out and "through-stack connectivity" in out
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["truth"]["components"] == n and record["convention"]["chunks"] == 27
    assert main(["assess", str(tmp_path / "p.zarr"), "--chunked", "--segment", "tubeness"]) == 2


def test_chunked_equals_the_assess_front_door():
    """The numbers `geosr assess` prints in memory, for the same masks."""
    from geosr.assess.network import assess

    p, g, t = _pair((20, 22, 24), 0)
    pm, gm = (p > t).astype(np.uint8), (g > t).astype(np.uint8)
    rows = {r["metric"]: r for r in assess(pm, gm, spacing=1.0, segmentation="mask",
                                           metrics="porosity,components,topology,"
                                                   "connectivity,cldice").items[0].rows}
    res = assess_chunked(pm, gm, segmentation="mask", chunk=7)
    for side, key in (("prediction", "prediction"), ("truth", "truth")):
        assert res[side]["components"] == rows["components"][key]
        assert res[side]["euler"] == rows["euler"][key]
        assert abs(res[side]["porosity"] - rows["porosity"][key]) <= 1e-9
        assert res[side]["conn_density"] == pytest.approx(rows["conn_density"][key], rel=1e-12)
    sc = res["comparison"]["stack_connectivity"]
    assert sc["through_preserved"] == rows["through_preserved"]["prediction"]
    assert sc["n_false"] == rows["false_connections"]["prediction"]
    assert res["comparison"]["cldice"]["cldice"] == pytest.approx(
        rows["clDice"]["prediction"], abs=0.02)
