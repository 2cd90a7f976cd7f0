"""The CT training recipe: ``degradation: {modality: ct, ct: {...}}`` (issue 17)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from geosr.data import PhantomPairs
from geosr.data.specs import DegradationRanges


def _recipe(**ct):
    return dict(source="phantom", kind="cortical", size_um=656, spacing_um=10.25,
                bright=False, train_seeds=1, val_seeds=1,
                degradation={"modality": "ct", "variants": 2,
                             "ct": {"preset": "xtremect1", "n_angles": 60,
                                    "intensity_range": [0.15, 0.9], **ct}})


def test_phantom_pairs_degraded_by_ct_with_drawn_dose():
    data = PhantomPairs(**_recipe(i0={"low": 1e3, "high": 1e5, "log": True})).build(
        scale=4, seed=0)
    assert len(data.train) == 2 and len(data.val) == 1
    pair = data.train[0]
    assert pair.lr.shape == (1, 16, 16) and pair.hr.shape == (1, 64, 64)  # CYX
    draws = [p.meta["degradation"]["params"] for p in data.train]
    assert all(d["modality"] == "ct" and 1e3 <= d["i0"] <= 1e5 for d in draws)
    assert draws[0]["i0"] != draws[1]["i0"]           # one dose per variant
    assert data.degradation["summary"]["i0"]["log"] is True
    # the LR is a CT reconstruction, not a blur: same seed → same bytes, other recipe → other
    again = PhantomPairs(**_recipe(i0={"low": 1e3, "high": 1e5, "log": True})).build(
        scale=4, seed=0)
    np.testing.assert_array_equal(again.train[0].lr, pair.lr)
    image_domain = PhantomPairs(**{**_recipe(), "degradation": {"variants": 2}}).build(
        scale=4, seed=0)
    assert image_domain.fingerprint != data.fingerprint
    assert not np.allclose(image_domain.train[0].lr, pair.lr, atol=0.05)


@pytest.mark.parametrize("bad,where", [
    ({"modality": "ct", "photons": 100.0}, "photons"),
    ({"ct": {"i0": 1e3}}, "modality"),
    ({"modality": "ct", "ct": {"preset": "nope"}}, "preset"),
    ({"modality": "ct", "ct": {"angles": 100}}, "angles"),   # the field is n_angles
])
def test_ct_recipe_errors_name_the_field(bad, where):
    with pytest.raises(ValidationError, match=where):
        DegradationRanges(**bad)


def test_image_recipe_spec_unchanged():
    assert DegradationRanges(fwhm_um=[0.3, 0.6]).spec() == {
        "fwhm_um": [0.3, 0.6], "microscope": "widefield", "read_noise": 0.0, "offset": 0.0}
