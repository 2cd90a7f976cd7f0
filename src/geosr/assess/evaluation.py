"""``geosr.evaluate``: compare predictions with ground truth, file by file or folder by folder,
under a named protocol, and write a CSV (one row per image, then mean and sd) and error/SSIM maps.

Protocols
---------
``"classic"``
    The natural-image SR protocol of the published tables (:mod:`geosr.assess.protocol`):
    8-bit images, Y channel of BT.601 (MATLAB rounding) for colour, border crop = ``scale``
    (required), PSNR with peak 255 and SSIM with ``L = 255``. ``data_range`` may be omitted (the
    protocol fixes it) or given as 255.
``"microscopy"``
    Raw intensities, any dtype, 2D or 3D, channels averaged: PSNR, SSIM, MS-SSIM, NRMSE (named
    normalisation), MAE, Pearson, GMSD (2D) and FRC (the resolution, in the truth's length
    unit, up to which prediction and truth are correlated: FRC(SR, GT) at the 1/7 threshold,
    the reference notes' "spectral fidelity") with an explicit ``data_range`` (a number,
    ``"dtype"`` or ``"gt"``), border crop = ``scale`` when given (or ``crop``), optional
    ``fit="affine"`` (scale-invariant, CSBDeep). Spacing of prediction and truth must agree when
    both files carry a physical calibration.

Pairing: two files; or two folders whose image files are matched by name: first by identical
stem, then by the stem without a trailing tag such as ``_HR``, ``_GT``, ``_SR``, ``_LR``,
``_pred`` (``img_001_SRF_4_SR.png`` pairs with ``img_001_SRF_4_HR.png``). In a truth folder that
holds both ``_HR`` and ``_LR`` files (the benchmark layout) the ``_LR`` files are ignored. Every
prediction must find its truth and every truth its prediction.

Maps (``maps_dir``): for each image, ``<name>_abs_error.tif`` (|pred - gt| over the evaluated
region) and ``<name>_ssim.tif`` (the SSIM map over its valid region), float32 on the truth's
grid with its spacing, unit and origin; pixels outside the evaluated region are NaN. Classic
maps are on the Y channel. All outputs are written only after every pair was evaluated, each
file atomically, so an error leaves no partial CSV and no maps.

Example
-------
>>> import numpy as np
>>> gt = np.random.default_rng(0).random((64, 64))
>>> res = evaluate(gt + 0.01, gt, data_range=1.0)
>>> round(res.rows[0]["PSNR"], 6), round(res.rows[0]["MAE"], 6)
(40.0, 0.01)
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from geosr.assess.conventions import shape_mismatch_hint
from geosr.core.errors import ConfigError, GeosrError, InputError
from geosr.core.files import atomic_path
from geosr.core.image import Image
from geosr.core.version import __version__
from geosr.io.files import image_files as _image_files
from geosr.io.files import stem as _stem

__all__ = ["evaluate", "EvaluationResult", "pair_files", "PROTOCOLS"]

PROTOCOLS = ("microscopy", "classic")
_TAGS = ("hr", "gt", "sr", "lr", "pred", "prediction", "truth", "target", "output", "out",
         "input", "bicubic", "restored", "result")
_TAG_RE = re.compile(r"[_\-. ](" + "|".join(_TAGS) + r")$", re.IGNORECASE)
_UNITS = {"PSNR": "dB", "MAE": "image units"}


@dataclasses.dataclass
class EvaluationResult:
    """Per-image metrics and their summary.

    Attributes
    ----------
    protocol:
        ``"classic"`` or ``"microscopy"``.
    metrics:
        Metric names, in column order.
    rows:
        One dict per image: ``name``, ``prediction``, ``truth`` (paths or ``"<array>"``), one
        float per metric, ``notes`` (why a value is missing or undefined).
    convention:
        Shared conventions (channel, crop, data range and source, fit, windows, normalisation).
    maps:
        Paths of the maps written (empty without ``maps_dir``).
    units:
        Unit per metric where it has one (``PSNR``: dB, ``MAE``: image units, ``FRC``: the
        truth's length unit).
    csv_path:
        Where the CSV was written, if anywhere.
    """

    protocol: str
    metrics: tuple[str, ...]
    rows: list[dict[str, Any]]
    convention: dict[str, Any]
    maps: list[Path] = dataclasses.field(default_factory=list)
    csv_path: Path | None = None
    units: dict[str, str] = dataclasses.field(default_factory=lambda: dict(_UNITS))

    def values(self, metric: str) -> np.ndarray:
        """The column of one metric (float64, NaN where undefined)."""
        return np.array([row[metric] for row in self.rows], dtype=np.float64)

    def summary(self) -> dict[str, dict[str, float]]:
        """``{metric: {"mean", "sd", "n"}}`` over images where the metric is defined (not NaN);
        ``sd`` uses N - 1 and is NaN for one image; an infinite PSNR gives an infinite mean."""
        out = {}
        for m in self.metrics:
            v = self.values(m)
            v = v[~np.isnan(v)]
            n = int(v.size)
            mean = float(np.mean(v)) if n else float("nan")
            with np.errstate(invalid="ignore"):
                sd = float(np.std(v, ddof=1)) if n > 1 and np.isfinite(v).all() else float("nan")
            out[m] = {"mean": mean, "sd": sd, "n": n}
        return out

    def header_lines(self) -> list[str]:
        """The convention, as the ``#`` lines that open the CSV."""
        lines = [f"geosr evaluate (geosr {__version__}): protocol={self.protocol}"]
        lines += [f"{k}: {v}" for k, v in self.convention.items()]
        return lines

    def column(self, metric: str) -> str:
        unit = self.units.get(metric)
        return f"{metric} [{unit}]" if unit else metric

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write the table atomically: ``#`` convention lines, a header, one row per image, then
        ``mean`` and ``sd`` rows (values with full precision; ``inf``/``nan`` spelled out)."""
        path = Path(path)
        buf = io.StringIO()
        for line in self.header_lines():
            buf.write(f"# {line}\n")
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["name", "prediction", "truth",
                         *[self.column(m) for m in self.metrics], "notes"])
        for row in self.rows:
            writer.writerow([row["name"], row["prediction"], row["truth"],
                             *[_fmt_full(row[m]) for m in self.metrics], row["notes"]])
        summary = self.summary()
        writer.writerow(["mean", "", "", *[_fmt_full(summary[m]["mean"]) for m in self.metrics],
                         "n=" + "/".join(str(summary[m]["n"]) for m in self.metrics)])
        writer.writerow(["sd", "", "", *[_fmt_full(summary[m]["sd"]) for m in self.metrics],
                         "N-1 normalisation"])
        with atomic_path(path) as tmp:
            tmp.write_text(buf.getvalue(), encoding="utf-8")
        return path


def _fmt_full(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(float(value))


# ----------------------------------------------------------------------------- pairing
def _strip(stem: str) -> str:
    """The stem without trailing tags such as ``_HR`` or ``_pred`` (case kept)."""
    key = stem
    while True:
        new = _TAG_RE.sub("", key)
        if new == key or not new:
            return key
        key = new


def _key(stem: str) -> str:
    return _strip(stem).lower()


def _tag(stem: str) -> str | None:
    m = _TAG_RE.search(stem)
    return m.group(1).lower() if m else None


def _is_folder(path: Path) -> bool:
    return path.is_dir() and not path.name.lower().endswith(".zarr")


def pair_files(pred: str | os.PathLike, gt: str | os.PathLike) -> list[tuple[str, Path, Path]]:
    """``[(name, prediction file, truth file), ...]`` for two files or two folders (see the
    module notes for the matching rules)."""
    pred, gt = Path(pred), Path(gt)
    for p, what in ((pred, "prediction"), (gt, "truth")):
        if not p.exists():
            raise InputError(f"{what} not found", where=str(p))
    if _is_folder(pred) != _is_folder(gt):
        raise InputError("one argument is a folder and the other a file", where=str(pred),
                         hint="pass two files or two folders")
    if not _is_folder(pred):
        same = _key(_stem(gt)) == _key(_stem(pred))
        return [(_strip(_stem(gt)) if same else _stem(pred), pred, gt)]
    preds, truths = _image_files(pred), _image_files(gt)
    tags = {_tag(_stem(t)) for t in truths}
    if tags & {"hr", "gt"} and tags & {"lr", "input"}:
        truths = [t for t in truths if _tag(_stem(t)) not in ("lr", "input")]
    by_stem = {_stem(t): t for t in truths}
    by_key: dict[str, list[Path]] = {}
    for t in truths:
        by_key.setdefault(_key(_stem(t)), []).append(t)
    pairs, missing, used = [], [], set()
    for p in preds:
        stem = _stem(p)
        match = by_stem.get(stem)
        if match is None:
            candidates = by_key.get(_key(stem), [])
            if len(candidates) > 1:
                raise InputError(f"{p.name} matches several truth files: "
                                 + ", ".join(c.name for c in candidates), where=str(gt),
                                 hint="give the files unambiguous names")
            match = candidates[0] if candidates else None
        if match is None:
            missing.append(p.name)
            continue
        if match in used:
            raise InputError(f"{match.name} is the truth of several predictions", where=str(pred),
                             hint="give the files unambiguous names")
        used.add(match)
        pairs.append((_strip(stem) if stem != _stem(match) else stem, p, match))
    if missing:
        raise InputError(f"{len(missing)} prediction(s) have no truth file: "
                         + ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else ""),
                         where=str(gt), hint="name each truth like its prediction (a trailing "
                         "_HR/_GT/_SR/_LR/_pred tag may differ)")
    unused = [t.name for t in truths if t not in used]
    if unused:
        raise InputError(f"{len(unused)} truth file(s) have no prediction: "
                         + ", ".join(unused[:5]) + (" ..." if len(unused) > 5 else ""),
                         where=str(pred), hint="predict every image, or evaluate a folder "
                         "holding only the images to compare")
    return pairs


# ----------------------------------------------------------------------------- per pair
def _as_image(x: Any, what: str, protocol: str):
    """An Image from an array: ``(H, W, 3|4)`` is read as colour (channels last, as imageio and
    PIL give them) when it is 8-bit or the protocol is classic, else ``YX``/``ZYX``."""
    if isinstance(x, Image):
        return x
    arr = np.asarray(x)
    if arr.ndim == 3 and arr.shape[-1] in (3, 4) and (arr.dtype == np.uint8
                                                      or protocol == "classic"):
        return Image(np.ascontiguousarray(np.moveaxis(arr, -1, 0)), "CYX", unit="pixel")
    try:
        return Image.from_array(arr, unit="pixel")
    except GeosrError as err:
        raise InputError(err.message, where=what, hint=err.hint) from None


def _check_grids(p, g, scale: int | None, check_spacing: bool, notes: list[str]) -> None:
    if p.spatial_shape != g.spatial_shape or p.channels != g.channels:
        hint = shape_mismatch_hint(p.spatial_shape, g.spatial_shape, scale)
        raise InputError(f"shape mismatch: prediction {p.shape} ({p.axes}), truth {g.shape} "
                         f"({g.axes})", where="prediction", hint=hint)
    if not check_spacing:
        return
    if "pixel" in (p.unit, g.unit):   # uncalibrated (PNG without sidecar, bare arrays)
        if p.unit != g.unit:
            which = "prediction" if p.unit == "pixel" else "truth"
            notes.append(f"spacing not compared: the {which} has no physical calibration")
        return
    ps, gs = np.asarray(p.spacing_um), np.asarray(g.spacing_um)
    if not np.allclose(ps, gs, rtol=1e-3):
        ratio = ps / gs
        hint = "check the files' metadata, or pass check_spacing=False (--ignore-spacing)"
        if scale and np.allclose(ratio, scale, rtol=1e-3):
            hint = (f"the prediction carries the spacing of the low-resolution input (x{scale}):"
                    " its spacing was not divided by the scale when it was upscaled; " + hint)
        elif scale and np.allclose(1 / ratio, scale, rtol=1e-3):
            hint = (f"the truth is {scale}x coarser than the prediction: compare on the same "
                    "grid; " + hint)
        raise InputError("spacing mismatch: prediction "
                         f"{tuple(round(float(s), 6) for s in ps)} um, truth "
                         f"{tuple(round(float(s), 6) for s in gs)} um", where="prediction",
                         hint=hint)


def _embed(values: np.ndarray, full_shape: tuple[int, ...], offset: Sequence[int]) -> np.ndarray:
    """Place a map computed on a cropped region back on the full grid, NaN elsewhere."""
    out = np.full(full_shape, np.nan, dtype=np.float32)
    lead = values.ndim - len(offset)
    index = (slice(None),) * lead + tuple(slice(o, o + n)
                                          for o, n in zip(offset, values.shape[lead:]))
    out[index] = values
    return out


def _frc_resolution(p, g, crop: int) -> tuple[float, str | None]:
    """FRC(pred, gt) resolution at 1/7 in the truth's unit (mean over channels), or NaN with
    the reason."""
    from geosr.assess.resolution import frc

    index = tuple(slice(crop, n - crop) for n in g.spatial_shape)
    pa, ga = p.numpy(), g.numpy()
    channels = [(pa[c][index], ga[c][index]) for c in range(g.channels)] if g.has_channels \
        else [(pa[index], ga[index])]
    if min(channels[0][0].shape) < 16:
        return float("nan"), "not computed: fewer than 16 pixels per axis after the crop"
    values = []
    for a, b in channels:
        r = frc(a, b, spacing=g.spacing, unit=g.unit, thresholds=("1/7",))
        if r.resolution["1/7"] is None:
            if "Nyquist" in r.notes[-1]:
                return float("nan"), f"Nyquist-limited (<= {r.bound:.4g} {g.unit})"
            return float("nan"), "no correlation with the truth at any frequency"
        values.append(float(r.resolution["1/7"]))
    return float(np.mean(values)), None


def _classic(p, g, scale: int) -> tuple[dict[str, float], dict[str, np.ndarray], dict, list]:
    from geosr.assess.protocol import classic_sr_metrics, luma
    from geosr.assess.structural import WINDOW

    if g.dims != 2:
        raise InputError(f"the classic protocol is for 2D images, got axes {g.axes}",
                         where="truth", hint="use protocol='microscopy' for volumes")
    res = classic_sr_metrics(p, g, scale=scale)
    yp = luma(p, name="prediction").astype(np.float64)
    yg = luma(g, name="truth").astype(np.float64)
    full = yg.shape
    err = np.abs(yp - yg)[scale:full[0] - scale, scale:full[1] - scale]
    r = WINDOW // 2
    maps = {"abs_error": _embed(err, full, (scale, scale)),
            "ssim": _embed(res["SSIM"].map, full, (scale + r, scale + r))}
    conv = res["SSIM"].convention
    convention = {"channel": conv.channel, "crop": f"{scale} px per border (= scale)",
                  "data_range": "255 (fixed by the protocol)", "fit": "none",
                  "PSNR": "10 log10(255^2 / MSE) on Y as float64",
                  "SSIM": conv.window}
    return {k: v.value for k, v in res.items()}, maps, convention, []


def _microscopy(p, g, *, data_range: Any, crop: int, fit: str, nrmse_normalization: str
                ) -> tuple[dict[str, float], dict[str, np.ndarray], dict, list]:
    from geosr.assess.iqa import full_reference
    from geosr.assess.structural import WINDOW

    res = full_reference(p.numpy(), g.numpy(), data_range=data_range, crop=crop, fit=fit,
                         channel_axis=0 if g.has_channels else None,
                         nrmse_normalization=nrmse_normalization,
                         metrics=("PSNR", "SSIM", "MS-SSIM", "NRMSE", "MAE", "Pearson", "GMSD"))
    err = res["MAE"].map   # |pred - gt| of the same (cropped, fitted) pair
    full = g.shape
    offset = (crop,) * g.dims
    r = WINDOW // 2
    maps = {"abs_error": _embed(err, full, offset),
            "ssim": _embed(res["SSIM"].map, full, tuple(o + r for o in offset))}
    conv = res["PSNR"].convention
    convention = {"channel": conv.channel, "crop": f"{crop} px per border",
                  "data_range": f"{conv.data_range:g} ({conv.data_range_source})",
                  "fit": fit if fit == "none" else
                  "affine least-squares of prediction to truth per image (CSBDeep)",
                  "SSIM": res["SSIM"].convention.window,
                  "MS-SSIM": "5 scales, Wang 2003 weights, 2x block-mean pooling, negative cs "
                             "clamped to 0; computed when every axis > 160 px after the crop"
                             + ("; 3D extension" if g.dims == 3 else ""),
                  "NRMSE": res["NRMSE"].convention.normalization,
                  "Pearson": "on the raw (unfitted) prediction",
                  "GMSD": "Xue 2014, c = 170 (L/255)^2, 2D only"}
    notes = [f"{k}: {v.note}" for k, v in res.items() if v.note]
    details = {k: v.value for k, v in res.items()}
    details["FRC"], frc_note = _frc_resolution(p, g, crop)
    if frc_note:
        notes.append(f"FRC: {frc_note}")
    convention["FRC"] = (f"resolution (1/7 threshold) of the Fourier ring/shell correlation "
                         f"between prediction and truth, in {g.unit}, on the cropped region "
                         "(Tukey window; mean over channels); the finest period faithfully "
                         "recovered")
    if fit == "affine" and res["PSNR"].convention.fit:
        notes.append(res["PSNR"].convention.fit.split("(CSBDeep), ")[-1])
    return details, maps, convention, notes


# ----------------------------------------------------------------------------- front door
def _checked_crop(protocol: str, scale: Any, data_range: Any, crop: int | None,
                  fit: str) -> int | None:
    """The options a protocol allows, checked before any file is read; the border crop."""
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}", where="protocol",
                          hint="use 'microscopy' or 'classic'")
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, (int, np.integer))
                              or scale < 1):
        raise ConfigError(f"must be a positive integer, got {scale!r}", where="scale")
    if protocol == "classic":
        if scale is None:
            raise ConfigError("the classic protocol needs the SR factor", where="scale",
                              hint="pass scale= (--scale); it is also the border crop")
        if data_range is not None and not _is_255(data_range):
            raise ConfigError(f"the classic protocol fixes the data range to 255, got "
                              f"{data_range!r}", where="data_range",
                              hint="omit it, or use protocol='microscopy'")
        if crop is not None and crop != scale:
            raise ConfigError(f"the classic protocol crops `scale` pixels, got crop={crop}",
                              where="crop", hint="omit it, or use protocol='microscopy'")
        if fit != "none":
            raise ConfigError("the classic protocol compares raw values", where="fit",
                              hint="omit it, or use protocol='microscopy'")
        return crop
    crop = (scale or 0) if crop is None else int(crop)
    if crop < 0:
        raise ConfigError(f"must be >= 0, got {crop}", where="crop")
    return crop


def _sources(pred: Any, gt: Any) -> tuple[list[tuple[str, Any, Any]], Any]:
    """``(name, prediction, truth)`` triples and the file loader (None for in-memory data)."""
    if not (isinstance(pred, (str, os.PathLike)) or isinstance(gt, (str, os.PathLike))):
        return [("image", pred, gt)], None
    if not (isinstance(pred, (str, os.PathLike)) and isinstance(gt, (str, os.PathLike))):
        raise InputError("pass two paths or two arrays/images, not one of each",
                         where="prediction")
    from geosr.io import load

    return [(name, p, g) for name, p, g in pair_files(pred, gt)], load


def evaluate(pred: Any, gt: Any, *, protocol: str = "microscopy", scale: int | None = None,
             data_range: Any = None, maps_dir: str | os.PathLike | None = None,
             out_csv: str | os.PathLike | None = None, crop: int | None = None,
             fit: str = "none", nrmse_normalization: str = "euclidean",
             check_spacing: bool = True) -> EvaluationResult:
    """Evaluate predictions against ground truth under a named protocol.

    Parameters
    ----------
    pred, gt:
        Two image files, two folders (matched by name), or two arrays /
        :class:`geosr.core.Image`.
    protocol:
        ``"microscopy"`` (default) or ``"classic"`` (see the module notes).
    scale:
        SR factor: the border crop (required by ``classic``; for ``microscopy`` the default
        crop) and used to explain shape or spacing mismatches.
    data_range:
        ``L`` for PSNR/SSIM/MS-SSIM/GMSD: a number in image units, ``"dtype"`` or ``"gt"``.
        Required for ``microscopy``; fixed to 255 by ``classic``.
    maps_dir:
        Folder for the absolute-error and SSIM maps (TIFF, float32, spacing kept).
    out_csv:
        CSV file for the table (convention in ``#`` lines, one row per image, mean and sd).
    crop:
        Border crop in pixels (``microscopy`` only; default ``scale`` or 0).
    fit:
        ``"none"`` or ``"affine"`` (``microscopy`` only; scale-invariant metrics).
    nrmse_normalization:
        ``"euclidean"`` (default), ``"range"``, ``"mean"`` or ``"std"``.
    check_spacing:
        Refuse pairs whose physical spacing differs (when both files carry one).

    Returns
    -------
    EvaluationResult
        Per-image rows, ``summary()`` (mean, sd, n) and the convention.

    Raises
    ------
    InputError
        Missing or unmatched files, shape or spacing mismatch (with the crop that would fix
        it), NaN/Inf values, non-8-bit images in the classic protocol.
    ConfigError
        Unknown protocol, missing data range or scale, options the protocol does not allow.
    """
    crop = _checked_crop(protocol, scale, data_range, crop, fit)
    pairs, loader = _sources(pred, gt)
    rows, pending, conventions = [], [], []
    for name, p_src, g_src in pairs:
        p_img = loader(p_src) if loader else _as_image(p_src, "prediction", protocol)
        g_img = loader(g_src) if loader else _as_image(g_src, "truth", protocol)
        try:
            notes: list[str] = []
            _check_grids(p_img, g_img, scale, check_spacing, notes)
            if protocol == "classic":
                values, maps, convention, extra = _classic(p_img, g_img, int(scale))
            else:
                values, maps, convention, extra = _microscopy(
                    p_img, g_img, data_range=data_range, crop=int(crop), fit=fit,
                    nrmse_normalization=nrmse_normalization)
        except InputError as err:
            if not loader:
                raise
            what = f"{err.where}: " if err.where else ""
            raise InputError(what + err.message, where=f"{p_src} vs {g_src}",
                             hint=err.hint) from None
        conventions.append(convention)
        rows.append({"name": name, "prediction": str(p_src) if loader else "<array>",
                     "truth": str(g_src) if loader else "<array>", **values,
                     "notes": "; ".join(notes + extra)})
        pending.append((name, maps, g_img))
    metrics = tuple(k for k in rows[0] if k not in ("name", "prediction", "truth", "notes"))
    convention = _merge(conventions)
    if scale is not None:
        convention = {"scale": scale, **convention}
    result = EvaluationResult(protocol, metrics, rows, convention)
    if "FRC" in metrics:
        lengths = sorted({g.unit for _, _, g in pending})
        result.units["FRC"] = lengths[0] if len(lengths) == 1 else "/".join(lengths)
    if maps_dir is not None:
        result.maps = _write_maps(Path(maps_dir), pending, protocol, convention)
    if out_csv is not None:
        result.csv_path = result.to_csv(out_csv)
    return result


def _merge(conventions: list[dict[str, Any]]) -> dict[str, Any]:
    """One convention for the table; an entry that differs between images lists its values."""
    merged: dict[str, Any] = {}
    for conv in conventions:
        for key, value in conv.items():
            merged.setdefault(key, [])
            if value not in merged[key]:
                merged[key].append(value)
    return {k: v[0] if len(v) == 1 else "varies by image: " + " | ".join(map(str, v))
            for k, v in merged.items()}


def _is_255(value: Any) -> bool:
    try:
        return float(value) == 255.0
    except (TypeError, ValueError):
        return False


def _write_maps(folder: Path, pending: list, protocol: str, convention: dict) -> list[Path]:
    """Write every map into a temporary folder beside ``folder``, then move them in place."""
    from geosr.io import save

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    written = []
    try:
        staged = []
        for name, maps, g_img in pending:
            for kind, values in maps.items():
                axes = g_img.axes if values.ndim == len(g_img.axes) else g_img.spatial_axes
                img = Image(values.astype(np.float32), axes, spacing=g_img.spacing,
                            unit=g_img.unit, origin=g_img.origin,
                            metadata={"geosr_map": kind, "protocol": protocol,
                                      "convention": {k: str(v) for k, v in convention.items()},
                                      "outside_evaluated_region": "NaN"})
                target = f"{name}_{kind}.tif"
                save(img, tmp / target)
                staged.append(target)
        folder.mkdir(parents=True, exist_ok=True)
        for target in staged:
            os.replace(tmp / target, folder / target)
            written.append(folder / target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return written
