"""False-red rate and power of the trust layer's CT consistency family (issue 17 follow-up).

The truth of a 2D cortical section (64 × 64 HR pixels of 15.175 µm, XtremeCT II preset, ×4,
90 angles, i0 from the preset) is acquired ``--scans`` times with fresh noise and tested as a
perfect prediction (``geosr.trust.ct_consistency``, 16 tiles of 4 × 4 voxels, fresh
re-acquisition draws each): the image is red when a tile is, (a) by Holm at 0.05 over the
per-tile 3-cumulant p-values (the rule before 3 Dec 2026), (b) by the max-statistic over the
noise draws (the rule now). Then the same acquisitions against wrong predictions (pores
removed; three invented canals of 61 and 45 µm radius).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ct_trust_control.py            # ~10 min
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ct_trust_control.py --scans 20  # smoke

Writes ``benchmarks/results/ct_trust_control.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PIXEL_UM, SIDE, LEVEL = 15.175, 64, 0.05
CT = dict(preset="xtremect2", scale=4, intensity_range=(0.0, 1.0), n_angles=90)


def _truth(seed: int):
    from geosr.core import Image
    from geosr.phantoms import phantom

    ph = phantom("cortical", dims=2, size_um=(SIDE * PIXEL_UM,) * 2, spacing_um=PIXEL_UM,
                 seed=seed, bright=False)
    return Image(np.asarray(ph.image.numpy(), np.float64), "YX", spacing=(PIXEL_UM,) * 2)


def _without_pores(truth):
    v = truth.numpy().copy()
    return truth.replace(data=np.where(v < 0.5, float(np.median(v[v > 0.5])), v))


def _with_canals(truth, seed: int, radius_px: float):
    v = truth.numpy().copy()
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:v.shape[0], :v.shape[1]]
    pore = float(np.median(v[v < 0.5])) if (v < 0.5).any() else 0.15
    for _ in range(3):
        cy, cx = rng.integers(6, v.shape[0] - 6, size=2)
        v[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius_px ** 2] = pore
    return truth.replace(data=v)


def _decisions(pred, lr, seed: int, repeats: int) -> tuple[bool, bool, np.ndarray]:
    from geosr.trust.acquisition import Acquisition
    from geosr.trust.ct_consistency import ct_consistency
    from geosr.trust.multiple import control

    res = ct_consistency(pred, lr, Acquisition.from_image(lr), tile=4, seed=seed,
                         repeats=repeats)
    return (bool(control(res.tile_p, LEVEL, "holm").flagged.any()),
            bool((res.family_p <= LEVEL).any()), res.tile_p.ravel())


def _rate(k: int, n: int) -> dict:
    r = k / n
    return {"red": k, "n": n, "rate": r, "se": float(np.sqrt(max(r * (1 - r), 1e-12) / n))}


def run(scans: int, wrong: int, repeats: int) -> dict:
    from geosr.degrade.ct_degrade import degrade_ct

    truths = [_truth(s) for s in range(4)]
    holm = family = 0
    pvals = []
    for k in range(scans):
        lr = degrade_ct(truths[k % 4], seed=10 ** 6 + k, **CT)
        h, f, p = _decisions(truths[k % 4], lr, k, repeats)
        holm, family = holm + h, family + f
        pvals.append(p)
    p = np.concatenate(pvals)
    out = {"repeats": repeats, "truth": {"holm_tile_p": _rate(holm, scans),
                                         "max_statistic": _rate(family, scans),
                                         "exact_max_statistic_size":
                                             int(LEVEL * (repeats + 1)) / (repeats + 1),
                                         "tile_p_below": {str(a): float(np.mean(p < a))
                                                          for a in (0.1, 0.01, 0.001)}}}
    makers = {"pores_removed": lambda t, k: _without_pores(t),
              "canals_61um": lambda t, k: _with_canals(t, k, 4.0),
              "canals_45um": lambda t, k: _with_canals(t, k, 3.0)}
    for name, make in makers.items():
        hits = np.zeros(2, int)
        for k in range(wrong):
            lr = degrade_ct(truths[k % 4], seed=2 * 10 ** 6 + k, **CT)
            hits += np.array(_decisions(make(truths[k % 4], k), lr, k, repeats)[:2])
        out[name] = {"holm_tile_p": _rate(int(hits[0]), wrong),
                     "max_statistic": _rate(int(hits[1]), wrong)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scans", type=int, default=150)
    parser.add_argument("--wrong", type=int, default=12)
    parser.add_argument("--repeats", type=int, nargs="+", default=[64, 32])
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from _machine import describe

    t0 = time.perf_counter()
    res = {"command": " ".join(sys.argv), "machine": describe(),
           "runs": [run(args.scans, args.wrong, r) for r in args.repeats]}
    res["wall_s"] = round(time.perf_counter() - t0, 1)
    path = HERE / "results" / "ct_trust_control.json"
    path.write_text(json.dumps(res, indent=2))
    print(json.dumps(res["runs"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
