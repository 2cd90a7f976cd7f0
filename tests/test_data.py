"""Data pipeline: pairing by name, geometry checks, on-the-fly degradation draws, foreground
sampling, augmentation, splits without leakage, fingerprints, normalisation."""

from __future__ import annotations

import numpy as np
import pytest

from geosr.core.errors import ConfigError, InputError
from geosr.core.image import Image
from geosr.data import (Augmenter, DegradedImages, FolderPairs, Pair, PatchSampler,
                        PercentileNormalizer, PhantomPairs, apply_op, check_pair, draw,
                        field_boxes, fingerprint_files, fingerprint_recipe, make_pair,
                        split_by_image)
from geosr.io import save


def block_mean(array: np.ndarray, s: int) -> np.ndarray:
    """Mean over s-blocks of the spatial axes of a (C, *spatial) array."""
    spatial = array.shape[1:]
    shape = [array.shape[0]] + [v for n in spatial for v in (n // s, s)]
    return array.reshape(shape).mean(axis=tuple(range(2, 2 + 2 * len(spatial), 2)))


def write_pairs(tmp_path, names, scale=4, hr_shape=(64, 64), spacing=0.1, seed=0,
                unique=False):
    """LR/HR TIFF pairs; with ``unique`` every HR pixel of every image holds a distinct
    integer, so any patch reveals the image it came from."""
    lr_dir, hr_dir = tmp_path / "lr", tmp_path / "hr"
    rng = np.random.default_rng(seed)
    n = int(np.prod(hr_shape))
    for i, name in enumerate(names):
        if unique:
            hr = rng.permutation(np.arange(n) + i * n).reshape(hr_shape).astype(np.float32)
        else:
            hr = rng.random(hr_shape).astype(np.float32)
        lr = block_mean(hr[None], scale)[0].astype(np.float32)
        save(Image(hr, "YX", spacing=(spacing, spacing)), hr_dir / f"{name}.tif")
        save(Image(lr, "YX", spacing=(spacing * scale,) * 2), lr_dir / f"{name}.tif")
    return lr_dir, hr_dir


def original_values(pair: Pair, values: np.ndarray) -> np.ndarray:
    """Undo a pair's HR normalisation and round to the integers written to disk."""
    info = pair.meta["normalization"]
    return np.rint(PercentileNormalizer().denormalize(values, info["hr_lo"], info["hr_hi"]))


# ------------------------------------------------------------------------ pairs
def test_check_pair_says_how_shapes_and_spacing_disagree():
    hr = Image(np.zeros((64, 64)), "YX", spacing=(0.1, 0.1))
    assert check_pair(Image(np.zeros((16, 16)), "YX", spacing=(0.4, 0.4)), hr, 4) == []
    assert check_pair(Image(np.zeros((16, 16)), "YX", spacing=(0.4004, 0.4)), hr, 4) == []
    problems = check_pair(Image(np.zeros((16, 17)), "YX", spacing=(0.4, 0.5)), hr, 4)
    assert len(problems) == 2
    assert "axis X: 64 != 68" in problems[0]
    assert "spacing" in problems[1] and "axis X: 0.5 != 0.4" in problems[1]
    assert check_pair(Image(np.zeros((4, 16, 16)), "ZYX"), hr, 4)[0].startswith("axes")
    # uncalibrated images (unit pixel on both sides): the spacing test is skipped
    assert check_pair(Image(np.zeros((16, 16)), "YX", unit="pixel"),
                      Image(np.zeros((64, 64)), "YX", unit="pixel"), 4) == []


def test_folder_pairs_match_by_name(tmp_path):
    lr_dir, hr_dir = write_pairs(tmp_path, ["a", "b", "c", "d", "e"])
    source = FolderPairs(source="folders", lr=lr_dir, hr=hr_dir,
                         split={"names": ["b", "d"]})
    data = source.build(scale=4, seed=0)
    assert sorted(p.name for p in data.train) == ["a", "c", "e"]
    assert sorted(p.name for p in data.val) == ["b", "d"]
    assert data.train[0].lr.shape == (1, 16, 16) and data.train[0].hr.shape == (1, 64, 64)
    assert data.fingerprint.startswith("sha256:") and len(data.fingerprint) == 71
    assert data.degradation["mode"] == "paired_files"


def test_folder_pairs_name_mismatch(tmp_path):
    lr_dir, hr_dir = write_pairs(tmp_path, ["a", "b"])
    (lr_dir / "b.tif").rename(lr_dir / "b_lr.tif")
    with pytest.raises(InputError) as err:
        FolderPairs(source="folders", lr=lr_dir, hr=hr_dir).build(scale=4)
    message = str(err.value)
    assert "only in LR" in message and "b_lr" in message
    assert "only in HR" in message and ": b" in message


def test_folder_pairs_reports_every_bad_file(tmp_path):
    lr_dir, hr_dir = write_pairs(tmp_path, ["a", "b", "c"])
    save(Image(np.zeros((15, 16), np.float32), "YX", spacing=(0.4, 0.4)), lr_dir / "a.tif")
    save(Image(np.zeros((16, 16), np.float32), "YX", spacing=(0.3, 0.4)), lr_dir / "c.tif")
    with pytest.raises(InputError) as err:
        FolderPairs(source="folders", lr=lr_dir, hr=hr_dir).build(scale=4)
    message = str(err.value)
    assert "2 of 3 LR/HR pair(s) do not match at scale 4" in message
    assert "a: shape: HR (64, 64) should be LR (15, 16) x 4 = (60, 64)" in message
    assert "c: spacing: LR (0.3, 0.4) um should be HR (0.1, 0.1) um x 4 = (0.4, 0.4)" in message
    assert "b:" not in message
    # the wrong scale is reported on every file
    with pytest.raises(InputError, match="3 of 3 LR/HR pair"):
        FolderPairs(source="folders", lr=lr_dir, hr=hr_dir).build(scale=2)


def test_empty_folder_and_single_image(tmp_path):
    (tmp_path / "lr").mkdir()
    (tmp_path / "hr").mkdir()
    with pytest.raises(InputError, match="no supported image files"):
        FolderPairs(source="folders", lr=tmp_path / "lr", hr=tmp_path / "hr").build(scale=4)
    lr_dir, hr_dir = write_pairs(tmp_path / "one", ["only"])
    with pytest.raises(InputError, match="split by field"):
        FolderPairs(source="folders", lr=lr_dir, hr=hr_dir).build(scale=4)


def test_modcrop_option(tmp_path):
    lr_dir, hr_dir = write_pairs(tmp_path, ["a", "b"])
    save(Image(np.zeros((66, 67), np.float32), "YX", spacing=(0.1, 0.1)), hr_dir / "a.tif")
    with pytest.raises(InputError, match="modcrop"):
        FolderPairs(source="folders", lr=lr_dir, hr=hr_dir).build(scale=4)
    data = FolderPairs(source="folders", lr=lr_dir, hr=hr_dir, modcrop=True,
                       split={"names": ["b"]}).build(scale=4)
    assert data.train[0].hr.shape == (1, 64, 64)


def test_normalisation_maps_percentiles_to_0_1():
    rng = np.random.default_rng(1)
    hr = Image(rng.gamma(2.0, 100.0, (64, 64)), "YX", spacing=(0.1, 0.1))
    lr = Image(block_mean(hr.numpy()[None], 4)[0] * 3 + 50, "YX", spacing=(0.4, 0.4))
    norm = PercentileNormalizer(1.0, 99.0)
    pair = make_pair(lr, hr, name="x", normalizer=norm, target="own")
    for arr in (pair.lr, pair.hr):
        lo, hi = np.percentile(arr, (1.0, 99.0))
        assert lo == pytest.approx(0.0, abs=1e-5) and hi == pytest.approx(1.0, abs=1e-5)
    same = make_pair(lr, hr, name="x", normalizer=norm, target="input")
    assert same.meta["normalization"]["hr_lo"] == same.meta["normalization"]["lr_lo"]
    assert pair.lr.dtype == np.float32


# --------------------------------------------------------------- degradation draws
def test_draw_ranges_fixed_and_log():
    spec = {"fwhm_um": [0.3, 0.6], "photons": {"low": 50, "high": 500, "log": True},
            "read_noise": 0.01, "per_axis": {"low": [0.5, 0.1], "high": [1.0, 0.2]},
            "fixed_axes": {"value": [0.2, 0.1]}}
    values = [draw(spec, np.random.default_rng(s)) for s in range(400)]
    fwhm = np.array([v["fwhm_um"] for v in values])
    photons = np.array([v["photons"] for v in values])
    assert fwhm.min() >= 0.3 and fwhm.max() <= 0.6
    assert photons.min() >= 50 and photons.max() <= 500
    # log-uniform: the median is the geometric mean sqrt(50 * 500) = 158 (uniform: 275)
    assert abs(np.median(photons) - 158.1) < 30
    assert all(v["read_noise"] == 0.01 and v["fixed_axes"] == (0.2, 0.1) for v in values)
    ratios = np.array([v["per_axis"][0] / v["per_axis"][1] for v in values])
    assert np.allclose(ratios, 5.0)  # one shared draw keeps the per-axis ratio
    assert draw(spec, np.random.default_rng(7)) == draw(dict(reversed(spec.items())),
                                                        np.random.default_rng(7))


def test_degraded_images_draws_within_ranges_and_recorded(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("a", "b", "c"):
        save(Image(rng.random((64, 64)).astype(np.float32), "YX", spacing=(0.1, 0.1)),
             tmp_path / f"{name}.tif")
    ranges = {"fwhm_um": [0.3, 0.6], "photons": {"low": 50, "high": 500, "log": True},
              "variants": 3}
    source = DegradedImages(source="degrade", hr=tmp_path, degradation=ranges,
                            split={"names": ["c"]})
    data = source.build(scale=4, seed=5)
    info = data.degradation
    assert len(data.train) == 6 and len(data.val) == 1
    assert len(info["train_draws"]) == 6 and len(info["val_draws"]) == 1
    for record in info["train_draws"] + info["val_draws"]:
        assert 0.3 <= record["params"]["fwhm_um"] <= 0.6
        assert 50 <= record["params"]["photons"] <= 500
        assert isinstance(record["seed"], int)
    assert info["summary"]["fwhm_um"]["n"] == 6
    assert 0.3 <= info["summary"]["fwhm_um"]["min"] <= info["summary"]["fwhm_um"]["max"] <= 0.6
    assert len({r["params"]["fwhm_um"] for r in info["train_draws"]}) == 6  # all different
    # the record replays the LR image exactly
    from geosr.degrade import degrade
    from geosr.io import load

    record, pair = info["train_draws"][4], data.train[4]
    lr = degrade(load(tmp_path / f"{record['image']}.tif"), scale=4, seed=record["seed"],
                 **record["params"])
    lo, hi = pair.meta["normalization"]["lr_lo"], pair.meta["normalization"]["lr_hi"]
    expected = PercentileNormalizer().normalize(lr.numpy(), lo, hi)
    np.testing.assert_array_equal(pair.lr[0], expected)
    # same seed, same draws; another seed, other draws
    again = source.build(scale=4, seed=5).degradation["train_draws"]
    assert again == info["train_draws"]
    other = source.build(scale=4, seed=6).degradation["train_draws"]
    assert other != info["train_draws"]


def test_degradation_config_errors():
    with pytest.raises(Exception) as err:
        DegradedImages(source="degrade", hr="x", degradation={"fwhm_um": [0.6, 0.3]})
    assert "above high" in str(err.value)


def test_phantom_pairs_seeds_and_fingerprint():
    recipe = dict(source="phantom", kind="dentin", size_um=6.4, spacing_um=0.1,
                  train_seeds=[0, 1], val_seeds=[100],
                  degradation={"fwhm_um": [0.3, 0.5], "variants": 2})
    data = PhantomPairs(**recipe).build(scale=4, seed=0)
    assert [p.group for p in data.val] == ["dentin-seed100"]
    assert {p.group for p in data.train} == {"dentin-seed0", "dentin-seed1"}
    assert len(data.train) == 4 and data.train[0].hr.shape == (1, 64, 64)
    again = PhantomPairs(**recipe).build(scale=4, seed=0)
    assert again.fingerprint == data.fingerprint
    np.testing.assert_array_equal(again.train[3].lr, data.train[3].lr)
    other = PhantomPairs(**{**recipe, "train_seeds": [0, 2]}).build(scale=4, seed=0)
    assert other.fingerprint != data.fingerprint
    with pytest.raises(Exception, match="also in train_seeds"):
        PhantomPairs(**{**recipe, "val_seeds": [1]})


# ------------------------------------------------------------------ sampling
def _blob_pair(size=128, scale=4):
    hr = np.zeros((1, size, size), np.float32)
    hr[:, 96:112, 16:40] = 1.0  # one small bright structure, ~2.3 % of the image
    return Pair("blob", "blob", block_mean(hr, scale).astype(np.float32), hr, (0.1, 0.1))


def test_foreground_bias_picks_structure_more_often():
    pair = _blob_pair()

    def hit_rate(bias):
        sampler = PatchSampler([pair], (8, 8), 4, foreground_bias=bias, seed=3)
        _, hr, _ = sampler.sample(2000)
        return float((hr.reshape(len(hr), -1).max(axis=1) > 0).mean())

    uniform, biased = hit_rate(0.0), hit_rate(0.8)
    # analytic uniform rate: corners whose 8x8 LR window overlaps rows 24..27, cols 4..9
    rows = len([r for r in range(25) if r <= 27 and r + 8 > 24])
    cols = len([c for c in range(25) if c <= 9 and c + 8 > 4])
    expected = rows * cols / 25 ** 2
    se = np.sqrt(expected * (1 - expected) / 2000)
    assert abs(uniform - expected) < 4 * se
    assert biased > 0.8 and biased > uniform + 0.5
    print(f"foreground hit rate: uniform {uniform:.3f} (expected {expected:.3f}), "
          f"biased {biased:.3f}")


def test_sampler_state_restores_the_same_patches():
    pair = _blob_pair()
    a = PatchSampler([pair], (8, 8), 4, augmenter=Augmenter(2, (0.1, 0.1), (8, 8)), seed=1)
    a.sample(5)
    state = a.state_dict()
    b = PatchSampler([pair], (8, 8), 4, augmenter=Augmenter(2, (0.1, 0.1), (8, 8)), seed=99)
    b.load_state_dict(state)
    x1, y1, i1 = a.sample(7)
    x2, y2, i2 = b.sample(7)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert i1 == i2


def test_patch_larger_than_image_is_an_error():
    with pytest.raises(InputError, match="smaller than the LR patch"):
        PatchSampler([_blob_pair(size=32)], (16, 16), 4)


# -------------------------------------------------------------- augmentation
@pytest.mark.parametrize("dims,spacing,count", [
    (2, (0.1, 0.1), 8), (2, (0.2, 0.1), 4), (3, (0.1, 0.1, 0.1), 48), (3, (0.3, 0.1, 0.1), 8)])
def test_augmentations_keep_pairs_aligned(dims, spacing, count):
    rng = np.random.default_rng(0)
    hr = rng.random((2,) + (16,) * dims).astype(np.float64)
    lr = block_mean(hr, 4)
    aug = Augmenter(dims, spacing, (4,) * dims)
    assert len(aug) == count
    results = set()
    for k in range(len(aug)):
        a_lr, a_hr = aug(lr, hr, k)
        np.testing.assert_allclose(block_mean(a_hr, 4), a_lr, rtol=0, atol=1e-12)
        results.add(a_hr.tobytes())
    assert len(results) == count  # every operation is distinct


def test_anisotropic_3d_only_in_plane():
    aug = Augmenter(3, (0.5, 0.1, 0.1), (4, 8, 8))
    assert aug.in_plane_only and len(aug) == 8
    z = np.arange(4, dtype=float)[None, :, None, None] * np.ones((1, 4, 8, 8))
    for perm, flips in aug.ops:
        assert perm[0] == 0 and not flips[0]  # Z never moves nor flips
        np.testing.assert_array_equal(apply_op(z, (perm, flips)), z)
    # forcing in-plane on an isotropic stack, and patches with unequal in-plane sizes
    assert len(Augmenter(3, (0.1, 0.1, 0.1), (8, 8, 8), in_plane_only=True)) == 8
    assert len(Augmenter(2, (0.1, 0.1), (8, 4))) == 4
    assert len(Augmenter(2, (0.1, 0.1), (8, 8), rot90=False, flips=False)) == 1


def test_sampled_patches_are_aligned():
    rng = np.random.default_rng(2)
    hr = rng.random((1, 64, 64)).astype(np.float64)
    pair = Pair("r", "r", block_mean(hr, 4), hr, (0.1, 0.1))
    sampler = PatchSampler([pair], (6, 6), 4, augmenter=Augmenter(2, (0.1, 0.1), (6, 6)),
                           seed=0)
    lr, hr_p, info = sampler.sample(64)
    assert len({i["op"] for i in info}) > 4
    np.testing.assert_allclose(np.stack([block_mean(h, 4) for h in hr_p]), lr, atol=1e-6)


# -------------------------------------------------------------------- splits
def test_split_by_image_is_seeded_and_disjoint():
    names = [f"img{i}" for i in range(10)]
    train, val = split_by_image(names, fraction=0.3, seed=4)
    assert len(val) == 3 and not set(train) & set(val) and sorted(train + val) == names
    assert split_by_image(names, fraction=0.3, seed=4) == (train, val)
    with pytest.raises(ConfigError, match="not in the data"):
        split_by_image(names, val_names=["nope"])


def test_no_validation_image_contributes_a_training_patch(tmp_path):
    lr_dir, hr_dir = write_pairs(tmp_path, [f"img{i}" for i in range(6)], seed=3, unique=True)
    data = FolderPairs(source="folders", lr=lr_dir, hr=hr_dir,
                       split={"fraction": 0.34}).build(scale=4, seed=1)
    val_groups = {p.group for p in data.val}
    assert len(val_groups) == 2 and not val_groups & {p.group for p in data.train}
    sampler = PatchSampler(data.train, (4, 4), 4,
                           augmenter=Augmenter(2, (0.1, 0.1), (4, 4)), seed=0)
    _, hr, info = sampler.sample(3000)
    assert not {i["name"] for i in info} & val_groups
    # content check: no pixel of a validation image appears in any training patch
    seen = np.concatenate([original_values(data.train[i["pair"]], patch).ravel()
                           for i, patch in zip(info, hr)])
    val_values = np.concatenate([original_values(p, p.hr).ravel() for p in data.val])
    assert len(np.unique(val_values)) == 2 * 64 * 64
    assert not np.isin(seen, val_values).any()
    assert len(np.unique(seen)) > 3000  # the patches do cover the training images


def test_split_by_field_keeps_fields_apart(tmp_path):
    # every HR pixel has a unique value, so a patch reveals where it came from
    hr = np.arange(96 * 96, dtype=np.float32).reshape(96, 96)
    save(Image(hr, "YX", spacing=(0.1, 0.1)), tmp_path / "big.tif")
    boxes = field_boxes((96, 96), fields=3, scale=4)
    assert len(boxes) == 9 and all(a % 4 == 0 and b % 4 == 0 for box in boxes for a, b in box)
    data = DegradedImages(source="degrade", hr=tmp_path, degradation={"variants": 1},
                          split={"by": "field", "fields": 3, "fraction": 0.3},
                          ).build(scale=4, seed=0)
    assert len(data.val) == 3 and len(data.train) == 6
    assert not {p.group for p in data.val} & {p.group for p in data.train}
    sampler = PatchSampler(data.train, (4, 4), 4, seed=0)
    _, patches, info = sampler.sample(2000)
    seen = np.concatenate([original_values(data.train[i["pair"]], patch).ravel()
                           for i, patch in zip(info, patches)])
    val_values = np.concatenate([original_values(p, p.hr).ravel() for p in data.val])
    assert len(np.unique(val_values)) == val_values.size  # fields do not overlap
    assert not np.isin(seen, val_values).any()
    train_values = np.concatenate([original_values(p, p.hr).ravel() for p in data.train])
    assert np.isin(seen, train_values).all()


# --------------------------------------------------------------- fingerprints
def test_fingerprints(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"one")
    (tmp_path / "b.bin").write_bytes(b"two")
    files = [("a", tmp_path / "a.bin"), ("b", tmp_path / "b.bin")]
    first = fingerprint_files(files)
    assert first == fingerprint_files(list(reversed(files)))
    (tmp_path / "b.bin").write_bytes(b"tw0")
    assert fingerprint_files(files) != first
    assert fingerprint_files([("a", tmp_path / "a.bin"), ("c", tmp_path / "b.bin")]) != \
        fingerprint_files(files)
    assert fingerprint_recipe({"a": 1, "b": [1, 2]}) == fingerprint_recipe({"b": [1, 2], "a": 1})
    assert fingerprint_recipe({"a": 1}) != fingerprint_recipe({"a": 2})
