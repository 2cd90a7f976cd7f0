"""Register every LR/HR pair of two folders: ``register_folders(lr_dir, hr_dir, scale, out)``
(``geosr pairs register``).

Writes ``OUT/lr/NAME.tif`` (LR cropped to the common field) and ``OUT/hr/NAME.tif`` (HR
resampled once onto ``scale`` × that grid) for the pairs that are not rejected (rejected
pairs' files are removed, so ``OUT`` can feed ``source: folders`` directly),
``OUT/pairs.csv`` (one row per pair, rejected ones included, with ``verdict`` and ``reason``),
``OUT/forward_model.json`` (:mod:`geosr.pairs.forward`, from the ``ok`` pairs) and
``OUT/report.html``. Every file is written atomically.

Resumable and idempotent: each pair's result (numbers and registered images) is cached in
``OUT/.cache/`` under a key made of the SHA-256 of both input files and the options; a rerun
skips the pairs whose key is unchanged and redoes only the cross-pair steps (focus outliers,
the forward model, the table, the report), which are deterministic; ``OUT/lr`` and ``OUT/hr``
are then made to hold exactly the cached images of the pairs that are not rejected.

>>> import tempfile, pathlib, numpy as np
>>> from geosr.io import save
>>> from geosr.pairs.simulate import simulate_acquisition
>>> from geosr.pairs.transform import PairTransform
>>> from scipy.ndimage import gaussian_filter
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> hr = gaussian_filter(np.random.default_rng(0).random((96, 96)), 2) * 100
>>> lr = simulate_acquisition(hr, 4, PairTransform((0.4, 1.1)), fwhm_px=4.0, photons=50.0)
>>> _ = save(hr.astype(np.float32), d / "hr" / "a.tif"); _ = save(lr, d / "lr" / "a.tif")
>>> summary = register_folders(d / "lr", d / "hr", 4, d / "out", report=False)
>>> summary["counts"]
{'ok': 1, 'suspect': 0, 'reject': 0}
"""

from __future__ import annotations

import csv
import hashlib
import io as _io
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from geosr.core.errors import GeosrError, InputError
from geosr.core.files import atomic_path, read_json, to_jsonable, write_json
from geosr.core.per_axis import per_axis

__all__ = ["register_folders", "registered_folders", "CACHE_VERSION"]

CACHE_VERSION = 1
_CSV_FIRST = ["name", "verdict", "reason"]


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        with open(f, "rb") as fh:
            while block := fh.read(1 << 20):
                h.update(block)
    return h.hexdigest()


def _pair_key(lr: Path, hr: Path, options: dict[str, Any]) -> str:
    text = json.dumps({"lr": _digest(lr), "hr": _digest(hr), "options": to_jsonable(options),
                       "version": CACHE_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _match(lr_dir: Path, hr_dir: Path) -> list[tuple[str, Path, Path]]:
    from geosr.io.files import images_by_name, pair_by_name

    lr = images_by_name(lr_dir, label="LR_DIR")
    hr = images_by_name(hr_dir, label="HR_DIR")
    return pair_by_name(lr, hr, folders=(lr_dir, hr_dir), where=str(lr_dir))


def _check_readable(pairs: Sequence[tuple[str, Path, Path]]) -> None:
    """Open every file's header before any long work (unreadable -> InputError)."""
    from geosr.io import load

    for _, lr, hr in pairs:
        for path in (lr, hr):
            image = load(path, lazy=True)
            if image.has_channels:
                raise InputError("multi-channel image: register one channel at a time",
                                 where=str(path))


def _register_one(name: str, lr_path: Path, hr_path: Path, scale: Any,
                  options: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """``(cache entry, PairRegistration or None)`` for one pair (single-pair checks only)."""
    from geosr.io import load
    from geosr.pairs import qc
    from geosr.pairs.register import register_pair

    lr, hr = load(lr_path), load(hr_path)
    lr_v, hr_v = np.asarray(lr.numpy(), np.float64), np.asarray(hr.numpy(), np.float64)
    factors = per_axis(scale, lr.dims, where="scale", kind=int, minimum=1)
    ratio = None
    if lr.unit != "pixel" and hr.unit != "pixel" and lr.dims == hr.dims:
        ratio = [a / b for a, b in zip(lr.spacing_um, hr.spacing_um)]
    verdict, reason = qc.precheck(lr_v, hr_v, factors, ratio)
    entry: dict[str, Any] = {"name": name, "lr_file": str(lr_path), "hr_file": str(hr_path)}
    if verdict == "reject":
        return {**entry, "verdict": verdict, "reason": reason, "summary": None}, None
    try:
        reg = register_pair(lr, hr, factors, **options)
    except InputError as err:
        return {**entry, "verdict": "reject", "reason": f"registration failed: {err.message}",
                "summary": None}, None
    verdict, reason = qc.judge_registration(reg, lr_v, hr_v)
    from geosr.pairs.report import pair_figures

    return {**entry, "verdict": verdict, "reason": reason, "summary": reg.summary(),
            "figures": pair_figures(reg)}, reg


def _fwhm_se(summary: dict[str, Any]) -> float:
    """Standard error (µm) of a pair's lateral PSF FWHM, from its σ standard error."""
    sigma, se = summary["sigma_hr_px"][-1], summary.get("se_sigma_yx")
    return float(se) / sigma * summary["fwhm_um"][-1] if se and sigma > 0 else 0.0


def _cross_pair(entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Focus outliers, the pooled forward model, residual in noise units (in place)."""
    from geosr.pairs import qc
    from geosr.pairs.forward import estimate_forward_model

    kept = [e for e in entries if e["verdict"] != "reject"]
    focus = qc.judge_focus({e["name"]: e["summary"]["fwhm_um"][-1] for e in kept},
                           {e["name"]: _fwhm_se(e["summary"]) for e in kept})
    for e in kept:
        if e["name"] in focus:
            e["verdict"], e["reason"] = "reject", focus[e["name"]]
    good = [e for e in entries if e["verdict"] == "ok"] or \
        [e for e in entries if e["verdict"] == "suspect"]
    if not good:
        return None
    try:
        forward = estimate_forward_model([e["summary"] for e in good],
                                         [e["name"] for e in good])
    except GeosrError as err:
        return {"error": str(err)}
    noise = forward["estimate"]["noise"]
    for e in entries:
        if e["summary"] is not None:
            ratio = qc.residual_in_noise_units(e["summary"], noise)
            e["residual_noise_units"] = ratio
            if e["verdict"] == "ok" and ratio > qc.RESIDUAL_SUSPECT:
                e["verdict"] = "suspect"
                e["reason"] = f"residual {ratio:.2f} x the fitted noise sd"
    return forward


def _csv_rows(entries: list[dict[str, Any]]) -> str:
    rows, columns = [], list(_CSV_FIRST)
    for e in entries:
        row = {"name": e["name"], "verdict": e["verdict"], "reason": e["reason"]}
        s = e.get("summary") or {}
        for k, v in s.items():
            if not isinstance(v, (list, dict)) and k != "dims":
                row[k] = v
        row["residual_noise_units"] = e.get("residual_noise_units")
        row["lr_file"], row["hr_file"] = e["lr_file"], e["hr_file"]
        for k in row:
            if k not in columns:
                columns.append(k)
        rows.append(row)
    buf = _io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else
                             (f"{row[k]:.6g}" if isinstance(row.get(k), float) else row[k]))
                         for k in columns})
    return buf.getvalue()


def _outputs(out: Path, name: str) -> tuple[Path, Path]:
    return out / "lr" / f"{name}.tif", out / "hr" / f"{name}.tif"


def register_folders(lr_dir: str | os.PathLike, hr_dir: str | os.PathLike,
                     scale: int | Sequence[int], out: str | os.PathLike, *,
                     transform: str = "translation", intensity: str = "affine",
                     psf_fwhm_um: float | Sequence[float] | None = None,
                     deformable: bool = False, report: bool = True,
                     progress: Callable[[str, str], None] | None = None) -> dict[str, Any]:
    """Register the pairs of ``lr_dir``/``hr_dir`` (matched by file name) into ``out``.

    ``scale``, ``transform``, ``intensity``, ``psf_fwhm_um``, ``deformable``: see
    :func:`geosr.pairs.register.register_pair`. ``progress(name, status)`` is called per pair
    (``status``: ``done``, ``cached``). Returns ``{"counts", "pairs", "forward_model",
    "files"}``. Raises :class:`InputError` (before any work) for missing, unmatched or
    unreadable files.
    """
    lr_dir, hr_dir, out = Path(lr_dir), Path(hr_dir), Path(out)
    from geosr.pairs.register import _resolve  # validates the options before any work

    pairs = _match(lr_dir, hr_dir)
    _check_readable(pairs)
    options = {"transform": transform, "intensity": intensity, "psf_fwhm_um": psf_fwhm_um,
               "deformable": deformable}
    _resolve(scale, 2 if np.ndim(scale) == 0 else len(scale), transform, intensity)
    entries, registrations = [], {}
    for name, lr_path, hr_path in pairs:
        key = _pair_key(lr_path, hr_path, {**options, "scale": scale})
        cache = out / ".cache" / f"{name}.json"
        lr_cached, hr_cached = _outputs(out / ".cache", name)
        cached = read_json(cache) if cache.is_file() else None
        if cached and cached.get("key") == key and (
                cached["entry"]["verdict"] == "reject"
                or (lr_cached.exists() and hr_cached.exists())):
            entries.append(cached["entry"])
            progress and progress(name, "cached")
            continue
        entry, reg = _register_one(name, lr_path, hr_path, scale, options)
        if reg is not None and entry["verdict"] != "reject":
            from geosr.io import save

            save(reg.lr, lr_cached)
            save(reg.hr, hr_cached)
            registrations[name] = reg
        write_json(cache, {"key": key, "entry": entry})
        entries.append(entry)
        progress and progress(name, "done")
    single = {e["name"]: e["verdict"] for e in entries}
    entries = [json.loads(json.dumps(e)) for e in entries]  # cross-pair edits stay out of cache
    forward = _cross_pair(entries)
    return _finish(out, entries, single, forward, registrations, report)


def _finish(out: Path, entries: list[dict[str, Any]], single: dict[str, str],
            forward: dict[str, Any] | None, registrations: dict[str, Any], report: bool
            ) -> dict[str, Any]:
    files = {}
    for e in entries:
        for cached, final in zip(_outputs(out / ".cache", e["name"]), _outputs(out, e["name"])):
            if e["verdict"] == "reject":
                final.unlink(missing_ok=True)
            elif not (final.exists() and _digest(final) == _digest(cached)):
                with atomic_path(final) as tmp:
                    shutil.copyfile(cached, tmp)
    csv_path = out / "pairs.csv"
    with atomic_path(csv_path) as tmp:
        tmp.write_text(_csv_rows(entries), encoding="utf-8")
    files["pairs.csv"] = csv_path
    if forward is not None and "error" not in forward:
        files["forward_model.json"] = write_json(out / "forward_model.json", forward)
    if report:
        from geosr.pairs.report import write_pairs_report

        files["report.html"] = write_pairs_report(out, entries, forward)
    counts = {k: sum(e["verdict"] == k for e in entries) for k in ("ok", "suspect", "reject")}
    return {"counts": counts, "pairs": entries, "forward_model": forward,
            "files": {k: str(v) for k, v in files.items()}}


def registered_folders(lr_dir: str | os.PathLike, hr_dir: str | os.PathLike,
                       scale: int | Sequence[int], *, transform: str = "translation",
                       intensity: str = "affine", cache: str | os.PathLike | None = None,
                       show_progress: bool = False) -> tuple[Path, Path, dict[str, Any]]:
    """Raw pair folders registered once into a cache keyed by their content and the options
    (``cache``; default ``$GEOSR_CACHE/pairs`` or ``~/.cache/geosr/pairs``), for
    ``source: folders`` with ``register: true``. A later call with the same files finds the
    cache and skips every pair. Returns ``(lr folder, hr folder, summary)`` of the kept pairs;
    :class:`InputError` when none is kept."""
    from geosr.io.files import images_by_name

    lr_dir, hr_dir = Path(lr_dir), Path(hr_dir)
    root = Path(cache) if cache is not None else Path(
        os.environ.get("GEOSR_CACHE", Path.home() / ".cache" / "geosr")) / "pairs"
    h = hashlib.sha256(json.dumps({"scale": to_jsonable(scale), "transform": transform,
                                   "intensity": intensity, "version": CACHE_VERSION},
                                  sort_keys=True).encode())
    for label, folder in (("lr", lr_dir), ("hr", hr_dir)):
        for name, path in sorted(images_by_name(folder, label=f"data.{label}").items()):
            h.update(f"{label}/{name}\0{_digest(path)}\n".encode())
    out = root / h.hexdigest()[:24]
    show = (lambda name, status: print(f"  {name}: {status}")) if show_progress else None
    summary = register_folders(lr_dir, hr_dir, scale, out, transform=transform,
                               intensity=intensity, progress=show)
    if not any(e["verdict"] != "reject" for e in summary["pairs"]):
        raise InputError("every LR/HR pair was rejected by the registration", where=str(lr_dir),
                         hint=f"see {out / 'report.html'}")
    return out / "lr", out / "hr", summary
