"""The base class of every validated (pydantic) recipe and config section in geosr.

A section refuses unknown fields (a misspelt option is an error naming the field, never silently
ignored) and is frozen (a recipe recorded with a result cannot change after it was used).

Example
-------
>>> class Blur(StrictModel):
...     fwhm_um: float = 0.4
>>> Blur(fwhm_um=0.3).fwhm_um
0.3
>>> Blur(fwhm=0.3)  # doctest: +ELLIPSIS
Traceback (most recent call last):
pydantic_core._pydantic_core.ValidationError: 1 validation error for Blur
...
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["StrictModel"]


class StrictModel(BaseModel):
    """A pydantic model that forbids unknown fields and is immutable once built."""

    model_config = ConfigDict(extra="forbid", frozen=True)
