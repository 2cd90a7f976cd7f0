"""Declared, validated parameters of each phantom kind.

Each kind declares its parameters as :class:`ParamSpec` entries (default per dimensionality,
type, bounds, one-line doc with units). :func:`resolve` merges the user's keyword arguments with
the defaults and raises :class:`geosr.core.errors.ConfigError` naming the field and the allowed
names or values.

>>> spec = {"porosity": ParamSpec(0.3, float, lo=0.0, hi=1.0, doc="pore fraction")}
>>> resolve("porous", spec, {"porosity": 0.2}, dims=2)
{'porosity': 0.2}
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any, Mapping

from geosr.core.errors import ConfigError

__all__ = ["ParamSpec", "resolve", "describe"]


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """One parameter: ``default`` (or ``(default_2d, default_3d)`` with ``per_dims=True``),
    ``type`` (float, int, bool, str or tuple for a tuple of floats), inclusive bounds ``lo`` /
    ``hi`` (each element for tuples), allowed ``choices`` and a short ``doc`` with the unit."""

    default: Any
    type: type = float
    lo: float | None = None
    hi: float | None = None
    choices: tuple[Any, ...] | None = None
    doc: str = ""
    per_dims: bool = False
    length: int | None = None  # for tuple parameters: required length, or None = dims
    optional: bool = False     # None is allowed (means "automatic", see doc)

    def default_for(self, dims: int) -> Any:
        return self.default[dims - 2] if self.per_dims else self.default


def _check_number(kind: str, name: str, value: Any, spec: ParamSpec) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"expected a number, got {value!r}", where=f"{kind}.{name}",
                          hint=spec.doc or None)
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"must be finite, got {value}", where=f"{kind}.{name}")
    if spec.lo is not None and value < spec.lo:
        raise ConfigError(f"must be ≥ {spec.lo}, got {value}", where=f"{kind}.{name}",
                          hint=spec.doc or None)
    if spec.hi is not None and value > spec.hi:
        raise ConfigError(f"must be ≤ {spec.hi}, got {value}", where=f"{kind}.{name}",
                          hint=spec.doc or None)
    return value


def _coerce(kind: str, name: str, value: Any, spec: ParamSpec, dims: int) -> Any:
    where = f"{kind}.{name}"
    if value is None and spec.optional:
        return None
    if spec.type is bool:
        if not isinstance(value, (bool,)) and value not in (0, 1):
            raise ConfigError(f"expected true/false, got {value!r}", where=where)
        return bool(value)
    if spec.type is str:
        if not isinstance(value, str):
            raise ConfigError(f"expected a string, got {value!r}", where=where)
        value = value.lower()
        if spec.choices and value not in spec.choices:
            raise ConfigError(f"unknown value {value!r}", where=where,
                              hint="use one of " + ", ".join(map(str, spec.choices)))
        return value
    if spec.type is tuple:
        n = spec.length or dims
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            value = (value,) * n
        try:
            items = list(value)
        except TypeError:
            raise ConfigError(f"expected {n} numbers, got {value!r}", where=where) from None
        if len(items) != n:
            raise ConfigError(f"expected {n} numbers, got {len(items)}", where=where,
                              hint=spec.doc or None)
        return tuple(_check_number(kind, name, v, spec) for v in items)
    number = _check_number(kind, name, value, spec)
    if spec.type is int:
        if number != int(number):
            raise ConfigError(f"expected an integer, got {value!r}", where=where)
        return int(number)
    return number


def resolve(kind: str, specs: Mapping[str, ParamSpec], given: Mapping[str, Any], *,
            dims: int) -> dict[str, Any]:
    """The full, validated parameter dict: defaults for ``dims`` overridden by ``given``."""
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise ConfigError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))} for phantom kind {kind!r}",
            where=f"{kind}.{unknown[0]}",
            hint="allowed: " + ", ".join(sorted(specs)))
    out: dict[str, Any] = {}
    for name, spec in specs.items():
        value = given[name] if name in given else spec.default_for(dims)
        out[name] = _coerce(kind, name, value, spec, dims)
    return out


def describe(specs: Mapping[str, ParamSpec], dims: int) -> dict[str, dict[str, Any]]:
    """A JSON-friendly table of the parameters: default for ``dims`` and doc."""
    return {name: {"default": spec.default_for(dims), "doc": spec.doc}
            for name, spec in specs.items()}
