"""Residual over interpolation (issue 18): the fixed interpolation equals geosr.resample's, an
untrained residual model *is* the interpolation for every architecture in 2D and 3D (its
validation PSNR equals the bicubic baseline's within 0.01 dB), tiled = untiled, model files
record it (old files without the field load as before), and a model that ends below bicubic
is reported by train (summary.json, model.json, warning) and by predict (once)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from geosr.core import Image
from geosr.core.errors import ConfigError
from geosr.models import build_model, load_model, save_model
from geosr.models.residual import Interpolation, ResidualOverInterpolation, polyphase_filters
from geosr.resample import upscale


@pytest.fixture(autouse=True)
def _native_kernels():
    from geosr.models.summary import native_kernels

    with native_kernels():
        yield


#: Thin versions of every registered architecture (receptive fields unchanged).
NARROW = {"care": {"features": 4}, "edsr": {"features": 4, "blocks": 1},
          "espcn": {"features": 4, "features2": 4}, "fsrcnn": {"d": 4, "s": 2, "m": 1},
          "rcan": {"features": 4, "groups": 1, "blocks": 1, "reduction": 2},
          "unet_pix2pix": {"ngf": 2},
          "geo": {"base": "fsrcnn", "base_arguments": '{"d": 4, "s": 2, "m": 1}',
                  "tubeness": True, "aux_head": True},
          "hetero": {"base": "care", "base_arguments": '{"features": 4}'}}


def _smooth(shape, seed):
    """A smooth random image in [0, 1] (so bicubic is a fair, non-trivial baseline)."""
    from scipy import ndimage

    x = np.random.default_rng(seed).random(shape)
    x = ndimage.gaussian_filter(x, 1.5)
    return (x - x.min()) / (x.max() - x.min())


# ------------------------------------------------------------------ the interpolation
@pytest.mark.parametrize("method", ["bicubic", "linear", "nearest", "lanczos"])
@pytest.mark.parametrize("dims,scale,shape", [(2, (2, 2), (7, 9)), (2, (3, 3), (5, 6)),
                                              (2, (4, 1), (6, 5)), (3, (2, 2, 2), (5, 6, 7)),
                                              (3, (1, 3, 2), (4, 5, 6))])
def test_interpolation_equals_geosr_resample(method, dims, scale, shape):
    x = np.random.default_rng(1).random(shape)
    mine = Interpolation(dims, scale, method)(torch.from_numpy(x)[None, None])[0, 0].numpy()
    reference = upscale(x, scale, method)
    assert mine.shape == reference.shape
    np.testing.assert_allclose(mine, reference, rtol=0, atol=1e-12)


def test_polyphase_filters_are_the_keys_cubic():
    taps = polyphase_filters(2, "bicubic")    # output pixel 2i + 1 lies at input i + 1/4
    a = np.abs(0.25 - np.arange(-2, 3))        # distances to input pixels i - 2 ... i + 2
    keys = np.where(a <= 1, 1.5 * a**3 - 2.5 * a**2 + 1,
                    np.where(a <= 2, -0.5 * a**3 + 2.5 * a**2 - 4 * a + 2, 0.0))
    np.testing.assert_allclose(taps[1], keys, atol=1e-15)
    np.testing.assert_allclose(taps[0], keys[::-1], atol=1e-15)
    np.testing.assert_allclose(taps.sum(axis=1), 1.0)
    assert taps.shape == (2, 5)


# --------------------------------------------------------- step 0 = the interpolation
@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("name", sorted(NARROW))
def test_untrained_residual_model_is_the_interpolation(name, dims):
    """Every architecture: output = bicubic (geosr.resample) and validation PSNR = the
    baseline's within 0.01 dB, while its parameters still get gradients."""
    from geosr.losses import build_loss
    from geosr.train.validate import ValImage, bicubic_baseline, evaluate

    torch.manual_seed(0)
    net = build_model(name, dims=dims, scale=2, residual_over="bicubic", **NARROW[name])
    assert isinstance(net, ResidualOverInterpolation)
    assert net.geosr_config["residual_over"] == "bicubic"
    shape = (24, 20) if dims == 2 else (8, 10, 12)
    images = []
    for seed in range(2):
        hr = _smooth(tuple(2 * n for n in shape), seed).astype(np.float32)
        lr = hr.reshape([n for s in shape for n in (s, 2)]).mean(
            axis=tuple(range(1, 2 * dims, 2)))             # area binning, the forward model
        images.append(ValImage(f"v{seed}", torch.from_numpy(lr)[None, None],
                               torch.from_numpy(hr)[None, None]))
    net.eval()
    with torch.no_grad():
        out = net(images[0].lr)[0, 0].double().numpy()
    np.testing.assert_allclose(out, upscale(images[0].lr[0, 0].double().numpy(), 2),
                               atol=2e-6)
    loss = build_loss([{"name": "l1", "weight": 1.0}])
    model_psnr = evaluate(net, images, loss, torch.device("cpu"))["psnr"]
    baseline = bicubic_baseline(images, 2, loss)["psnr"]
    assert 20 < baseline < 60
    assert abs(model_psnr - baseline) < 0.01
    net.train()
    y = net(images[0].lr)
    (y - images[0].hr).abs().mean().backward()
    last = [p for p in net.body.parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    assert last, "the zero-initialised correction must still learn"


def test_defaults_and_errors():
    fsrcnn = build_model("fsrcnn", dims=2, scale=4)
    assert fsrcnn.geosr_config["residual_over"] == "bicubic"      # the default model
    assert isinstance(fsrcnn, ResidualOverInterpolation)
    for name in ("espcn", "edsr", "care"):
        assert build_model(name, dims=2, scale=2, **NARROW[name]).geosr_config[
            "residual_over"] == "none"
    # a default that cannot apply (C_in != C_out) is off; asked for, it is an error
    assert build_model("fsrcnn", dims=2, scale=2, out_channels=2).geosr_config[
        "residual_over"] == "none"
    with pytest.raises(ConfigError, match="in_channels == out_channels"):
        build_model("espcn", dims=2, scale=2, out_channels=2, residual_over="linear")
    with pytest.raises(ConfigError, match="residual_over.*'bicubic'"):
        build_model("espcn", dims=2, scale=2, residual_over="spline")
    with pytest.raises(ConfigError, match="own interpolation"):
        build_model("care", dims=2, scale=2, residual=True, residual_over="bicubic")
    # care's own (random-last-layer) skip gives way to the zero-started residual
    care = build_model("care", dims=2, scale=2, residual_over="linear", features=4)
    assert care.body.residual is False and care.geosr_config["arguments"]["residual"] is False
    # the interpolation filters are not weights: the file holds the learned layers only
    assert all(k.startswith("body.") for k in fsrcnn.state_dict())


# ------------------------------------------------------------------- tiling, files
def _randomise(net):
    torch.manual_seed(1)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return net


@pytest.mark.parametrize("name,dims,kw,shape", [
    ("fsrcnn", 2, {"d": 8, "s": 4, "m": 1}, (37, 29)),
    ("espcn", 3, {"features": 8, "features2": 4, "residual_over": "bicubic"}, (20, 22, 18))])
def test_tiled_equals_untiled_with_the_residual(tmp_path, name, dims, kw, shape):
    from geosr.predict import predict
    from geosr.predict.core import model_geometry
    from geosr.predict.tiling import default_overlap

    net = _randomise(build_model(name, dims=dims, scale=2, **kw))
    model = load_model(save_model(tmp_path / name, net))
    assert model.spec["residual_over"] == "bicubic"
    halo = model_geometry(model)["halo"]
    assert all(h >= 2 for h in halo)          # at least the bicubic support
    image = Image((np.random.default_rng(0).random(shape) * 1000 + 50).astype(np.float32),
                  "YX" if dims == 2 else "ZYX")
    whole = predict(image, model, device="cpu")
    tile = [default_overlap(h) + 5 for h in halo]
    tiled = predict(image, model, tile=tile, device="cpu", batch_size=2)
    assert tiled.metadata["prediction"]["tiling"]["windows"] > 1
    err = np.abs(tiled.data - whole.data).max() / (whole.data.max() - whole.data.min())
    assert err <= 1e-4


def test_model_file_round_trip_and_old_files(tmp_path):
    from geosr.models.files import _doc_hash

    net = _randomise(build_model("fsrcnn", dims=2, scale=2, d=4, s=2, m=1))
    x = torch.rand(1, 1, 12, 12)
    path = save_model(tmp_path / "new", net)
    loaded = load_model(path)
    assert loaded.spec["residual_over"] == "bicubic"
    assert isinstance(loaded.module, ResidualOverInterpolation)
    with torch.no_grad():
        assert torch.allclose(loaded.module(x), net.eval()(x), atol=1e-6)
    # an old file: a plain network, no "residual_over" field -> rebuilt plain, same output
    plain = _randomise(build_model("fsrcnn", dims=2, scale=2, d=4, s=2, m=1,
                                   residual_over="none"))
    old = save_model(tmp_path / "old", plain)
    doc = json.loads((old / "model.json").read_text())
    assert doc.pop("residual_over") == "none"
    doc["integrity"]["sha256"] = _doc_hash(doc)
    (old / "model.json").write_text(json.dumps(doc))
    reloaded = load_model(old)
    assert not isinstance(reloaded.module, ResidualOverInterpolation)
    with torch.no_grad():
        assert torch.allclose(reloaded.module(x), plain.eval()(x), atol=1e-6)


def test_traces_to_plain_torch_ops():
    """The residual path is plain torch (pad, conv, reshape/permute): a traced graph gives the
    same output (what ONNX export relies on)."""
    net = _randomise(build_model("fsrcnn", dims=3, scale=2, d=4, s=2, m=1)).eval()
    x = torch.rand(1, 1, 6, 7, 8)
    traced = torch.jit.trace(net, x)
    y = torch.rand(1, 1, 5, 9, 6)
    with torch.no_grad():
        assert torch.allclose(traced(y), net(y), atol=1e-6)


# ------------------------------------------------------------ below-baseline warning
TINY = {
    "seed": 3, "scale": 4,
    "data": {"source": "phantom", "kind": "dentin", "size_um": 12.8, "spacing_um": 0.1,
             "train_seeds": [0], "val_seeds": [100],
             "degradation": {"fwhm_um": [0.3, 0.5], "photons": 500, "variants": 1}},
    "model": {"name": "fsrcnn", "arguments": {"d": 4, "s": 2, "m": 1}},
    "patch": {"size": 32},
    "train": {"steps": 2, "batch_size": 2, "lr": 1e-4, "checkpoint_every": 10, "threads": 1,
              "device": "cpu"},
    "validation": {"every": 1, "patience": None},
    "logging": {"every": 1, "progress": False},
}


def test_a_model_below_bicubic_is_reported_by_train_and_predict(tmp_path):
    from typer.testing import CliRunner

    from geosr.cli.main import app
    from geosr.io import save
    from geosr.models.quality import BelowBaselineWarning
    from geosr.predict import predict
    from geosr.train import train

    plain = {**TINY, "model": {**TINY["model"], "arguments": {
        **TINY["model"]["arguments"], "residual_over": "none"}}}
    with pytest.warns(BelowBaselineWarning, match="dB below bicubic"):
        model_dir = train(plain, out=tmp_path / "plain")
    summary = json.loads((model_dir.parent / "summary.json").read_text())
    record = summary["below_baseline"]
    assert record["below"] and record["margin_db"] < -1.0     # a random network: far below
    assert record["baseline_psnr_db"] == pytest.approx(summary["val_psnr_norm_db"]["bicubic"])
    spec = json.loads((model_dir / "model.json").read_text())
    assert spec["validation"]["below_baseline"] == record and spec["residual_over"] == "none"

    image = Image(np.random.default_rng(0).random((16, 16)).astype(np.float32), "YX")
    with pytest.warns(BelowBaselineWarning) as caught:
        predict(image, str(model_dir), device="cpu")
        predict(image, str(model_dir), device="cpu")
    assert len([w for w in caught if w.category is BelowBaselineWarning]) == 1   # once

    src = tmp_path / "in"
    src.mkdir()
    for k in range(2):
        save(image, src / f"i{k}.tif")
    import geosr.predict.core as core

    core._WARNED.clear()
    result = CliRunner().invoke(app, ["predict", str(src), "--model", str(model_dir),
                                      "--out", str(tmp_path / "out"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert result.output.count("dB below bicubic") == 1

    # geosr train ends with one warning line (not a Python warning dump)
    import yaml

    config = tmp_path / "plain.yaml"
    config.write_text(yaml.safe_dump(plain))
    result = CliRunner().invoke(app, ["train", str(config), "--out", str(tmp_path / "cli"),
                                      "--no-progress"])
    assert result.exit_code == 0, result.output
    assert result.output.count("warning: the model is") == 1
    assert "BelowBaselineWarning" not in result.output

    # the default model starts at bicubic: not below after a step of a tiny learning rate
    model_dir = train(TINY, out=tmp_path / "residual")
    summary = json.loads((model_dir.parent / "summary.json").read_text())
    assert abs(summary["val_psnr_norm_db"]["first"] - summary["val_psnr_norm_db"][
        "bicubic"]) < 0.01
    assert summary["below_baseline"]["below"] is False


def test_the_report_shows_the_baseline_record():
    from geosr.models.quality import baseline_record
    from geosr.report.tables import _baseline_text

    lost = {"validation": {"below_baseline": baseline_record(33.6, 34.6)}}
    won = {"validation": {"below_baseline": baseline_record(35.9, 34.6)}}
    assert _baseline_text(lost).startswith("WARNING: the model is 1.00 dB below bicubic")
    assert _baseline_text(won) == "+1.30 dB (35.90 vs 34.60 dB)"
    assert _baseline_text({}) == "not recorded"
    # at step 0 a residual model ties within float rounding: not "below"
    assert baseline_record(34.6 - 1e-5, 34.6)["below"] is False


@pytest.mark.parametrize("dims,shape", [(2, (1, 1, 20, 24)), (3, (1, 1, 6, 8, 10))])
def test_onnx_export_of_the_default_model_matches_torch(tmp_path, dims, shape):
    """The residual path exports to ONNX (Pad edge, Conv, Reshape/Transpose) with dynamic
    spatial sizes; onnxruntime gives torch's output."""
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    net = _randomise(build_model("fsrcnn", dims=dims, scale=2, preset="fast")).eval()
    axes = {0: "n", **{2 + k: f"s{k}" for k in range(dims)}}
    path = tmp_path / "m.onnx"
    torch.onnx.export(net, (torch.rand(*shape),), str(path), input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": axes}, opset_version=17,
                      dynamo=False)
    x = torch.rand(*[n + (3 if i > 1 else 0) for i, n in enumerate(shape)])
    y = ort.InferenceSession(str(path)).run(None, {"x": x.numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(y, net(x).numpy(), atol=1e-5)
