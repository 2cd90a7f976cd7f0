"""Overlay images of prediction against truth: where the network was missed and where it was
invented.

Colours (RGB, 8-bit; the orange/blue pair stays distinct for colour-blind readers):

- black: matrix in both;
- light grey ``(190, 190, 190)``: network in both (agreement);
- orange ``(255, 140, 0)``: **missed** network — in the truth, not in the prediction (false
  negative);
- blue ``(0, 150, 255)``: **invented** network — in the prediction, not in the truth (false
  positive).

2D overlays are written as RGB PNG; 3D overlays as an RGB TIFF stack (``Z, Y, X, 3``, ImageJ
with the voxel size) plus a PNG projection along Z (a pixel shows missed if any voxel below it
is missed, else invented, else agreement) for a quick look.

Example
-------
>>> import numpy as np
>>> gt = np.array([[1, 1, 0, 0]], bool); pred = np.array([[1, 0, 1, 0]], bool)
>>> overlay_rgb(pred, gt)[0].tolist()
[[190, 190, 190], [255, 140, 0], [0, 150, 255], [0, 0, 0]]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from geosr.core.files import atomic_path

__all__ = ["COLOURS", "overlay_rgb", "save_overlay", "LEGEND"]

COLOURS = {"agreement": (190, 190, 190), "missed": (255, 140, 0),
           "invented": (0, 150, 255), "matrix": (0, 0, 0)}
LEGEND = ("grey = network in both; orange = missed (in truth only, false negative); blue = "
          "invented (in prediction only, false positive); black = matrix in both")


def overlay_rgb(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """RGB uint8 image (``(..., 3)``) colouring agreement, missed and invented network."""
    pred, gt = np.asarray(pred, bool), np.asarray(gt, bool)
    out = np.zeros(gt.shape + (3,), np.uint8)
    out[pred & gt] = COLOURS["agreement"]
    out[gt & ~pred] = COLOURS["missed"]
    out[pred & ~gt] = COLOURS["invented"]
    return out


def _projection(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    both = (pred & gt).any(axis=0)
    missed = (gt & ~pred).any(axis=0)
    invented = (pred & ~gt).any(axis=0)
    out = np.zeros(both.shape + (3,), np.uint8)
    out[both] = COLOURS["agreement"]
    out[invented] = COLOURS["invented"]
    out[missed] = COLOURS["missed"]
    return out


def _png(rgb: np.ndarray, path: Path) -> Path:
    from PIL import Image as PILImage

    with atomic_path(path) as tmp:
        PILImage.fromarray(rgb, mode="RGB").save(tmp, format="PNG")
    return path


def save_overlay(pred: np.ndarray, gt: np.ndarray, folder: str | os.PathLike, name: str, *,
                 spacing: Sequence[float] | None = None) -> list[Path]:
    """Write the overlay of one pair into ``folder`` (created): ``<name>_overlay.png`` (2D), or
    ``<name>_overlay.tif`` and ``<name>_overlay_zproj.png`` (3D). Returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pred, gt = np.asarray(pred, bool), np.asarray(gt, bool)
    if gt.ndim == 2:
        return [_png(overlay_rgb(pred, gt), folder / f"{name}_overlay.png")]
    import tifffile

    rgb = overlay_rgb(pred, gt)
    path = folder / f"{name}_overlay.tif"
    sp = tuple(spacing) if spacing is not None else (1.0, 1.0, 1.0)
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, rgb, imagej=True, photometric="rgb",
                         resolution=(1.0 / sp[2], 1.0 / sp[1]),
                         metadata={"spacing": sp[0], "unit": "um", "axes": "ZYXS",
                                   "Info": LEGEND})
    return [path, _png(_projection(pred, gt), folder / f"{name}_overlay_zproj.png")]
