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
from typing import Any, Callable

from geosr.core.errors import ConfigError
from geosr.core.registry import Registry

__all__ = ["EVIDENCE", "Evidence", "register_evidence", "unregister_evidence", "available_evidence",
           "evidence_functions"]

#: Modules holding the built-in pieces (each registers itself when imported).
_BUILTIN_MODULES = (
    "geosr.trust.pieces.physics", "geosr.trust.pieces.squirrel",
    "geosr.trust.pieces.consistency", "geosr.trust.pieces.nullspace",
    "geosr.trust.pieces.hetero", "geosr.trust.pieces.intervals", "geosr.trust.pieces.ood",
    "geosr.trust.pieces.elements",
)
#: The trust evidence: name → ``fn(ctx) -> Evidence | None``, metadata ``order``.
EVIDENCE: Registry[Callable[[Any], Any]] = Registry("trust evidence", where="evidence",
                                                     modules=_BUILTIN_MODULES)


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
    """Decorator registering ``fn(ctx) -> Evidence | None`` as the piece ``name``; pieces run
    by increasing ``order`` (built-ins: 10 physics … 90 elements)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(f"evidence names are identifiers, got {name!r}",
                          where="register_evidence")
    return EVIDENCE.register(name, order=int(order))


def unregister_evidence(name: str) -> None:
    """Remove a piece (e.g. a test double)."""
    EVIDENCE.remove(name)


def available_evidence() -> list[str]:
    """The registered pieces, in the order they run."""
    return sorted(EVIDENCE.names(), key=lambda n: (EVIDENCE.meta(n).get("order", 100), n))


def evidence_functions(names: Any = None) -> list[tuple[str, Callable[[Any], Evidence | None]]]:
    """(name, function) of the pieces to run, in order; ``names``: None (all) or a list
    (unknown names raise :class:`ConfigError` naming the registered ones)."""
    order = available_evidence()
    if names is not None:
        wanted = {n for n in names if EVIDENCE.get(n)}
        order = [n for n in order if n in wanted]
    return [(n, EVIDENCE.get(n)) for n in order]
