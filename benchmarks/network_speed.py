"""Speed of every network metric on a 256³ volume (target: all metrics < 60 s on 2 cores).

The volume is a 3D dentin phantom (51.2 µm at 0.2 µm, 256³) as truth and its ×4-degraded,
bicubic-upscaled version as prediction. Every metric group of
:func:`geosr.assess.network.assess_network` is timed on the pair (prediction and truth both
measured, plus the comparison), twice in the same process: the first ("cold") run includes the
one-off just-in-time compilation of skan and porespy (numba); the second ("warm") run is what
every further image costs. The segmentation variants (Otsu, local, tubeness) are timed on the
pair as well.

Usage (from the repository root)::

    .venv/bin/python benchmarks/network_speed.py            # --size 256 --threads 2

Results: ``benchmarks/results/network_speed.{json,md}`` (``--results``), printed too.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256, help="voxels per axis (default 256)")
    p.add_argument("--threads", type=int, default=2,
                   help="threads for numba (porespy, skan) and OpenMP (default 2)")
    p.add_argument("--results", type=Path, default=HERE / "results")
    return p.parse_args(argv)


def _machine(threads: int) -> tuple[dict[str, Any], str]:
    try:
        import _machine

        info = _machine.describe()
        return info, _machine.markdown(info)
    except Exception as err:  # pragma: no cover - describe() needs torch
        import platform

        info = {"platform": platform.platform(), "cores": os.cpu_count(), "error": str(err)}
        return info, f"- Machine: {info}"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = _args(argv)
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))[: args.threads]
        os.sched_setaffinity(0, cores)          # edt and the numba pools see these cores

    from geosr.assess.network import Segmentation, assess_network
    from geosr.assess.network.api import GROUPS
    from geosr.assess.network.segment import segment_pair
    from geosr.core.files import write_json
    from geosr.degrade import degrade
    from geosr.phantoms import phantom
    from geosr.resample import upscale

    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    n = args.size
    t0 = time.perf_counter()
    ph = phantom("dentin", dims=3, size_um=n * 0.2, spacing_um=0.2, seed=0)
    gt = ph.image
    pred = upscale(degrade(gt, scale=4, seed=0), 4, method="bicubic")
    setup = time.perf_counter() - t0
    print(f"volume {gt.shape} at {gt.spacing} um, porosity {ph.params['porosity']:.4f} "
          f"(setup {setup:.1f} s, not counted); {args.threads} threads")

    runs: dict[str, Any] = {}
    res = None
    for label in ("cold", "warm"):
        t = time.perf_counter()
        res = assess_network(pred, gt, graph=ph.graph)
        total = time.perf_counter() - t
        runs[label] = {"total_s": round(total, 2), "groups_s": res.details["timings_s"]}
        print(f"{label}: all metrics {total:.1f} s")
    seg_times = {}
    for seg in (Segmentation(method="otsu"), Segmentation(method="local"),
                Segmentation(method="tubeness")):
        t = time.perf_counter()
        segment_pair(pred, gt, seg)
        seg_times[seg.method] = round(time.perf_counter() - t, 2)
    load_after = os.getloadavg() if hasattr(os, "getloadavg") else None

    lines = [f"{'metric group':<14} {'cold s':>8} {'warm s':>8}"]
    for g in GROUPS:
        lines.append(f"{g:<14} {runs['cold']['groups_s'].get(g, float('nan')):>8.2f} "
                     f"{runs['warm']['groups_s'].get(g, float('nan')):>8.2f}")
    lines.append(f"{'TOTAL':<14} {runs['cold']['total_s']:>8.2f} "
                 f"{runs['warm']['total_s']:>8.2f}")
    print("\n" + "\n".join(lines) + "   (totals include the default Otsu segmentation)")
    print("segmentation of the pair: " + ", ".join(f"{k} {v:.1f} s"
                                                 for k, v in seg_times.items()))
    values = {m: {"prediction": res.value(m), "truth": res.value(m, "truth")}
              for m in ("porosity", "components", "beta1", "length_density", "conn_density",
                        "thickness_mean")}
    values.update({m: res.value(m) for m in ("clDice", "object_F1", "through_preserved")})
    machine, machine_md = _machine(args.threads)
    meets = max(runs["cold"]["total_s"], runs["warm"]["total_s"]) < 60
    result = {"benchmark": "network_speed", "command": " ".join(["python", *sys.argv]),
              "shape": list(gt.shape), "spacing_um": list(gt.spacing),
              "threads": args.threads, "setup_s": round(setup, 2), "runs": runs,
              "segmentation_s": seg_times, "target_s": 60, "meets_target": meets,
              "values": values, "load_before": load_before, "load_after": load_after,
              "machine": machine}
    md = "\n".join([
        "### network_speed — every network metric on a 256³ volume",
        "",
        f"Command: `{result['command']}`",
        "",
        f"- Volume: 3D dentin phantom {'×'.join(map(str, gt.shape))} at 0.2 µm (truth) and "
        "its ×4-degraded, bicubic-upscaled version (prediction); all metric groups of "
        "`assess_network(pred, gt, graph=...)`, both images measured and compared",
        f"- Threads: {args.threads}; load average before {load_before}, after {load_after}",
        f"- Total: cold (first call, numba JIT of skan/porespy included) "
        f"**{runs['cold']['total_s']:.1f} s**, warm **{runs['warm']['total_s']:.1f} s** "
        f"(target < 60 s: {'met' if meets else 'NOT met'})",
        f"- Segmentation of the pair: " + ", ".join(f"{k} {v:.1f} s"
                                                   for k, v in seg_times.items()),
        "",
        "```", *lines, "```", "", machine_md, ""])
    args.results.mkdir(parents=True, exist_ok=True)
    write_json(args.results / "network_speed.json", result)
    (args.results / "network_speed.md").write_text(md, encoding="utf-8")
    print(f"\nwritten: {args.results / 'network_speed.json'} and .md")
    return result


if __name__ == "__main__":
    main()
