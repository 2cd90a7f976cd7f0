"""Network metrics on real data (``../shared/data``, see its PROVENANCE.md files).

Measured values (geosr 0.1.0) are written here with their tolerances:

- Ketton limestone, 256³ {0, 255}, pores = 0-valued voxels: porosity 0.12686 (= the pore-voxel
  fraction exactly; the file carries no voxel size, so only dimensionless numbers are checked).
- LHDL human trabecular bone, 200³ at 19.5 µm (a 3.9 mm cube), bone = value > 142 (ciclope's
  fixed threshold): BV/TV 0.0945, Tb.Th (mean local-thickness diameter of the bone phase)
  166.8 µm, Conn.D 3.34 mm⁻³; with Otsu (threshold 84): BV/TV 0.186, Tb.Th 216.9 µm, Conn.D
  5.19 mm⁻³. Human trabecular bone: BV/TV 0.05–0.40, Tb.Th 80–300 µm, Conn.D 1–15 mm⁻³.
- Shrew trabecular bone mask, 115×114×114 at 4.1 µm: χ = −19 (26-connected bone), identical to
  scikit-image; β = (1, 20, 0); Conn.D 224.5 mm⁻³; BV/TV 0.2935; Tb.Th 61.3 µm.
"""

from __future__ import annotations

import numpy as np
import pytest
from skimage.measure import euler_number

from geosr.assess.network import Segmentation, assess_network
from geosr.assess.network.topology import betti_numbers, connectivity_density, euler_characteristic
from geosr.io import load

pytestmark = pytest.mark.data


def test_ketton_porosity_is_the_pore_voxel_fraction(data_dir):
    img = load(data_dir / "rock" / "imperial_ketton_binary" / "ketton_256cube_binary_uint8.tif")
    values = img.numpy()
    assert set(np.unique(values).tolist()) == {0, 255}
    res = assess_network(img, segmentation=Segmentation(method="mask", bright=False),
                         metrics="porosity,components")
    fraction = float(np.count_nonzero(values == 0)) / values.size
    assert res.value("porosity") == fraction
    assert res.value("porosity") == pytest.approx(0.12686, abs=5e-6)
    assert res.value("components") > 0
    assert any("no physical calibration" in n for n in res.notes)


@pytest.mark.parametrize("seg,expected", [
    (Segmentation(method="fixed", threshold=142), dict(bvtv=0.0945, tbth=166.8, connd=3.34)),
    (Segmentation(method="otsu"), dict(bvtv=0.1864, tbth=216.9, connd=5.19)),
])
def test_lhdl_trabecular_bone_bvtv_tbth_connd(data_dir, seg, expected):
    img = load(data_dir / "bone" / "lhdl_trabecular_microct" / "3155_D_4_bc_200cube_uint8.tif")
    assert img.spacing_um == pytest.approx((19.5, 19.5, 19.5))
    res = assess_network(img, segmentation=seg, metrics="porosity,topology,thickness")
    bvtv = res.value("porosity")                 # the segmented phase is bone (bright)
    tbth = res.value("thickness_mean")           # um, mean diameter over bone voxels
    connd = res.value("conn_density")            # mm^-3, BoneJ edge correction
    assert bvtv == pytest.approx(expected["bvtv"], abs=0.001)
    assert tbth == pytest.approx(expected["tbth"], abs=2.0)
    assert connd == pytest.approx(expected["connd"], abs=0.05)
    assert 0.05 <= bvtv <= 0.40 and 80 <= tbth <= 300 and 1 <= connd <= 15
    if seg.method == "otsu":
        assert res.segmentation["threshold"] == pytest.approx(84, abs=1)


def test_shrew_euler_characteristic_agrees_with_skimage(data_dir):
    img = load(data_dir / "bone" / "shrew_mask" / "Shrew.nrrd")
    mask = img.numpy() > 0
    chi = euler_characteristic(mask)
    assert chi == euler_number(mask, connectivity=3) == -19
    b = betti_numbers(mask)
    assert b.as_tuple() == (1, 20, 0) and b.euler == chi
    cd = connectivity_density(mask, img.spacing_um)
    assert img.spacing_um == pytest.approx((4.1, 4.1, 4.1))
    assert cd.conn_density == pytest.approx(224.5, abs=0.5)
