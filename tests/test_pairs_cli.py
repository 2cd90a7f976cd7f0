"""``geosr pairs register``: bad pairs rejected with their reasons, outputs, idempotent and
resumable reruns, exit 2 for bad input; the forward_model.json it writes drives
``geosr degrade --forward`` and ``geosr trust --forward``."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from scipy import ndimage

from geosr.cli.main import main
from geosr.core import Image
from geosr.io import load, save
from geosr.pairs.simulate import simulate_acquisition
from geosr.pairs.transform import PairTransform

SCALE, FWHM_PX, PHOTONS, READ, OFFSET = 4, 5.0, 2.0, 1.0, 5.0


def _texture(seed, shape=(128, 128)):
    g = ndimage.gaussian_filter(np.random.default_rng(seed).random(shape), 2.5)
    return (g - g.min()) / (g.max() - g.min()) * 200.0


def _hr(seed, shape=(128, 128)):
    return Image(_texture(seed, shape).astype(np.float32), "YX", spacing=(0.1, 0.1))


def _lr(hr, seed, t=(1.3, -2.4), fwhm=FWHM_PX, scale=SCALE):
    return simulate_acquisition(hr, scale, PairTransform(t), fwhm_px=fwhm, photons=PHOTONS,
                                read_noise=READ, b=OFFSET, seed=seed)


def _write(root, name, lr, hr):
    save(lr.replace(data=np.asarray(lr.numpy(), np.float32)), root / "lr" / f"{name}.tif")
    save(hr, root / "hr" / f"{name}.tif")


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs_raw")
    for k in range(4):
        hr = _hr(k)
        _write(root, f"good{k}", _lr(hr, k, t=(1.3 - k, 0.7 * k - 2.4)), hr)
    _write(root, "other_field", _lr(_hr(50), 5), _hr(51))
    hr = _hr(60)    # LR made at x3 from the central 96 px: same LR size, wrong scale
    crop = hr.replace(data=hr.numpy()[16:112, 16:112])
    lr = _lr(crop, 6, t=(0.4, 0.2), fwhm=3.5, scale=3)
    _write(root, "wrong_scale", lr, hr)                    # its pixel size says x3
    _write(root, "wrong_scale_unlabelled", lr.replace(spacing=(0.4, 0.4)), hr)  # says x4
    hr = _hr(70)
    _write(root, "focus", _lr(hr, 7, fwhm=3.0 * FWHM_PX), hr)
    hr = _hr(80)
    lr = _lr(hr, 8)
    _write(root, "saturated", lr.replace(data=np.minimum(lr.numpy(), np.percentile(
        lr.numpy(), 90))), hr)
    _write(root, "empty", lr.replace(data=np.full(lr.shape, 7.0)), _hr(81))
    return root


@pytest.fixture(scope="module")
def registered(raw, tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs_out") / "reg"
    code = main(["pairs", "register", str(raw / "lr"), str(raw / "hr"), "--scale", "4",
                 "--out", str(out)])
    assert code == 0
    return out


def _csv(out):
    import csv

    with open(out / "pairs.csv", newline="") as fh:
        return {row["name"]: row for row in csv.DictReader(fh)}


def test_bad_pairs_rejected_with_reasons(registered):
    rows = _csv(registered)
    reasons = {name: (r["verdict"], r["reason"]) for name, r in rows.items()}
    for k in range(4):
        assert reasons[f"good{k}"] == ("ok", ""), reasons
    assert reasons["other_field"][0] == "reject"
    assert reasons["other_field"][1].startswith("different field")
    assert reasons["wrong_scale"][0] == "reject"
    assert reasons["wrong_scale"][1].startswith("scale mismatch: the LR/HR pixel-size ratio is 3")
    verdict, reason = reasons["wrong_scale_unlabelled"]       # found from the content
    assert verdict == "reject" and reason.startswith("scale mismatch: the LR matches the HR "
                                                     "at x3"), reason
    assert reasons["focus"][0] == "reject" and reasons["focus"][1].startswith("focus change")
    assert reasons["saturated"][0] == "reject" and "saturated LR" in reasons["saturated"][1]
    assert reasons["empty"][0] == "reject" and "empty LR" in reasons["empty"][1]
    # rejected pairs are left out of lr/ and hr/, named (with reasons) in the report
    assert sorted(p.name for p in (registered / "lr").iterdir()) == [
        f"good{k}.tif" for k in range(4)]
    assert sorted(p.name for p in (registered / "hr").iterdir()) == [
        f"good{k}.tif" for k in range(4)]
    page = (registered / "report.html").read_text()
    for name in ("other_field", "wrong_scale_unlabelled", "focus", "saturated", "empty"):
        assert name in page
    assert "focus change" in page and page.count("data:image/png") >= 4 * 3
    # the recorded shift is the true one (1.3 - k, 0.7 k - 2.4), in LR px and in µm
    for k in range(4):
        r = rows[f"good{k}"]
        assert float(r["shift_y_lr_px"]) == pytest.approx(1.3 - k, abs=0.05)
        assert float(r["shift_x_lr_px"]) == pytest.approx(0.7 * k - 2.4, abs=0.05)
        assert float(r["shift_x_um"]) == pytest.approx(0.4 * float(r["shift_x_lr_px"]), rel=1e-4)
        assert float(r["ncc_after"]) > float(r["ncc_before"])


def test_outputs_grid_spacing_and_forward_model(registered, raw):
    from geosr.degrade import ForwardModel
    from geosr.trust.acquisition import Acquisition

    lr, hr = load(registered / "lr" / "good0.tif"), load(registered / "hr" / "good0.tif")
    assert hr.shape == (lr.shape[0] * 4, lr.shape[1] * 4)
    assert lr.spacing == pytest.approx((0.4, 0.4)) and hr.spacing == pytest.approx((0.1, 0.1))
    assert hr.origin == pytest.approx(tuple(o - 0.15 for o in lr.origin))
    record = json.loads((registered / "forward_model.json").read_text())
    est = record["estimate"]
    assert est["n_pairs"] == 4 and sorted(est["pairs"]) == [f"good{k}" for k in range(4)]
    assert est["fwhm_um"] == pytest.approx([FWHM_PX * 0.1] * 2, rel=0.10)
    assert est["noise"]["gain"] == pytest.approx(1 / PHOTONS, rel=0.2)
    assert est["noise"]["offset"] == pytest.approx(OFFSET, abs=0.5)
    assert all(v > 0 for v in est["fwhm_um_se"]) and est["noise"]["gain_se"] > 0
    model = ForwardModel.from_record(record)
    assert [s.name for s in model.steps] == ["gaussian_blur", "downsample", "intensity_map",
                                             "poisson_gaussian_noise"]
    acq = Acquisition.from_record(record)
    assert acq.scale_per_axis(2) == (4, 4)
    assert acq.gain == pytest.approx(est["noise"]["gain"])
    assert acq.offset == pytest.approx(est["noise"]["offset"])


def test_rerun_skips_everything_and_resumes_one_pair(raw, registered, capsys,
                                                     tmp_path):
    before = {p.relative_to(registered): p.read_bytes() for p in registered.rglob("*")
              if p.is_file() and ".cache" not in p.parts}
    capsys.readouterr()
    assert main(["pairs", "register", str(raw / "lr"), str(raw / "hr"), "--scale", "4",
                 "--out", str(registered)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("unchanged, skipped") == 10 and "registered" not in printed.replace(
        "registered ->", "")
    after = {p.relative_to(registered): p.read_bytes() for p in registered.rglob("*")
             if p.is_file() and ".cache" not in p.parts}
    assert after == before                                   # idempotent, byte for byte
    # a run interrupted after some pairs: the missing pair is redone, the rest skipped
    (registered / ".cache" / "good2.json").unlink()
    (registered / "lr" / "good2.tif").unlink()
    assert main(["pairs", "register", str(raw / "lr"), str(raw / "hr"), "--scale", "4",
                 "--out", str(registered)]) == 0
    printed = capsys.readouterr().out
    assert "good2: registered" in printed and printed.count("unchanged, skipped") == 9
    again = {p.relative_to(registered): p.read_bytes() for p in registered.rglob("*")
             if p.is_file() and ".cache" not in p.parts}
    assert again == before
    # a changed input is redone
    shutil.copytree(raw, tmp_path / "raw")
    hr = _hr(0)
    save(hr.replace(data=hr.numpy() * 1.5), tmp_path / "raw" / "hr" / "good0.tif")
    shutil.copytree(registered, tmp_path / "reg")
    assert main(["pairs", "register", str(tmp_path / "raw" / "lr"),
                 str(tmp_path / "raw" / "hr"), "--scale", "4", "--out",
                 str(tmp_path / "reg")]) == 0
    assert "good0: registered" in capsys.readouterr().out


@pytest.mark.parametrize("case", ["missing", "unmatched", "unreadable", "transform"])
def test_bad_input_exits_2_with_one_line_and_no_output(raw, tmp_path, capsys, case):
    lr_dir, hr_dir = raw / "lr", raw / "hr"
    extra = []
    if case == "missing":
        lr_dir = tmp_path / "nope"
    elif case in ("unmatched", "unreadable"):
        shutil.copytree(raw, tmp_path / "raw")
        lr_dir, hr_dir = tmp_path / "raw" / "lr", tmp_path / "raw" / "hr"
        if case == "unmatched":
            (hr_dir / "good1.tif").unlink()
        else:
            (lr_dir / "good1.tif").write_bytes(b"not a tiff at all")
    else:
        extra = ["--transform", "affine"]
    out = tmp_path / "out"
    capsys.readouterr()
    code = main(["pairs", "register", str(lr_dir), str(hr_dir), "--scale", "4", "--out",
                 str(out), *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) <= (4 if case == "transform" else 1)   # typer usage
    expected = {"missing": "nope", "unmatched": "good1", "unreadable": "good1.tif",
                "transform": "affine"}[case]
    assert expected in err
    assert not out.exists()


def test_forward_model_drives_degrade(registered, tmp_path):
    """The fitted forward model applied to an HR image gives an LR image with the measured
    scale, PSF and noise: its residual against the noise-free part has the fitted variance."""
    from geosr.pairs.forward import degrade_with_forward, load_forward_model

    record = load_forward_model(registered / "forward_model.json")
    hr = _hr(90, (256, 256))
    lr = degrade_with_forward(hr, registered / "forward_model.json", seed=3)
    assert lr.shape == (64, 64) and lr.spacing == pytest.approx((0.4, 0.4))
    assert lr.metadata["degradation"]["forward_model"].endswith("forward_model.json")
    clean_record = {**record, "steps": record["steps"][:3]}
    clean = degrade_with_forward(hr, clean_record)
    resid = lr.numpy() - clean.numpy() - record["estimate"]["noise"]["offset"]
    noise = record["estimate"]["noise"]
    expected_var = np.mean(noise["gain"] * clean.numpy() + noise["read_noise"] ** 2)
    assert resid.var() == pytest.approx(expected_var, rel=0.15)
    assert abs(resid.mean()) < 4 * np.sqrt(expected_var / resid.size)


def test_forward_model_drives_degrade_cli(registered, tmp_path):
    hr_path = tmp_path / "hr.tif"
    save(_hr(91, (256, 256)), hr_path)
    out = tmp_path / "lr.tif"
    code = main(["degrade", str(hr_path), str(out), "--forward",
                 str(registered / "forward_model.json"), "--seed", "1"])
    assert code == 0
    assert load(out).shape == (64, 64)
    params = json.loads((tmp_path / "lr.tif.params.json").read_text())
    assert [s["name"] for s in params["steps"]][:2] == ["gaussian_blur", "downsample"]
    code = main(["degrade", str(hr_path), str(tmp_path / "x.tif"), "--forward",
                 str(registered / "forward_model.json"), "--fwhm-um", "0.3"])
    assert code == 2 and not (tmp_path / "x.tif").exists()


def test_forward_model_drives_trust(registered, tmp_path, capsys):
    import torch

    from geosr.models import build_model, save_model
    from geosr.models.summary import native_kernels

    torch.manual_seed(0)
    model = save_model(tmp_path / "model", build_model("fsrcnn", dims=2, scale=4, d=4, s=2,
                                                       m=1))
    lr_path = registered / "lr" / "good0.tif"
    sr = tmp_path / "sr.tif"
    with native_kernels():
        assert main(["predict", str(lr_path), "--model", str(model), "--out", str(sr),
                     "--device", "cpu"]) == 0
        forward = registered / "forward_model.json"
        assert main(["trust", str(sr), str(lr_path), "--model", str(model), "--forward",
                     str(forward), "--uncertainty", "none", "--out",
                     str(tmp_path / "t")]) == 0
    summary = json.loads((tmp_path / "t" / "trust.json").read_text())
    assert str(forward) in json.dumps(summary)          # the acquisition's source
    gain = json.loads(forward.read_text())["estimate"]["noise"]["gain"]
    with native_kernels():
        assert main(["calibrate", "--model", str(model), "--pairs", str(registered),
                     "--forward", str(forward), "--uncertainty", "constant",
                     "--out", str(tmp_path / "card.json")]) == 0
    card = json.loads((tmp_path / "card.json").read_text())
    assert card["acquisition"]["signature"]["gain"] == pytest.approx(gain)
    capsys.readouterr()
    code = main(["trust", str(sr), str(lr_path), "--model", str(model), "--forward",
                 str(forward), "--photons", "10", "--out", str(tmp_path / "t2")])
    assert code == 2 and "--forward" in capsys.readouterr().err


def test_training_sources_use_forward_model_and_register(registered, raw, tmp_path,
                                                         monkeypatch):
    from pydantic import TypeAdapter

    from geosr.data.sources import DataSource

    forward = registered / "forward_model.json"
    adapter = TypeAdapter(DataSource)
    phantom = adapter.validate_python({
        "source": "phantom", "kind": "dentin", "size_um": 12.8, "spacing_um": 0.1,
        "train_seeds": 2, "val_seeds": 1, "degradation": {"forward": str(forward),
                                                          "variants": 1}})
    ds = phantom.build(scale=4)
    assert ds.train[0].lr.shape[-2:] == (32, 32)
    assert ds.degradation["train_draws"][0]["params"] == {}
    with pytest.raises(Exception, match="forward"):      # the file fixes the noise
        adapter.validate_python({"source": "phantom", "degradation": {
            "forward": str(forward), "photons": 10}})
    with pytest.raises(Exception, match="scale"):        # the file is for x4
        phantom.build(scale=2)
    # raw pairs registered once into a content-keyed cache; bad pairs left out
    monkeypatch.setenv("GEOSR_CACHE", str(tmp_path / "cache"))
    folders = adapter.validate_python({"source": "folders", "lr": str(raw / "lr"),
                                       "hr": str(raw / "hr"), "register": True,
                                       "split": {"by": "image", "fraction": 0.25}})
    ds = folders.build(scale=4)
    names = sorted(p.group for p in ds.train + ds.val)
    assert names == [f"good{k}" for k in range(4)]
    info = ds.degradation["registration"]
    assert info["counts"]["reject"] == 6 and "focus" in info["rejected"]
    cached = list((tmp_path / "cache" / "pairs").iterdir())
    assert len(cached) == 1
    stamp = (cached[0] / ".cache" / "good0.json").stat().st_mtime_ns
    folders.build(scale=4)                               # reused: nothing registered again
    assert (cached[0] / ".cache" / "good0.json").stat().st_mtime_ns == stamp
    assert len(list((tmp_path / "cache" / "pairs").iterdir())) == 1


def test_physics_cyclegan_takes_the_measured_psf(registered, tmp_path):
    from geosr.train import parse_config
    from geosr.train.loop import trainer_class

    forward = registered / "forward_model.json"
    cfg = parse_config({
        "seed": 3, "scale": 4, "algorithm": "cyclegan",
        "data": {"source": "unpaired_phantom", "kind": "dentin", "size_um": 12.8,
                 "spacing_um": 0.1, "hr_seeds": [0], "lr_seeds": [50], "val_seeds": [100],
                 "degradation": {"forward": str(forward), "variants": 1}},
        "model": {"name": "unet_pix2pix", "arguments": {"ngf": 8, "depth": 3}},
        "cyclegan": {"backward": "physics"},     # F from data.degradation.forward
        "patch": {"size": 32}, "adversarial": {"ndf": 8, "receptive_field": 16},
        "train": {"steps": 2, "batch_size": 2, "threads": 1, "device": "cpu"},
        "logging": {"progress": False}})
    trainer = trainer_class(cfg.algorithm)(cfg, show_progress=False)
    trainer.out = tmp_path
    trainer._build()
    fwhm = json.loads(forward.read_text())["fwhm_um"]
    assert trainer.forward_info["fwhm_um"] == pytest.approx(fwhm)
    assert trainer.forward_info["sigma_hr_px"] == pytest.approx(
        [f / 0.1 / 2.3548200450309493 for f in fwhm])
    lr_only = trainer.data.degradation["lr_only_draws"]     # the LR-only phantoms too
    assert lr_only and lr_only[0]["params"] == {}


def test_qc_rules_on_numbers():
    from geosr.pairs import qc

    widths = {"a": 1.00, "b": 1.02, "c": 0.98, "d": 1.01, "e": 0.70}
    assert list(qc.judge_focus(widths)) == ["e"]                 # 30 % narrower: outlier
    assert qc.judge_focus(widths, {"e": 0.1}) == {}              # unless its own error is large
    assert qc.judge_focus({"a": 1.0, "b": 2.0}) == {}            # too few pairs to tell
    assert qc.judge_precision({"shift_y": 0.02, "shift_x": 0.03})[0] == "ok"
    verdict, reason = qc.judge_precision({"shift_y": 0.02, "shift_x": 0.09,
                                          "rotation_deg": 0.01})
    assert verdict == "suspect" and "0.090 LR px" in reason
    assert qc.judge(0.95, (4, 4), np.zeros((8, 8)), np.zeros((32, 32)), zoom=1.03)[1] \
        .startswith("scale mismatch: the fitted zoom is 1.030")
    assert qc.judge(0.7, (4, 4), np.zeros((8, 8)), np.zeros((32, 32)))[0] == "suspect"
    assert qc.noise_sd(np.random.default_rng(1).normal(0, 3.0, (64, 64, 64))) == \
        pytest.approx(3.0, rel=0.03)


def test_deformable_option_reports_the_field(raw, tmp_path):
    for side in ("lr", "hr"):
        (tmp_path / "raw" / side).mkdir(parents=True)
        shutil.copy(raw / side / "good1.tif", tmp_path / "raw" / side / "good1.tif")
    out = tmp_path / "out"
    assert main(["pairs", "register", str(tmp_path / "raw" / "lr"), str(tmp_path / "raw" / "hr"),
                 "--scale", "4", "--out", str(out), "--deformable"]) == 0
    row = _csv(out)["good1"]
    assert row["verdict"] == "ok" and float(row["deformation_max_lr_px"]) < 0.1
