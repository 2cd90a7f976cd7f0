"""The real volumes of ``real_structure.py`` (issue #16): one registry entry per volume, each
loaded once as float64 in [0, 1] with its voxel size, its structure phase and its z splits.

Every volume gets the peers' per-slice degradation (:func:`_real_structure_protocol.
degrade_slice`: σ = 2 HR px blur → s×s block mean → noise σ = 0.01) and is split along z:

- ``lhdl``: human trabecular bone micro-CT, 200³, 19.5 µm, the peers' protocol exactly
  (train 0–139, validation 140–159, 3D block 160–198, per-slice test 160–198 step 2); the
  structure is the bright phase (bone) above one Otsu threshold of the HR test stack.
- ``ketton``: segmented Ketton limestone, 256³ {0, 255} (Imperial College; voxel ≈ 15 µm,
  not stated by the carrier, see its PROVENANCE.md); the segmentation is the HR image
  (255 → 1); the structure is the dark phase (pore, 12.7 % of the voxels).
- ``shrew``: binary shrew trabecular bone mask, 115 × 114 × 114, 4.1 µm (BoneJ Headless ROI,
  NRRD spacing in mm → µm); the mask is the HR image; the structure is bone (bright).

The other volumes use :func:`z_splits`: the first 70 % of the slices train, the next 10 %
validate (best-validation weights), the last 20 % are the contiguous 3D test block, every 2nd
of which is a per-slice test slice. A binary truth's Otsu threshold is any value between its
two levels, so binary volumes use the midpoint 0.5.

Example
-------
>>> sp = z_splits(256)
>>> (sp.train.stop, sp.val.stop, sp.block.start, sp.block.stop, len(sp.test))
(179, 205, 205, 256, 26)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from _real_structure_protocol import data_root, normalised_volume


@dataclass(frozen=True)
class Splits:
    """z ranges: training slices, validation slices, the 3D test block, per-slice test slices."""

    train: range
    val: range
    block: range
    test: range


def z_splits(nz: int, train: float = 0.7, val: float = 0.1) -> Splits:
    """70 % / 10 % / the rest along z (rounded); per-slice test = every 2nd block slice."""
    a, b = int(round(train * nz)), int(round((train + val) * nz))
    return Splits(range(0, a), range(a, b), range(b, nz), range(b, nz, 2))


@dataclass(frozen=True)
class VolumeSpec:
    """One registered volume: ``load()`` → (Z, Y, X) float64 in [0, 1]."""

    name: str
    title: str
    spacing_um: float
    phase: str                      # "bright" (bone) or "dark" (pore): the structure measured
    load: Callable[[], np.ndarray]
    threshold: float | None = None  # None: Otsu of the HR test stack
    fixed_splits: Splits | None = None

    def splits(self, nz: int) -> Splits:
        return self.fixed_splits or z_splits(nz)


VOLUMES: dict[str, VolumeSpec] = {}


def register_volume(name: str, **spec) -> Callable[[Callable[[], np.ndarray]],
                                                   Callable[[], np.ndarray]]:
    """Decorator: register a loader under ``name`` with the :class:`VolumeSpec` fields."""
    def deco(fn: Callable[[], np.ndarray]) -> Callable[[], np.ndarray]:
        VOLUMES[name] = VolumeSpec(name=name, load=fn, **spec)
        return fn
    return deco


def get_volume(name: str) -> VolumeSpec:
    if name not in VOLUMES:
        raise KeyError(f"unknown volume {name!r}; choose one of {sorted(VOLUMES)}")
    return VOLUMES[name]


@register_volume("lhdl", title="LHDL trabecular bone", spacing_um=19.5, phase="bright",
                 fixed_splits=Splits(range(0, 140), range(140, 160), range(160, 199),
                                     range(160, 199, 2)))
def _lhdl() -> np.ndarray:
    return normalised_volume()


def _binary(path) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (set GEOSR_DATA to the folder holding "
                                "bone/ and rock/)")
    if path.suffix == ".nrrd":
        from geosr.io import load

        vol = load(path).numpy()
    else:
        import tifffile

        vol = tifffile.imread(str(path))
    return (np.asarray(vol) > 0).astype(np.float64)


@register_volume("ketton", title="Ketton limestone (segmented)", spacing_um=15.0,
                 phase="dark", threshold=0.5)
def _ketton() -> np.ndarray:
    return _binary(data_root() / "rock" / "imperial_ketton_binary"
                   / "ketton_256cube_binary_uint8.tif")


@register_volume("shrew", title="shrew trabecular bone mask", spacing_um=4.1, phase="bright",
                 threshold=0.5)
def _shrew() -> np.ndarray:
    return _binary(data_root() / "bone" / "shrew_mask" / "Shrew.nrrd")
