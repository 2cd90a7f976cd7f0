"""Why is the CT-trained model's Ct.Po error larger at low dose? (issue 17, diagnosis)

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/_ct_lowdose.py [--noise-repeats 3]

Reuses the trained models and the test slices of ``benchmarks/ct_cortical.py`` (XtremeCT II,
i0 2e3 and 2e4; the study's LR noise seeds 1000 + k reproduce its numbers exactly, further
repeats use seeds 2000 + 100 r + k) and splits each output's Ct.Po error into its parts:

- pore pixels right (TP), invented (FP: pore in the output, bone in the truth) and missed (FN);
  signed Ct.Po error = (FP − FN) / N, so a small |error| can be two large errors cancelling;
  the pixel error (FP + FN) / N and the Dice of the pore maps do not reward that;
- the output's grey levels in bone and in pore cores (truth eroded by 3 HR px): is the study's
  fixed threshold 0.5 (the phantom's mid level) also the mid level of each output?
- Ct.Po at thresholds 0.40-0.60 and the threshold at which each output's Ct.Po equals the truth;
- the spread of Ct.Po over noise realizations (variance) against its mean error (bias);
- ``--calibrated``: Ct.Po error when each model's threshold is calibrated on the validation
  slices (phantom seeds ``study.VAL_SEEDS`` = 5-7, never tested; their own LR noise seeds
  3000 + k) so that its Ct.Po is unbiased there, as one would with a calibration phantom: the
  shared under-segmentation is removed, so what is left ranks the models on the pores
  themselves (both acquisitions).

Writes ``benchmarks/results/ct_cortical_lowdose.{json,md}`` and ``..._maps.png`` (pore maps of
the first test slice at i0 2e3, seed-0 models: right / invented / missed pore pixels).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import ct_cortical as study  # noqa: E402

THRESHOLDS = tuple(np.round(np.arange(0.40, 0.6001, 0.025), 3))


def pixel_parts(out: np.ndarray, truth_mask: np.ndarray) -> dict[str, float]:
    """TP/FP/FN pore fractions, Dice, grey levels in bone and pore cores, Ct.Po per threshold."""
    from scipy import ndimage

    pores = out < study.THRESHOLD
    n = truth_mask.size
    tp = float(np.sum(pores & truth_mask)) / n
    fp = float(np.sum(pores & ~truth_mask)) / n
    fn = float(np.sum(~pores & truth_mask)) / n
    core = ndimage.binary_erosion(truth_mask, iterations=3)
    bone = ~ndimage.binary_dilation(truth_mask, iterations=3)
    fp_far = float(np.sum(pores & bone)) / n   # invented > 3 HR px from any true pore
    ct_po_at = {f"{t:.3f}": float(np.mean(out < t)) for t in THRESHOLDS}
    grid = np.linspace(0.2, 0.8, 601)
    po = np.array([np.mean(out < t) for t in grid])
    hit = np.nonzero(po >= truth_mask.mean())[0]
    return {"tp": tp, "fp": fp, "fp_far": fp_far, "fn": fn, "dice": 2 * tp / max(2 * tp + fp + fn, 1e-12),
            "pixel_error": fp + fn, "signed_error": fp - fn,
            "bone_level": float(np.median(out[bone])),
            "core_level": float(np.median(out[core])) if core.any() else None,
            "ct_po_at": ct_po_at,
            "unbiased_threshold": float(grid[hit[0]]) if hit.size else None}


def outputs(lr, models: dict[str, list[dict[str, Any]]], scale: int) -> dict[str, list]:
    from geosr.predict import predict
    from geosr.resample import upscale

    out = {"bicubic": [upscale(lr, scale).numpy()]}
    for arm, runs in models.items():
        out[arm] = [predict(lr, r["path"], device="cpu").numpy() for r in runs]
    return out


def collect(repeats: int) -> list[dict[str, Any]]:
    payload = study.upgrade(json.loads((HERE / "results" / "ct_cortical.json").read_text()))
    acq = "xtremect2"
    a = study.ACQUISITIONS[acq]
    items = [s for seed in (100, 101, 102)
             for s in study.phantom_slices(seed, a["voxel_um"] / a["scale"], False, a["scale"])]
    c = a["scale"]
    rows = []
    for dose in study.DOSES:
        for r in range(repeats):
            for k, item in enumerate(items):
                noise_seed = 1000 + k if r == 0 else 2000 + 100 * r + k
                lr = study.ct_lr(item["image"], acq, dose, seed=noise_seed)
                truth = item["mask"][c:-c, c:-c]
                for method, preds in outputs(lr, payload["models"][acq], c).items():
                    for s, pred in enumerate(preds):
                        img = np.asarray(pred, float)[c:-c, c:-c]
                        rows.append({"i0": dose, "repeat": r, "image": item["name"],
                                     "method": method, "model_seed": s,
                                     "true_ct_po": float(truth.mean()),
                                     "ct_po": float(np.mean(img < study.THRESHOLD)),
                                     **pixel_parts(img, truth)})
                print(f"i0 {dose:g} repeat {r} {item['name']} done", flush=True)
    return rows


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per (dose, method): means of the parts; bias and noise-realization sd of Ct.Po."""
    out: dict[str, Any] = {}
    for dose in sorted({r["i0"] for r in rows}):
        for method in ("bicubic", "sr_ct", "sr_image"):
            sel = [r for r in rows if r["i0"] == dose and r["method"] == method]
            if not sel:
                continue

            def mean(key, sel=sel):
                vals = [r[key] for r in sel if r[key] is not None]
                return float(np.mean(vals))

            # variance over noise realizations: sd over repeats per (image, seed), averaged
            groups: dict[tuple, list[float]] = {}
            for r in sel:
                groups.setdefault((r["image"], r["model_seed"]), []).append(
                    r["ct_po"] - r["true_ct_po"])
            noise_sd = [np.std(v, ddof=1) for v in groups.values() if len(v) > 1]
            seeds = sorted({r["model_seed"] for r in sel})
            out[f"{dose:g}/{method}"] = {
                "i0": dose, "method": method, "n": len(sel),
                **{k: mean(k) for k in ("ct_po", "true_ct_po", "tp", "fp", "fp_far", "fn",
                                        "dice",
                                        "pixel_error", "signed_error", "bone_level",
                                        "core_level", "unbiased_threshold")},
                "abs_error": float(np.mean([abs(r["signed_error"]) for r in sel])),
                "ct_po_noise_sd": float(np.mean(noise_sd)) if noise_sd else None,
                "ct_po_at": {t: float(np.mean([r["ct_po_at"][t] for r in sel]))
                             for t in sel[0]["ct_po_at"]},
                "per_seed": [{"seed": s, **{k: float(np.mean([r[k] for r in sel
                                                              if r["model_seed"] == s]))
                                             for k in ("signed_error", "pixel_error", "dice",
                                                       "fp", "fn")},
                              "abs_error": float(np.mean([abs(r["signed_error"]) for r in sel
                                                          if r["model_seed"] == s]))}
                             for s in seeds]}
    return out


def markdown(summary: dict[str, Any], repeats: int) -> str:
    lines = [f"Low-dose diagnosis (`benchmarks/_ct_lowdose.py --noise-repeats {repeats}`): "
             "XtremeCT II test slices (6), the study's seed-0..2 models, fixed threshold 0.5. "
             "Fractions of the image area; signed error = FP − FN; pixel error = FP + FN.", "",
             "FP far = invented > 3 HR px (45 µm) from any true pore.", "",
             "| i0 | method | Ct.Po (truth) | signed err | abs err | TP | FP (far) | FN | "
             "pixel err | Dice | bone / pore-core level | threshold for unbiased Ct.Po | "
             "Ct.Po sd over noise |", "|---" * 13 + "|"]
    for v in summary.values():
        core = "–" if v["core_level"] is None else f"{v['core_level']:.2f}"
        nsd = "–" if v["ct_po_noise_sd"] is None else f"{v['ct_po_noise_sd']:.4f}"
        lines.append(
            f"| {v['i0']:g} | {v['method']} | {v['ct_po']:.4f} ({v['true_ct_po']:.4f}) | "
            f"{v['signed_error']:+.4f} | {v['abs_error']:.4f} | {v['tp']:.4f} | {v['fp']:.4f} "
            f"({v['fp_far']:.4f}) | "
            f"{v['fn']:.4f} | {v['pixel_error']:.4f} | {v['dice']:.3f} | "
            f"{v['bone_level']:.2f} / {core} | {v['unbiased_threshold']:.3f} | {nsd} |")
    lines += ["", "Per training seed (sr_ct vs sr_image): signed error, abs error, pixel error, "
              "Dice:", ""]
    for dose in sorted({v["i0"] for v in summary.values()}):
        for arm in ("sr_ct", "sr_image"):
            v = summary.get(f"{dose:g}/{arm}")
            if v:
                lines.append(f"- i0 {dose:g} {arm}: " + "; ".join(
                    f"seed {p['seed']}: {p['signed_error']:+.4f}, {p['abs_error']:.4f}, "
                    f"{p['pixel_error']:.4f}, {p['dice']:.3f}" for p in v["per_seed"]))
    lines += ["", "Ct.Po by threshold (mean over slices, seeds, repeats):", "",
              "| i0 | method | " + " | ".join(next(iter(summary.values()))["ct_po_at"]) + " |",
              "|---" * (2 + len(THRESHOLDS)) + "|"]
    for v in summary.values():
        lines.append(f"| {v['i0']:g} | {v['method']} | "
                     + " | ".join(f"{x:.4f}" for x in v["ct_po_at"].values()) + " |")
    return "\n".join(lines) + "\n"


def pore_maps(path: Path) -> str | None:
    """Right (white), invented (red) and missed (blue) pore pixels of the first test slice at
    i0 2e3 for bicubic and the seed-0 SR models (the study's LR noise seed 1000)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    from _equal_budget import save_figure

    payload = study.upgrade(json.loads((HERE / "results" / "ct_cortical.json").read_text()))
    a = study.ACQUISITIONS["xtremect2"]
    item = study.phantom_slices(100, a["voxel_um"] / a["scale"], False, a["scale"])[0]
    lr = study.ct_lr(item["image"], "xtremect2", 2e3, seed=1000)
    models = {arm: runs[:1] for arm, runs in payload["models"]["xtremect2"].items()}
    preds = {m: v[0] for m, v in outputs(lr, models, a["scale"]).items()}
    truth = item["mask"]
    fig, axes = plt.subplots(1, len(preds), figsize=(3.0 * len(preds), 3.2))
    for ax, (name, pred) in zip(axes, preds.items()):
        pores = np.asarray(pred) < study.THRESHOLD
        rgb = np.zeros(truth.shape + (3,))
        rgb[pores & truth] = 1.0
        rgb[pores & ~truth] = (1.0, 0.2, 0.2)
        rgb[~pores & truth] = (0.3, 0.5, 1.0)
        ax.imshow(rgb, interpolation="nearest")
        ax.set_title(f"{name}: invented {np.mean(pores & ~truth):.4f}, "
                     f"missed {np.mean(~pores & truth):.4f}", fontsize=7)
        ax.axis("off")
    return save_figure(fig, path, study.ROOT)


def _threshold_for(preds: list[np.ndarray], truths: list[np.ndarray]) -> float:
    """The threshold at which the mean Ct.Po of ``preds`` equals that of ``truths``."""
    grid = np.linspace(0.2, 0.95, 751)
    target = float(np.mean([t.mean() for t in truths]))
    po = np.array([np.mean([np.mean(p < g) for p in preds]) for g in grid])
    return float(grid[min(np.searchsorted(po, target), grid.size - 1)])


def calibrated(acq: str) -> dict[str, Any]:
    """Per dose, method and model seed: the threshold calibrated on the validation slices and
    the test slices' |Ct.Po error| at it (test LR = the study's, seeds 1000 + k)."""
    payload = study.upgrade(json.loads((HERE / "results" / "ct_cortical.json").read_text()))
    a = study.ACQUISITIONS[acq]
    c, hr_um = a["scale"], a["voxel_um"] / a["scale"]
    val = [s for seed in study.VAL_SEEDS for s in study.phantom_slices(seed, hr_um, False, c)]
    test = [s for seed in (100, 101, 102) for s in study.phantom_slices(seed, hr_um, False, c)]
    out: dict[str, Any] = {}
    for dose in study.DOSES:
        def run(items, seed0):
            preds = [outputs(study.ct_lr(it["image"], acq, dose, seed=seed0 + k),
                             payload["models"][acq], c) for k, it in enumerate(items)]
            return preds, [it["mask"][c:-c, c:-c] for it in items]
        v_preds, v_truth = run(val, 3000)
        t_preds, t_truth = run(test, 1000)
        for method in v_preds[0]:
            rows = []
            for s in range(len(v_preds[0][method])):
                crop = (lambda x: np.asarray(x, float)[c:-c, c:-c])
                t = _threshold_for([crop(p[method][s]) for p in v_preds], v_truth)
                err = [abs(np.mean(crop(p[method][s]) < t) - m.mean())
                       for p, m in zip(t_preds, t_truth)]
                rows.append({"seed": s, "threshold": t, "abs_error": float(np.mean(err))})
            out[f"{dose:g}/{method}"] = rows
        print(f"calibrated {acq} i0 {dose:g} done", flush=True)
    return out


def calibrated_markdown(result: dict[str, dict[str, Any]]) -> str:
    lines = ["", "Threshold calibrated on the validation slices (Ct.Po unbiased there), then "
             "|Ct.Po error| on the test slices, per model seed:", "",
             "| acquisition | i0 | method | thresholds | abs Ct.Po err per seed | mean |",
             "|---|---|---|---|---|---|"]
    for acq, res in result.items():
        for key, rows in res.items():
            dose, method = key.split("/")
            lines.append(f"| {acq} | {dose} | {method} | "
                         + ", ".join(f"{r['threshold']:.3f}" for r in rows) + " | "
                         + ", ".join(f"{r['abs_error']:.4f}" for r in rows) + " | "
                         + f"{np.mean([r['abs_error'] for r in rows]):.4f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--noise-repeats", type=int, default=3)
    p.add_argument("--calibrated", action="store_true",
                   help="only the calibrated-threshold check (both acquisitions), appended to "
                        "the existing results")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    if args.calibrated:
        return main_calibrated()
    rows = collect(args.noise_repeats)
    summary = summarize(rows)
    from geosr.core.files import write_json

    write_json(HERE / "results" / "ct_cortical_lowdose.json",
               {"command": "benchmarks/_ct_lowdose.py " + " ".join(argv or sys.argv[1:]),
                "thresholds": list(THRESHOLDS), "summary": summary, "rows": rows})
    md = markdown(summary, args.noise_repeats)
    figure = pore_maps(HERE / "results" / "ct_cortical_lowdose_maps.png")
    if figure:
        md += f"\n![pore maps, i0 2e3]({figure})\n"
    (HERE / "results" / "ct_cortical_lowdose.md").write_text(md)
    print(md)
    return 0


def main_calibrated() -> int:
    from geosr.core.files import write_json

    path = HERE / "results" / "ct_cortical_lowdose.json"
    payload = json.loads(path.read_text())
    payload["calibrated"] = {acq: calibrated(acq) for acq in study.SR_ACQUISITIONS}
    payload["calibrated_command"] = "benchmarks/_ct_lowdose.py --calibrated"
    write_json(path, payload)
    md_path = HERE / "results" / "ct_cortical_lowdose.md"
    md = md_path.read_text().split("\nThreshold calibrated on the validation")[0].rstrip("\n")
    md += "\n" + calibrated_markdown(payload["calibrated"])
    md_path.write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
