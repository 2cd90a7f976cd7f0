"""The CT recipe of on-the-fly training data: ``degradation: {modality: ct, ct: {...}}``.

Each HR training image is turned into its LR input by :func:`geosr.degrade.ct_degrade.degrade_ct`
(projections, Poisson noise, FBP on the coarse grid) instead of image-domain blur and noise.
The CT parameters are fixed or drawn from ranges like the image-domain ones
(:mod:`geosr.data.ranges`); the voxel is always ``scale`` × the HR pixel (a preset then gives
the rest: angles, blur, dose, attenuation).

Example (YAML)::

    data:
      source: phantom
      kind: cortical
      degradation:
        modality: ct
        ct: {preset: xtremect1, i0: {low: 5000, high: 50000, log: true}, n_angles: 180}

>>> sorted(ct_spec({"preset": "xtremect1", "i0": [1e3, 1e4],
...                 "intensity_range": [0.15, 0.9]}))
['i0', 'intensity_range', 'modality', 'preset']
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Mapping, Optional

from pydantic import Field

from geosr.core.config import StrictModel
from geosr.data.params import Param

__all__ = ["CTRanges", "ct_spec", "check_ct"]

#: image-domain keywords that have no meaning for a CT acquisition
IMAGE_ONLY = ("fwhm_um", "wavelength_nm", "na", "refractive_index", "pinhole_au", "photons",
              "saturation")


class CTRanges(StrictModel):
    """CT parameters (see :class:`geosr.degrade.ct.CTScan`): ``preset`` (name), ``n_angles``
    (fixed), ``i0`` (photons per detector pixel per projection), ``detector_fwhm_um`` (µm),
    ``ring_sd``, ``beam_hardening`` (each fixed or a range), ``filter``, ``attenuation``,
    ``intensity_range``/``mu_per_cm`` (two fixed values: pore and bone)."""

    preset: Optional[str] = None
    n_angles: Optional[Annotated[int, Field(ge=2, le=100000)]] = None
    i0: Optional[Param] = None
    detector_fwhm_um: Optional[Param] = None
    ring_sd: Optional[Param] = None
    beam_hardening: Optional[Param] = None
    filter: Optional[Literal["ramp", "shepp-logan", "cosine", "hamming", "hann"]] = None
    attenuation: Optional[Literal["linear", "two_phase"]] = None
    intensity_range: Optional[Annotated[list[float], Field(min_length=2, max_length=2)]] = None
    mu_per_cm: Optional[Annotated[list[float], Field(min_length=2, max_length=2)]] = None


def ct_spec(ct: Mapping[str, Any] | None) -> dict[str, Any]:
    """The :func:`geosr.data.ranges.draw` spec of a CT recipe: ``modality: ct`` plus the set
    parameters (two-value pairs marked fixed, so they are not read as ranges)."""
    model = CTRanges.model_validate(dict(ct or {}))
    out: dict[str, Any] = {"modality": "ct"}
    for key, value in model.model_dump().items():
        if value is None:
            continue
        out[key] = {"value": value} if key in ("intensity_range", "mu_per_cm") else value
    return out


def check_ct(ranges: Mapping[str, Any], ct: Mapping[str, Any] | None) -> None:
    """Raise ``ValueError`` (pydantic reports it under ``data.degradation``) when image-domain
    parameters are set together with ``modality: ct``, or when a drawn CT acquisition is
    invalid (unknown preset, bad filter...)."""
    import numpy as np

    from geosr.core.errors import ConfigError
    from geosr.data.ranges import draw
    from geosr.degrade.ct_degrade import ct_model
    from geosr.degrade.ct_presets import get_preset

    stray = [k for k in IMAGE_ONLY if ranges.get(k) is not None]
    stray += [k for k in ("read_noise", "offset") if ranges.get(k) not in (0, 0.0, None)]
    if stray:
        raise ValueError(f"data.degradation.{stray[0]}: image-domain parameters "
                         f"{stray} do not apply to modality: ct; put the CT parameters "
                         "under data.degradation.ct")
    params = draw(ct_spec(ct), np.random.default_rng(0))
    params.pop("modality")
    try:
        preset = params.pop("preset", None)
        spacing = 1.0 if preset is None else get_preset(preset).voxel_um / 2
        ct_model(spacing_um=spacing, scale=2, preset=preset, **params)
    except ConfigError as err:
        raise ValueError(f"data.degradation.ct.{err.where}: {err.message}"
                         + (f"; {err.hint}" if err.hint else "")) from None


def ct_system_fwhm_um(degradation: Any) -> float | None:
    """The Gaussian FWHM (µm) of a CT recipe's linear equivalent (detector/source blur; the
    detector pixel is the binning): the midpoint of ``ct.detector_fwhm_um`` if set, else the
    preset's; None for an image-domain recipe. Used by the physics-informed CycleGAN, whose
    fixed backward operator is Gaussian blur + block-mean binning (the CT model converges to
    it noise free with many angles, ``tests/test_ct_physics.py``)."""
    if getattr(degradation, "modality", "image") != "ct":
        return None
    from geosr.data.ranges import draw
    from geosr.degrade.ct_presets import get_preset

    import numpy as np

    spec = ct_spec(getattr(degradation, "ct", None))
    if "detector_fwhm_um" in spec:
        value = spec["detector_fwhm_um"]
        if isinstance(value, Mapping) and "low" in value:
            return float(np.mean([value["low"], value["high"]]))
        if isinstance(value, (list, tuple)):
            return float(np.mean(value))
        return float(draw({"v": value}, np.random.default_rng(0))["v"])
    return get_preset(spec["preset"]).detector_fwhm_um if "preset" in spec else 0.0
