"""``geosr report`` on real data (bone micro-CT, LHDL): a 2D slice with truth, a 3D stack and a
folder of predictions. The pages hold the sections, the numbers equal ``geosr evaluate`` /
``geosr assess``, every scale bar is as long as its caption says, and nothing is fetched."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
import torch

from geosr.cli.main import main
from geosr.core.image import Image
from geosr.degrade import degrade
from geosr.io import load, save
from geosr.models import build_model, save_model
from geosr.predict import predict

BONE = "bone/lhdl_trabecular_microct/3155_D_4_bc_200cube_uint8.tif"
pytestmark = pytest.mark.data


@pytest.fixture(autouse=True)
def _native_kernels():
    from geosr.models.summary import native_kernels

    with native_kernels():
        yield


def _model(path, dims):
    """A small FSRCNN ×2 whose weights are perturbed (fresh FSRCNN = bicubic exactly)."""
    torch.manual_seed(0)
    module = build_model("fsrcnn", dims=dims, scale=2, d=4, s=2, m=1)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return save_model(path, module)


def _slice(volume: Image, z: int, size: int = 128) -> Image:
    data = volume.numpy()[z, 40:40 + size, 40:40 + size].astype(np.float32)
    return Image(data, "YX", spacing=volume.spacing[1:], unit=volume.unit)


@pytest.fixture(scope="module")
def bone(data_dir, tmp_path_factory):
    """sr/, lr/, hr/ folders of three 2D slices, a 3D stack, and the models (files)."""
    root = tmp_path_factory.mktemp("report")
    volume = load(data_dir / BONE)
    model2 = _model(root / "model2d", 2)
    for k, z in enumerate((60, 100, 140)):
        hr = _slice(volume, z)
        lr = degrade(hr, scale=2, fwhm_um=39.0, seed=k)
        save(hr, root / "hr" / f"s{k}.tif")
        save(lr, root / "lr" / f"s{k}.tif")
        save(predict(lr, model2, device="cpu"), root / "sr" / f"s{k}.tif")
    stack = Image(volume.numpy()[80:104, 40:88, 40:88].astype(np.float32), "ZYX",
                  spacing=volume.spacing, unit=volume.unit)
    lr3 = degrade(stack, scale=2, fwhm_um=39.0, seed=0)
    save(stack, root / "hr3d.tif")
    save(lr3, root / "lr3d.tif")
    model3 = _model(root / "model3d", 3)
    save(predict(lr3, model3, device="cpu"), root / "sr3d.tif")
    return {"root": root, "model2": model2, "model3": model3}


def _data(page: str) -> dict:
    match = re.search(r"<script type='application/json' id='geosr-data'>(.*?)</script>", page,
                      re.S)
    return json.loads(match.group(1).replace("<\\/", "</"))


def _bars(page: str) -> list[tuple[float, float, int]]:
    """(caption's bar µm, µm per display pixel, measured white-bar length in px) per panel."""
    from PIL import Image as PILImage

    out = []
    for src, bar, um_px in re.findall(r"<img src='data:image/png;base64,([^']+)' alt='[^']*'"
                                      r" data-scale-bar-um='([^']+)' data-um-per-px='([^']+)'",
                                      page):
        rgb = np.asarray(PILImage.open(io.BytesIO(base64.b64decode(src))).convert("RGB"))
        out.append((float(bar), float(um_px), _outlined_bar(rgb)))
    return out


def _outlined_bar(rgb: np.ndarray) -> int:
    """Length in px of the scale bar: a white run framed by black on all four sides."""
    white = (rgb == 255).all(axis=-1)
    black = (rgb == 0).all(axis=-1)
    found = []
    for y in range(1, rgb.shape[0] - 1):
        x = 1
        while x < rgb.shape[1]:
            if not white[y, x]:
                x += 1
                continue
            x1 = x
            while x1 < rgb.shape[1] and white[y, x1]:
                x1 += 1
            framed = x1 < rgb.shape[1] and black[y, x - 1] and black[y, x1] and (
                black[y - 1, x - 1:x1 + 1].all() or black[y + 1, x - 1:x1 + 1].all())
            if framed:
                found.append(x1 - x)
            x = x1
    assert found, "no framed scale bar found"
    return max(found)


def _assert_self_contained(page: str) -> None:
    assert not re.search(r"https?://", page)
    assert not re.search(r"(?:src|href)\s*=\s*['\"](?!data:|#)", page)
    assert "<link" not in page and "@import" not in page and "url(" not in page


def test_report_2d_with_truth_numbers_equal_evaluate_and_assess(bone, tmp_path):
    import geosr

    root = bone["root"]
    out = geosr.report(root / "sr" / "s1.tif", lr=root / "lr" / "s1.tif",
                       truth=root / "hr" / "s1.tif", model=bone["model2"], data_range=255,
                       out=tmp_path / "r.html")
    page = out.read_text(encoding="utf-8")
    for title in ("s1: Images", "s1: Error map", "s1: Zoom 1", "s1: Zoom 2", "s1: Image quality",
                  "s1: Network metrics", "s1: Trust evidence", "s1: Plots", "s1: Provenance"):
        assert f">{title}</h2>" in page, title
    assert "low-resolution input, pixel 39 µm (64x64 px)" in page
    assert "truth, pixel 19.5 µm (128x128 px)" in page
    data = _data(page)["images"][0]
    # image quality: exactly geosr.evaluate's numbers, for the prediction and the bicubic
    ref = geosr.evaluate(str(root / "sr" / "s1.tif"), str(root / "hr" / "s1.tif"),
                         data_range=255, scale=2).rows[0]
    shown = data["image_quality"]["values"]["prediction"]
    for metric in ("PSNR", "SSIM", "NRMSE", "MAE", "FRC"):
        assert shown[metric] == ref[metric]
        assert f"<td>{ref[metric]:.4f}</td>" in page
    assert shown["PSNR"] != data["image_quality"]["values"]["interpolation"]["PSNR"]
    # network metrics: exactly geosr.assess's rows (same default Otsu-of-truth segmentation)
    item = geosr.assess(str(root / "sr" / "s1.tif"), str(root / "hr" / "s1.tif"),
                        metrics="porosity,components,topology,cldice,skeleton")[0]
    rows = {r["metric"]: r for r in data["network"]["rows"]["prediction"]}
    for metric in ("porosity", "components", "beta1", "clDice", "length_density_mm"):
        assert rows[metric]["prediction"] == pytest.approx(item.value(metric), rel=1e-12)
    assert data["trust"]["verdict"] in ("green", "amber", "red")
    # every scale bar is as long (in µm) as its caption says, within one display pixel
    bars = _bars(page)
    assert len(bars) >= 14
    for bar_um, um_px, length_px in bars:
        assert abs(length_px * um_px - bar_um) <= um_px + 1e-9, (bar_um, um_px, length_px)
    assert all(f"scale bar {b:g} µm" in page for b, _, _ in bars)
    _assert_self_contained(page)
    assert data["model"]["sha256"] in page and "file sha256" in page


def test_report_reads_evaluate_and_assess_outputs_without_computing(bone, tmp_path, capsys):
    root = bone["root"]
    sr, hr = root / "sr" / "s0.tif", root / "hr" / "s0.tif"
    assert main(["evaluate", str(sr), str(hr), "--data-range", "255", "--scale", "2",
                 "--out", str(tmp_path / "iqa.csv")]) == 0
    assert main(["assess", str(sr), str(hr), "--metrics", "porosity,topology,cldice",
                 "--json", str(tmp_path / "net.json"),
                 "--overlays", str(tmp_path / "ov")]) == 0
    out = tmp_path / "from_files.html"
    code = main(["report", str(sr), "--truth", str(hr), "--evaluation",
                 str(tmp_path / "iqa.csv"), "--assessment", str(tmp_path / "net.json"),
                 "--no-compute", "--out", str(out)])
    assert code == 0 and f"report: {out}" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    data = _data(page)["images"][0]
    csv_psnr = [line for line in (tmp_path / "iqa.csv").read_text().splitlines()
                if line.startswith("s0,")][0].split(",")[3]
    assert data["image_quality"]["values"]["prediction"]["PSNR"] == float(csv_psnr)
    assert data["image_quality"]["source"].startswith("read from")
    net = json.loads((tmp_path / "net.json").read_text())["images"][0]
    clDice = [r for r in net["metrics"] if r["metric"] == "clDice"][0]["prediction"]
    assert [r for r in data["network"]["rows"]["prediction"]
            if r["metric"] == "clDice"][0]["prediction"] == clDice
    assert "network missed / invented" in page   # the overlay PNG written by assess
    assert "trust" not in data and ": Trust evidence</h2>" not in page   # nothing computed


def test_report_3d_stack_orthoslices_and_stepper(bone, tmp_path):
    import geosr

    root = bone["root"]
    out = geosr.report(root / "sr3d.tif", lr=root / "lr3d.tif", truth=root / "hr3d.tif",
                       model=bone["model3"], data_range=255, trust=None,
                       network_metrics="porosity,components,topology,cldice",
                       point_um=(97.5, 400.0, 500.0), out=tmp_path / "r3.html")
    page = out.read_text(encoding="utf-8")
    assert ">sr3d: Orthogonal slices through (z, y, x) = (97.5, 400, 500) µm</h2>" in page
    assert ">sr3d: Images (XY slice at z = 97.5 µm)</h2>" in page
    for plane in ("XZ slice: truth", "YZ slice: truth", "maximum along Z: truth"):
        assert plane in page
    steppers = re.findall(r"<figure class='stepper'>(.*?)</figure>", page, re.S)
    assert len(steppers) == 3   # bicubic, prediction, truth (LR too coarse to step)
    frames = json.loads(re.search(r"<script type='application/json'>(.*?)</script>",
                                  steppers[-1], re.S).group(1))
    assert len(frames["frames"]) == 24 and frames["labels"][0].startswith("slice 1/24")
    # the stepper opens at the slice of the chosen point: z = 97.5 µm is slice 6 (index 5)
    assert "value='5'" in steppers[-1] and "slice 6/24" in steppers[-1]
    data = _data(page)["images"][0]
    ref = geosr.evaluate(str(root / "sr3d.tif"), str(root / "hr3d.tif"), data_range=255,
                         scale=2).rows[0]
    assert data["image_quality"]["values"]["prediction"]["SSIM"] == ref["SSIM"]
    item = geosr.assess(str(root / "sr3d.tif"), str(root / "hr3d.tif"),
                        metrics="porosity,components,topology,cldice")[0]
    rows = {r["metric"]: r for r in data["network"]["rows"]["prediction"]}
    assert rows["beta2"]["prediction"] == item.value("beta2")
    assert rows["clDice"]["prediction"] == pytest.approx(item.value("clDice"), rel=1e-12)
    for bar_um, um_px, length_px in _bars(page):
        assert abs(length_px * um_px - bar_um) <= um_px + 1e-9
    _assert_self_contained(page)


def test_report_folder_index_worst_first_with_links(bone, tmp_path):
    from geosr.report.index import worst_first_key

    root = bone["root"]
    out = tmp_path / "folder.html"
    assert main(["report", str(root / "sr"), "--lr", str(root / "lr"), "--truth",
                 str(root / "hr"), "--model", str(bone["model2"]), "--data-range", "255",
                 "--metrics", "porosity,components,topology,cldice", "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    data = _data(page)
    index = data["index"]
    assert [r["name"] for r in index] == ["s0", "s1", "s2"] and len(data["images"]) == 3
    table = page[page.index(">Index</h2>"):page.index("</table>", page.index(">Index</h2>"))]
    shown = re.findall(r"<a href='#(image-\d)'>(s\d)</a>", table)
    expected = sorted(index, key=worst_first_key)
    assert [name for _, name in shown] == [r["name"] for r in expected]
    for anchor, name in shown:
        assert f"<h2 id='{anchor}'>{name}: Images</h2>" in page
    assert "<table class='sortable'>" in table and table.count("class='thumb'") == 3
    for r in index:   # the index shows each image's own numbers
        assert f"{r['SSIM']:.4f}" in table
    import geosr

    reference = geosr.evaluate(str(root / "sr"), str(root / "hr"), data_range=255, scale=2)
    shown = {img["name"]: img["image_quality"]["values"]["prediction"] for img in data["images"]}
    for row in reference.rows:        # the numbers of geosr evaluate on the same folders
        assert shown[row["name"]]["PSNR"] == row["PSNR"]
        assert shown[row["name"]]["SSIM"] == row["SSIM"]
    for bar_um, um_px, length_px in _bars(page):
        assert abs(length_px * um_px - bar_um) <= um_px + 1e-9
    _assert_self_contained(page)


def test_report_errors_exit_2_before_work_and_write_nothing(bone, tmp_path, capsys):
    root = bone["root"]
    out = tmp_path / "x.html"
    assert main(["report", str(tmp_path / "missing.tif"), "--out", str(out)]) == 2
    assert "PRED" in capsys.readouterr().err
    # the LR is not the prediction's input (3D LR for a 2D prediction): refused, nothing written
    assert main(["report", str(root / "sr" / "s0.tif"), "--lr", str(root / "lr3d.tif"),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "geosr: error" in err and "Traceback" not in err
    assert main(["report", str(root / "sr" / "s0.tif"), "--data-range", "wide",
                 "--out", str(out)]) == 2
    assert "--data-range" in capsys.readouterr().err
    assert not out.exists()
