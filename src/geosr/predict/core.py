"""Tiled 2D/3D super-resolution of one image with a trained model.

>>> import numpy as np
>>> from geosr.predict import predict
>>> sr = predict(np.random.rand(64, 64).astype("float32"), "runs/model")   # doctest: +SKIP
>>> sr.shape, sr.spacing                                                   # doctest: +SKIP
((256, 256), (0.25, 0.25))
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

from geosr.core.errors import ConfigError, InputError
from geosr.core.image import Image, as_image
from geosr.core.per_axis import per_axis
from geosr.predict.tiling import AxisPlan, axis_weight_sums, axis_weights, plan_tiles

if TYPE_CHECKING:
    from geosr.models.files import LoadedModel

__all__ = ["predict", "predict_loaded", "DEFAULT_MAX_MEMORY_MB", "resolve_model",
           "check_compatible", "model_geometry"]

#: Least memory budget (MB) for activations on the CPU when neither ``tile`` nor
#: ``max_memory_mb`` is given (the default is a quarter of the RAM, at least this; on CUDA,
#: half the free GPU memory).
DEFAULT_MAX_MEMORY_MB = 1024.0

_GEOMETRY_CACHE: dict[str, dict[str, Any]] = {}


def resolve_model(model: Any, device: Any = "auto") -> Any:
    """A :class:`geosr.models.LoadedModel` on the requested device (loading a path)."""
    from geosr.models.device import resolve_device
    from geosr.models.files import LoadedModel, load_model

    target = resolve_device(device)
    if isinstance(model, (str, os.PathLike)):
        model = load_model(Path(model), device=target)
    if not isinstance(model, LoadedModel):
        raise ConfigError(f"expected a model folder/zip path or a LoadedModel, got "
                          f"{type(model).__name__}", where="model")
    if model.device != target:
        model.module.to(target)
    model.module.eval()
    _warn_once_below_baseline(model)
    return model


_WARNED: set[str] = set()


def _warn_once_below_baseline(model: Any) -> None:
    """Warn once per model (weights hash) whose training ended below bicubic."""
    import warnings

    from geosr.models.quality import BelowBaselineWarning, baseline_message

    message = baseline_message(model.spec)
    if message and model.sha256 not in _WARNED:
        _WARNED.add(model.sha256)
        warnings.warn(f"{model.path or 'model'}: {message}", BelowBaselineWarning,
                      stacklevel=3)


def check_compatible(image: Image, model: Any, where: str = "image",
                     scale: Any = None) -> None:
    """Raise :class:`InputError` when ``model`` cannot be applied to ``image``: other
    dimensionality, channel count, or scale (the ``scale`` asked for, or the one recorded in
    the image's ``metadata["degradation"]`` when ``scale`` is not given)."""
    if image.dims == 3 and getattr(model, "is_isotropic", False):
        return   # a 2D model applied to the XZ/YZ planes (geosr.predict.isotropic)
    if image.dims != model.dims:
        raise InputError(f"the model is {model.dims}D but the image is {image.dims}D "
                         f"(axes {image.axes}, shape {image.shape})", where=where,
                         hint=f"use a {image.dims}D model, or give the image "
                              f"{'ZYX' if model.dims == 3 else 'YX'} axes")
    if image.channels != model.in_channels:
        raise InputError(f"the model takes {model.in_channels} channel(s) but the image has "
                         f"{image.channels} (axes {image.axes})", where=where,
                         hint="select or stack channels to match the model")
    scale_t = tuple(model.scale)
    if scale is not None:
        asked = per_axis(scale, model.dims, where="scale", kind=int, error=InputError)
        if asked != scale_t:
            raise InputError(f"the model upsamples by {list(scale_t)} but scale {list(asked)} "
                             f"was asked for", where=where, hint="use a model trained for "
                             "that scale")
        return
    record = image.metadata.get("degradation") if isinstance(image.metadata, dict) else None
    recorded = record.get("scale") if isinstance(record, dict) else None
    if isinstance(recorded, (list, tuple)) and len(recorded) == model.dims:
        if tuple(int(s) for s in recorded) != scale_t:
            raise InputError(f"the image was degraded by {list(recorded)} (its metadata says "
                             f"so) but the model upsamples by {list(scale_t)}", where=where,
                             hint="use a model trained for that scale, or pass scale= the "
                                  "model's scale to override")


def _geometry_key(model: Any) -> str:
    """What the geometry depends on: the architecture, its arguments, dims, scale, channels,
    the residual and the recorded summary (and the device). Not the weights hash alone: two
    models with the same weights (a care net at scale 2 and 3 whose upsampling has no
    weights) have different halos and alignments."""
    return json.dumps([model.sha256, str(model.device), model.architecture, model.arguments,
                       model.dims, list(model.scale), model.in_channels, model.out_channels,
                       model.spec.get("residual_over", "none"),
                       (model.spec.get("summary") or {}).get("halo")],
                      sort_keys=True, default=str)


def model_geometry(model: Any) -> dict[str, Any]:
    """Halo and alignment (input pixels per axis), global context and an activation-memory
    estimate (bytes per input pixel/voxel) of a loaded model; cached by :func:`_geometry_key`."""
    import torch

    from geosr.models.summary import count_flops, receptive_field

    key = _geometry_key(model)
    if key in _GEOMETRY_CACHE:
        return _GEOMETRY_CACHE[key]
    summary = model.spec.get("summary") or {}
    if isinstance(summary.get("halo"), list) and len(summary["halo"]) == model.dims:
        rf = {k: summary.get(k) for k in ("halo", "global_context", "receptive_field")}
    else:
        rf = receptive_field(model.architecture, dims=model.dims, scale=model.scale,
                             in_channels=model.in_channels, out_channels=model.out_channels,
                             residual_over=model.spec.get("residual_over", "none"),
                             **model.arguments)
    align = list(getattr(model.module, "alignment", (1,) * model.dims))
    size = tuple(max(16 if model.dims == 2 else 8, 2 * a) for a in align)
    probe = torch.zeros((1, model.in_channels) + size, device=model.device)
    counted = count_flops(model.module, probe)
    geometry = {"halo": [int(h) for h in rf["halo"]], "alignment": align,
                "global_context": bool(rf.get("global_context")),
                "receptive_field": rf.get("receptive_field"),
                "bytes_per_input_pixel": counted["activation_bytes"] / math.prod(size)}
    _GEOMETRY_CACHE[key] = geometry
    return geometry


def _per_axis(value: Any, dims: int, name: str) -> list[Any]:
    """``tile`` (>= 1) or ``overlap`` (>= 0), input pixels, per axis; None per axis if None."""
    if value is None:
        return [None] * dims
    return list(per_axis(value, dims, where=name, kind=int, minimum=1 if name == "tile" else 0,
                         unit="input pixels"))


def _physical_memory() -> float | None:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def _memory_budget(max_memory_mb: float | None, device: Any) -> float:
    """Bytes for the activations of one batch: the user's bound, else half the free GPU
    memory on CUDA, else a quarter of the machine's RAM (at least DEFAULT_MAX_MEMORY_MB)."""
    if max_memory_mb is not None:
        if isinstance(max_memory_mb, bool) or not max_memory_mb > 0:
            raise ConfigError(f"must be positive, got {max_memory_mb}", where="max_memory_mb")
        return float(max_memory_mb) * 2**20
    if device.type == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(device)
        return 0.5 * free
    return max(DEFAULT_MAX_MEMORY_MB * 2**20, 0.25 * (_physical_memory() or 0.0))


def _tiles_for_memory(padded: Sequence[int], overlap: Sequence[int], align: Sequence[int],
                      budget_px: float, strict: bool, bytes_per_px: float
                      ) -> list[int | None]:
    """Window sizes (per axis) whose product stays under ``budget_px`` input pixels: the
    whole padded axis where possible, near-cubic windows otherwise, never smaller than
    ``overlap + align`` (the least that keeps tiling exact). When that least exceeds the
    budget: :class:`ConfigError` if the budget was the user's (``strict``), else windows of
    ``2·overlap + align`` are used."""
    dims = len(padded)
    if math.prod(padded) <= budget_px:
        return [None] * dims
    tile: list[int | None] = [None] * dims
    free = list(range(dims))
    remaining = budget_px
    while free:
        side = remaining ** (1.0 / len(free))
        small = [a for a in free if padded[a] <= side]
        if not small:
            for a in free:
                tile[a] = int(side)
            break
        for a in small:
            remaining /= padded[a]
            free.remove(a)
    least = [min(-(-(o + a) // a) * a, n) for o, a, n in zip(overlap, align, padded)]
    if any(t is not None and t < m for t, m in zip(tile, least)):
        if strict:
            need = math.prod(least) * bytes_per_px / 2**20
            raise ConfigError(
                f"the budget allows tiles of {tile} input pixels, smaller than the {least} "
                f"the model's receptive field needs (about {need:.0f} MB)",
                where="max_memory_mb",
                hint="allow more memory, or pass a smaller --overlap (inexact tiling)")
        # default budget: windows twice the overlap (≤ 2^d × the work of an untiled pass)
        tile = [None if t is None else max(t, min(-(-(2 * o + a) // a) * a, n))
                for t, o, a, n in zip(tile, overlap, align, padded)]
    return tile


def predict(image: Image | np.ndarray, model: Any, *, tile: int | Sequence[int] | None = None,
            overlap: int | Sequence[int] | None = None, max_memory_mb: float | None = None,
            device: str = "auto", batch_size: int = 1, scale: Any = None,
            progress: Callable[[int, int], None] | None = None) -> Image:
    """Super-resolve ``image`` with ``model``, tile by tile.

    Parameters
    ----------
    image:
        A :class:`geosr.core.Image` (``YX``, ``ZYX``, ``CYX``, ``CZYX``) or a 2-D/3-D array.
    model:
        A model folder / ``.zip`` path or a :class:`geosr.models.LoadedModel` (moved to
        ``device``).
    tile:
        Window size in input pixels (one value or one per spatial axis), rounded down to
        the model's alignment. Default: chosen from ``max_memory_mb`` (the whole image when
        it fits). Windows never cross the image border: border pixels see the model's own
        zero padding, exactly as in an untiled pass and in training, so any image size works
        (images are only extended by reflection at their end to a multiple of the alignment
        of U-Nets).
    overlap:
        Input pixels shared by neighbouring windows. Default ``2·halo + max(2, ⌈halo/4⌉)``
        with ``halo`` the one-sided reach of the model's receptive field: tiled output then
        equals untiled output (float rounding aside) for models with a finite receptive
        field. Smaller values are allowed (blended, no longer exact).
    max_memory_mb:
        Bound on the activation memory of one batch of windows, estimated per input pixel
        as 4 bytes × (6 × the widest feature map + deconvolution buffer + input + output)
        (see :mod:`geosr.models.summary`; measured peaks are 0.35–1.0× the estimate). The
        output image and the normalised, padded input are held in memory besides. A bound
        too small for exact tiling raises :class:`ConfigError` (stating the need). Default:
        a quarter of the RAM (at least 1024 MB) on the CPU, half the free memory on CUDA,
        raised to windows of twice the overlap if needed. Ignored when ``tile`` is given.
    device:
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
    batch_size:
        Windows per forward pass.
    scale:
        The scale you expect (int or per axis); an :class:`InputError` if the model's differs.
    progress:
        Called as ``progress(done, total)`` after each batch of windows.

    Returns
    -------
    Image
        float32 in the input's intensity units (the model's percentile normalisation, fitted
        on the whole input, is undone), same axes, spacing ``input spacing / scale``, origin
        shifted by ``−(s−1)·spacing/(2s)`` per axis (pixel centres of the finer grid),
        ``metadata["prediction"]`` = model hash, architecture, scale, tiling, device.
    """
    return predict_loaded(as_image(image), resolve_model(model, device), tile=tile,
                          overlap=overlap, max_memory_mb=max_memory_mb, batch_size=batch_size,
                          scale=scale, progress=progress)


def predict_loaded(image: Image, loaded: LoadedModel, *, tile: Any = None, overlap: Any = None,
                   max_memory_mb: float | None = None, batch_size: int = 1, scale: Any = None,
                   progress: Callable[[int, int], None] | None = None) -> Image:
    """:func:`predict` with a model already resolved (:func:`resolve_model`: on its device, in
    eval mode), for callers that predict many images with one model (no re-resolution per
    image), e.g. ``predict_loaded(load("a.tif"), resolve_model("model/", "cpu"), tile=64)``.
    Parameters and result as :func:`predict`.
    """
    if image.dims == 3 and loaded.is_isotropic:   # a 2D model for XZ/YZ planes
        from geosr.predict.isotropic import predict_isotropic

        return predict_isotropic(image, loaded, batch_size=max(batch_size, 8))
    check_compatible(image, loaded, scale=scale)
    image.check_finite()
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"must be a positive integer, got {batch_size!r}", where="batch_size")
    s = tuple(loaded.scale)
    geometry = model_geometry(loaded)

    values = image.numpy()
    lo, hi = loaded.normalizer.fit(values)
    x = loaded.normalizer.normalize(values, lo, hi)
    if not image.has_channels:
        x = x[None]
    spatial = x.shape[1:]

    plans = _plan(spatial, loaded, geometry, tile=tile, overlap=overlap,
                  max_memory_mb=max_memory_mb, batch_size=batch_size)
    pad = [(0, 0)] + [(0, p.pad_after) for p in plans]
    xp = np.pad(x, pad, mode="reflect") if any(b for _, b in pad) else x
    out = np.zeros((loaded.out_channels,) + tuple(n * f for n, f in zip(spatial, s)),
                   np.float32)
    windows = list(itertools.product(*[range(len(p.starts)) for p in plans]))
    module, dev = loaded.module, loaded.device
    with _float32(dev):
        _run_windows(module, dev, xp, out, plans, windows, batch_size, progress)
    _normalise_weights(out, plans)
    out *= np.float32(hi - lo + loaded.normalizer.eps)
    out += np.float32(lo)
    if not image.has_channels and loaded.out_channels == 1:
        out, axes = out[0], image.axes
    else:
        axes = "C" + image.spatial_axes
    record = _prediction_record(image, loaded, geometry, plans, n_windows=len(windows),
                                batch_size=batch_size, lo=lo, hi=hi)
    spacing = tuple(sp / f for sp, f in zip(image.spacing, s))
    origin = tuple(o - (f - 1) * sp / (2 * f) for o, sp, f in zip(image.origin, image.spacing, s))
    return Image(out, axes, spacing=spacing, unit=image.unit, origin=origin,
                 metadata={**image.metadata, "prediction": record})


def _plan(spatial: Sequence[int], loaded: LoadedModel, geometry: dict, *, tile: Any,
          overlap: Any, max_memory_mb: float | None, batch_size: int) -> list[AxisPlan]:
    """The tile plan of each spatial axis (:func:`plan_tiles`): ``tile`` and ``overlap`` as
    given (input pixels), else chosen from the memory budget (see :func:`predict`)."""
    dims, halo, align = loaded.dims, geometry["halo"], geometry["alignment"]
    tiles = _per_axis(tile, dims, "tile")
    overlaps = _per_axis(overlap, dims, "overlap")
    if tile is None:
        from geosr.predict.tiling import default_overlap

        eff_overlap = [default_overlap(h) if o is None else o for h, o in zip(halo, overlaps)]
        padded = [-(-n // a) * a for n, a in zip(spatial, align)]
        per_px = geometry["bytes_per_input_pixel"] * batch_size
        budget_px = _memory_budget(max_memory_mb, loaded.device) / per_px
        tiles = _tiles_for_memory(padded, eff_overlap, align, budget_px,
                                  strict=max_memory_mb is not None, bytes_per_px=per_px)
    return plan_tiles(spatial, tile=tiles, overlap=overlaps, halo=halo, align=align,
                      scale=tuple(loaded.scale))


def _prediction_record(image: Image, loaded: LoadedModel, geometry: dict,
                       plans: list[AxisPlan], *,
                       n_windows: int, batch_size: int, lo: float, hi: float) -> dict:
    """``metadata["prediction"]`` of :func:`predict`: the model, normalisation and tiling."""
    from geosr.core.version import __version__

    dev, halo = loaded.device, geometry["halo"]
    exact = (not geometry["global_context"]) and all(
        p.exact_for(h) for p, h in zip(plans, halo))
    return {
        "model_sha256": loaded.sha256, "architecture": loaded.architecture,
        "arguments": loaded.arguments, "model_path": str(loaded.path) if loaded.path else None,
        "scale": list(loaded.scale), "device": str(dev), "geosr_version": __version__,
        "normalization": {**loaded.normalizer.to_dict(), "lo": lo, "hi": hi},
        "tiling": {"tile": [p.window for p in plans],
                   "overlap": [min(p.overlaps, default=0) for p in plans],
                   "margin": [min(p.margins, default=0) for p in plans],
                   "halo": halo, "alignment": geometry["alignment"], "windows": n_windows,
                   "batch_size": batch_size, "blending": "linear ramp",
                   "precision": "float32" + (" (TF32 off)" if dev.type == "cuda" else ""),
                   "activation_memory_mb_estimate": math.prod(p.window for p in plans)
                   * geometry["bytes_per_input_pixel"] * min(batch_size, n_windows) / 2**20,
                   "border": "model zero padding; trailing reflection to the alignment",
                   "exact": exact,
                   "global_context": geometry["global_context"]},
        "input": image.describe(),
    }


@contextlib.contextmanager
def _float32(device: Any) -> Iterator[None]:
    """On CUDA, disable TF32 (cuDNN uses it for convolutions by default, ~1e-3 relative
    error that changes with the tile shape) so GPU results match the CPU to float32
    rounding."""
    import torch

    if device.type != "cuda":
        yield
        return
    previous = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = previous


def _run_windows(module: Any, device: Any, xp: np.ndarray, out: np.ndarray,
                 plans: list[AxisPlan], windows: list[tuple], batch_size: int,
                 progress: Callable[[int, int], None] | None) -> None:
    """Run the model on every window (``batch_size`` at a time; the last batch is padded
    with copies so every forward pass has the same shape) and accumulate the weighted
    outputs into ``out``."""
    import torch

    total = math.ceil(len(windows) / batch_size)
    full = min(batch_size, len(windows))
    for b, first in enumerate(range(0, len(windows), batch_size)):
        batch = windows[first:first + batch_size]
        chunks = [xp[(slice(None),) + tuple(slice(p.starts[i], p.starts[i] + p.window)
                                            for p, i in zip(plans, idx))] for idx in batch]
        chunks += chunks[-1:] * (full - len(chunks))
        with torch.inference_mode():
            y = module(torch.from_numpy(np.ascontiguousarray(np.stack(chunks))).to(device))
        y = y.float().cpu().numpy()
        for k, idx in enumerate(batch):
            _accumulate(out, y[k], plans, idx)
        if progress is not None:
            progress(b + 1, total)


def _accumulate(out: np.ndarray, y: np.ndarray, plans: list[AxisPlan], idx: tuple) -> None:
    """Add window ``idx``'s weighted output ``y`` (C, *window·s) into ``out`` (C, *n·s)."""
    src, dst, weights = [slice(None)], [slice(None)], []
    for axis, (p, i) in enumerate(zip(plans, idx)):
        s = p.scale
        begin = p.starts[i] * s      # window origin in output coordinates
        a, b = begin, min(begin + p.window * s, p.n * s)
        if a >= b:
            return
        src.append(slice(a - begin, b - begin))
        dst.append(slice(a, b))
        w = axis_weights(p, i)[a - begin:b - begin].astype(np.float32)
        shape = [1] * (len(plans) + 1)
        shape[axis + 1] = len(w)
        weights.append(w.reshape(shape))
    part = y[tuple(src)]
    for w in weights:
        part = part * w
    out[tuple(dst)] += part


def _normalise_weights(out: np.ndarray, plans: list[AxisPlan]) -> None:
    """Divide ``out`` in place by the separable sum of window weights."""
    for axis, p in enumerate(plans):
        if len(p.starts) == 1:
            continue
        sums = axis_weight_sums(p)[:p.n * p.scale]
        shape = [1] * out.ndim
        shape[axis + 1] = len(sums)
        out /= sums.astype(np.float32).reshape(shape)
