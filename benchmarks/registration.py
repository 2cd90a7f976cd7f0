"""Registration of experimental pairs (issue 12): recovery of known misalignments and forward
models, and what registration is worth for training.

Part ``recovery``: real HR images (Tribolium light-sheet slices and sub-volumes, LHDL bone
micro-CT slices, ``../shared/data``) are "acquired" again at low resolution with a known forward
model (Gaussian PSF, area binning, gamma + gain + offset intensity change, Poisson–Gaussian
noise at another level than the HR) and a random misalignment (shift up to ±6 LR px, rotation up
to ±1.5°; 3D: shift in z, y, x up to ±3 LR px), then registered with
:func:`geosr.pairs.register_pair`; the forward model is re-estimated from the pairs
(:func:`geosr.pairs.estimate_forward_model`). Errors against the truth are reported.

Part ``training``: 30 Tribolium slices acquired with a misalignment are used to train the default
model three ways at the same number of steps (one torch thread): (a) on the misaligned raw
pairs, (b) on the pairs registered by ``register_folders``, (c) on perfectly aligned pairs
(same forward model and noise, no misalignment). All are tested on 9 held-out slices acquired
without misalignment: PSNR/SSIM of the prediction against the HR slice, both on the HR
slice's scale (HR normalised by its 0.2/99.8 percentiles; the prediction mapped to it by a
least-squares gain and offset, since the instruments' units differ), border crop = scale, and
nucleus metrics (Otsu segmentation of the truth, same threshold on the prediction).

    python benchmarks/registration.py                    # both parts (~25 min, 2 busy cores)
    python benchmarks/registration.py --part recovery --quick

Writes ``benchmarks/results/registration/registration.json`` and ``registration.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

TRIBOLIUM = "fluorescence/tribolium_lund_3d/Lund_000500_resampled-cropped.tif"
LHDL = "bone/lhdl_trabecular_microct/3155_D_4_bc_200cube_uint8.tif"
#: the "instrument": PSF FWHM (HR px), gain a, gamma, offset b, photons per LR unit, read noise
#: (the gamma map is a · (M / m_ref)^gamma with m_ref the HR's 99.5th percentile, so a is the
#: LR level of the brightest HR structures)
FORWARD = dict(fwhm_px=5.0, a=160.0, gamma=0.85, b=10.0, photons=1.0, read_noise=3.0)


def _data_dir() -> Path:
    import os

    return Path(os.environ.get("GEOSR_DATA", ROOT.parent / "shared" / "data"))


def _volume(name: str, subtract: float) -> np.ndarray:
    from geosr.io import load

    vol = np.asarray(load(_data_dir() / name).numpy(), dtype=np.float64)
    return np.clip(vol - subtract, 0.0, None)


def _stats(values) -> dict[str, float]:
    v = np.abs(np.asarray(values, dtype=np.float64))
    return {"median": float(np.median(v)), "p95": float(np.percentile(v, 95)),
            "max": float(v.max()), "n": int(v.size)}


def _z_stats(errors, ses) -> dict[str, float] | None:
    """Errors in units of the fit's own standard errors: sd ~1, |mean| small and a largest
    |z| near 2.5 (for 50) when the errors are the noise the fit reports."""
    e, se = np.asarray(errors, np.float64), np.asarray(ses, np.float64)
    if not np.isfinite(se).all() or not (se > 0).all():
        return None
    z = e / se
    return {"sd": float(z.std(ddof=1)), "mean": float(z.mean()), "max_abs": float(np.abs(z).max()),
            "se_median_deg": float(np.median(se)), "se_max_deg": float(se.max()),
            "n_se_above_0.1_deg": int((se > 0.1).sum()), "n": int(z.size)}


def _recover_set(images, scale, spacing_um, transform, rng, max_shift, max_rot, fwhm_px,
                 photons):
    from geosr.core import Image
    from geosr.pairs import estimate_forward_model, random_transform, register_pair
    from geosr.pairs.simulate import simulate_acquisition

    shift_err, rot_err, rot_se, fwhm, summaries, seconds = [], [], [], [], [], []
    dims = images[0].ndim
    for k, hr_v in enumerate(images):
        hr = Image(hr_v, "YX" if dims == 2 else "ZYX", spacing=(spacing_um,) * dims)
        t = random_transform(rng, dims, max_shift, max_rot)
        f = {**FORWARD, "fwhm_px": fwhm_px, "photons": photons}
        lr = simulate_acquisition(hr, scale, t, seed=int(rng.integers(1 << 30)), **f)
        t0 = time.process_time()
        reg = register_pair(lr, hr, scale, transform=transform, intensity="gamma")
        seconds.append(time.process_time() - t0)
        shift_err.append(float(np.abs(np.subtract(reg.transform.shift, t.shift)).max()))
        rot_err.append(reg.transform.rotation_deg - t.rotation_deg)
        rot_se.append(reg.standard_errors.get("rotation_deg", float("nan")))
        fwhm.append(reg.fwhm_um)
        summaries.append(reg.summary())
    est = estimate_forward_model(summaries)["estimate"]
    truth_fwhm = np.broadcast_to(np.asarray(fwhm_px, dtype=np.float64) * spacing_um, (dims,))
    return {
        "pairs": len(images), "scale": scale, "transform": transform,
        "shift_error_lr_px": _stats(shift_err), "rotation_error_deg": _stats(rot_err),
        "rotation_z": _z_stats(rot_err, rot_se),
        "per_pair": [{"shift_error_lr_px": se_, "rotation_error_deg": re_,
                      "rotation_se_deg": rs_} for se_, re_, rs_ in zip(shift_err, rot_err, rot_se)],
        "psf_fwhm_um": {"truth": truth_fwhm.tolist(), "estimate": est["fwhm_um"],
                        "se": est["fwhm_um_se"],
                        "relative_error": (np.asarray(est["fwhm_um"]) / truth_fwhm - 1).tolist()},
        "gain": {"truth": 1 / photons, "estimate": est["noise"]["gain"],
                 "se": est["noise"]["gain_se"],
                 "relative_error": est["noise"]["gain"] * photons - 1},
        "read_noise": {"truth": FORWARD["read_noise"], "estimate": est["noise"]["read_noise"],
                       "se": est["noise"]["read_noise_se"],
                       "relative_error": est["noise"]["read_noise"] / FORWARD["read_noise"] - 1},
        "gamma": {"truth": FORWARD["gamma"], "estimate": est["intensity"]["gamma"]},
        "cpu_seconds_per_pair": float(np.median(seconds)),
    }


def part_recovery(quick: bool) -> dict:
    rng = np.random.default_rng(2026)
    tri = _volume(TRIBOLIUM, 120.0)
    n2 = 6 if quick else 50
    zs = rng.integers(10, 81, n2)
    out = {"tribolium_2d": _recover_set([tri[z] for z in zs], 4, 0.25, "rigid", rng, 6.0, 1.5,
                                        FORWARD["fwhm_px"], FORWARD["photons"])}
    bone = _volume(LHDL, 0.0)
    nb = 4 if quick else 20
    out["lhdl_2d"] = _recover_set([bone[z] for z in rng.integers(0, 200, nb)], 4, 19.5,
                                  "rigid", rng, 6.0, 1.5, FORWARD["fwhm_px"],
                                  FORWARD["photons"])
    n3 = 2 if quick else 10
    subs = []
    for _ in range(n3):
        z0, y0, x0 = rng.integers(5, 95 - 36), *rng.integers(0, 256 - 80, 2)
        subs.append(tri[z0:z0 + 36, y0:y0 + 80, x0:x0 + 80])
    out["tribolium_3d"] = _recover_set(subs, 2, 1.0, "translation", rng, 3.0, 0.0,
                                       (3.0, 2.5, 2.5), 3 * FORWARD["photons"])
    # the first set again (same slices, misalignments and noise seeds) with 4x the photons:
    # how the rotation error scales with the information in the LR field
    rng = np.random.default_rng(2026)
    zs = rng.integers(10, 81, n2)
    out["tribolium_2d_photons4"] = _recover_set([tri[z] for z in zs], 4, 0.25, "rigid", rng,
                                                6.0, 1.5, FORWARD["fwhm_px"],
                                                4 * FORWARD["photons"])
    return out


# ---------------------------------------------------------------------------------- real
W2S = "fluorescence/w2s_pairs"


def _direct_noise(low: np.ndarray, high: np.ndarray) -> dict:
    """Poisson–Gaussian fit of the single frame against the 400-frame average on their own
    (shared) pixel grid: no registration, no binning; clipped pixels (0, 255) left out."""
    from geosr.pairs.noise import fit_noise

    design = np.stack([high.ravel(), np.ones(high.size)], 1)
    coef, *_ = np.linalg.lstsq(design, low.ravel(), rcond=None)
    mean = (design @ coef).reshape(low.shape)
    resid = low - mean
    edges = np.quantile(mean, np.linspace(0, 1, 21))
    bins = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (mean >= lo) & (mean < hi) & (low > 0) & (low < 255)
        if sel.sum() > 50:
            bins.append({"signal": float(mean[sel].mean() - coef[1]),
                         "var": float(resid[sel].var()), "n": int(sel.sum())})
    return fit_noise(bins)


def _register_real(lr: np.ndarray, hr: np.ndarray, scale: int) -> dict:
    """One real pair through register_pair and the single-pair QC of ``geosr pairs register``."""
    from geosr.core import Image
    from geosr.pairs import qc, register_pair
    from geosr.pairs.noise import fit_noise

    reg = register_pair(Image(lr, "YX", spacing=(float(scale),) * 2),
                        Image(hr, "YX", spacing=(1.0, 1.0)), scale, transform="rigid")
    verdict, reason = qc.judge_registration(reg, lr, hr)
    noise = fit_noise(reg.summary()["noise_bins"])
    return {"shift": list(reg.transform.shift), "rotation_deg": reg.transform.rotation_deg,
            "se": reg.standard_errors, "fwhm_hr_px": float(reg.fwhm_um[-1]),
            "gain": noise["gain"], "read_noise": noise["read_noise"],
            "ncc_before": reg.ncc_before, "ncc_after": reg.ncc_after,
            "verdict": verdict, "reason": reason}


def part_real(quick: bool) -> dict:
    """:func:`real_set` at ×2 and ×4."""
    return {f"w2s_x{scale}": real_set(quick, scale) for scale in (2, 4)}


def real_set(quick: bool, scale: int) -> dict:
    """Real acquisitions (W2S widefield, 20 fields): LR = the single noisy frame binned ``scale``
    × ``scale`` starting at HR pixel (0, 0) and at a random offset (o_y, o_x) — the same real
    noise, a known relative shift of exactly −o / scale LR px (no interpolation) — registered to
    the 400-frame average. Truth: that relative shift; rotation 0 (one acquisition); the noise
    model of the binned frame = the frame's own, fitted on the shared grid, divided by
    ``scale²`` (gain) and ``scale`` (read noise)."""
    from skimage.io import imread

    rng = np.random.default_rng(12 + scale)
    rows = []
    for k, field in enumerate(range(81, 84 if quick else 101)):
        name = f"{field:03d}_{k % 3}"
        low = imread(_data_dir() / W2S / "lowsnr_avg1" / f"{name}.png").astype(np.float64)
        high = imread(_data_dir() / W2S / "highsnr_avg400" / f"{name}.png").astype(np.float64)
        offset = (0, 0)
        while offset == (0, 0):
            offset = tuple(int(v) for v in rng.integers(0, scale, 2))
        n = (min(low.shape) - scale) // scale * scale
        regs = [_register_real(low[oy:oy + n, ox:ox + n].reshape(
                    n // scale, scale, n // scale, scale).mean(axis=(1, 3)), high, scale)
                for oy, ox in ((0, 0), offset)]
        direct = _direct_noise(low, high)
        rel = np.subtract(regs[1]["shift"], regs[0]["shift"])
        rows.append({"name": name, "offset_hr_px": offset, "registrations": regs,
                     "relative_shift_error_lr_px": float(np.abs(
                         rel + np.asarray(offset) / scale).max()),
                     "direct_noise": {"gain": direct["gain"] / scale ** 2,
                                      "read_noise": direct["read_noise"] / scale}})
        print(f"x{scale}", name, rows[-1]["relative_shift_error_lr_px"], regs[0]["verdict"],
              flush=True)
    return _real_summary(rows, scale)


def _real_summary(rows: list[dict], scale: int) -> dict:
    regs = [r for row in rows for r in row["registrations"]]
    rel_gain = [r["gain"] / row["direct_noise"]["gain"] - 1
                for row in rows for r in row["registrations"]]
    rel_read = [r["read_noise"] / row["direct_noise"]["read_noise"] - 1
                for row in rows for r in row["registrations"]]
    return {"pairs": len(rows), "registrations": len(regs), "scale": scale,
            "relative_shift_error_lr_px": _stats([r["relative_shift_error_lr_px"]
                                                  for r in rows]),
            "rotation_deg": _stats([r["rotation_deg"] for r in regs]),
            "rotation_z": _z_stats([r["rotation_deg"] for r in regs],
                                   [r["se"]["rotation_deg"] for r in regs]),
            "gain_relative_error": _stats(rel_gain),
            "gain_relative_error_mean": float(np.mean(rel_gain)),
            "read_noise_relative_error": _stats(rel_read),
            "read_noise_relative_error_mean": float(np.mean(rel_read)),
            "fwhm_hr_px": _stats([r["fwhm_hr_px"] for r in regs]),
            "verdicts": {v: sum(r["verdict"] == v for r in regs)
                         for v in ("ok", "suspect", "reject")},
            "per_pair": rows}


def _warp(hr: np.ndarray, scale: int):
    """``hr`` with its content moved by a smooth field (LR px): down by
    ``0.5 + 0.6 sin(π x / W)``, right by ``−0.3 + 0.5 cos(π y / H)``; returns the moved image
    and the displacement as a function of HR coordinates."""
    from scipy import ndimage

    h, w = hr.shape

    def disp(y, x):
        return (0.5 + 0.6 * np.sin(np.pi * x / (w - 1)), -0.3 + 0.5 * np.cos(np.pi * y / (h - 1)))

    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    dy, dx = disp(yy, xx)
    moved = ndimage.map_coordinates(hr, [yy - scale * dy, xx - scale * dx], order=3,
                                    mode="mirror")
    return moved, disp


def _displacement_errors(reg, disp, scale: int, shape: tuple[int, int], margin: int = 4
                        ) -> np.ndarray:
    """|fitted − true| displacement (LR px) at every LR pixel ``margin`` px inside the field:
    the global shift plus, when fitted, the non-rigid field."""
    ly, lx = np.meshgrid(np.arange(margin, shape[0] - margin),
                         np.arange(margin, shape[1] - margin), indexing="ij")
    truth = np.stack(disp(scale * ly + (scale - 1) / 2, scale * lx + (scale - 1) / 2))
    fitted = np.asarray(reg.transform.shift, np.float64)[:, None, None] + 0 * truth
    if reg.field is not None:
        fitted = fitted + reg.field.at_lr(np.stack([ly.ravel(), lx.ravel()])).reshape(
            truth.shape)
    return np.sqrt(((fitted - truth) ** 2).sum(axis=0))


@contextlib.contextmanager
def _every_tile_trusted():
    """The ablation: ``fit_field`` without its rule for tiles too flat to fix their shift."""
    import functools

    from geosr.pairs import deform

    original = deform.fit_field
    deform.fit_field = functools.partial(original, max_se_lr_px=np.inf)
    try:
        yield
    finally:
        deform.fit_field = original


def part_deformable(quick: bool, scale: int = 4) -> dict:
    """A known smooth non-rigid distortion (``_warp``) of real HR scenes (W2S 400-frame
    averages, 512², ×4 → 128² LR, the instrument of ``FORWARD``): the per-tile displacement
    (global shift + interpolated tile corrections) against the true one at every LR pixel,
    rigid fit vs ``deformable``."""
    from skimage.io import imread

    from geosr.core import Image
    from geosr.pairs import PairTransform, register_pair
    from geosr.pairs.simulate import simulate_acquisition

    rows = []
    for k, field in enumerate(range(81, 83 if quick else 91)):
        name = f"{field:03d}_{k % 3}"
        hr = imread(_data_dir() / W2S / "highsnr_avg400" / f"{name}.png").astype(np.float64)
        moved, disp = _warp(hr, scale)
        lr = simulate_acquisition(Image(moved, "YX", spacing=(0.1, 0.1)), scale,
                                  PairTransform((0.0, 0.0)), seed=k, **FORWARD)
        ref = Image(hr, "YX", spacing=(0.1, 0.1))
        rigid = register_pair(lr, ref, scale, intensity="gamma")
        soft = register_pair(lr, ref, scale, intensity="gamma", deformable=True)
        with _every_tile_trusted():
            loose = register_pair(lr, ref, scale, intensity="gamma", deformable=True)
        shape = lr.numpy().shape
        err = {arm: _displacement_errors(reg, disp, scale, shape)
               for arm, reg in (("rigid", rigid), ("deformable", soft),
                                ("deformable_no_se_rule", loose))}
        rows.append({"name": name, **{f"{stat}_error_{arm}_lr_px": float(f(e))
                                      for arm, e in err.items()
                                      for stat, f in (("rms", lambda v: np.sqrt(np.mean(v ** 2))),
                                                      ("max", np.max))},
                     "residual_rms_ratio": float(soft.residual_rms / rigid.residual_rms),
                     **soft.field.stats()})
        print("deformable", rows[-1], flush=True)
    keys = [f"{stat}_error_{arm}_lr_px" for arm in ("rigid", "deformable",
                                                     "deformable_no_se_rule")
            for stat in ("rms", "max")]
    return {"pairs": len(rows), "scale": scale, **{k: _stats([r[k] for r in rows]) for k in keys},
            "tiles_undetermined": int(sum(r["deformation_tiles_undetermined"] for r in rows)),
            "residual_rms_ratio": _stats([r["residual_rms_ratio"] for r in rows]),
            "per_pair": rows}


# ------------------------------------------------------------------------------ training
def _write_pairs(root: Path, vol: np.ndarray, zs, rng, misaligned: bool) -> None:
    from geosr.core import Image
    from geosr.io import save
    from geosr.pairs import PairTransform, random_transform
    from geosr.pairs.simulate import simulate_acquisition

    for z in zs:
        hr = Image(vol[z].astype(np.float32), "YX", spacing=(0.25, 0.25))
        t = random_transform(rng, 2, 6.0, 1.5) if misaligned else PairTransform((0.0, 0.0))
        lr = simulate_acquisition(hr, 4, t, seed=int(z), **FORWARD)
        save(lr.replace(data=np.asarray(lr.numpy(), np.float32)), root / "lr" / f"z{z:03d}.tif")
        save(hr, root / "hr" / f"z{z:03d}.tif")


def _config(lr: Path, hr: Path, steps: int, out: Path, seed: int = 0) -> dict:
    return {"version": 1, "seed": seed, "scale": 4, "out": str(out),
            "data": {"source": "folders", "lr": str(lr), "hr": str(hr),
                     "split": {"by": "image", "fraction": 0.1}},
            "patch": {"size": 64},
            "train": {"steps": steps, "batch_size": 16, "lr": 0.002, "schedule": "cosine",
                      "checkpoint_every": steps},
            "logging": {"progress": False}}


def _score(sr: np.ndarray, hr: np.ndarray) -> dict[str, float]:
    from skimage.filters import threshold_otsu

    from geosr.assess import psnr, ssim

    lo, hi = np.percentile(hr, [0.2, 99.8])
    h = (hr - lo) / (hi - lo)
    design = np.stack([sr.ravel(), np.ones(sr.size)], 1)
    coef, *_ = np.linalg.lstsq(design, h.ravel(), rcond=None)
    s = (design @ coef).reshape(sr.shape)
    t = threshold_otsu(h)
    truth, pred = h > t, s > t
    inter = float((truth & pred).sum())
    return {"psnr": psnr(s, h, data_range=1.0, crop=4).value,
            "ssim": ssim(s, h, data_range=1.0, crop=4).value,
            "dice_nuclei": 2 * inter / max(float(truth.sum() + pred.sum()), 1.0),
            "area_fraction_error": abs(float(pred.mean()) - float(truth.mean()))}


def _train_arm(folder: Path, steps: int, work: Path, arm: str, seed: int, tests) -> dict:
    """Train one arm with one seed; the mean test metrics over the held-out slices."""
    from geosr import train
    from geosr.predict import predict

    t1 = time.process_time()
    run = work / f"run_{arm}_s{seed}"
    model = train(_config(folder / "lr", folder / "hr", steps, run, seed), show_progress=False)
    rows = [_score(np.asarray(predict(lr, model).numpy(), np.float64), hr) for lr, hr in tests]
    rec = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    rec["psnr_sd_slices"] = float(np.std([r["psnr"] for r in rows], ddof=1))
    rec["train_cpu_s"] = time.process_time() - t1
    rec["seed"] = seed
    if (run / "summary.json").exists():   # early stopping on the arm's own validation pairs
        done = json.loads((run / "summary.json").read_text())
        rec.update({k: done.get(k) for k in ("steps_done", "stopped_early", "best_step")})
    return rec


def _over_seeds(runs: list[dict]) -> dict:
    """Mean and sd over the seeds of each metric, plus the runs themselves."""
    keys = ("psnr", "ssim", "dice_nuclei", "area_fraction_error")
    out = {k: float(np.mean([r[k] for r in runs])) for k in keys}
    out.update({f"{k}_sd_seeds": (float(np.std([r[k] for r in runs], ddof=1))
                                  if len(runs) > 1 else 0.0) for k in keys})
    out["runs"] = runs
    return out


def part_training(budget_s: float, quick: bool, work: Path, seeds=(0,)) -> dict:
    import torch

    from geosr.io import load
    from geosr.pairs import register_folders
    from geosr.resample import upscale

    torch.set_num_threads(1)
    from _equal_budget import cpu_per_step

    vol = _volume(TRIBOLIUM, 120.0)
    train_z = list(range(10, 70, 2))[: (8 if quick else 30)]
    test_z = list(range(72, 81))[: (3 if quick else 9)]
    rng = np.random.default_rng(7)
    _write_pairs(work / "misaligned", vol, train_z, rng, True)
    _write_pairs(work / "aligned", vol, train_z, rng, False)
    _write_pairs(work / "test", vol, test_z, rng, False)
    t0 = time.process_time()
    summary = register_folders(work / "misaligned" / "lr", work / "misaligned" / "hr", 4,
                               work / "registered", transform="rigid", intensity="gamma")
    reg_cpu = time.process_time() - t0
    arms = {"misaligned": work / "misaligned", "registered": work / "registered",
            "aligned": work / "aligned"}
    cost = cpu_per_step(_config(arms["aligned"] / "lr", arms["aligned"] / "hr", 100,
                                work / "probe"))["seconds_per_step"]
    steps = max(50, int(budget_s / cost))
    results = {"steps": steps, "cpu_seconds_per_step": cost, "budget_cpu_s": budget_s,
               "registration": {"counts": summary["counts"], "cpu_seconds": reg_cpu},
               "seeds": list(seeds), "arms": {}}
    tests = [(load(work / "test" / "lr" / f"z{z:03d}.tif"),
              np.asarray(load(work / "test" / "hr" / f"z{z:03d}.tif").numpy(), np.float64))
             for z in test_z]
    rows = [_score(np.asarray(upscale(lr, 4, method="bicubic").numpy(), np.float64), hr)
            for lr, hr in tests]
    results["arms"]["bicubic"] = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    for arm, folder in arms.items():
        runs = []
        for seed in seeds:
            runs.append(_train_arm(folder, steps, work, arm, seed, tests))
            print(arm, runs[-1], flush=True)
        results["arms"][arm] = _over_seeds(runs)
    return results


def _markdown(res: dict) -> str:
    lines = ["# Registration of experimental pairs (benchmarks/registration.py)", ""]
    rec = res.get("recovery")
    if rec:
        lines += ["| set | pairs | scale | shift error median / p95 / max (LR px) | rotation "
                  "error median / max (°) | PSF FWHM rel. error | gain rel. error | read noise "
                  "rel. error | CPU s / pair |", "|---|---|---|---|---|---|---|---|---|"]
        for name, r in rec.items():
            s, rot = r["shift_error_lr_px"], r["rotation_error_deg"]
            psf = ", ".join(f"{100 * e:+.1f} %" for e in r["psf_fwhm_um"]["relative_error"])
            lines.append(f"| {name} | {r['pairs']} | x{r['scale']} | {s['median']:.3f} / "
                         f"{s['p95']:.3f} / {s['max']:.3f} | {rot['median']:.3f} / "
                         f"{rot['max']:.3f} | {psf} | {100 * r['gain']['relative_error']:+.1f} % "
                         f"| {100 * r['read_noise']['relative_error']:+.1f} % | "
                         f"{r['cpu_seconds_per_pair']:.1f} |")
        for name, r in rec.items():
            z = r.get("rotation_z")
            if z:
                lines.append(f"\n{name}: rotation error / own SE: sd {z['sd']:.2f}, mean "
                             f"{z['mean']:+.2f}, max |z| {z['max_abs']:.2f} (n {z['n']}); SE "
                             f"median {z['se_median_deg']:.3f}°, max {z['se_max_deg']:.3f}°")
    lines += _real_markdown(res.get("real") or {})
    d = res.get("deformable")
    if d:
        e = {k: d[k] for k in d if k.endswith("_lr_px")}
        lines += ["", f"Deformable ({d['pairs']} real scenes, x{d['scale']}): displacement error "
                  "(LR px) rms median / max over pairs: rigid "
                  f"{e['rms_error_rigid_lr_px']['median']:.3f} / "
                  f"{e['rms_error_rigid_lr_px']['max']:.3f}, deformable "
                  f"{e['rms_error_deformable_lr_px']['median']:.3f} / "
                  f"{e['rms_error_deformable_lr_px']['max']:.3f}; largest pixel error rigid "
                  f"{e['max_error_rigid_lr_px']['max']:.3f}, deformable "
                  f"{e['max_error_deformable_lr_px']['max']:.3f}; without the flat-tile rule "
                  f"rms {e['rms_error_deformable_no_se_rule_lr_px']['median']:.3f} / "
                  f"{e['rms_error_deformable_no_se_rule_lr_px']['max']:.3f}, largest "
                  f"{e['max_error_deformable_no_se_rule_lr_px']['max']:.3f}; tiles undetermined "
                  f"{d['tiles_undetermined']}; residual rms ratio median "
                  f"{d['residual_rms_ratio']['median']:.3f}"]
    tr = res.get("training")
    if tr:
        lines += ["", f"Training: {tr['steps']} steps per arm ({tr['budget_cpu_s']:.0f} CPU s "
                  f"at one thread), seeds {tr.get('seeds', [0])} (mean ± sd over seeds), "
                  "tested on held-out aligned slices.", "",
                  "| arm | PSNR (dB) | SSIM | Dice (nuclei) | area-fraction error |",
                  "|---|---|---|---|---|"]
        for arm, r in tr["arms"].items():
            sd = {k: (f" ± {r[k + '_sd_seeds']:{f}}" if k + "_sd_seeds" in r else "")
                  for k, f in (("psnr", ".2f"), ("ssim", ".4f"), ("dice_nuclei", ".3f"),
                               ("area_fraction_error", ".4f"))}
            lines.append(f"| {arm} | {r['psnr']:.2f}{sd['psnr']} | {r['ssim']:.4f}{sd['ssim']}"
                         f" | {r['dice_nuclei']:.3f}{sd['dice_nuclei']} | "
                         f"{r['area_fraction_error']:.4f}{sd['area_fraction_error']} |")
    return "\n".join(lines) + "\n"


def _real_markdown(real: dict) -> list[str]:
    if not real:
        return []
    lines = ["", "| real set | pairs | relative shift error median / max (LR px) | rotation "
             "median / max (°), truth 0 | rotation z sd / max | gain error median / max | "
             "read-noise error median / max | extra PSF FWHM (HR px) | verdicts ok/suspect/"
             "reject |", "|---|---|---|---|---|---|---|---|---|"]
    for name, r in real.items():
        s, rot, z = r["relative_shift_error_lr_px"], r["rotation_deg"], r["rotation_z"]
        g, rn, v = r["gain_relative_error"], r["read_noise_relative_error"], r["verdicts"]
        lines.append(f"| {name} | {r['pairs']} | {s['median']:.3f} / {s['max']:.3f} | "
                     f"{rot['median']:.4f} / {rot['max']:.4f} | {z['sd']:.2f} / "
                     f"{z['max_abs']:.2f} | {100 * g['median']:.1f} / {100 * g['max']:.1f} % | "
                     f"{100 * rn['median']:.1f} / {100 * rn['max']:.1f} % | "
                     f"{r['fwhm_hr_px']['median']:.2f} | {v['ok']}/{v['suspect']}/"
                     f"{v['reject']} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["recovery", "real", "deformable", "training", "all"],
                        default="all")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--budget-s", type=float, default=150.0,
                        help="CPU seconds of training per arm (one thread)")
    parser.add_argument("--seeds", default="0",
                        help="training seeds per arm, comma-separated (e.g. 0,1,2)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" /
                        "registration")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder")
    args = parser.parse_args()
    import tempfile

    from _machine import describe

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "registration.json"
    res = json.loads(path.read_text()) if path.exists() else {}
    res["machine"] = describe()
    res.setdefault("commands", {})[args.part] = " ".join(sys.argv)   # the last run of each part
    if args.part in ("recovery", "all"):
        res["recovery"] = part_recovery(args.quick)
        path.write_text(json.dumps(res, indent=2))
        print(json.dumps(res["recovery"], indent=1), flush=True)
    if args.part in ("real", "all"):
        res["real"] = part_real(args.quick)
        path.write_text(json.dumps(res, indent=2))
    if args.part in ("deformable", "all"):
        res["deformable"] = part_deformable(args.quick)
        path.write_text(json.dumps(res, indent=2))
    if args.part in ("training", "all"):
        work = args.work or Path(tempfile.mkdtemp(prefix="geosr_registration_"))
        seeds = tuple(int(v) for v in args.seeds.split(","))
        res["training"] = part_training(args.budget_s, args.quick, work, seeds)
    path.write_text(json.dumps(res, indent=2))
    (args.out / "registration.md").write_text(_markdown(res))
    print(_markdown(res))


if __name__ == "__main__":
    main()
