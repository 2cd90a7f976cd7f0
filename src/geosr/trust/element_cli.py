"""``geosr assess PRED --confidence --model M --lr LR``: the element-confidence table of a
prediction, written beside it (``PRED.elements/``), with the card's element calibration when
the model has one (``geosr calibrate --element-confidence``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from geosr.core.errors import ConfigError, InputError

__all__ = ["check_confidence_options", "run_element_confidence", "elements_folder"]


def elements_folder(prediction: Path) -> Path:
    """``sr/a.tif`` → ``sr/a.elements``."""
    from geosr.trust.report import trust_folder

    folder = trust_folder(prediction)
    return folder.with_name(folder.name[: -len(".trust")] + ".elements")


def check_confidence_options(prediction: Path, model: Path | None, lr: Path | None) -> None:
    """Refuse missing options before any work."""
    if model is None or lr is None:
        raise ConfigError("--confidence needs the model and the LR input of the prediction",
                          where="--model" if model is None else "--lr",
                          hint="give --model M --lr LR")
    if Path(prediction).is_dir():
        raise InputError("--confidence works on one prediction file", where=str(prediction))
    for path in (model, lr):
        if not Path(path).exists():
            raise InputError("not found", where=str(path))


def run_element_confidence(prediction: Path, model: Path, lr: Path, *, device: str = "cpu",
                           echo: Callable[[str], Any] = print, limit: int = 5) -> Path:
    """Compute and write the element table; print the least confident elements."""
    from geosr.io import load
    from geosr.predict.core import resolve_model
    from geosr.trust.card import resolve_card
    from geosr.trust.elements import ElementCalibration, model_element_table, write_elements

    loaded = resolve_model(model, device)
    card = resolve_card("auto", loaded)
    spec = card.get("elements") if card is not None else None
    usable = bool(spec and "w" in spec and card.model_sha256 == loaded.sha256)
    pred = load(prediction)
    table = model_element_table(pred, load(lr), loaded,
                                members=int((spec or {}).get("members", 8)),
                                calibration=ElementCalibration.from_dict(spec) if usable
                                else None, device=str(loaded.device))
    folder = write_elements(table, pred, elements_folder(prediction))
    s = table.summary(limit)
    echo(f"elements: {s['components']} components, {s['branches']} branches "
         f"({'calibrated' if s['calibrated'] else 'uncalibrated agreement'}) -> {folder}")
    for r in s["least_confident"]:
        echo(f"  {r['kind']} {r['id']} at (y {r['y_um']:.2f}, x {r['x_um']:.2f}) µm, "
             f"size {r['size']:.3g}: confidence {r['confidence']:.2f}")
    return folder
