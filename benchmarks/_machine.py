"""Describe the machine a benchmark ran on (shared by the scripts in ``benchmarks/``).

``describe()`` returns a JSON-friendly dict: CPU model, cores, torch threads, RAM, load
average (1/5/15 min, from ``os.getloadavg``), Python/torch/numpy/geosr versions, the torch
BLAS/oneDNN build, the GPU if torch sees one, and a UTC time stamp. ``markdown(info)`` renders
it as a short bullet list for the results files.

Nothing here imports geosr at module level; torch is imported inside ``describe``.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import subprocess
import time as _time
from pathlib import Path
from typing import Any

__all__ = ["describe", "markdown", "load_average", "git_commit", "CpuMonitor",
           "wait_for_idle"]


def _cpuinfo() -> dict[str, Any]:
    info: dict[str, Any] = {"model": platform.processor() or platform.machine(),
                            "mhz": None, "flags": []}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "model name" and info["model"] in (None, "", platform.machine(),
                                                     platform.processor()):
            info["model"] = value
        elif key == "cpu MHz" and info["mhz"] is None:
            info["mhz"] = float(value)
        elif key == "flags" and not info["flags"]:
            flags = set(value.split())
            info["flags"] = sorted(f for f in ("avx", "avx2", "fma", "avx512f", "avx512_bf16",
                                               "amx_tile", "hypervisor") if f in flags)
        elif key == "cpu family" and "family" not in info:
            info["family"] = value
        elif key == "model" and "model_number" not in info:
            info["model_number"] = value
    return info


def _lscpu_model() -> str | None:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"^Model name:\s*(.+)$", out, re.M)
    return m.group(1).strip() if m else None


def _ram_gib() -> dict[str, float | None]:
    out: dict[str, float | None] = {"total_gib": None, "available_gib": None}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key == "MemTotal":
                out["total_gib"] = round(int(value.split()[0]) / 2**20, 1)
            elif key == "MemAvailable":
                out["available_gib"] = round(int(value.split()[0]) / 2**20, 1)
    except OSError:
        pass
    return out


def load_average() -> list[float] | None:
    """1-, 5- and 15-minute load averages (None where unavailable)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _cpu_jiffies() -> tuple[int, int] | None:
    """(busy, total) clock ticks of all CPUs since boot, from /proc/stat."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)   # idle + iowait
    total = sum(fields[:8])                                    # guest time is inside user
    return total - idle, total


def _own_cpu_s() -> float:
    """CPU seconds used by this process and its waited-for children."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class CpuMonitor:
    """How busy the machine was while a benchmark ran, split into this process (and its
    children) and everything else: ``others_cores`` is the average number of cores other
    processes kept busy — a direct measure of the interference that the load average only
    hints at.

    >>> mon = CpuMonitor(); ...; mon.stop()        # doctest: +SKIP
    {'wall_s': 12.0, 'machine_busy_cores': 1.9, 'own_cores': 1.8, 'others_cores': 0.1, ...}
    """

    def __init__(self) -> None:
        self.t0 = _time.perf_counter()
        self.j0 = _cpu_jiffies()
        self.own0 = _own_cpu_s()
        self.load0 = load_average()

    def stop(self) -> dict[str, Any]:
        wall = _time.perf_counter() - self.t0
        j1, own = _cpu_jiffies(), _own_cpu_s() - self.own0
        out: dict[str, Any] = {"wall_s": round(wall, 2), "load_average_start": self.load0,
                               "load_average_end": load_average(), "cpus": os.cpu_count()}
        if self.j0 and j1 and wall > 0:
            hz = os.sysconf("SC_CLK_TCK")
            busy = (j1[0] - self.j0[0]) / hz
            out.update(machine_busy_cores=round(busy / wall, 3),
                       own_cores=round(own / wall, 3),
                       others_cores=round(max(busy - own, 0.0) / wall, 3))
        return out


def wait_for_idle(max_wait_s: float, *, max_busy_cores: float = 0.25, window_s: float = 10.0,
                  verbose: bool = True) -> dict[str, Any]:
    """Wait (at most ``max_wait_s``) until the machine's busy cores, averaged over
    ``window_s``, fall to ``max_busy_cores`` or less (this process is idle meanwhile).
    Returns ``{"waited_s", "idle", "busy_cores"}``."""
    t0 = _time.perf_counter()
    busy = None
    while True:
        a = _cpu_jiffies()
        _time.sleep(window_s)
        b = _cpu_jiffies()
        if a is None or b is None:
            return {"waited_s": 0.0, "idle": None, "busy_cores": None}
        busy = (b[0] - a[0]) / os.sysconf("SC_CLK_TCK") / window_s
        waited = _time.perf_counter() - t0
        if busy <= max_busy_cores:
            return {"waited_s": round(waited, 1), "idle": True, "busy_cores": round(busy, 3)}
        if waited >= max_wait_s:
            return {"waited_s": round(waited, 1), "idle": False, "busy_cores": round(busy, 3)}
        if verbose:
            print(f"waiting for an idle machine: {busy:.2f} cores busy "
                  f"({waited:.0f}/{max_wait_s:.0f} s)", flush=True)


def git_commit(repo: Path | None = None) -> str | None:
    """The checked-out commit (read-only ``git rev-parse``), with ``+dirty`` when the working
    tree has changes; None outside a repository."""
    repo = repo or Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo,
                              capture_output=True, text=True, timeout=5)
        if head.returncode:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=repo, capture_output=True, text=True, timeout=10)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def describe() -> dict[str, Any]:
    """The machine and software a benchmark runs on (see the module docstring)."""
    import numpy as np
    import torch

    cpu = _cpuinfo()
    model = cpu["model"]
    if not model or model in (platform.machine(), ""):
        model = _lscpu_model() or model
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    try:
        import geosr
        geosr_version = geosr.__version__
    except Exception:  # noqa: BLE001 - a description must not fail
        geosr_version = None
    gpu = None
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        gpu = {"name": props.name, "memory_gib": round(props.total_memory / 2**30, 1),
               "count": torch.cuda.device_count()}
    config = torch.__config__.show()
    blas = sorted(set(re.findall(r"\b(BLAS_INFO=\w+|USE_MKLDNN=\w+|USE_OPENMP=\w+|"
                                 r"PERF_WITH_AVX2=\w+)", config)))
    return {
        "cpu_model": model,
        "cpu_family_model": [cpu.get("family"), cpu.get("model_number")],
        "cpu_mhz": cpu["mhz"],
        "cpu_flags": cpu["flags"],
        "logical_cpus": os.cpu_count(),
        "cpus_available": affinity,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "ram": _ram_gib(),
        "load_average": load_average(),
        "gpu": gpu,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "geosr": geosr_version,
        "geosr_commit": git_commit(),
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
        "torch_build": blas,
        "time_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def markdown(info: dict[str, Any]) -> str:
    """A short bullet list describing ``info`` (from :func:`describe`)."""
    ram = info.get("ram") or {}
    gpu = info.get("gpu")
    lines = [
        f"- CPU: {info['cpu_model']} (family/model {'/'.join(str(x) for x in info['cpu_family_model'])}, "
        f"{info['cpu_mhz']} MHz reported, flags {', '.join(info['cpu_flags']) or 'n/a'}); "
        f"{info['logical_cpus']} logical CPUs, {info['cpus_available']} available to the "
        f"process; torch threads {info['torch_threads']}",
        f"- RAM: {ram.get('total_gib')} GiB total, {ram.get('available_gib')} GiB available",
        f"- GPU: {gpu['name'] + ' ×' + str(gpu['count']) if gpu else 'none (CPU only)'}",
        f"- Software: {info['os']}, Python {info['python']}, torch {info['torch']} "
        f"(oneDNN {'on' if info['mkldnn'] else 'off'}), numpy {info['numpy']}, geosr "
        f"{info['geosr']} (commit {info['geosr_commit']})",
        f"- Load average (1/5/15 min) when described: {info['load_average']}",
        f"- Time (UTC): {info['time_utc']}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":   # python benchmarks/_machine.py
    import json

    print(json.dumps(describe(), indent=2))
