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
- ``trust.json``: the summary (physics report, statistics, verdict with its reasons).

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
from geosr.trust.acquisition import Acquisition
from geosr.trust.card import card_mismatches, default_card_path, read_card
from geosr.trust.tiles import tile_sizes
from geosr.trust.uncertainty import has_variance_head, hetero_std

__all__ = ["TrustReport", "trust_report", "trust_folder", "SUMMARY_FILE"]

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

    def write(self, folder: str | os.PathLike) -> Path:
        """Write every map (TIFF) and ``trust.json`` into ``folder``, atomically."""
        from geosr.core.files import write_json
        from geosr.io import save

        folder = Path(folder)
        with atomic_path(folder, is_dir=True) as tmp:
            for name, image in self.maps.items():
                save(image, tmp / f"{name}.tif")
            write_json(tmp / SUMMARY_FILE, {**self.summary,
                                            "maps": sorted(f"{n}.tif" for n in self.maps)})
        return folder


def _load(item: Any, where: str) -> Image:
    if isinstance(item, (str, os.PathLike)):
        from geosr.io import load

        return load(item)
    return as_image(item, where)


def _plane(image: Image) -> np.ndarray:
    v = np.asarray(image.numpy(), dtype=np.float32)
    return v[0] if image.has_channels else v


def trust_report(prediction: Any, lr: Any, *, model: Any = None, card: Any = "auto",
                 acquisition: Acquisition | None = None, wavelength_nm: float | None = None,
                 na: float | None = None, microscope: str = "widefield",
                 blur_fwhm_um: float | None = None, uncertainty: str | None = "auto",
                 ensemble: Any = None, tta_members: int | None = None, tile: Any = None,
                 device: str = "cpu", out: str | os.PathLike | None = None) -> TrustReport:
    """Compute the trust evidence of ``prediction`` (made from ``lr``) and optionally write it.

    Parameters
    ----------
    prediction, lr:
        Images or files; the prediction on the LR grid × scale, in the LR's intensity units.
    model:
        The model that made the prediction (path or LoadedModel): needed for TTA and to match
        the calibration card. Without it, no uncertainty and no intervals.
    card:
        A calibration card (dict or JSON path), ``"auto"`` (``MODEL/calibration.json`` if it
        exists) or None.
    acquisition:
        Forward and noise model; default: the LR image's degradation metadata, else the card's;
        if none is known, consistency is skipped and the null space uses the SQUIRREL-fitted
        blur.
    wavelength_nm, na, microscope, blur_fwhm_um:
        Optics for the physics report (nm, NA; or the system blur FWHM in µm for CT).
    uncertainty:
        ``"tta"``, ``"ensemble"``, ``"constant"``, ``"hetero"`` (the model's predicted σ;
        model ``hetero`` only), None (skip) or ``"auto"`` (the card's kind, else TTA when a
        model is given).
    tile:
        Tile side in LR pixels (default 8 in 2D, 4 in 3D).
    out:
        Folder to write the maps and ``trust.json`` into (atomically).
    """
    from geosr.trust.conformal import conformal_pvalue
    from geosr.trust.data_consistency import consistency
    from geosr.trust.nullspace import null_space
    from geosr.trust.ood import OODGate
    from geosr.trust.physics import physics_report
    from geosr.trust.squirrel_map import squirrel
    from geosr.trust.verdict import tile_verdicts

    pred, low = _load(prediction, "prediction"), _load(lr, "lr")
    f, y = _plane(pred), _plane(low)
    if f.ndim != y.ndim or any(a % b for a, b in zip(f.shape, y.shape)):
        raise InputError(f"the prediction {f.shape} is not an integer multiple of the LR "
                         f"image {y.shape}", where="prediction")
    scale = tuple(a // b for a, b in zip(f.shape, y.shape))
    loaded = None
    if model is not None:
        from geosr.predict.core import resolve_model

        loaded = resolve_model(model, device)
        if tuple(loaded.scale) != scale:
            raise InputError(f"the model upsamples by {list(loaded.scale)} but the prediction "
                             f"is the LR × {list(scale)}", where="prediction")
    if isinstance(card, (str, os.PathLike)) and card != "auto":
        card = read_card(card)
    elif card == "auto":
        path = default_card_path(loaded) if loaded is not None else None
        card = read_card(path) if path is not None and path.is_file() else None
    # acquisition: explicit > LR metadata > card
    acq_source = None
    if acquisition is None and isinstance(low.metadata.get("degradation"), dict):
        acquisition = Acquisition.from_image(low)
    if acquisition is None and card is not None and (card.get("acquisition") or {}).get(
            "description"):
        acquisition = Acquisition.from_dict(card["acquisition"]["description"])
        acq_source = "calibration card"
    acq_source = acq_source or (acquisition.source if acquisition is not None else None)
    if wavelength_nm is None and acquisition is not None:
        wavelength_nm, na = acquisition.wavelength_nm, acquisition.na
        microscope = acquisition.microscope
    if blur_fwhm_um is None and wavelength_nm is None and acquisition is not None and \
            acquisition.fwhm_um is not None:
        fw = acquisition.fwhm_um
        blur_fwhm_um = [float(w) for w in fw] if np.ndim(fw) else float(fw)

    maps: dict[str, Image] = {}
    lr_sp, sr_sp = tuple(low.spacing), tuple(pred.spacing)
    sizes = tile_sizes(tile, y.ndim)
    tile_sp = tuple(s * t for s, t in zip(lr_sp, sizes))
    ax = low.spatial_axes
    summary: dict[str, Any] = {"format": "geosr-trust-report", "version": 1,
                               "prediction_shape": list(f.shape), "lr_shape": list(y.shape),
                               "scale": list(scale), "tile_lr_px": list(sizes),
                               "acquisition_source": acq_source}

    summary["physics"] = physics_report(
        lr_spacing_um=low.spacing_um, scale=scale, wavelength_nm=wavelength_nm, na=na,
        microscope=microscope, blur_fwhm_um=blur_fwhm_um, prediction=f)

    sq = squirrel(y, f, scale)
    summary["squirrel"] = sq.summary()
    maps["squirrel_residual"] = Image(sq.residual.astype(np.float32), ax, spacing=lr_sp,
                                      unit=low.unit, origin=low.origin)

    chi2_p = None
    if acquisition is not None and acquisition.has_noise_model:
        cons = consistency(pred, low, acquisition, tile=sizes)
        chi2_p = cons.tile_p
        summary["consistency"] = cons.summary()
        maps["consistency_z"] = Image(cons.z.astype(np.float32), ax, spacing=lr_sp,
                                      unit=low.unit, origin=low.origin)
        maps["consistency_p"] = Image(cons.tile_p.astype(np.float32), ax, spacing=tile_sp,
                                      unit=low.unit)
    else:
        summary["consistency"] = {"skipped": "no forward and noise model known for the input "
                                             "(give the acquisition: fwhm, photons, read noise)"}

    null_acq = acquisition
    if null_acq is None:   # the SQUIRREL-fitted blur stands in for the unknown PSF
        fwhm = [sq.sigma_lr_px * s * sp * 2.3548200450309493 if s > 1 else 0.0
                for s, sp in zip(scale, pred.spacing_um)]
        null_acq = Acquisition.from_arguments(scale=scale, fwhm_um=tuple(fwhm))
    ns = null_space(pred, null_acq, tile=sizes)
    summary["nullspace"] = {**ns.summary(), "operator": "known acquisition" if acquisition
                            is not None else "SQUIRREL-fitted Gaussian blur"}
    maps["nullspace"] = Image(ns.null.astype(np.float32), ax, spacing=sr_sp, unit=pred.unit,
                              origin=pred.origin)
    maps["nullspace_energy"] = Image(ns.local_energy.astype(np.float32), ax, spacing=sr_sp,
                                     unit=pred.unit, origin=pred.origin)
    maps["nullspace_tile_fraction"] = Image(ns.tile_fraction.astype(np.float32), ax,
                                            spacing=tile_sp, unit=low.unit)

    # uncertainty and calibrated intervals
    kind = uncertainty
    if kind == "auto":
        kind = ((card.get("uncertainty") or {}).get("kind") if card else None) or (
            "tta" if loaded is not None else None)
    recorded = (pred.metadata.get("prediction") or {}).get("model_sha256") \
        if isinstance(pred.metadata.get("prediction"), dict) else None
    reasons = card_mismatches(card, model_sha256=None if loaded is None else loaded.sha256,
                              scale=scale, lr_spacing_um=low.spacing_um,
                              acquisition=None if acquisition is None
                              else acquisition.signature())
    if recorded is not None and loaded is not None and recorded != loaded.sha256:
        reasons.append("the prediction was made by another model than the one given")
    halfwidth_rel = None
    hetero_sd = None
    if loaded is not None and (kind == "hetero" or has_variance_head(loaded)):
        hetero_sd = _plane(hetero_std(low, loaded, device=str(loaded.device)))
        maps["hetero_std"] = Image(hetero_sd.astype(np.float32), ax, spacing=sr_sp,
                                   unit=pred.unit, origin=pred.origin)
        summary["hetero"] = {"std_mean": float(hetero_sd.mean()),
                             "std_max": float(hetero_sd.max()),
                             "kind": "aleatoric: the model's predicted standard deviation",
                             "guarantee": "none: uncalibrated until conformal calibration; "
                                          "over-confident on inputs unlike the training data"}
    if kind is not None and loaded is not None:
        from geosr.trust.calibration import input_range, size_map

        u_floor = float((card or {}).get("uncertainty", {}).get("u_floor_rel", 0.01))
        members = (card or {}).get("uncertainty", {}).get("tta_members", tta_members)
        if kind == "hetero":   # already written as hetero_std; same floor as size_map
            spread = hetero_sd
            u = spread + u_floor * input_range(low.numpy())
        else:
            u, spread = size_map(low, loaded, kind=kind, ensemble=ensemble,
                                 tta_members=members, u_floor=u_floor,
                                 device=str(loaded.device))
        if spread is not None and kind != "hetero":
            maps["uncertainty_std"] = Image(spread.astype(np.float32), ax, spacing=sr_sp,
                                            unit=pred.unit, origin=pred.origin)
        summary["uncertainty"] = {"kind": kind, "std_mean": None if spread is None
                                  else float(spread.mean()),
                                  "guarantee": "none by itself"}
        if card is not None and (card.get("uncertainty") or {}).get("kind") != kind:
            reasons.append(f"the card calibrated '{card['uncertainty']['kind']}' intervals, "
                           f"not '{kind}'")
        if not reasons:
            lam = float(card["intervals"]["crc"]["lambda"])
            if np.isfinite(lam):
                maps["interval_lower"] = Image((f - lam * u).astype(np.float32), ax,
                                               spacing=sr_sp, unit=pred.unit, origin=pred.origin)
                maps["interval_upper"] = Image((f + lam * u).astype(np.float32), ax,
                                               spacing=sr_sp, unit=pred.unit, origin=pred.origin)
                halfwidth_rel = float(lam * u.mean()) / input_range(y)
            summary["intervals"] = {**card["intervals"]["crc"], "kind": "crc",
                                    "halfwidth_rel": halfwidth_rel,
                                    "scope": card.get("scope")}
            if not np.isfinite(lam):
                summary["intervals"]["note"] = ("no finite interval: too few calibration "
                                                "images for this alpha (no map written)")
    elif card is not None and not reasons:
        reasons.append("no uncertainty map (give the model) to scale the intervals")
    if reasons:
        summary["intervals"] = {"refused": reasons}

    ood = None
    same_model = (card is not None and loaded is not None
                  and (card.get("model") or {}).get("sha256") == loaded.sha256)
    if card is not None and card.get("ood"):
        gate = OODGate.from_dict(card["ood"])
        ood = gate.check(y)
        if card.get("ood_features") and same_model:
            from geosr.trust.ood import model_features

            fgate = OODGate.from_dict(card["ood_features"])
            p_feat = conformal_pvalue(fgate.calibration_scores,
                                      float(fgate.score_features(model_features(loaded, low))[0]))
            combined = min(1.0, 2.0 * min(ood["pvalue"], p_feat))   # Bonferroni over 2 gates
            ood = {**ood, "pvalue_inputs": ood["pvalue"], "pvalue_features": p_feat,
                   "pvalue": combined, "flag": bool(combined <= gate.alpha),
                   "combination": "Bonferroni: 2 * min(p_inputs, p_features)"}
        summary["ood"] = ood
    else:
        summary["ood"] = {"skipped": "no OOD gate (needs a matching calibration card)"}

    id_ref = (card or {}).get("id_reference") or {}
    grid = ns.tile_fraction.shape
    verdicts = tile_verdicts(
        grid, chi2_p=chi2_p, ood=ood, squirrel_bound=sq.bound, card_reasons=reasons,
        null_tile_fraction=ns.tile_fraction if not reasons else None,
        id_null_tile_fraction=id_ref.get("null_tile_fraction"),
        halfwidth_rel=halfwidth_rel, id_halfwidth_rel=id_ref.get("halfwidth_rel"),
        scale_exceeds_optics=bool(summary["physics"].get("scale_exceeds_optics")))
    maps["verdict"] = Image(verdicts.codes.astype(np.uint8), ax, spacing=tile_sp, unit=low.unit)
    summary["verdict"] = verdicts.summary()
    summary["maps"] = sorted(f"{name}.tif" for name in maps)
    summary = to_jsonable(summary)
    report = TrustReport(maps=maps, summary=summary)
    if out is not None:
        report.write(out)
    return report
