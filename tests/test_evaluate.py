"""``geosr.assess.evaluate`` and ``geosr evaluate``: pairing, numbers equal to the metric
functions, CSV with its convention, maps on the truth's grid, clear errors without partial
output, and the acceptance check on Set14 x4 (bicubic) against the published table."""

from __future__ import annotations

import csv
import math
import subprocess
import sys

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from geosr.assess import evaluate, full_reference, pearson, psnr, ssim
from geosr.assess.evaluation import pair_files
from geosr.cli.evaluate import evaluate as evaluate_command
from geosr.core import ConfigError, GeosrError, Image, InputError


def _images(seed=0, shape=(48, 56), spacing=(0.1, 0.1)):
    rng = np.random.default_rng(seed)
    gt = rng.random(shape).astype(np.float32)
    pred = (gt + 0.05 * rng.standard_normal(shape)).astype(np.float32)
    axes = "YX" if len(shape) == 2 else "ZYX"
    return (Image(pred, axes, spacing=spacing, unit="um"),
            Image(gt, axes, spacing=spacing, unit="um"))


def _save_pairs(tmp_path, n=3, pred_tag="_pred", gt_tag="_GT", **kwargs):
    from geosr.io import save

    (tmp_path / "pred").mkdir(exist_ok=True)
    (tmp_path / "gt").mkdir(exist_ok=True)
    for i in range(n):
        pred, gt = _images(seed=i, **kwargs)
        save(pred, tmp_path / "pred" / f"cell{i}{pred_tag}.tif")
        save(gt, tmp_path / "gt" / f"cell{i}{gt_tag}.tif")
    return tmp_path / "pred", tmp_path / "gt"


def _read_csv(path):
    lines = path.read_text().splitlines()
    comments = [line for line in lines if line.startswith("#")]
    rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    return comments, rows


# ------------------------------------------------------------------ library front door
def test_arrays_give_the_numbers_of_the_metric_functions():
    pred, gt = _images(shape=(64, 64))
    result = evaluate(pred.numpy(), gt.numpy(), data_range=1.0, scale=2)
    row = result.rows[0]
    direct = full_reference(pred.numpy(), gt.numpy(), data_range=1.0, crop=2)
    for name in ("PSNR", "SSIM", "NRMSE", "MAE", "Pearson", "GMSD"):
        assert row[name] == direct[name].value
    assert math.isnan(row["MS-SSIM"]) and "MS-SSIM" in row["notes"]
    assert result.convention["crop"] == "2 px per border"
    assert result.convention["data_range"] == "1 (given)"
    assert result.summary()["PSNR"]["n"] == 1 and math.isnan(result.summary()["PSNR"]["sd"])


def test_folders_csv_and_maps(tmp_path):
    pred_dir, gt_dir = _save_pairs(tmp_path)
    out = tmp_path / "res" / "table.csv"
    maps = tmp_path / "maps"
    result = evaluate(pred_dir, gt_dir, data_range=1.0, scale=4, out_csv=out, maps_dir=maps,
                      fit="affine")
    assert [r["name"] for r in result.rows] == ["cell0", "cell1", "cell2"]
    comments, rows = _read_csv(out)
    assert comments[0].startswith("# geosr evaluate") and "protocol=microscopy" in comments[0]
    text = "\n".join(comments)
    for fragment in ("crop: 4 px per border", "data_range: 1 (given)", "fit: affine",
                     "channel: grey", "NRMSE: euclidean"):
        assert fragment in text
    assert [r["name"] for r in rows] == ["cell0", "cell1", "cell2", "mean", "sd"]
    psnrs = [float(r["PSNR [dB]"]) for r in rows[:3]]
    assert psnrs == [row["PSNR"] for row in result.rows]
    assert float(rows[3]["PSNR [dB]"]) == pytest.approx(np.mean(psnrs))
    assert float(rows[4]["PSNR [dB]"]) == pytest.approx(np.std(psnrs, ddof=1))
    # the maps: float32 TIFF on the truth's grid, spacing kept, NaN outside the region
    from geosr.io import load

    assert sorted(p.name for p in maps.iterdir()) == sorted(
        f"cell{i}_{k}.tif" for i in range(3) for k in ("abs_error", "ssim"))
    err = load(maps / "cell1_abs_error.tif")
    s_map = load(maps / "cell1_ssim.tif")
    assert err.dtype == np.float32 and err.shape == (48, 56)
    assert err.spacing == (0.1, 0.1) and err.unit == "um"
    values = err.numpy()
    assert np.isnan(values[:4]).all() and np.isfinite(values[4:-4, 4:-4]).all()
    pred = load(pred_dir / "cell1_pred.tif").numpy()[4:-4, 4:-4].astype(np.float64)
    gt = load(gt_dir / "cell1_GT.tif").numpy()[4:-4, 4:-4].astype(np.float64)
    from geosr.assess.conventions import affine_fit

    np.testing.assert_allclose(values[4:-4, 4:-4], np.abs(affine_fit(pred, gt)[0] - gt),
                               rtol=1e-5, atol=1e-6)
    inner = s_map.numpy()[9:-9, 9:-9]
    assert np.isfinite(inner).all() and np.isnan(s_map.numpy()[:9]).all()
    assert float(inner.mean()) == pytest.approx(result.rows[1]["SSIM"], abs=1e-6)


def test_pairing_rules(tmp_path):
    pred_dir, gt_dir = _save_pairs(tmp_path, n=2, pred_tag="_SR", gt_tag="_HR")
    from geosr.io import save

    save(Image(np.zeros((12, 14), np.float32), "YX"), gt_dir / "cell0_LR.tif")  # ignored
    pairs = pair_files(pred_dir, gt_dir)
    assert [(n, p.name, g.name) for n, p, g in pairs] == [
        ("cell0", "cell0_SR.tif", "cell0_HR.tif"), ("cell1", "cell1_SR.tif", "cell1_HR.tif")]
    save(Image(np.zeros((12, 14), np.float32), "YX"), pred_dir / "extra.tif")
    with pytest.raises(InputError, match="extra.tif"):
        pair_files(pred_dir, gt_dir)
    (pred_dir / "extra.tif").unlink()
    (pred_dir / "cell1_SR.tif").unlink()
    with pytest.raises(InputError, match="no prediction"):
        pair_files(pred_dir, gt_dir)
    with pytest.raises(InputError, match="folder and the other a file"):
        pair_files(pred_dir, gt_dir / "cell0_HR.tif")


# ------------------------------------------------------------------ bad input
def test_shape_mismatch_says_a_crop_by_the_scale_fixes_it():
    pred, gt = _images(shape=(48, 56))
    big = Image(np.pad(gt.numpy(), ((0, 2), (0, 3))), "YX", spacing=(0.1, 0.1))
    with pytest.raises(InputError, match=r"shape mismatch.*multiple of the scale 4.*\(48, 56\)"):
        evaluate(pred, big, data_range=1.0, scale=4)


def test_spacing_mismatch_names_the_likely_cause():
    pred, gt = _images()
    lr_spacing = pred.replace(spacing=(0.4, 0.4))
    with pytest.raises(InputError, match="spacing mismatch.*low-resolution input"):
        evaluate(lr_spacing, gt, data_range=1.0, scale=4)
    assert evaluate(lr_spacing, gt, data_range=1.0, scale=4, check_spacing=False).rows


def test_dtypes_without_data_range_nan_and_constant_images():
    pred, gt = _images()
    as_uint8 = gt.replace(data=(gt.numpy() * 255).astype(np.uint8))
    with pytest.raises(ConfigError, match="different dtypes"):
        evaluate(pred, as_uint8)
    with pytest.raises(ConfigError, match="never guessed"):
        evaluate(pred, gt)
    bad = pred.numpy().copy()
    bad[10, 10] = np.nan
    with pytest.raises(InputError, match="NaN"):
        evaluate(pred.replace(data=bad), gt, data_range=1.0)
    flat = pred.replace(data=np.full(pred.shape, 0.5, np.float32))
    row = evaluate(flat, gt, data_range=1.0).rows[0]
    assert math.isfinite(row["PSNR"]) and math.isfinite(row["SSIM"])
    assert math.isnan(row["Pearson"]) and "prediction is constant" in row["notes"]
    assert row["PSNR"] == psnr(flat, gt, data_range=1.0).value
    assert pearson(flat, gt).note.startswith("undefined")


def test_an_error_on_a_later_pair_leaves_no_csv_and_no_maps(tmp_path):
    pred_dir, gt_dir = _save_pairs(tmp_path, n=3)
    from geosr.io import save

    pred, _ = _images(seed=2)
    bad = pred.numpy().copy()
    bad[0, 0] = np.inf
    save(pred.replace(data=bad), pred_dir / "cell2_pred.tif")
    out, maps = tmp_path / "t.csv", tmp_path / "maps"
    with pytest.raises(InputError, match="cell2_pred.tif"):
        evaluate(pred_dir, gt_dir, data_range=1.0, out_csv=out, maps_dir=maps)
    assert not out.exists() and not maps.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_classic_protocol_options():
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    with pytest.raises(ConfigError, match="scale"):
        evaluate(hr, hr, protocol="classic")
    with pytest.raises(ConfigError, match="255"):
        evaluate(hr, hr, protocol="classic", scale=2, data_range=1.0)
    with pytest.raises(InputError, match="8-bit"):
        evaluate(hr.astype(np.float32), hr, protocol="classic", scale=2)
    with pytest.raises(ConfigError, match="protocol"):
        evaluate(hr, hr, protocol="care", scale=2)
    result = evaluate(hr, hr, protocol="classic", scale=2, data_range="255")
    assert result.metrics == ("PSNR", "SSIM") and result.rows[0]["SSIM"] == 1.0


def test_3d_volumes_use_3d_ssim():
    pred, gt = _images(shape=(20, 24, 28), spacing=(0.5, 0.1, 0.1))
    row = evaluate(pred, gt, data_range=1.0).rows[0]
    assert row["SSIM"] == ssim(pred, gt, data_range=1.0).value
    assert math.isnan(row["GMSD"]) and "2D" in row["notes"]


# ------------------------------------------------------------------ command line
def _app():
    app = typer.Typer(pretty_exceptions_enable=False)
    app.command()(evaluate_command)
    return app


def test_cli_prints_the_table_and_writes_the_csv(tmp_path):
    pred_dir, gt_dir = _save_pairs(tmp_path, n=2)
    out = tmp_path / "t.csv"
    res = CliRunner().invoke(_app(), [str(pred_dir), str(gt_dir), "--data-range", "1",
                                      "--scale", "2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    library = evaluate(pred_dir, gt_dir, data_range=1.0, scale=2)
    for row in library.rows:
        line = next(line for line in res.stdout.splitlines() if row["name"] in line)
        assert f"{row['PSNR']:.4f}" in line and f"{row['SSIM']:.4f}" in line
    assert "mean" in res.stdout and "crop: 2 px per border" in res.stdout
    _, rows = _read_csv(out)
    assert float(rows[0]["PSNR [dB]"]) == library.rows[0]["PSNR"]


def test_cli_user_errors_exit_2_in_one_line_without_output(tmp_path):
    pred_dir, gt_dir = _save_pairs(tmp_path, n=1)
    out = tmp_path / "t.csv"
    res = CliRunner().invoke(_app(), [str(pred_dir), str(gt_dir), "--out", str(out)])
    assert isinstance(res.exception, GeosrError) and "--data-range" in str(res.exception)
    code = ("import sys; from geosr.cli import main as m; "
            "from geosr.cli.evaluate import evaluate; "
            "names = [c.name or c.callback.__name__ for c in m.app.registered_commands]; "
            "'evaluate' in names or m.app.command()(evaluate); sys.exit(m.main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", code, "evaluate", str(pred_dir), str(gt_dir),
                           "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--data-range" in lines[0] and "Traceback" not in proc.stderr
    assert not out.exists()


# ------------------------------------------------------------------ acceptance on real data
@pytest.mark.data
def test_cli_on_set14_x4_bicubic_prints_the_published_bicubic_columns(data_dir, tmp_path):
    from geosr.io import load, save
    from geosr.resample import upscale

    folder = data_dir / "sr_benchmarks" / "Set14" / "image_SRF_4"
    with open(data_dir / "sr_benchmarks" / "reference" / "Set14_x4.csv", newline="") as fh:
        table = {r["image"]: (float(r["Bicubic_PSNR"]), float(r["Bicubic_SSIM"]))
                 for r in csv.DictReader(fh)}
    sr_dir = tmp_path / "bicubic"
    for image in table:
        lr = load(folder / f"{image}_SRF_4_LR.png")
        save(upscale(lr, 4), sr_dir / f"{image}_SRF_4_SR.png")
    out = tmp_path / "set14_x4.csv"
    res = CliRunner().invoke(_app(), [str(sr_dir), str(folder), "--protocol", "classic",
                                      "--scale", "4", "--out", str(out)])
    assert res.exit_code == 0, res.output
    printed = {}
    for line in res.stdout.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 3 and (cells[0].startswith("img_") or cells[0] == "mean"):
            printed[cells[0].replace("_SRF_4", "")] = (float(cells[1]), float(cells[2]))
    assert set(printed) == set(table) | {"mean"}
    for image, (ref_psnr, ref_ssim) in table.items():
        assert printed[image][0] == pytest.approx(ref_psnr, abs=0.01), image
        assert printed[image][1] == pytest.approx(ref_ssim, abs=0.0005), image
    mean_psnr = np.mean([v[0] for v in table.values()])
    mean_ssim = np.mean([v[1] for v in table.values()])
    assert printed["mean"][0] == pytest.approx(mean_psnr, abs=0.01)
    assert printed["mean"][1] == pytest.approx(mean_ssim, abs=0.0005)
    _, rows = _read_csv(out)
    for row in rows[:-2]:
        ref_psnr, ref_ssim = table[row["name"].replace("_SRF_4", "")]
        assert abs(float(row["PSNR [dB]"]) - ref_psnr) < 0.01
        assert abs(float(row["SSIM"]) - ref_ssim) < 0.0005
    assert rows[-2]["name"] == "mean"
    assert float(rows[-2]["PSNR [dB]"]) == pytest.approx(mean_psnr, abs=0.01)


def test_frc_between_prediction_and_truth_in_physical_units():
    """A prediction that keeps only frequencies below 0.1 cycles/px of a truth band-limited
    at 0.2 cycles/px is faithful up to a period of 1/0.1 px = 1 um at 0.1 um pixels."""
    rng = np.random.default_rng(4)
    f = np.fft.fftfreq(256)
    radius = np.hypot(*np.meshgrid(f, f, indexing="ij"))
    spectrum = np.fft.fft2(rng.standard_normal((256, 256))) * (radius < 0.2)
    gt = np.fft.ifft2(spectrum).real
    pred = np.fft.ifft2(spectrum * (radius < 0.1)).real
    result = evaluate(Image(pred, "YX", spacing=(0.1, 0.1)), Image(gt, "YX", spacing=(0.1, 0.1)),
                      data_range="gt")
    assert result.rows[0]["FRC"] == pytest.approx(1.0, rel=0.10)
    assert result.column("FRC") == "FRC [um]" and "FRC" in result.convention
