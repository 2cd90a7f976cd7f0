"""What kind of model was loaded is a property of the :class:`LoadedModel`, not a dict-key
check at each place that needs it."""

from __future__ import annotations

import dataclasses

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
