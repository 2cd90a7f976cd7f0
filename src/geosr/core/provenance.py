"""What produced a result: package versions, platform, time. Saved with every output.

>>> sorted(environment())[:3]
['created_utc', 'geosr', 'machine']
"""

from __future__ import annotations

import datetime as _dt
import platform
import sys
from importlib import metadata

from geosr.core.version import __version__

__all__ = ["environment"]

_PACKAGES = ("numpy", "scipy", "scikit-image", "torch", "tifffile", "zarr", "networkx")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def environment() -> dict[str, object]:
    """Versions of geosr, Python and the main dependencies, the platform and a UTC timestamp."""
    return {
        "geosr": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **{name: _version(name) for name in _PACKAGES},
    }
