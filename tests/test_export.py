"""Models that leave geosr: the generated pure-torch architecture, ONNX against geosr's tiled
prediction, bioimage.io packages checked by bioimageio.core's own ``test_model`` (both weight
formats, 2D and 3D, x2 and x4), the calibration card in a package, and ``geosr predict`` on a
package (round trip). Offline: packages hold no URL; bioimage.io's cache goes to a temp dir."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("BIOIMAGEIO_HTTP_TIMEOUT", "1")
os.environ.setdefault("BIOIMAGEIO_CACHE_PATH", tempfile.mkdtemp(prefix="geosr-bioimageio-"))

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
pytest.importorskip("bioimageio.core", reason="the bioimageio extra is not installed")

from geosr.cli.main import main  # noqa: E402
from geosr.core.errors import ConfigError, InputError  # noqa: E402
from geosr.models import build_model, load_model, save_model  # noqa: E402

TINY = dict(d=8, s=4, m=1)   # FSRCNN of ~1-7 k parameters


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("export")


@pytest.fixture(scope="module")
def tiny_model(workdir):
    """Factory (dims, scale) -> folder of a tiny random FSRCNN (cached per module)."""
    cache = {}

    def make(dims, scale):
        if (dims, scale) not in cache:
            torch.manual_seed(dims * 10 + scale)
            net = build_model("fsrcnn", dims=dims, scale=scale, **TINY)
            with torch.no_grad():    # random, non-trivial weights (the output layer starts at 0)
                for p in net.parameters():
                    p.add_(0.05 * torch.randn_like(p))
            cache[dims, scale] = save_model(workdir / f"fsrcnn{dims}d_x{scale}", net,
                                            {"seed": 0})
        return cache[dims, scale]
    return make


@pytest.fixture(scope="module")
def package(tiny_model, workdir):
    """Factory (dims, scale) -> bioimage.io package of the tiny model (cached per module)."""
    from geosr.export import export_bioimageio

    cache = {}

    def make(dims, scale):
        if (dims, scale) not in cache:
            cache[dims, scale] = export_bioimageio(tiny_model(dims, scale),
                                                   workdir / f"pkg{dims}d_x{scale}.zip",
                                                   test=False)
        return cache[dims, scale]
    return make


def _phantom_lr(dims, scale, shape):
    """A degraded dentin phantom of LR ``shape`` (real structure, not noise)."""
    import geosr

    spacing = 0.1 if dims == 2 else 0.2
    truth = geosr.phantom("dentin", dims=dims, spacing_um=spacing, seed=1,
                          size_um=tuple(n * scale * spacing for n in shape))
    return geosr.degrade(truth.image, scale=scale, fwhm_um=2 * scale * spacing, seed=1)


# ----------------------------------------------------------------------------- torch source
@pytest.mark.parametrize("name,dims,arguments", [
    ("fsrcnn", 2, dict(TINY, residual_over="bicubic")),
    ("care", 2, dict(depth=2, features=4)),
    ("rcan", 3, dict(features=8, groups=1, blocks=1, reduction=4)),
])
def test_generated_architecture_is_pure_torch_and_exact(tmp_path, name, dims, arguments):
    from geosr.export.graph import input_grid, trace_model
    from geosr.export.source import architecture_source, module_from_source

    torch.manual_seed(0)
    net = build_model(name, dims=dims, scale=2, **arguments)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    loaded = load_model(save_model(tmp_path / "m", net, {}))
    text = architecture_source(loaded, trace_model(loaded))
    assert "geosr" not in "".join(line for line in text.splitlines()
                                  if line.startswith(("import", "from")))
    generated = module_from_source(text).eval()
    generated.load_state_dict(loaded.module.state_dict(), strict=True)
    step, minimum = input_grid(loaded)
    # a size other than the traced one, on the model's grid (U-Nets: multiples of alignment)
    size = [m + 3 * s for m, s in zip(minimum, step)]
    x = torch.rand(2, 1, *size)
    with torch.no_grad():
        expected = loaded.module(x)
        got = generated(x)
    assert got.shape == expected.shape == (2, 1, *[2 * n for n in size])
    assert float((got - expected).abs().max()) == 0.0


# ----------------------------------------------------------------------------- ONNX
@pytest.mark.parametrize("dims,scale,shape,tile", [(2, 2, (72, 60), 24), (3, 2, (24, 20, 18), 14)])
def test_onnx_agrees_with_tiled_geosr_predict(tiny_model, tmp_path, dims, scale, shape, tile):
    """``geosr export --format onnx``, then onnxruntime on the whole normalised image against
    geosr.predict cut into tiles: within 1e-4 of the prediction's data range."""
    import geosr
    from geosr.export import run_onnx

    model = tiny_model(dims, scale)
    out = tmp_path / "m.onnx"
    assert main(["export", str(model), "--format", "onnx", "--out", str(out)]) == 0
    lr = _phantom_lr(dims, scale, shape)
    sr = geosr.predict(lr, model, tile=tile, device="cpu")
    record = sr.metadata["prediction"]
    assert record["tiling"]["windows"] > 1
    lo, hi, eps = (record["normalization"][k] for k in ("lo", "hi", "eps"))
    x = ((lr.numpy().astype(np.float32) - np.float32(lo)) / np.float32(hi - lo + eps))
    y = run_onnx(out, x[None, None])[0, 0] * np.float32(hi - lo + eps) + np.float32(lo)
    assert y.shape == sr.shape == tuple(n * scale for n in shape)
    data_range = float(sr.numpy().max() - sr.numpy().min())
    assert data_range > 0
    assert float(np.abs(y - sr.numpy()).max()) <= 1e-4 * data_range


# ----------------------------------------------------------------------------- bioimage.io
@pytest.mark.parametrize("dims,scale", [
    (2, 2), pytest.param(2, 4, marks=pytest.mark.slow),
    pytest.param(3, 2, marks=pytest.mark.slow), (3, 4)])
def test_bioimageio_package_passes_test_model(package, dims, scale):
    from bioimageio.spec import InvalidDescr, load_description
    from bioimageio.spec.model.v0_5 import AxisId, TensorId

    from geosr.export import test_package

    path = package(dims, scale)
    assert test_package(path) == {"pytorch_state_dict": "passed", "onnx": "passed"}
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        rdf = zf.read("rdf.yaml").decode()
    assert {"rdf.yaml", "model.py", "weights.pt", "model.onnx", "test_input.npy",
            "test_output.npy", "cover.png", "README.md", "model.json",
            "weights.safetensors"} <= names
    assert "http" not in rdf.lower()
    descr = load_description(path, perform_io_checks=False)
    assert not isinstance(descr, InvalidDescr)
    spatial = ("z", "y", "x")[3 - dims:]
    sizes = {TensorId("lr"): {AxisId("batch"): 1, AxisId("channel"): 1,
                              **{AxisId(a): 21 + i for i, a in enumerate(spatial)}}}
    out = descr.get_output_tensor_sizes(sizes)[TensorId("sr")]
    assert [out[AxisId(a)] for a in spatial] == [(21 + i) * scale for i in range(dims)]
    in_axes = {a.id: a for a in descr.inputs[0].axes}
    out_axes = {a.id: a for a in descr.outputs[0].axes}
    for a in spatial:
        assert in_axes[AxisId(a)].scale / out_axes[AxisId(a)].scale == scale
        assert in_axes[AxisId(a)].unit == "micrometer"


def test_package_carries_the_calibration_card(tiny_model, tmp_path):
    from geosr.export import export_bioimageio
    from geosr.trust.card import CARD_FORMAT, CARD_VERSION

    model = tiny_model(2, 2)
    sha = load_model(model).sha256
    card = {"format": CARD_FORMAT, "version": CARD_VERSION, "model": {"sha256": sha},
            "acquisition": {"scale": [2, 2], "lr_spacing_um": [0.2, 0.2]},
            "data": {"pairs": "held-out", "n_images": 12, "simulated": True},
            "uncertainty": {"kind": "tta"},
            "intervals": {"crc": {"alpha": 0.1, "lambda": 1.75,
                                  "guarantee": "expected fraction of missed pixels <= 0.1"},
                          "interval": "prediction +/- lambda * u"},
            "scope": "simulated pairs"}
    (tmp_path / "card.json").write_text(json.dumps(card))
    out = export_bioimageio(model, tmp_path / "p.zip", card=tmp_path / "card.json",
                            weights=("pytorch_state_dict",), test=False)
    with zipfile.ZipFile(out) as zf:
        assert json.loads(zf.read("calibration.json")) == card
        readme = zf.read("README.md").decode()
        rdf = zf.read("rdf.yaml").decode()
    assert "calibration.json" in rdf and "model.onnx" not in rdf
    assert "lambda = 1.75" in readme and "12 held-out images" in readme
    assert "# Validation" in readme
    from geosr.trust.card import resolve_card     # `geosr predict --model p.zip --trust` finds it

    assert resolve_card("auto", load_model(out)).data == card
    assert resolve_card("auto", load_model(model)) is None       # the folder has no card
    other = dict(card, model={"sha256": "0" * 64})
    (tmp_path / "other.json").write_text(json.dumps(other))
    with pytest.raises(InputError, match="other weights"):
        export_bioimageio(model, tmp_path / "q.zip", card=tmp_path / "other.json", test=False)
    assert not (tmp_path / "q.zip").exists()


def test_geosr_predict_accepts_the_package(package, tiny_model, tmp_path):
    """Round trip: ``geosr predict --model PACKAGE.zip`` equals the model folder's output."""
    import geosr

    lr = _phantom_lr(2, 2, (40, 36))
    geosr.save(lr, tmp_path / "lr.tif")
    assert main(["predict", str(tmp_path / "lr.tif"), "--model", str(package(2, 2)),
                 "--out", str(tmp_path / "sr.tif"), "--device", "cpu"]) == 0
    from_package = geosr.load(tmp_path / "sr.tif")
    direct = geosr.predict(lr, tiny_model(2, 2), device="cpu")
    assert np.array_equal(from_package.numpy(), direct.numpy())
    assert from_package.spacing == pytest.approx(direct.spacing)
    assert load_model(package(2, 2)).sha256 == load_model(tiny_model(2, 2)).sha256


def test_a_foreign_bioimageio_zip_is_named_as_such(tmp_path):
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("rdf.yaml", "type: model\n")
        zf.writestr("weights.pt", b"\x80\x04")
    with pytest.raises(InputError, match="bioimage.io package"):
        load_model(tmp_path / "other.zip")


def test_cli_export_refuses_bad_options_before_any_work(tiny_model, tmp_path, capsys):
    model = str(tiny_model(2, 2))
    cases = [
        (["export", model, "--format", "tflite", "--out", str(tmp_path / "a.zip")], "--format"),
        (["export", model, "--format", "onnx", "--out", str(tmp_path / "a.zip")], ".onnx"),
        (["export", model, "--out", str(tmp_path / "a.onnx")], ".zip"),
        (["export", str(tmp_path / "nope"), "--out", str(tmp_path / "a.zip")], "not found"),
        (["export", model, "--format", "onnx", "--sample", model, "--out",
          str(tmp_path / "a.onnx")], "--sample"),
        (["export", model, "--weights", "keras", "--out", str(tmp_path / "a.zip")], "keras"),
    ]
    for argv, needle in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert needle in err and "Traceback" not in err, (argv, err)
    assert not list(tmp_path.glob("a.*"))


def test_export_front_door_refuses_an_unknown_format(tiny_model, tmp_path):
    from geosr.export import export

    with pytest.raises(ConfigError, match="unknown export format"):
        export(tiny_model(2, 2), tmp_path / "x.zip", format="keras")
