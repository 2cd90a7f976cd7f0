"""The trust evidence registry: each piece of evidence is a small function, registered by
decorator, that looks at one prediction (a :class:`~geosr.trust.context.TrustContext`) and
returns an :class:`Evidence` — its summary entries, its maps, the families of tile tests and
the image-wide reasons it contributes to the verdict — or None when it does not apply.

Built-in pieces live one per file in :mod:`geosr.trust.pieces` and are imported on first use
(never at ``import geosr``). They run in ``order`` (smaller first); a piece may read what an
earlier one left in ``ctx.results``. A new map is a new file:

>>> import numpy as np
>>> @register_evidence("mean_level", order=95)
... def mean_level(ctx):
...     return Evidence(summary={"mean_level": {"mean": float(ctx.f.mean())}})
>>> "mean_level" in available_evidence()
True
>>> unregister_evidence("mean_level")
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Callable

from geosr.core.errors import ConfigError

__all__ = ["Evidence", "register_evidence", "unregister_evidence", "available_evidence",
           "evidence_functions"]

#: Modules holding the built-in pieces (each registers itself when imported).
_BUILTIN_MODULES = (
    "geosr.trust.pieces.physics", "geosr.trust.pieces.squirrel",
    "geosr.trust.pieces.consistency", "geosr.trust.pieces.nullspace",
    "geosr.trust.pieces.hetero", "geosr.trust.pieces.intervals", "geosr.trust.pieces.ood",
    "geosr.trust.pieces.elements",
)
_REGISTRY: dict[str, tuple[int, Callable[[Any], "Evidence | None"]]] = {}
_LOADED = False


@dataclasses.dataclass
class Evidence:
    """What one piece contributes.

    ``summary``: top-level entries of ``trust.json`` (e.g. ``{"physics": {...}}``);
    ``maps``: name → :class:`~geosr.core.image.Image` (written as ``name.tif``);
    ``tests``: families of per-tile p-values (:class:`~geosr.trust.verdict.TileTest`), each
    controlled across tiles by the verdict; ``red`` / ``amber``: image-wide reasons;
    ``image_tests``: phrases naming image-level statistical tests and their false-alarm rate
    (for the verdict's control sentence); ``files``: extra files (name → bytes).
    """

    summary: dict[str, Any] = dataclasses.field(default_factory=dict)
    maps: dict[str, Any] = dataclasses.field(default_factory=dict)
    tests: list[Any] = dataclasses.field(default_factory=list)
    red: list[str] = dataclasses.field(default_factory=list)
    amber: list[str] = dataclasses.field(default_factory=list)
    image_tests: list[str] = dataclasses.field(default_factory=list)
    files: dict[str, bytes] = dataclasses.field(default_factory=dict)


def register_evidence(name: str, *, order: int = 100
                      ) -> Callable[[Callable[[Any], Evidence | None]],
                                    Callable[[Any], Evidence | None]]:
    """Decorator registering ``fn(ctx) -> Evidence | None`` as the piece ``name``."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(f"evidence names are identifiers, got {name!r}",
                          where="register_evidence")

    def decorator(fn: Callable[[Any], Evidence | None]) -> Callable[[Any], Evidence | None]:
        _REGISTRY[name] = (int(order), fn)
        return fn

    return decorator


def unregister_evidence(name: str) -> None:
    """Remove a piece (e.g. a test double)."""
    _REGISTRY.pop(name, None)


def _load_builtin() -> None:
    global _LOADED
    if not _LOADED:
        for module in _BUILTIN_MODULES:
            importlib.import_module(module)
        _LOADED = True


def available_evidence() -> list[str]:
    """The registered pieces, in the order they run."""
    _load_builtin()
    return [n for n, _ in sorted(_REGISTRY.items(), key=lambda kv: (kv[1][0], kv[0]))]


def evidence_functions(names: Any = None) -> list[tuple[str, Callable[[Any], Evidence | None]]]:
    """(name, function) of the pieces to run, in order; ``names``: None (all) or a list."""
    order = available_evidence()
    if names is not None:
        unknown = [n for n in names if n not in _REGISTRY]
        if unknown:
            raise ConfigError(f"unknown trust evidence {unknown}", where="evidence",
                              hint="choose from " + ", ".join(order))
        order = [n for n in order if n in set(names)]
    return [(n, _REGISTRY[n][1]) for n in order]
