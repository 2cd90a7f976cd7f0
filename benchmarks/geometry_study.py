"""The geometry-aware SR study (issue #6): does taking the network's geometry into account
(topology losses, a segmentation head, a tubeness input) give truer networks at little PSNR
cost, at an equal CPU budget?

    .venv/bin/python benchmarks/geometry_study.py --smoke            # ~1 min: plumbing only
    .venv/bin/python benchmarks/geometry_study.py --quick            # ~5 min on 2 idle cores
    .venv/bin/python benchmarks/geometry_study.py                    # main study, ~25 min
    .venv/bin/python benchmarks/geometry_study.py --part light       # size sweep, ~10 min
    .venv/bin/python benchmarks/geometry_study.py --part real        # LHDL bone, ~10 min

Design (part ``main``)
----------------------
- Data: 2D phantoms (``dentin`` and ``lcn``; 2D keeps the CPU cost of the three seeds × two
  scales × every arm affordable — the 3D versions of every loss and model are unit-tested but
  not part of this study), 32 µm fields at 0.1 µm HR pixels (320²), six training phantoms
  (seeds 0..5, two degraded variants each), one validation phantom (10000; used only for the
  final-step log, the LAST weights are kept so no arm is selected by PSNR), and held-out test
  phantoms 20000.. degraded once each with parameters drawn from the training ranges: confocal
  PSF (520 nm, NA 1.4), Poisson noise 50–500 photo-electrons per unit intensity, Gaussian read
  noise 0–0.02; ×4 (0.4 µm LR pixels) and ×8 (0.8 µm).
- Arms: ``bicubic`` (MATLAB imresize cubic) and, with the SAME architecture (FSRCNN "paper",
  d=56, s=12, m=4, ≈12.8 k parameters; the ``geo`` arms wrap it and add ≤ 0.3 k parameters for
  the extra input/output channel), ``l1`` and every geometry-aware variant in :data:`ARMS`.
  Geometry terms ramp in: weight 0 for the first 20 % of the steps, then linearly to full
  weight over the next 30 % (``start``/``warmup`` of the loss terms).
- Fair budget: every run uses one torch thread and the same CPU seconds for its optimisation
  steps. A calibration (``time.process_time`` over real training steps, geometry terms active)
  measures each arm's cost per step; the run gets ``steps = budget / cost`` and its full cosine
  schedule. CPU seconds actually used (training call incl. data and validation; evaluation)
  are recorded per run. Runs go ``--workers`` at a time in separate processes.
- Metrics on the test phantoms (whole 320² fields minus a border of ``scale`` pixels for
  PSNR/SSIM; whole fields for the network metrics): PSNR/SSIM in phantom intensity units
  (data range 1), and from :func:`geosr.assess.network.assess_network` with its default
  segmentation (Otsu threshold of the truth applied to both): object F1, Betti error (β0 + β1
  error per tile), clDice, |relative error| of the skeleton length density and of the mean
  local thickness, porosity relative error. Mean ± sample sd over (training seeds × test
  images); the target is judged on the means per (phantom, scale).

Part ``light``: FSRCNN-tiny (≈ 2 k), FSRCNN (≈ 13 k), ESPCN (≈ 25 k), EDSR-light and CARE-light
(≈ 0.3 M) with ``l1`` and with the ``--geo-arm`` recipe, dentin ×4, one seed, equal CPU budget.
Part ``real``: see :mod:`_geometry_real` (LHDL trabecular bone micro-CT).

Outputs ``benchmarks/results/geometry_study[_quick|_smoke|_light|_real].{json,md}`` and PNG
plots next to them. Working folders stay under ``runs/benchmarks/geometry`` (git-ignored).
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from _equal_budget import (held_out_phantoms, init_worker, plan_steps, pm,  # noqa: E402
                           run_job as run_measured_job, save_figure,
                           summarize as summarize_records)
RESULTS = HERE / "results"
WORK = ROOT / "runs" / "benchmarks" / "geometry"

TAU = 0.1
#: fraction of the steps before a geometry term starts, and of its linear ramp
RAMP = {"start": 0.2, "warmup": 0.3}
BASE = {"name": "fsrcnn", "arguments": {}}
GEO_BASE = {"base": "fsrcnn", "base_arguments": "{}"}

#: arm -> {"loss": ..., "model": ...}; fractions in start/warmup become steps at run time
ARMS: dict[str, dict[str, Any] | None] = {
    "bicubic": None,
    "l1": {"loss": {"l1": 1.0}},
    "cldice": {"loss": {"l1": 1.0, "cldice": {"weight": 0.1, "tau": TAU, "max_items": 4,
                                              **RAMP}}},
    "skeleton_recall": {"loss": {"l1": 1.0, "skeleton_recall": {"weight": 0.1, "tau": TAU,
                                                                **RAMP}}},
    "persistence": {"loss": {"l1": 1.0, "persistence": {"weight": 0.01, "tau": TAU, "crop": 32,
                                                        "max_items": 2, **RAMP}}},
    "porosity_edge_fourier": {"loss": {"l1": 1.0,
                                       "porosity": {"weight": 0.1, "tau": TAU, **RAMP},
                                       "gradient": {"weight": 0.5, **RAMP},
                                       "fourier": {"weight": 0.05, **RAMP}}},
    "aux_head": {"loss": {"l1": 1.0},
                 "model": {"name": "geo", "arguments": {**GEO_BASE, "aux_head": True,
                                                        "aux_weight": 0.1}}},
    "tubeness": {"loss": {"l1": 1.0},
                 "model": {"name": "geo", "arguments": {**GEO_BASE, "tubeness": True}}},
    "topo_combo": {"loss": {"l1": 1.0, "cldice": {"weight": 0.1, "tau": TAU, "max_items": 4,
                                                  **RAMP},
                            "skeleton_recall": {"weight": 0.1, "tau": TAU, **RAMP}},
                   "model": {"name": "geo", "arguments": {**GEO_BASE, "aux_head": True,
                                                          "tubeness": True, "aux_weight": 0.1}}},
}

#: model sizes of part "light": label -> (name, arguments)
SIZES = {
    "fsrcnn_tiny": ("fsrcnn", {"d": 16, "s": 8, "m": 2}),
    "fsrcnn": ("fsrcnn", {}),
    "espcn": ("espcn", {}),
    "edsr_light": ("edsr", {}),
    "care_light": ("care", {}),
}

DEGRADATION = {"wavelength_nm": 520, "na": 1.4, "microscope": "confocal",
               "photons": {"low": 50, "high": 500, "log": True}, "read_noise": [0.0, 0.02],
               "variants": 2}

MODES = {
    #        phantoms           scales  seeds  budget_s  n_test  arms (None: all)
    "smoke": (["dentin"], [4], [0], 4.0, 1, ["bicubic", "l1", "cldice", "aux_head"]),
    "quick": (["dentin", "lcn"], [4], [0], 20.0, 3, None),
    "full": (["dentin", "lcn"], [4, 8], [0, 1, 2], 25.0, 4, None),
}

NET_METRICS = ("object_F1", "betti_error", "clDice", "length_density_error",
               "thickness_error", "porosity_error")


# --------------------------------------------------------------------------- configs
def _resolve_ramp(loss: dict[str, Any], steps: int) -> dict[str, Any]:
    out = {}
    for name, item in loss.items():
        if isinstance(item, dict):
            item = dict(item)
            for key in ("start", "warmup"):
                if key in item and isinstance(item[key], float):
                    item[key] = int(round(item[key] * steps))
        out[name] = item
    return out


def make_config(arm: dict[str, Any], *, kind: str, scale: int, seed: int, steps: int,
                model: dict[str, Any] | None = None) -> dict[str, Any]:
    """The training config of one run (plain dict for :func:`geosr.train`)."""
    return {
        "seed": seed, "scale": scale,
        "data": {"source": "phantom", "kind": kind, "dims": 2, "size_um": 32.0,
                 "spacing_um": 0.1, "train_seeds": 6, "val_seeds": [10000],
                 "degradation": DEGRADATION},
        "model": copy.deepcopy(model or arm.get("model") or BASE),
        "loss": _resolve_ramp(arm["loss"], steps),
        "patch": {"size": 64},
        "train": {"steps": steps, "batch_size": 16, "lr": 2e-3, "schedule": "cosine",
                  "checkpoint_every": steps, "threads": 1, "device": "cpu"},
        "validation": {"every": steps, "patience": None, "keep": "last"},
        "logging": {"every": max(1, steps // 10), "progress": False},
    }


# --------------------------------------------------------------------------- workers
# --------------------------------------------------------------------------- runs
def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Train one arm (or evaluate bicubic) and measure it on the held-out phantoms."""
    images = held_out_phantoms(job["kind"], job["scale"], job["n_test"], DEGRADATION,
                               size_um=32.0, spacing_um=0.1)
    record, _ = run_measured_job(job, images, spacing_um=0.1)
    return {**{k: job[k] for k in ("arm", "kind", "scale", "seed", "label")}, **record}


def summarize(records: list[dict[str, Any]], group_keys=("kind", "scale", "label")
              ) -> list[dict[str, Any]]:
    return summarize_records(records, group_keys, NET_METRICS)


def verdicts(summary: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (phantom, scale, arm): change vs plain L1 of Betti and length-density errors (%),
    PSNR difference (dB), and whether the target (both −30 % at ≤ 0.3 dB cost) is met."""
    ref = {(s["kind"], s["scale"]): s for s in summary if s["label"] == "l1"}
    out = []
    for s in summary:
        r = ref.get((s["kind"], s["scale"]))
        if r is None or s["label"] in ("l1", "bicubic"):
            continue

        def rel(m):
            base = r[m]["mean"]
            return 100.0 * (s[m]["mean"] - base) / base if base else float("nan")

        d_psnr = s["psnr"]["mean"] - r["psnr"]["mean"]
        betti, length = rel("betti_error"), rel("length_density_error")
        out.append({"kind": s["kind"], "scale": s["scale"], "label": s["label"],
                    "betti_change_pct": betti, "length_change_pct": length,
                    "psnr_change_db": d_psnr,
                    "target_met": bool(betti <= -30 and length <= -30 and d_psnr >= -0.3)})
    return out


# --------------------------------------------------------------------------- output
def markdown(result: dict[str, Any]) -> str:
    from _machine import markdown as machine_md

    lines = [f"### geometry_study — part {result['part']} ({result['mode']})", "",
             f"Command: `{result['command']}`", ""]
    lines += [f"- {line}" for line in result["design"]]
    if result["summary"]:
        lines += ["", "| phantom | × | arm | params | steps | CPU s (train) | PSNR dB | SSIM | "
              "object F1 | Betti err/tile | clDice | length-density err | thickness err | "
                  "porosity err |", "|" + "---|" * 14]
    for s in result["summary"]:
        lines.append(
            f"| {s['kind']} | {s['scale']} | {s['label']} | {s.get('parameters') or '–'} | "
            f"{s['steps']['mean']:.0f} | {s['cpu_train_s']['mean']:.1f} | {pm(s['psnr'], 2)} | "
            f"{pm(s['ssim'], 3)} | {pm(s['object_F1'], 3)} | {pm(s['betti_error'], 3)} | "
            f"{pm(s['clDice'], 3)} | {pm(s['length_density_error'], 3)} | "
            f"{pm(s['thickness_error'], 3)} | {pm(s['porosity_error'], 3)} |")
    if result.get("rows"):          # part real
        from _geometry_real import markdown_rows

        lines += [""] + markdown_rows(result["rows"])
    if result.get("verdicts"):
        lines += ["", "Change vs plain L1 (target: Betti and length-density errors ≤ −30 % "
                  "at a PSNR cost ≤ 0.3 dB):", "",
                  "| phantom | × | arm | Betti err | length-density err | PSNR | target |",
                  "|---|---|---|---|---|---|---|"]
        for v in result["verdicts"]:
            lines.append(f"| {v['kind']} | {v['scale']} | {v['label']} | "
                         f"{v['betti_change_pct']:+.0f} % | {v['length_change_pct']:+.0f} % | "
                         f"{v['psnr_change_db']:+.2f} dB | {'met' if v['target_met'] else '–'} |")
    lines += ["", f"Wall time {result['wall_seconds']:.0f} s with {result['workers']} worker "
              f"process(es), 1 torch thread each.", "", machine_md(result["machine"])]
    return "\n".join(lines) + "\n"


def plots(result: dict[str, Any], stem: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    keys = sorted({(s["kind"], s["scale"]) for s in result["summary"]})
    metrics = [("psnr", "PSNR (dB)"), ("betti_error", "Betti error / tile"),
               ("length_density_error", "|length-density rel. error|"), ("clDice", "clDice"),
               ("object_F1", "object F1")]
    for kind, scale in keys:
        rows = [s for s in result["summary"] if (s["kind"], s["scale"]) == (kind, scale)]
        fig, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3.6))
        labels = [r["label"] for r in rows]
        for ax, (m, title) in zip(axes, metrics):
            ax.bar(range(len(rows)), [r[m]["mean"] for r in rows],
                   yerr=[r[m]["sd"] for r in rows], color="tab:gray", capsize=2)
            ax.set_xticks(range(len(rows)), labels, rotation=60, ha="right", fontsize=7)
            ax.set_title(title, fontsize=9)
        fig.suptitle(f"{kind} ×{scale} ({result['part']}, {result['mode']})", fontsize=10)
        files.append(save_figure(fig, stem.parent / f"{stem.name}_{kind}_x{scale}.png", ROOT))
    return files


def _write(result: dict[str, Any], stem: Path) -> None:
    from geosr.core.files import atomic_path, write_json

    stem.parent.mkdir(parents=True, exist_ok=True)
    result["plots"] = plots(result, stem) if result["summary"] else []
    write_json(stem.with_suffix(".json"), result)
    with atomic_path(stem.with_suffix(".md")) as tmp:
        tmp.write_text(markdown(result), encoding="utf-8")


# --------------------------------------------------------------------------- parts
def _pool(workers: int):
    return mp.get_context("spawn").Pool(workers, initializer=init_worker)


def part_main(args: argparse.Namespace) -> dict[str, Any]:
    kinds, scales, seeds, budget, n_test, arms = MODES[args.mode]
    kinds = args.phantoms or kinds
    scales = args.scales or scales
    seeds = list(range(args.seeds)) if args.seeds else seeds
    budget = args.budget or budget
    n_test = args.n_test or n_test
    arms = args.arms or arms or list(ARMS)
    try:
        import cripser  # noqa: F401
    except ImportError:
        if "persistence" in arms:
            print("cripser missing: the persistence arm is skipped", file=sys.stderr)
            arms = [a for a in arms if a != "persistence"]
    with _pool(args.workers) as pool:
        # calibration per (arm, scale) on dentin: the cost does not depend on the phantom
        cal_cfgs = {f"{a}|{s}": make_config(ARMS[a], kind=kinds[0], scale=s, seed=0, steps=100)
                    for a in arms if ARMS[a] is not None for s in scales}
        plan = plan_steps(pool, cal_cfgs, budget, args.min_steps)
        jobs = []
        for kind in kinds:
            for scale in scales:
                for arm in arms:
                    for seed in (seeds if ARMS[arm] is not None else [0]):
                        job = {"arm": arm, "label": arm, "kind": kind, "scale": scale,
                               "seed": seed, "n_test": n_test, "config": None}
                        if ARMS[arm] is not None:
                            p = plan[f"{arm}|{scale}"]
                            job.update(config=make_config(ARMS[arm], kind=kind, scale=scale,
                                                          seed=seed, steps=p["steps"]),
                                       seconds_per_step=p["seconds_per_step"],
                                       out=str(WORK / args.mode / f"{kind}_x{scale}_{arm}_s{seed}"))
                        jobs.append(job)
        # longest first keeps both workers busy to the end
        jobs.sort(key=lambda j: -(j["config"]["train"]["steps"] if j["config"] else 0))
        records = pool.map(run_job, jobs, chunksize=1)
    summary = summarize(records)
    order = {a: i for i, a in enumerate(ARMS)}
    summary.sort(key=lambda s: (s["kind"], s["scale"], order.get(s["label"], 99)))
    return {"records": records, "summary": summary, "verdicts": verdicts(summary),
            "calibration": plan, "budget_cpu_s_per_run": budget, "arms": {
                a: ARMS[a] for a in arms},
            "design": [
                f"2D phantoms {kinds}, 32 µm fields at 0.1 µm, ×{scales}, training seeds "
                f"{seeds}, {n_test} held-out test phantoms (seeds 20000..) per phantom kind",
                f"every trained arm: FSRCNN paper preset (geo arms wrap it), batch 16, "
                f"64² HR patches, Adam 2e-3 cosine, {budget:.0f} CPU s of optimisation steps "
                "(steps = budget / calibrated cost per step), 1 torch thread, last weights",
                f"geometry terms: τ = {TAU} (normalised units), threshold 0.5, weight 0 for "
                "20 % of the steps then a linear ramp over 30 %",
                "PSNR/SSIM: phantom intensity, data range 1, border crop = scale; network "
                "metrics: whole field, Otsu threshold of the truth for both",
                "mean ± sd over (training seeds × test images)"]}


def part_light(args: argparse.Namespace) -> dict[str, Any]:
    budget = args.budget or {"smoke": 4.0, "quick": 30.0, "full": 120.0}[args.mode]
    n_test = args.n_test or {"smoke": 1, "quick": 2, "full": 4}[args.mode]
    sizes = list(SIZES) if args.mode != "smoke" else ["fsrcnn_tiny", "fsrcnn"]
    geo_arm = ARMS[args.geo_arm]
    kind, scale = (args.phantoms or ["dentin"])[0], (args.scales or [4])[0]
    cfgs = {}
    for size in sizes:
        name, arguments = SIZES[size]
        for arm_name, arm in (("l1", ARMS["l1"]), (args.geo_arm, geo_arm)):
            model = {"name": name, "arguments": dict(arguments)}
            if arm.get("model"):
                model = copy.deepcopy(arm["model"])
                model["arguments"].update(base=name, base_arguments=json.dumps(arguments))
            cfgs[f"{size}|{arm_name}"] = make_config(arm, kind=kind, scale=scale, seed=0,
                                                     steps=100, model=model)
    with _pool(args.workers) as pool:
        plan = plan_steps(pool, cfgs, budget, args.min_steps)
        jobs = [{"arm": key.split("|")[1], "label": key.replace("|", " + "), "kind": kind,
                 "scale": scale, "seed": 0, "n_test": n_test,
                 "config": {**cfg, "train": {**cfg["train"], "steps": plan[key]["steps"],
                                             "checkpoint_every": plan[key]["steps"]},
                            "validation": {**cfg["validation"], "every": plan[key]["steps"]},
                            "loss": _resolve_ramp(
                                (geo_arm if key.endswith(args.geo_arm) else ARMS["l1"])["loss"],
                                plan[key]["steps"])},
                 "seconds_per_step": plan[key]["seconds_per_step"],
                 "out": str(WORK / f"light_{args.mode}" / key.replace("|", "_"))}
                for key, cfg in cfgs.items()]
        jobs.append({"arm": "bicubic", "label": "bicubic", "kind": kind, "scale": scale,
                     "seed": 0, "n_test": n_test, "config": None})
        records = pool.map(run_job, jobs, chunksize=1)
    summary = summarize(records)
    return {"records": records, "summary": summary, "calibration": plan,
            "budget_cpu_s_per_run": budget, "design": [
                f"{kind} ×{scale}, model sizes {sizes}, losses l1 and {args.geo_arm}, "
                f"{budget:.0f} CPU s of optimisation steps per run, 1 torch thread, seed 0, "
                f"{n_test} held-out test phantoms", "parameters: from the saved model.json"]}


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--part", choices=["main", "light", "real"], default="main")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_const", dest="mode", const="quick")
    g.add_argument("--smoke", action="store_const", dest="mode", const="smoke")
    p.set_defaults(mode="full")
    p.add_argument("--workers", type=int, default=2, help="parallel runs (1 thread each)")
    p.add_argument("--budget", type=float, help="CPU seconds of optimisation steps per run")
    p.add_argument("--min-steps", type=int, default=20)
    p.add_argument("--seeds", type=int, help="number of training seeds")
    p.add_argument("--n-test", type=int, help="held-out test phantoms per kind")
    p.add_argument("--phantoms", nargs="+", choices=["dentin", "lcn"])
    p.add_argument("--scales", nargs="+", type=int)
    p.add_argument("--arms", nargs="+", choices=list(ARMS),
                   help="arms of part main; of part real: the geometry arms beside l1")
    p.add_argument("--geo-arm", default="aux_head", choices=[a for a in ARMS if ARMS[a]],
                   help="the geometry recipe of parts light and real")
    p.add_argument("--results", type=Path, default=RESULTS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from _machine import describe

    args = _args(argv)
    t0 = time.perf_counter()
    if args.part == "main":
        result = part_main(args)
    elif args.part == "light":
        result = part_light(args)
    else:
        from _geometry_real import part_real

        result = part_real(args, ARMS, run_job_kwargs={"make_config": make_config})
    suffix = "" if args.part == "main" else f"_{args.part}"
    suffix += "" if args.mode == "full" else f"_{args.mode}"
    result.update(part=args.part, mode=args.mode, workers=args.workers,
                  wall_seconds=time.perf_counter() - t0,
                  command="python benchmarks/geometry_study.py " + " ".join(
                      argv if argv is not None else sys.argv[1:]),
                  machine=describe())
    result.setdefault("verdicts", verdicts(result["summary"]))
    stem = args.results / f"geometry_study{suffix}"
    _write(result, stem)
    print(stem.with_suffix(".md").read_text())
    return result


if __name__ == "__main__":
    main()
