"""Tests of geosr.phantoms: the ground truth must agree with the raster, in numbers.

Conventions of these checks
---------------------------
- Connected components: mask with full connectivity (8 in 2D, 26 in 3D, ``cc3d``) versus
  ``networkx.number_connected_components`` of the graph, isolated nodes included (a lacuna
  without canaliculi is one component in both).
- Skeleton length (:func:`skeleton_length_um`): ``skimage.morphology.skeletonize`` (through
  :func:`geosr.phantoms.skeleton.skeletonize_checked`, which works around scikit-image issue
  #3757: 3D thinning can delete a whole tube) of the mask padded by edge replication (tubes cut
  by the field border keep their ends) and cropped back;
  ``skan`` paths; path coordinates smoothed by a 7-point moving average with point-reflected ends
  (this removes the staircase over-estimate of digital chain codes, ≈ 5–8 % for oblique lines,
  without shortening straight ends); segments inside *excluded* pixels (the lacunae of an LCN
  phantom) count 0, segments crossing their boundary 1/2; every free skeleton end is extended
  along its direction by (distance ahead to the background − distance sideways to the
  background), i.e. to the centre of the end cap, where the graph's edge ends (3D thinning
  retracts free ends by about a voxel). It is validated on straight capsules below.
- The graph quantity compared is ``Σ length_um`` for dentin and cortical phantoms (branches enter
  their parent along the perpendicular from its centreline, as a skeleton does) and
  ``Σ length_outside_um`` (the canalicular length outside lacunae) for LCN phantoms, where the
  lacunae are excluded from the skeleton: the skeleton of a flat ellipsoid is no graph edge.
"""

from __future__ import annotations

import functools
import json
import warnings

import networkx as nx
import numpy as np
import pytest

from geosr.core.errors import ConfigError
from geosr.phantoms import (KINDS, Phantom, graph_components, kind_parameters, load_graph,
                            mask_components, phantom)
from geosr.phantoms.graph import graph_data
from geosr.phantoms.raster import Canvas
from geosr.phantoms.skeleton import skeletonize_checked

# small, fast versions of every kind (seconds in total)
SMALL = {
    ("dentin", 2): dict(size_um=24, spacing_um=0.1),
    ("dentin", 3): dict(size_um=14, spacing_um=0.2),
    ("lcn", 2): dict(size_um=80, spacing_um=0.1),
    ("lcn", 3): dict(size_um=60, spacing_um=0.5),
    ("cortical", 2): dict(size_um=800, spacing_um=5),
    ("cortical", 3): dict(size_um=480, spacing_um=8),
    ("porous", 2): dict(size_um=200, spacing_um=2),
    ("porous", 3): dict(size_um=80, spacing_um=2),
}
CASES = sorted(SMALL)
NETWORK_CASES = [c for c in CASES if c[0] != "porous"]


@functools.lru_cache(maxsize=None)
def _cached(kind: str, dims: int, seed: int = 0, extra: tuple = ()) -> Phantom:
    return phantom(kind, dims=dims, seed=seed, **{**SMALL[(kind, dims)], **dict(extra)})


def small(kind: str, dims: int, seed: int = 0, **extra) -> Phantom:
    return _cached(kind, dims, seed, tuple(sorted(extra.items())))


# --------------------------------------------------------------------------- helpers
def _march(mask, start, direction, spacing, step):
    """Distance from ``start`` along ``direction`` to the first pixel outside ``mask``
    (pixel i centred at i·spacing here)."""
    shape = np.array(mask.shape)
    d = 0.0
    while d < 1e5:
        q = np.rint((start + (d + step) * direction) / spacing).astype(int)
        if np.any(q < 0) or np.any(q >= shape) or not mask[tuple(q)]:
            return d + step / 2
        d += step
    return d


def _perpendiculars(direction):
    if direction.size == 2:
        e = np.array([-direction[1], direction[0]])
        return [e, -e]
    helper = np.zeros(3)
    helper[int(np.argmin(np.abs(direction)))] = 1.0
    e1 = np.cross(direction, helper)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(direction, e1)
    return [np.cos(a) * e1 + np.sin(a) * e2 for a in np.arange(8) * np.pi / 4]


def skeleton_length_um(mask, spacing, exclude=None, pad=4, smooth=3) -> float:
    """Skeleton length of a binary mask in µm (conventions in the module docstring)."""
    import skan
    from scipy.ndimage import uniform_filter1d

    mask = np.asarray(mask, bool)
    sp = np.asarray(spacing, float)
    crop = tuple(slice(pad, -pad) for _ in range(mask.ndim))
    skel = skeletonize_checked(np.pad(mask, pad, mode="edge"))[crop]
    if not skel.any():
        return 0.0
    excl = np.zeros_like(mask) if exclude is None else np.asarray(exclude, bool)
    shape = np.array(mask.shape)
    sk = skan.Skeleton(skel, spacing=sp)
    coords = np.asarray(sk.coordinates)
    step = sp.min() / 8
    total = 0.0
    for i in range(sk.n_paths):
        ids = np.asarray(sk.path(i))
        vox = coords[ids].astype(int)
        c = vox * sp
        if smooth and len(c) > 2:
            k = min(smooth, len(c) - 1)
            ext = np.vstack([2 * c[0] - c[k:0:-1], c, 2 * c[-1] - c[-2:-k - 2:-1]])
            c = uniform_filter1d(ext, size=2 * k + 1, axis=0, mode="nearest")[k:k + len(c)]
        inside = excl[tuple(vox.T)]
        weight = 1.0 - 0.5 * (inside[1:].astype(float) + inside[:-1])
        total += float((np.linalg.norm(np.diff(c, axis=0), axis=1) * weight).sum())
        if len(ids) < 2:
            continue
        for end in (0, len(ids) - 1):
            if sk.degrees[ids[end]] != 1 or inside[end]:
                continue
            if np.any(vox[end] == 0) or np.any(vox[end] == shape - 1):
                total += float(sp.mean() / 2)  # graph edges end on the face, half a pixel out
                continue
            back = c[min(3, len(c) - 1)] if end == 0 else c[max(0, len(c) - 4)]
            direction = c[end] - back
            if not np.any(direction):
                continue
            direction = direction / np.linalg.norm(direction)
            start = vox[end] * sp
            ahead = _march(mask, start, direction, sp, step)
            side = min(_march(mask, start, e, sp, step) for e in _perpendiculars(direction))
            total += max(0.0, ahead - side)
    return total


def graph_length(ph: Phantom) -> float:
    key = "length_outside_um" if ph.params["kind"] == "lcn" else "length_um"
    return sum(float(d[key]) for _, _, d in ph.graph.edges(data=True))


def relative_skeleton_error(ph: Phantom) -> float:
    exclude = ph.labels.numpy() == 1 if ph.params["kind"] == "lcn" else None
    measured = skeleton_length_um(ph.mask.numpy(), ph.image.spacing, exclude)
    return measured / graph_length(ph) - 1.0


# ------------------------------------------------------------------- topology
@pytest.mark.parametrize("kind,dims", CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_mask_components_equal_graph_components(kind, dims, seed):
    ph = small(kind, dims, seed)
    n_mask = mask_components(ph.mask.numpy())
    n_graph = graph_components(ph.graph)
    assert n_mask == n_graph
    assert ph.params["n_components"] == n_graph
    assert n_graph >= 1


@pytest.mark.parametrize("kind", ["dentin", "lcn", "cortical"])
@pytest.mark.parametrize("seed", [0, 1])
def test_2d_loops_equal_graph_cycle_rank(kind, seed):
    """In 2D the holes of the mask (β1 = β0 − χ, 8-/4-connectivity) are the graph's cycles
    (E − V + β0). (In 3D this holds for most but not all phantoms: see the api notes.)"""
    from skimage.measure import euler_number

    ph = small(kind, 2, seed)
    mask = np.pad(ph.mask.numpy().astype(bool), 1)
    beta1 = ph.params["n_components"] - euler_number(mask, connectivity=2)
    assert beta1 == ph.params["cycle_rank"]


@pytest.mark.parametrize("dims", [2, 3])
def test_lcn_with_haversian_canal_and_isolated_lacunae(dims):
    # a Haversian canal (label 3) with canaliculi ending on its axis
    ph = small("lcn", dims, 0, haversian=True, haversian_radius_um=12.0)
    assert mask_components(ph.mask.numpy()) == graph_components(ph.graph)
    assert ph.params["n_canal_links"] >= 1
    assert (ph.labels.numpy() == 3).any()
    # no canaliculi at all: every lacuna is one component, in the mask as in the graph
    bare = small("lcn", dims, 0, max_link_um=0.0, dangling_per_lacuna=0.0)
    n_lac = bare.params["n_lacunae"]
    assert n_lac >= 2
    assert bare.graph.number_of_edges() == 0
    assert graph_components(bare.graph) == n_lac == mask_components(bare.mask.numpy())


def test_subvoxel_branches_stay_connected():
    # branches of 0.15 µm at 0.3 µm spacing: only the centreline guarantee keeps them
    with pytest.warns(UserWarning, match="coarser than the smallest feature"):
        ph = phantom("dentin", dims=3, size_um=14, spacing_um=0.3, seed=2,
                     branch_diameter_um=0.15, allow_subvoxel=True)
    assert ph.params["n_connecting_branches"] > 0
    assert mask_components(ph.mask.numpy()) == graph_components(ph.graph)


# ---------------------------------------------------------------- skeleton length
def test_skeletonize_checked_keeps_every_component():
    """scikit-image issue #3757: Lee's 3D thinning deletes some prisms whole."""
    from skimage.morphology import skeletonize

    m = np.zeros((30, 60, 30), bool)
    m[13:17, :, 13:17] = True  # an even 4 × 4 prism: Lee thinning deletes it
    m[3:6, 10:50, 3:6] = True  # an odd 3 × 3 prism: fine
    assert mask_components(skeletonize(m)) == 1
    assert mask_components(skeletonize_checked(m)) == 2


@pytest.mark.parametrize("dims", [2, 3])
def test_skeleton_length_helper_on_capsules(dims):
    """The measurement itself: straight capsules of random orientation, 1.5–6 px radius."""
    rng = np.random.default_rng(7)
    errors = []
    for radius_px in (1.5, 3.0, 6.0):
        for _ in range(4):
            cv = Canvas((72,) * dims, (0.5,) * dims)
            d = rng.normal(size=dims)
            d /= np.linalg.norm(d)
            centre = np.full(dims, 18.0)
            ends = np.array([centre - 12.5 * d, centre + 12.5 * d])
            cv.add_tube(ends, np.full(2, 0.5 * radius_px), label=1)
            errors.append(skeleton_length_um(cv.mask, (0.5,) * dims) / 25.0 - 1)
    assert abs(np.mean(errors)) < 0.035
    assert np.max(np.abs(errors)) < 0.06


@pytest.mark.parametrize("kind,dims", NETWORK_CASES)
def test_skeleton_length_matches_graph_length(kind, dims):
    errors = [relative_skeleton_error(small(kind, dims, seed)) for seed in (0, 1)]
    assert max(abs(e) for e in errors) < 0.05, errors


# --------------------------------------------------------------- determinism
@pytest.mark.parametrize("kind,dims", [("dentin", 2), ("lcn", 2), ("cortical", 2), ("porous", 2),
                                       ("lcn", 3)])
def test_same_seed_same_bytes_different_seed_different(kind, dims):
    kw = SMALL[(kind, dims)]
    a = small(kind, dims, 5)
    b = phantom(kind, dims=dims, seed=5, **kw)  # a fresh run, not the cached object
    c = small(kind, dims, 6)
    assert a.image.numpy().tobytes() == b.image.numpy().tobytes()
    assert a.mask.numpy().tobytes() == b.mask.numpy().tobytes()
    assert json.dumps(graph_data(a.graph)) == json.dumps(graph_data(b.graph))
    assert json.dumps(a.params) == json.dumps(b.params)
    assert a.image.numpy().tobytes() != c.image.numpy().tobytes()
    assert a.mask.numpy().tobytes() != c.mask.numpy().tobytes()
    assert json.dumps(graph_data(a.graph)) != json.dumps(graph_data(c.graph))


def test_generator_seed_and_none_seed():
    kw = SMALL[("cortical", 2)]
    a = phantom("cortical", dims=2, seed=np.random.default_rng(3), **kw)
    b = phantom("cortical", dims=2, seed=np.random.default_rng(3), **kw)
    assert a.mask.numpy().tobytes() == b.mask.numpy().tobytes()
    assert a.params["seed"] == "generator"
    c = phantom("cortical", dims=2, seed=None, **kw)
    assert isinstance(c.params["seed"], int)  # the drawn seed is recorded ...
    d = phantom("cortical", dims=2, seed=c.params["seed"], **kw)  # ... and reproduces it
    assert c.image.numpy().tobytes() == d.image.numpy().tobytes()


# ------------------------------------------------------------- physical scaling
@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("diameter", [1.0, 2.0])
def test_tubule_diameter_from_area_over_length(dims, diameter):
    ph = phantom("dentin", dims=dims, seed=1, tubule_diameter_um=diameter,
                 **SMALL[("dentin", dims)])
    h = np.array(ph.image.spacing)
    amount = float((ph.labels.numpy() == 1).sum() * np.prod(h))  # area (2D) / volume (3D)
    length = sum(d["length_um"] for _, _, d in ph.graph.edges(data=True)
                 if d["kind"] == "tubule")
    measured = amount / length if dims == 2 else 2 * np.sqrt(amount / length / np.pi)
    assert measured == pytest.approx(diameter, rel=0.15)


def test_branch_diameter_from_distance_transform():
    from scipy import ndimage as ndi

    ph = phantom("dentin", dims=2, seed=0, size_um=24, spacing_um=0.05,
                 branch_diameter_um=0.5, dangling_density_per_um=0.0)
    h = ph.image.spacing[0]
    dist = ndi.distance_transform_edt(ph.mask.numpy())
    values = []
    for _, _, d in ph.graph.edges(data=True):
        if d["kind"] != "branch":
            continue
        pts = np.asarray(d["polyline"])
        idx = np.rint(pts / h - 0.5).astype(int)
        inside = ph.labels.numpy()[tuple(idx.T)] == 2  # on the branch, off the tubules
        values += list(dist[tuple(idx[inside].T)])
    # distance from a centre pixel to the nearest background pixel centre ≈ r + h/2
    measured = 2 * (np.mean(values) - 0.5) * h
    assert measured == pytest.approx(0.5, rel=0.15)


def test_lacunar_density_matches_request_within_poisson_error():
    counts, expected = 0, 0.0
    for seed in range(6):
        ph = phantom("lcn", dims=2, seed=seed, size_um=120, spacing_um=0.25, mode="scaled",
                     lacuna_density_per_mm2=700.0, max_link_um=0.0, dangling_per_lacuna=0.0)
        p = ph.params
        assert p["n_lacunae"] == p["n_lacunae_target"]  # placement never gave up
        assert sum(1 for _, k in ph.graph.nodes(data="kind") if k == "lacuna") == p["n_lacunae"]
        counts += p["n_lacunae"]
        expected += 700.0 * p["bone_volume_um2"] * 1e-6
    assert abs(counts - expected) < 3 * np.sqrt(expected)
    p3 = small("lcn", 3).params
    e3 = 25000.0 * p3["bone_volume_um3"] * 1e-9
    assert abs(p3["n_lacunae"] - e3) < 3 * np.sqrt(e3) + 1
    assert p3["lacunar_density_per_mm3"] == pytest.approx(
        p3["n_lacunae"] / (p3["bone_volume_um3"] * 1e-9))


def test_lacunae_are_ellipsoids_of_the_requested_size():
    ph = small("lcn", 3, 0, max_link_um=0.0, dangling_per_lacuna=0.0)
    h = ph.image.spacing[0]
    measured = float(ph.mask.numpy().sum()) * h**3
    analytic = sum(d["volume_um3"] for _, d in ph.graph.nodes(data=True)
                   if d["kind"] == "lacuna")
    assert measured == pytest.approx(analytic, rel=0.05)
    assert ph.params["lacunar_volume_um3"] == pytest.approx(analytic, rel=1e-3)
    median_semi = np.median([d["semi_axes_um"] for _, d in ph.graph.nodes(data=True)], axis=0)
    assert median_semi == pytest.approx([7.5, 4.0, 2.5], rel=0.2)


@pytest.mark.parametrize("kind,dims", CASES)
def test_params_porosity_and_lengths(kind, dims):
    ph = small(kind, dims)
    p = ph.params
    mask = ph.mask.numpy()
    assert p["porosity"] == mask.mean()
    labels = ph.labels.numpy()
    assert ((labels > 0) == (mask > 0)).all()
    assert p["porosity_large"] + p["porosity_thin"] + float(np.mean(labels == 3)) == \
        pytest.approx(p["porosity"])
    total = sum(d["length_um"] for _, _, d in ph.graph.edges(data=True))
    assert p["total_length_um"] == pytest.approx(total, abs=1e-3)
    for key in ("kind", "dims", "seed", "size_um", "spacing_um", "shape", "bright"):
        assert key in p
    json.dumps(p)  # plain JSON


def test_cortical_porosity_in_range():
    values = [phantom("cortical", dims=3, seed=s, size_um=800, spacing_um=10).params["porosity"]
              for s in range(3)]
    assert 0.02 < np.mean(values) < 0.15


# ------------------------------------------------------- spacing, size, contrast
@pytest.mark.parametrize("kind,dims", CASES)
def test_spacing_shape_and_types(kind, dims):
    ph = small(kind, dims)
    kw = SMALL[(kind, dims)]
    spacing = (kw["spacing_um"],) * dims
    assert ph.image.spacing == spacing and ph.mask.spacing == spacing
    assert ph.image.axes == ("YX" if dims == 2 else "ZYX") == ph.mask.axes
    assert ph.image.shape == (round(kw["size_um"] / kw["spacing_um"]),) * dims == ph.mask.shape
    assert ph.image.dtype == np.float32 and ph.mask.dtype == np.uint8
    img = ph.image.numpy()
    assert img.min() >= 0.0 and img.max() <= 1.0
    assert set(np.unique(ph.mask.numpy())) <= {0, 1}


def test_anisotropic_spacing_and_size():
    ph = phantom("dentin", dims=3, size_um=(6.0, 10.0, 8.0), spacing_um=(0.4, 0.2, 0.2), seed=0,
                 tubule_diameter_um=1.2)
    assert ph.image.shape == (15, 50, 40)
    assert ph.image.spacing == (0.4, 0.2, 0.2)
    assert mask_components(ph.mask.numpy()) == graph_components(ph.graph)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_bright_false_inverts_contrast(kind):
    bright = small(kind, 2)
    dark = phantom(kind, dims=2, seed=0, bright=False, **SMALL[(kind, 2)])
    m = bright.mask.numpy().astype(bool)
    b, d = bright.image.numpy(), dark.image.numpy()
    assert b[m].mean() > b[~m].mean() + 0.3
    assert d[m].mean() < d[~m].mean() - 0.3
    np.testing.assert_array_equal(d, np.float32(1) - b)
    assert dark.mask.numpy().tobytes() == bright.mask.numpy().tobytes()


def test_partial_volume_at_edges():
    ph = small("dentin", 2)
    img = ph.image.numpy()
    values = img[(img > 0.3) & (img < 0.7)]
    assert values.size > 0.05 * (ph.mask.numpy() > 0).sum()  # a soft edge, not a binary image


# ------------------------------------------------------------------ graph content
@pytest.mark.parametrize("kind,dims", CASES)
def test_graph_attributes(kind, dims):
    g = small(kind, dims).graph
    for _, data in g.nodes(data=True):
        assert isinstance(data["kind"], str)
        assert len(data["pos"]) == dims and all(isinstance(v, float) for v in data["pos"])
        if data["kind"] == "lacuna":
            assert len(data["semi_axes_um"]) == dims
    for u, v, data in g.edges(data=True):
        pts = np.asarray(data["polyline"])
        assert pts.shape[1] == dims
        assert data["length_um"] == pytest.approx(
            float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum()), rel=1e-3, abs=1e-3)
        assert data["radius_um"] > 0 and isinstance(data["kind"], str)
        if kind != "porous":  # polylines run from node to node
            ends = {tuple(np.round(pts[0], 3)), tuple(np.round(pts[-1], 3))}
            assert ends == {tuple(np.round(g.nodes[u]["pos"], 3)),
                            tuple(np.round(g.nodes[v]["pos"], 3))}


def test_graph_kinds_per_phantom():
    dentin = small("dentin", 3).graph
    assert {d["kind"] for _, _, d in dentin.edges(data=True)} == {"tubule", "branch"}
    assert {"tubule_end", "junction", "branch_end"} <= {k for _, k in dentin.nodes(data="kind")}
    lcn = small("lcn", 3).graph
    assert {k for _, k in lcn.nodes(data="kind")} >= {"lacuna", "tip"}
    assert max(d for _, d in lcn.degree()) >= 3
    cortical = small("cortical", 3).graph
    assert {d["kind"] for _, _, d in cortical.edges(data=True)} == {"canal", "volkmann"}
    assert {k for _, k in cortical.nodes(data="kind")} <= {"canal", "tip", "junction", "border"}


# --------------------------------------------------------------------- errors
def test_unknown_kind():
    with pytest.raises(ConfigError, match="dentin, lcn, cortical, porous"):
        phantom("bone")


def test_unknown_parameter_lists_allowed():
    with pytest.raises(ConfigError) as err:
        phantom("dentin", tubule_radius_um=1.0)
    assert "tubule_diameter_um" in str(err.value) and "tubule_radius_um" in str(err.value)


def test_bad_parameter_values():
    with pytest.raises(ConfigError, match="dentin.tubule_diameter_um"):
        phantom("dentin", tubule_diameter_um=-1)
    with pytest.raises(ConfigError, match="lcn.mode"):
        phantom("lcn", mode="fast")
    with pytest.raises(ConfigError, match="spacing_um"):
        phantom("dentin", spacing_um=(0.1, 0.1, 0.1))
    with pytest.raises(ConfigError, match="size_um"):
        phantom("dentin", size_um=0.5, spacing_um=0.1)
    with pytest.raises(ConfigError, match="seed"):
        phantom("dentin", seed=-3)


@pytest.mark.parametrize("dims", [1, 4, True, "2"])
def test_bad_dims(dims):
    with pytest.raises(ConfigError, match="dims"):
        phantom("dentin", dims=dims)


def test_spacing_coarser_than_smallest_feature():
    with pytest.raises(ConfigError, match="branch_diameter_um"):
        phantom("dentin", dims=2, spacing_um=0.5)
    with pytest.raises(ConfigError, match="canaliculus_diameter_um"):
        phantom("lcn", dims=3, mode="physical", size_um=30)  # 0.5 µm voxels, 0.3 µm canaliculi
    with pytest.raises(ConfigError, match="volkmann"):
        phantom("cortical", dims=2, spacing_um=20)
    with pytest.warns(UserWarning):
        phantom("dentin", dims=2, size_um=10, spacing_um=0.5, allow_subvoxel=True)


def test_kind_parameters_table():
    table = kind_parameters("lcn", 3)
    assert table["mode"]["default"] == "scaled" and table["spacing_um"]["default"] == 0.5
    assert kind_parameters("lcn", 2)["mode"]["default"] == "physical"
    assert "µm" in table["canaliculus_diameter_um"]["doc"]


# ------------------------------------------------------------------- saving
def test_save_writes_all_files_atomically(tmp_path):
    ph = small("lcn", 2)
    out = tmp_path / "ph"
    paths = ph.save(out)
    assert {p.name for p in out.iterdir()} == {"image.tif", "mask.tif", "labels.tif",
                                                "graph.json", "params.json"}
    assert set(paths) == {"image", "mask", "labels", "graph", "params"}
    g = load_graph(paths["graph"])
    assert nx.utils.graphs_equal(g, nx.node_link_graph(graph_data(ph.graph), edges="edges"))
    assert json.loads(paths["params"].read_text())["porosity"] == ph.params["porosity"]
    from geosr.io import load

    img = load(paths["image"])
    assert tuple(img.spacing) == pytest.approx(ph.image.spacing)
    np.testing.assert_array_equal(np.asarray(load(paths["mask"]).numpy()), ph.mask.numpy())
    # no temporary leftovers beside the output folder
    assert [p.name for p in tmp_path.iterdir()] == ["ph"]
    with pytest.raises(ConfigError, match="not empty"):
        ph.save(out)
    ph.save(out, overwrite=True)


def test_save_failure_leaves_nothing(tmp_path, monkeypatch):
    import geosr.io

    def boom(image, path, *a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(geosr.io, "save", boom)
    with pytest.raises(RuntimeError):
        small("dentin", 2).save(tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


def test_load_graph_roundtrip_without_io(tmp_path):
    from geosr.phantoms import save_graph

    g = small("cortical", 2).graph
    path = save_graph(g, tmp_path / "g.json")
    back = load_graph(path)
    assert back.number_of_nodes() == g.number_of_nodes()
    assert back.number_of_edges() == g.number_of_edges()
    assert json.dumps(graph_data(back)) == json.dumps(graph_data(g))


# ------------------------------------------------------------------ defaults
@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("dims", [2, 3])
def test_defaults_generate_consistently(kind, dims):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ph = phantom(kind, dims=dims)
    assert mask_components(ph.mask.numpy()) == graph_components(ph.graph)
    if kind != "porous":
        assert abs(relative_skeleton_error(ph)) < 0.05
