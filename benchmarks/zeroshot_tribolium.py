"""Zero-shot SR (ZSSR) on a x2-degraded slice of the Tribolium light-sheet stack vs bicubic.

The middle z slice of ../shared/data/fluorescence/tribolium_lund_3d is the ground truth; it is
degraded x2 (geosr.degrade.degrade, default anti-alias PSF, no noise) into the only input
ZSSR sees. ZSSR trains on that input's own downscaled copies, then super-resolves it. PSNR/SSIM
(scikit-image metrics, data range = the truth's max - min, no border crop, whole slice) of ZSSR and
of bicubic (geosr.resample.upscale) against the truth. Torch threads 1.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/zeroshot_tribolium.py            # ~3-5 min
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/zeroshot_tribolium.py --quick    # ~1 min
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GEOSR_DATA", ROOT.parent / "shared" / "data"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--size", type=int, default=None, help="centre crop of the slice (HR px)")
    args = ap.parse_args()
    import torch

    from skimage.metrics import peak_signal_noise_ratio as psnr
    from skimage.metrics import structural_similarity as ssim
    from geosr.degrade import degrade
    from geosr.io import load, save
    from geosr.resample import upscale
    from geosr.train import train

    torch.set_num_threads(1)
    steps = args.steps or (150 if args.quick else 1500)
    size = args.size or (128 if args.quick else 256)
    stack = load(next((DATA / "fluorescence" / "tribolium_lund_3d").glob("*.tif")))
    vol = stack.numpy().astype(np.float64)
    z = vol.shape[0] // 2
    plane = vol[z]
    cy, cx = (plane.shape[0] - size) // 2, (plane.shape[1] - size) // 2
    plane = plane[max(cy, 0):max(cy, 0) + size, max(cx, 0):max(cx, 0) + size]
    plane = plane[:plane.shape[0] // 2 * 2, :plane.shape[1] // 2 * 2]
    from geosr.core.image import Image
    truth = Image(plane, "YX", spacing=stack.spacing[1:], unit=stack.unit)
    lr = degrade(truth, scale=2, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        save(lr, Path(tmp) / "lr.tif")
        t0 = time.process_time()
        cfg = {"seed": 0, "scale": 2, "algorithm": "zssr",
               "data": {"source": "single", "image": str(Path(tmp) / "lr.tif"), "pyramid": 4,
                        "min_factor": 0.6, "degradation": {"variants": 4}},
               "model": {"name": "care", "arguments": {"features": 16, "depth": 2,
                                                       "upsample": "cubic", "residual": True}},
               "loss": "l1", "patch": {"size": 32},
               "train": {"steps": steps, "batch_size": 16, "lr": 1e-3, "threads": 1,
                         "device": "cpu", "checkpoint_every": steps},
               "validation": {"every": max(steps // 10, 1), "patience": None},
               "logging": {"every": 50, "progress": False}, "out": str(Path(tmp) / "run")}
        train(cfg)
        cpu = time.process_time() - t0
        sr = load(Path(tmp) / "run" / "sr.tif").numpy().astype(np.float64)
    bic = upscale(lr.numpy().astype(np.float64), 2, method="bicubic")
    rng = float(plane.max() - plane.min())
    rows = {name: {"psnr_db": float(psnr(pred, plane, data_range=rng)),
                   "ssim": float(ssim(pred, plane, data_range=rng))}
            for name, pred in (("bicubic", bic), ("zssr", sr))}
    result = {"benchmark": "zeroshot_tribolium", "quick": args.quick, "steps": steps,
              "slice": {"z": int(z), "shape": list(plane.shape)}, "cpu_seconds_train": cpu,
              "convention": "data range = truth max - min, whole slice, no border crop",
              "results": rows,
              "beats_bicubic": rows["zssr"]["psnr_db"] > rows["bicubic"]["psnr_db"],
              "machine": {"platform": platform.platform(), "processor": platform.processor(),
                          "torch_threads": 1}}
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    tag = "zeroshot_tribolium" + ("_quick" if args.quick else "")
    (out / f"{tag}.json").write_text(json.dumps(result, indent=2))
    md = [f"## Zero-shot SR x2, Tribolium slice z={z} ({plane.shape[0]}x{plane.shape[1]} px)", "",
          f"`OMP_NUM_THREADS=1 .venv/bin/python benchmarks/zeroshot_tribolium.py"
          f"{' --quick' if args.quick else ''}` — {steps} steps, {cpu:.0f} CPU s, 1 thread.", "",
          "| method | PSNR (dB) | SSIM |", "|---|---|---|"]
    md += [f"| {k} | {v['psnr_db']:.2f} | {v['ssim']:.4f} |" for k, v in rows.items()]
    (out / f"{tag}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
