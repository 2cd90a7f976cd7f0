"""Shared machinery of the equal-CPU-budget studies (``geometry_study.py``,
``model_families.py``): per-step cost calibration, held-out phantoms, one training run measured
on them, and mean ± sd statistics.

Fairness: every arm runs with one torch thread and gets the same CPU seconds of optimisation
steps — its cost per step is measured with ``time.process_time`` on real steps of its own
trainer (discriminators included), then ``steps = budget / cost``, so every arm also completes
its learning-rate schedule. ``process_time`` counts this process's CPU only, so other jobs on
the machine change the wall time, not the budget.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

#: First seed of the held-out test phantoms (never a training/validation seed).
TEST_START = 20000


def init_worker() -> None:
    """Pool initializer: one torch thread per worker process."""
    import torch

    torch.set_num_threads(1)


def cpu_per_step(cfg_dict: dict[str, Any], n: int = 6) -> dict[str, float]:
    """Median CPU seconds of one optimisation step of a training config, with its own trainer
    class and every loss term active (past any warm-up)."""
    import torch

    from geosr.train.config import parse_config
    from geosr.train.loop import trainer_class

    torch.set_num_threads(1)
    cfg = parse_config(cfg_dict)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = trainer_class(cfg.algorithm)(cfg, show_progress=False)
        trainer.out = Path(tmp)
        trainer._build()
        trainer.step = max(cfg.train.steps - 1, 0)    # every warm-up finished
        costs = []
        for i in range(n + 2):
            x, y, _ = trainer.sampler.sample(cfg.train.batch_size)
            x, y = torch.from_numpy(x), torch.from_numpy(y)
            t0 = time.process_time()
            trainer._train_step(x, y, cfg.train.lr)
            if i >= 2:              # the first steps pay one-off kernel set-up
                costs.append(time.process_time() - t0)
    return {"seconds_per_step": float(np.median(costs))}


def held_out_phantoms(kind: str, scale: int, n: int, degradation: dict[str, Any], *,
                      size_um: float, spacing_um: float) -> list[dict[str, Any]]:
    """Phantoms ``TEST_START..`` with their LR versions (one seeded draw of ``degradation``,
    the training config's ranges)."""
    from geosr.data.ranges import draw
    from geosr.data.specs import DegradationRanges
    from geosr.degrade import degrade
    from geosr.phantoms import phantom

    spec = DegradationRanges.model_validate(
        {k: v for k, v in degradation.items() if k != "variants"}).spec()
    out = []
    for seed in range(TEST_START, TEST_START + n):
        ph = phantom(kind, dims=2, size_um=size_um, spacing_um=spacing_um, seed=seed)
        gen = np.random.default_rng([seed, 7])
        params = draw(spec, gen)
        lr = degrade(ph.image, scale=scale, seed=int(gen.integers(2 ** 31 - 1)), **params)
        out.append({"seed": seed, "hr": ph.image.numpy().astype(np.float64), "lr": lr})
    return out


def measure(sr: np.ndarray, hr: np.ndarray, scale: int, spacing_um: float) -> dict[str, float]:
    """PSNR/SSIM (phantom intensity, data range 1, border crop = scale) and network metrics
    (whole field, both segmented by the Otsu threshold of the truth)."""
    from geosr.assess import psnr, ssim
    from geosr.assess.network import assess_network

    row = {"psnr": psnr(sr, hr, data_range=1.0, crop=scale).value,
           "ssim": ssim(sr, hr, data_range=1.0, crop=scale).value}
    v = assess_network(sr.astype(np.float32), hr.astype(np.float32), spacing=spacing_um,
                       metrics=["porosity", "components", "topology", "cldice", "skeleton",
                                "thickness"]).value
    row["object_F1"] = v("object_F1")
    row["betti_error"] = v("betti_error_0") + v("betti_error_1")
    row["clDice"] = v("clDice")
    row["length_density_error"] = abs(v("length_density", "relative_error"))
    row["thickness_error"] = abs(v("thickness_mean", "relative_error"))
    row["porosity_error"] = abs(v("porosity", "relative_error"))
    return row


def run_job(job: dict[str, Any], images: list[dict[str, Any]], spacing_um: float
            ) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Train one arm (``job["config"]``; None: bicubic) into ``job["out"]``, predict the
    held-out ``images`` and measure them. Returns the record and the predictions."""
    import torch

    torch.set_num_threads(1)
    from geosr import train
    from geosr.predict import predict
    from geosr.resample import upscale

    t_cpu = time.process_time()
    record: dict[str, Any] = {}
    train_cpu = 0.0
    if job["config"] is None:
        preds = [np.asarray(upscale(im["lr"].numpy().astype(np.float64), job["scale"],
                                    method="bicubic")) for im in images]
    else:
        out = Path(job["out"])
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.process_time()
        model_dir = train(job["config"], out=out, show_progress=False)
        train_cpu = time.process_time() - t0
        preds = [predict(im["lr"], model_dir, device="cpu").numpy().astype(np.float64)
                 for im in images]
        spec = json.loads((Path(model_dir) / "model.json").read_text())
        record["parameters"] = spec.get("summary", {}).get("parameters")
        record["steps"] = job["config"]["train"]["steps"]
        record["seconds_per_step"] = job.get("seconds_per_step")
    t_eval = time.process_time()
    record["per_image"] = [{"seed": im["seed"], **measure(p, im["hr"], job["scale"],
                                                          spacing_um)}
                           for p, im in zip(preds, images)]
    record["cpu_seconds"] = {"train": train_cpu, "eval": time.process_time() - t_eval,
                             "total": time.process_time() - t_cpu}
    return record, preds


def stats(values: list[Any]) -> dict[str, float]:
    """Mean, sample sd and count of the finite values."""
    a = np.asarray([v for v in values if v is not None and math.isfinite(v)], float)
    if a.size == 0:
        return {"mean": float("nan"), "sd": float("nan"), "n": 0}
    return {"mean": float(a.mean()), "sd": float(a.std(ddof=1)) if a.size > 1 else 0.0,
            "n": int(a.size)}


def summarize(records: list[dict[str, Any]], group_keys: tuple[str, ...],
              metrics: tuple[str, ...]) -> list[dict[str, Any]]:
    """One entry per group: mean ± sd of each metric over (runs × test images), and of the
    training CPU seconds and steps over runs."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(tuple(r[k] for k in group_keys), []).append(r)
    out = []
    for key, recs in groups.items():
        rows = [row for r in recs for row in r["per_image"]]
        entry: dict[str, Any] = dict(zip(group_keys, key))
        for m in ("psnr", "ssim") + tuple(metrics):
            entry[m] = stats([row[m] for row in rows])
        entry["cpu_train_s"] = stats([r["cpu_seconds"]["train"] for r in recs])
        entry["steps"] = stats([r.get("steps") or 0 for r in recs])
        entry["parameters"] = recs[0].get("parameters")
        entry["runs"] = len(recs)
        out.append(entry)
    return out


def pm(s: dict[str, float], digits: int) -> str:
    """``mean ± sd`` with ``digits`` decimals, ``–`` when there is no value."""
    if not s or s.get("n", 0) == 0 or not math.isfinite(s["mean"]):
        return "–"
    return f"{s['mean']:.{digits}f} ± {s['sd']:.{digits}f}"


def plan_steps(pool: Any, configs: dict[str, dict[str, Any]], budget: float, min_steps: int,
               calibrate: Callable[[dict[str, Any]], dict[str, float]] = cpu_per_step
               ) -> dict[str, dict[str, float]]:
    """``{name: {"seconds_per_step", "steps"}}`` with ``steps = budget / cost`` (at least
    ``min_steps``), the calibrations run in ``pool``."""
    names = list(configs)
    costs = pool.map(calibrate, [configs[n] for n in names])
    return {n: {"seconds_per_step": c["seconds_per_step"],
                "steps": max(min_steps, int(budget / c["seconds_per_step"]))}
            for n, c in zip(names, costs)}


def save_figure(fig: Any, path: Path, root: Path) -> str:
    """Save and close a matplotlib figure; its path relative to ``root`` when inside it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
