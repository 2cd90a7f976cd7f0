"""Benchmark: the default light model trained on 2D dentin phantoms ×4 on 2 CPU threads within a
wall-clock budget, then judged on HELD-OUT phantom seeds against bicubic upsampling.

    .venv/bin/python benchmarks/train_phantom.py                  # 10-minute budget
    .venv/bin/python benchmarks/train_phantom.py --minutes 3      # quicker, weaker
    .venv/bin/python benchmarks/train_phantom.py --steps 2000     # exact rerun of a step count

What it does
------------
1. Training recipe: ``examples/train_dentin_x4.yaml`` (``--config``), i.e. the default light
   model (``model.name`` there and the ``TrainConfig`` default: FSRCNN, "paper" preset
   d=56, s=12, m=4, ~13 k parameters) on 2D dentin phantoms (51.2 µm fields, 0.1 µm HR pixels,
   512×512 HR / 128×128 LR) degraded on the fly (confocal PSF 520 nm / NA 1.4, Poisson noise
   50–500 photo-electrons per unit intensity (log-uniform), Gaussian read noise 0–0.02).
   Training seeds 0..5, validation (model selection, early stopping) seeds 10000, 10001.
2. Budget: without ``--steps`` a short calibration run (``geosr.train.train`` with a few
   steps) measures seconds per step, the validation cost and the set-up cost, and the real run
   gets as many steps as fit in what is left of ``--minutes`` (15 % safety margin); the
   calibration counts against the budget. With ``--steps`` that exact number of steps is
   planned (no calibration). Either way a wall-clock alarm enforces the budget: if training
   would overrun (the machine got busy, say), it is stopped, the best-validation weights of
   the newest checkpoint (every <= 100 steps) are saved with ``geosr.models.save_model`` and
   evaluated, and the results record ``budget_stop``. ``--wait-idle`` first waits for other
   processes to leave the CPUs; the cores they used meanwhile are recorded either way.
3. Test: ``--n-test`` phantoms with seeds ``--test-seed0``, ``--test-seed0 + 1``, ... (default
   20000..20007: never trained on, and not the validation seeds used for model selection),
   each degraded once with parameters drawn from the SAME ranges as training (seeded per test
   image), super-resolved with ``geosr.predict.predict`` (untiled: each 128×128 LR image fits
   in memory) and with bicubic (``geosr.resample.upscale``, MATLAB imresize, a = −0.5).
4. Metrics (``geosr.assess.psnr`` / ``ssim``, conventions recorded in the JSON):

   - **primary, "phantom intensity"**: prediction and bicubic in the units ``predict`` returns
     (the LR image's units; the degradation keeps the phantom's intensity scale, matrix 0.15,
     pores 0.85) against the noise-free HR phantom, ``data_range = 1.0`` = the nominal full
     scale [0, 1] of the phantom intensities, no fit, border crop = scale (4 HR pixels), region
     = the whole field of view minus that border. This is what a user gets from ``predict``.
   - secondary, "affine fit": the same with ``fit="affine"`` (least-squares gain and offset of
     each prediction to the truth; CSBDeep's scale-invariant convention), telling structure
     from intensity calibration.
   - secondary, "percentile-normalised": the training/validation convention (prediction and
     bicubic in the LR image's normalised units, i.e. the model's raw output and bicubic of the
     normalised LR; the truth normalised by the config's ``normalization.target`` rule: with
     the LR image's lo/hi for ``input``, the example's setting, or by its own 1/99.8
     percentiles for ``own``), data range 1, crop 4.

   Per image, mean ± sample sd (ddof = 1) and the standard error of the mean difference.
   Target (issue #3): mean PSNR gain ≥ 2 dB over bicubic.

Outputs ``benchmarks/results/train_phantom.{json,md}`` (``--results``) and prints both. The
training run stays under ``runs/benchmarks/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import _machine  # noqa: E402

DEFAULT_CONFIG = ROOT / "examples" / "train_dentin_x4.yaml"


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                   help="training config (default: examples/train_dentin_x4.yaml)")
    p.add_argument("--minutes", type=float, default=10.0,
                   help="wall-clock budget for training, calibration included (default 10)")
    p.add_argument("--steps", type=int, default=None,
                   help="train exactly this many steps (no calibration; default: as many as "
                        "fit in --minutes)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--n-test", type=int, default=8, help="held-out test phantoms (default 8)")
    p.add_argument("--test-seed0", type=int, default=20000,
                   help="first held-out test seed (default 20000)")
    p.add_argument("--calibration-steps", type=int, default=40)
    p.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                   help="first wait up to this long for other processes to leave the CPUs "
                        "(default 0: start at once)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="config override as a dotted path and a YAML value, e.g. "
                        "--set normalization.target=input (repeatable)")
    p.add_argument("--out", type=Path, default=None,
                   help="training run folder (default runs/benchmarks/train_phantom-<time>)")
    p.add_argument("--results", type=Path, default=HERE / "results",
                   help="where train_phantom.json/.md go (default benchmarks/results)")
    return p.parse_args(argv)


def _read_log(path: Path) -> list[dict[str, float]]:
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            rows.append({k: float(v) for k, v in row.items() if v not in ("", None)})
    return rows


def _calibrate(config: Path, steps: int, threads: int, workdir: Path,
               overrides: dict[str, Any]) -> dict[str, float]:
    """A short run through the real front door: seconds per step, per validation, set-up."""
    from geosr.train import train

    out = workdir / "calibration"
    t0 = time.perf_counter()
    train(config, out=out, steps=steps, threads=threads, progress=False, patience=None,
          **{**overrides, "validation.every": steps, "logging.every": 5,
             "train.checkpoint_every": steps})
    wall = time.perf_counter() - t0
    rows = _read_log(out / "log.csv")
    val0 = rows[0]["seconds"]                     # validation + bicubic baseline at step 0
    # rows without a validation (the last one validates), after the first (warm-up) row
    plain = [r for r in rows[1:-1] if "val_psnr_norm_db" not in r]
    first, last = plain[0], plain[-1]
    per_step = max((last["seconds"] - first["seconds"]) / max(last["step"] - first["step"], 1),
                   1e-3)
    setup = wall - rows[-1]["seconds"]
    return {"steps": steps, "wall_s": wall, "seconds_per_step": per_step,
            "validation_s": val0, "setup_s": setup}


class _BudgetStop(Exception):
    """Raised by the wall-clock alarm when the training budget is spent."""


def _train_until(deadline_s: float, config: Path, out: Path, **kwargs: Any
                 ) -> tuple[Path | None, bool]:
    """``geosr.train.train(config, out=out, **kwargs)`` under a hard wall-clock limit
    (SIGALRM). Returns (model folder or None, whether the budget stopped it)."""
    import signal

    from geosr.train import train

    def alarm(signum: int, frame: Any) -> None:
        raise _BudgetStop()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, max(deadline_s, 1.0))
    try:
        return Path(train(config, out=out, **kwargs)), False
    except _BudgetStop:
        return None, True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _model_from_checkpoint(out: Path, cfg: Any) -> tuple[Path, dict[str, Any]]:
    """When the budget stopped training: the best-validation weights of the newest
    checkpoint (or its current weights if no validation ran), saved as a model folder with
    the public ``geosr.models.save_model``."""
    from geosr.data.normalize import PercentileNormalizer
    from geosr.models import build_model, save_model
    from geosr.train import latest_checkpoint, load_checkpoint

    checkpoint = latest_checkpoint(out / "checkpoints")
    if checkpoint is None:
        raise SystemExit(f"the budget ran out before the first checkpoint in {out}; give more "
                         "--minutes or fewer --steps")
    tensors, info = load_checkpoint(checkpoint)
    best = {k[len("best."):]: v for k, v in tensors.items() if k.startswith("best.")}
    weights = best or {k[len("model."):]: v for k, v in tensors.items()
                       if k.startswith("model.")}
    import torch

    torch.manual_seed(cfg.seed)
    module = build_model(cfg.model.name, dims=cfg.data.dims, scale=cfg.scale,
                         **cfg.model.arguments)
    module.load_state_dict(weights)
    record = {"checkpoint": str(checkpoint), "checkpoint_step": int(info["step"]),
              "weights": "best" if best else "last",
              "best_step": (info.get("best") or {}).get("step"),
              "best_val_psnr": (info.get("best") or {}).get("psnr"),
              "bicubic_val_psnr": (info.get("baseline") or {}).get("psnr")}
    path = save_model(out / "model-budget-stop", module, {
        "normalization": PercentileNormalizer(cfg.normalization.p_low,
                                              cfg.normalization.p_high).to_dict(),
        "seed": cfg.seed, "config": cfg.to_dict(), "budget_stop": record})
    return Path(path), record


def _fit_steps(budget_s: float, cal: dict[str, float], val_every: int) -> int:
    """Largest step count whose predicted wall time fits 85 % of ``budget_s``."""
    usable = 0.85 * budget_s - cal["setup_s"] - cal["validation_s"]
    per = cal["seconds_per_step"] + cal["validation_s"] / val_every
    return max(int(usable / per), 1)


def _stats(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, float)
    sd = float(a.std(ddof=1)) if len(a) > 1 else float("nan")
    return {"mean": float(a.mean()), "sd": sd, "sem": sd / math.sqrt(len(a)) if len(a) > 1
            else float("nan"), "min": float(a.min()), "max": float(a.max()), "n": int(len(a))}


def _evaluate(model_dir: Path, cfg: Any, seeds: list[int], threads: int) -> dict[str, Any]:
    import torch

    from geosr.assess import psnr, ssim
    from geosr.data.ranges import draw
    from geosr.degrade import degrade
    from geosr.phantoms import phantom
    from geosr.predict import predict
    from geosr.resample import upscale

    torch.set_num_threads(threads)
    data, scale = cfg.data, cfg.scale
    spec = data.degradation.spec()
    size = tuple(data.size_um) if isinstance(data.size_um, list) else data.size_um
    spacing = tuple(data.spacing_um) if isinstance(data.spacing_um, list) else data.spacing_um
    p_low, p_high = cfg.normalization.p_low, cfg.normalization.p_high
    conventions: dict[str, Any] = {}
    rows = []
    predict_s = 0.0
    for seed in seeds:
        ph = phantom(data.kind, dims=data.dims, size_um=size, spacing_um=spacing, seed=seed,
                     bright=data.bright, **data.params)
        hr = ph.image.numpy().astype(np.float64)
        gen = np.random.default_rng([seed, 7])      # test draws: own stream, seeded by seed
        params = draw(spec, gen)
        noise_seed = int(gen.integers(2**31 - 1))
        lr = degrade(ph.image, scale=scale, seed=noise_seed, **params)
        bic = np.asarray(upscale(lr.numpy().astype(np.float64), scale, method="bicubic"))
        t0 = time.perf_counter()
        sr_img = predict(lr, model_dir, device="cpu")
        predict_s += time.perf_counter() - t0
        sr = sr_img.numpy().astype(np.float64)
        norm = sr_img.metadata["prediction"]["normalization"]
        lo, hi, eps = norm["lo"], norm["hi"], norm.get("eps", 1e-6)
        if cfg.normalization.target == "own":       # HR by its own percentiles (CSBDeep)
            h_lo, h_hi = np.percentile(hr, [p_low, p_high])
        else:                                        # "input": HR by the LR image's lo/hi
            h_lo, h_hi = lo, hi
        truth_n = (hr - h_lo) / (h_hi - h_lo + eps)
        views = {
            "phantom_intensity": (hr, bic, sr, {}),
            "affine_fit": (hr, bic, sr, {"fit": "affine"}),
            "percentile_normalised": (truth_n, (bic - lo) / (hi - lo + eps),
                                      (sr - lo) / (hi - lo + eps), {}),
        }
        row: dict[str, Any] = {"seed": seed, "degradation": {
            k: v for k, v in params.items() if k in ("photons", "read_noise")},
            "lr_shape": list(lr.shape), "hr_shape": list(hr.shape)}
        for name, (truth, b, s, extra) in views.items():
            kw = dict(data_range=1.0, crop=scale, **extra)
            pb, ps = psnr(b, truth, **kw), psnr(s, truth, **kw)
            sb, ss = ssim(b, truth, **kw), ssim(s, truth, **kw)
            row[name] = {"psnr_bicubic": pb.value, "psnr_model": ps.value,
                         "ssim_bicubic": sb.value, "ssim_model": ss.value}
            conventions.setdefault(name, {"psnr": pb.convention.as_dict(),
                                          "ssim": sb.convention.as_dict()})
        rows.append(row)
    summary = {}
    for name in conventions:
        get = lambda key: [r[name][key] for r in rows]  # noqa: E731
        summary[name] = {
            "psnr_bicubic": _stats(get("psnr_bicubic")), "psnr_model": _stats(get("psnr_model")),
            "psnr_gain": _stats([m - b for m, b in zip(get("psnr_model"), get("psnr_bicubic"))]),
            "ssim_bicubic": _stats(get("ssim_bicubic")), "ssim_model": _stats(get("ssim_model")),
            "ssim_gain": _stats([m - b for m, b in zip(get("ssim_model"), get("ssim_bicubic"))]),
        }
    return {"per_image": rows, "summary": summary, "conventions": conventions,
            "predict_seconds_total": predict_s}


def _cores(cpu: dict[str, Any] | None) -> str:
    value = (cpu or {}).get("others_cores")
    return "n/a" if value is None else f"{value:.2f}"


def _pm(s: dict[str, float], digits: int) -> str:
    return f"{s['mean']:.{digits}f} ± {s['sd']:.{digits}f}"


def _markdown(result: dict[str, Any]) -> str:
    tr, ev = result["training"], result["evaluation"]
    prim = ev["summary"]["phantom_intensity"]
    gain = prim["psnr_gain"]
    lines = [
        "### train_phantom — FSRCNN-class default model vs bicubic, dentin 2D ×4, held-out seeds"
        if tr["architecture"] == "fsrcnn" else
        f"### train_phantom — {tr['architecture']} vs bicubic, held-out seeds",
        "",
        f"Command: `{result['command']}`",
        "",
        f"- Model: `{tr['architecture']}` {tr['arguments'] or '(preset defaults)'}, "
        f"{tr['parameters']:,} parameters; config `{tr['config']}`"
        + (f" with overrides `{tr['overrides']}`" if tr.get("overrides") else ""),
        f"- Training: {tr['steps_done']} steps (batch {tr['batch_size']}, "
        f"{tr['threads']} threads) in {tr['train_wall_s']:.0f} s wall "
        f"(+ {tr['calibration']['wall_s']:.0f} s calibration)"
        if tr.get("calibration") else
        f"- Training: {tr['steps_done']} steps (batch {tr['batch_size']}, {tr['threads']} threads)"
        f" in {tr['train_wall_s']:.0f} s wall (steps given, no calibration)",
        f"  = {tr['total_wall_s'] / 60:.1f} min of a {tr['budget_min']:g}-min budget; "
        f"{tr['seconds_per_step']:.3f} s/step; "
        + (f"**stopped by the budget** (hard wall-clock limit) after checkpoint step "
           f"{tr['budget_stop']['checkpoint_step']} of {tr['steps_requested']} planned; "
           if tr.get("budget_stop") else "")
        + ("early stopping (validation.patience) ended it at step "
           f"{tr['steps_done']}; " if tr["stopped_early"] and tr["steps_done"]
           < tr["steps_requested"] else f"ran all {tr['steps_done']} steps; ")
        + "kept the "
        f"best-validation step {tr['best_step']} (validation seeds {tr['val_seeds']}, "
        f"validation PSNR on the training convention {tr['val_psnr_best']:.2f} dB vs bicubic "
        f"{tr['val_psnr_bicubic']:.2f} dB)",
        f"- Test: {len(ev['per_image'])} held-out phantoms, seeds {ev['per_image'][0]['seed']}–"
        f"{ev['per_image'][-1]['seed']} (disjoint from training seeds {tr['train_seeds']} and "
        f"validation seeds), LR {ev['per_image'][0]['lr_shape']} → HR "
        f"{ev['per_image'][0]['hr_shape']}, degradation drawn from the training ranges",
        "- Primary convention (\"phantom intensity\"): prediction in the units `predict` returns "
        "vs the noise-free HR phantom, data range 1.0 (nominal [0, 1] phantom intensity scale; "
        "matrix 0.15, pores 0.85), no fit, 4-pixel (= scale) border crop, whole field of view "
        "otherwise; SSIM Gaussian 11×11, σ 1.5",
        f"- Load average (1/5/15 min): before {result['load_before']}, after "
        f"{result['load_after']} on {result['machine']['logical_cpus']} CPUs; other "
        f"processes kept {_cores(result['cpu_training'])} cores busy on average during "
        f"training and {_cores(result['cpu_evaluation'])} during the test (from /proc/stat "
        "minus this process)",
        "",
        "| seed | photons | read noise | PSNR bicubic (dB) | PSNR model (dB) | Δ (dB) "
        "| SSIM bicubic | SSIM model |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in ev["per_image"]:
        p = r["phantom_intensity"]
        lines.append(
            f"| {r['seed']} | {r['degradation'].get('photons', float('nan')):.0f} | "
            f"{r['degradation'].get('read_noise', float('nan')):.4f} | {p['psnr_bicubic']:.2f} | "
            f"{p['psnr_model']:.2f} | {p['psnr_model'] - p['psnr_bicubic']:+.2f} | "
            f"{p['ssim_bicubic']:.4f} | {p['ssim_model']:.4f} |")
    lines.append(
        f"| **mean ± sd** | | | **{_pm(prim['psnr_bicubic'], 2)}** | "
        f"**{_pm(prim['psnr_model'], 2)}** | **{gain['mean']:+.2f} ± {gain['sd']:.2f}** | "
        f"**{_pm(prim['ssim_bicubic'], 4)}** | **{_pm(prim['ssim_model'], 4)}** |")
    lines += [
        "",
        f"PSNR gain over bicubic: {gain['mean']:+.2f} dB (sd {gain['sd']:.2f}, standard error "
        f"{gain['sem']:.2f}, min {gain['min']:+.2f}, max {gain['max']:+.2f}); target ≥ 2 dB: "
        f"**{'met' if gain['mean'] >= 2 else 'not met'}**.",
        "",
        "Secondary conventions (mean ± sd over the same images, data range 1, crop 4):",
        "",
        "| convention | PSNR bicubic | PSNR model | Δ PSNR | SSIM bicubic | SSIM model |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    rule = ("HR by the LR image's percentiles" if result["training"].get("normalization_target")
            == "input" else "HR by its own percentiles")
    labels = {"phantom_intensity": "phantom intensity (primary)",
              "affine_fit": "affine fit of each prediction to the truth",
              "percentile_normalised": f"percentile-normalised, {rule} (training convention)"}
    for name, s in ev["summary"].items():
        lines.append(f"| {labels.get(name, name)} | {_pm(s['psnr_bicubic'], 2)} | "
                     f"{_pm(s['psnr_model'], 2)} | {s['psnr_gain']['mean']:+.2f} ± "
                     f"{s['psnr_gain']['sd']:.2f} | {_pm(s['ssim_bicubic'], 4)} | "
                     f"{_pm(s['ssim_model'], 4)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = _args(argv)
    import torch

    torch.set_num_threads(args.threads)
    from geosr.core.files import write_json
    from geosr.models import model_summary
    from geosr.train import load_config

    import yaml

    from geosr.train import config_from_any

    overrides: dict[str, Any] = {}
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set {item!r}: expected KEY=VALUE")
        overrides[key.strip()] = yaml.safe_load(value)
    idle = _machine.wait_for_idle(args.wait_idle) if args.wait_idle > 0 else None
    load_before = _machine.load_average()
    machine = _machine.describe()
    cfg = config_from_any(args.config, **overrides) if overrides else load_config(args.config)
    if cfg.data.source != "phantom":
        raise SystemExit(f"{args.config}: this benchmark needs a phantom data source")
    train_seeds, val_seeds = cfg.data.seeds()
    test_seeds = list(range(args.test_seed0, args.test_seed0 + args.n_test))
    overlap = set(test_seeds) & (set(train_seeds) | set(val_seeds))
    if overlap:
        raise SystemExit(f"test seeds {sorted(overlap)} overlap training/validation seeds")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or ROOT / "runs" / "benchmarks" / f"train_phantom-{stamp}"
    budget_s = args.minutes * 60.0

    monitor = _machine.CpuMonitor()
    t_start = time.perf_counter()
    calibration = None
    steps = args.steps
    if steps is None:
        with tempfile.TemporaryDirectory(prefix="geosr-bench-") as tmp:
            calibration = _calibrate(args.config, args.calibration_steps, args.threads,
                                     Path(tmp), overrides)
        remaining = budget_s - (time.perf_counter() - t_start)
        steps = _fit_steps(remaining, calibration, cfg.validation.every)
        print(f"calibration: {calibration['seconds_per_step']:.3f} s/step, validation "
              f"{calibration['validation_s']:.1f} s, set-up {calibration['setup_s']:.1f} s -> "
              f"{steps} steps in the remaining {remaining:.0f} s", flush=True)
    t0 = time.perf_counter()
    remaining = budget_s - (t0 - t_start)
    model_dir, stopped = _train_until(remaining, args.config, out, steps=steps,
                                      threads=args.threads, progress=False, **{
                                          **overrides, "train.checkpoint_every": min(
                                              cfg.train.checkpoint_every, 100)})
    train_wall = time.perf_counter() - t0
    total_wall = time.perf_counter() - t_start
    cpu_training = monitor.stop()
    budget_stop = None
    if stopped:
        model_dir, budget_stop = _model_from_checkpoint(out, cfg)
        print(f"the {args.minutes:g}-minute budget stopped training; evaluating the "
              f"{budget_stop['weights']} weights of checkpoint step "
              f"{budget_stop['checkpoint_step']}", flush=True)
        run_summary = {"steps_done": budget_stop["checkpoint_step"], "stopped_early": False,
                       "best_step": budget_stop["best_step"],
                       "val_psnr_norm_db": {"best": budget_stop["best_val_psnr"],
                                            "bicubic": budget_stop["bicubic_val_psnr"]},
                       "convention": "see geosr.train.validate.CONVENTION"}
    else:
        run_summary = json.loads((out / "summary.json").read_text())
    spec = json.loads((Path(model_dir) / "model.json").read_text())
    log = _read_log(out / "log.csv")
    # seconds per step from the log (training clock: validation and checkpoints included,
    # data set-up excluded), from the step-0 row to the last row
    timed = [r for r in log if "seconds" in r]
    per_step = ((timed[-1]["seconds"] - timed[0]["seconds"])
                / max(timed[-1]["step"] - timed[0]["step"], 1))
    params = model_summary(cfg.model.name, dims=cfg.data.dims, scale=cfg.scale,
                           **cfg.model.arguments)["parameters"]
    training = {
        "config": str(args.config.resolve().relative_to(ROOT)) if args.config.resolve()
        .is_relative_to(ROOT) else str(args.config),
        "overrides": overrides,
        "normalization_target": cfg.normalization.target,
        "architecture": cfg.model.name, "arguments": spec.get("arguments", {}),
        "parameters": params, "scale": cfg.scale, "dims": cfg.data.dims,
        "steps_requested": steps, "steps_done": run_summary["steps_done"],
        "stopped_early": run_summary["stopped_early"], "best_step": run_summary["best_step"],
        "budget_stop": budget_stop,
        "checkpoint_every": min(cfg.train.checkpoint_every, 100),
        "batch_size": cfg.train.batch_size, "threads": args.threads,
        "train_wall_s": train_wall, "total_wall_s": total_wall, "budget_min": args.minutes,
        "within_budget": total_wall <= budget_s,
        "seconds_per_step": per_step,
        "seconds_per_step_note": "from log.csv, includes validation and checkpoint writing",
        "calibration": calibration,
        "train_seeds": train_seeds, "val_seeds": val_seeds,
        "val_psnr_best": run_summary["val_psnr_norm_db"]["best"],
        "val_psnr_bicubic": run_summary["val_psnr_norm_db"]["bicubic"],
        "val_convention": run_summary["convention"],
        "run_folder": str(out), "model_folder": str(model_dir),
    }
    print(f"trained {training['steps_done']} steps in {train_wall:.0f} s "
          f"(total {total_wall:.0f} s); evaluating on held-out seeds {test_seeds}", flush=True)
    monitor = _machine.CpuMonitor()
    evaluation = _evaluate(Path(model_dir), cfg, test_seeds, args.threads)
    cpu_evaluation = monitor.stop()
    load_after = _machine.load_average()
    command = ".venv/bin/python benchmarks/train_phantom.py" + (
        " " + " ".join(argv if argv is not None else sys.argv[1:])
        if (argv if argv is not None else sys.argv[1:]) else "")
    result = {"benchmark": "train_phantom", "command": command, "machine": machine,
              "load_before": load_before, "load_after": load_after, "wait_idle": idle,
              "cpu_training": cpu_training, "cpu_evaluation": cpu_evaluation,
              "training": training, "evaluation": evaluation,
              "target": {"psnr_gain_db": 2.0,
                         "met": evaluation["summary"]["phantom_intensity"]["psnr_gain"]["mean"]
                         >= 2.0}}
    md = _markdown(result)
    args.results.mkdir(parents=True, exist_ok=True)
    write_json(args.results / "train_phantom.json", result)
    (args.results / "train_phantom.md").write_text(md, encoding="utf-8")
    print(json.dumps(result, indent=2, default=str))
    print(md)
    return result


if __name__ == "__main__":
    main()
