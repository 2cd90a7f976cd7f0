"""napari sample data: synthetic phantoms (no download) as a low-resolution acquisition, the
high-resolution truth and its mask, aligned in physical space (µm)."""

from __future__ import annotations

from typing import Any

__all__ = ["dentin_2d", "lcn_3d", "phantom_layers"]


def phantom_layers(kind: str, dims: int, scale: int, size_um: float, spacing_um: float,
                   fwhm_um: float) -> list[tuple[Any, dict, str]]:
    """LR (degraded by ``scale``), truth and truth mask of a phantom as LayerData tuples."""
    from geosr.degrade import degrade
    from geosr.napari._layers import layer_data
    from geosr.phantoms import phantom

    truth = phantom(kind, dims=dims, size_um=size_um, spacing_um=spacing_um, seed=0)
    lr = degrade(truth.image, scale=scale, fwhm_um=fwhm_um, seed=0)
    mask = truth.mask.replace(data=truth.mask.numpy().astype("uint8"), metadata={})
    return [layer_data(lr, f"{kind} LR x{scale}"),
            layer_data(truth.image, f"{kind} truth", visible=False),
            layer_data(mask, f"{kind} truth mask", "labels", opacity=0.5, visible=False)]


def dentin_2d() -> list[tuple[Any, dict, str]]:
    """Dentin tubules with branches, 25.6 µm field at 0.1 µm, LR x4 (PSF FWHM 0.8 µm)."""
    return phantom_layers("dentin", 2, 4, 25.6, 0.1, 0.8)


def lcn_3d() -> list[tuple[Any, dict, str]]:
    """Bone lacuno-canalicular network, 16 µm cube at 0.25 µm, LR x2 (PSF FWHM 0.5 µm)."""
    return phantom_layers("lcn", 3, 2, 16.0, 0.25, 0.5)
