"""The version of geosr, here in ``core`` so that any module can record it without importing the
top-level package (which re-exports every stage and would close an import cycle).

>>> from geosr.core.version import __version__
>>> __version__.count(".") >= 1
True
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
