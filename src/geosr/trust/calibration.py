"""``calibrate``: run a model on held-out paired images and write its calibration card.

For each calibration pair (LR input, HR target in the same intensity units as the model's
predictions, i.e. the LR's units): the prediction ``ŷ``, a size map ``u`` (TTA or ensemble
standard deviation, plus a floor of ``u_floor`` × the input's 1–99.8 % intensity range so that
``u > 0``; the floor depends on the input only, never on the target), the ratios
``|y − ŷ| / u``, the input statistics for the OOD gate and, when the acquisition is known, the
null-space share per tile. From these: CRC ``λ̂``, the split-conformal ``q̂``, the OOD gate and
the in-distribution (ID) reference distributions used by the verdict.

The calibration pairs must not have been used for training, early stopping or model choice,
and must come from the deployment distribution (same instrument, sample type, noise); split
them from the training data by field of view, never by patch. Calibrating on simulated pairs
gives a guarantee for the simulated distribution only (``simulated=True`` records that).

>>> card = calibrate("runs/model", "data/calib", alpha=0.1)   # doctest: +SKIP
>>> card["intervals"]["crc"]["lambda"]                        # doctest: +SKIP
2.7
"""

from __future__ import annotations

import dataclasses
import datetime
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from geosr.core.errors import ConfigError, InputError
from geosr.core.files import to_jsonable, write_json
from geosr.core.image import Image, as_image
from geosr.trust.acquisition import Acquisition
from geosr.trust.card import CARD_FORMAT, CARD_VERSION, default_card_path
from geosr.trust.conformal import (
    conformal_quantile, crc_lambda, ratios, simultaneous_scores,
)
from geosr.trust.ood import DEFAULT_ALPHA_OOD, OODGate, input_features

__all__ = ["calibrate", "size_map", "list_pairs", "UNCERTAINTY_KINDS", "input_range"]

UNCERTAINTY_KINDS = ("tta", "ensemble", "constant", "hetero")


def input_range(lr: np.ndarray) -> float:
    """The 1–99.8 % intensity range of an input (the unit of the size-map floor)."""
    lo, hi = np.percentile(np.asarray(lr, dtype=np.float64), (1.0, 99.8))
    return float(max(hi - lo, 1e-12))


def size_map(lr: Image, loaded: Any, *, kind: str = "tta", ensemble: Any = None,
             tta_members: int | None = None, u_floor: float = 0.01,
             device: str = "cpu") -> tuple[np.ndarray, np.ndarray | None]:
    """The size map ``u`` (prediction grid) for ``lr`` and the raw spread (None for
    ``"constant"``)."""
    from geosr.trust.uncertainty import ensemble_predict, hetero_std, tta

    shape = tuple(n * s for n, s in zip(lr.spatial_shape, loaded.scale))
    floor = u_floor * input_range(lr.numpy())
    if kind == "tta":
        spread = tta(lr, loaded, max_members=tta_members, device=device).std
    elif kind == "ensemble":
        if ensemble is None:
            raise ConfigError("uncertainty 'ensemble' needs the ensemble description",
                              where="ensemble", hint="pass --ensemble ENSEMBLE.json")
        spread = ensemble_predict(lr, ensemble, device=device).std
    elif kind == "hetero":   # the model's own predicted sd (model 'hetero')
        spread = np.asarray(hetero_std(lr, loaded, device=device).numpy(), dtype=np.float64)
        spread = spread[0] if spread.ndim == len(shape) + 1 else spread
    elif kind == "constant":
        return np.full(shape, floor), None
    else:
        raise ConfigError(f"unknown uncertainty {kind!r}", where="uncertainty",
                          hint="use " + ", ".join(UNCERTAINTY_KINDS))
    return spread + floor, spread


def list_pairs(folder: str | os.PathLike) -> list[tuple[Path, Path]]:
    """(LR, HR) files of a folder holding ``lr/`` and ``hr/`` with matching file names."""
    from geosr.io.files import image_files

    folder = Path(folder)
    lr_dir, hr_dir = folder / "lr", folder / "hr"
    if not (lr_dir.is_dir() and hr_dir.is_dir()):
        raise InputError("needs the subfolders lr/ and hr/ with matching file names",
                         where=str(folder))
    pairs = []
    for lr in image_files(lr_dir):   # InputError when lr/ holds no image
        hr = hr_dir / lr.name
        if not hr.exists():
            raise InputError(f"no HR partner for {lr.name}", where=str(hr_dir),
                             hint="give every LR file an HR file of the same name")
        pairs.append((lr, hr))
    return pairs


def _element_rows(pred: Image, lr: Image, y: np.ndarray, loaded: Any,
                  tta_members: int | None) -> tuple[list, Any]:
    """The element rows of one calibration prediction and whether each exists in the truth
    (the HR target segmented by its own Otsu threshold)."""
    from skimage.filters import threshold_otsu

    from geosr.trust.elements import model_element_table, truth_labels

    table = model_element_table(pred, lr, loaded, members=tta_members or 8,
                                device=str(loaded.device))
    return table.rows, truth_labels(table, y > threshold_otsu(y))


def _element_calibration(per_image: list[tuple[list, Any]], tta_members: int | None
                         ) -> dict[str, Any]:
    """Fit the element calibration on the first half of the images, report the expected
    calibration error on the other half, then refit on all (what the card keeps)."""
    from geosr.trust.elements import (
        auroc, expected_calibration_error, fit_calibration, reliability, row_inputs,
    )

    def pooled(items):
        rows = [r for rs, _ in items for r in rs]
        labels = np.concatenate([np.asarray(lab) for _, lab in items]) if items else []
        return row_inputs(rows), np.asarray(labels)

    half = len(per_image) // 2
    (x1, y1), (x2, y2) = pooled(per_image[:half]), pooled(per_image[half:])
    out: dict[str, Any] = {"members": tta_members or 8, "member_kind": "tta",
                           "truth": "Otsu segmentation of each HR target, 1 px tolerance"}
    try:
        first = fit_calibration(*x1, y1)
        out.update(ece_heldout=expected_calibration_error(y2, first(*x2)),
                   auroc_heldout=auroc(y2, first(*x2)),
                   reliability_heldout=reliability(y2, first(*x2)))
    except InputError as err:
        out["note"] = f"no held-out check: {err.message}"
    (xa, ya) = pooled(per_image)
    try:
        out.update(fit_calibration(*xa, ya).to_dict())
    except InputError as err:
        return {**out, "note": err.message}
    return out


def _one_channel(values: np.ndarray, image: Image) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return v[0] if image.has_channels else v


def calibrate(model: Any, pairs: str | os.PathLike | Sequence[tuple[Any, Any]], *,
              alpha: float = 0.1, beta: float = 0.0, alpha_ood: float = DEFAULT_ALPHA_OOD,
              uncertainty: str = "tta", ensemble: Any = None, tta_members: int | None = None,
              u_floor: float = 0.01, acquisition: Acquisition | None = None,
              tile: Any = None, out: str | os.PathLike | None = None, device: str = "cpu",
              simulated: bool = False, description: str | None = None,
              model_features: bool = False, element_confidence: bool = False
              ) -> dict[str, Any]:
    """Calibrate ``model`` on held-out ``pairs`` and write the card (JSON) to ``out`` (default
    ``MODEL/calibration.json``). Returns the card.

    Parameters
    ----------
    model:
        Model folder / zip or :class:`geosr.models.LoadedModel`.
    pairs:
        A folder with ``lr/`` and ``hr/`` (same file names) or a list of (LR, HR) Images.
    alpha:
        Target miss rate (CRC: expected fraction of missed pixels; split conformal: probability
        that an image is not fully covered).
    beta:
        Split conformal: fraction of pixels allowed outside the band (0 = all covered).
    alpha_ood:
        False-alarm level of the OOD gate.
    uncertainty:
        Size map: ``"tta"`` (default), ``"ensemble"`` (with ``ensemble``) or ``"constant"``.
    acquisition:
        The LR acquisition (default: each LR image's degradation metadata, when present); used
        for the null-space reference distribution and bound into the card.
    model_features:
        Also fit a second OOD gate on the model's own features (Mahalanobis on
        ℓ2-normalised pooled activations); the two gates then share ``alpha_ood``
        (Bonferroni).
    element_confidence:
        Also calibrate the confidence of network elements (:mod:`geosr.trust.elements`):
        the agreement of the TTA members per component and branch against the truth
        (Otsu segmentation of each HR target), stored as ``card["elements"]``.
    """
    from geosr.predict.core import resolve_model

    loaded = resolve_model(model, device)
    source = str(pairs) if isinstance(pairs, (str, os.PathLike)) else "in-memory pairs"
    items: Iterable = (list_pairs(pairs) if isinstance(pairs, (str, os.PathLike)) else pairs)
    options = dict(uncertainty=uncertainty, ensemble=ensemble, tta_members=tta_members,
                   u_floor=u_floor, acquisition=acquisition, tile=tile,
                   model_features=model_features, element_confidence=element_confidence)
    col = _Collected(acq_used=acquisition)
    for k, (lr_item, hr_item) in enumerate(items):
        _collect_pair(col, loaded, lr_item, hr_item, k, **options)
    n = len(col.ratios)
    if n < 2:
        raise InputError(f"calibration needs at least 2 image pairs, got {n}", where=source)
    lam = crc_lambda(col.ratios, alpha)
    q = conformal_quantile(simultaneous_scores(col.ratios, beta), alpha)
    gate, ood_note, gate_features = _ood_gates(col, loaded, alpha_ood, model_features)
    card = {
        "format": CARD_FORMAT, "version": CARD_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "model": {"sha256": loaded.sha256, "architecture": loaded.architecture,
                  "scale": list(loaded.scale),
                  "path": str(loaded.path) if loaded.path else None},
        "acquisition": {"scale": list(loaded.scale), "lr_spacing_um": col.spacing,
                        "signature": None if col.acq_used is None else col.acq_used.signature(),
                        "description": None if col.acq_used is None
                        else col.acq_used.to_dict()},
        "data": {"pairs": source, "n_images": n, "names": col.names[:1000],
                 "simulated": bool(simulated), "description": description,
                 "exchangeable_unit": "image (field of view)"},
        "uncertainty": {"kind": uncertainty, "tta_members": tta_members,
                        "u_floor_rel": u_floor,
                        "size_map": "u = spread + u_floor * (p99.8 - p1 of the LR input)"},
        "intervals": _intervals_entry(alpha, beta, lam, q),
        "ood": gate, "ood_note": ood_note, "ood_features": gate_features,
        "id_reference": {"null_tile_fraction": sorted(col.null_tiles),
                         "null_tile_max": sorted(col.null_max),
                         "halfwidth_rel": sorted(lam * s for s in col.sizes_mean)
                         if np.isfinite(lam) else [],
                         "chi2_per_pixel": sorted(col.chi2s)},
        "scope": ("simulated pairs: the guarantee holds for the simulated distribution only"
                  if simulated else "held-out paired images from the deployment distribution"),
        "elements": _element_calibration(col.element_rows, tta_members)
        if element_confidence else None,
    }
    return _write_card(to_jsonable(card), out, loaded)


@dataclasses.dataclass
class _Collected:
    """What the pass over the calibration pairs collects (one entry per image, except the
    pooled null-space tile shares)."""

    ratios: list = dataclasses.field(default_factory=list)
    feats: list = dataclasses.field(default_factory=list)
    mfeats: list = dataclasses.field(default_factory=list)
    null_tiles: list = dataclasses.field(default_factory=list)
    null_max: list = dataclasses.field(default_factory=list)
    chi2s: list = dataclasses.field(default_factory=list)
    names: list = dataclasses.field(default_factory=list)
    sizes_mean: list = dataclasses.field(default_factory=list)
    element_rows: list = dataclasses.field(default_factory=list)
    spacing: list | None = None
    acq_used: Acquisition | None = None


def _collect_pair(col: _Collected, loaded: Any, lr_item: Any, hr_item: Any, k: int, *,
                  uncertainty: str, ensemble: Any, tta_members: int | None, u_floor: float,
                  acquisition: Acquisition | None, tile: Any, model_features: bool,
                  element_confidence: bool) -> None:
    """Predict one calibration pair and add its ratios, statistics and references to ``col``."""
    from geosr.io import load
    from geosr.predict import predict
    from geosr.trust.nullspace import null_space

    lr = load(lr_item) if isinstance(lr_item, (str, os.PathLike)) else as_image(lr_item)
    hr = load(hr_item) if isinstance(hr_item, (str, os.PathLike)) else as_image(hr_item)
    name = Path(lr_item).name if isinstance(lr_item, (str, os.PathLike)) else str(k)
    col.names.append(name)
    pred = predict(lr, loaded, device=str(loaded.device))
    yhat, y = _one_channel(pred.numpy(), pred), _one_channel(hr.numpy(), hr)
    if y.shape != yhat.shape:
        raise InputError(f"HR target {y.shape} does not match the prediction {yhat.shape}",
                         where=name, hint="HR must be the LR's size × the scale")
    if element_confidence:
        col.element_rows.append(_element_rows(pred, lr, y, loaded, tta_members))
    u, _ = size_map(lr, loaded, kind=uncertainty, ensemble=ensemble, tta_members=tta_members,
                    u_floor=u_floor, device=str(loaded.device))
    col.ratios.append(ratios(y, yhat, u))
    col.sizes_mean.append(float(u.mean()) / input_range(lr.numpy()))
    acq = acquisition
    if acq is None and isinstance(lr.metadata.get("degradation"), dict):
        acq = Acquisition.from_image(lr, where=name)
    col.feats.append(input_features(_one_channel(lr.numpy(), lr),
                                    None if acq is None else acq.saturation_value))
    if model_features:
        from geosr.trust.ood import model_features as features_of

        col.mfeats.append(features_of(loaded, lr))
    col.spacing = col.spacing or list(lr.spacing_um)
    if acq is not None:
        col.acq_used = col.acq_used or acq
        shares = np.ravel(null_space(pred, acq, tile=tile).tile_fraction)
        col.null_tiles.extend(shares.tolist())
        col.null_max.append(float(np.nanmax(shares)))
        if acq.has_noise_model:
            from geosr.trust.data_consistency import consistency

            col.chi2s.append(consistency(pred, lr, acq, tile=tile).chi2_per_pixel)


def _ood_gates(col: _Collected, loaded: Any, alpha_ood: float, model_features: bool
               ) -> tuple[dict | None, str | None, dict | None]:
    """The input-statistics gate, its note, and the model-feature gate (dicts for the card)."""
    n = len(col.feats)
    if n < 4:
        return None, "fewer than 4 calibration inputs: no OOD gate", None
    saturation = None if col.acq_used is None else col.acq_used.saturation_value
    gate = OODGate.fit(None, features=np.stack(col.feats), alpha=alpha_ood,
                       saturation=saturation).to_dict()
    note = None
    if 1.0 / (len(gate["calibration_scores"]) + 1) > alpha_ood:
        note = (f"{len(gate['calibration_scores'])} calibration scores cannot give "
                f"p <= {alpha_ood}: use at least {int(2 / alpha_ood)} ID inputs")
    features = None
    if model_features:
        from geosr.trust.ood import feature_layer

        features = OODGate.fit(None, features=np.stack(col.mfeats), alpha=alpha_ood,
                               names=[f"feature_{i}" for i in range(len(col.mfeats[0]))]
                               ).to_dict()
        features["layer"] = feature_layer(loaded.module)
    return gate, note, features


def _intervals_entry(alpha: float, beta: float, lam: float, q: float) -> dict[str, Any]:
    return {"crc": {"alpha": alpha, "lambda": lam,
                    "guarantee": f"expected fraction of missed pixels <= {alpha} for images "
                                 "exchangeable with the calibration set"},
            "simultaneous": {"alpha": alpha, "beta": beta, "q": q,
                             "guarantee": f"P(at least {1 - beta:.3g} of an image's pixels "
                                          f"covered) >= {1 - alpha}"},
            "interval": "prediction +/- lambda * u"}


def _write_card(card: dict[str, Any], out: Any, loaded: Any) -> dict[str, Any]:
    target = Path(out) if out is not None else default_card_path(loaded)
    if target is None:
        raise ConfigError("where should the card go?", where="out",
                          hint="pass out= (--out) for a zipped model")
    write_json(target, card)
    card["path"] = str(target)
    return card
