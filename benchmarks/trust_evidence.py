"""Benchmark: what the trust layer detects, how well its guarantees hold at scale, and what it
costs — on synthetic data with known ground truth.

    .venv/bin/python benchmarks/trust_evidence.py            # full run (~10 min on 2 cores)
    .venv/bin/python benchmarks/trust_evidence.py --quick    # smoke run (< 1 min)

1. **Oracle detection** over ``--scenes`` random 2D scenes (256² HR at 0.1 µm, smooth field +
   thin lines, ×4, Gaussian PSF FWHM 0.4 µm, 300 photons/unit, read noise 0.01), four oracle
   predictors: perfect (= ground truth), bicubic, null-space hallucinator (ground truth + a
   sub-resolution spot pattern projected onto the null space of the forward operator) and
   visible corrupter (ground truth + a Gaussian blob of σ = 5 HR px). Per map, the detection
   rate at the injected site: consistency (tile χ² p < 0.001), SQUIRREL (local RMS residual >
   2.5 × the perfect prediction's), null space (tile share with conformal p ≤ 0.05 against the
   tiles of perfect predictions of other scenes). Expected: consistency and SQUIRREL catch the
   corrupter and not the hallucinator; the null space catches the hallucinator. Also χ²/N of
   the perfect prediction (≈ 1).
2. **Calibration at scale**: a pool of ``--pool`` synthetic paired images (24² HR, ×2,
   bicubic predictor, size map ``0.05 + |bicubic − nearest|``), ``--splits`` random half/half
   splits: CRC mean miss rate (target ≤ α = 0.1) and split-conformal simultaneous coverage
   (target ≥ 0.9), ± standard error; the negative control (noise × 3); the OOD gate's
   false-alarm rate at α_OOD = 0.05 and its AUROC against synthetic shifts (noise × 2, PSF ×
   1.5, pixel size × 2, saturation, another structure class) — reported, not guaranteed; the
   Spearman correlation between the size map and the absolute error (reported, not asserted).
3. **Cost** of each piece on a ``--cost-size``² LR image ×4 (default 256²), median of 3,
   relative to one ``geosr.predict.predict`` call of the default FSRCNN (random weights): physics,
   consistency, SQUIRREL, null space, TTA (8 predictions).

Results: ``benchmarks/results/trust_evidence[_quick].{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _scene(seed: int):
    import numpy as np
    from scipy import ndimage

    from geosr.core import Image
    from geosr.degrade import degrade

    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.random((256, 256)), 4)
    gt = 0.5 + 1.5 * (field - field.min()) / (field.max() - field.min())
    for _ in range(6):
        gt[rng.integers(10, 246), 10:246] += 0.8
    lr = degrade(Image(gt, "YX", spacing=(0.1, 0.1)), scale=4, fwhm_um=0.4, photons=300.0,
                 read_noise=0.01, seed=seed + 1)
    return gt, lr, rng


def _gauss(shape, c, s):
    import numpy as np

    yy, xx = np.indices(shape)
    return np.exp(-((yy - c[0]) ** 2 + (xx - c[1]) ** 2) / (2 * s * s))


def oracle_detection(scenes: int) -> dict[str, Any]:
    import numpy as np

    from geosr.core import Image
    from geosr.resample import upscale
    from geosr.trust.acquisition import Acquisition
    from geosr.trust.conformal import conformal_pvalue
    from geosr.trust.data_consistency import consistency
    from geosr.trust.nullspace import null_space, project_range, range_bases
    from geosr.trust.squirrel_map import squirrel

    rows, reference = [], []
    for k in range(scenes):
        gt, lr, rng = _scene(1000 + k)
        acq = Acquisition.from_image(lr)
        bases = range_bases(acq.operator(gt.shape, 0.1))
        spot = tuple(int(v) for v in rng.integers(40, 216, 2))
        blob = tuple(int(v) for v in rng.integers(40, 216, 2))
        pattern = (_gauss(gt.shape, spot, 0.8) - _gauss(gt.shape, (spot[0], spot[1] + 3), 0.8)
                   + _gauss(gt.shape, (spot[0] + 3, spot[1]), 0.8))
        hall = pattern - project_range(pattern, bases)
        hall *= 1.5 / np.abs(hall).max()
        preds = {"perfect": gt,
                 "bicubic": np.asarray(upscale(lr, 4, method="bicubic").numpy(), np.float64),
                 "hallucinator": gt + hall, "corrupter": gt + 0.6 * _gauss(gt.shape, blob, 5.0)}
        res = {}
        for name, p in preds.items():
            img = Image(p, "YX", spacing=(0.1, 0.1))
            c = consistency(img, lr, acq, tile=4)
            s = squirrel(lr, img, 4)
            n = null_space(img, acq, tile=4)
            res[name] = (c, s, n)
        reference.append(np.ravel(res["perfect"][2].tile_fraction))
        rows.append({"spot": spot, "blob": blob, "res": res})
    out: dict[str, Any] = {"scenes": scenes, "chi2_per_pixel_perfect": [], "rates": {}}
    counts = {o: {"consistency": 0, "squirrel": 0, "nullspace": 0}
              for o in ("hallucinator", "corrupter")}
    for k, row in enumerate(rows):
        ref = np.concatenate([r for j, r in enumerate(reference) if j != k])
        out["chi2_per_pixel_perfect"].append(row["res"]["perfect"][0].chi2_per_pixel)
        for oracle, site in (("hallucinator", row["spot"]), ("corrupter", row["blob"])):
            c, s, n = row["res"][oracle]
            t = tuple(v // 16 for v in site)
            lr_site = tuple(v // 4 for v in site)
            win = tuple(slice(max(0, v - 2), v + 3) for v in lr_site)
            rms = float(np.sqrt(np.mean(s.residual[win] ** 2)))
            rms0 = float(np.sqrt(np.mean(row["res"]["perfect"][1].residual[win] ** 2)))
            counts[oracle]["consistency"] += bool(c.tile_p[t] < 1e-3)
            counts[oracle]["squirrel"] += bool(rms > 2.5 * rms0)
            counts[oracle]["nullspace"] += bool(conformal_pvalue(ref, n.tile_fraction[t]) <= 0.05)
    out["rates"] = {o: {m: v / scenes for m, v in d.items()} for o, d in counts.items()}
    chi = out["chi2_per_pixel_perfect"]
    out["chi2_per_pixel_perfect"] = {"mean": statistics.mean(chi),
                                     "sd": statistics.stdev(chi) if len(chi) > 1 else 0.0}
    return out


def _pair(seed, photons=40.0, fwhm_px=None, smooth=2.0, saturate=False, kind="smooth"):
    import numpy as np
    from scipy import ndimage

    from geosr.core import Image
    from geosr.degrade import degrade
    from geosr.resample import upscale

    rng = np.random.default_rng(seed)
    if kind == "smooth":
        hr = ndimage.gaussian_filter(rng.random((24, 24)), smooth)
    else:   # another structure class: sparse bright spots
        hr = ndimage.gaussian_filter((rng.random((24, 24)) > 0.97).astype(float), 0.8)
    hr = 0.5 + 1.5 * (hr - hr.min()) / (hr.max() - hr.min() + 1e-12)
    kw = {} if fwhm_px is None else {"fwhm_um": fwhm_px}
    lr = degrade(Image(hr, "YX"), scale=2, photons=photons, seed=seed + 10_000, **kw)
    low = np.asarray(lr.numpy(), np.float64)
    if saturate:
        low = np.minimum(low, np.percentile(low, 70))
    pred = np.asarray(upscale(low, 2, method="bicubic"), np.float64)
    u = 0.05 + np.abs(pred - np.kron(low, np.ones((2, 2))))
    return hr, pred, u, low


def _auroc(id_scores, ood_scores) -> float:
    import numpy as np

    a, b = np.asarray(id_scores), np.asarray(ood_scores)
    return float(((b[:, None] > a[None, :]).mean() + 0.5 * (b[:, None] == a[None, :]).mean()))


def calibration(pool: int, splits: int) -> dict[str, Any]:
    import numpy as np
    from scipy import stats

    from geosr.trust.conformal import (
        conformal_pvalue, conformal_quantile, crc_lambda, ratios, simultaneous_scores,
    )
    from geosr.trust.ood import OODGate, input_features

    alpha = 0.1
    data = [_pair(s) for s in range(pool)]
    t = [ratios(h, p, u) for h, p, u, _ in data]
    phi = np.stack([input_features(low) for *_, low in data])
    rng = np.random.default_rng(0)
    risks, cover = [], []
    half = pool // 2
    for _ in range(splits):
        order = rng.permutation(pool)
        cal, test = [t[i] for i in order[:half]], [t[i] for i in order[half:]]
        lam = crc_lambda(cal, alpha)
        risks.append(float(np.mean([np.mean(x > lam) for x in test])))
        q = conformal_quantile(simultaneous_scores(cal), alpha)
        cover.append(float(np.mean([np.max(x) <= q for x in test])))
    se = lambda v: statistics.stdev(v) / len(v) ** 0.5  # noqa: E731
    lam = crc_lambda(t[:half], alpha)
    shifted = [_pair(50_000 + s, photons=40.0 / 9) for s in range(200)]
    neg = [float(np.mean(ratios(h, p, u) > lam)) for h, p, u, _ in shifted]
    gate = OODGate.fit(None, features=phi[:half], alpha=0.05)
    id_scores = gate.score_features(phi[half:])
    fa = float(np.mean(conformal_pvalue(gate.calibration_scores, id_scores) <= 0.05))
    shifts = {"noise x2": dict(photons=10.0), "PSF x1.5": dict(fwhm_px=3.0),
              "pixel size x2": dict(smooth=1.0), "saturation": dict(saturate=True),
              "other structure": dict(kind="spots")}
    from geosr.trust.ood import BASIC_NAMES

    k = len(BASIC_NAMES)
    gate_before = OODGate.fit(None, features=phi[:half, :k], alpha=0.05, names=BASIC_NAMES)
    id_before = gate_before.score_features(phi[half:, :k])
    auroc, auroc_before = {}, {}
    for name, kw in shifts.items():
        lows = np.stack([input_features(_pair(70_000 + s, **kw)[3]) for s in range(150)])
        auroc[name] = _auroc(id_scores, gate.score_features(lows))
        auroc_before[name] = _auroc(id_before, gate_before.score_features(lows[:, :k]))
    rho = [stats.spearmanr(u.ravel(), np.abs(h - p).ravel()).statistic for h, p, u, _ in data]
    return {"alpha": alpha, "pool": pool, "splits": splits,
            "crc_miss_rate": {"mean": statistics.mean(risks), "se": se(risks)},
            "simultaneous_coverage": {"mean": statistics.mean(cover), "se": se(cover)},
            "negative_control_noise_x3_miss_rate": statistics.mean(neg),
            "ood_alpha": 0.05, "ood_false_alarm_rate": fa, "ood_auroc": auroc,
            "ood_auroc_intensity_statistics_only": auroc_before,
            "spearman_u_vs_abs_error": {"mean": statistics.mean(rho),
                                        "sd": statistics.stdev(rho)}}


def cost(size: int) -> dict[str, Any]:
    import numpy as np
    import torch

    from geosr.core import Image
    from geosr.models import build_model, load_model, save_model
    from geosr.predict import predict
    from geosr.trust.acquisition import Acquisition
    from geosr.trust.data_consistency import consistency
    from geosr.trust.nullspace import null_space
    from geosr.trust.physics import physics_report
    from geosr.trust.squirrel_map import squirrel
    from geosr.trust.uncertainty import tta
    import tempfile

    torch.manual_seed(0)
    tmp = Path(tempfile.mkdtemp())
    model = load_model(save_model(tmp / "m", build_model("fsrcnn", dims=2, scale=4)))
    rng = np.random.default_rng(0)
    lr = Image((rng.random((size, size)) + 1).astype(np.float32), "YX", spacing=(0.4, 0.4))
    acq = Acquisition.from_arguments(scale=4, fwhm_um=0.4, photons=100.0, read_noise=0.01)
    pred = predict(lr, model, device="cpu")

    def timed(fn):
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    tf = timed(lambda: predict(lr, model, device="cpu"))
    parts = {
        "physics": lambda: physics_report(lr_spacing_um=0.4, scale=4, wavelength_nm=520,
                                          na=1.4, prediction=pred.numpy()),
        "consistency": lambda: consistency(pred, lr, acq),
        "squirrel": lambda: squirrel(lr, pred, 4),
        "nullspace": lambda: null_space(pred, acq),
        "tta (8 predictions)": lambda: tta(lr, model, device="cpu"),
    }
    out = {"lr_size": size, "scale": 4, "predict_s": tf}
    for name, fn in parts.items():
        s = timed(fn)
        out[name] = {"seconds": s, "relative_to_predict": s / tf}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--scenes", type=int, default=None)
    ap.add_argument("--pool", type=int, default=None)
    ap.add_argument("--splits", type=int, default=None)
    ap.add_argument("--cost-size", type=int, default=None)
    ap.add_argument("--oracle-images", type=int, default=None)
    ap.add_argument("--ood-scenes", type=int, default=None)
    ap.add_argument("--element-images", type=int, default=None)
    ap.add_argument("--data", type=Path, default=None, help="../shared/data (real shift)")
    ap.add_argument("--only-issue13", action="store_true",
                    help="only the sections added for issue 13")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--results", type=Path, default=HERE / "results")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    quick = args.quick
    scenes = args.scenes or (4 if quick else 100)
    pool = args.pool or (200 if quick else 1000)
    splits = args.splits or (50 if quick else 1000)
    size = args.cost_size or (64 if quick else 256)
    import _machine

    info = _machine.describe()
    t0 = time.time()
    import _trust_issue13 as i13

    result = {"machine": info, "quick": quick}
    if not args.only_issue13:
        result.update(oracle_detection=oracle_detection(scenes),
                      calibration=calibration(pool, splits), cost=cost(size))
    result.update(
        verdict_control=i13.verdict_control(args.oracle_images or (200 if quick else 1000)),
        ood_oracle_scenes=i13.ood_oracle_scenes(args.ood_scenes or (40 if quick else 150)),
        real_shift=i13.real_shift(args.data),
        element_confidence=i13.element_confidence(args.element_images or (8 if quick else 40)),
        element_confidence_real=i13.element_confidence_real(args.data, 6 if quick else 20))
    result["wall_s"] = time.time() - t0
    name = "trust_evidence_quick" if quick else "trust_evidence"
    if args.only_issue13:
        name += "_issue13"
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"{name}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    md = _markdown(result, _machine.markdown(info))
    (args.results / f"{name}.md").write_text(md)
    print(md)


def _markdown(r: dict[str, Any], machine: str) -> str:
    import _trust_issue13 as i13

    if "oracle_detection" not in r:
        return "\n".join(["# Trust layer: issue 13 sections", "", machine]
                         + i13.markdown(r) + ["", f"wall time {r['wall_s']:.0f} s", ""])
    od, cal, c = r["oracle_detection"], r["calibration"], r["cost"]
    lines = ["# Trust layer: detection, calibration, cost", "", machine, "",
             f"## Oracle detection ({od['scenes']} scenes, 256² HR ×4, rate at the injected site)",
             "", "| oracle | consistency χ² | SQUIRREL | null space |", "|---|---|---|---|"]
    for o, d in od["rates"].items():
        lines.append(f"| {o} | {d['consistency']:.2f} | {d['squirrel']:.2f} | "
                     f"{d['nullspace']:.2f} |")
    chi = od["chi2_per_pixel_perfect"]
    lines += ["", f"χ²/N of the perfect prediction: {chi['mean']:.3f} ± {chi['sd']:.3f} (sd)", "",
              f"## Calibration ({cal['pool']} images, {cal['splits']} splits, α = {cal['alpha']})",
              "",
              f"- CRC mean miss rate: {cal['crc_miss_rate']['mean']:.4f} ± "
              f"{cal['crc_miss_rate']['se']:.4f} (target ≤ {cal['alpha']})",
              f"- split-conformal image coverage: {cal['simultaneous_coverage']['mean']:.4f} ± "
              f"{cal['simultaneous_coverage']['se']:.4f} (target ≥ {1 - cal['alpha']:.2f})",
              f"- negative control (noise × 3) miss rate: "
              f"{cal['negative_control_noise_x3_miss_rate']:.3f}",
              f"- OOD false-alarm rate at {cal['ood_alpha']}: {cal['ood_false_alarm_rate']:.3f}",
              "- OOD AUROC (no guarantee; 12² LR inputs): " + ", ".join(
                  f"{k} {v:.3f}" for k, v in cal["ood_auroc"].items()),
              "- the same with the intensity statistics only (before issue 13): " + ", ".join(
                  f"{k} {v:.3f}" for k, v in
                  cal.get("ood_auroc_intensity_statistics_only", {}).items()),
              f"- Spearman(u, |error|): {cal['spearman_u_vs_abs_error']['mean']:.3f} ± "
              f"{cal['spearman_u_vs_abs_error']['sd']:.3f} (sd over images; reported only)", "",
              f"## Cost ({c['lr_size']}² LR ×4; one predict call = {c['predict_s']:.3f} s)", "",
              "| piece | seconds | × predict |", "|---|---|---|"]
    for k, v in c.items():
        if isinstance(v, dict):
            lines.append(f"| {k} | {v['seconds']:.3f} | {v['relative_to_predict']:.2f} |")
    lines += i13.markdown(r)
    lines += ["", f"wall time {r['wall_s']:.0f} s", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
