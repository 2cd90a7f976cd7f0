"""Model families at one CPU budget (issue #8): RCAN, FSRCNN, pix2pix and CycleGAN on dentin
phantoms ×4 and ×8 — the comparison of the reference dentin study (Anderson et al. 2025,
arXiv:2510.08407), reproducible on a CPU.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/model_families.py --quick   # ~3 min, 2 cores
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/model_families.py           # ~15 min, 2 cores

Design
------
- Data: 2D dentin phantoms, 32 µm fields at 0.1 µm HR pixels (320²), degraded like the
  geometry study (confocal PSF 520 nm / NA 1.4, Poisson noise 50–500 photo-electrons per unit
  intensity, Gaussian read noise 0–0.02, two draws per training phantom), ×4 and ×8.
  Paired arms (RCAN, FSRCNN, pix2pix) train on HR phantoms 0..5 and their own degraded
  copies. CycleGAN is *truly unpaired*: the same HR phantoms 0..5, and LR images degraded from
  *other* phantoms (seeds 30000..30005; ``source: unpaired_phantom``) — it never sees an LR
  image of a training HR phantom. Validation phantom 10000 (final-step log only: the LAST
  weights are kept, no arm is selected by a metric). Test: held-out phantoms 20000.. (one
  degradation draw each, seeded), never seen by any arm.
- Arms: ``bicubic``; ``rcan`` (light preset, ≈ 0.34 M parameters), ``fsrcnn`` (paper preset,
  ≈ 13 k), ``pix2pix`` (``unet_pix2pix`` light generator ≈ 0.39 M + conditional PatchGAN,
  L1 + 0.01·LSGAN), ``cyclegan`` (same generator, learned HR→LR generator, two PatchGANs,
  LSGAN, cycle 10, identity 1, image pool 50) and — full mode — ``cyclegan_physics`` (the
  known forward model as F: the physics-informed cycle, one discriminator).
- One CPU budget: one torch thread per run; a calibration measures each arm's CPU seconds per
  optimisation step (``time.process_time`` around real training steps, discriminators and
  adversarial terms active); each run gets ``steps = budget / cost`` and its full cosine
  schedule. CPU seconds actually used (the whole training call incl. data and validation;
  the evaluation) are recorded per run. Runs go ``--workers`` at a time (separate processes).
- Metrics on the test phantoms: PSNR/SSIM in phantom intensity units (data range 1, the whole
  320² field minus a border of ``scale`` pixels); network metrics of
  :func:`geosr.assess.network.assess_network` (Otsu threshold of the truth applied to both,
  whole field): object F1, Betti error (β0 + β1 per tile), clDice, |relative error| of the
  skeleton length density and of the mean local thickness. Mean ± sample sd over (training
  seeds × test images).

Outputs ``benchmarks/results/model_families[_quick].{json,md}`` and a PNG panel per scale
(``..._x4.png``: LR | bicubic | each arm | truth, a crop of the first test phantom). Working
folders under ``runs/benchmarks/model_families`` (git-ignored).
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from _equal_budget import (TEST_START, cpu_per_step, held_out_phantoms,  # noqa: E402
                           init_worker, pm, run_job as run_measured_job, save_figure,
                           summarize as summarize_records)
RESULTS = HERE / "results"
WORK = ROOT / "runs" / "benchmarks" / "model_families"

KIND, SIZE_UM, SPACING_UM = "dentin", 32.0, 0.1
HR_SEEDS = list(range(6))
LR_SEEDS = list(range(30000, 30006))      # CycleGAN's LR domain: other phantoms
VAL_SEEDS = [10000]
DEGRADATION = {"wavelength_nm": 520, "na": 1.4, "microscope": "confocal",
               "photons": {"low": 50, "high": 500, "log": True}, "read_noise": [0.0, 0.02],
               "variants": 2}
GAN = {"loss": "lsgan", "receptive_field": 34, "ndf": 32, "d_lr": 2e-4, "sample_every": 0}

#: arm -> what differs from the common config (None: bicubic, no training)
ARMS: dict[str, dict[str, Any] | None] = {
    "bicubic": None,
    "rcan": {"model": {"name": "rcan", "arguments": {}}, "lr": 1e-3},
    "fsrcnn": {"model": {"name": "fsrcnn", "arguments": {}}, "lr": 2e-3},
    "pix2pix": {"algorithm": "pix2pix", "model": {"name": "unet_pix2pix", "arguments": {}},
                "lr": 1e-3, "betas": [0.5, 0.999],
                "adversarial": {**GAN, "weight": 0.01}},
    "cyclegan": {"algorithm": "cyclegan", "unpaired": True,
                 "model": {"name": "unet_pix2pix", "arguments": {}},
                 "lr": 1e-3, "betas": [0.5, 0.999],
                 "adversarial": {**GAN, "weight": 1.0, "pool_size": 50},
                 "cyclegan": {"backward": "learned", "cycle_weight": 10.0,
                              "identity_weight": 1.0}},
    "cyclegan_physics": {"algorithm": "cyclegan", "unpaired": True,
                         "model": {"name": "unet_pix2pix", "arguments": {}},
                         "lr": 1e-3, "betas": [0.5, 0.999],
                         "adversarial": {**GAN, "weight": 1.0, "pool_size": 50},
                         "cyclegan": {"backward": "physics", "cycle_weight": 10.0,
                                      "identity_weight": 1.0}},
}

MODES = {
    #         scales   seeds   budget_s  n_test  arms
    "smoke": ([4], [0], 3.0, 1, ["bicubic", "fsrcnn", "pix2pix", "cyclegan"]),
    "quick": ([4, 8], [0], 20.0, 2, ["bicubic", "rcan", "fsrcnn", "pix2pix", "cyclegan"]),
    "full": ([4, 8], [0, 1], 50.0, 4, list(ARMS)),
}

NET_METRICS = ("object_F1", "betti_error", "clDice", "length_density_error",
               "thickness_error")


# --------------------------------------------------------------------------- configs
def _psf_fwhm_um(scale: int) -> float:
    """Lateral FWHM (µm) of the confocal PSF of :data:`DEGRADATION` (for the physics F)."""
    from geosr.core.image import Image
    from geosr.degrade import degrade

    probe = Image(np.zeros((8 * scale, 8 * scale)), "YX", spacing=(SPACING_UM, SPACING_UM))
    lr = degrade(probe, scale=scale, wavelength_nm=DEGRADATION["wavelength_nm"],
                 na=DEGRADATION["na"], microscope=DEGRADATION["microscope"], seed=None)
    fwhm = lr.metadata["degradation"]["fwhm_um"]
    return float(np.mean(fwhm) if isinstance(fwhm, (list, tuple)) else fwhm)


def make_config(arm: dict[str, Any], *, scale: int, seed: int, steps: int) -> dict[str, Any]:
    """The training config of one run (a plain dict for :func:`geosr.train`)."""
    common = {"kind": KIND, "dims": 2, "size_um": SIZE_UM, "spacing_um": SPACING_UM,
              "degradation": DEGRADATION}
    if arm.get("unpaired"):
        data = {"source": "unpaired_phantom", **common, "hr_seeds": HR_SEEDS,
                "lr_seeds": LR_SEEDS, "val_seeds": VAL_SEEDS}
    else:
        data = {"source": "phantom", **common, "train_seeds": HR_SEEDS, "val_seeds": VAL_SEEDS}
    cfg = {
        "seed": seed, "scale": scale, "algorithm": arm.get("algorithm", "supervised"),
        "data": data, "model": copy.deepcopy(arm["model"]), "loss": "l1",
        "patch": {"size": 64},
        "train": {"steps": steps, "batch_size": 16, "lr": arm["lr"], "schedule": "cosine",
                  "betas": arm.get("betas", [0.9, 0.999]), "checkpoint_every": steps,
                  "threads": 1, "device": "cpu"},
        "validation": {"every": steps, "patience": None, "keep": "last"},
        "logging": {"every": max(1, steps // 10), "progress": False},
    }
    for section in ("adversarial", "cyclegan"):
        if section in arm:
            cfg[section] = copy.deepcopy(arm[section])
    if cfg.get("cyclegan", {}).get("backward") == "physics":
        cfg["cyclegan"]["fwhm_um"] = _psf_fwhm_um(scale)
    return cfg


# --------------------------------------------------------------------------- workers
PANEL_CROP = 128   # HR pixels of the first test phantom shown in the panel


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Train one arm (or run bicubic) and measure it on the test phantoms."""
    images = held_out_phantoms(KIND, job["scale"], job["n_test"], DEGRADATION,
                               size_um=SIZE_UM, spacing_um=SPACING_UM)
    record, preds = run_measured_job(job, images, spacing_um=SPACING_UM)
    record = {**{k: job[k] for k in ("arm", "scale", "seed")}, **record}
    if job["seed"] == 0:      # the panel crop of the first test phantom
        c = PANEL_CROP
        record["panel"] = {"pred": preds[0][:c, :c].tolist(),
                           "hr": images[0]["hr"][:c, :c].tolist(),
                           "lr": images[0]["lr"].numpy()[:c // job["scale"],
                                                         :c // job["scale"]].tolist()}
    return record


def summarize(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = {a: i for i, a in enumerate(ARMS)}
    summary = summarize_records(records, ("scale", "arm"), NET_METRICS)
    return sorted(summary, key=lambda s: (s["scale"], order[s["arm"]]))


# --------------------------------------------------------------------------- output
def markdown(result: dict[str, Any]) -> str:
    from _machine import markdown as machine_md

    lines = [f"### model_families ({result['mode']})", "", f"Command: `{result['command']}`",
             ""]
    lines += [f"- {line}" for line in result["design"]]
    lines += ["", "| × | arm | params | steps | CPU s (train) | PSNR dB | SSIM | object F1 | "
              "Betti err/tile | clDice | length-density err | thickness err |",
              "|" + "---|" * 12]
    for s in result["summary"]:
        lines.append(
            f"| {s['scale']} | {s['arm']} | {s.get('parameters') or '–'} | "
            f"{s['steps']['mean']:.0f} | {s['cpu_train_s']['mean']:.1f} | "
            f"{pm(s['psnr'], 2)} | {pm(s['ssim'], 3)} | {pm(s['object_F1'], 3)} | "
            f"{pm(s['betti_error'], 2)} | {pm(s['clDice'], 3)} | "
            f"{pm(s['length_density_error'], 3)} | {pm(s['thickness_error'], 3)} |")
    lines += ["", "Calibrated CPU seconds per optimisation step (1 thread): " + ", ".join(
        f"{k} {v['seconds_per_step'] * 1000:.0f} ms" for k, v in result["calibration"].items())]
    if result.get("panels"):
        lines += ["", "Panels: " + ", ".join(f"`{p}`" for p in result["panels"])]
    lines += ["", f"Wall time {result['wall_seconds']:.0f} s with {result['workers']} worker "
              f"process(es), 1 torch thread each.", "", machine_md(result["machine"])]
    return "\n".join(lines) + "\n"


def panels(records: list[dict[str, Any]], stem: Path) -> list[str]:
    """One PNG per scale: LR | bicubic | each arm | truth (crop of the first test phantom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    order = {a: i for i, a in enumerate(ARMS)}
    for scale in sorted({r["scale"] for r in records}):
        recs = sorted([r for r in records if r["scale"] == scale and "panel" in r],
                      key=lambda r: order[r["arm"]])
        if not recs:
            continue
        tiles = [("LR", np.asarray(recs[0]["panel"]["lr"]))]
        tiles += [(r["arm"], np.asarray(r["panel"]["pred"])) for r in recs]
        tiles += [("truth", np.asarray(recs[0]["panel"]["hr"]))]
        fig, axes = plt.subplots(1, len(tiles), figsize=(2.2 * len(tiles), 2.5))
        for ax, (title, tile) in zip(axes, tiles):
            ax.imshow(tile, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(title, fontsize=8)
            ax.axis("off")
        fig.suptitle(f"dentin ×{scale}, test phantom {TEST_START}, {PANEL_CROP}² HR px "
                     "(intensity 0–1)", fontsize=9)
        files.append(save_figure(fig, stem.parent / f"{stem.name}_x{scale}.png", ROOT))
    return files


def _write(result: dict[str, Any], stem: Path) -> None:
    from geosr.core.files import atomic_path, write_json

    stem.parent.mkdir(parents=True, exist_ok=True)
    result["panels"] = panels(result["records"], stem)
    for r in result["records"]:
        r.pop("panel", None)
    write_json(stem.with_suffix(".json"), result)
    with atomic_path(stem.with_suffix(".md")) as tmp:
        tmp.write_text(markdown(result), encoding="utf-8")


# --------------------------------------------------------------------------- main
def run(args: argparse.Namespace) -> dict[str, Any]:
    scales, seeds, budget, n_test, arms = MODES[args.mode]
    scales = args.scales or scales
    seeds = list(range(args.seeds)) if args.seeds else seeds
    budget = args.budget or budget
    n_test = args.n_test or n_test
    arms = args.arms or arms
    trained = [a for a in arms if ARMS[a] is not None]
    ctx = mp.get_context("spawn")
    with ctx.Pool(args.workers, initializer=init_worker) as pool:
        keys = [f"{a}|x{s}" for a in trained for s in scales]
        cal = pool.map(cpu_per_step, [make_config(ARMS[arm], scale=scale, seed=0, steps=100)
                                   for arm, scale in ((a, s) for a in trained for s in scales)],
                       chunksize=1)
        plan = {k: {"seconds_per_step": c["seconds_per_step"],
                    "steps": max(args.min_steps, int(budget / c["seconds_per_step"]))}
                for k, c in zip(keys, cal)}
        jobs = []
        for scale in scales:
            for arm in arms:
                for seed in (seeds if ARMS[arm] is not None else [0]):
                    job = {"arm": arm, "scale": scale, "seed": seed, "n_test": n_test,
                           "config": None}
                    if ARMS[arm] is not None:
                        p = plan[f"{arm}|x{scale}"]
                        job.update(config=make_config(ARMS[arm], scale=scale, seed=seed,
                                                      steps=p["steps"]),
                                   seconds_per_step=p["seconds_per_step"],
                                   out=str(WORK / args.mode / f"x{scale}_{arm}_s{seed}"))
                    jobs.append(job)
        jobs.sort(key=lambda j: -(j["config"]["train"]["steps"] * j["seconds_per_step"]
                                  if j["config"] else 0))
        records = pool.map(run_job, jobs, chunksize=1)
    summary = summarize(records)
    return {"records": records, "summary": summary, "calibration": plan,
            "budget_cpu_s_per_run": budget, "arms": {a: ARMS[a] for a in arms},
            "design": [
                f"2D dentin phantoms, {SIZE_UM:g} µm fields at {SPACING_UM} µm (320²), "
                f"×{scales}, training seeds {seeds}, {n_test} held-out test phantoms "
                f"(seeds {TEST_START}..)",
                f"paired arms: HR phantoms {HR_SEEDS[0]}..{HR_SEEDS[-1]} and their degraded "
                f"copies; CycleGAN: the same HR phantoms and LR images of other phantoms "
                f"({LR_SEEDS[0]}..{LR_SEEDS[-1]}) — truly unpaired",
                f"every trained arm: batch 16, 64² HR patches, L1 content loss, Adam with a "
                f"cosine schedule, {budget:g} CPU s of optimisation steps (steps = budget / "
                "calibrated cost per step), 1 torch thread, last weights (no selection)",
                "GANs: LSGAN, PatchGAN receptive field 34 px, D lr 2e-4; pix2pix adversarial "
                "weight 0.01; CycleGAN weight 1, cycle 10, identity 1, pool 50",
                "PSNR/SSIM: phantom intensity, data range 1, whole field minus a border of "
                "`scale` px; network metrics: whole field, Otsu threshold of the truth for "
                "both (geosr.assess.network)",
                "mean ± sample sd over (training seeds × test images)"]}


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_const", dest="mode", const="quick")
    g.add_argument("--smoke", action="store_const", dest="mode", const="smoke")
    p.set_defaults(mode="full")
    p.add_argument("--workers", type=int, default=2, help="parallel runs (1 thread each)")
    p.add_argument("--budget", type=float, help="CPU seconds of optimisation steps per run")
    p.add_argument("--min-steps", type=int, default=20)
    p.add_argument("--seeds", type=int, help="number of training seeds")
    p.add_argument("--n-test", type=int, help="held-out test phantoms")
    p.add_argument("--scales", nargs="+", type=int, choices=[2, 4, 8])
    p.add_argument("--arms", nargs="+", choices=list(ARMS))
    p.add_argument("--results", type=Path, default=RESULTS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from _machine import describe

    args = _args(argv)
    t0 = time.perf_counter()
    result = run(args)
    result.update(mode=args.mode, workers=args.workers, wall_seconds=time.perf_counter() - t0,
                  command="OMP_NUM_THREADS=1 .venv/bin/python benchmarks/model_families.py "
                          + " ".join(argv if argv is not None else sys.argv[1:]),
                  machine=describe())
    stem = args.results / ("model_families" + ("" if args.mode == "full"
                                               else f"_{args.mode}"))
    _write(result, stem)
    print(stem.with_suffix(".md").read_text())
    return result


if __name__ == "__main__":
    main()
