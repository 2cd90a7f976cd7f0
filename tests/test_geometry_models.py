"""Geometry-informed models (``geo``): tubeness input, auxiliary segmentation head, model files,
and short trainings with a geometry loss and with the aux head that reload and predict."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from geosr.core.errors import ConfigError
from geosr.models import build_model, load_model
from geosr.models.geometry import Tubeness, gaussian_derivatives

torch.set_num_threads(1)

TINY = {
    "seed": 1, "scale": 4,
    "data": {"source": "phantom", "kind": "dentin", "size_um": 9.6, "spacing_um": 0.1,
             "train_seeds": [0], "val_seeds": [100],
             "degradation": {"fwhm_um": [0.3, 0.4], "variants": 1}},
    "model": {"name": "fsrcnn", "arguments": {"d": 8, "s": 4, "m": 1}},
    "patch": {"size": 32},
    "train": {"steps": 6, "batch_size": 2, "lr": 2e-3, "checkpoint_every": 100, "threads": 1,
              "device": "cpu"},
    "validation": {"every": 3, "patience": None, "max_size": 24},
    "logging": {"every": 3, "progress": False},
}


def test_gaussian_derivative_kernels_are_exact_on_quadratics():
    g, d1, d2 = gaussian_derivatives(1.5, torch.float64)
    x = torch.arange(-(len(g) // 2), len(g) // 2 + 1, dtype=torch.float64)
    # correlation at the centre of f(x) = x and x²/2: derivatives 1 and 1 (kernels flipped)
    assert float(g.sum()) == pytest.approx(1.0)
    assert float((d1.flip(0) * x).sum()) == pytest.approx(1.0)
    assert float((d2 * 0.5 * x * x).sum()) == pytest.approx(1.0)


@pytest.mark.parametrize("dims", [2, 3])
def test_tubeness_responds_to_tubes_not_to_flat_regions(dims):
    n = 24 if dims == 2 else 16
    x = torch.zeros((1, 1) + (n,) * dims)
    c = n // 2
    if dims == 2:
        x[..., c - 1:c + 1, :] = 1.0
    else:
        x[..., c - 1:c + 1, c - 1:c + 1, :] = 1.0
        sheet = torch.zeros_like(x)
        sheet[..., c - 1:c + 1, :, :] = 1.0
    t = Tubeness(dims, (0.75, 1.5)).double()(x.double())
    on = float(t[(..., *([c] * (dims - 1)), c)])
    off = float(t[(..., *([2] * (dims - 1)), c)])
    assert on > 0.1 and abs(off) < 0.02 * on
    if dims == 3:   # a sheet is not a tube: the middle eigenvalue is ≈ 0 there
        s = Tubeness(dims, (0.75, 1.5)).double()(sheet.double())
        assert float(s[..., c, 2, c]) < 0.1 * on
    dark = Tubeness(dims, (0.75, 1.5), dark=True).double()(-x.double())
    assert torch.allclose(dark, t)


def test_geo_model_outputs_and_aux_loss():
    torch.manual_seed(0)
    net = build_model("geo", dims=2, scale=2, base="espcn", base_arguments='{"features": 8}',
                      aux_head=True, tubeness=True, tubeness_sigmas=[1.0, 2.0])
    x = torch.rand(2, 1, 10, 10)
    sr, logits = net.forward_with_aux(x)
    assert sr.shape == logits.shape == (2, 1, 20, 20)
    assert torch.equal(net(x), sr)
    y = torch.full((2, 1, 20, 20), 0.1)
    y[..., 9:11, :] = 0.9
    perfect = torch.where(y > 0.5, 20.0, -20.0)
    assert float(net.aux_loss(perfect, y)) < 1e-3 < float(net.aux_loss(-perfect, y))
    assert net.segment(x).min() >= 0
    # CARE's input-residual is kept by the wrapper when the channel counts change
    care = build_model("geo", dims=2, scale=2, base="care", base_arguments='{"features": 4}',
                       aux_head=True)
    assert care.skip is not None and not care.base.residual
    with pytest.raises(ConfigError, match="base_arguments"):
        build_model("geo", dims=2, scale=2, base_arguments="{features: 4}")
    with pytest.raises(ConfigError, match="base"):
        build_model("geo", dims=2, scale=2, base="geo")
    plain = build_model("geo", dims=3, scale=2, base="fsrcnn", base_arguments='{"d": 4, "s": 2, "m": 1}')
    assert not plain.has_aux and plain(torch.rand(1, 1, 6, 6, 6)).shape == (1, 1, 12, 12, 12)


def test_train_with_geometry_loss_and_aux_head_reload_and_predict(tmp_path):
    from geosr import train
    from geosr.predict.core import predict

    loss = {"l1": 1.0, "cldice": {"weight": 0.2, "warmup": 3}, "skeleton_recall": 0.1,
            "porosity": 0.1}
    out = train({**TINY, "loss": loss}, out=tmp_path / "loss")
    spec = json.loads((out / "model.json").read_text())
    assert [t["name"] for t in spec["training"]["loss"]] == ["l1", "cldice", "skeleton_recall",
                                                             "porosity"]
    assert spec["training"]["loss"][1]["warmup"] == 3

    geo = {"name": "geo", "arguments": {"base": "fsrcnn",
                                        "base_arguments": '{"d": 8, "s": 4, "m": 1}',
                                        "aux_head": True, "tubeness": True,
                                        "tubeness_sigmas": [0.75, 1.5], "aux_weight": 0.2}}
    model_dir = train({**TINY, "model": geo, "loss": {"l1": 1.0, "gradient": 0.1}},
                      out=tmp_path / "geo")
    loaded = load_model(model_dir)
    assert loaded.architecture == "geo" and loaded.module.has_aux
    lr = np.random.default_rng(0).random((48, 48)).astype(np.float32)
    sr = predict(lr, model_dir, device="cpu")
    assert sr.shape == (192, 192) and np.isfinite(sr.numpy()).all()
    # tiled prediction agrees with whole-image prediction (halo from the measured field,
    # which includes the tubeness filters' reach)
    tiled = predict(lr, model_dir, device="cpu", tile=30)
    np.testing.assert_allclose(tiled.numpy(), sr.numpy(), atol=1e-4)
