"""Deep ensembles: ``geosr train --ensemble N`` trains N members with seeds seed+i and writes
``ensemble.json``, which the trust layer's ensemble uncertainty reads."""

from __future__ import annotations

import json

import numpy as np
import yaml

from geosr.cli.main import main
from geosr.core import Image
from geosr.trust.uncertainty import ensemble_predict, load_ensemble

TINY = {
    "seed": 3, "scale": 2,
    "data": {"source": "phantom", "kind": "dentin", "size_um": 6.4, "spacing_um": 0.1,
             "train_seeds": [0], "val_seeds": [100],
             "degradation": {"fwhm_um": 0.2, "photons": 200, "variants": 1}},
    # residual_over none: with the zero-started residual tail, 3 steps leave every member
    # equal to bicubic and the ensemble spread at 0
    "model": {"name": "fsrcnn", "arguments": {"d": 4, "s": 2, "m": 1, "residual_over": "none"}},
    "loss": [{"name": "l1", "weight": 1.0}],
    "patch": {"size": 32},
    "train": {"steps": 3, "batch_size": 2, "lr": 1e-3, "checkpoint_every": 3, "threads": 1,
              "device": "cpu"},
    "validation": {"every": 3, "patience": None},
    "logging": {"every": 3, "progress": False},
}


def test_train_ensemble_cli_and_ensemble_uncertainty(tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY), encoding="utf-8")
    out = tmp_path / "ens"
    code = main(["train", str(config), "--out", str(out), "--ensemble", "2", "--no-progress"])
    assert code == 0, capsys.readouterr()
    doc = json.loads((out / "ensemble.json").read_text())
    assert doc["format"] == "geosr-ensemble" and [m["seed"] for m in doc["members"]] == [3, 4]
    assert doc["members"][0]["sha256"] != doc["members"][1]["sha256"]
    members = load_ensemble(out)
    assert [m.name for m in members] == ["model", "model"]
    lr = Image(np.random.default_rng(0).random((16, 16)).astype(np.float32) + 1, "YX",
               spacing=(0.2, 0.2))
    res = ensemble_predict(lr, out / "ensemble.json", device="cpu")
    assert res.members == 2 and res.mean.shape == (32, 32) and res.std.mean() > 0
    assert main(["train", str(config), "--out", str(tmp_path / "one"), "--ensemble", "1",
                 "--no-progress"]) == 2
