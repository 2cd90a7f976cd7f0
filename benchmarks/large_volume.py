"""Benchmark: out-of-core prediction of a volume whose output is several times the memory
budget, on one process and on a dask ``LocalCluster``; peak memory, wall time, chunks/s,
parallel efficiency, and a paper projection for a 2000³ volume.

    .venv/bin/python benchmarks/large_volume.py                      # 256³ in, budget 128 MB
    .venv/bin/python benchmarks/large_volume.py --size 512 --max-memory 1024 --workers 4

Input: the LHDL trabecular-bone micro-CT (``bone/lhdl_trabecular_microct``, 200³ uint8,
19.5 µm) mirror-tiled to ``--size``³ and stored as OME-Zarr (uint8), read lazily.
Model: a light 3D ESPCN (``--model``; random weights, seed 0 — speed and memory do not depend
on the weights), ×2. Output: float32 OME-Zarr, ``8 × size³ × 4`` bytes.

Each run is a subprocess with one torch thread per process:

1. ``single``: ``predict_to_zarr(..., max_memory_mb=B)`` in one process; peak RSS =
   ``ru_maxrss`` of that process;
2. ``cluster``: the same with ``cluster=Client(LocalCluster(n_workers=N,
   threads_per_worker=1))``; peak RSS of every worker (``client.run``) and of the driver;
   cluster start-up timed apart.

Both outputs are compared chunk by chunk (bytes). Per-chunk cost = single wall time /
chunks; the projection for a 2000³ input multiplies it by the chunk count of 2000³ with the
same block, divided by N workers × the measured parallel efficiency. Timings on a shared,
busy machine are marked with its load average.

Results: ``benchmarks/results/large_volume.{json,md}`` (``--results``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = "bone/lhdl_trabecular_microct/3155_D_4_bc_200cube_uint8.tif"


def _data_root() -> Path:
    return Path(os.environ.get("GEOSR_DATA", HERE.parent.parent / "shared" / "data"))


def make_input(work: Path, size: int) -> Path:
    """The LHDL volume mirror-tiled to ``size``³, written as OME-Zarr slab by slab."""
    import numpy as np

    from geosr.core import Image
    from geosr.io import load, save

    path = work / f"lhdl_{size}.ome.zarr"
    if path.exists():
        return path
    src = load(_data_root() / DATA)
    base = src.numpy()
    reps = [math.ceil(size / n) for n in base.shape]
    tiled = np.pad(base, [(0, r * n - n) for r, n in zip(reps, base.shape)], mode="symmetric")
    save(Image(np.ascontiguousarray(tiled[:size, :size, :size]), "ZYX", spacing=src.spacing,
               unit=src.unit, metadata={"derived_from": DATA, "tiling": "mirror"}), path,
         compression="zstd")
    return path


def make_model(work: Path, spec: str) -> Path:
    import torch

    from geosr.models import build_model, save_model

    name, _, args = spec.partition(":")
    kwargs = {k: int(v) for k, v in (a.split("=") for a in args.split(",") if a)}
    torch.manual_seed(0)
    return save_model(work / "model", build_model(name, dims=3, scale=2, **kwargs))


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args: argparse.Namespace) -> None:
    """One measured run (in its own process); prints a JSON line."""
    import torch

    torch.set_num_threads(1)
    from geosr.predict.outofcore import predict_to_zarr

    before = _maxrss_mb()
    record: dict = {"mode": args.child, "rss_before_mb": before}
    out = Path(args.work) / f"out_{args.child}.ome.zarr"
    if args.child == "single":
        t = time.perf_counter()
        result = predict_to_zarr(args.input, out, args.model_path,
                                 max_memory_mb=args.max_memory, device="cpu", overwrite=True)
        record["wall_s"] = time.perf_counter() - t
        record["peak_rss_mb"] = _maxrss_mb()
    else:
        from distributed import Client, LocalCluster

        t = time.perf_counter()
        with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            record["startup_s"] = time.perf_counter() - t
            t = time.perf_counter()
            result = predict_to_zarr(args.input, out, args.model_path,
                                     max_memory_mb=args.max_memory, device="cpu",
                                     overwrite=True, cluster=client)
            record["wall_s"] = time.perf_counter() - t
            record["worker_peak_rss_mb"] = sorted(client.run(_maxrss_mb).values())
        record["peak_rss_mb"] = _maxrss_mb()       # the driver
    record.update(chunks=result["chunks"], block=result["block"])
    print("RESULT " + json.dumps(record), flush=True)


def _run(mode: str, args: argparse.Namespace, inp: Path, model: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--input", str(inp), "--model-path",
           str(model), "--work", str(args.work), "--max-memory", str(args.max_memory),
           "--workers", str(args.workers)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if done.returncode or not lines:
        raise SystemExit(f"{mode} run failed:\n{done.stderr[-4000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def _same_chunks(a: Path, b: Path) -> bool:
    files = sorted(p.relative_to(a) for p in (a / "0").rglob("*") if p.is_file())
    return all((a / f).read_bytes() == (b / f).read_bytes() for f in files) and len(files) == \
        sum(1 for p in (b / "0").rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--max-memory", type=float, default=128.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--model", default="espcn:features=16,features2=8")
    parser.add_argument("--work", default="/tmp/geosr_large_volume")
    parser.add_argument("--results", default=str(HERE / "results"))
    parser.add_argument("--child", choices=("single", "cluster"))
    parser.add_argument("--input")
    parser.add_argument("--model-path")
    parser.add_argument("--price-per-core-hour", type=float, default=0.05,
                        help="assumed cloud price (USD) for the cost projection")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    sys.path.insert(0, str(HERE))
    from _machine import describe, load_average

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    inp = make_input(work, args.size)
    model = make_model(work, args.model)
    out_bytes = 8 * args.size ** 3 * 4
    runs = {}
    for mode in ("single", "cluster"):
        load = load_average()
        runs[mode] = {**_run(mode, args, inp, model), "load_average_before": load}
        print(mode, json.dumps(runs[mode]), flush=True)
    same = _same_chunks(work / "out_single.ome.zarr", work / "out_cluster.ome.zarr")
    single, cluster = runs["single"], runs["cluster"]
    chunks, block = single["chunks"], single["block"]
    per_chunk = single["wall_s"] / chunks
    efficiency = single["wall_s"] / (args.workers * cluster["wall_s"])
    chunks_2000 = math.prod(math.ceil(2000 / b) for b in block)
    projection = []
    for n in (1, 16, 64, 256):
        eff = 1.0 if n == 1 else efficiency
        hours = chunks_2000 * per_chunk / (n * eff) / 3600
        projection.append({"workers": n, "hours": hours,
                           "core_hours": hours * n,
                           "cost_usd": hours * n * args.price_per_core_hour})
    record = {
        "benchmark": "large_volume", "machine": describe(),
        "input": {"source": DATA, "size": args.size, "tiling": "mirror", "dtype": "uint8"},
        "model": args.model, "scale": 2, "max_memory_mb": args.max_memory,
        "output_bytes": out_bytes, "output_over_budget": out_bytes / (args.max_memory * 2**20),
        "runs": runs, "same_bytes": same, "chunks": chunks, "block": block,
        "chunks_per_s": {m: chunks / r["wall_s"] for m, r in runs.items()},
        "per_chunk_s": per_chunk, "parallel_efficiency": efficiency,
        "projection_2000": {"chunks": chunks_2000, "assumption": "same block and per-chunk "
                            "cost; efficiency as measured on local:N for N > 1; price "
                            f"{args.price_per_core_hour} USD per core-hour (assumed)",
                            "rows": projection},
    }
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    (results / "large_volume.json").write_text(json.dumps(record, indent=2) + "\n")
    (results / "large_volume.md").write_text(_markdown(record) + "\n")
    print(_markdown(record))


def _markdown(r: dict) -> str:
    s, c = r["runs"]["single"], r["runs"]["cluster"]
    lines = [
        f"Input {r['input']['size']}³ (LHDL mirror-tiled, uint8) → ×2 float32 output "
        f"{r['output_bytes'] / 2**30:.2f} GiB = {r['output_over_budget']:.1f}× the "
        f"{r['max_memory_mb']:g} MB budget; model {r['model']}; {r['chunks']} chunks of "
        f"{r['block']} input voxels.",
        "",
        "| run | wall (s) | chunks/s | peak RSS (MB) | RSS before work (MB) | load avg |",
        "|---|---|---|---|---|---|",
        f"| 1 process | {s['wall_s']:.1f} | {r['chunks_per_s']['single']:.2f} | "
        f"{s['peak_rss_mb']:.0f} | {s['rss_before_mb']:.0f} | "
        f"{s['load_average_before']} |",
        f"| local:{len(c['worker_peak_rss_mb'])} (+{c['startup_s']:.1f} s start) | "
        f"{c['wall_s']:.1f} | {r['chunks_per_s']['cluster']:.2f} | workers "
        f"{', '.join(f'{v:.0f}' for v in c['worker_peak_rss_mb'])}; driver "
        f"{c['peak_rss_mb']:.0f} | {c['rss_before_mb']:.0f} | {c['load_average_before']} |",
        "",
        f"Same bytes on both: {r['same_bytes']}. Parallel efficiency "
        f"{r['parallel_efficiency']:.2f}; per-chunk cost {r['per_chunk_s']:.3f} s.",
        "",
        f"Projection for a 2000³ input ({r['projection_2000']['chunks']} chunks; "
        f"{r['projection_2000']['assumption']}):",
        "",
        "| workers | hours | core-hours | cost (USD) |", "|---|---|---|---|"]
    for p in r["projection_2000"]["rows"]:
        lines.append(f"| {p['workers']} | {p['hours']:.2f} | {p['core_hours']:.1f} | "
                     f"{p['cost_usd']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
