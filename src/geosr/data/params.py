"""The value types of a degradation parameter in a config: a number, ``[low, high]``,
``{low, high, log}`` or ``{value}``. A base module that :mod:`geosr.data.specs` and
:mod:`geosr.data.ct_ranges` both import (so neither imports the other at module level).

>>> RangeSpec(low=0.1, high=1.0, log=True).log
True
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from geosr.core.config import StrictModel

__all__ = ["RangeSpec", "FixedSpec", "Param"]


class RangeSpec(StrictModel):
    """A range to draw from: uniform in ``[low, high]`` (log-uniform with ``log: true``)."""

    low: Union[float, list[float]]
    high: Union[float, list[float]]
    log: bool = False


class FixedSpec(StrictModel):
    """A fixed value, possibly per axis: ``{value: [z, y, x]}``."""

    value: Union[float, list[float]]


#: A degradation parameter: a number, ``[low, high]``, ``{low, high, log}`` or ``{value}``.
Param = Union[float, Annotated[list[float], Field(min_length=2, max_length=2)], RangeSpec,
              FixedSpec]
