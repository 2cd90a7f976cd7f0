"""The peers' real-data protocol (``/work/shared/reference/peer_results.md``, issue #16), exactly.

LHDL human trabecular bone micro-CT (200³ uint8, 19.5 µm voxels), ×4 (or ×2):

- the volume is normalised once by its 0.1 / 99.9 percentiles and clipped to [0, 1]; HR slices
  are cropped to multiples of the scale;
- per slice z: Gaussian blur σ = 2 HR px (``scipy.ndimage.gaussian_filter``, mode reflect) →
  s×s block mean → additive Gaussian noise σ = 0.01 from ``numpy.random.default_rng([0, z])``;
- bicubic = ``scipy.ndimage.zoom(lr, s, order=3, mode="reflect", grid_mode=True)``;
- splits along z: train 0–139, validation 140–159, test 160–198 step 2 (20 slices);
- outputs clipped to [0, 1]; PSNR with data range 1 on full slices (no border crop);
- structure: one Otsu threshold of the HR test stack applied to every output; per-slice Euler
  number ``skimage.measure.euler_number(connectivity=2)`` and 8-connected components, mean over
  the test slices; signed relative error of the means vs the HR means.

Example
-------
>>> lr = degrade_slice(np.zeros((8, 8)), z=0, scale=4)
>>> lr.shape
(2, 2)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SPACING_UM = 19.5
TRAIN, VAL, TEST = range(0, 140), range(140, 160), range(160, 199, 2)


def data_root() -> Path:
    """``$GEOSR_DATA`` or ``../shared/data`` beside the checkout."""
    return Path(os.environ.get("GEOSR_DATA", ROOT.parent / "shared" / "data"))


def lhdl_path() -> Path:
    folder = data_root() / "bone" / "lhdl_trabecular_microct"
    files = sorted(folder.glob("*.tif"))
    if not files:
        raise FileNotFoundError(f"no LHDL volume in {folder} (set GEOSR_DATA to the folder "
                                "holding bone/lhdl_trabecular_microct)")
    return files[0]


def normalised_volume(path: Path | None = None) -> np.ndarray:
    """The LHDL volume as float64 in [0, 1] (0.1 / 99.9 percentiles, clipped)."""
    import tifffile

    vol = tifffile.imread(str(path or lhdl_path())).astype(np.float64)
    lo, hi = np.percentile(vol, [0.1, 99.9])
    return np.clip((vol - lo) / (hi - lo), 0.0, 1.0)


def degrade_slice(hr: np.ndarray, z: int, scale: int = 4) -> np.ndarray:
    """σ = 2 px blur → scale×scale block mean → N(0, 0.01²) noise from ``default_rng([0, z])``."""
    from scipy import ndimage as ndi

    h, w = (s // scale * scale for s in hr.shape)
    blurred = ndi.gaussian_filter(np.asarray(hr, np.float64)[:h, :w], 2.0, mode="reflect")
    lr = blurred.reshape(h // scale, scale, w // scale, scale).mean(axis=(1, 3))
    return lr + 0.01 * np.random.default_rng([0, z]).standard_normal(lr.shape)


def bicubic(lr: np.ndarray, scale: int) -> np.ndarray:
    from scipy import ndimage as ndi

    return np.clip(ndi.zoom(lr, scale, order=3, mode="reflect", grid_mode=True), 0.0, 1.0)


@dataclass(frozen=True)
class Split:
    """HR slices (cropped to multiples of the scale) and their LR versions for one split."""

    z: tuple[int, ...]
    hr: np.ndarray      # (Z, H, W) float64 in [0, 1]
    lr: np.ndarray      # (Z, H/s, W/s) float64


def make_split(volume: np.ndarray, zs: range, scale: int) -> Split:
    h, w = (s // scale * scale for s in volume.shape[1:])
    hr = volume[list(zs), :h, :w]
    lr = np.stack([degrade_slice(volume[z], z, scale) for z in zs])
    return Split(tuple(zs), hr, lr)


def psnr_full(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean per-slice PSNR (data range 1, full slice) of stacks clipped to [0, 1]."""
    out = []
    for p, t in zip(np.clip(pred, 0, 1), truth):
        mse = float(np.mean((p - t) ** 2))
        out.append(10.0 * np.log10(1.0 / mse))
    return float(np.mean(out))


def slice_structure(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-slice Euler number (8-connected bone) and 8-connected component count."""
    from scipy import ndimage as ndi
    from skimage.measure import euler_number

    eight = np.ones((3, 3), bool)
    eu = np.array([euler_number(s, connectivity=2) for s in mask], float)
    cc = np.array([ndi.label(s, eight)[1] for s in mask], float)
    return eu, cc


def peer_metrics(pred: np.ndarray, truth: np.ndarray, threshold: float) -> dict[str, float]:
    """PSNR and the per-slice structure errors of the peers' table for one SR stack."""
    pred = np.clip(pred, 0.0, 1.0)
    m, g = pred > threshold, truth > threshold
    eu, cc = slice_structure(m)
    eu_t, cc_t = slice_structure(g)
    return {"psnr": psnr_full(pred, truth),
            "bvtv_rel_error": float((m.mean() - g.mean()) / g.mean()),
            "euler_slice_mean": float(eu.mean()), "euler_slice_truth_mean": float(eu_t.mean()),
            "euler_slice_rel_error": float((eu.mean() - eu_t.mean()) / abs(eu_t.mean())),
            "components_slice_mean": float(cc.mean()),
            "components_slice_truth_mean": float(cc_t.mean()),
            "components_slice_rel_error": float((cc.mean() - cc_t.mean()) / cc_t.mean())}
