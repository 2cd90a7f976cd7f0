"""The soft Euler-characteristic loss (``geosr.losses.euler``): exact against
``skimage.measure.euler_number`` on random binary images (2D/3D, both connectivities), exact per
block, multilinear (the expected Euler number of independent pixels, checked by sampling),
gradients, registry and config errors; and the real-structure benchmark's protocol reproduces
the peers' bicubic row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from geosr.core.errors import ConfigError
from geosr.losses import build_loss
from geosr.losses.euler import euler_lut, soft_euler_number

torch.set_num_threads(1)


@pytest.mark.parametrize("dims,connectivity", [(2, 1), (2, 2), (3, 1), (3, 3)])
def test_exact_at_binary_against_skimage(dims, connectivity):
    from skimage.measure import euler_number

    rng = np.random.default_rng(dims * 10 + connectivity)
    masks = []
    for _ in range(40):
        shape = tuple(rng.integers(2, 12 if dims == 3 else 40, size=dims))
        masks.append(rng.random(shape) < rng.uniform(0.1, 0.9))
    values = [(euler_number(m, connectivity=connectivity),
               float(soft_euler_number(torch.from_numpy(m.astype(np.float64))[None, None],
                                       connectivity)))
              for m in masks]
    ref, got = np.array(values).T
    assert np.array_equal(ref, got)
    assert len(set(ref.tolist())) > 5          # the images cover many Euler numbers


def test_known_shapes_and_default_connectivity():
    ring = torch.zeros(1, 1, 7, 7, dtype=torch.float64)
    ring[..., 1:6, 1:6] = 1
    ring[..., 3, 3] = 0
    diag = torch.zeros(1, 1, 4, 4, dtype=torch.float64)
    diag[..., 1, 1] = diag[..., 2, 2] = 1
    assert float(soft_euler_number(ring)) == 0.0                     # 1 object − 1 hole
    assert float(soft_euler_number(diag)) == 1.0                     # 8-connected: 1 object
    assert float(soft_euler_number(diag, connectivity=1)) == 2.0     # 4-connected: 2
    cube = torch.zeros(1, 1, 5, 5, 5, dtype=torch.float64)
    cube[..., 1:4, 1:4, 1:4] = 1
    cube[..., 2, 2, 2] = 0                                           # a cavity: 1 + 1
    assert float(soft_euler_number(cube)) == 2.0
    assert euler_lut(2).shape == (16,) and euler_lut(3).shape == (256,)


def test_blocks_sum_to_the_whole_and_are_exact_per_block():
    from skimage.measure import euler_number

    rng = np.random.default_rng(5)
    m = rng.random((2, 1, 33, 40)) < 0.5
    t = torch.from_numpy(m.astype(np.float64))
    blocks = soft_euler_number(t, block=8)
    whole = soft_euler_number(t)
    assert torch.allclose(blocks.sum(-1), whole)
    assert [float(w) for w in whole[:, 0]] == [euler_number(x[0], connectivity=2) for x in m]


def test_soft_value_is_the_expectation_over_independent_pixels():
    """Multilinear: at probabilities p the value is E[χ] of independent Bernoulli(p) pixels
    (Monte Carlo over 4000 draws, 3-standard-error tolerance)."""
    from skimage.measure import euler_number

    rng = np.random.default_rng(11)
    p = rng.uniform(0.2, 0.8, size=(9, 9))
    soft = float(soft_euler_number(torch.from_numpy(p)[None, None]))
    draws = np.array([euler_number(rng.random(p.shape) < p, connectivity=2)
                      for _ in range(4000)], float)
    se = draws.std(ddof=1) / np.sqrt(draws.size)
    assert abs(soft - draws.mean()) < 3 * se
    assert se < 0.1                                                   # the check has teeth


def test_loss_zero_at_truth_positive_for_a_speck_and_finite_gradient():
    y = torch.full((2, 1, 32, 32), 0.1)
    y[..., 8:24, 6:9] = 0.9                                           # a bar: χ = 1
    loss = build_loss({"name": "euler", "threshold": 0.5, "tau": 0.02})
    assert float(loss(y, y)) < 1e-4                               # float32 rounding
    speck = y.clone()
    speck[..., 20, 20] = 0.9                                          # one invented speck
    # χ error 1 per item, scale = 1024 px / 1000 → 1 / 1.024 (the sigmoid at ±20 τ ≈ 0/1)
    assert float(loss(speck, y)) == pytest.approx(1 / 1.024, rel=1e-3)
    faint = y.clone()
    faint[..., 20, 20] = 0.52                                         # p = sigmoid(1) ≈ 0.73
    faint.requires_grad_(True)
    loss(faint, y).backward()
    grad = faint.grad
    assert torch.isfinite(grad).all() and float(grad[..., 20, 20].min()) > 0
    assert float(grad[..., 20, 20].min()) > 100 * float(grad[..., 2, 2].abs().max())


def test_block_loss_does_not_cancel_errors_in_different_places():
    y = torch.full((1, 1, 32, 32), 0.1)
    pred = y.clone()
    pred[..., 4, 4] = 0.9                                             # invented speck (+1)
    y[..., 26, 26] = 0.9
    pred[..., 26, 26] = 0.9
    y[..., 20:23, 20:23] = 0.9                                        # missed object (−1)
    whole = build_loss({"name": "euler", "tau": 0.02, "scale": 1.0})
    tiles = build_loss({"name": "euler", "tau": 0.02, "scale": 1.0, "block": 16})
    assert float(whole(pred, y)) < 1e-4                               # +1 − 1 cancel
    # 33² vertex windows → 3 × 3 tiles of 16 (partial ones kept): 2 wrong of 9
    assert float(tiles(pred, y)) == pytest.approx(2 / 9, rel=1e-4)


@pytest.mark.parametrize("options,field", [({"block": 1}, "block"), ({"scale": 0}, "scale"),
                                           ({"connectivity": 5}, "connectivity"),
                                           ({"tau": -1}, "tau")])
def test_bad_options_name_the_field(options, field):
    with pytest.raises(ConfigError) as err:
        build_loss({"name": "euler", **options})
    assert field in str(err.value)


def test_3d_connectivity_2_is_refused():
    loss = build_loss({"name": "euler", "connectivity": 2})
    with pytest.raises(ConfigError, match="connectivity"):
        loss(torch.zeros(1, 1, 4, 4, 4), torch.zeros(1, 1, 4, 4, 4))


@pytest.mark.data
def test_real_structure_protocol_reproduces_the_peer_bicubic_row(data_dir, monkeypatch, bench):
    monkeypatch.setenv("GEOSR_DATA", str(data_dir))
    proto = bench("_real_structure_protocol")
    from skimage.filters import threshold_otsu

    test = proto.make_split(proto.normalised_volume(), proto.TEST, 4)
    threshold = threshold_otsu(test.hr)
    row = proto.peer_metrics(np.stack([proto.bicubic(x, 4) for x in test.lr]), test.hr,
                             threshold)
    assert threshold == pytest.approx(0.4004, abs=5e-5)
    assert round(row["psnr"], 2) == 24.84
    assert round(100 * row["euler_slice_rel_error"], 1) == -3.3
    assert round(100 * row["components_slice_rel_error"], 1) == -13.5
    assert round(100 * row["bvtv_rel_error"], 1) == 3.2


def test_invented_and_missed_components_and_branches(bench):
    im = bench("_real_structure_metrics").invented_missed
    g = np.zeros((2, 40, 40), bool)
    g[:, 5:8, 5:35] = True                        # a bar
    g[:, 5:35, 20:23] = True                      # crossing it: a T with 3 branches
    g[:, 30:33, 30:33] = True                     # a speck
    p = g.copy()
    p[:, 30:33, 30:33] = False                    # the speck missed
    p[:, 15:18, 28:38] = True                     # a bar invented (isolated)
    r = im(p, g)
    assert (r["components_truth"], r["components_pred"]) == (4, 4)
    assert (r["components_missed"], r["components_invented"]) == (2, 2)      # 1 per slice
    assert r["components_invented_share"] == 0.5
    # the invented bar is one branch per slice; the missed speck is a one-pixel skeleton branch
    assert r["branches_invented"] == 2 and r["branches_missed"] == 2
    clean = im(g, g)
    assert clean["components_invented"] == clean["branches_invented"] == 0
    assert clean["branches_missed"] == 0 and clean["branches_truth"] >= 6


def test_bone_ct_example_config_parses():
    import yaml

    from geosr.train.config import parse_config

    text = (Path(__file__).resolve().parents[1] / "examples" / "bone_ct_x4.yaml").read_text()
    cfg = parse_config(yaml.safe_load(text))
    assert cfg.scale == 4 and "euler" not in str(cfg.loss).lower()
    assert "  # euler:" in text                   # the optional term, commented out, is valid
    cfg = parse_config(yaml.safe_load(text.replace("  # euler:", "  euler:")))
    assert "euler" in str(cfg.loss).lower()
