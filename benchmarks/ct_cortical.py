"""Study (issue 17): how far can SR push clinical-resolution CT for cortical porosity?

    .venv/bin/python benchmarks/ct_cortical.py                 # the study (~15-40 min, 1 thread)
    .venv/bin/python benchmarks/ct_cortical.py --quick         # smoke run (minutes, tiny)
    .venv/bin/python benchmarks/ct_cortical.py --train-only xtremect1  # retrain one acquisition's
                                          # SR arms, reuse the JSON's other models, re-evaluate
    .venv/bin/python benchmarks/ct_cortical.py --report        # Markdown + plot from the JSON

What it does (every number below is a constant of this script, recorded in the JSON)
----------------------------------------------------------------------------------
1. **Ground truth**: 3D cortical phantoms (``geosr.phantoms``, kind ``cortical``, dark pores
   0.15 in a bone matrix 0.85) with canal radii widened to span cortical pore diameters
   20-300 µm (median radius 35 µm, lognormal σ 0.55, clipped 10-150 µm, 330 µm spacing),
   2.43 × 2.43 mm fields, 0.3 mm deep. The study uses **2D transverse slices** (z = 5 and 15,
   perpendicular to the canals: each canal is a pore, as HR-pQCT sees them). The truth is the
   phantom's own pore mask. No real cortical micro-CT volume is in ``../shared/data`` (the
   LHDL volume is trabecular), so none is used.
2. **Acquisitions** (``geosr.degrade.ct``: parallel-beam projections, detector blur and
   binning, Poisson noise with flat/dark, FBP ramp onto the coarse voxel grid):
   XtremeCT II (60.7 µm voxels from 15.175 µm HR = ×4) and XtremeCT I (82 µm voxels from
   13.667 µm HR = ×6), presets' angles and blur, at two doses i0 = 2e3 and 2e4 photons per
   detector pixel per projection (i0 is an assumption, see ``geosr.degrade.ct_presets``).
3. **Methods** on the same LR images: bicubic (MATLAB imresize), and for each acquisition
   (XtremeCT II ×4, XtremeCT I ×6) two SR models (FSRCNN "fast", ~9 k parameters, residual
   over bicubic, the same recipe and step budget, training patches of 16 LR pixels, 3 training
   seeds each; training slices at that acquisition's HR pixel):
   - ``sr_ct``: trained on the CT forward model (``degradation: {modality: ct}``, the
     acquisition's preset, i0 log-uniform 1e3-4e4);
   - ``sr_image``: trained on image-domain degradation (Gaussian blur of the preset's system
     blur FWHM, area binning, white Gaussian noise whose sd range matches the CT noise sd at
     i0 = 1e3-4e4, measured here on a uniform bone field for that acquisition) - the usual
     generic pipeline.
   Training slices: phantom seeds 0-4; validation slices: seeds 5-7 (6 slices); test slices:
   seeds 100-102.
   **Checkpoint rule** (the same for both arms, recorded as ``constants.checkpoint_rule``): the
   learning rate follows a cosine schedule to zero at the fixed step budget, so each model is
   its **final** weights (``validation: {keep: last}``, no early stopping). Keeping the best of
   a few validation evaluations (the rule before 3 Dec 2026: best of 4, on 2 slices of ~40 LR
   px with one noise draw) let selection noise pick a step-750 checkpoint for one seed, i.e.
   decide a comparison of 0.1-0.3 dB. Validation still runs every ``steps // 4`` steps, on 3
   phantoms (6 slices) so that the validation PSNR each run's ``summary.json`` reports (copied
   into the results JSON per model) averages over more than two small noisy images.
4. **Metrics** per test slice, 4 HR-px... (crop = scale HR pixels at every border):
   PSNR (data range 1.0, phantom intensities, no fit) against the noise-free HR phantom;
   segmentation at the mid-level 0.5 between pore (0.15) and bone (0.85); cortical porosity
   Ct.Po (pore area fraction), pore density (pores/mm²), pore equivalent diameters; the
   pore-map pixel error (invented + missed pore pixels over the image, which, unlike
   |Ct.Po error| = |invented − missed|, does not reward the two cancelling) and Dice; per true
   pore (8-connected component of the truth mask), *detected* if >= 25 % of its area is pore in
   the method's segmentation; detection rate per diameter bin; spurious pores (predicted
   components with < 10 % of their area on a true pore) per mm². The *resolvable diameter*
   d50 is the lower edge of the smallest bin from which every larger bin has detection >= 0.5.
5. **Trust**: ``geosr.trust.trust_report`` on the first test slice for each acquisition's
   seed-0 SR models,
   with the CT acquisition's linear equivalent (Gaussian of the system blur + binning) and its
   measured noise sd as the forward/noise model; the image verdict and tile counts are kept.
   ``--trust-control`` (run after the study) adds the verdict of the *ground truth* itself on
   the same LR: a control of whether that forward model is adequate for CT.

Outputs ``benchmarks/results/ct_cortical{,_quick}.{json,md}`` and a detection-vs-diameter plot
``ct_cortical{,_quick}_detection.png``. Training runs stay under ``runs/ct_cortical`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import _machine  # noqa: E402

PHANTOM = dict(canal_radius_um=35.0, canal_radius_sigma=0.55,
               canal_radius_range_um=(10.0, 150.0), canal_spacing_um=330.0)
FIELD_UM = 2428.0
DEPTH_UM = 303.5
SLICES = (5, 15)
PORE, BONE = 0.15, 0.85
THRESHOLD = (PORE + BONE) / 2
BINS_UM = (0.0, 40.0, 60.0, 80.0, 100.0, 150.0, 400.0)
DOSES = (2e3, 2e4)
TRAIN_I0 = (1e3, 4e4)
ACQUISITIONS = {"xtremect2": {"voxel_um": 60.7, "scale": 4},
                "xtremect1": {"voxel_um": 82.0, "scale": 6}}
SR_ACQUISITIONS = ("xtremect2", "xtremect1")  # both get the two SR arms
PATCH_LR = 16  # training patch, LR pixels (HR patch = PATCH_LR × scale: 64 at ×4, 96 at ×6)
TRAIN_SEEDS, VAL_SEEDS = (0, 1, 2, 3, 4), (5, 6, 7)     # phantom seeds (quick: 0 and 1)
CHECKPOINT_RULE = {"keep": "last", "patience": None}     # final weights; see the docstring


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny smoke run")
    p.add_argument("--steps", type=int, default=None, help="training steps per model")
    p.add_argument("--seeds", type=int, default=3, help="training seeds per arm")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--work", type=Path, default=ROOT / "runs" / "ct_cortical")
    p.add_argument("--results", type=Path, default=HERE / "results")
    p.add_argument("--trust-control", action="store_true",
                   help="only add the ground truth's trust verdict to existing results")
    p.add_argument("--report", action="store_true",
                   help="only rewrite the Markdown and the plot from the existing JSON")
    p.add_argument("--train-only", choices=sorted(ACQUISITIONS), nargs="+", default=None,
                   help="train SR models only for these acquisitions and reuse the models "
                        "recorded in the existing results JSON for the others; every "
                        "condition is evaluated again (deterministic LR seeds)")
    return p.parse_args(argv)


# ------------------------------------------------------------------ ground truth
def phantom_slices(seed: int, spacing_um: float, quick: bool, scale: int
                   ) -> list[dict[str, Any]]:
    """Transverse slices (image, pore mask) of one 3D cortical phantom, cropped to a
    multiple of ``scale``."""
    from geosr.core import Image
    from geosr.phantoms import phantom

    field = FIELD_UM / 2 if quick else FIELD_UM
    ph = phantom("cortical", dims=3, size_um=(DEPTH_UM, field, field), spacing_um=spacing_um,
                 seed=seed, bright=False, **PHANTOM)
    out = []
    for z in SLICES:
        z = min(z, ph.image.shape[0] - 1)
        ny, nx = (n - n % scale for n in ph.image.shape[1:])
        out.append({"name": f"seed{seed}-z{z}", "seed": seed,
                    "image": Image(ph.image.numpy()[z, :ny, :nx].astype(np.float64), "YX",
                                   spacing=(spacing_um, spacing_um)),
                    "mask": ph.mask.numpy()[z, :ny, :nx] > 0})
    return out


def ct_lr(hr, acq: str, i0: float | None, seed: int, n_angles: int | None = None):
    from geosr.degrade.ct_degrade import degrade_ct

    return degrade_ct(hr, preset=acq, scale=ACQUISITIONS[acq]["scale"],
                      i0=0 if i0 is None else i0, intensity_range=(PORE, BONE),
                      n_angles=n_angles, seed=seed)


def ct_noise_sd(acq: str, i0: float, n_angles: int | None) -> float:
    """Noise sd of the CT reconstruction of a uniform bone field (LR units), 4 repeats."""
    from geosr.core import Image

    a = ACQUISITIONS[acq]
    hr = Image(np.full((a["scale"] * 32,) * 2, BONE), "YX",
               spacing=(a["voxel_um"] / a["scale"],) * 2)
    clean = ct_lr(hr, acq, None, 0, n_angles).numpy()
    return float(np.mean([np.std(ct_lr(hr, acq, i0, k, n_angles).numpy() - clean)
                          for k in range(4)]))


# ---------------------------------------------------------------------- training
def training_config(acq: str, arm: str, seed: int, hr_dir: Path, val_names: list[str],
                    steps: int, noise: tuple[float, float], n_angles: int | None,
                    threads: int, out: Path, patch_lr: int = PATCH_LR) -> dict[str, Any]:
    from geosr.degrade.ct_presets import get_preset

    preset = get_preset(acq)
    scale = ACQUISITIONS[acq]["scale"]
    if arm == "sr_ct":
        ct = {"preset": acq, "intensity_range": [PORE, BONE],
              "i0": {"low": TRAIN_I0[0], "high": TRAIN_I0[1], "log": True}}
        if n_angles:
            ct["n_angles"] = n_angles
        degradation = {"modality": "ct", "ct": ct, "variants": 3}
    else:
        degradation = {"fwhm_um": preset.detector_fwhm_um,
                       "read_noise": {"low": noise[1], "high": noise[0], "log": True},
                       "variants": 3}
    return {
        "version": 1, "seed": seed, "scale": scale,
        "data": {"source": "degrade", "hr": str(hr_dir), "degradation": degradation,
                 "split": {"by": "image", "names": val_names}},
        "model": {"name": "fsrcnn", "arguments": {"preset": "fast"}},
        "loss": [{"name": "l1", "weight": 1.0}],
        "patch": {"size": patch_lr * scale, "foreground_bias": 0.5},
        "augment": {"flips": True, "rot90": True},
        "normalization": {"p_low": 1.0, "p_high": 99.8, "target": "input"},
        "train": {"steps": steps, "batch_size": 16, "lr": 0.002, "schedule": "cosine",
                  "checkpoint_every": max(50, steps // 4), "threads": threads,
                  "device": "cpu"},
        "validation": {"every": max(50, steps // 4), "metric": "psnr", **CHECKPOINT_RULE},
        "logging": {"every": max(25, steps // 8), "progress": False},
        "out": str(out),
    }


def train_models(args, acq: str, hr_dir: Path, val_names: list[str],
                 noise: tuple[float, float], n_angles: int | None, steps: int
                 ) -> dict[str, list[dict[str, Any]]]:
    """The two SR arms × ``args.seeds`` training seeds for one acquisition (XtremeCT II's runs
    keep their original folders ``<work>/<arm>_seed<k>``, the others go to ``<work>/<acq>/``)."""
    from geosr.train import train

    work = args.work if acq == "xtremect2" else args.work / acq
    models: dict[str, list[dict[str, Any]]] = {"sr_ct": [], "sr_image": []}
    for seed in range(args.seeds):
        for arm in models:
            out = work / f"{arm}_seed{seed}"
            if out.exists():
                shutil.rmtree(out)
            cfg = training_config(acq, arm, seed, hr_dir, val_names, steps, noise, n_angles,
                                  args.threads, out, 8 if args.quick else PATCH_LR)
            t0 = time.perf_counter()
            path = train(cfg)
            wall = time.perf_counter() - t0
            models[arm].append({"seed": seed, "path": str(path), "steps": steps,
                                "train_wall_s": round(wall, 1), **validation_record(out)})
            print(f"trained {acq} {arm} seed {seed} in {wall:.0f} s -> {path}", flush=True)
    return models


def validation_record(run: Path) -> dict[str, Any]:
    """The run's validation PSNR (dB, normalised units; first / best / last / bicubic) and
    the step the kept weights come from, from its ``summary.json``."""
    summary = json.loads((run / "summary.json").read_text())
    kept = summary.get("steps_done") if CHECKPOINT_RULE["keep"] == "last" else \
        summary.get("best_step")
    return {"val_psnr_norm_db": summary.get("val_psnr_norm_db"),
            "best_step": summary.get("best_step"), "kept_step": kept}


# ----------------------------------------------------------------------- metrics
def pore_stats(pores: np.ndarray, truth: np.ndarray, pixel_um: float) -> dict[str, Any]:
    """Ct.Po, density, diameters, per-true-pore detection and spurious pores (2D masks)."""
    from scipy import ndimage

    area_mm2 = truth.size * (pixel_um / 1000.0) ** 2
    eight = np.ones((3, 3), bool)
    t_lab, n_t = ndimage.label(truth, structure=eight)
    p_lab, n_p = ndimage.label(pores, structure=eight)
    idx_t, idx_p = np.arange(1, n_t + 1), np.arange(1, n_p + 1)
    t_area = ndimage.sum(truth, t_lab, idx_t)
    t_hit = ndimage.sum(pores, t_lab, idx_t)
    p_area = ndimage.sum(pores, p_lab, idx_p)
    p_on = ndimage.sum(truth, p_lab, idx_p)
    diam = 2.0 * np.sqrt(t_area / np.pi) * pixel_um
    p_diam = 2.0 * np.sqrt(p_area / np.pi) * pixel_um
    detected = t_hit >= 0.25 * t_area
    tp, fp, fn = (float(np.sum(m)) for m in (pores & truth, pores & ~truth, ~pores & truth))
    return {"ct_po": float(pores.mean()), "density_per_mm2": n_p / area_mm2,
            "pixel_error": (fp + fn) / truth.size, "invented": fp / truth.size,
            "missed": fn / truth.size, "dice": 2 * tp / max(2 * tp + fp + fn, 1.0),
            "true_diameters_um": diam.tolist(), "detected": detected.tolist(),
            "pred_diameters_um": p_diam.tolist(),
            "spurious_per_mm2": float(np.sum(p_on < 0.1 * p_area)) / area_mm2,
            "area_mm2": area_mm2}


def evaluate(pred: np.ndarray, item: dict[str, Any], scale: int) -> dict[str, Any]:
    from geosr.assess import psnr

    c = scale
    truth_img = item["image"].numpy()[c:-c, c:-c]
    img = pred[c:-c, c:-c]
    out = {"psnr_db": float(psnr(img, truth_img, data_range=1.0).value)}
    out.update(pore_stats(img < THRESHOLD, item["mask"][c:-c, c:-c],
                          item["image"].spacing_um[-1]))
    return out


def detection_by_bin(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Detection rate per diameter bin over all records (images × model seeds);
    ``n_true`` counts the true pores of the test slices once (not once per model seed)."""
    diam = np.concatenate([r["true_diameters_um"] for r in records])
    det = np.concatenate([r["detected"] for r in records]).astype(bool)
    first = [r for r in records if r.get("model_seed", 0) == 0]
    diam0 = np.concatenate([r["true_diameters_um"] for r in first])
    rows = []
    for lo, hi in zip(BINS_UM[:-1], BINS_UM[1:]):
        sel = (diam >= lo) & (diam < hi)
        n = int(((diam0 >= lo) & (diam0 < hi)).sum())
        rows.append({"bin_um": [lo, hi], "n_true": n,
                     "detected": None if n == 0 else float(det[sel].mean())})
    return rows


def d50(rows: list[dict[str, Any]]) -> float | None:
    """Lower edge of the smallest bin from which every populated bin has detection >= 0.5."""
    edge = None
    for row in reversed(rows):
        if row["detected"] is None:
            continue
        if row["detected"] < 0.5:
            break
        edge = row["bin_um"][0]
    return edge


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    def ms(key):
        v = np.array([r[key] for r in records], float)
        return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0}

    rows = detection_by_bin(records)
    return {"psnr_db": ms("psnr_db"), "ct_po": ms("ct_po"),
            "ct_po_abs_error": {"mean": float(np.mean([abs(r["ct_po"] - r["true_ct_po"])
                                                       for r in records]))},
            "density_per_mm2": ms("density_per_mm2"),
            **{k: ms(k) for k in ("pixel_error", "invented", "missed", "dice")
               if all(k in r for r in records)},
            "spurious_per_mm2": ms("spurious_per_mm2"), "detection": rows, "d50_um": d50(rows),
            "n_images": len(records)}


# ------------------------------------------------------------------------- trust
def trust_verdict(pred, lr, model_path: str | None, acq: str) -> dict[str, Any]:
    """The trust layer's verdict on one SR image, with the LR's own CT record as the
    acquisition (linear equivalent for the null space; the consistency test re-acquires the
    prediction through the CT model), and the verdict of the consistency family alone."""
    from geosr.degrade.ct_presets import get_preset
    from geosr.trust import trust_report

    preset = get_preset(acq)
    try:
        report = trust_report(pred, lr, model=model_path, card=None,
                              blur_fwhm_um=preset.resolution_um, uncertainty=None)
    except Exception as err:  # the study must not die on a trust-layer change
        return {"error": f"{type(err).__name__}: {err}"}
    verdict = report.summary.get("verdict", {})
    family = next((c for c in verdict.get("control", []) if c.get("test") == "consistency"),
                  {})
    return {"image": verdict.get("image"), "tiles": verdict.get("tiles"),
            "meaning": verdict.get("meaning"),
            "consistency": {k: family.get(k) for k in ("verdict", "tests", "flagged")},
            "consistency_test": report.summary.get("consistency", {}).get("test")}


def ct_consistency(pred, lr, noise_sd: float, acq: str) -> dict[str, Any]:
    """Data consistency with the CT operator itself: the prediction re-acquired noise free
    by the same CT forward model, minus the LR; its sd over the LR noise sd (≈ 1 for an
    image the measurement supports), on the whole field and on 8 × 8-voxel tiles."""
    again = ct_lr(pred, acq, None, 0).numpy()
    res = lr.numpy() - again
    tiles = [res[i:i + 8, j:j + 8].std() / noise_sd
             for i in range(0, res.shape[0] - 7, 8) for j in range(0, res.shape[1] - 7, 8)]
    return {"residual_sd_over_noise_sd": float(res.std() / noise_sd),
            "tile_ratio_median": float(np.median(tiles)), "tile_ratio_max": float(max(tiles)),
            "tiles_above_1_5": int(np.sum(np.array(tiles) > 1.5)), "n_tiles": len(tiles)}


def upgrade(payload: dict[str, Any]) -> dict[str, Any]:
    """Results written before XtremeCT I had SR arms kept one acquisition's models and noise
    at the top level: key them by acquisition (``xtremect2``)."""
    if "sr_ct" in payload.get("models", {}):
        payload["models"] = {"xtremect2": payload["models"]}
    if "test_doses" in payload.get("noise_sd", {}):
        payload["noise_sd"] = {"xtremect2": payload["noise_sd"]}
    return payload


def trust_control(tag: str, args) -> int:
    """Add the trust verdict of the *ground truth* (the HR phantom slice on the SR grid) to
    an existing results JSON: a control of the consistency test itself, on the same LR."""
    from geosr.core.files import write_json
    from geosr.predict import predict
    from geosr.resample import upscale

    path = args.results / f"{tag}.json"
    payload = upgrade(json.loads(path.read_text()))
    n_angles = payload["constants"]["n_angles"]
    n_angles = None if n_angles == "preset" else n_angles
    for key, cond in payload["results"].items():
        acq = cond["acquisition"]
        models = payload["models"].get(acq, {})
        if not any(models.values()):
            continue
        sr = ACQUISITIONS[acq]
        item = phantom_slices(100, sr["voxel_um"] / sr["scale"], args.quick, sr["scale"])[0]
        lr = ct_lr(item["image"], acq, cond["i0"], seed=1000, n_angles=n_angles)
        truth = item["image"].replace(origin=tuple(
            o - (sr["scale"] - 1) / 2 * s / sr["scale"] for o, s in zip(lr.origin, lr.spacing)))
        noise = payload["noise_sd"][acq]["test_doses"][f"{cond['i0']:g}"]
        cond["trust"]["truth_control"] = trust_verdict(truth, lr, None, acq)
        preds = {"truth": truth, "bicubic": upscale(lr, sr["scale"])}
        preds.update({arm: predict(lr, runs[0]["path"], device="cpu")
                      for arm, runs in models.items() if runs})
        for arm, runs in models.items():   # the arms' verdicts, same trust layer
            if runs:
                cond["trust"][arm] = trust_verdict(preds[arm], lr, runs[0]["path"], acq)
        cond["ct_consistency"] = {name: ct_consistency(p.replace(origin=truth.origin), lr,
                                                       noise, acq)
                                  for name, p in preds.items()}
        print(key, cond["trust"]["truth_control"], cond["ct_consistency"])
    for cond in payload["results"].values():  # summaries from the per-image records
        for m in cond["methods"].values():
            m["summary"] = summarize(m["per_image"])
    write_json(path, payload)
    md = markdown(payload, f"benchmarks/results/{tag}_detection.png")
    (args.results / f"{tag}.md").write_text(md)
    return 0


# -------------------------------------------------------------------------- run
def prepare(args, quick: bool, train_acqs: tuple[str, ...]) -> dict[str, Any]:
    """HR training slices (one folder per acquisition to train for: its HR pixel is the voxel
    / scale) and the test slices of every acquisition."""
    from geosr.io import save

    train_seeds, val_seeds = ((0,), (1,)) if quick else (TRAIN_SEEDS, VAL_SEEDS)
    hr_dirs = {}
    for acq in train_acqs:
        sr = ACQUISITIONS[acq]
        hr_dir = args.work / ("hr" if acq == "xtremect2" else f"hr_{acq}")
        if hr_dir.exists():
            shutil.rmtree(hr_dir)
        hr_dir.mkdir(parents=True)
        train_items = [s for seed in train_seeds
                       for s in phantom_slices(seed, sr["voxel_um"] / sr["scale"], quick,
                                               sr["scale"])]
        for item in train_items + [s for seed in val_seeds for s in phantom_slices(
                seed, sr["voxel_um"] / sr["scale"], quick, sr["scale"])]:
            save(item["image"], hr_dir / f"{item['name']}.tif")
        hr_dirs[acq] = hr_dir
    names = [f"seed{seed}-z{z}" for seed in train_seeds for z in SLICES]
    val_names = [f"seed{seed}-z{z}" for seed in val_seeds for z in SLICES]
    test_seeds = (100,) if quick else (100, 101, 102)
    tests = {acq: [s for seed in test_seeds
                   for s in phantom_slices(seed, a["voxel_um"] / a["scale"], quick,
                                           a["scale"])]
             for acq, a in ACQUISITIONS.items()}
    return {"hr_dirs": hr_dirs, "val_names": val_names, "tests": tests, "train_names": names}


def run_conditions(tests, models, n_angles) -> dict[str, Any]:
    from geosr.predict import predict
    from geosr.resample import upscale

    results: dict[str, Any] = {}
    for acq, items in tests.items():
        scale = ACQUISITIONS[acq]["scale"]
        for dose in DOSES:
            key = f"{acq}_i0_{dose:g}"
            per_method: dict[str, list[dict[str, Any]]] = {}
            verdicts: dict[str, Any] = {}
            for k, item in enumerate(items):
                lr = ct_lr(item["image"], acq, dose, seed=1000 + k, n_angles=n_angles)
                truth = {"true_ct_po": float(item["mask"][scale:-scale, scale:-scale].mean())}
                outputs = {"bicubic": [upscale(lr, scale).numpy()]}
                for arm, runs in models.get(acq, {}).items():
                    outputs[arm] = [predict(lr, r["path"], device="cpu").numpy()
                                    for r in runs]
                    if k == 0 and runs:
                        verdicts[arm] = trust_verdict(
                            predict(lr, runs[0]["path"], device="cpu"), lr,
                            runs[0]["path"], acq)
                for method, preds in outputs.items():
                    for s, pred in enumerate(preds):
                        rec = {"image": item["name"], "model_seed": s, **truth,
                               **evaluate(np.asarray(pred, float), item, scale)}
                        per_method.setdefault(method, []).append(rec)
            results[key] = {"acquisition": acq, "i0": dose, "scale": scale,
                            "voxel_um": ACQUISITIONS[acq]["voxel_um"],
                            "methods": {m: {"summary": summarize(r), "per_image": r}
                                        for m, r in per_method.items()},
                            "trust": verdicts}
            print(f"{key}: " + ", ".join(
                f"{m} {v['summary']['psnr_db']['mean']:.2f} dB d50 {v['summary']['d50_um']}"
                for m, v in results[key]["methods"].items()), flush=True)
    return results


def truth_summary(tests) -> dict[str, Any]:
    out = {}
    for acq, items in tests.items():
        s = ACQUISITIONS[acq]["scale"]
        stats = [pore_stats(i["mask"][s:-s, s:-s], i["mask"][s:-s, s:-s],
                            i["image"].spacing_um[-1]) for i in items]
        out[acq] = {"ct_po_mean": float(np.mean([r["ct_po"] for r in stats])),
                    "density_per_mm2": float(np.mean([r["density_per_mm2"] for r in stats])),
                    "detection": detection_by_bin(stats)}
    return out


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    import torch

    torch.set_num_threads(args.threads)
    quick = args.quick
    steps = args.steps or (40 if quick else 1500)
    if quick:
        args.seeds = min(args.seeds, 1)
    n_angles = 180 if quick else None  # None: the presets' 750 / 900
    tag = "ct_cortical_quick" if quick else "ct_cortical"
    if args.trust_control:
        return trust_control(tag, args)
    if args.report:
        payload = json.loads((args.results / f"{tag}.json").read_text())
        md = markdown(payload, plot(payload, args.results / f"{tag}_detection.png"))
        (args.results / f"{tag}.md").write_text(md)
        print(md)
        return 0
    monitor = _machine.CpuMonitor()
    before = previous_comparisons(args.results / f"{tag}.json")
    old = (upgrade(json.loads((args.results / f"{tag}.json").read_text()))
           if args.train_only else {"models": {}, "noise_sd": {}})
    train_acqs = tuple(args.train_only or SR_ACQUISITIONS)
    data = prepare(args, quick, train_acqs)
    models, noise = dict(old["models"]), dict(old["noise_sd"])
    for acq in train_acqs:
        noise[acq] = {"train_i0_range": [ct_noise_sd(acq, i0, n_angles) for i0 in TRAIN_I0],
                      "test_doses": {f"{d:g}": ct_noise_sd(acq, d, n_angles) for d in DOSES}}
        print(f"{acq}: CT noise sd {noise[acq]}", flush=True)
        models[acq] = train_models(args, acq, data["hr_dirs"][acq], data["val_names"],
                                   tuple(noise[acq]["train_i0_range"]), n_angles, steps)
    results = run_conditions(data["tests"], models, n_angles)
    payload = {
        "benchmark": "ct_cortical", "quick": quick, "command": " ".join(
            [".venv/bin/python", "benchmarks/ct_cortical.py", *(argv or sys.argv[1:])]),
        "constants": {"phantom": PHANTOM, "field_um": FIELD_UM, "slices": SLICES,
                      "threshold": THRESHOLD, "bins_um": BINS_UM, "doses": DOSES,
                      "train_i0": TRAIN_I0, "acquisitions": ACQUISITIONS,
                      "steps": steps, "seeds": args.seeds, "n_angles": n_angles or "preset",
                      "patch_lr": PATCH_LR, "sr_acquisitions": SR_ACQUISITIONS,
                      "checkpoint_rule": {**CHECKPOINT_RULE, "validation_every": max(
                          50, steps // 4), "val_phantom_seeds": [1] if quick else list(VAL_SEEDS)}},
        "noise_sd": noise, "trained_now": list(train_acqs),
        "train_names": data["train_names"], "val_names": data["val_names"],
        "models": models, "truth": truth_summary(data["tests"]), "results": results,
        "machine": {**_machine.describe(), **monitor.stop()},
        "commit": _machine.git_commit(ROOT),
        "previous_run": ({k: old.get(k) for k in ("command", "commit", "machine", "constants")}
                         if args.train_only else None),
        "before": before,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    from geosr.core.files import write_json

    write_json(args.results / f"{tag}.json", payload)
    md = markdown(payload, plot(payload, args.results / f"{tag}_detection.png"))
    (args.results / f"{tag}.md").write_text(md)
    print(md)
    return 0


def previous_comparisons(path: Path) -> dict[str, Any] | None:
    """The CT-vs-image comparison of the results file this run replaces (its checkpoint rule
    and commit with it), so the JSON keeps what the numbers were before."""
    if not path.exists():
        return None
    old = json.loads(path.read_text())
    rule = old.get("constants", {}).get("checkpoint_rule") or {
        "keep": "best", "validation_every": "steps // 4", "val_names": old.get("val_names")}
    comps = {}
    for key, cond in old.get("results", {}).items():
        cmp_ = arm_comparison(cond)
        if cmp_ is not None:
            comps[key] = {k: v for k, v in cmp_.items() if k.endswith("_diff")}
    return {"commit": old.get("commit"), "checkpoint_rule": rule, "comparisons": comps}


# ----------------------------------------------------------------------- report
def per_seed(method: dict[str, Any]) -> list[dict[str, float]]:
    """PSNR, |Ct.Po error|, and (when recorded) the pore-map pixel error and Dice per training
    seed (mean over the test images)."""
    out = []
    for s in sorted({r["model_seed"] for r in method["per_image"]}):
        recs = [r for r in method["per_image"] if r["model_seed"] == s]
        row = {"seed": s, "psnr_db": float(np.mean([r["psnr_db"] for r in recs])),
               "ct_po_abs_error": float(np.mean([abs(r["ct_po"] - r["true_ct_po"])
                                                 for r in recs]))}
        row.update({k: float(np.mean([r[k] for r in recs])) for k in ("pixel_error", "dice")
                    if all(k in r for r in recs)})
        out.append(row)
    return out


def arm_comparison(cond: dict[str, Any]) -> dict[str, Any] | None:
    m = cond["methods"]
    if "sr_ct" not in m or "sr_image" not in m:
        return None
    a, b = per_seed(m["sr_ct"]), per_seed(m["sr_image"])
    out: dict[str, Any] = {"sr_ct": a, "sr_image": b}
    for key in ("psnr_db", "ct_po_abs_error", "pixel_error", "dice"):
        if key not in a[0] or key not in b[0]:
            continue
        d = np.array([x[key] - y[key] for x, y in zip(a, b)])
        se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else None
        higher_better = key in ("psnr_db", "dice")
        out[key + "_diff"] = {"mean": float(d.mean()), "se": se,
                              "ct_better_seeds": int(np.sum(d > 0) if higher_better
                                                     else np.sum(d < 0)), "n": len(d)}
    return out


def _join(rows: list[dict[str, float]], key: str, digits: int) -> str:
    return ", ".join(f"{r[key]:.{digits}f}" for r in rows)


def _parts(s: dict[str, Any]) -> str:
    """'invented / missed | Dice' cells (pore pixels as fractions of the image), or dashes."""
    if "dice" not in s:
        return "– | –"
    return (f"{s['invented']['mean']:.4f} / {s['missed']['mean']:.4f} | "
            f"{s['dice']['mean']:.3f}")


def _bin_label(row) -> str:
    lo, hi = row["bin_um"]
    return f"{lo:g}-{hi:g}"


def _comparison_line(cond: dict[str, Any]) -> str:
    """One condition's CT-trained vs image-trained line (per-seed values, diffs, k/n)."""
    cmp_ = arm_comparison(cond)
    a, b = cmp_["sr_ct"], cmp_["sr_image"]
    dp, dc = cmp_["psnr_db_diff"], cmp_["ct_po_abs_error_diff"]
    se = "" if dp["se"] is None else f" ± {dp['se']:.2f}"
    extra = ""
    if "pixel_error_diff" in cmp_:
        de, dd = cmp_["pixel_error_diff"], cmp_["dice_diff"]
        extra = (f" Pore-map pixel error sr_ct {_join(a, 'pixel_error', 4)} vs sr_image "
                 f"{_join(b, 'pixel_error', 4)} (diff {de['mean']:+.4f}, CT better in "
                 f"{de['ct_better_seeds']}/{de['n']}); Dice sr_ct {_join(a, 'dice', 3)} vs "
                 f"sr_image {_join(b, 'dice', 3)} (diff {dd['mean']:+.3f}, CT better in "
                 f"{dd['ct_better_seeds']}/{dd['n']}).")
    return (
        f"- {cond['acquisition']} i0 {cond['i0']:g}: PSNR sr_ct {_join(a, 'psnr_db', 2)} "
        f"vs sr_image {_join(b, 'psnr_db', 2)} dB (diff {dp['mean']:+.2f}{se}, CT better "
        f"in {dp['ct_better_seeds']}/{dp['n']} seeds); |Ct.Po error| sr_ct "
        f"{_join(a, 'ct_po_abs_error', 4)} vs sr_image {_join(b, 'ct_po_abs_error', 4)} "
        f"(diff {dc['mean']:+.4f}, CT better in {dc['ct_better_seeds']}/{dc['n']} seeds)."
        + extra)


def markdown(p: dict[str, Any], figure: str | None) -> str:
    lines = [f"Command: `{p['command']}`; commit {p['commit']}; machine: "
             f"{p['machine'].get('cpus')} CPUs, busy (others used "
             f"{p['machine'].get('others_cores')} cores on average), wall "
             f"{p['machine'].get('wall_s')} s; {p['constants']['steps']} steps per model, "
             f"{p['constants']['seeds']} seeds per arm, 1 thread.", "",
             "| acquisition | i0 | method | PSNR dB | Ct.Po (truth) | abs Ct.Po err | "
             "pore px invented / missed | Dice | pores/mm² (truth) | spurious/mm² | d50 µm |",
             "|---" * 11 + "|"]
    for cond in p["results"].values():
        truth = p["truth"][cond["acquisition"]]
        for name, m in cond["methods"].items():
            s = m["summary"]
            lines.append(
                f"| {cond['acquisition']} ({cond['voxel_um']:g} µm) | {cond['i0']:g} | {name} | "
                f"{s['psnr_db']['mean']:.2f} ± {s['psnr_db']['sd']:.2f} | "
                f"{s['ct_po']['mean']:.3f} ({truth['ct_po_mean']:.3f}) | "
                f"{s['ct_po_abs_error']['mean']:.3f} | {_parts(s)} | "
                f"{s['density_per_mm2']['mean']:.1f} "
                f"({truth['density_per_mm2']:.1f}) | {s['spurious_per_mm2']['mean']:.1f} | "
                f"{s['d50_um'] if s['d50_um'] is not None else 'none'} |")
    first = next(iter(p["results"].values()))
    rows = next(iter(first["methods"].values()))["summary"]["detection"]
    lines += ["", "Detection rate by true pore diameter (µm; n = true pores in the test slices):",
              "", "| acquisition | i0 | method | " + " | ".join(_bin_label(r) for r in rows)
              + " |", "|---" * (3 + len(rows)) + "|"]
    for cond in p["results"].values():
        for name, m in cond["methods"].items():
            cells = [("–" if r["detected"] is None else f"{r['detected']:.2f}")
                     + f" (n={r['n_true']})" for r in m["summary"]["detection"]]
            lines.append(f"| {cond['acquisition']} | {cond['i0']:g} | {name} | "
                         + " | ".join(cells) + " |")
    lines += ["", "CT-trained vs image-domain-trained SR (per training seed, mean over the "
              "test slices; diff = CT − image, ± standard error over seeds):", ""]
    lines += [_comparison_line(cond) for cond in p["results"].values()
              if arm_comparison(cond) is not None]
    lines += ["", "Trust verdicts (first test slice, seed-0 models):", ""]
    for cond in p["results"].values():
        for arm, v in cond["trust"].items():
            fam = v.get("consistency") or {}
            lines.append(f"- {cond['acquisition']} i0 {cond['i0']:g} {arm}: "
                         f"{v.get('image', v.get('error'))} (tiles {v.get('tiles')})"
                         + (f"; CT consistency: {fam.get('flagged')}/{fam.get('tests')} tiles "
                            "red (Holm 0.05)" if fam else ""))
    consistency = [(c, c["ct_consistency"]) for c in p["results"].values()
                   if c.get("ct_consistency")]
    if consistency:
        lines += ["", "Consistency with the CT operator itself (first test slice): sd of "
                  "(LR − CT(prediction), noise free) over the LR noise sd; ≈ 1 = supported by "
                  "the measurement; tiles of 8 × 8 voxels above 1.5:", "",
                  "| acquisition | i0 | " + " | ".join(consistency[0][1]) + " |",
                  "|---" * (2 + len(consistency[0][1])) + "|"]
        for cond, cc in consistency:
            lines.append(f"| {cond['acquisition']} | {cond['i0']:g} | " + " | ".join(
                f"{v['residual_sd_over_noise_sd']:.2f} ({v['tiles_above_1_5']}/{v['n_tiles']})"
                for v in cc.values()) + " |")
    if figure:
        lines += ["", f"![detection vs diameter]({figure})"]
    return "\n".join(lines) + "\n"


def plot(p: dict[str, Any], path: Path) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    from _equal_budget import save_figure

    conds = list(p["results"].values())
    fig, axes = plt.subplots(1, len(conds), figsize=(3.2 * len(conds), 3.0), sharey=True)
    for ax, cond in zip(np.atleast_1d(axes), conds):
        for name, m in cond["methods"].items():
            rows = [r for r in m["summary"]["detection"] if r["detected"] is not None]
            x = [(r["bin_um"][0] + min(r["bin_um"][1], 300.0)) / 2 for r in rows]
            ax.plot(x, [r["detected"] for r in rows], marker="o", label=name)
        ax.axhline(0.5, color="grey", lw=0.5)
        ax.set_title(f"{cond['acquisition']} {cond['voxel_um']:g} µm, i0 {cond['i0']:g}",
                     fontsize=8)
        ax.set_xlabel("true pore diameter, µm")
    np.atleast_1d(axes)[0].set_ylabel("fraction detected")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    return save_figure(fig, path, ROOT)


if __name__ == "__main__":
    raise SystemExit(main())
