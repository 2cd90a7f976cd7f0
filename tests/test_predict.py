"""Tiled prediction: tiled == untiled, geometry, normalisation undone, resumable folders,
input checks, and the ``geosr predict`` command."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from geosr.core import Image
from geosr.core.errors import ConfigError, InputError
from geosr.io import load, save
from geosr.models import build_model, load_model, save_model
from geosr.predict import predict, predict_files
from geosr.predict.tiling import axis_weight_sums, plan_axis


@pytest.fixture(autouse=True)
def _native_kernels():
    """oneDNN compiles a kernel for every new tensor shape (0.1-2 s each on a busy 2-core
    machine); these tests run many tiny shapes once each, so they use torch's native CPU
    kernels."""
    from geosr.models.summary import native_kernels

    with native_kernels():
        yield


def _saved(tmp_path, name, dims, scale, tag="", **kw):
    torch.manual_seed(0)
    module = build_model(name, dims=dims, scale=scale, **kw)
    return load_model(save_model(tmp_path / f"{name}{dims}{tag}", module))


def _image(shape, seed=0):
    return (np.random.default_rng(seed).random(shape) * 1000 + 50).astype(np.float32)


def _rel_error(a: Image, b: Image) -> float:
    return float(np.abs(a.data - b.data).max() / (b.data.max() - b.data.min()))


CASES = [  # name, dims, scale, narrow arguments, image shape, tile sizes beyond the minimum
    ("fsrcnn", 2, 3, {}, (37, 29), [5, 13]),
    ("edsr", 2, 2, {"features": 8, "blocks": 2}, (33, 40), [9, 17]),
    ("care", 2, 3, {"features": 4}, (30, 27), [4, 7]),
    ("unet_pix2pix", 2, 2, {"ngf": 4}, (90, 75), [5, 14]),
    ("espcn", 3, 2, {"features": 8, "features2": 4}, (20, 22, 18), [2, 6]),
    ("care", 3, (1, 2, 2), {"features": 2, "depth": 1}, (26, 20, 18), [2]),
]


def _tile(model, extra: int) -> list[int]:
    """Windows ``extra`` pixels longer than the smallest the receptive field allows (so most
    do not divide the image)."""
    from geosr.predict.core import model_geometry
    from geosr.predict.tiling import default_overlap

    geometry = model_geometry(model)
    return [-(-(default_overlap(h) + a) // a) * a + extra
            for h, a in zip(geometry["halo"], geometry["alignment"])]


@pytest.mark.parametrize("name,dims,scale,kw,shape,extras", CASES,
                         ids=[f"{c[0]}-{c[1]}d" for c in CASES])
def test_tiled_equals_untiled(tmp_path, name, dims, scale, kw, shape, extras):
    model = _saved(tmp_path, name, dims, scale, **kw)
    image = Image(_image(shape), "YX" if dims == 2 else "ZYX")
    whole = predict(image, model, device="cpu")
    assert whole.metadata["prediction"]["tiling"]["windows"] == 1
    for extra in extras:
        tile = _tile(model, extra)
        tiled = predict(image, model, tile=tile, device="cpu", batch_size=2)
        tiling = tiled.metadata["prediction"]["tiling"]
        assert tiling["windows"] > 1 and tiling["exact"]
        assert _rel_error(tiled, whole) <= 1e-4, (tile, tiling)


def test_tiled_equals_untiled_with_onednn(tmp_path):
    """The production CPU path (oneDNN kernels, which may change algorithm with the shape)."""
    torch.backends.mkldnn.enabled = True      # restored by the autouse fixture
    model = _saved(tmp_path, "edsr", 2, 3, features=8, blocks=1)
    image = _image((26, 31))
    whole = predict(image, model, device="cpu")
    tiled = predict(image, model, tile=_tile(model, 7), device="cpu", batch_size=3)
    assert tiled.metadata["prediction"]["tiling"]["windows"] > 1
    assert _rel_error(tiled, whole) <= 1e-4


def test_global_context_model_is_blended_and_flagged(tmp_path):
    model = _saved(tmp_path, "rcan", 2, 2, features=4, groups=1, blocks=1, reduction=2)
    image = _image((40, 36))
    whole, tiled = predict(image, model, device="cpu"), predict(image, model, tile=30,
                                                                 device="cpu")
    tiling = tiled.metadata["prediction"]["tiling"]
    assert tiling["global_context"] and not tiling["exact"]
    assert _rel_error(tiled, whole) < 1e-2


def test_tile_plan_and_weights():
    plan = plan_axis(100, tile=40, overlap=12, halo=4, align=1, scale=3)
    assert plan.starts == [0, 28, 56, 60] and plan.margins == [4, 4, 4]
    np.testing.assert_allclose(axis_weight_sums(plan), 1.0, atol=1e-12)   # a partition of unity
    for n, tile, overlap, halo, align in [(57, 20, None, 3, 4), (30, 12, 3, 5, 1), (9, 8, 2, 1, 2)]:
        plan = plan_axis(n, tile=tile, overlap=overlap, halo=halo, align=align, scale=2)
        assert all(start % align == 0 for start in plan.starts)
        assert plan.starts[-1] + plan.window == plan.length == -(-n // align) * align
        assert axis_weight_sums(plan).min() > 0
    assert not plan_axis(30, tile=12, overlap=3, halo=5, align=1, scale=2).exact_for(5)
    with pytest.raises(ConfigError, match="at least 16"):
        plan_axis(50, tile=12, overlap=10, halo=4, align=4, scale=2)


def test_memory_budget_chooses_tiles(tmp_path):
    model = _saved(tmp_path, "fsrcnn", 2, 2, d=8, s=4, m=1)
    image = _image((64, 48))
    whole = predict(image, model, device="cpu")
    small = predict(image, model, device="cpu", max_memory_mb=0.5)
    assert small.metadata["prediction"]["tiling"]["windows"] > 1
    assert _rel_error(small, whole) <= 1e-4
    with pytest.raises(ConfigError, match="max_memory.*MB"):
        predict(image, model, device="cpu", max_memory_mb=0.001)


def test_default_budget_never_blocks(tmp_path, monkeypatch):
    import geosr.predict.core as core

    monkeypatch.setattr(core, "DEFAULT_MAX_MEMORY_MB", 0.001)
    monkeypatch.setattr(core, "_physical_memory", lambda: None)
    model = _saved(tmp_path, "fsrcnn", 2, 2, d=8, s=4, m=1)
    image = _image((40, 30))
    out = predict(image, model, device="cpu")
    tiling = out.metadata["prediction"]["tiling"]
    assert tiling["windows"] > 1 and tiling["exact"]
    assert tiling["tile"] == [2 * (2 * h + max(2, -(-h // 4))) + 1
                              for h in tiling["halo"]]
    assert _rel_error(out, predict(image, model, device="cpu", tile=100)) <= 1e-4


def test_output_geometry(tmp_path):
    model = _saved(tmp_path, "espcn", 3, (1, 2, 4), features=4, features2=4)
    image = Image(_image((4, 6, 5)), "ZYX", spacing=(1.0, 0.4, 0.8), unit="um",
                  origin=(10.0, 1.0, 2.0), metadata={"source": "x.tif"})
    out = predict(image, model, device="cpu")
    assert out.shape == (4, 12, 20) and out.axes == "ZYX" and out.dtype == np.float32
    assert out.spacing == (1.0, 0.2, 0.2) and out.unit == "um"
    assert out.origin == pytest.approx((10.0, 1.0 - 0.1, 2.0 - 0.3))
    record = out.metadata["prediction"]
    assert record["model_sha256"] == model.sha256 and record["architecture"] == "espcn"
    assert record["device"] == "cpu" and record["scale"] == [1, 2, 4]
    assert out.metadata["source"] == "x.tif"


def _nearest_care(tmp_path, dims=2, scale=2, channels=1):
    """A CARE whose last convolution is zero: residual + nearest pre-upsampling = nearest
    upsampling of the normalised input, so the prediction must be the input's values."""
    torch.manual_seed(0)
    module = build_model("care", dims=dims, scale=scale, in_channels=channels, features=2,
                         depth=1, upsample="nearest")
    with torch.no_grad():
        module.net[-1].weight.zero_()
        module.net[-1].bias.zero_()
    return load_model(save_model(tmp_path / f"nearest{dims}{channels}", module))


def test_normalisation_is_undone(tmp_path):
    values = np.random.default_rng(1).integers(200, 40000, (9, 11)).astype(np.uint16)
    out = predict(values, _nearest_care(tmp_path), tile=8, overlap=4, device="cpu")
    expected = np.repeat(np.repeat(values.astype(np.float32), 2, 0), 2, 1)
    np.testing.assert_allclose(out.data, expected, rtol=0, atol=1e-5 * 40000)
    lo, hi = out.metadata["prediction"]["normalization"]["lo"], \
        out.metadata["prediction"]["normalization"]["hi"]
    assert lo == pytest.approx(np.percentile(values, 1.0))
    assert hi == pytest.approx(np.percentile(values, 99.8))


def test_channels_and_3d_identity(tmp_path):
    data = _image((2, 5, 6, 4))
    out = predict(Image(data, "CZYX"), _nearest_care(tmp_path, 3, 2, channels=2),
                  device="cpu")
    assert out.axes == "CZYX" and out.shape == (2, 10, 12, 8)
    np.testing.assert_allclose(out.data[:, ::2, ::2, ::2], data, rtol=1e-5)


def test_images_smaller_than_the_receptive_field(tmp_path):
    model = _saved(tmp_path, "edsr", 2, 2, features=4, blocks=2)
    assert predict(_image((2, 3)), model, device="cpu").shape == (4, 6)
    assert predict(_image((1, 1)), model, device="cpu").shape == (2, 2)


def test_input_checks(tmp_path):
    model2d = _saved(tmp_path, "espcn", 2, 2, features=4, features2=4)
    model3d = _saved(tmp_path, "espcn", 3, 2, features=4, features2=4)
    with pytest.raises(InputError, match="model is 3D but the image is 2D"):
        predict(_image((8, 8)), model3d, device="cpu")
    with pytest.raises(InputError, match="model is 2D but the image is 3D"):
        predict(_image((4, 8, 8)), model2d, device="cpu")
    with pytest.raises(InputError, match="channel"):
        predict(Image(_image((2, 8, 8)), "CYX"), model2d, device="cpu")
    nan = _image((8, 8))
    nan[3, 4] = np.nan
    with pytest.raises(InputError, match="NaN"):
        predict(nan, model2d, device="cpu")
    with pytest.raises(InputError, match="upsamples by"):
        predict(_image((8, 8)), model2d, scale=4, device="cpu")
    degraded = Image(_image((8, 8)), "YX", metadata={"degradation": {"scale": [4, 4]}})
    with pytest.raises(InputError, match="degraded by"):
        predict(degraded, model2d, device="cpu")
    assert predict(degraded, model2d, scale=2, device="cpu").shape == (16, 16)
    with pytest.raises(ConfigError, match="tile"):
        predict(_image((8, 8)), model2d, tile=0, device="cpu")
    with pytest.raises(InputError, match="model not found"):
        predict(_image((8, 8)), tmp_path / "missing", device="cpu")


def _folder(tmp_path, shapes):
    src = tmp_path / "lr"
    for i, shape in enumerate(shapes):
        axes = "YX" if len(shape) == 2 else "ZYX"
        save(Image(_image(shape, seed=i), axes, spacing=(0.5,) * len(shape)),
             src / f"img{i}.tif")
    return src


def test_folder_prediction_resumes(tmp_path):
    model = _saved(tmp_path, "fsrcnn", 2, 2, d=4, s=2, m=1)
    src, dst = _folder(tmp_path, [(12, 10), (9, 14), (11, 11)]), tmp_path / "sr"
    statuses = []
    outputs = predict_files(src, dst, model.path, device="cpu",
                            report=lambda s, o, status: statuses.append(status))
    assert [p.name for p in outputs] == ["img0.tif", "img1.tif", "img2.tif"]
    assert statuses == ["written"] * 3
    first = load(outputs[1])
    assert first.shape == (18, 28) and first.spacing == (0.25, 0.25)
    assert first.metadata["prediction"]["model_sha256"] == model.sha256
    mtimes = [p.stat().st_mtime_ns for p in outputs]
    statuses.clear()
    predict_files(src, dst, model.path, device="cpu",
                  report=lambda s, o, status: statuses.append(status))
    assert statuses == ["skipped"] * 3
    assert [p.stat().st_mtime_ns for p in outputs] == mtimes
    # a changed input, or another model, is recomputed
    os.utime(src / "img0.tif", ns=(1, 1))
    other = _saved(tmp_path, "fsrcnn", 2, 2, tag="b", d=4, s=3, m=1)
    statuses.clear()
    predict_files(src, dst, model, device="cpu",
                  report=lambda s, o, status: statuses.append(status))
    assert statuses == ["written", "skipped", "skipped"]
    statuses.clear()
    predict_files(src, dst, other, device="cpu",
                  report=lambda s, o, status: statuses.append(status))
    assert statuses == ["written"] * 3
    assert sorted(p.name for p in dst.iterdir()) == ["img0.tif", "img1.tif", "img2.tif"]


def test_folder_mismatch_writes_nothing(tmp_path):
    model = _saved(tmp_path, "fsrcnn", 2, 2, d=4, s=2, m=1)
    src, dst = _folder(tmp_path, [(12, 10), (4, 9, 9), (11, 11)]), tmp_path / "sr"
    with pytest.raises(InputError, match="img1.tif.*model is 2D but the image is 3D"):
        predict_files(src, dst, model, device="cpu")
    assert not dst.exists() or not any(dst.iterdir())
    with pytest.raises(ConfigError, match="overwrite the input"):
        predict_files(src / "img0.tif", src / "img0.tif", model, device="cpu")


def test_cli_predict(tmp_path):
    import typer
    from typer.testing import CliRunner

    from geosr.cli.predict import predict as predict_command

    app = typer.Typer()
    app.command()(predict_command)

    @app.callback()
    def main() -> None:
        """geosr (test app)."""

    model = _saved(tmp_path, "fsrcnn", 2, 2, d=4, s=2, m=1)
    src = _folder(tmp_path, [(12, 10), (9, 14)])
    runner = CliRunner()
    args = ["predict", str(src), "--model", str(model.path), "--out", str(tmp_path / "sr"),
            "--device", "cpu", "--tile", "24"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "2 output(s)" in result.output
    assert load(tmp_path / "sr" / "img1.tif").shape == (18, 28)
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "skipped" in again.output
    bad = runner.invoke(app, ["predict", str(src), "--model", str(tmp_path / "none"),
                              "--out", str(tmp_path / "x"), "--device", "cpu"])
    assert isinstance(bad.exception, InputError)
