"""The phantom kinds: a registry of the generators :func:`geosr.phantom` can run.

A kind is any object (a module, a class) with

- ``SPECS``: ``name → ParamSpec``, its parameters with defaults, bounds and units
  (:mod:`geosr.phantoms.params`);
- ``DEFAULT_SIZE``, ``DEFAULT_SPACING``: the field size and pixel spacing in µm, ``(2D, 3D)``;
- ``smallest_feature(p, spacing, extent) -> (name, size_um)``: the finest structure, which the
  spacing must resolve;
- ``generate(shape, spacing, p, rng) -> (occupancy, mask, labels, graph, derived)``.

The built-in kinds are modules imported on first use (the table below); a new kind is one
module of ``geosr/phantoms/`` plus one row in :data:`KINDS`, or, outside geosr, a class
decorated with :func:`register_phantom_kind`:

>>> import numpy as np, networkx as nx
>>> from geosr.phantoms.params import ParamSpec
>>> @register_phantom_kind("blank")
... class Blank:
...     SPECS = {"level": ParamSpec(0.0, lo=0.0, hi=1.0, doc="constant occupancy")}
...     DEFAULT_SIZE, DEFAULT_SPACING = (16.0, 8.0), (1.0, 1.0)
...     @staticmethod
...     def smallest_feature(p, spacing, extent):
...         return "field", min(extent)
...     @staticmethod
...     def generate(shape, spacing, p, rng):
...         occ = np.full(shape, p["level"], np.float32)
...         return occ, occ > 0.5, np.zeros(shape, np.uint8), nx.Graph(), {}
>>> phantom_kind("BLANK") is Blank, "blank" in available_phantom_kinds()
(True, True)
>>> PHANTOM_KINDS.remove("blank")
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from geosr.core.errors import ConfigError
from geosr.core.registry import Registry

__all__ = ["KINDS", "PHANTOM_KINDS", "register_phantom_kind", "phantom_kind",
           "available_phantom_kinds", "KIND_ATTRIBUTES"]

#: Built-in phantom kind → the module implementing it (imported on first use).
KINDS: dict[str, str] = {
    "dentin": "geosr.phantoms.dentin",
    "lcn": "geosr.phantoms.lcn",
    "cortical": "geosr.phantoms.cortical",
    "porous": "geosr.phantoms.porous",
}

#: What a kind must define.
KIND_ATTRIBUTES = ("SPECS", "DEFAULT_SIZE", "DEFAULT_SPACING", "smallest_feature", "generate")

PHANTOM_KINDS: Registry[Any] = Registry("phantom kind", where="kind", builtins=KINDS,
                                        case_sensitive=False, hint_label="use one of",
                                        sort_names=False)

K = TypeVar("K")


def register_phantom_kind(name: str, *, replace: bool = False) -> Callable[[K], K]:
    """Decorator registering a phantom kind (a class or module with :data:`KIND_ATTRIBUTES`)
    under ``name``; :class:`ConfigError` naming what is missing otherwise."""

    def decorator(kind: K) -> K:
        missing = [a for a in KIND_ATTRIBUTES if not hasattr(kind, a)]
        if missing:
            raise ConfigError(f"phantom kind {name!r} lacks {', '.join(missing)}",
                              where="register_phantom_kind",
                              hint="define " + ", ".join(KIND_ATTRIBUTES))
        return PHANTOM_KINDS.add(name, kind, replace=replace)

    return decorator


def phantom_kind(name: Any) -> Any:
    """The kind registered under ``name`` (case-insensitive; imports a built-in's module)."""
    if not isinstance(name, str):
        raise ConfigError(f"unknown phantom kind {name!r}", where="kind",
                          hint="use one of " + ", ".join(available_phantom_kinds()))
    return PHANTOM_KINDS.get(name)


def available_phantom_kinds() -> list[str]:
    """The names of every phantom kind, built-ins first in table order (imports nothing)."""
    return PHANTOM_KINDS.names()
