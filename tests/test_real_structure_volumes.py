"""The extra real volumes of ``benchmarks/real_structure.py`` (issue #16): loaders, z splits and
the pore-network metrics of the Ketton rock, checked against skimage and the PROVENANCE files."""

from __future__ import annotations

import numpy as np
import pytest


def test_z_splits_are_70_10_20_and_lhdl_keeps_the_peer_protocol(bench):
    vols = bench("_real_structure_volumes")
    proto = bench("_real_structure_protocol")
    sp = vols.z_splits(115)                                  # the shrew mask's depth
    assert (sp.train, sp.val, sp.block) == (range(0, 80), range(80, 92), range(92, 115))
    assert list(sp.test) == list(range(92, 115, 2))
    lhdl = vols.get_volume("lhdl").splits(200)
    assert (lhdl.train, lhdl.val, lhdl.test) == (proto.TRAIN, proto.VAL, proto.TEST)
    assert lhdl.block == range(160, 199)
    with pytest.raises(KeyError, match="ketton"):
        vols.get_volume("berea")


def test_pore_3d_on_an_analytic_torus(bench):
    pore = bench("_real_structure_pore")
    m = np.zeros((5, 12, 12), bool)
    m[2, 3:9, 3:9] = True
    m[2, 5:7, 5:7] = False                                   # a ring: χ = 0, one component
    m[0, 0, 0] = True                                        # plus a corner speck: χ = 1
    r = pore.pore_3d(m, 10.0)
    assert r["euler"] == 1.0 and r["components"] == 2.0
    assert r["porosity"] == pytest.approx(33 / m.size)
    assert r["largest_share"] == pytest.approx(32 / 33)


@pytest.mark.data
def test_ketton_loader_and_pore_metrics_match_skimage(data_dir, monkeypatch, bench):
    from skimage.measure import euler_number, label

    monkeypatch.setenv("GEOSR_DATA", str(data_dir))
    vols = bench("_real_structure_volumes")
    proto = bench("_real_structure_protocol")
    rs = bench("real_structure")
    spec = vols.get_volume("ketton")
    vol = spec.load()
    assert vol.shape == (256, 256, 256) and set(np.unique(vol)) == {0.0, 1.0}
    assert (vol == 0).mean() == pytest.approx(0.1269, abs=5e-5)     # PROVENANCE.md
    assert spec.phase == "dark" and spec.threshold == 0.5
    # a 10-slice, 64² crop through evaluate(): the pore phase is measured on the inverted image
    block = proto.make_split(vol[:, :64, :64], range(200, 210), 4)
    ctx = {"spec": spec, "block": block, "test_idx": [0, 2, 4, 6, 8], "threshold": 0.5}
    stack = np.stack([proto.bicubic(x, 4) for x in block.lr])
    row = rs.evaluate(stack, ctx)
    pred, truth = stack < 0.5, block.hr < 0.5
    assert row["psnr"] == pytest.approx(proto.psnr_full(stack[::2], block.hr[::2]))
    assert row["euler_slice_mean"] == pytest.approx(
        np.mean([euler_number(s, connectivity=2) for s in pred[::2]]))
    assert row["euler_slice_truth_mean"] == pytest.approx(
        np.mean([euler_number(s, connectivity=2) for s in truth[::2]]))
    assert row["euler_3d"] == euler_number(pred, connectivity=3)
    assert row["components_3d"] == label(pred, connectivity=3).max()
    assert row["porosity_3d"] == pytest.approx(pred.mean())
    truth_euler = euler_number(truth, connectivity=3)
    assert row["euler_3d_rel_error"] == pytest.approx(
        (row["euler_3d"] - truth_euler) / abs(truth_euler))
    pore = bench("_real_structure_pore")
    self_check = pore.compare_pore_3d(truth, truth, pore.pore_3d(truth, 15.0), 15.0)
    assert self_check["connections_preserved_3d"] == self_check["through_preserved_3d"] == 1.0
    assert self_check["euler_3d_rel_error"] == 0.0 and self_check["false_connections_3d"] == 0
    assert row["connections_preserved_3d"] < 1.0        # bicubic breaks pore connections
    assert row["components_missed"] > 0                 # bicubic loses small pores at ×4


@pytest.mark.data
def test_shrew_mask_loader_matches_its_provenance(data_dir, monkeypatch, bench):
    from geosr.io import load

    monkeypatch.setenv("GEOSR_DATA", str(data_dir))
    spec = bench("_real_structure_volumes").get_volume("shrew")
    vol = spec.load()
    assert vol.shape == (115, 114, 114) and set(np.unique(vol)) == {0.0, 1.0}
    assert vol.mean() == pytest.approx(0.2935, abs=5e-5)
    image = load(data_dir / "bone" / "shrew_mask" / "Shrew.nrrd")
    assert image.spacing_um == pytest.approx((spec.spacing_um,) * 3)    # 4.1 µm, header in mm
    assert spec.phase == "bright"


def test_combine_merges_seeds_and_refuses_different_budgets(tmp_path, bench):
    import argparse
    import json

    rs = bench("real_structure")
    keys = [k for k, _ in rs.COLUMNS["bright"]]

    def doc(seeds, budget=100.0):
        runs = [{"arm": "l1", "seed": s, "parameters": 9232, "steps": 10,
                 **{k: float(s) for k in keys}} for s in seeds]
        return {"volume": "shrew", "scale": 4, "budget_cpu_s": budget, "seeds": seeds,
                "bicubic": {k: 0.5 for k in keys}, "runs": runs, "summary": []}

    (tmp_path / "real_structure_a.json").write_text(json.dumps(doc([0])))
    (tmp_path / "real_structure_b.json").write_text(json.dumps(doc([1, 2])))
    (tmp_path / "real_structure_c.json").write_text(json.dumps(doc([3], budget=677.0)))
    args = argparse.Namespace(combine=["_a", "_b"], tag="_ab", results=tmp_path,
                              arms=["l1"])
    rs.combine(args)
    out = json.loads((tmp_path / "real_structure_ab.json").read_text())
    assert out["seeds"] == [0, 1, 2] and len(out["runs"]) == 3
    psnr = out["summary"][0]["psnr"]
    assert psnr["n"] == 3 and psnr["mean"] == pytest.approx(1.0)
    assert psnr["sd"] == pytest.approx(1.0)                       # sample sd of 0, 1, 2
    assert "| 1.00 ± 1.00 |" in (tmp_path / "real_structure_ab.md").read_text()
    with pytest.raises(SystemExit, match="differ"):
        rs.combine(argparse.Namespace(combine=["_a", "_c"], tag="_ac", results=tmp_path,
                                      arms=["l1"]))
