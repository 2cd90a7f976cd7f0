"""Checking the ``compression`` option of :func:`geosr.io.save` against what a format offers.

>>> compression_choice("gzip", {"zlib": "zlib", None: None}, fmt="TIFF")
'zlib'
"""

from __future__ import annotations

from typing import Any, Mapping

from geosr.core.errors import ConfigError

__all__ = ["compression_choice"]

_ALIASES = {"gzip": "zlib", "deflate": "zlib", "none": None, "raw": None, "": None}


def compression_choice(name: str | None, choices: Mapping[str | None, Any], *, fmt: str) -> Any:
    """The format's own setting for the compression ``name`` (``None`` = uncompressed;
    ``"gzip"``/``"deflate"`` mean ``"zlib"``). Raises :class:`ConfigError` listing the
    choices."""
    key = name.strip().lower() if isinstance(name, str) else name
    key = _ALIASES.get(key, key) if isinstance(key, str) else key
    if key not in choices:
        offered = ", ".join(repr(c) for c in choices)
        raise ConfigError(f"{fmt} does not offer compression {name!r}", where="compression",
                          hint=f"use one of {offered}")
    return choices[key]
