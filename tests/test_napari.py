"""The napari plugin: manifest (npe2), reader/writer round trips with physical scale and
translation, sample data, and the Predict → Trust → Assess widgets driven headless (Qt
``offscreen``; the widgets act on a ``napari.components.ViewerModel``, so no OpenGL canvas is
needed)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

napari = pytest.importorskip("napari", reason="the napari extra is not installed")
npe2 = pytest.importorskip("npe2")
pytest.importorskip("pytestqt", reason="pytest-qt is not installed")
torch = pytest.importorskip("torch")

import geosr  # noqa: E402
from geosr.core.image import Image  # noqa: E402
from geosr.models import build_model, save_model  # noqa: E402

MANIFEST = Path(geosr.__file__).parent / "napari" / "napari.yaml"


# ----------------------------------------------------------------------------- manifest
def test_manifest_is_valid_and_lists_every_contribution():
    result = subprocess.run([sys.executable, "-m", "npe2", "validate", str(MANIFEST)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "valid" in result.stdout, result.stdout + result.stderr
    manifest = npe2.PluginManifest.from_file(MANIFEST)
    contributions = manifest.contributions
    assert {w.display_name for w in contributions.widgets} == {"Predict", "Trust", "Assess"}
    assert {s.key for s in contributions.sample_data} == {"dentin_2d", "lcn_3d"}
    assert {".ome.tif", ".zarr"} <= set(contributions.writers[0].filename_extensions)
    # every command resolves to an importable callable
    for command in contributions.commands:
        module, name = command.python_name.split(":")
        assert callable(getattr(__import__(module, fromlist=[name]), name)), command.id


def test_the_installed_package_registers_the_manifest():
    pm = npe2.PluginManager()
    pm.discover()
    assert "geosr" in {m.name for m in pm.iter_manifests()}, \
        "reinstall geosr (pip install -e .) so the napari.manifest entry point exists"


# ----------------------------------------------------------------------------- reader/writer
@pytest.mark.parametrize("ext", [".tif", ".ome.tif", ".npy", ".nrrd", ".zarr"])
def test_reader_gives_layers_physical_scale_and_translation(tmp_path, ext):
    from geosr.napari._reader import get_reader

    rng = np.random.default_rng(0)
    image = Image(rng.random((6, 10, 12), dtype=np.float32), "ZYX", spacing=(0.5, 0.25, 0.2),
                  origin=(1.0, -2.0, 0.1))
    path = geosr.save(image, tmp_path / f"vol{ext}")
    reader = get_reader(str(path))
    assert reader is not None
    [(data, kwargs, kind)] = reader(str(path))
    assert kind == "image"
    assert kwargs["scale"] == pytest.approx((0.5, 0.25, 0.2))
    assert kwargs["translate"] == pytest.approx((1.0, -2.0, 0.1))
    assert np.array_equal(np.asarray(data), image.data)
    assert get_reader(str(tmp_path / "notes.txt")) is None
    assert get_reader(12) is None     # never raises


@pytest.mark.parametrize("ext", [".ome.tif", ".zarr"])
def test_writer_round_trip(tmp_path, ext):
    from geosr.napari._writer import write_image

    data = np.arange(8 * 9, dtype=np.float32).reshape(8, 9)
    [written] = write_image(str(tmp_path / f"layer{ext}"), data,
                            {"name": "x", "scale": (0.4, 0.3), "translate": (0.2, 0.15),
                             "metadata": {"geosr": {"note": "kept"}}})
    back = geosr.load(written)
    assert np.array_equal(back.numpy(), data)
    assert back.spacing_um == pytest.approx((0.4, 0.3))
    assert back.origin == pytest.approx((0.2, 0.15))


def test_sample_data_are_aligned_in_physical_space():
    from geosr.napari._sample import dentin_2d

    (lr, lr_kw, lr_kind), (hr, hr_kw, _), (mask, mask_kw, mask_kind) = dentin_2d()
    assert (lr_kind, mask_kind) == ("image", "labels")
    assert lr.shape == (64, 64) and hr.shape == mask.shape == (256, 256)
    assert np.array_equal(np.asarray(lr_kw["scale"]), 4 * np.asarray(hr_kw["scale"]))
    # first-pixel centres: LR at half its pixel, truth at half its own pixel (same corner)
    for kw in (lr_kw, hr_kw, mask_kw):
        assert kw["translate"] == pytest.approx(tuple(s / 2 for s in kw["scale"]))
    assert set(np.unique(mask)) == {0, 1} and 0.01 < mask.mean() < 0.5


# ----------------------------------------------------------------------------- widgets
@pytest.fixture(scope="module")
def tiny_x4(tmp_path_factory):
    torch.manual_seed(0)
    net = build_model("fsrcnn", dims=2, scale=4, d=8, s=4, m=1)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return save_model(tmp_path_factory.mktemp("napari") / "m", net, {})


@pytest.fixture
def viewer():
    from napari.components import ViewerModel

    from geosr.napari._sample import dentin_2d

    model = ViewerModel()
    for data, kwargs, kind in dentin_2d():
        getattr(model, f"add_{kind}")(data, **kwargs)
    return model


def _wait(qtbot, widget, timeout=300_000):
    """Until the widget reports a result or an error (set from the worker's signals), then
    until its thread is done. (``is_running`` alone is False before the thread starts.)"""
    qtbot.waitUntil(lambda: widget.status.value not in ("", "running..."), timeout=timeout)
    qtbot.waitUntil(lambda: not widget.worker.is_running, timeout=30_000)


def test_predict_trust_assess_widgets_on_a_phantom(qtbot, viewer, tiny_x4):
    from geosr.napari._widgets import AssessWidget, PredictWidget, TrustWidget

    lr_layer = viewer.layers["dentin LR x4"]
    predict = PredictWidget(viewer)
    assert set(predict.image.choices) == {"dentin LR x4", "dentin truth"}
    predict.folder.value = True                    # the model is a folder: browse folders
    assert predict.model.mode.value == "d"
    predict.image.value, predict.model.value = "dentin LR x4", str(tiny_x4)
    predict.tile.value, predict.device.value = 24, "cpu"
    predict.run()                                  # worker thread
    _wait(qtbot, predict)
    assert predict.error is None, predict.status.value
    sr = viewer.layers["dentin LR x4 SR x4"]
    assert sr.data.shape == (256, 256)
    assert np.allclose(sr.scale, lr_layer.scale / 4)
    # centre of the first SR pixel = LR origin - (s-1)/(2s) LR pixel: the truth's own centre
    assert np.allclose(sr.translate, viewer.layers["dentin truth"].translate)
    assert np.allclose(sr.translate, lr_layer.translate - 3 * lr_layer.scale / 8)
    expected = geosr.predict(Image(np.asarray(lr_layer.data), "YX", spacing=(0.4, 0.4),
                                   origin=(0.2, 0.2)), tiny_x4, tile=24, device="cpu")
    assert np.array_equal(sr.data, expected.numpy())
    assert predict.progress.value == predict.progress.max > 1

    trust = TrustWidget(viewer)
    trust.prediction.value, trust.lr.value = sr.name, lr_layer.name
    trust.uncertainty.value = "none"
    trust.run()
    _wait(qtbot, trust)
    assert trust.error is None, trust.status.value
    verdict = viewer.layers[f"{sr.name} verdict"]
    assert type(verdict).__name__ == "Labels"
    assert set(np.unique(verdict.data)) <= {1, 2, 3}
    report = geosr.trust.report.trust_report(expected, Image(np.asarray(lr_layer.data), "YX",
                                                             spacing=(0.4, 0.4),
                                                             origin=(0.2, 0.2)),
                                             model=tiny_x4, uncertainty=None)
    assert np.array_equal(verdict.data, report.maps["verdict"].numpy() + 1)
    assert np.allclose(verdict.scale, report.maps["verdict"].spacing)
    assert np.allclose(viewer.layers[f"{sr.name} nullspace"].scale, sr.scale)
    assert trust.summary.value.startswith(f"verdict: {report.summary['verdict']['image']}")

    assess = AssessWidget(viewer)
    assess.prediction.value, assess.truth.value = sr.name, "dentin truth mask"
    assess.run()
    _wait(qtbot, assess)
    assert assess.error is None, assess.status.value
    table = assess.table.to_dict("list")
    porosity = table["prediction"][table["metric"].index("porosity")]
    assert porosity == pytest.approx(assess.result.value("porosity"), abs=1e-6)
    missed = viewer.layers[f"{sr.name} missed"]
    invented = viewer.layers[f"{sr.name} invented"]
    assert np.array_equal(missed.data, assess.result.gt_mask & ~assess.result.pred_mask)
    assert np.array_equal(invented.data, assess.result.pred_mask & ~assess.result.gt_mask)
    assert np.allclose(missed.scale, sr.scale) and np.allclose(invented.translate, sr.translate)
    assert missed.data.any() or invented.data.any()


def test_predict_can_be_cancelled_and_reports_bad_input(qtbot, viewer, tiny_x4):
    from geosr.napari._widgets import PredictWidget

    widget = PredictWidget(viewer)
    widget.image.value, widget.model.value = "dentin LR x4", str(tiny_x4)
    widget.tile.value, widget.device.value = 16, "cpu"      # many batches of tiles
    widget.run()
    widget.cancel()
    _wait(qtbot, widget)
    assert widget.status.value == "cancelled"
    assert "dentin LR x4 SR x4" not in [layer.name for layer in viewer.layers]

    widget.model.value = str(tiny_x4.parent / "missing")
    assert widget.run(sync=True) is None
    assert widget.status.value.startswith("error:") and "model not found" in widget.status.value


def test_a_widget_without_its_hooks_is_refused_when_defined():
    """The widget base class names the hooks a widget must define (``_job``, ``_done``)."""
    from geosr.napari._widgets import _GeosrWidget

    with pytest.raises(TypeError, match="_done"):
        class Incomplete(_GeosrWidget):
            def _job(self):
                return lambda: None
