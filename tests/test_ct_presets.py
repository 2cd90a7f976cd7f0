"""CT acquisition presets (geosr.degrade.ct_presets): values, sources, and the scale check."""

from __future__ import annotations

import numpy as np
import pytest

from geosr.core import Image
from geosr.core.errors import ConfigError
from geosr.degrade.ct_presets import PRESETS, ct_scan, get_preset


def test_preset_numbers_and_sources():
    x1, x2 = get_preset("xtremect1"), get_preset("xtremect2")
    assert (x1.voxel_um, x1.resolution_um, x1.n_angles) == (82.0, 130.0, 750)
    assert (x2.voxel_um, x2.n_angles) == (60.7, 900)
    # blur in quadrature with the voxel gives back the published resolution
    for p in PRESETS.values():
        assert np.hypot(p.detector_fwhm_um, p.voxel_um) == pytest.approx(p.resolution_um)
    assert "Burghardt" in PRESETS["xtremect1"].description
    # NIST: cortical bone attenuates ~4.8x more than water at 40 keV
    assert x1.mu_per_cm[1] / x1.mu_per_cm[0] == pytest.approx(4.76, abs=0.02)
    assert 1 <= get_preset("lab_microct").voxel_um / 5 <= 4  # 5-20 µm lab range
    assert get_preset("synchrotron").voxel_um < 2


def test_ct_scan_from_preset_and_bad_spacing():
    step = ct_scan("xtremect1", hr_spacing_um=82.0 / 4, i0=1e3, n_angles=60)
    assert (step.scale, step.i0, step.n_angles) == (4, 1e3, 60)
    out = step(Image(np.full((32, 32), 0.5), "YX", spacing=(20.5, 20.5)), 0)
    assert out.spacing == (82.0, 82.0) and out.shape == (8, 8)
    with pytest.raises(ConfigError, match="integer multiple"):
        ct_scan("xtremect2", hr_spacing_um=25.0)
    with pytest.raises(ConfigError, match="unknown CT preset"):
        ct_scan("medical", hr_spacing_um=10.0)
