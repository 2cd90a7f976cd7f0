"""``geosr report`` on real data: human trabecular bone micro-CT (LHDL, 19.5 µm voxels).

A light FSRCNN ×2 is trained on slices of one half of the volume degraded by the forward model
(Gaussian blur, ×2 binning, read noise), calibrated on other held-out slices, and applied to
three slices it never saw; ``geosr report`` then writes one page for the folder (index worst
first, then each slice: images with scale bars, error map, zooms, image quality, network
metrics, trust evidence, plots, provenance). With ``--screenshot`` the top of the page is
captured with headless Chromium (the README's picture).

    python examples/report_real_bone.py --out runs/report_bone [--screenshot docs/report_bone.png]

About 5 minutes on an idle 2-core CPU. Data: ``$GEOSR_DATA`` (default ``../shared/data``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

VOLUME = "bone/lhdl_trabecular_microct/3155_D_4_bc_200cube_uint8.tif"
ACQUISITION = {"scale": 2, "fwhm_um": 39.0, "read_noise": 2.0}
TRAINING = {
    "version": 1,
    "data": {"source": "degrade", "hr": None, "split": {"by": "image", "fraction": 0.2},
             "degradation": {"fwhm_um": [30.0, 48.0], "read_noise": [0.0, 4.0],
                             "variants": 2}},
    "model": {"name": "fsrcnn", "arguments": {}},
    "loss": [{"name": "l1", "weight": 1.0}, {"name": "ssim", "weight": 0.2}],
    "patch": {"size": 64},
    "train": {"steps": 300, "batch_size": 8, "lr": 0.002, "schedule": "cosine",
              "checkpoint_every": 100, "threads": 2, "device": "cpu"},
    "validation": {"every": 100, "metric": "psnr"},
    "logging": {"every": 20},
}


def _slice(volume, z):
    from geosr.core.image import Image

    return Image(volume.numpy()[z].astype(np.float32), "YX", spacing=volume.spacing[1:],
                 unit=volume.unit)


def main() -> None:
    from geosr.degrade import degrade
    from geosr.io import load, save
    from geosr.predict import predict
    from geosr.report import report
    from geosr.train import train
    from geosr.trust import calibrate

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/report_bone"))
    parser.add_argument("--screenshot", type=Path, default=None)
    args = parser.parse_args()
    data = Path(os.environ.get("GEOSR_DATA", Path(__file__).resolve().parents[2] / "shared"
                               / "data"))
    volume = load(data / VOLUME)
    out = args.out
    for z in list(range(0, 60, 5)) + list(range(160, 200, 5)):   # training half
        save(_slice(volume, z), out / "train_hr" / f"z{z:03d}.tif")
    model = train({**TRAINING, "data": {**TRAINING["data"], "hr": str(out / "train_hr")}},
                  scale=2, seed=0, out=str(out / "training"))
    pairs = []
    for k, z in enumerate(range(120, 152, 4)):                    # held-out calibration slices
        hr = _slice(volume, z)
        pairs.append((degrade(hr, seed=100 + k, **ACQUISITION), hr))
    calibrate(model, pairs, alpha=0.1, uncertainty="tta", simulated=True,
              out=Path(model) / "calibration.json",
              description="8 held-out LHDL slices, z = 120..148, same forward model")
    for k, z in enumerate((80, 95, 110)):                         # never seen
        hr = _slice(volume, z)
        lr = degrade(hr, seed=k, **ACQUISITION)
        save(hr, out / "hr" / f"z{z:03d}.tif")
        save(lr, out / "lr" / f"z{z:03d}.tif")
        save(predict(lr, model, device="cpu"), out / "sr" / f"z{z:03d}.tif")
    page = report(out / "sr", lr=out / "lr", truth=out / "hr", model=model, data_range=255,
                  out=out / "report.html")
    print(f"report: {page}")
    if args.screenshot is not None:
        _screenshot(page, args.screenshot)


def _screenshot(page: Path, target: Path) -> None:
    """The top of the page (index and the first image) with headless Chromium, as a small
    palette PNG."""
    from PIL import Image as PILImage

    with tempfile.TemporaryDirectory() as tmp:
        full = Path(tmp) / "full.png"
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-quic", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={tmp}/profile", "--window-size=1400,1500",
                        f"--screenshot={full}", page.resolve().as_uri()], check=True,
                       capture_output=True, timeout=120)
        with PILImage.open(full) as im:
            small = im.convert("RGB").resize((980, 1050), PILImage.LANCZOS)
            target.parent.mkdir(parents=True, exist_ok=True)
            small.quantize(colors=64).save(target, optimize=True)
    print(f"screenshot: {target} ({target.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
