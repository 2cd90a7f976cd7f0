"""Validated recipes shared by the data sources: parameter ranges for the forward model and
the train/validation split.

- :class:`DegradationRanges`: every :func:`geosr.degrade.degrade` parameter, fixed or drawn
  from a range (see :mod:`geosr.data.ranges`), and how many degraded versions (``variants``)
  of each training image to draw.
- :class:`SplitConfig`: validation held out by image (``names`` or a ``fraction``) or by field
  of view (``fields`` × ``fields`` in-plane tiles per image).

Example
-------
>>> ranges = DegradationRanges(fwhm_um=[0.3, 0.6], photons={"low": 50, "high": 500, "log": True})
>>> sorted(ranges.spec())
['fwhm_um', 'microscope', 'offset', 'photons', 'read_noise']
>>> SplitConfig(by="field").fields
3
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import Field, model_validator

from geosr.core.config import StrictModel
from geosr.core.errors import ConfigError, GeosrError
from geosr.data.params import FixedSpec, Param, RangeSpec
from geosr.data.ranges import check_spec, draw

__all__ = ["RangeSpec", "FixedSpec", "Param", "DegradationRanges", "SplitConfig"]


_Strict = StrictModel   # the one definition: geosr.core.config


class DegradationRanges(_Strict):
    """The forward model's parameters (see :func:`geosr.degrade.degrade`), each fixed or a range.

    Units: ``fwhm_um`` µm, ``wavelength_nm`` nm, ``photons`` photo-electrons per unit intensity,
    ``read_noise``/``offset``/``saturation`` intensity units. ``variants``: how many degraded
    versions of each training image are drawn.
    """

    fwhm_um: Optional[Param] = None
    wavelength_nm: Optional[Param] = None
    na: Optional[Param] = None
    microscope: Literal["widefield", "confocal"] = "widefield"
    refractive_index: Optional[Param] = None
    pinhole_au: Optional[Param] = None
    photons: Optional[Param] = None
    read_noise: Param = 0.0
    offset: Param = 0.0
    bit_depth: Optional[Annotated[int, Field(ge=1, le=16)]] = None
    saturation: Optional[Param] = None
    variants: Annotated[int, Field(ge=1, le=1000)] = 4
    # X-ray CT instead of image-domain degradation: see geosr.data.ct_ranges (issue 17)
    modality: Literal["image", "ct"] = "image"
    ct: Optional[dict[str, Any]] = None
    #: a measured forward model (forward_model.json of `geosr pairs register`) instead of
    #: the parameters above
    forward: Optional[Path] = None

    @model_validator(mode="after")
    def _check(self) -> "DegradationRanges":
        if self.forward is not None:
            return self._check_forward()
        check_spec(self.spec(), where="data.degradation")
        if self.modality == "ct" or self.ct is not None:
            from geosr.data.ct_ranges import check_ct

            if self.modality != "ct":
                raise ValueError("data.degradation.ct: needs modality: ct")
            check_ct(self.model_dump(), self.ct)
            return self
        # build the forward model once with a draw, so a wrong combination (confocal without
        # wavelength_nm and na, fwhm_um together with them...) fails here, not after loading
        import numpy as np

        from geosr.degrade import degradation_model

        try:
            degradation_model(scale=2, **draw(self.spec(), np.random.default_rng(0)))
        except ConfigError as err:
            raise ValueError(f"data.degradation.{err.where}: {err.message}"
                             + (f"; {err.hint}" if err.hint else "")) from None
        return self

    def _check_forward(self) -> "DegradationRanges":
        given = [k for k, v in self.model_dump(exclude={"variants", "forward"}).items()
                 if v not in (None, 0.0, "image", "widefield")]
        if given:
            raise ValueError(f"data.degradation.forward: {', '.join(given)} cannot be combined "
                             "with a measured forward model (it fixes PSF, noise and scale)")
        from geosr.pairs.forward import load_forward_model

        try:
            load_forward_model(self.forward)
        except GeosrError as err:
            raise ValueError(f"data.degradation.forward: {err}") from None
        return self

    def spec(self) -> dict[str, Any]:
        """The parameter spec for :func:`geosr.data.ranges.draw` (unset parameters dropped)."""
        if self.forward is not None:
            return {}
        if self.modality == "ct":
            from geosr.data.ct_ranges import ct_spec

            return ct_spec(self.ct)
        return {k: v for k, v in self.model_dump(exclude={"variants", "modality", "ct",
                                                          "forward"}).items()
                if v is not None}


class SplitConfig(_Strict):
    """How validation is held out: whole images (``by: image``: ``names`` or a ``fraction``) or
    fields of view (``by: field``: each image cut into ``fields`` × ``fields`` in-plane tiles, a
    ``fraction`` of them held out)."""

    by: Literal["image", "field"] = "image"
    fraction: Annotated[float, Field(gt=0, lt=1)] = 0.2
    names: Optional[list[str]] = None
    fields: Annotated[int, Field(ge=2, le=64)] = 3

    @model_validator(mode="after")
    def _check(self) -> "SplitConfig":
        if self.names and self.by != "image":
            raise ValueError("names: only apply to split.by = image")
        return self
