"""Network and topology metrics (geosr.assess.network): analytic shapes, cross-checks against
scikit-image and porespy, phantoms with known graphs, monotonicity, and bad input."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from skimage.measure import euler_number

from geosr.assess.network import (Segmentation, assess, assess_network, betti_error,
                                  betti_numbers, compare_graph, connectivity_density,
                                  euler_characteristic, match_components, segment_pair,
                                  skeleton_stats, stack_connectivity, threshold_sweep)
from geosr.assess.network.cldice import cldice_score
from geosr.assess.network.components import component_stats
from geosr.assess.network.connectivity import compare_stack_connectivity
from geosr.assess.network.fabric import (distance_to_network, fabric_tensor,
                                         structure_tensor_anisotropy)
from geosr.assess.network.lacunae import detect_lacunae, graph_lacunae, match_lacunae
from geosr.assess.network.porosity import measure_porosity
from geosr.core.errors import ConfigError, InputError
from geosr.core.image import Image


# --------------------------------------------------------------------------- shapes
def _grid(n, dims):
    return np.mgrid[(slice(0, n),) * dims].astype(float) - (n - 1) / 2


def torus(n=40, big=10.0, small=4.0):
    z, y, x = _grid(n, 3)
    return (np.hypot(y, x) - big) ** 2 + z ** 2 <= small ** 2


def hollow_sphere(n=40, outer=14.0, inner=8.0):
    r = np.sqrt((_grid(n, 3) ** 2).sum(axis=0))
    return (r <= outer) & (r > inner)


def annulus(n=48, outer=18.0, inner=10.0):
    r = np.sqrt((_grid(n, 2) ** 2).sum(axis=0))
    return (r <= outer) & (r > inner)


def rod_lattice(cells: int, period: int = 10, width: int = 4) -> np.ndarray:
    n = cells * period
    on = np.zeros(n, bool)
    for c in range(cells):
        lo = c * period + (period - width) // 2
        on[lo:lo + width] = True
    a, b, c = np.meshgrid(on, on, on, indexing="ij")
    return (a & b) | (b & c) | (a & c)


# --------------------------------------------------------------------------- topology
class TestTopology:
    def test_torus_is_1_1_0(self):
        b = betti_numbers(torus())
        assert b.as_tuple() == (1, 1, 0) and b.euler == 0 and b.connectivity == "26/6"

    def test_hollow_sphere_is_1_0_1(self):
        b = betti_numbers(hollow_sphere())
        assert b.as_tuple() == (1, 0, 1) and b.euler == 2

    def test_annulus_is_1_1(self):
        b = betti_numbers(annulus())
        assert b.as_tuple() == (1, 1) and b.euler == 0 and b.connectivity == "8/4"

    def test_solid_shapes_and_empty(self):
        two = np.zeros((30, 30, 30), bool)
        two[3:10, 3:10, 3:10] = two[15:25, 15:25, 15:25] = True
        assert betti_numbers(two).as_tuple() == (2, 0, 0)
        assert betti_numbers(np.zeros((8, 8, 8))).as_tuple() == (0, 0, 0)
        assert betti_numbers(np.zeros((8, 8))).as_tuple() == (0, 0)

    def test_connectivity_pair_diagonals(self):
        # two voxels touching at a corner: one 26-connected component; a diagonal 2D ring of
        # 4 pixels encloses a 4-connected hole
        m = np.zeros((4, 4, 4), bool)
        m[1, 1, 1] = m[2, 2, 2] = True
        assert betti_numbers(m).b0 == 1
        d = np.zeros((5, 5), bool)
        d[1, 2] = d[2, 1] = d[2, 3] = d[3, 2] = True
        assert betti_numbers(d).as_tuple() == (1, 1)

    @pytest.mark.parametrize("dims", [2, 3])
    @pytest.mark.parametrize("fraction", [0.15, 0.4, 0.6])
    def test_euler_matches_skimage_on_random_masks(self, dims, fraction):
        rng = np.random.default_rng(int(fraction * 100) + dims)
        for _ in range(3):
            m = rng.random((36,) * dims) < fraction
            chi = euler_characteristic(m)
            assert chi == euler_number(m, connectivity=dims)
            b = betti_numbers(m)
            assert b.euler == chi == b.b0 - b.b1 + b.b2

    def test_betti_error_counts_per_tile(self):
        gt = np.zeros((64, 64), bool)
        gt[8:24, 8:24] = True
        gt[12:20, 12:20] = False            # a ring in tile 0
        gt[40:50, 40:50] = True             # a square in tile 3
        pred = gt.copy()
        pred[12:20, 12:20] = True           # hole filled: beta1 error in one tile of four
        pred[40:50, 40:50] = False          # square missed: beta0 error in one tile
        be = betti_error(pred, gt, spacing=0.5, tile_um=16)
        assert be.n_tiles == 4 and be.tile_px == (32, 32) and be.tile_um == (16.0, 16.0)
        assert be.error == (0.25, 0.25)

    def test_conn_density_rod_lattice(self):
        # a cubic lattice of rods: chi = -2 per unit cell (V - E = 1 - 3), so the
        # edge-corrected contribution of k^3 cells is -2 k^3
        for cells in (1, 2, 3):
            m = rod_lattice(cells)
            cd = connectivity_density(m, spacing=1000.0 / (10 * cells))   # a 1 mm cube
            assert cd.delta_chi == -2 * cells ** 3
            assert cd.connectivity == 1 + 2 * cells ** 3
            assert cd.conn_density == pytest.approx(1 + 2 * cells ** 3)
            assert cd.euler == euler_number(m, connectivity=3)

    def test_conn_density_closed_particle_and_rod(self):
        ball = hollow_sphere(inner=-1)             # a solid ball inside the stack
        cd = connectivity_density(ball, spacing=10.0)
        assert cd.delta_chi == 1.0 and cd.connectivity == 0.0
        rod = np.zeros((20, 20, 20), bool)
        rod[:, 8:12, 8:12] = True                  # crosses the stack: contributes 0
        assert connectivity_density(rod).delta_chi == 0.0

    def test_conn_density_is_3d_only(self):
        with pytest.raises(InputError, match="connectivity density.*volume"):
            connectivity_density(annulus())


# --------------------------------------------------------------------------- thickness
class TestThickness:
    @pytest.mark.parametrize("radius", [3, 5, 8])
    @pytest.mark.parametrize("offset", [0.0, 0.5])
    def test_cylinder_diameter_is_2r_within_one_voxel(self, radius, offset):
        from geosr.assess.network.thickness import local_thickness

        h = 0.5
        n = 2 * radius + 8
        z, y, x = np.mgrid[:6, :n, :n].astype(float)
        c = n / 2 - offset
        cyl = (y - c) ** 2 + (x - c) ** 2 <= radius ** 2
        width_vox = int(cyl[0].sum(axis=1).max())        # 2r (offset .5) or 2r + 1
        t = local_thickness(cyl, spacing=h)
        assert abs(t.max_um - 2 * radius * h) <= h + 1e-6
        assert abs(t.median_um - 2 * radius * h) <= h + 1e-6
        assert t.max_um <= width_vox * h + 1e-6

    def test_matches_porespy_radius_map(self):
        import porespy as ps

        from geosr.assess.network.thickness import local_thickness

        im = ps.generators.blobs(shape=[60, 60], porosity=0.5, blobiness=1, seed=3)
        t = local_thickness(im, spacing=0.25)
        radius = ps.filters.local_thickness(im, method="bf")
        expected = np.where(im, (2 * radius + 1) * 0.25, 0)
        np.testing.assert_allclose(t.map_um, expected, atol=1e-5)
        assert t.mean_um == pytest.approx(expected[im].mean(), rel=1e-5)

    def test_anisotropic_voxels_refused(self):
        from geosr.assess.network.thickness import local_thickness

        with pytest.raises(InputError, match="isotropic"):
            local_thickness(np.ones((4, 8, 8), bool), spacing=(1.0, 0.5, 0.5))

    def test_empty_and_full_masks(self):
        from geosr.assess.network.thickness import local_thickness

        t = local_thickness(np.zeros((8, 8), bool))
        assert np.isnan(t.mean_um) and "nothing" in t.note
        t = local_thickness(np.ones((8, 8), bool))
        assert np.isnan(t.mean_um) and "only pores" in t.note


# --------------------------------------------------------------------------- porosity, comps
class TestPorosityAndComponents:
    def test_porosity_split(self):
        m = np.zeros((40, 40), bool)
        m[5:15, 5:15] = True                     # a 2.5 um square: large
        m[30, 5:35] = True                       # a 0.25 um line: thin
        r = measure_porosity(m, spacing=0.25, split_diameter_um=1.0)
        assert r.total == pytest.approx(130 / 1600)
        assert r.thin >= 30 / 1600 and r.large + r.thin == pytest.approx(r.total)

    def test_empty_segmentation_gives_zero_and_a_note(self):
        r = measure_porosity(np.zeros((16, 16), bool))
        assert r.total == r.large == r.thin == 0.0 and "found nothing" in r.note

    def test_component_sizes_in_physical_units(self):
        m = np.zeros((10, 10, 10), bool)
        m[1:3, 1:3, 1:3] = True
        m[6:9, 6, 6] = True
        c = component_stats(m, spacing=(2.0, 0.5, 0.5))
        assert c.count == 2 and c.unit == "um^3"
        assert sorted(c.sizes_um.tolist()) == [1.5, 4.0]

    def test_matching_splits_merges_missed_invented(self):
        gt = np.zeros((40, 40), bool)
        gt[2:8, 2:20] = True          # 1: split by the prediction
        gt[12:16, 2:10] = True        # 2 and 3: merged by the prediction
        gt[12:16, 12:20] = True
        gt[30:34, 30:34] = True       # 4: missed
        pred = gt.copy()
        pred[2:8, 10] = False         # split
        pred[12:16, 10:12] = True     # merge
        pred[30:34, 30:34] = False    # missed
        pred[22:25, 30:33] = True     # invented
        m = match_components(pred, gt)
        assert (m.n_gt, m.n_pred) == (4, 4)
        assert (m.splits, m.split_pieces, m.merges, m.merged_truth) == (1, 1, 1, 2)
        assert (m.missed, m.invented) == (1, 1)
        assert m.matched == 1 and m.precision == 0.25 and m.recall == 0.25
        status = {(r["side"], r["id"]): r["status"] for r in m.table}
        assert sorted(status.values()).count("split") == 1
        assert "merge" in status.values() and "invented" in status.values()

    def test_matching_identical_and_empty(self):
        gt = np.zeros((20, 20), bool)
        gt[2:5, 2:5] = gt[10:15, 10:15] = True
        m = match_components(gt, gt)
        assert m.f1 == 1.0 and m.splits == m.merges == 0
        e = match_components(np.zeros_like(gt), gt)
        assert np.isnan(e.precision) and e.recall == 0.0 and e.f1 == 0.0 and e.missed == 2


# --------------------------------------------------------------------------- skeletons
class TestSkeleton:
    def test_cross_length_junctions_endpoints(self):
        m = np.zeros((40, 40), bool)
        m[20, 5:35] = True
        m[5:35, 20] = True
        s = skeleton_stats(m, spacing=0.5)
        assert s.length_um == pytest.approx(29.0)
        assert s.length_density == pytest.approx(29.0 / 400.0)
        assert s.length_density_mm == pytest.approx(29.0 / 400.0 * 1e3)
        assert (s.n_junctions, s.n_endpoints, s.n_branches) == (1, 4, 4)
        assert s.junction_density_mm == pytest.approx(1 / 400.0 * 1e6)

    def test_anisotropic_3d_line(self):
        m = np.zeros((30, 8, 8), bool)
        m[2:28, 4, 4] = True
        s = skeleton_stats(m, spacing=(2.0, 0.5, 0.5))
        assert s.length_um == pytest.approx(25 * 2.0)
        assert s.length_density == pytest.approx(50.0 / (30 * 8 * 8 * 2.0 * 0.25))

    def test_empty_skeleton(self):
        s = skeleton_stats(np.zeros((10, 10), bool), spacing=1.0)
        assert s.length_um == 0.0 and s.n_junctions == 0 and np.isnan(s.mean_branch_length_um)

    def test_cldice_identical_partial_empty(self):
        gt = np.zeros((30, 30), bool)
        gt[15, 3:27] = True
        gt[3:27, 15] = True
        assert cldice_score(gt, gt).cldice == 1.0
        part = gt.copy()
        part[3:14, 15] = False
        r = cldice_score(part, gt)
        assert r.precision == 1.0 and 0.5 < r.recall < 1.0
        e = cldice_score(np.zeros_like(gt), gt)
        assert e.cldice == 0.0 and np.isnan(e.precision) and e.recall == 0.0 and e.note

    def test_graph_matching_rule(self):
        g = nx.Graph()
        g.add_node(0, pos=[10.0, 2.0])
        g.add_node(1, pos=[10.0, 18.0])
        g.add_node(2, pos=[2.0, 10.0])
        g.add_node(3, pos=[18.0, 10.0])
        g.add_edge(0, 1, radius_um=0.5)
        g.add_edge(2, 3, radius_um=0.5)
        m = np.zeros((40, 40), bool)           # 0.5 um pixels, origin 0
        m[20, 4:37] = True                      # recovers edge 0-1 only
        m[30:38, 5] = True                      # a false branch, far from both edges
        s = skeleton_stats(m, spacing=0.5)
        cg = compare_graph(s, g, origin=(0.0, 0.0))
        assert (cg.n_truth_edges, cg.n_recovered) == (2, 1)
        assert cg.length_recall == pytest.approx(18 / 32, abs=0.01)   # crossing: 2 um covered
        assert (cg.n_pred_branches, cg.n_false) == (2, 1)


# --------------------------------------------------------------------------- connectivity
class TestStackConnectivity:
    def _tubes(self):
        gt = np.zeros((30, 24, 24), bool)
        for y in (4, 11, 18):
            gt[:, y:y + 3, 5:8] = True               # three tubes along Z
        gt[14:16, 4:21, 5:8] = True                   # joined by a bar: one component
        return gt

    def test_identity_and_cut(self):
        gt = self._tubes()
        full = stack_connectivity(gt, gt, axis=0)
        assert full.n_terminals == 6 and full.n_connections == 15
        assert full.fraction_preserved == 1.0 and full.through_preserved == 1.0
        cut = gt.copy()
        cut[14:16, 7:11] = cut[14:16, 14:18] = False   # remove the bar between the tubes
        res = stack_connectivity(cut, gt, axis=0)
        assert res.n_through == 9 and res.n_through_preserved == 3
        assert res.fraction_preserved == pytest.approx(3 / 15)

    def test_false_connections(self):
        gt = np.zeros((20, 20, 20), bool)
        gt[:, 3:6, 3:6] = gt[:, 12:15, 12:15] = True
        pred = gt.copy()
        pred[10, 3:15, 3:15] = True                  # a sheet joins the two tubes
        res = stack_connectivity(pred, gt)
        assert res.fraction_preserved == 1.0 and res.n_false == 4

    def test_slice_by_slice_versus_volume(self):
        rng = np.random.default_rng(0)
        gt = self._tubes()
        slicewise = gt.copy()
        slicewise[rng.choice(np.arange(1, 29), 3, replace=False)] = False   # lost slices
        res = compare_stack_connectivity(gt, {"3D volume": gt, "2D slice by slice": slicewise})
        assert res["3D volume"].through_preserved == 1.0
        assert res["2D slice by slice"].through_preserved < 0.5

    def test_automatic_axis_follows_the_network(self):
        gt = np.zeros((16, 30, 16), bool)
        gt[6:9, :, 6:9] = True                       # a tube along Y
        assert stack_connectivity(gt, gt).axis == 1

    def test_2d_is_refused(self):
        with pytest.raises(InputError, match="volume"):
            stack_connectivity(annulus(), annulus())

    @pytest.mark.parametrize("between", [False, True])
    def test_pair_counts_equal_brute_force(self, between):
        """Grouped pair counting equals counting every terminal pair, also when terminals of
        one truth component touch overlapping, non-nested sets of prediction components."""
        from itertools import combinations, product

        from geosr.assess.network.connectivity import _pairs

        rng = np.random.default_rng(3)
        for _ in range(200):
            n = int(rng.integers(2, 9))
            comp = rng.integers(0, 3, n)
            sets = [frozenset(rng.choice(5, int(rng.integers(0, 3)), replace=False).tolist())
                    for _ in range(n)]
            if between:
                k = int(rng.integers(1, n))
                a, b = np.arange(k), np.arange(k, n)
                got = _pairs(a, [sets[i] for i in a], comp[a], b, [sets[i] for i in b], comp[b])
                pairs = list(product(a.tolist(), b.tolist()))
            else:
                got = _pairs(np.arange(n), sets, comp)
                pairs = list(combinations(range(n), 2))
            conn = sum(comp[i] == comp[j] for i, j in pairs)
            joined = [(i, j) for i, j in pairs if sets[i] & sets[j]]
            kept = sum(comp[i] == comp[j] for i, j in joined)
            assert got == (conn, kept, len(joined) - kept)


# --------------------------------------------------------------------------- lacunae, fabric
class TestLacunaeAndFabric:
    def test_ellipsoid_axes_and_density(self):
        z, y, x = np.mgrid[:80, :80, :80] * 0.25
        ell = ((z - 10) / 7.5) ** 2 + ((y - 10) / 4) ** 2 + ((x - 10) / 2.5) ** 2 <= 1
        lac = detect_lacunae(ell, spacing=0.25)
        assert lac.count == 1
        np.testing.assert_allclose(lac.semi_axes_um[0], [7.5, 4.0, 2.5], rtol=0.03)
        assert lac.sizes_um[0] == pytest.approx(4 / 3 * np.pi * 7.5 * 4 * 2.5, rel=0.03)
        assert lac.density_mm == pytest.approx(1 / 20.0 ** 3 * 1e9)

    def test_canaliculi_removed_by_opening(self):
        z, y, x = np.mgrid[:60, :60, :60] * 0.5
        ell = ((z - 15) / 7.5) ** 2 + ((y - 15) / 4) ** 2 + ((x - 15) / 2.5) ** 2 <= 1
        ell[30, 30, :] = True                             # a 1-voxel canaliculus through it
        lac = detect_lacunae(ell, spacing=0.5)
        assert lac.count == 1 and lac.sizes_um[0] < 400

    def test_hungarian_match(self):
        m = match_lacunae(np.array([[0.0, 0, 0], [20, 0, 0], [40, 0, 0]]),
                          np.array([[1.0, 0, 0], [21, 0, 0], [80, 0, 0]]))
        assert (m.matched, m.n_pred, m.n_truth) == (2, 3, 3)
        assert m.f1 == pytest.approx(2 / 3)

    def test_distance_and_anisotropy(self):
        m = np.zeros((32, 32), bool)
        m[::8, :] = True
        d = distance_to_network(m, spacing=0.5)
        assert d.max_um == pytest.approx(3.5) and d.n_voxels == 32 * 28
        s = skeleton_stats(m, spacing=0.5)
        f = fabric_tensor(s.segments_um)
        assert f.degree_of_anisotropy == pytest.approx(1.0)
        assert f.principal_direction == (0.0, 1.0)
        st = structure_tensor_anisotropy(m, spacing=0.5)
        assert st.degree_of_anisotropy == pytest.approx(1.0) and st.principal_direction == (0, 1)
        tubes = np.zeros((24, 24, 24), bool)
        tubes[:, 4:7, 4:7] = tubes[:, 14:17, 10:13] = True          # along Z
        st3 = structure_tensor_anisotropy(tubes, spacing=(1.0, 0.5, 0.5))
        assert st3.degree_of_anisotropy > 0.99
        assert abs(st3.principal_direction[0]) == pytest.approx(1.0, abs=1e-6)
        f3 = fabric_tensor(skeleton_stats(tubes, spacing=(1.0, 0.5, 0.5)).segments_um)
        assert f3.degree_of_anisotropy > 0.99 and f3.principal_direction[0] == pytest.approx(1)
        empty = distance_to_network(np.zeros((8, 8), bool))
        assert np.isnan(empty.mean_um) and "nothing" in empty.note


# --------------------------------------------------------------------------- segmentation
class TestSegmentation:
    def _image(self):
        img = np.full((40, 40), 0.1, np.float32)
        img[10:30, 18:22] = 0.9
        img[5, 5] = 0.3                      # a dim speck
        return img

    def test_otsu_of_truth_applied_to_both(self):
        gt = self._image()
        pred = gt * 0.6                      # dimmer prediction: the truth's threshold
        pm, gm, rec = segment_pair(pred, gt, Segmentation())
        assert rec["threshold_source"] == "otsu of the truth"
        assert gm.sum() == 80 and pm.sum() == 80
        pm2, _, _ = segment_pair(pred * 0.5, gt, "otsu")
        assert pm2.sum() == 0                 # too dim for the truth's threshold

    def test_fixed_dark_min_size(self):
        img = 1.0 - self._image()             # dark pores
        pm, _, rec = segment_pair(img, None, Segmentation(method="fixed", threshold=0.5,
                                                          bright=False))
        assert pm.sum() == 80 and rec["threshold"] == 0.5
        speck, _, _ = segment_pair(img, None, Segmentation(method="fixed", threshold=0.8,
                                                           bright=False))
        assert speck.sum() == 81
        clean, _, rec = segment_pair(img, None, Segmentation(method="fixed", threshold=0.8,
                                                             bright=False, min_size_um=2.0),
                                     spacing=(1.0, 1.0))
        assert clean.sum() == 80 and rec["removed_objects_prediction"] == 1

    def test_binary_truth_is_a_mask(self):
        gt = self._image() > 0.5
        pm, gm, rec = segment_pair(self._image(), gt.astype(np.uint8) * 255, "otsu")
        assert rec["truth_binary"] and gm.sum() == 80 and pm.sum() == 80

    def test_tubeness_finds_a_faint_thin_line(self):
        img = np.zeros((64, 64), np.float32)
        img[32, 8:56] = 0.3                    # one-pixel line
        img[10:20, 10:20] = 1.0                 # a bright blob
        pm, gm, rec = segment_pair(img, img, Segmentation(method="tubeness", scales_um=(0.1,)),
                                   spacing=(0.1, 0.1))
        assert pm[32, 12:52].all() and rec["scales_um"] == [0.1]
        assert rec["threshold_source"].startswith("otsu of the truth")

    def test_sato_tubeness_matches_skimage(self):
        from skimage.filters import sato

        from geosr.assess.network.segment import sato_tubeness

        rng = np.random.default_rng(0)
        vol = np.zeros((40, 40, 40), np.float32)
        vol[20, 20, :] = vol[:, 10, 30] = 1.0
        vol += rng.normal(0, 0.05, vol.shape).astype(np.float32)
        for bright in (True, False):
            ours = sato_tubeness(vol if bright else -vol, [1.5, 3.0], bright=bright)
            ref = sato(vol if bright else -vol, sigmas=[1.5, 3.0], black_ridges=not bright)
            assert np.corrcoef(ours.ravel(), ref.ravel())[0, 1] > 0.95
            assert ours.max() == pytest.approx(ref.max(), rel=0.15)

    def test_threshold_alone_means_fixed(self):
        assert Segmentation.parse(None, threshold=142).method == "fixed"
        assert Segmentation.parse("tubeness", threshold=0.1).method == "tubeness"

    def test_local_threshold(self):
        img = np.full((60, 60), 0.1, np.float32)
        img[:, 30:] += 0.5                       # uneven background
        img[28:31, :] += 0.3                     # a line across both halves
        pm, _, rec = segment_pair(img, img, Segmentation(method="local", block_um=15.0))
        # the line is found on both sides of the step (away from it), the step is not
        assert pm[29, 5:20].all() and pm[29, 40:55].all() and rec["offset"] > 0
        assert not pm[:20, :24].any() and not pm[:20, 36:].any()   # only the step edge

    def test_config_errors(self):
        with pytest.raises(ConfigError, match="threshold"):
            Segmentation.parse("fixed")
        with pytest.raises(ConfigError, match="segmentation.method"):
            Segmentation.parse("watershed")
        with pytest.raises(ConfigError, match="min_size_um"):
            Segmentation.parse({"min_size_um": -1})

    def test_threshold_sweep(self):
        gt = self._image()
        res = threshold_sweep(gt * 0.9, gt, n=5)
        assert len(res.rows) == 5
        por = res.column("porosity", "prediction")
        assert np.all(np.diff(por) <= 0)           # higher threshold, fewer pores
        with pytest.raises(ConfigError, match="global threshold"):
            threshold_sweep(gt, gt, "local")


# --------------------------------------------------------------------------- phantoms
PHANTOMS = [("dentin", 2, dict(size_um=32, spacing_um=0.1)),
            ("dentin", 3, dict(size_um=24, spacing_um=0.2)),
            ("cortical", 2, dict()),
            ("cortical", 3, dict(size_um=600)),
            ("lcn", 2, dict(size_um=100)),
            ("lcn", 3, dict(size_um=60))]


@pytest.fixture(scope="module")
def phantoms():
    from geosr.phantoms import phantom

    return {(k, d): phantom(k, dims=d, seed=1, **kw) for k, d, kw in PHANTOMS}


class TestPhantoms:
    @pytest.mark.parametrize("kind,dims", [(k, d) for k, d, _ in PHANTOMS])
    def test_component_count_is_exact(self, phantoms, kind, dims):
        ph = phantoms[(kind, dims)]
        n_graph = nx.number_connected_components(ph.graph)
        assert component_stats(ph.mask).count == n_graph
        assert betti_numbers(ph.mask).b0 == n_graph

    @pytest.mark.parametrize("kind,dims", [("dentin", 2), ("dentin", 3), ("cortical", 2),
                                           ("cortical", 3)])
    def test_length_density_within_5_percent(self, phantoms, kind, dims):
        ph = phantoms[(kind, dims)]
        field = float(np.prod(ph.mask.extent_um))
        truth = sum(d["length_um"] for _, _, d in ph.graph.edges(data=True)) / field
        s = skeleton_stats(ph.mask)
        assert s.length_density == pytest.approx(truth, rel=0.05)

    @pytest.mark.parametrize("kind,dims", [("dentin", 2), ("dentin", 3), ("cortical", 3)])
    def test_graph_edges_recovered_from_the_exact_mask(self, phantoms, kind, dims):
        ph = phantoms[(kind, dims)]
        cg = compare_graph(skeleton_stats(ph.mask), ph.graph, origin=ph.mask.origin)
        # skeleton ends retract by about a radius: short, thick end edges (cortical canals
        # 35 um wide at 8 um voxels) can fall below half coverage
        assert cg.recovered_fraction >= 0.9 and cg.length_recall >= 0.95
        assert cg.false_fraction <= 0.05

    @pytest.mark.parametrize("dims", [2, 3])
    def test_lacunae_found_as_placed(self, phantoms, dims):
        ph = phantoms[("lcn", dims)]
        truth, volumes = graph_lacunae(ph.graph)
        lac = detect_lacunae(ph.mask, origin=ph.mask.origin)
        m = match_lacunae(lac, truth)
        assert lac.count == len(truth) > 0 and m.f1 == 1.0

    def test_porosity_split_follows_phantom_labels(self, phantoms):
        ph = phantoms[("dentin", 2)]
        r = measure_porosity(ph.mask, split_diameter_um=1.0)
        assert r.total == pytest.approx(ph.params["porosity"])
        assert r.large == pytest.approx(ph.params["porosity_large"], rel=0.1)
        assert r.thin == pytest.approx(ph.params["porosity_thin"], rel=0.15)

    def test_euler_matches_skimage_on_phantoms(self, phantoms):
        for (kind, dims), ph in phantoms.items():
            m = ph.mask.numpy().astype(bool)
            assert euler_characteristic(m) == euler_number(m, connectivity=dims), kind


class TestMonotonicity:
    """Deleting k bridging branches (tubule-to-tubule) from the dentin mask lowers the length
    density and the clDice recall, and raises χ by exactly k (β1 falls by k or β0 rises)."""

    def test_deleting_branches(self, phantoms):
        from scipy import ndimage as ndi

        from geosr.assess.network._common import label

        ph = phantoms[("dentin", 2)]
        mask = ph.mask.numpy().astype(bool)
        parts = ph.labels.numpy()
        branches, n = label(parts == 2, 8)
        bridging = []
        for k in range(1, n + 1):
            touch = ndi.binary_dilation(branches == k, np.ones((3, 3), bool)) & (parts == 1)
            if label(touch, 8)[1] == 2:
                bridging.append(k)
        assert len(bridging) >= 8
        order = np.random.default_rng(0).permutation(bridging)
        b0 = betti_numbers(mask)
        previous = (skeleton_stats(mask, ph.mask.spacing_um).length_density, 1.0)
        for k in (1, 2, 4, 8):
            cut = mask & ~np.isin(branches, order[:k])
            b = betti_numbers(cut)
            ld = skeleton_stats(cut, ph.mask.spacing_um).length_density
            recall = cldice_score(cut, mask).recall
            assert b.euler - b0.euler == k
            assert (b0.b1 - b.b1) + (b.b0 - b0.b0) == k
            assert ld < previous[0] and recall < previous[1]
            previous = (ld, recall)


# --------------------------------------------------------------------------- front door
class TestFrontDoor:
    def test_3d_phantom_pair_all_groups(self, phantoms):
        ph = phantoms[("dentin", 3)]
        res = assess_network(ph.image, ph.image, graph=ph.graph)
        groups = {r["group"] for r in res.rows}
        assert groups == {"porosity", "components", "topology", "cldice", "skeleton",
                          "connectivity", "thickness", "lacunae", "fabric"}
        for metric in ("beta0", "beta1", "beta2", "conn_density", "clDice", "length_density",
                       "object_F1", "connections_preserved", "through_preserved"):
            row = res.row(metric)
            assert row["error"] == pytest.approx(0.0, abs=1e-9), metric
        assert res.row("conn_density")["unit"] == "mm^-3"
        assert res.segmentation["threshold_source"] == "otsu of the truth"

    def test_empty_segmentation(self):
        gt = np.zeros((32, 32), np.float32)
        gt[10:20, 14:18] = 1.0
        gt[0, 0] = 0.5
        pred = np.full_like(gt, 0.05)
        pred[0, 0] = 0.1
        res = assess_network(pred, gt, spacing=0.5, segmentation={"method": "fixed",
                                                                  "threshold": 0.5})
        assert res.value("porosity") == 0.0 and res.value("components") == 0
        assert res.value("clDice") == 0.0
        assert any("segmentation found nothing in the prediction" in n for n in res.notes)
        assert np.isnan(res.value("thickness_mean"))

    def test_3d_only_metric_on_2d(self):
        img = annulus().astype(np.float32)
        with pytest.raises(InputError, match="connectivity.*volumes"):
            assess_network(img, img, metrics=["connectivity"])
        res = assess_network(img, img, metrics=None, spacing=1.0)
        assert "conn_density" not in res.metrics and "beta2" not in res.metrics
        assert any("3D-only" in n for n in res.notes)

    def test_different_grids_say_which_and_how_to_align(self):
        fine = Image(np.zeros((64, 64), np.float32), "YX", spacing=(0.1, 0.1))
        coarse = Image(np.zeros((16, 16), np.float32), "YX", spacing=(0.4, 0.4))
        with pytest.raises(InputError, match="grid mismatch") as err:
            assess_network(fine, coarse)
        assert "downscale(pred, 4)" in str(err.value) and "nearest" in str(err.value)
        with pytest.raises(InputError, match="finer: upscale"):
            assess_network(coarse, fine)
        lr_spacing = Image(np.zeros((64, 64), np.float32), "YX", spacing=(0.4, 0.4))
        with pytest.raises(InputError, match="spacing mismatch") as err:
            assess_network(lr_spacing, fine)
        assert "kept the low-resolution spacing" in str(err.value)
        with pytest.raises(InputError, match="2D .* 3D"):
            assess_network(np.zeros((8, 8)), np.zeros((8, 8, 8)))

    def test_uncalibrated_prediction_takes_truth_spacing(self):
        gt = Image(annulus().astype(np.float32), "YX", spacing=(0.5, 0.5))
        res = assess_network(annulus().astype(np.float32), gt, metrics="porosity,skeleton")
        assert res.spacing_um == (0.5, 0.5)
        assert res.value("length_density", "error") == pytest.approx(0.0)
        assert any("no physical calibration" in n for n in res.notes)

    def test_single_image_and_folders(self, tmp_path):
        from geosr.io import save

        for i in range(2):
            img = np.zeros((24, 24), np.float32)
            img[4 + i:10 + i, :] = 1.0
            img[0, 0] = 0.5
            save(Image(img, "YX", spacing=(0.5, 0.5)), tmp_path / "p" / f"s{i}_SR.tif")
            save(Image(img, "YX", spacing=(0.5, 0.5)), tmp_path / "g" / f"s{i}_HR.tif")
        res = assess(tmp_path / "p", tmp_path / "g", metrics="porosity,cldice",
                     out_csv=tmp_path / "out.csv", out_json=tmp_path / "out.json")
        assert [it.name for it in res.items] == ["s0", "s1"]
        assert res.value("clDice") == 1.0
        text = (tmp_path / "out.csv").read_text()
        assert text.startswith("# geosr assess") and "segmentation: otsu" in text
        only = assess(tmp_path / "p" / "s0_SR.tif", metrics="porosity,topology")
        assert only[0].row("porosity")["truth"] is None and not only[0].has_truth
