"""``trust_report``: every piece of evidence for one prediction, its maps as TIFF files with
spacing, and a JSON summary — written atomically into a folder beside the prediction.

Maps (grid, spacing):

- ``consistency_z.tif`` (LR grid): noise-normalised residual ``(LR − D f̂)/σ``;
  ``consistency_p.tif`` (tile grid): χ² p-value per tile.
- ``squirrel_residual.tif`` (LR grid): ``LR − (α D_θ f̂ + β)`` with the fitted blur.
- ``nullspace.tif`` (prediction grid): ``P_null f̂``, the detail the measurement cannot see;
  ``nullspace_energy.tif``: its smoothed local energy; ``nullspace_tile_fraction.tif`` (tiles).
- ``uncertainty_std.tif`` (prediction grid): TTA/ensemble standard deviation.
- ``hetero_std.tif`` (prediction grid): the standard deviation predicted by a heteroscedastic
  model's variance head (aleatoric, uncalibrated), whenever the model has one.
- ``interval_lower.tif``, ``interval_upper.tif`` (prediction grid): calibrated interval, only
  when a matching calibration card exists.
- ``verdict.tif`` (tile grid, uint8): 0 green, 1 amber, 2 red.
- ``elements.csv`` and ``element_confidence.tif`` (prediction grid): a confidence per network
  element, only with ``confidence=True``.
- ``trust.json``: the summary (physics report, statistics, verdict with its reasons, and
  ``verdict_control``: one sentence saying what controlled the false alarms).

Each piece of evidence is a registered function (:mod:`geosr.trust.registry`, built-ins in
:mod:`geosr.trust.pieces`) that sees one :class:`~geosr.trust.context.TrustContext` and returns
its summary, maps and tests; :func:`compose` runs them and composes the verdict.

>>> rep = trust_report("sr.tif", "lr.tif", model="runs/model", out="sr.trust")  # doctest: +SKIP
>>> rep.summary["verdict"]["image"]                                           # doctest: +SKIP
'amber'
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from geosr.core.errors import InputError
from geosr.core.files import atomic_path, to_jsonable
from geosr.core.image import Image, as_image
from geosr.trust.acquisition import resolve_acquisition
from geosr.trust.card import card_mismatches, resolve_card
from geosr.trust.context import TrustContext
from geosr.trust.multiple import DEFAULT_LEVEL

__all__ = ["TrustReport", "trust_report", "trust_folder", "compose", "SUMMARY_FILE"]

SUMMARY_FILE = "trust.json"


def trust_folder(prediction_path: str | os.PathLike) -> Path:
    """The folder beside a prediction file where its trust maps go (``sr/a.tif`` →
    ``sr/a.trust``)."""
    p = Path(prediction_path)
    name = p.name
    for ext in (".ome.tiff", ".ome.tif", ".tiff", ".tif", ".npy", ".nrrd", ".png", ".zarr"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
            break
    return p.with_name(name + ".trust")


@dataclasses.dataclass
class TrustReport:
    """``maps``: name → :class:`Image` (with spacing); ``summary``: JSON-serialisable."""

    maps: dict[str, Image]
    summary: dict[str, Any]
    files: dict[str, bytes] = dataclasses.field(default_factory=dict)

    def write(self, folder: str | os.PathLike) -> Path:
        """Write every map (TIFF) and ``trust.json`` into ``folder``, atomically."""
        from geosr.core.files import write_json
        from geosr.io import save

        folder = Path(folder)
        with atomic_path(folder, is_dir=True) as tmp:
            for name, image in self.maps.items():
                save(image, tmp / f"{name}.tif")
            for name, data in self.files.items():
                (tmp / name).write_bytes(data)
            write_json(tmp / SUMMARY_FILE, {**self.summary,
                                            "maps": sorted(f"{n}.tif" for n in self.maps)})
        return folder


def _load(item: Any, where: str) -> Image:
    if isinstance(item, (str, os.PathLike)):
        from geosr.io import load

        return load(item)
    return as_image(item, where)


def _resolve_model(model: Any, device: str, scale: tuple[int, ...]) -> Any:
    if model is None:
        return None
    from geosr.predict.core import resolve_model

    loaded = resolve_model(model, device)
    if tuple(loaded.scale) != scale:
        raise InputError(f"the model upsamples by {list(loaded.scale)} but the prediction "
                         f"is the LR × {list(scale)}", where="prediction")
    return loaded


def _check_options(level: float, control: str, confidence: bool, model: Any) -> None:
    """Refuse bad options before any work."""
    from geosr.core.errors import ConfigError
    from geosr.trust.multiple import CONTROLS

    if not 0.0 < float(level) < 1.0:
        raise ConfigError(f"the verdict level must be in (0, 1), got {level}", where="level")
    if control not in CONTROLS:
        raise ConfigError(f"unknown error control {control!r}", where="control",
                          hint="use " + ", ".join(CONTROLS))
    if confidence and model is None:
        raise ConfigError("element confidence needs the model that made the prediction",
                          where="model", hint="give --model M with --confidence")


def _card_reasons(ctx: TrustContext) -> list[str]:
    """Why the card does not apply to this model and input (model, scale, pixels, forward
    model; a prediction made by another model)."""
    loaded, acq = ctx.loaded, ctx.acquisition
    reasons = card_mismatches(None if ctx.card is None else ctx.card.data,
                              model_sha256=None if loaded is None else loaded.sha256,
                              scale=ctx.scale, lr_spacing_um=ctx.low.spacing_um,
                              acquisition=None if acq is None else acq.signature())
    meta = ctx.pred.metadata.get("prediction")
    recorded = meta.get("model_sha256") if isinstance(meta, dict) else None
    if recorded is not None and loaded is not None and recorded != loaded.sha256:
        reasons.append("the prediction was made by another model than the one given")
    return reasons


def compose(ctx: TrustContext, pieces: Any = None) -> TrustReport:
    """Run the registered evidence (``pieces``: None = all, or a list of names) on ``ctx`` and
    compose the verdict from what they return."""
    from geosr.trust.registry import evidence_functions
    from geosr.trust.verdict import compose_verdict

    maps: dict[str, Image] = {}
    files: dict[str, bytes] = {}
    summary: dict[str, Any] = {"format": "geosr-trust-report", "version": 1,
                               "prediction_shape": list(ctx.f.shape),
                               "lr_shape": list(ctx.y.shape), "scale": list(ctx.scale),
                               "tile_lr_px": list(ctx.sizes),
                               "acquisition_source": ctx.acquisition_source}
    tests, red, amber, image_tests = [], [], [], []
    for _name, fn in evidence_functions(pieces):
        ev = fn(ctx)
        if ev is None:
            continue
        summary.update(ev.summary)
        maps.update(ev.maps)
        files.update(ev.files)
        tests += ev.tests
        red += ev.red
        amber += ev.amber
        image_tests += ev.image_tests
    red += [f"intervals refused: {r}" for r in ctx.card_reasons]
    grid = tuple(-(-n // t) for n, t in zip(ctx.y.shape, ctx.sizes))
    verdicts = compose_verdict(grid, tests, global_red=red, global_amber=amber,
                               image_tests=image_tests, level=ctx.level, method=ctx.control)
    maps["verdict"] = ctx.tile_map(verdicts.codes, np.uint8)
    summary["verdict"] = verdicts.summary()
    summary["verdict_control"] = verdicts.sentence()
    summary["maps"] = sorted(f"{name}.tif" for name in maps)
    return TrustReport(maps=maps, summary=to_jsonable(summary), files=files)


def trust_report(prediction: Any, lr: Any, *, model: Any = None, card: Any = "auto",
                 acquisition: Any = None, wavelength_nm: float | None = None,
                 na: float | None = None, microscope: str = "widefield",
                 blur_fwhm_um: float | None = None, uncertainty: str | None = "auto",
                 ensemble: Any = None, tta_members: int | None = None, tile: Any = None,
                 device: str = "cpu", level: float = DEFAULT_LEVEL, control: str = "holm",
                 confidence: bool = False, evidence: Any = None,
                 out: str | os.PathLike | None = None) -> TrustReport:
    """Compute the trust evidence of ``prediction`` (made from ``lr``) and optionally write it.

    Parameters
    ----------
    prediction, lr:
        Images or files; the prediction on the LR grid × scale, in the LR's intensity units.
    model:
        The model that made the prediction (path or LoadedModel): needed for TTA and to match
        the calibration card. Without it, no uncertainty and no intervals.
    card:
        A calibration card (dict, :class:`~geosr.trust.card.CalibrationCard` or JSON path),
        ``"auto"`` (``MODEL/calibration.json`` if it exists) or None.
    acquisition:
        Forward and noise model (an :class:`Acquisition`, a ``ForwardModel``, a record or a
        JSON file; see :func:`~geosr.trust.acquisition.resolve_acquisition`); default: the LR
        image's degradation metadata, else the card's; if none is known, consistency is
        skipped and the null space uses the SQUIRREL-fitted blur.
    wavelength_nm, na, microscope, blur_fwhm_um:
        Optics for the physics report (nm, NA; or the system blur FWHM in µm for CT).
    uncertainty:
        ``"tta"``, ``"ensemble"``, ``"constant"``, ``"hetero"`` (the model's predicted σ;
        model ``hetero`` only), None (skip) or ``"auto"`` (the card's kind, else TTA when a
        model is given).
    tile:
        Tile side in LR pixels (default 8 in 2D, 4 in 3D).
    level, control:
        Error control of the tile tests across the image's tiles: ``"holm"`` (family-wise
        false-red rate <= ``level``), ``"bh"`` (false-discovery rate) or ``"none"``.
    confidence:
        Also estimate a confidence per network element (needs the model).
    evidence:
        Names of the pieces to run (default: every registered piece).
    out:
        Folder to write the maps and ``trust.json`` into (atomically).
    """
    _check_options(level, control, confidence, model)
    pred, low = _load(prediction, "prediction"), _load(lr, "lr")
    ctx = TrustContext(pred=pred, low=low, wavelength_nm=wavelength_nm, na=na,
                       microscope=microscope, blur_fwhm_um=blur_fwhm_um,
                       uncertainty=uncertainty, ensemble=ensemble, tta_members=tta_members,
                       tile=tile, device=device, level=level, control=control,
                       options={"confidence": bool(confidence)})
    ctx.loaded = _resolve_model(model, device, ctx.scale)
    ctx.card = resolve_card(card, ctx.loaded)
    ctx.acquisition, ctx.acquisition_source = resolve_acquisition(acquisition, lr=low,
                                                                  card=ctx.card)
    ctx.card_reasons = _card_reasons(ctx)
    report = compose(ctx, evidence)
    if out is not None:
        report.write(out)
    return report
