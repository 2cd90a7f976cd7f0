"""Geometry-aware losses: finite gradients, minimum at the truth, decrease when a missing
branch is restored (2D and 3D synthetic tube networks), warm-up, config shorthand."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from geosr.core.errors import ConfigError, DependencyError
from geosr.losses import build_loss
from geosr.losses.combined import WeightedSum
from geosr.losses.pixel import L1Loss
from geosr.losses.topology import skeleton_target, soft_skeleton
from geosr.train.config import parse_config

torch.set_num_threads(1)
HAS_CRIPSER = importlib.util.find_spec("cripser") is not None
LO, HI = 0.1, 0.9


def network_2d() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A 48² tube network (a loop with two side branches, 3 px wide, bright on dim), the same
    with a 6-pixel stretch of one branch missing, and with half of that stretch restored."""
    y = torch.full((1, 1, 48, 48), LO)
    y[..., 10:13, 8:40] = HI          # top of the loop
    y[..., 30:33, 8:40] = HI          # bottom
    y[..., 10:33, 8:11] = HI          # left
    y[..., 10:33, 37:40] = HI         # right
    y[..., 31, 23:25] = HI
    y[..., 33:46, 23:26] = HI         # a branch down from the loop
    y[..., 2:10, 30:33] = HI          # a branch up
    gap = y.clone()
    gap[..., 36:42, 23:26] = LO       # branch cut
    half = y.clone()
    half[..., 39:42, 23:26] = LO
    return y, gap, half


def network_3d() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A 24³ volume with three orthogonal 2-voxel tubes crossing; one cut over 6 voxels."""
    y = torch.full((1, 1, 24, 24, 24), LO)
    y[..., 11:13, 11:13, 2:22] = HI
    y[..., 11:13, 2:22, 11:13] = HI
    y[..., 2:22, 11:13, 11:13] = HI
    gap = y.clone()
    gap[..., 11:13, 14:20, 11:13] = LO
    half = y.clone()
    half[..., 11:13, 17:20, 11:13] = LO
    return y, gap, half


def make(name: str, dims: int) -> torch.nn.Module:
    options = {"persistence": {"maxdim": 1, "crop": 64}}.get(name, {})
    return build_loss(name, **options)


NAMES = ["cldice", "skeleton_recall", "porosity", "gradient", "fourier",
         pytest.param("persistence", marks=pytest.mark.skipif(not HAS_CRIPSER,
                                                              reason="cripser not installed"))]


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("name", NAMES)
def test_minimum_at_truth_and_branch_restoration(name, dims):
    y, gap, half = network_2d() if dims == 2 else network_3d()
    loss = make(name, dims)
    torch.manual_seed(0)
    at_truth = float(loss(y, y))
    full_gap, half_gap = float(loss(gap, y)), float(loss(half, y))
    assert 0.0 <= at_truth < 1e-3
    # restoring the missing branch lowers the loss, step by step (the PH term counts
    # components: half a restored stretch leaves the branch cut, so it only drops at the end)
    if name == "persistence":
        assert full_gap == pytest.approx(half_gap) and full_gap > 0.9 > 1e-3 > at_truth
    else:
        assert full_gap > half_gap > at_truth, (full_gap, half_gap, at_truth)
    # any other perturbation is worse than the truth too
    noisy = y + 0.05 * torch.randn(y.shape, generator=torch.Generator().manual_seed(1))
    blurred = torch.nn.functional.avg_pool2d(y, 3, 1, 1) if dims == 2 else \
        torch.nn.functional.avg_pool3d(y, 3, 1, 1)
    # porosity is blind to position: a blur keeps the pore fraction (equal within 1e-3)
    slack = 1e-3 if name == "porosity" else 0.0
    for other in (noisy, blurred):
        assert float(loss(other, y)) >= at_truth - slack


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("name", NAMES)
def test_gradients_are_finite_and_reach_the_gap(name, dims):
    y, gap, _ = network_2d() if dims == 2 else network_3d()
    loss = make(name, dims)
    for start in (gap, y, torch.full_like(y, LO)):
        pred = (start + 0.1 * (torch.rand(y.shape, generator=torch.Generator().manual_seed(2))
                               - 0.5)).requires_grad_(True)
        torch.manual_seed(0)
        value = loss(pred, y)
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(pred.grad).all()
    # a gradient step from the broken network moves the missing stretch towards the pores
    pred = gap.clone().requires_grad_(True)
    torch.manual_seed(0)
    loss(pred, y).backward()
    where = (gap != y)
    if name == "persistence":
        # gradients reach only the creator/destroyer pixels, which need not lie in the gap
        assert bool((pred.grad != 0).any())
    elif name not in ("gradient", "fourier"):   # these act on the walls, not inside the gap
        assert float(pred.grad[where].mean()) < 0


def test_soft_skeleton_of_a_line_is_the_line_and_skeleton_target_dilates():
    line = torch.zeros(1, 1, 9, 9)
    line[..., 4, 1:8] = 1
    assert torch.equal(soft_skeleton(line, 3), line)
    mask = np.zeros((9, 9), bool)
    mask[3:6, 1:8] = True
    skel = skeleton_target(mask, dilation=1)
    assert skel[4, 2:7].all() and skel[3, 2:7].all() and skel.sum() < mask.sum()
    assert skeleton_target(np.zeros((5, 5)), 1).sum() == 0


def test_dark_pores_and_options():
    y, gap, _ = network_2d()
    dark = build_loss("cldice", dark=True)
    assert float(dark(1 - y, 1 - y)) < 1e-3 < float(dark(1 - gap, 1 - y))
    with pytest.raises(ConfigError, match="tau"):
        build_loss("cldice", tau=0)
    with pytest.raises(ConfigError, match="no option"):
        build_loss("skeleton_recall", iterations=3)
    empty = torch.full((2, 1, 16, 16), LO)
    assert float(build_loss("skeleton_recall")(empty, empty)) == 0.0


def test_persistence_needs_cripser(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake(name, *args, **kwargs):
        if name == "cripser":
            raise ImportError("no cripser")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(DependencyError, match="pip install cripser"):
        build_loss("persistence")


def test_warmup_ramps_the_weight_and_skips_waiting_terms():
    calls = []

    class Counting(L1Loss):
        def forward(self, pred, target):
            calls.append(1)
            return super().forward(pred, target)

    loss = WeightedSum([("l1", 1.0, L1Loss()), ("c", 2.0, Counting())],
                       schedules=[{}, {"start": 10, "warmup": 20}])
    p, t = torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)
    expected = {0: 1.0, 10: 1.0, 20: 1.0 + 2.0 * 0.5, 30: 3.0, 100: 3.0}
    for step, value in expected.items():
        loss.set_step(step)
        assert float(loss(p, t)) == pytest.approx(value)
    assert len(calls) == 3     # not evaluated at steps 0 and 10
    assert loss.describe()[1] == {"name": "c", "weight": 2.0, "start": 10, "warmup": 20}
    only = build_loss([{"name": "l1", "weight": 1.0, "warmup": 5}])
    assert float(only(p, t)) == 0.0 and only(p.requires_grad_(True), t).requires_grad
    with pytest.raises(ConfigError, match="warmup"):
        build_loss([{"name": "l1", "warmup": -1}])


def test_config_accepts_the_shorthand_mapping_and_warmup():
    base = {"data": {"source": "phantom"}}
    cfg = parse_config({**base, "loss": {"l1": 1.0, "cldice": 0.2}})
    assert [(t["name"], t["weight"]) for t in cfg.loss_terms()] == [("l1", 1.0), ("cldice", 0.2)]
    cfg = parse_config({**base, "loss": {"l1": 1.0, "skeleton_recall": {
        "weight": 0.5, "warmup": 200, "start": 100, "tau": 0.1}}})
    term = cfg.loss_terms()[1]
    assert term == {"name": "skeleton_recall", "weight": 0.5, "arguments": {"tau": 0.1},
                    "start": 100, "warmup": 200}
    cfg = parse_config({**base, "loss": [{"name": "l1"}, {"name": "fourier", "weight": 0.1,
                                                          "warmup": 50}]})
    assert cfg.loss_terms()[1]["warmup"] == 50
    with pytest.raises(ConfigError, match="unknown loss 'cldise'"):
        parse_config({**base, "loss": {"l1": 1.0, "cldise": 0.2}})
    with pytest.raises(ConfigError, match="warmup"):
        parse_config({**base, "loss": {"l1": {"weight": 1.0, "warmup": -3}}})
