"""What kind of model was loaded is a property of the :class:`LoadedModel`, not a dict-key
check at each place that needs it."""

from __future__ import annotations

import dataclasses
import functools

from geosr.models import build_model
from geosr.models.files import load_model, save_model
from geosr.predict.isotropic import is_isotropic


def test_kind_properties_of_a_loaded_model(tmp_path):
    plain = load_model(save_model(tmp_path / "plain", build_model("espcn", dims=2, scale=2,
                                                                 features=4)))
    hetero = load_model(save_model(tmp_path / "hetero", build_model(
        "hetero", dims=2, scale=2, base="espcn", base_arguments='{"features": 4}')))
    assert (plain.is_heteroscedastic, plain.is_geometry_informed, plain.is_isotropic) == (
        False, False, False)
    assert hetero.is_heteroscedastic and not hetero.is_isotropic
    iso = dataclasses.replace(plain, spec={**plain.spec, "isotropic": {"factor": 2}})
    assert iso.is_isotropic and is_isotropic(iso) and not is_isotropic(plain)
    assert not is_isotropic(object())


def _counting(function, calls, *args, **kwargs):
    calls.append(args)
    return function(*args, **kwargs)


def test_geosr_predict_loads_the_model_once_for_a_folder(tmp_path, monkeypatch):
    """The CLI resolves the model at the edge and passes the LoadedModel down: three files are
    predicted with one ``load_model`` call, and every output records that model's hash."""
    import numpy as np

    import geosr.models.files as files
    import geosr.predict.batch as batch
    import geosr.predict.core as core
    from geosr.cli.main import main
    from geosr.core import Image
    from geosr.io import load, save

    model = save_model(tmp_path / "m", build_model("espcn", dims=2, scale=2, features=4))
    for i in range(3):
        save(Image(np.random.default_rng(i).random((12, 12)).astype(np.float32), "YX",
                   spacing=(0.2, 0.2)), tmp_path / "lr" / f"im{i}.tif")
    calls = []

    def counting_load(*args, **kwargs):
        calls.append(args[0])
        return load_model(*args, **kwargs)

    monkeypatch.setattr(files, "load_model", counting_load)
    resolved = []
    for module in (core, batch):   # the CLI's resolution, then predict_files' check of it
        monkeypatch.setattr(module, "resolve_model", functools.partial(
            _counting, module.resolve_model, resolved))
    assert main(["predict", str(tmp_path / "lr"), "--model", str(model), "--out",
                 str(tmp_path / "sr"), "--device", "cpu"]) == 0
    assert len(calls) == 1
    assert len(resolved) == 2     # not once more per file
    outs = sorted((tmp_path / "sr").iterdir())
    assert [p.name for p in outs] == ["im0.tif", "im1.tif", "im2.tif"]
    hashes = {load(p).metadata["prediction"]["model_sha256"] for p in outs}
    assert hashes == {load_model(model).sha256} and load(outs[0]).shape == (24, 24)


def test_the_geometry_cache_does_not_mix_models_with_the_same_weights(tmp_path):
    """A care net's upsampling has no weights: at scale 2 and 3 the same seed gives the same
    weights hash, but not the same halo and alignment (the cache once returned the first)."""
    import torch

    from geosr.predict.core import model_geometry

    loaded = []
    for scale in (2, 3):
        torch.manual_seed(0)
        loaded.append(load_model(save_model(tmp_path / f"x{scale}", build_model(
            "care", dims=2, scale=scale, features=4))))
    assert loaded[0].sha256 == loaded[1].sha256
    first, second = (model_geometry(m) for m in loaded)
    assert (first["halo"], first["alignment"]) == ([12, 12], [2, 2])
    assert (second["halo"], second["alignment"]) == ([8, 8], [4, 4])
