"""The classic SR protocol reproduces the published tables (Huang et al. 2015, SelfExSR) on Set5
and Set14 at x2, x3, x4: MATLAB-bicubic LR regenerated from HR, and the bicubic baseline's
per-image PSNR/SSIM on the Y channel with crop = scale."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from geosr.assess import classic_sr_metrics, rgb_to_y
from geosr.assess.protocol import luma
from geosr.core import ConfigError, Image, InputError

PSNR_TOL = 0.01     # dB
SSIM_TOL = 0.0005


def test_rgb_to_y_is_matlab_rgb2ycbcr_for_uint8():
    rgb = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [10, 200, 30]]], np.uint8)
    y = rgb_to_y(rgb)
    # 16 + (65.481 R + 128.553 G + 24.966 B) / 255, rounded half away from zero
    expected = [16, 235, 81, np.floor(16 + (65.481 * 10 + 128.553 * 200 + 24.966 * 30) / 255
                                        + 0.5)]
    assert y.dtype == np.uint8 and y.tolist() == [expected]
    assert rgb_to_y(np.moveaxis(rgb, -1, 0), channel_axis=0).tolist() == [expected]
    with pytest.raises(InputError, match="uint8"):
        rgb_to_y(rgb.astype(np.float64))


def test_luma_of_images_and_arrays():
    rgb = np.random.default_rng(0).integers(0, 256, (3, 8, 9), dtype=np.uint8)
    as_image = luma(Image(rgb, "CYX"))
    as_array = luma(np.moveaxis(rgb, 0, -1))
    assert np.array_equal(as_image, as_array)
    grey = rgb[0]
    assert luma(grey) is grey
    with pytest.raises(InputError, match="8-bit"):
        luma(grey.astype(np.float32))
    rgba = np.concatenate([np.moveaxis(rgb, 0, -1), np.full((8, 9, 1), 255, np.uint8)], -1)
    assert np.array_equal(luma(rgba), as_array)
    rgba[0, 0, 3] = 0
    with pytest.raises(InputError, match="transparent"):
        luma(rgba)


def test_classic_metrics_conventions_and_errors():
    hr = np.random.default_rng(1).integers(0, 256, (48, 40, 3), dtype=np.uint8)
    out = classic_sr_metrics(hr, hr, scale=4)
    assert out["PSNR"].value == np.inf and out["SSIM"].value == 1.0
    conv = out["SSIM"].convention
    assert conv.data_range == 255 and conv.crop == (4, 4) and conv.channel.startswith("Y (BT.601")
    assert out["SSIM"].map.shape == (48 - 8 - 10, 40 - 8 - 10)
    with pytest.raises(ConfigError, match="scale"):
        classic_sr_metrics(hr, hr, scale=0)
    with pytest.raises(InputError, match="modcrop"):
        classic_sr_metrics(hr[:48, :40], np.pad(hr, ((0, 2), (0, 3), (0, 0))), scale=4)
    with pytest.raises(InputError, match="grey"):
        classic_sr_metrics(hr[..., 0], hr, scale=4)


def _reference(data_dir, name, scale):
    path = data_dir / "sr_benchmarks" / "reference" / f"{name}_x{scale}.csv"
    with open(path, newline="") as fh:
        return {row["image"]: (float(row["Bicubic_PSNR"]), float(row["Bicubic_SSIM"]))
                for row in csv.DictReader(fh)}


@pytest.mark.data
@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("name", ["Set5", "Set14"])
def test_lr_regeneration_and_bicubic_baseline_reproduce_the_tables(data_dir, name, scale):
    from geosr.io import load
    from geosr.resample import downscale, upscale

    reference = _reference(data_dir, name, scale)
    assert len(reference) == {"Set5": 5, "Set14": 14}[name]
    folder = data_dir / "sr_benchmarks" / name / f"image_SRF_{scale}"
    worst = {"lr": 0.0, "psnr": 0.0, "ssim": 0.0}
    for image, (ref_psnr, ref_ssim) in reference.items():
        hr = load(folder / f"{image}_SRF_{scale}_HR.png")
        lr = load(folder / f"{image}_SRF_{scale}_LR.png")
        regenerated = downscale(hr, scale)
        assert regenerated.shape == lr.shape and regenerated.dtype == np.uint8
        lr_diff = float(np.abs(regenerated.numpy().astype(np.float64) - lr.numpy()).mean())
        assert lr_diff < 0.1, (image, lr_diff)
        out = classic_sr_metrics(upscale(lr, scale), hr, scale=scale)
        d_psnr = abs(out["PSNR"].value - ref_psnr)
        d_ssim = abs(out["SSIM"].value - ref_ssim)
        assert d_psnr < PSNR_TOL, (image, out["PSNR"].value, ref_psnr)
        assert d_ssim < SSIM_TOL, (image, out["SSIM"].value, ref_ssim)
        worst = {k: max(worst[k], v) for k, v in
                 (("lr", lr_diff), ("psnr", d_psnr), ("ssim", d_ssim))}
    print(f"{name} x{scale}: max mean|LR diff| {worst['lr']:.4f}, max |dPSNR| "
          f"{worst['psnr']:.5f} dB, max |dSSIM| {worst['ssim']:.6f}")
