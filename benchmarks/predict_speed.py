"""Benchmark: prediction speed, tiling overhead, bounded memory and achieved GFLOP/s on the CPU.

    .venv/bin/python benchmarks/predict_speed.py            # full run (~10 min on 2 cores)
    .venv/bin/python benchmarks/predict_speed.py --quick    # smaller images, ~3 min
    .venv/bin/python benchmarks/predict_speed.py --models fsrcnn espcn --skip-memory
    .venv/bin/python benchmarks/predict_speed.py --models default "fsrcnn:residual_over=none"

A model is a registered name, ``NAME:key=value,...`` (architecture arguments, e.g.
``fsrcnn:preset=fast``) or ``default`` (the training default model, ``ModelConfig()``).

What it measures (every measurement runs in its own subprocess with ``--threads`` torch threads,
default 2, so memory peaks and oneDNN kernel caches do not leak between measurements):

1. **Convolution peak** of the machine: a ``Conv2d(64, 64, 3, padding=1)`` forward on
   ``1×64×512×512`` (and ``Conv3d(32, 32, 3, padding=1)`` on ``1×32×64³``) under
   ``torch.inference_mode``, median of ``--repeats + 2`` after warm-up; GFLOP/s with the
   convention of ``geosr.models.model_summary`` (2 × multiply-accumulates, zero-padded borders
   counted as work).
2. **Throughput** of every registered model at its light default (random weights, seed 0;
   speed does not depend on the weights), through the real front door
   ``geosr.predict.predict(image, loaded_model, ...)`` on a random float32 image: 2D
   ``--size2d``² LR ×``--scale2d`` (default 512² ×4) and 3D ``--size3d``³ LR ×``--scale3d``
   (default 64³ ×2). Output megapixels (megavoxels) per second = output pixels / median
   wall time of ``--repeats`` calls after one warm-up call. The time covers everything
   ``predict`` does (percentile normalisation, the forward pass, blending, de-normalisation),
   not model loading (the model is loaded once, as a :class:`LoadedModel`).
3. **Tiling overhead**: the same image untiled (one window: ``tile`` ≥ the image) and tiled in
   2 windows per axis (``tile = ⌈(n + overlap)/2⌉`` rounded up to the model's alignment, the
   overlap being ``predict``'s default ``2·halo + max(2, ⌈halo/4⌉)``, which makes tiling
   exact); untiled and tiled calls alternate, overhead = median(tiled) / median(untiled) − 1.
   The share of it that is redundant computation of the overlaps is
   ``windows·∏window / ∏n − 1``.
4. **Achieved GFLOP/s** = FLOPs per output pixel (``model_summary``, same convention as 1.)
   × output pixels / median untiled time; and the fraction of the measured convolution peak
   (2D models against the Conv2d peak, 3D models against the Conv3d peak).
5. **Bounded memory**: peak resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of
   the subprocess) of ``predict(volume, model, max_memory_mb=B)`` for each ``B`` of
   ``--max-memory`` (default 256 and 1024 MB) on a ``--memory-size``³ LR volume (default 96³,
   ×``--scale3d``, model ``--memory-models``, default fsrcnn) whose untiled pass needs more
   than the budget by ``model_summary``'s activation estimate, against the RSS before the
   call (imports, model, input, one tiny warm-up call) and, when the estimate is below
   ``--untiled-limit-mb``, an untiled pass of the same volume for contrast.

Timing under load: the minimum of the repeats is reported beside the median; with other
processes on the cores the minimum is the less biased estimate of the undisturbed cost.

Results: ``benchmarks/results/predict_speed.{json,md}`` (``--results``), printed too.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import _machine  # noqa: E402


# --------------------------------------------------------------------------- helpers
def _maxrss_mb() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _rss_mb() -> float:
    """Current resident set size, MiB (from /proc/self/statm)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return float("nan")


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def model_spec(name: str) -> tuple[str, dict[str, Any]]:
    """``"fsrcnn:preset=fast,residual_over=none"`` → ``("fsrcnn", {...})`` (values read as
    JSON when they parse, else strings); ``"default"`` is the training default model."""
    if name == "default":
        from geosr.train.config import ModelConfig

        cfg = ModelConfig()
        return cfg.name, dict(cfg.arguments)
    base, _, rest = name.partition(":")
    arguments: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        try:
            arguments[key] = json.loads(value)
        except json.JSONDecodeError:
            arguments[key] = value
    return base, arguments


def _summary(name: str, dims: int, scale: int) -> dict[str, Any]:
    from geosr.models import model_summary

    base, arguments = model_spec(name)
    return model_summary(base, dims=dims, scale=scale, **arguments)


def _saved_model(name: str, dims: int, scale: int, folder: Path) -> Path:
    import torch

    from geosr.models import build_model, save_model

    torch.manual_seed(0)
    base, arguments = model_spec(name)
    module = build_model(base, dims=dims, scale=scale, **arguments)
    return save_model(folder / f"{base}-{dims}d-x{scale}", module, {"seed": 0,
                      "note": "random weights, for speed benchmarks only"})


def _input(shape: tuple[int, ...], seed: int = 0):
    import numpy as np

    return np.random.default_rng(seed).random(shape, dtype=np.float32)


# --------------------------------------------------------------------------- workers
def worker_conv_peak(spec: dict[str, Any]) -> dict[str, Any]:
    """GFLOP/s of one large convolution (2D and 3D)."""
    import torch

    _set_threads(spec["threads"])
    out = {}
    cases = [("conv2d", torch.nn.Conv2d(64, 64, 3, padding=1), (1, 64, 512, 512)),
             ("conv3d", torch.nn.Conv3d(32, 32, 3, padding=1), (1, 32, 64, 64, 64))]
    for name, conv, shape in cases:
        conv.eval()
        x = torch.rand(shape)
        with torch.inference_mode():
            y = conv(x)
            macs = y.numel() * conv.in_channels * math.prod(conv.kernel_size)
            for _ in range(2):
                conv(x)
            times = []
            for _ in range(spec["repeats"]):
                t0 = time.perf_counter()
                conv(x)
                times.append(time.perf_counter() - t0)
        t = _median(times)
        out[name] = {"layer": f"{type(conv).__name__}({conv.in_channels}, {conv.out_channels}, "
                              f"{conv.kernel_size[0]}, padding=1)",
                     "input_shape": list(shape), "gflop": 2 * macs / 1e9,
                     "median_s": t, "times_s": times, "gflops": 2 * macs / t / 1e9}
    return out


def worker_throughput(spec: dict[str, Any]) -> dict[str, Any]:
    """Untiled vs 2-windows-per-axis tiled ``predict`` of one model on one image size."""
    import torch

    from geosr.models import load_model
    from geosr.predict import predict
    from geosr.predict.tiling import default_overlap

    _set_threads(spec["threads"])
    name, dims, scale, n = spec["model"], spec["dims"], spec["scale"], spec["size"]
    with tempfile.TemporaryDirectory(prefix="geosr-speed-") as tmp:
        path = _saved_model(name, dims, scale, Path(tmp))
        loaded = load_model(path, device="cpu")
    summary = _summary(name, dims, scale)
    halo = summary["halo"]
    align = summary["alignment"]
    shape = (n,) * dims
    x = _input(shape)
    overlap = [default_overlap(h) for h in halo]
    # two windows per axis: each ceil((n + overlap) / 2), rounded up to the alignment
    half = [-(-(n + o) // 2) for o in overlap]
    tile = [min(-(-h // a) * a, n) for h, a in zip(half, align)]
    untiled_tile = max(shape)

    cpu_u: list[float] = []    # CPU seconds of this process (robust to other jobs' load)

    def run(tiled: bool) -> tuple[float, dict[str, Any]]:
        t0, c0 = time.perf_counter(), time.process_time()
        out = predict(x, loaded, tile=tile if tiled else untiled_tile, device="cpu")
        dt = time.perf_counter() - t0
        if not tiled:
            cpu_u.append(time.process_time() - c0)
        return dt, out.metadata["prediction"]["tiling"]

    warm_u, rec_u = run(False)
    warm_t, rec_t = run(True)
    cpu_u.clear()
    times_u, times_t = [], []
    for _ in range(spec["repeats"]):
        times_u.append(run(False)[0])
        times_t.append(run(True)[0])
    # the bare forward pass, for the share of predict's own work (normalisation, blending)
    xt = torch.from_numpy(x)[None, None]
    times_f = []
    with torch.inference_mode():
        loaded.module(xt)
        for _ in range(max(2, spec["repeats"] - 1)):
            t0 = time.perf_counter()
            loaded.module(xt)
            times_f.append(time.perf_counter() - t0)
    out_px = math.prod(s * scale for s in shape)
    t_u, t_t = _median(times_u), _median(times_t)
    m_u, m_t = min(times_u), min(times_t)
    windows = rec_t["windows"]
    computed = windows * math.prod(rec_t["tile"]) / math.prod(shape)
    flops_px = summary["flops_per_output_pixel"]
    return {
        "model": name, "dims": dims, "scale": scale, "lr_shape": list(shape),
        "out_pixels": out_px, "parameters": summary["parameters"],
        "flops_per_output_pixel": flops_px, "halo": halo, "alignment": align,
        "global_context": summary["global_context"],
        "warmup_s": {"untiled": warm_u, "tiled": warm_t},
        "untiled": {"times_s": times_u, "median_s": t_u, "min_s": m_u, "tiling": rec_u,
                    "cpu_times_s": cpu_u, "cpu_median_s": _median(cpu_u),
                    "out_mpix_per_s": out_px / t_u / 1e6,
                    "out_mpix_per_s_best": out_px / m_u / 1e6},
        "tiled": {"times_s": times_t, "median_s": t_t, "min_s": m_t, "tiling": rec_t,
                  "out_mpix_per_s": out_px / t_t / 1e6,
                  "out_mpix_per_s_best": out_px / m_t / 1e6},
        "forward_only": {"times_s": times_f, "median_s": _median(times_f),
                         "min_s": min(times_f)},
        "tiling_overhead": t_t / t_u - 1.0,
        "tiling_overhead_min": m_t / m_u - 1.0,
        "tiling_overhead_paired_median": _median([b / a - 1 for a, b in zip(times_u, times_t)]),
        "redundant_compute": computed - 1.0,
        # time per computed pixel, tiled vs untiled: the cost of tiling beyond recomputing
        # the overlaps (window bookkeeping, blending, smaller forward passes)
        "overhead_beyond_redundancy": t_t / (t_u * computed) - 1.0,
        "tiled_single_window": windows == 1,
        "gflops_untiled": flops_px * out_px / t_u / 1e9,
        "gflops_forward_only": flops_px * out_px / _median(times_f) / 1e9,
        "gflops_untiled_best": flops_px * out_px / m_u / 1e9,
        "max_rss_mb": _maxrss_mb(),
    }


def worker_memory(spec: dict[str, Any]) -> dict[str, Any]:
    """Peak RSS of one ``predict`` call on a 3D volume (``max_memory_mb`` or untiled)."""
    import numpy as np

    from geosr.models import load_model
    from geosr.predict import predict

    _set_threads(spec["threads"])
    name, scale, n = spec["model"], spec["scale"], spec["size"]
    summary = _summary(name, 3, scale)
    with tempfile.TemporaryDirectory(prefix="geosr-mem-") as tmp:
        path = _saved_model(name, 3, scale, Path(tmp))
        loaded = load_model(path, device="cpu")
    x = _input((n, n, n))
    # a tiny call first so that lazy imports and oneDNN initialisation are in the baseline
    predict(np.asarray(x[:8, :8, :8]), loaded, device="cpu")
    rss_before, peak_before = _rss_mb(), _maxrss_mb()
    t0 = time.perf_counter()
    if spec["budget_mb"] is None:
        out = predict(x, loaded, tile=n, device="cpu")
    else:
        out = predict(x, loaded, max_memory_mb=spec["budget_mb"], device="cpu")
    dt = time.perf_counter() - t0
    tiling = out.metadata["prediction"]["tiling"]
    out_mb = out.numpy().nbytes / 2**20
    del out
    peak_after = _maxrss_mb()
    return {
        "model": name, "scale": scale, "lr_shape": [n] * 3, "budget_mb": spec["budget_mb"],
        "seconds": dt, "tiling": tiling,
        "untiled_activation_estimate_mb": summary["activation_bytes_per_input_pixel"] * n**3
        / 2**20,
        "input_mb": x.nbytes / 2**20, "output_mb": out_mb,
        "rss_before_mb": rss_before, "max_rss_before_mb": peak_before,
        "max_rss_mb": peak_after, "peak_increase_mb": peak_after - rss_before,
    }


WORKERS = {"conv_peak": worker_conv_peak, "throughput": worker_throughput,
           "memory": worker_memory}


#: A measurement during which other processes kept more cores busy than this is "disturbed".
DISTURBED_CORES = 0.2


def _spawn_once(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, json.dumps(spec)]
    env = {**os.environ, "OMP_NUM_THREADS": str(spec["threads"]),
           "MKL_NUM_THREADS": str(spec["threads"])}
    monitor = _machine.CpuMonitor()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    cpu = monitor.stop()
    if proc.returncode:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-5:],
                "spec": spec, "cpu": cpu}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["cpu"] = cpu
    return result


def _spawn(kind: str, spec: dict[str, Any], retries: int = 0) -> dict[str, Any]:
    """Run a worker in a subprocess; while other processes disturbed it (more than
    DISTURBED_CORES busy cores on average) repeat it up to ``retries`` times and keep the
    least disturbed attempt."""
    best = None
    for attempt in range(retries + 1):
        result = _spawn_once(kind, spec)
        others = result["cpu"].get("others_cores") or 0.0
        result["attempt"] = attempt + 1
        if best is None or others < (best["cpu"].get("others_cores") or 0.0):
            best = result
        if "error" in result or others <= DISTURBED_CORES:
            break
        print(f"  disturbed ({others:.2f} other cores busy)"
              + (", repeating" if attempt < retries else ""), flush=True)
    best["disturbed"] = (best["cpu"].get("others_cores") or 0.0) > DISTURBED_CORES
    return best


# --------------------------------------------------------------------------- report
def _others(r: dict[str, Any]) -> str:
    value = r.get("cpu", {}).get("others_cores")
    return "n/a" if value is None else f"{value:.2f}" + (" ⚠" if r.get("disturbed") else "")


def _markdown(res: dict[str, Any]) -> str:
    peak = res["conv_peak"]
    lines = [
        "### predict_speed — CPU prediction throughput, tiling overhead, bounded memory",
        "",
        f"Command: `{res['command']}`",
        "",
        f"- Threads: {res['threads']} torch threads (OMP/MKL threads {res['threads']}), every "
        "measurement in its own subprocess; random-weight models at their light defaults, "
        "random float32 input; time = wall time of `geosr.predict.predict(image, "
        "LoadedModel, device='cpu')` (normalisation, forward, blending, de-normalisation; "
        "model loading excluded)",
        f"- Load average (1/5/15 min): before {res['load_before']}, after {res['load_after']}"
        f" on {res['machine']['logical_cpus']} CPUs; other processes kept "
        f"{res['cpu'].get('others_cores', float('nan')):.2f} cores busy on average over the "
        f"{res['wall_s'] / 60:.1f}-minute run (/proc/stat minus this process and its "
        "children); 'others' column = the same during each measurement (> "
        f"{res['disturbed_threshold_cores']} = disturbed, pessimistic)",
    ]
    if "error" not in peak:
        lines.append(
            f"- Measured convolution peak: {peak['conv2d']['layer']} on "
            f"{'×'.join(map(str, peak['conv2d']['input_shape']))}: "
            f"**{peak['conv2d']['gflops']:.1f} GFLOP/s** ({peak['conv2d']['median_s']:.3f} s for "
            f"{peak['conv2d']['gflop']:.1f} GFLOP); {peak['conv3d']['layer']} on "
            f"{'×'.join(map(str, peak['conv3d']['input_shape']))}: "
            f"**{peak['conv3d']['gflops']:.1f} GFLOP/s** (FLOPs = 2 × MACs, padded borders "
            f"counted; median of {len(peak['conv2d']['times_s'])}; others {_others(peak)})")
    for dims in (2, 3):
        rows = [r for r in res["throughput"] if r.get("dims") == dims or
                r.get("spec", {}).get("dims") == dims]
        if not rows:
            continue
        unit = "Mpx/s" if dims == 2 else "Mvox/s"
        size = res["settings"][f"size{dims}d"]
        scale = res["settings"][f"scale{dims}d"]
        ref = peak.get(f"conv{dims}d", {}).get("gflops") if "error" not in peak else None
        lines += [
            "",
            f"**{dims}D: {size}{'²' if dims == 2 else '³'} LR ×{scale} → "
            f"{size * scale}{'²' if dims == 2 else '³'} output** (median of "
            f"{res['settings']['repeats']} after a warm-up, minimum in brackets; throughput "
            "from the median; overhead = median tiled / median untiled − 1 (ratio of minima "
            "in brackets); redundant compute = extra pixels computed in the overlaps; overhead "
            "per computed px = tiled time per computed pixel / untiled − 1; % of conv peak from "
            "the median)",
            "",
            f"| model | params | kFLOP/out px | untiled s (min) | untiled {unit} | tiled windows "
            f"| tiled s (min) | tiled {unit} | tiling overhead (of minima) | redundant compute | "
            f"overhead per computed px | GFLOP/s (best) | % of conv peak | forward-only "
            f"GFLOP/s | others |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in rows:
            if "error" in r:
                lines.append(f"| {r['spec']['model']} | error: {r['error'][-1]} |"
                             + " |" * 13)
                continue
            u, t = r["untiled"], r["tiled"]
            tile = "×".join(str(v) for v in t["tiling"]["tile"])
            pct = f"{100 * r['gflops_untiled'] / ref:.0f} %" if ref else "n/a"
            lines.append(
                f"| {r['model']}{' (global ctx)' if r['global_context'] else ''} | "
                f"{r['parameters']:,} | {r['flops_per_output_pixel'] / 1e3:.1f} | "
                f"{u['median_s']:.2f} ({u['min_s']:.2f}) | {u['out_mpix_per_s']:.2f} | "
                f"{t['tiling']['windows']} of {tile} | {t['median_s']:.2f} ({t['min_s']:.2f}) | "
                f"{t['out_mpix_per_s']:.2f} | "
                + ("n/a: one window (halo too large for 2 per axis at this size) | – | – | "
                   if r["tiled_single_window"] else
                   f"{100 * r['tiling_overhead']:+.1f} % ({100 * r['tiling_overhead_min']:+.1f} %)"
                   f" | {100 * r['redundant_compute']:.1f} % | "
                   f"{100 * r['overhead_beyond_redundancy']:+.1f} % | ")
                + f"{r['gflops_untiled']:.1f} ({r['gflops_untiled_best']:.1f}) | {pct} | "
                f"{r['gflops_forward_only']:.1f} | {_others(r)} |")
    mem = res.get("memory") or []
    if mem:
        lines += ["", "**Bounded memory (3D)** — peak RSS of the subprocess "
                      "(`ru_maxrss`); 'before' = RSS after imports, model and input, before the "
                      "measured `predict` call", "",
                  "| model | LR volume | max_memory_mb | untiled activation estimate | "
                  "windows (tile) | activation estimate per batch | RSS before | peak RSS | "
                  "peak − before | input + output arrays | time | others |",
                  "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
        for m in mem:
            if "error" in m:
                lines.append(f"| {m['spec']['model']} | error: {m['error'][-1]} |" + " |" * 10)
                continue
            tl = m["tiling"]
            lines.append(
                f"| {m['model']} ×{m['scale']} | {'×'.join(map(str, m['lr_shape']))} | "
                f"{m['budget_mb'] if m['budget_mb'] is not None else 'untiled'} | "
                f"{m['untiled_activation_estimate_mb']:.0f} MB | {tl['windows']} "
                f"({'×'.join(map(str, tl['tile']))}) | {tl['activation_memory_mb_estimate']:.0f} MB"
                f" | {m['rss_before_mb']:.0f} MB | {m['max_rss_mb']:.0f} MB | "
                f"{m['peak_increase_mb']:.0f} MB | {m['input_mb'] + m['output_mb']:.0f} MB | "
                f"{m['seconds']:.1f} s | {_others(m)} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main
def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--models", nargs="*", default=None,
                   help="registered models to measure (default: all)")
    p.add_argument("--size2d", type=int, default=None, help="2D LR edge (default 512)")
    p.add_argument("--scale2d", type=int, default=4)
    p.add_argument("--size3d", type=int, default=None, help="3D LR edge (default 64)")
    p.add_argument("--scale3d", type=int, default=2)
    p.add_argument("--repeats", type=int, default=None, help="timed calls (default 3)")
    p.add_argument("--max-memory", type=float, nargs="+", default=[256.0, 1024.0],
                   help="max_memory_mb value(s) of the bounded-memory test (default 256 1024)")
    p.add_argument("--memory-size", type=int, default=None,
                   help="3D LR edge of the bounded-memory test (default 96)")
    p.add_argument("--memory-models", nargs="*", default=["fsrcnn"],
                   help="models of the bounded-memory test (default fsrcnn)")
    p.add_argument("--untiled-limit-mb", type=float, default=6000.0,
                   help="run the untiled contrast only when its activation estimate is below "
                        "this (default 6000)")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--retries", type=int, default=0,
                   help="repeat a measurement disturbed by other processes (> 0.2 cores busy "
                        "besides it) up to this many times, keeping the least disturbed "
                        "(default 0)")
    p.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                   help="first wait up to this long for other processes to leave the CPUs")
    p.add_argument("--quick", action="store_true",
                   help="256² 2D, 32³ 3D, 2 repeats, 64³ memory volume, 256 MB budget only")
    p.add_argument("--results", type=Path, default=HERE / "results")
    p.add_argument("--worker", nargs=2, metavar=("KIND", "SPEC"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    quick = args.quick
    args.size2d = args.size2d or (256 if quick else 512)
    args.size3d = args.size3d or (32 if quick else 64)
    args.repeats = args.repeats or (2 if quick else 3)
    args.memory_size = args.memory_size or (64 if quick else 96)
    if quick and "--max-memory" not in (argv if argv is not None else sys.argv[1:]):
        args.max_memory = [256.0]
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = _args(argv)
    if args.worker:
        kind, spec = args.worker
        print(json.dumps(WORKERS[kind](json.loads(spec))))
        return {}
    _set_threads(args.threads)
    from geosr.core.files import write_json
    from geosr.models import available_models

    models = args.models or available_models()
    idle = _machine.wait_for_idle(args.wait_idle) if args.wait_idle > 0 else None
    load_before = _machine.load_average()
    whole = _machine.CpuMonitor()
    machine = _machine.describe()
    t_start = time.perf_counter()
    base = {"threads": args.threads, "repeats": args.repeats}

    print("convolution peak ...", flush=True)
    conv_peak = _spawn("conv_peak", {**base, "repeats": args.repeats + 2}, args.retries)
    throughput = []
    for dims, size, scale in ((2, args.size2d, args.scale2d), (3, args.size3d, args.scale3d)):
        for name in models:
            print(f"{name} {dims}D {size} x{scale} ...", flush=True)
            r = _spawn("throughput", {**base, "model": name, "dims": dims, "size": size,
                                      "scale": scale}, args.retries)
            if "error" not in r:
                print(f"  untiled {r['untiled']['median_s']:.2f} s "
                      f"(CPU {r['untiled']['cpu_median_s']:.2f} s) "
                      f"({r['untiled']['out_mpix_per_s']:.2f} M/s), tiled "
                      f"{r['tiled']['median_s']:.2f} s, overhead "
                      f"{100 * r['tiling_overhead']:+.1f} %, {r['gflops_untiled']:.1f} GFLOP/s",
                      flush=True)
            else:
                print("  error:", r["error"], flush=True)
            throughput.append(r)
    memory = []
    if not args.skip_memory:
        for name in args.memory_models:
            est = (_summary(name, 3, args.scale3d)
                   ["activation_bytes_per_input_pixel"] * args.memory_size**3 / 2**20)
            if est <= max(args.max_memory):
                print(f"note: {name} at {args.memory_size}³ needs only ~{est:.0f} MB untiled; "
                      f"raise --memory-size to exceed --max-memory", flush=True)
            budgets: list[float | None] = list(args.max_memory)
            if est <= args.untiled_limit_mb:
                budgets.append(None)
            for budget in budgets:
                print(f"memory: {name} {args.memory_size}³ x{args.scale3d} budget {budget} ...",
                      flush=True)
                m = _spawn("memory", {"threads": args.threads, "model": name,
                                      "scale": args.scale3d, "size": args.memory_size,
                                      "budget_mb": budget}, args.retries)
                if "error" not in m:
                    print(f"  peak RSS {m['max_rss_mb']:.0f} MB (before {m['rss_before_mb']:.0f}"
                          f" MB), {m['tiling']['windows']} windows, {m['seconds']:.1f} s",
                          flush=True)
                memory.append(m)
    load_after = _machine.load_average()
    cpu_whole = whole.stop()
    raw = argv if argv is not None else sys.argv[1:]
    result = {
        "benchmark": "predict_speed",
        "command": ".venv/bin/python benchmarks/predict_speed.py" + (
            " " + " ".join(raw) if raw else ""),
        "machine": machine, "threads": args.threads,
        "settings": {"size2d": args.size2d, "scale2d": args.scale2d, "size3d": args.size3d,
                     "scale3d": args.scale3d, "repeats": args.repeats,
                     "max_memory_mb": args.max_memory, "memory_size": args.memory_size,
                     "memory_models": args.memory_models,
                     "models": models},
        "load_before": load_before, "load_after": load_after, "wait_idle": idle,
        "cpu": cpu_whole, "disturbed_threshold_cores": DISTURBED_CORES,
        "wall_s": time.perf_counter() - t_start,
        "conv_peak": conv_peak, "throughput": throughput, "memory": memory,
        "conventions": {
            "flops": "2 x multiply-accumulates of Conv/ConvTranspose/Linear layers per output "
                     "pixel (geosr.models.model_summary), zero-padded borders counted",
            "throughput": "output pixels / median wall time of predict() calls",
            "rss": "resource.getrusage(RUSAGE_SELF).ru_maxrss of the measuring subprocess",
        },
    }
    md = _markdown(result)
    args.results.mkdir(parents=True, exist_ok=True)
    write_json(args.results / "predict_speed.json", result)
    (args.results / "predict_speed.md").write_text(md, encoding="utf-8")
    print(json.dumps(result, indent=2, default=str))
    print(md)
    return result


if __name__ == "__main__":
    main()
