"""Part ``real`` of ``geometry_study.py``: bicubic vs L1 vs a geometry-aware recipe on the LHDL
human trabecular bone micro-CT (``$GEOSR_DATA/bone/lhdl_trabecular_microct``, 200³ uint8,
19.5 µm voxels).

Protocol (the one quoted in issue #6): each axial slice (YX, intensities /255) is blurred with
a Gaussian of σ = 2 HR pixels, averaged over 4×4 blocks (→ 50×50, 78 µm pixels) and given
Gaussian noise of sd 0.01 (1 % of the range; seeded per slice). Slices 0–139 train, 140–159
validate (three of them, final-step log only; last weights kept), 160–198 are the test stack.
The SR slices are stacked into a 39×200×200 volume and compared with the original:

- segmentation: Otsu threshold of the original test stack, applied to every stack (bone bright);
- BV/TV (bone volume fraction), Tb.Th (mean local-thickness diameter, µm, 3D), Conn.D
  (edge-corrected connectivity density, mm⁻³, BoneJ style) — relative errors vs the original;
- per slice: Euler number (8/4-connected) and component count (8-connected) — signed relative
  error of their sums over the 39 slices (= of the per-slice means) (the issue's figure of merit: CARE/EDSR −7 % Euler, −14 %
  components vs bicubic −3 %);
- PSNR/SSIM per slice (data range 1, border crop 4), mean.

Both trained arms use FSRCNN (the study's architecture; the geometry recipe may wrap it in
``geo``), one torch thread and the same CPU seconds of optimisation steps. The pore-map
threshold of the geometry terms is the Otsu threshold in the normalised units the model trains
in (HR mapped with the LR slices' 1/99.8 percentiles, pooled over the training slices).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = ROOT / "runs" / "benchmarks" / "geometry" / "real"
SPACING_UM = 19.5
SCALE = 4
TRAIN, VAL, TEST = range(0, 140), (145, 150, 155), range(160, 199)


def _volume_path() -> Path:
    base = Path(os.environ.get("GEOSR_DATA", ROOT.parent / "shared" / "data"))
    folder = base / "bone" / "lhdl_trabecular_microct"
    files = sorted(folder.glob("*.tif"))
    if not files:
        raise FileNotFoundError(f"no LHDL volume in {folder} (set GEOSR_DATA)")
    return files[0]


def degrade_slice(hr: np.ndarray, seed: int) -> np.ndarray:
    """σ = 2 px Gaussian blur, 4×4 block mean, 1 % Gaussian noise (float32)."""
    from scipy import ndimage as ndi

    blurred = ndi.gaussian_filter(hr.astype(np.float64), 2.0, mode="reflect")
    h, w = (s // SCALE * SCALE for s in hr.shape)
    lr = blurred[:h, :w].reshape(h // SCALE, SCALE, w // SCALE, SCALE).mean(axis=(1, 3))
    lr = lr + 0.01 * np.random.default_rng([seed, 19]).standard_normal(lr.shape)
    return lr.astype(np.float32)


def _prepare(volume: np.ndarray) -> tuple[Path, float]:
    """Write LR/HR slice pairs (train + val) and return the folder and the normalised Otsu
    threshold."""
    from skimage.filters import threshold_otsu

    from geosr.core.image import Image
    from geosr.io import save

    data = WORK / "data"
    shutil.rmtree(data, ignore_errors=True)
    lows, highs, his = [], [], []
    for z in list(TRAIN) + list(VAL):
        hr = volume[z]
        lr = degrade_slice(hr, z)
        save(Image.from_array(hr, spacing=SPACING_UM), data / "hr" / f"s{z:03d}.tif")
        save(Image.from_array(lr, spacing=SPACING_UM * SCALE), data / "lr" / f"s{z:03d}.tif")
        if z in TRAIN:
            lo, hi = np.percentile(lr, [1.0, 99.8])
            lows.append(lo)
            highs.append(hi)
            his.append(hr)
    t = threshold_otsu(np.stack(his))
    lo, hi = float(np.mean(lows)), float(np.mean(highs))
    return data, float((t - lo) / (hi - lo))


def _with_threshold(arm: dict[str, Any], threshold: float) -> dict[str, Any]:
    arm = copy.deepcopy(arm)
    for item in arm["loss"].values():
        if isinstance(item, dict) and "tau" in item:
            item["threshold"] = threshold
    if arm.get("model"):
        arm["model"]["arguments"]["threshold"] = threshold
    return arm


def _stack_metrics(stack: np.ndarray, truth: np.ndarray, threshold: float) -> dict[str, Any]:
    from scipy import ndimage as ndi

    from geosr.assess import psnr, ssim
    from geosr.assess.network.thickness import local_thickness
    from geosr.assess.network.topology import connectivity_density, euler_characteristic

    m, g = stack > threshold, truth > threshold
    out: dict[str, Any] = {}
    out["psnr"] = float(np.mean([psnr(s, t, data_range=1.0, crop=SCALE).value
                                 for s, t in zip(stack, truth)]))
    out["ssim"] = float(np.mean([ssim(s, t, data_range=1.0, crop=SCALE).value
                                 for s, t in zip(stack, truth)]))
    bvtv, bvtv_t = float(m.mean()), float(g.mean())
    tbth = local_thickness(m, spacing=(SPACING_UM,) * 3).mean_um
    tbth_t = local_thickness(g, spacing=(SPACING_UM,) * 3).mean_um
    cd = connectivity_density(m, spacing=(SPACING_UM,) * 3).conn_density
    cd_t = connectivity_density(g, spacing=(SPACING_UM,) * 3).conn_density
    eight = np.ones((3, 3), bool)
    eu = np.array([euler_characteristic(s) for s in m], float)
    eu_t = np.array([euler_characteristic(s) for s in g], float)
    cc = np.array([ndi.label(s, eight)[1] for s in m], float)
    cc_t = np.array([ndi.label(s, eight)[1] for s in g], float)
    out.update({
        "bvtv": bvtv, "bvtv_truth": bvtv_t, "bvtv_rel_error": (bvtv - bvtv_t) / bvtv_t,
        "tbth_um": tbth, "tbth_truth_um": tbth_t, "tbth_rel_error": (tbth - tbth_t) / tbth_t,
        "connd_mm3": cd, "connd_truth_mm3": cd_t,
        "connd_rel_error": (cd - cd_t) / cd_t if cd_t else float("nan"),
        # over the stack: Σ per-slice value vs Σ truth (per-slice ratios blow up where a
        # slice's Euler number is near 0)
        "euler_slice_rel_error": float((eu.sum() - eu_t.sum()) / max(abs(eu_t.sum()), 1.0)),
        "components_slice_rel_error": float((cc.sum() - cc_t.sum()) / max(cc_t.sum(), 1.0)),
        "euler_slice_mean": float(eu.mean()), "euler_slice_truth_mean": float(eu_t.mean()),
        "components_slice_mean": float(cc.mean()),
        "components_slice_truth_mean": float(cc_t.mean()),
    })
    return out


def _train_arm(job: dict[str, Any]) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    from geosr import train
    from geosr.io import load
    from geosr.predict import predict

    out = Path(job["out"])
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.process_time()
    model_dir = train(job["config"], out=out, show_progress=False)
    train_cpu = time.process_time() - t0
    stack = []
    for z in TEST:
        lr = load(WORK / "test_lr" / f"s{z:03d}.tif")
        stack.append(predict(lr, model_dir, device="cpu").numpy().astype(np.float64))
    np.save(out / "sr_test.npy", np.stack(stack).astype(np.float32))
    spec = json.loads((Path(model_dir) / "model.json").read_text())
    return {"label": job["label"], "train_cpu_s": train_cpu,
            "steps": job["config"]["train"]["steps"],
            "parameters": spec.get("summary", {}).get("parameters"),
            "stack": str(out / "sr_test.npy")}


def part_real(args: Any, arms: dict[str, Any], run_job_kwargs: dict[str, Any]) -> dict[str, Any]:
    import multiprocessing as mp

    from skimage.filters import threshold_otsu

    from geosr.core.image import Image
    from geosr.io import load, save
    from geosr.resample import upscale

    make_config = run_job_kwargs["make_config"]
    budget = args.budget or {"smoke": 4.0, "quick": 40.0, "full": 240.0}[args.mode]
    volume = load(_volume_path()).numpy().astype(np.float32) / 255.0
    data, t_norm = _prepare(volume)
    for z in TEST:
        save(Image.from_array(degrade_slice(volume[z], z), spacing=SPACING_UM * SCALE),
             WORK / "test_lr" / f"s{z:03d}.tif")
    truth = volume[TEST.start:TEST.stop].astype(np.float64)
    threshold = float(threshold_otsu(truth))

    def config(label: str, arm: dict[str, Any], steps: int) -> dict[str, Any]:
        cfg = make_config(_with_threshold(arm, t_norm), kind="dentin", scale=SCALE, seed=0,
                          steps=steps)
        cfg["data"] = {"source": "folders", "lr": str(data / "lr"), "hr": str(data / "hr"),
                       "split": {"by": "image", "names": [f"s{z:03d}" for z in VAL]}}
        return cfg

    geo_arms = [a for a in (args.arms or [args.geo_arm]) if arms.get(a) and a != "l1"]
    labels = {"l1": arms["l1"], **{a: arms[a] for a in geo_arms}}
    from _equal_budget import cpu_per_step, init_worker

    with mp.get_context("spawn").Pool(args.workers, initializer=init_worker) as pool:
        cal = pool.map(cpu_per_step, [config(k, a, 100) for k, a in labels.items()])
        jobs = []
        for (label, arm), c in zip(labels.items(), cal):
            steps = max(args.min_steps, int(budget / c["seconds_per_step"]))
            jobs.append({"label": label, "config": config(label, arm, steps),
                         "out": str(WORK / f"{args.mode}_{label}"),
                         "seconds_per_step": c["seconds_per_step"]})
        trained = pool.map(_train_arm, jobs, chunksize=1)
    rows = []
    bic = np.stack([np.asarray(upscale(load(WORK / "test_lr" / f"s{z:03d}.tif").numpy()
                                       .astype(np.float64), SCALE, method="bicubic"))
                    for z in TEST])
    rows.append({"label": "bicubic", **_stack_metrics(bic, truth, threshold)})
    for t in trained:
        stack = np.load(t["stack"]).astype(np.float64)
        rows.append({**{k: t[k] for k in ("label", "train_cpu_s", "steps", "parameters")},
                     **_stack_metrics(stack, truth, threshold)})
    return {"rows": rows, "summary": [], "threshold_raw": threshold,
            "threshold_normalised_for_losses": t_norm, "budget_cpu_s_per_run": budget,
            "design": [f"LHDL trabecular bone 200³ at {SPACING_UM} µm; ×4 by σ = 2 px blur, "
                       "4×4 block mean, 1 % noise; train slices 0–139, val 145/150/155, "
                       "test 160–198",
                       f"arms: bicubic, l1, {', '.join(geo_arms)}; {budget:.0f} CPU s of optimisation "
                       "steps each, 1 thread",
                       f"segmentation: Otsu of the original test stack ({threshold:.3f})"]}


def markdown_rows(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| arm | steps | PSNR dB | SSIM | BV/TV err | Tb.Th err | Conn.D err | "
             "per-slice Euler err | per-slice components err |", "|" + "---|" * 9]
    for r in rows:
        lines.append(
            f"| {r['label']} | {r.get('steps', '–')} | {r['psnr']:.2f} | {r['ssim']:.3f} | "
            f"{100 * r['bvtv_rel_error']:+.1f} % | {100 * r['tbth_rel_error']:+.1f} % | "
            f"{100 * r['connd_rel_error']:+.1f} % | {100 * r['euler_slice_rel_error']:+.1f} % | "
            f"{100 * r['components_slice_rel_error']:+.1f} % |")
    return lines
