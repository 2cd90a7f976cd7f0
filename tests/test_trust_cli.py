"""Acceptance: ``geosr predict --trust`` on a degraded phantom writes the maps and a verdict;
``geosr calibrate`` writes a card bound to the model; ``geosr trust`` shows intervals only
when the card matches; errors exit 2 and leave nothing behind."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from geosr.cli.main import main
from geosr.core import Image
from geosr.degrade import degrade
from geosr.io import load, save
from geosr.models import build_model, save_model

DEGRADE = dict(scale=2, fwhm_um=0.2, photons=200.0, read_noise=0.01)


@pytest.fixture(autouse=True)
def _native_kernels():
    from geosr.models.summary import native_kernels

    with native_kernels():
        yield


def _model(path, seed=0):
    torch.manual_seed(seed)
    return save_model(path, build_model("fsrcnn", dims=2, scale=2, d=4, s=2, m=1))


def _hr(seed):
    from geosr.phantoms import phantom

    img = phantom("dentin", dims=2, size_um=6.4, spacing_um=0.1, seed=seed).image
    return img.replace(data=np.asarray(img.numpy(), np.float64) + 0.2)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("trust_cli")
    model = _model(root / "model")
    other = _model(root / "other", seed=1)
    lr = degrade(_hr(0), seed=0, **DEGRADE)
    save(lr, root / "lr.tif")
    for k in range(8):   # held-out calibration pairs (HR in the LR's units: no quantisation)
        hr = _hr(100 + k)
        save(degrade(hr, seed=k, **DEGRADE), root / "pairs" / "lr" / f"p{k}.tif")
        save(hr.replace(data=hr.numpy().astype(np.float32)), root / "pairs" / "hr" / f"p{k}.tif")
    return {"root": root, "model": model, "other": other, "lr": root / "lr.tif"}


def test_predict_trust_writes_maps_and_verdict(files, capsys):
    root = files["root"]
    out = root / "sr.tif"
    code = main(["predict", str(files["lr"]), "--model", str(files["model"]), "--out", str(out),
                 "--device", "cpu", "--trust"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    folder = root / "sr.trust"
    names = {p.name for p in folder.iterdir()}
    assert {"trust.json", "verdict.tif", "consistency_z.tif", "consistency_p.tif",
            "squirrel_residual.tif", "nullspace.tif", "nullspace_energy.tif",
            "uncertainty_std.tif"} <= names
    assert "interval_lower.tif" not in names          # no card: no intervals
    summary = json.loads((folder / "trust.json").read_text())
    assert summary["verdict"]["image"] == "red"       # uncalibrated: "I don't know"
    assert any("no calibration card" in r for r in summary["verdict"]["global_reasons"])
    assert "correct" not in json.dumps(summary["verdict"]).replace("incorrect", "")
    verdict, sr = load(folder / "verdict.tif"), load(out)
    assert verdict.shape == (4, 4) and verdict.spacing == pytest.approx((1.6, 1.6))
    # the tile map overlays the LR image: its origin is the centre of the first 8x8 LR tile
    lr = load(files["lr"])
    assert verdict.origin == pytest.approx(tuple(o + 3.5 * s for o, s in
                                                 zip(lr.origin, lr.spacing)))
    assert load(folder / "nullspace.tif").spacing == pytest.approx(sr.spacing)
    assert load(folder / "consistency_z.tif").shape == (32, 32)
    assert "trust: red" in printed


def test_calibrate_then_trust_shows_intervals_only_for_matching_card(files, capsys):
    import shutil

    root = files["root"]
    model = shutil.copytree(files["model"], root / "model_cal")   # same weights, own card
    sr = root / "sr2.tif"
    assert main(["predict", str(files["lr"]), "--model", str(files["model"]), "--out", str(sr),
                 "--device", "cpu"]) == 0
    code = main(["calibrate", "--model", str(model), "--pairs", str(root / "pairs"),
                 "--alpha", "0.2", "--tta-members", "4", "--model-features"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    card = json.loads((model / "calibration.json").read_text())
    assert card["model"]["sha256"] == load(sr).metadata["prediction"]["model_sha256"]
    assert card["data"]["n_images"] == 8 and card["acquisition"]["signature"]["gain"] == 0.005
    assert float(card["intervals"]["crc"]["lambda"]) > 0
    assert card["ood"]["alpha"] == 0.01 and "cannot give" in card["ood_note"]   # 8 inputs only
    assert card["ood_features"]["layer"] and len(card["ood_features"]["center"]) == 4
    assert main(["trust", str(sr), str(files["lr"]), "--model", str(model)]) == 0
    summary = json.loads((root / "sr2.trust" / "trust.json").read_text())
    assert "interval_lower.tif" in summary["maps"] and summary["intervals"]["kind"] == "crc"
    assert 0 < summary["ood"]["pvalue_features"] <= 1 and summary["ood"]["flag"] is False
    lower, upper = load(root / "sr2.trust" / "interval_lower.tif"), load(
        root / "sr2.trust" / "interval_upper.tif")
    assert np.all(lower.numpy() <= load(sr).numpy() + 1e-6)
    assert np.all(upper.numpy() >= load(sr).numpy() - 1e-6)
    # the same card with another model: intervals refused
    out = root / "other.trust"
    assert main(["trust", str(sr), str(files["lr"]), "--model", str(files["other"]),
                 "--card", str(model / "calibration.json"), "--out", str(out)]) == 0
    refused = json.loads((out / "trust.json").read_text())
    assert "interval_lower.tif" not in refused["maps"] and refused["intervals"]["refused"]
    assert refused["verdict"]["image"] == "red"


def test_trust_error_exits_2_without_output(files, capsys):
    root = files["root"]
    small = root / "small.tif"
    save(Image(np.ones((10, 10), np.float32), "YX"), small)
    out = root / "bad.trust"
    code = main(["trust", str(small), str(files["lr"]), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "error" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_public_names_stay_functions_after_their_modules_are_imported():
    """A lazily exported function must not share its module's name: importing the submodule
    would replace the function on the package by the module."""
    import importlib

    import geosr.trust as trust

    for name, module in trust._EXPORTS.items():
        importlib.import_module(module)
        assert module.rsplit(".", 1)[-1] != name, f"{name} shadowed by module {module}"
        assert not isinstance(getattr(trust, name), type(trust)), name
