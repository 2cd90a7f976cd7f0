"""The calibration card: everything a calibration established, bound to one model (the SHA-256
of its weights) and one acquisition setting, as JSON.

Intervals are shown only when the card matches: same model hash, same scale, LR pixel size
within 10 %, and (when both sides record it) the same forward and noise model within 10 %.
Any mismatch is listed in plain words and the intervals are refused.

>>> card = {"format": CARD_FORMAT, "version": 1, "model": {"sha256": "ab"},
...         "acquisition": {"scale": [4, 4], "lr_spacing_um": [0.4, 0.4]}}
>>> card_mismatches(card, model_sha256="ab", scale=(4, 4), lr_spacing_um=(0.41, 0.4))
[]
>>> card_mismatches(card, model_sha256="cd", scale=(4, 4), lr_spacing_um=(0.8, 0.4))[0][:28]
'the card was calibrated for '
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from geosr.core.errors import InputError
from geosr.core.files import read_json

__all__ = ["CARD_FORMAT", "CARD_VERSION", "CARD_FILE", "card_mismatches", "read_card",
           "default_card_path", "card_in_zip", "CalibrationCard", "resolve_card"]

CARD_FORMAT = "geosr-calibration-card"
CARD_VERSION = 1
CARD_FILE = "calibration.json"
_RTOL = 0.10


def default_card_path(model: Any) -> Path | None:
    """``MODEL/calibration.json`` for a model folder (None for a zip or an object)."""
    path = getattr(model, "path", model)
    if isinstance(path, (str, os.PathLike)) and Path(path).is_dir():
        return Path(path) / CARD_FILE
    return None


def read_card(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check the format of a calibration card."""
    return _checked(read_json(path), str(path))


def card_in_zip(path: str | os.PathLike) -> dict[str, Any] | None:
    """The calibration card packed in a model zip or bioimage.io package (a member named
    ``calibration.json``, the shallowest one), or None when the zip holds none."""
    import json
    import zipfile

    with zipfile.ZipFile(path) as zf:
        names = sorted((n for n in zf.namelist() if Path(n).name == CARD_FILE),
                       key=lambda n: n.count("/"))
        if not names:
            return None
        where = f"{path}:{names[0]}"
        try:
            card = json.loads(zf.read(names[0]).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise InputError(f"unreadable calibration card ({err})", where=where) from None
    return _checked(card, where)


def _checked(card: Any, where: str) -> dict[str, Any]:
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise InputError("is not a geosr calibration card", where=where,
                         hint="write one with geosr calibrate --model M --pairs DIR")
    if card.get("version") != CARD_VERSION:
        raise InputError(f"calibration card version {card.get('version')} is not supported",
                         where=where, hint="recalibrate with this geosr version")
    return card


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if math.isclose(a, b, rel_tol=_RTOL, abs_tol=1e-12):
            return True
        return False
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        keys = set(a) & set(b)
        return all(_close(a[k], b[k]) for k in keys)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    return a == b


def card_mismatches(card: Mapping[str, Any] | None, *, model_sha256: str | None,
                    scale: Sequence[int] | None = None,
                    lr_spacing_um: Sequence[float] | None = None,
                    acquisition: Mapping[str, Any] | None = None) -> list[str]:
    """Why ``card`` does not apply to this model and input (empty list: it applies)."""
    if card is None:
        return ["no calibration card for this model and acquisition setting"]
    reasons = []
    sha = (card.get("model") or {}).get("sha256")
    if model_sha256 is None:
        reasons.append("the model of the prediction is unknown")
    elif sha != model_sha256:
        reasons.append(f"the card was calibrated for model {str(sha)[:12]}, not "
                       f"{model_sha256[:12]}")
    acq = card.get("acquisition") or {}
    if scale is not None and acq.get("scale") is not None and \
            [int(s) for s in acq["scale"]] != [int(s) for s in scale]:
        reasons.append(f"the card is for scale {acq['scale']}, not {list(scale)}")
    if lr_spacing_um is not None and acq.get("lr_spacing_um") is not None and not _close(
            [float(s) for s in acq["lr_spacing_um"]], [float(s) for s in lr_spacing_um]):
        reasons.append(f"the card is for LR pixels of {acq['lr_spacing_um']} µm, the input has "
                       f"{[round(float(s), 6) for s in lr_spacing_um]} µm (more than 10 % off)")
    sig = acq.get("signature")
    if sig is not None and acquisition is not None and not _close(sig, acquisition):
        reasons.append("the input's forward/noise model differs from the calibration's "
                       "(blur, noise or scale more than 10 % off)")
    return reasons


@dataclasses.dataclass(frozen=True)
class CalibrationCard:
    """A calibration card read once, with typed access to what the trust evidence uses; the
    JSON dict stays in ``data`` (its format is unchanged).

    >>> card = CalibrationCard({"format": CARD_FORMAT, "version": 1, "model": {"sha256": "ab"},
    ...                         "uncertainty": {"kind": "tta"}})
    >>> card.model_sha256, card.uncertainty_kind, card.u_floor_rel, card.ood_gate
    ('ab', 'tta', 0.01, None)
    """

    data: Mapping[str, Any]

    @property
    def model_sha256(self) -> str | None:
        return (self.data.get("model") or {}).get("sha256")

    @property
    def uncertainty(self) -> Mapping[str, Any]:
        return self.data.get("uncertainty") or {}

    @property
    def uncertainty_kind(self) -> str | None:
        return self.uncertainty.get("kind")

    @property
    def u_floor_rel(self) -> float:
        return float(self.uncertainty.get("u_floor_rel", 0.01))

    @property
    def tta_members(self) -> int | None:
        return self.uncertainty.get("tta_members")

    @property
    def crc(self) -> Mapping[str, Any]:
        return (self.data.get("intervals") or {}).get("crc") or {}

    @property
    def ood_gate(self) -> Mapping[str, Any] | None:
        return self.data.get("ood") or None

    @property
    def ood_features(self) -> Mapping[str, Any] | None:
        return self.data.get("ood_features") or None

    @property
    def id_reference(self) -> Mapping[str, Any]:
        return self.data.get("id_reference") or {}

    @property
    def acquisition_description(self) -> Mapping[str, Any] | None:
        return (self.data.get("acquisition") or {}).get("description") or None

    @property
    def scope(self) -> str | None:
        return self.data.get("scope")

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def mismatches(self, **kwargs: Any) -> list[str]:
        """:func:`card_mismatches` of this card."""
        return card_mismatches(self.data, **kwargs)


def resolve_card(card: Any, loaded: Any = None) -> CalibrationCard | None:
    """The card to use: a :class:`CalibrationCard`, a dict, a JSON path, ``"auto"``
    (``MODEL/calibration.json`` of ``loaded`` when it exists) or None."""
    if card is None or isinstance(card, CalibrationCard):
        return card
    if isinstance(card, str) and card == "auto":
        return _packed_or_beside(loaded)
    if isinstance(card, (str, os.PathLike)):
        return CalibrationCard(read_card(card))
    if isinstance(card, Mapping):
        return CalibrationCard(card)
    raise InputError(f"a calibration card is a JSON file or a dict, got {type(card).__name__}",
                     where="card")


def _packed_or_beside(loaded: Any) -> CalibrationCard | None:
    """``MODEL/calibration.json`` of a model folder, or the card packed in a model zip."""
    import zipfile

    path = default_card_path(loaded) if loaded is not None else None
    if path is not None:
        return CalibrationCard(read_card(path)) if path.is_file() else None
    source = getattr(loaded, "path", loaded)
    if isinstance(source, (str, os.PathLike)) and zipfile.is_zipfile(source):
        data = card_in_zip(source)
        return CalibrationCard(data) if data is not None else None
    return None
