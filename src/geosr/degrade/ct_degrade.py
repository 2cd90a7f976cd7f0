"""The CT front door: :func:`degrade_ct` simulates a CT acquisition of an HR image (with or
without a preset) and records it like :func:`geosr.degrade.degrade` does
(``metadata["degradation"]`` with the steps, the seed and the ``"arguments"`` that replay it).
Used by ``geosr degrade --modality ct`` and by the ``degradation: {modality: ct}`` training
recipe.

Example
-------
>>> import numpy as np
>>> from geosr.core import Image
>>> hr = Image(np.full((48, 48), 0.5), "YX", spacing=(20.5, 20.5))
>>> lr = degrade_ct(hr, preset="xtremect1", n_angles=60, seed=0)
>>> lr.shape, lr.spacing, lr.metadata["degradation"]["modality"]
((12, 12), (82.0, 82.0), 'ct')
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from geosr.core.errors import ConfigError
from geosr.core.files import to_jsonable
from geosr.core.image import Image, as_image
from geosr.core.seeding import resolve_seed
from geosr.degrade.ct import CTScan
from geosr.degrade.ct_presets import ct_scan, get_preset
from geosr.degrade.model import ForwardModel
from geosr.degrade.steps import Quantize

__all__ = ["degrade_ct", "ct_model", "degrade_any"]

#: keywords of :func:`degrade_ct` passed to :class:`CTScan` when given (None = default/preset)
CT_FIELDS = ("n_angles", "i0", "detector_fwhm_um", "filter", "mu_per_cm", "intensity_range",
             "attenuation", "threshold", "n_flats", "dark_counts", "ring_sd", "beam_hardening",
             "output", "crop")


def ct_model(*, spacing_um: float, scale: int | None = None, preset: str | None = None,
             bit_depth: int | None = None, saturation: float | None = None,
             **fields: Any) -> ForwardModel:
    """The :class:`ForwardModel` ``[CTScan(...)(, Quantize)]`` for HR pixels of
    ``spacing_um`` µm: from ``preset`` (``scale`` then optional: it follows from the preset's
    voxel; if given, the voxel becomes ``scale × spacing_um``) or from ``scale`` alone (the
    :class:`CTScan` defaults). ``fields``: :class:`CTScan` fields; None values are ignored
    (the preset's or the default value applies), ``i0=0`` means noise free.
    """
    unknown = sorted(set(fields) - set(CT_FIELDS))
    if unknown:
        raise ConfigError(f"unknown CT parameter(s) {unknown}", where=unknown[0],
                          hint="use " + ", ".join(CT_FIELDS))
    given = {k: (tuple(v) if isinstance(v, list) else v) for k, v in fields.items()
             if v is not None}
    if given.get("i0") == 0:  # 0 = noise free (None would mean "the preset's dose")
        given["i0"] = None
    if preset is not None:
        if scale is not None:
            given["voxel_um"] = float(scale) * float(spacing_um)
        step = ct_scan(get_preset(preset), hr_spacing_um=float(spacing_um), **given)
    elif scale is None:
        raise ConfigError("a CT acquisition needs a scale or a preset", where="scale",
                          hint="give --scale (voxel = scale × HR pixel) or --ct-preset")
    else:
        step = CTScan(scale=scale, **given)
    steps: list[Any] = [step]
    if bit_depth is not None:
        steps.append(Quantize(bit_depth=bit_depth, saturation=saturation))
    return ForwardModel(tuple(steps))


def degrade_ct(image: Image | np.ndarray, *, scale: int | None = None,
               preset: str | None = None, bit_depth: int | None = None,
               saturation: float | None = None, seed: int | None = 0,
               **fields: Any) -> Image:
    """Simulate a CT acquisition and FBP reconstruction of an HR image (2D, or 3D slice by
    slice); returns the LR :class:`Image` (voxel = ``scale`` × HR pixel, µm) with
    ``metadata["degradation"]`` = the record (``"modality": "ct"``, the preset, the steps and
    ``"arguments"``: ``degrade_ct(hr, **record["arguments"])`` reproduces the output).

    Parameters: ``preset`` (see :data:`geosr.degrade.ct_presets.PRESETS`), ``scale``,
    any :class:`geosr.degrade.ct.CTScan` field (``i0`` photons per detector pixel and
    projection, ``n_angles``, ``detector_fwhm_um`` µm, ``filter``, ``intensity_range``,
    ``mu_per_cm`` 1/cm, ``ring_sd``, ``beam_hardening``...), ``bit_depth``/``saturation``
    (a :class:`geosr.degrade.Quantize` step after the reconstruction), ``seed`` (int, or None:
    drawn and recorded).
    """
    image = as_image(image)
    if seed is None:
        seed, _ = resolve_seed(None)
    model = ct_model(spacing_um=float(image.spacing_um[-1]), scale=scale, preset=preset,
                     bit_depth=bit_depth, saturation=saturation, **fields)
    out, record = model.apply(image, seed)
    record["modality"] = "ct"
    record["preset"] = None if preset is None else get_preset(preset).as_dict()
    record["arguments"] = to_jsonable({"scale": scale, "preset": preset,
                                       "bit_depth": bit_depth, "saturation": saturation,
                                       "seed": seed, **{k: v for k, v in fields.items()
                                                        if v is not None}})
    return out.with_metadata(degradation=record)


def ct_arguments(values: Sequence[float] | None) -> tuple[float, float] | None:
    """``(lo, hi)`` from a two-value option (None stays None)."""
    if not values:
        return None
    if len(values) != 2:
        raise ConfigError(f"expected two values (low high), got {list(values)}",
                          where="intensity_range")
    return float(values[0]), float(values[1])


def degrade_any(image: Image | np.ndarray, *, scale: Any, seed: int | None = 0,
                modality: str = "image", **params: Any) -> Image:
    """Dispatch drawn degradation parameters: ``modality="ct"`` → :func:`degrade_ct` (the
    ``preset`` gives the acquisition, the voxel is ``scale`` × the HR pixel), otherwise
    :func:`geosr.degrade.degrade` (the image-domain forward model). Used by the training data
    sources, whose ``degradation:`` recipes carry ``modality``."""
    if modality == "ct":
        return degrade_ct(image, scale=scale, seed=seed, **params)
    if modality != "image":
        raise ConfigError(f"unknown modality {modality!r}", where="modality",
                          hint="use image or ct")
    from geosr.degrade.model import degrade

    return degrade(image, scale=scale, seed=seed, **params)
