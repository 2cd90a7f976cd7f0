"""Out-of-core prediction into OME-Zarr 0.5: volumes larger than memory, resumable.

:func:`predict_to_zarr` opens the input lazily (Zarr/OME-Zarr, TIFF, folder of TIFF slices;
:func:`geosr.io.volumes.open_volume`), cuts it into blocks (:mod:`geosr.predict.blocks`) sized
so that one block's window, activations included, fits ``max_memory_mb``, and predicts each
block with its receptive-field margin into exactly one chunk of the output array. Output
chunks are written whole and independently, so blocks are tasks: run here one after another,
or on a dask cluster (:mod:`geosr.core.cluster`) — the same bytes either way.

Resuming
    The output is built in ``.<name>.partial`` beside ``OUT`` and renamed to ``OUT`` only when
    complete (pyramid and metadata included). Each finished chunk leaves a marker file in
    ``.geosr-chunks/`` of that folder, written *after* the chunk; a rerun with the same model,
    input and settings computes only the chunks without a marker (a chunk whose writer was
    killed is simply recomputed; blocks are deterministic and chunks are zstd-compressed —
    gzip would stamp each chunk with the time — so the final bytes equal an uninterrupted
    run's). Other settings start over.

Normalisation
    The model's percentile normalisation is fitted on the whole input when it fits in the
    budget (then the result equals the in-memory :func:`geosr.predict.predict` to float
    rounding), else on a regular grid sample of the input (recorded).

>>> from geosr.predict.outofcore import predict_to_zarr
>>> predict_to_zarr("ct.tif", "sr.ome.zarr", "runs/model", max_memory_mb=512)  # doctest: +SKIP
{'path': 'sr.ome.zarr', 'status': 'written', 'chunks': 512, 'computed': 512, ...}
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from geosr.core.errors import ConfigError, InputError
from geosr.predict.blocks import BlockAxis, choose_block

__all__ = ["predict_to_zarr", "ZarrJob", "run_block", "OUTPUT_DTYPES"]

OUTPUT_DTYPES = ("float32", "uint16", "uint8")
_MARKERS = ".geosr-chunks"
_MAX_OUT_CHUNK = {2: 1024, 3: 128}     # output chunk side (pixels) at most
_SAMPLE_VOXELS = 2 ** 22                # normalisation sample when the input is too big
_WINDOW_SHARE = 0.75                    # of the budget for one block's window; the rest is
                                        # for reading, compressing and the normalisation fit
_CACHE: dict[tuple, Any] = {}           # per process: loaded models, opened volumes/arrays


@dataclasses.dataclass(frozen=True)
class ZarrJob:
    """Everything a worker needs to predict one block (picklable; no model, no array)."""

    source: str
    partial: str
    model_path: str | None
    model_sha256: str
    has_channels: bool
    out_channels_axis: bool
    axes: tuple[BlockAxis, ...]
    lo: float
    hi: float
    normalizer: dict
    dtype: str
    clip: tuple[float, float] | None
    token: str = ""      #: identifies the partial output (per-process caches follow it)

    def indices(self) -> list[tuple[int, ...]]:
        return list(itertools.product(*[range(a.count) for a in self.axes]))


def marker_name(index: Sequence[int]) -> str:
    return ".".join(str(i) for i in index)


def _cached(key: tuple, make: Callable[[], Any]) -> Any:
    if key not in _CACHE:
        _CACHE[key] = make()
    return _CACHE[key]


def _model(job: ZarrJob) -> Any:
    def load() -> Any:
        if job.model_path is None:
            raise ConfigError("this worker has no copy of the model (it was given in memory)",
                              where="model", hint="pass the model folder path")
        from geosr.predict.core import resolve_model

        return resolve_model(job.model_path, "cpu")
    return _cached(("model", job.model_sha256), load)


def _to_dtype(y: np.ndarray, job: ZarrJob) -> np.ndarray:
    if job.dtype == "float32":
        return y
    info = np.iinfo(job.dtype)
    lo, hi = job.clip
    values = (y.astype(np.float64) - lo) * (info.max / (hi - lo))
    return np.clip(np.rint(values), 0, info.max).astype(job.dtype)


def run_block(job: ZarrJob, index: Sequence[int]) -> tuple[int, ...]:
    """Predict block ``index`` of ``job``, write its output chunk, then its marker."""
    import torch
    import zarr

    from geosr.data.normalize import PercentileNormalizer
    from geosr.io.volumes import open_volume
    from geosr.predict.core import _float32

    from geosr.core.memory import bound_heap, release_memory

    bound_heap()
    _cache_scope(job)
    loaded = _model(job)
    volume = _cached(("volume", job.source), lambda: open_volume(job.source))
    array = _cached(("array", job.partial),
                    lambda: zarr.open_array(store=job.partial, path="0", mode="r+"))
    windows = [a.window(i) for a, i in zip(job.axes, index)]
    lead = (slice(None),) * job.has_channels
    x = np.asarray(volume.data[lead + tuple(slice(a, b) for a, b, _ in windows)])
    norm = PercentileNormalizer.from_dict(job.normalizer)
    x = norm.normalize(x, job.lo, job.hi)
    if not job.has_channels:
        x = x[None]
    if any(p for _, _, p in windows):
        x = np.pad(x, [(0, 0)] + [(0, p) for _, _, p in windows], mode="reflect")
    with _float32(loaded.device), torch.inference_mode():
        y = loaded.module(torch.from_numpy(np.ascontiguousarray(x[None])).to(loaded.device))
    y = y[0].float().cpu().numpy()
    keep = [a.keep(i) for a, i in zip(job.axes, index)]
    y = y[(slice(None),) + tuple(k[0] for k in keep)]
    y *= np.float32(job.hi - job.lo + norm.eps)
    y += np.float32(job.lo)
    target = tuple(k[1] for k in keep)
    if job.out_channels_axis:
        array[(slice(None),) + target] = _to_dtype(y, job)
    else:
        array[target] = _to_dtype(y[0], job)
    (Path(job.partial) / _MARKERS / marker_name(index)).touch()
    del x, y
    release_memory()          # keep the resident size near one block's (core.memory)
    return tuple(index)


def _source_record(path: Path) -> dict[str, Any]:
    """Name, size and newest modification time of a file, or of every file in a folder."""
    if path.is_file():
        stat = path.stat()
        return {"name": path.name, "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    files = total = newest = 0
    for root, _, names in os.walk(path):
        for name in names:
            stat = os.stat(os.path.join(root, name))
            files, total, newest = files + 1, total + stat.st_size, max(newest,
                                                                         stat.st_mtime_ns)
    return {"name": path.name, "files": files, "bytes": total, "mtime_ns": newest}


def _fit_normalization(volume: Any, normalizer: Any, budget_bytes: float
                       ) -> tuple[float, float, str]:
    """(lo, hi, how): on the whole input if 32 bytes per voxel fit the budget, else on a
    regular grid sample of at most 2^22 voxels read plane by plane."""
    n = math.prod(volume.shape)
    if n * 32 <= budget_bytes:
        lo, hi = normalizer.fit(np.asarray(volume.data[...]))
        return lo, hi, "whole input"
    spatial = volume.spatial_shape
    limit = min(_SAMPLE_VOXELS, max(budget_bytes / 32, 1e5))
    step = max(2, math.ceil((n / limit) ** (1 / len(spatial))))
    lead = (slice(None),) * volume.has_channels
    parts = [np.asarray(volume.data[lead + (i,) + (slice(None, None, step),)
                                    * (len(spatial) - 1)]).ravel()
             for i in range(0, spatial[0], step)]
    lo, hi = normalizer.fit(np.concatenate(parts))
    return lo, hi, f"grid sample, every {step}th pixel per axis"


def _clip_range(dtype: str, clip: Sequence[float] | None, volume: Any,
                lo: float, hi: float) -> tuple[float, float] | None:
    if dtype == "float32":
        return None
    if clip is not None:
        a, b = (float(v) for v in clip)
        if not b > a:
            raise ConfigError(f"needs LOW < HIGH, got {list(clip)}", where="clip")
        return a, b
    top = float(np.iinfo(dtype).max)
    kind = np.dtype(volume.dtype)
    if kind.kind in "iu" and np.iinfo(kind).max <= top and np.iinfo(kind).min >= 0:
        return 0.0, top                  # integer input that fits: intensities kept
    return float(lo), float(hi)          # else the normalisation range fills the type


def _check_request(volume: Any, loaded: Any, out: Path, dtype: str, pyramid: int) -> None:
    from geosr.core.outputs import check_output_size
    from geosr.io.outputs import check_output
    from geosr.predict.core import check_compatible

    if loaded.is_isotropic:
        raise InputError("isotropic reconstruction is not available out of core", where=str(out),
                         hint="write a .tif output (predicted in memory)")
    check_compatible(volume, loaded, where=str(volume.metadata.get("source", "input")))
    if dtype not in OUTPUT_DTYPES:
        raise ConfigError(f"must be one of {', '.join(OUTPUT_DTYPES)}, got {dtype!r}",
                          where="dtype")
    if isinstance(pyramid, bool) or not isinstance(pyramid, int) or not 0 <= pyramid <= 10:
        raise ConfigError(f"must be an integer from 0 to 10, got {pyramid!r}", where="pyramid")
    if check_output(out) != ".zarr":
        raise ConfigError("out-of-core prediction writes OME-Zarr", where=str(out),
                          hint="name the output OUT.ome.zarr")
    shape = [loaded.out_channels] + [n * f for n, f in zip(volume.spatial_shape, loaded.scale)]
    check_output_size(shape, dtype, where=str(out), in_memory=False, folder=out.parent)


def _prediction_record(loaded: Any, job: ZarrJob, volume: Any, how: str, exact: bool,
                       source: dict, memory: float) -> dict[str, Any]:
    from geosr.core.version import __version__

    return {
        "model_sha256": loaded.sha256, "architecture": loaded.architecture,
        "arguments": loaded.arguments, "model_path": job.model_path,
        "scale": list(loaded.scale), "device": "cpu", "geosr_version": __version__,
        "normalization": {**job.normalizer, "lo": job.lo, "hi": job.hi, "fitted_on": how},
        "out_of_core": {"block": [a.block for a in job.axes],
                        "margin": [a.margin for a in job.axes],
                        "chunks": len(job.indices()), "max_memory_mb": memory / 2**20,
                        "exact": exact, "border": "model zero padding; trailing "
                                                  "reflection to the alignment"},
        "output_dtype": {"dtype": job.dtype, "clip_range": list(job.clip) if job.clip else None,
                         "meaning": None if job.clip is None else
                         "intensity = clip_range[0] + value * (clip_range[1] - clip_range[0])"
                         f" / {np.iinfo(job.dtype).max} (values outside the range clipped)"},
        "input": volume.describe(), "source": source,
    }


def _cache_scope(job: ZarrJob) -> None:
    """Forget the volume/array handles of an earlier job in this process."""
    if _CACHE.get("token") != job.token:
        for key in [k for k in _CACHE if k[0] in ("volume", "array")]:
            del _CACHE[key]
        _CACHE["token"] = job.token


def is_complete_zarr(out: Path, model_sha256: str, source: dict, dtype: str,
                     pyramid: int) -> bool:
    """Whether ``out`` is a finished out-of-core prediction of this input by this model, with
    this output type and pyramid."""
    import zarr

    if not out.is_dir():
        return False
    try:
        hints = dict(zarr.open_group(store=str(out), mode="r").attrs).get("geosr") or {}
    except Exception:  # not a zarr group: not ours, recompute
        return False
    record = (hints.get("metadata") or {}).get("prediction") or {}
    return (record.get("model_sha256") == model_sha256 and record.get("source") == source
            and (record.get("output_dtype") or {}).get("dtype") == dtype
            and (record.get("out_of_core") or {}).get("pyramid") == pyramid)


def _open_partial(partial: Path, settings: dict, volume: Any, loaded: Any,
                  axes: list[BlockAxis], budget: float, clip: Any) -> tuple[ZarrJob, str]:
    """Reuse the partial output if it was started with the same settings, else start over.
    Returns the job and how the normalisation was fitted."""
    import json
    import uuid

    import zarr

    from geosr.core.files import to_jsonable
    from geosr.io.ome_zarr import create_multiscale

    wanted = json.loads(json.dumps(to_jsonable(settings)))
    state = None
    if partial.is_dir():
        try:
            state = dict(zarr.open_group(store=str(partial), mode="r").attrs).get("geosr_job")
        except Exception:  # an unreadable leftover: start over
            state = None
        if not isinstance(state, dict) or state.get("settings") != wanted:
            shutil.rmtree(partial)
            state = None
    if state is None:
        lo, hi, how = _fit_normalization(volume, loaded.normalizer, budget)
        state = {"settings": wanted, "lo": lo, "hi": hi, "how": how,
                 "clip": _clip_range(settings["dtype"], clip, volume, lo, hi),
                 "token": uuid.uuid4().hex}
        out_axes = _out_axes(volume, loaded)
        shape = ([loaded.out_channels] if out_axes[0] == "C" else []) + [
            a.n * a.scale for a in axes]
        chunks = [1] * (out_axes[0] == "C") + [a.block * a.scale for a in axes]
        group = create_multiscale(partial, shape=shape, axes=out_axes,
                                  dtype=settings["dtype"], chunks=chunks,
                                  levels=settings["pyramid"], compression="zstd")
        (partial / _MARKERS).mkdir()
        group.attrs["geosr_job"] = to_jsonable(state)
    job = ZarrJob(source=settings["source_path"], partial=str(partial),
                  model_path=str(loaded.path) if loaded.path else None,
                  model_sha256=loaded.sha256, has_channels=volume.has_channels,
                  out_channels_axis=_out_axes(volume, loaded)[0] == "C", axes=tuple(axes),
                  lo=float(state["lo"]), hi=float(state["hi"]),
                  normalizer=loaded.normalizer.to_dict(), dtype=settings["dtype"],
                  clip=tuple(state["clip"]) if state["clip"] else None, token=state["token"])
    return job, state["how"]


def _out_axes(volume: Any, loaded: Any) -> str:
    if not volume.has_channels and loaded.out_channels == 1:
        return volume.axes
    return "C" + volume.spatial_axes


def _finalize(job: ZarrJob, out: Path, volume: Any, loaded: Any, record: dict,
              pyramid: int) -> None:
    """Pyramid levels, OME/geosr attributes, markers removed, renamed into place."""
    import zarr

    from geosr.core.image import Image
    from geosr.io.ome_zarr import downsample_level, multiscales_attrs
    from geosr.io.raw import make_hints

    partial = Path(job.partial)
    group = zarr.open_group(store=str(partial), mode="r+")
    out_axes = _out_axes(volume, loaded)
    for level in range(1, pyramid + 1):
        downsample_level(group, level, out_axes)
    s = loaded.scale
    spacing = tuple(sp / f for sp, f in zip(volume.spacing, s))
    origin = tuple(o - (f - 1) * sp / (2 * f)
                   for o, sp, f in zip(volume.origin, volume.spacing, s))
    image = Image(group["0"], out_axes, spacing=spacing, unit=volume.unit, origin=origin,
                  metadata={**volume.metadata, "prediction": record})
    attrs = dict(group.attrs)
    attrs.pop("geosr_job", None)
    attrs.update({"ome": multiscales_attrs(out_axes, spacing, origin, volume.unit, pyramid,
                                           name="super-resolved"),
                  "geosr": make_hints(image)})
    group.attrs.put(attrs)
    _CACHE.pop("token", None)
    _cache_scope(dataclasses.replace(job, token=""))   # drop handles on the renamed folder
    shutil.rmtree(partial / _MARKERS)
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    os.replace(partial, out)


def predict_to_zarr(src: str | os.PathLike, out: str | os.PathLike, model: Any, *,
                    max_memory_mb: float | None = None, dtype: str = "float32",
                    pyramid: int = 0, clip: Sequence[float] | None = None,
                    block: int | Sequence[int] | None = None, device: str = "auto",
                    overwrite: bool = False, cluster: Any = None,
                    progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Super-resolve a volume larger than memory into an OME-Zarr 0.5 folder, chunk by chunk.

    Parameters
    ----------
    src:
        A ``.zarr``/``.ome.zarr`` folder, a TIFF file or a folder of 2D TIFF slices.
    out:
        The output ``.ome.zarr`` (or ``.zarr``) folder; complete outputs of the same input,
        model, type and pyramid are skipped unless ``overwrite``.
    model:
        Model folder / zip path, or a :class:`geosr.models.LoadedModel` (a path is needed on a
        cluster: workers load it themselves, once each).
    max_memory_mb:
        Memory budget (MB) of the work: three quarters for one block (input window,
        activations estimated as in :func:`geosr.predict.predict`, output), the rest for
        reading, compressing and the normalisation fit; default as
        :func:`geosr.predict.predict`. Peak memory stays near the process's baseline (Python,
        torch, the model) plus this budget, whatever the volume size.
    dtype:
        ``"float32"`` (intensities in input units), ``"uint16"`` or ``"uint8"``: values
        ``clip[0]..clip[1]`` (input units) are mapped linearly to the type's range, outside
        values clipped; default range: unchanged intensities for an integer input that fits
        the type, else the normalisation percentiles. Stated in the metadata.
    pyramid:
        Extra resolution levels (each mean-downsampled ×2 per spatial axis) for viewers.
    block:
        Block size in input pixels (one, or per axis) instead of the budget's choice.
    cluster:
        ``None`` (this process), ``"local:N"`` (a dask ``LocalCluster`` of N single-threaded
        workers), ``"tcp://HOST:PORT"`` (an existing dask scheduler) or a
        ``distributed.Client``.
    progress:
        Called as ``progress(done, total)`` in chunks (already-done chunks counted).

    Returns
    -------
    dict
        ``path``, ``status`` (``"written"``/``"skipped"``), ``chunks`` (total), ``computed``
        (this run), ``resumed`` (chunks found done), ``block`` and ``shape``.
    """
    from geosr.io.volumes import open_volume
    from geosr.predict.core import _memory_budget, model_geometry, resolve_model

    src, out = Path(src), Path(out)
    loaded = resolve_model(model, device)
    volume = open_volume(src)
    volume = volume.with_metadata(source=str(src)) if "source" not in volume.metadata \
        else volume
    _check_request(volume, loaded, out, dtype, pyramid)
    source = _source_record(src)
    if not overwrite and is_complete_zarr(out, loaded.sha256, source, dtype, pyramid):
        return {"path": str(out), "status": "skipped", "chunks": 0, "computed": 0,
                "resumed": 0}
    if cluster is not None and loaded.path is None:   # before any file is written
        raise ConfigError("workers load the model themselves: give its folder path",
                          where="model")
    geometry = model_geometry(loaded)
    budget = _memory_budget(max_memory_mb, loaded.device)
    axes = _plan_blocks(volume, loaded, geometry, budget, block)
    settings = {"model_sha256": loaded.sha256, "source": source, "source_path": str(src),
                "block": [a.block for a in axes], "dtype": dtype, "pyramid": pyramid,
                "clip": list(clip) if clip is not None else None}
    partial = out.parent / f".{out.name}.partial"
    job, how = _open_partial(partial, settings, volume, loaded, axes, budget, clip)
    _CACHE[("model", loaded.sha256)] = loaded
    _cache_scope(job)
    total, computed = _run_chunks(job, cluster, progress, out)
    exact = not geometry["global_context"] and all(a.margin >= h for a, h in
                                                   zip(axes, geometry["halo"]))
    record = _prediction_record(loaded, job, volume, how, exact, source, budget)
    record["out_of_core"]["pyramid"] = pyramid
    record["device"] = str(loaded.device) if cluster is None else "cpu (dask workers)"
    _finalize(job, out, volume, loaded, record, pyramid)
    return {"path": str(out), "status": "written", "chunks": total, "computed": computed,
            "resumed": total - computed, "block": [a.block for a in axes],
            "shape": list(volume.spatial_shape)}


def _plan_blocks(volume: Any, loaded: Any, geometry: dict[str, Any], budget: float,
                 block: int | Sequence[int] | None) -> list[Any]:
    """The per-axis block plan whose window fits ``_WINDOW_SHARE`` of the budget (bytes)."""
    per_px = (geometry["bytes_per_input_pixel"] + 8 * loaded.in_channels
              + 8 * loaded.out_channels * math.prod(loaded.scale))
    return choose_block(volume.spatial_shape, halo=geometry["halo"],
                        align=geometry["alignment"], scale=loaded.scale,
                        budget_bytes=_WINDOW_SHARE * budget,
                        bytes_per_window_px=per_px, max_out_chunk=_MAX_OUT_CHUNK[loaded.dims],
                        block=block)


def _run_chunks(job: Any, cluster: Any, progress: Callable[[int, int], None] | None,
                out: Path) -> tuple[int, int]:
    """Compute the chunks without a done-marker (here or on the cluster); ``(total,
    computed this run)``. Raises if any chunk is still missing afterwards."""
    from geosr.core.cluster import map_tasks

    markers = Path(job.partial) / _MARKERS
    finished = {p.name for p in markers.iterdir()}
    todo = [i for i in job.indices() if marker_name(i) not in finished]
    total = len(job.indices())
    if progress is not None:
        progress(total - len(todo), total)
    map_tasks(functools.partial(run_block, job), todo, cluster, progress=progress,
              done=total - len(todo), total=total)
    missing = [i for i in job.indices() if not (markers / marker_name(i)).exists()]
    if missing:
        raise InputError(f"{len(missing)} chunk(s) were not written", where=str(out),
                         hint="run the same command again to finish them")
    return total, len(todo)
